//! `loadgen pgbench`: one `pgbench -S -M prepared` run, printed as one JSON line with the
//! same figures as `loadgen load` (rps, latency percentiles from pgbench's per-transaction
//! log, PostgreSQL CPU per transaction), so the report pairs it like any other run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::cpu;

#[derive(Debug, clap::Args)]
pub struct PgbenchArgs {
    /// The database pgbench -i initialised.
    #[arg(long)]
    pub url: String,
    /// pgbench -c (one thread drives them all: -j 1).
    #[arg(long, default_value_t = 16)]
    pub clients: u32,
    /// pgbench -T (whole seconds).
    #[arg(long, default_value_t = 5)]
    pub seconds: u32,
    /// The processes whose CPU is charged to the transactions (PostgreSQL's).
    #[arg(long, default_value = "postgres")]
    pub db_comm: String,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    pub label: String,
}

pub fn run(args: PgbenchArgs) -> anyhow::Result<()> {
    let log_dir = LogDir::create()?;
    let before = cpu::comm_ticks(&args.db_comm);
    let output = Command::new("pgbench")
        .args(["-n", "-S", "-M", "prepared", "-j", "1", "-l"])
        .arg(format!("-c{}", args.clients))
        .arg(format!("-T{}", args.seconds))
        .arg(format!(
            "--log-prefix={}",
            log_dir.0.join("pgbench").display()
        ))
        .arg(&args.url)
        .output()
        .context("run pgbench (Debian: postgresql-client)")?;
    let after = cpu::comm_ticks(&args.db_comm);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let Some(summary) = parse_summary(&text) else {
        anyhow::bail!("pgbench printed no tps ({}):\n{text}", output.status);
    };
    let mut latencies = log_dir.latencies()?;
    latencies.sort_unstable();

    let db_cpu = after.saturating_sub(before) as f64 / cpu::clock_ticks_per_sec();
    let per_transaction =
        (summary.transactions > 0).then(|| db_cpu * 1e6 / summary.transactions as f64);
    println!(
        "{}",
        serde_json::json!({
            "label": args.label,
            "rpc": "pgbench -S -M prepared",
            "clients": args.clients,
            "seconds": args.seconds,
            "count": summary.transactions,
            "errors": 0,
            "rps": summary.tps,
            "p50_us": quantile(&latencies, 0.50),
            "p90_us": quantile(&latencies, 0.90),
            "p99_us": quantile(&latencies, 0.99),
            "max_us": latencies.last(),
            // PostgreSQL is the server here; the window includes pgbench's connection set-up.
            "server_cpu_us_per_req": per_transaction,
            "server_cpu_util": db_cpu / f64::from(args.seconds),
            "db_cpu_us_per_req": per_transaction,
        })
    );
    Ok(())
}

#[derive(Debug, PartialEq)]
pub struct Summary {
    pub tps: f64,
    pub transactions: u64,
}

/// tps (without initial connection time) and transactions processed, from pgbench's report.
pub fn parse_summary(text: &str) -> Option<Summary> {
    let tps = text
        .lines()
        .find(|line| line.contains("(without initial connection time)"))
        .and_then(|line| line.split("tps = ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())?;
    let transactions = text
        .lines()
        .find_map(|line| line.strip_prefix("number of transactions actually processed: "))
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })?;
    Some(Summary { tps, transactions })
}

/// Latency (µs, the third field) of every line of a pgbench per-transaction log.
pub fn parse_log(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.lines()
        .filter_map(|line| line.split_whitespace().nth(2)?.parse().ok())
}

/// The value at quantile `q` of sorted values (nearest rank, rounding down).
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (q * sorted.len() as f64) as usize;
    Some(sorted[rank.min(last)])
}

/// A private directory for pgbench's `-l` files, removed on drop.
struct LogDir(PathBuf);

impl LogDir {
    fn create() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("pp-pgbench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(LogDir(dir))
    }

    /// Every latency pgbench logged (one file per thread).
    fn latencies(&self) -> anyhow::Result<Vec<u64>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.0)? {
            let path: &Path = &entry?.path();
            out.extend(parse_log(&std::fs::read_to_string(path)?));
        }
        Ok(out)
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "pgbench (16.4 (Debian 16.4-1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 1
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 158980
number of failed transactions: 0 (0.000%)
latency average = 0.503 ms
initial connection time = 12.345 ms
tps = 31796.417 (without initial connection time)
";

    #[test]
    fn the_summary_gives_tps_and_transactions() {
        assert_eq!(
            parse_summary(REPORT),
            Some(Summary {
                tps: 31_796.417,
                transactions: 158_980
            })
        );
        assert_eq!(parse_summary("pgbench: error: connection refused"), None);
    }

    #[test]
    fn log_lines_give_latencies() {
        let log = "0 1 202 0 1764122221 123456\n1 1 1711 0 1764122221 123999\nbroken\n";
        assert_eq!(parse_log(log).collect::<Vec<_>>(), vec![202, 1711]);
    }

    #[test]
    fn quantiles_take_the_nearest_rank_below() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&sorted, 0.50), Some(51));
        assert_eq!(quantile(&sorted, 0.99), Some(100));
        assert_eq!(quantile(&sorted, 1.0), Some(100));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
