//! A private Google Pub/Sub emulator for one test: its own port and data directory,
//! stoppable and restartable (it forgets topics and subscriptions when it restarts).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PubSubEmulator {
    port: u16,
    data_dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The emulator answers `GET /` with `Ok.` once it serves.
fn ready(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("Ok")
}

impl PubSubEmulator {
    pub fn start() -> std::io::Result<Self> {
        let port = free_port()?;
        let data_dir = std::env::temp_dir().join(format!(
            "pp-pubsub-{port}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&data_dir)?;
        let mut emulator = PubSubEmulator {
            port,
            data_dir,
            child: None,
        };
        emulator.launch()?;
        Ok(emulator)
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let child = Command::new("gcloud")
            .args([
                "beta",
                "emulators",
                "pubsub",
                "start",
                &format!("--host-port=127.0.0.1:{}", self.port),
            ])
            .arg(format!("--data-dir={}", self.data_dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let started = Instant::now();
        while !ready(self.port) {
            if started.elapsed() > Duration::from_secs(60) {
                return Err(std::io::Error::other(
                    "pubsub emulator did not start within 60 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// `host:port`, as `PUBSUB_EMULATOR_HOST` would say.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the emulator: `gcloud` leaves a Java child behind, found by its port.
    pub fn stop(&mut self) {
        for pid in java_pids(self.port) {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let started = Instant::now();
        while TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(100),
        )
        .is_ok()
            && started.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.launch()
    }
}

fn java_pids(port: u16) -> Vec<u32> {
    let needle = format!("--port={port}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|raw| {
                    let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
                    cmdline.contains("java") && cmdline.contains(&needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

impl Drop for PubSubEmulator {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
