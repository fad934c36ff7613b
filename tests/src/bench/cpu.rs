//! CPU time of processes, from `/proc/<pid>/stat` (utime + stime, all threads).

use std::path::Path;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every mainstream Linux).
pub fn clock_ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of one process in clock ticks, or `None` if it is gone.
pub fn process_ticks(pid: u32) -> Option<u64> {
    stat_ticks(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

fn stat_ticks(path: &Path) -> Option<u64> {
    stat_fields(path).map(|f| f.own)
}

struct StatTicks {
    /// utime + stime
    own: u64,
    /// cutime + cstime (children waited for)
    children: u64,
}

fn stat_fields(path: &Path) -> Option<StatTicks> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(StatTicks {
        own: field(14)? + field(15)?,
        children: field(16)? + field(17)?,
    })
}

/// Summed ticks of every process whose `comm` is `comm` (e.g. all `postgres`
/// processes), plus the ticks of their children that have exited and been waited for
/// (`cutime + cstime`): a PostgreSQL backend that ends inside the window (pgbench's
/// connections) is still counted, through the postmaster.
pub fn comm_ticks(comm: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .filter_map(|e| stat_fields(&e.path().join("stat")))
        .map(|f| f.own + f.children)
        .sum()
}

/// A snapshot of the processes a run watches.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub server: u64,
    pub db: u64,
    pub client: u64,
}

pub fn sample(server_pids: &[u32], db_comm: Option<&str>) -> Sample {
    Sample {
        server: server_pids.iter().filter_map(|p| process_ticks(*p)).sum(),
        db: db_comm.map(comm_ticks).unwrap_or(0),
        client: process_ticks(std::process::id()).unwrap_or(0),
    }
}
