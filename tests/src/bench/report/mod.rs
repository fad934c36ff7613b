//! `loadgen report`: runs.jsonl ([`crate::bench::runs`]) → `results.json` (every round
//! of every side, plus medians) and the table in docs/performance.md (between the bench
//! markers). The figures are reported, never asserted: a missed target is "**no**".

pub mod aggregate;
pub mod table;

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::bench::runs;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The runs recorded by `loadgen record`.
    #[arg(long)]
    pub runs: PathBuf,
    /// Where the figures go (JSON).
    #[arg(long)]
    pub results: PathBuf,
    /// The Markdown page whose bench section is rewritten; without it, only stdout.
    #[arg(long)]
    pub doc: Option<PathBuf>,
    #[command(flatten)]
    pub conditions: Conditions,
}

/// How the run was made, as the bench script knows it.
#[derive(Debug, Clone, clap::Args)]
pub struct Conditions {
    /// The commit measured (empty: uncommitted).
    #[arg(long, default_value = "")]
    pub commit: String,
    #[arg(long)]
    pub cores: u32,
    /// How servers and load were placed on CPUs, in words.
    #[arg(long)]
    pub pinning: String,
    /// The 1-minute load average when the bench started.
    #[arg(long)]
    pub load_average: f64,
    #[arg(long)]
    pub rounds: u32,
    /// Measured seconds per run side.
    #[arg(long)]
    pub seconds: f64,
    #[arg(long)]
    pub warmup: f64,
    #[arg(long)]
    pub connections: u32,
    /// Calls in flight for the echo rows.
    #[arg(long)]
    pub concurrency: u32,
    /// Calls in flight for the database rows (and pgbench -c).
    #[arg(long)]
    pub db_concurrency: u32,
    /// When the bench started (Unix seconds): the wall time is measured from it.
    #[arg(long)]
    pub started: i64,
}

/// `results.json`'s `meta`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    pub date: String,
    pub commit: String,
    pub cores: u32,
    pub pinning: String,
    pub load_average_at_start: f64,
    pub rounds: u32,
    pub seconds_per_run: f64,
    pub warmup_seconds: f64,
    pub connections: u32,
    pub concurrency_echo: u32,
    pub concurrency_db: u32,
    pub bench_wall_seconds: i64,
}

impl Meta {
    fn new(conditions: Conditions, now: chrono::DateTime<chrono::Utc>) -> Self {
        Meta {
            date: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            commit: conditions.commit,
            cores: conditions.cores,
            pinning: conditions.pinning,
            load_average_at_start: conditions.load_average,
            rounds: conditions.rounds,
            seconds_per_run: conditions.seconds,
            warmup_seconds: conditions.warmup,
            connections: conditions.connections,
            concurrency_echo: conditions.concurrency,
            concurrency_db: conditions.db_concurrency,
            bench_wall_seconds: now.timestamp() - conditions.started,
        }
    }
}

#[derive(Debug, Serialize)]
struct Results<'a> {
    meta: &'a Meta,
    rows: &'a [aggregate::RowSummary],
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let records = runs::read(&args.runs)?;
    for name in aggregate::unknown_rows(&records) {
        eprintln!(
            "loadgen report: row {name} is not in ROWS (tests/src/bench/report/aggregate.rs): left out"
        );
    }
    let meta = Meta::new(args.conditions, chrono::Utc::now());
    let rows = aggregate::summarize(&records);

    let results = serde_json::to_string_pretty(&Results {
        meta: &meta,
        rows: &rows,
    })?;
    std::fs::write(&args.results, results + "\n")
        .with_context(|| format!("write {}", args.results.display()))?;

    let doc_text = match &args.doc {
        Some(doc) => {
            Some(std::fs::read_to_string(doc).with_context(|| format!("read {}", doc.display()))?)
        }
        None => None,
    };
    let previous = doc_text.as_deref().and_then(table::between_markers);
    let table = table::render(&meta, &rows, previous);
    println!("{table}");
    if let (Some(doc), Some(text)) = (&args.doc, &doc_text) {
        std::fs::write(doc, table::replace_between_markers(text, &table))
            .with_context(|| format!("write {}", doc.display()))?;
    }
    Ok(())
}
