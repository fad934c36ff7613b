//! The raw figures of a bench run: `target/bench/runs.jsonl`, one JSON object a line,
//! written by `loadgen record` (one call per run side) and read by `loadgen report`.
//!
//! ```text
//! {"row":"rls","round":1,"side":"baseline","result":{…one `loadgen load` output…}}
//! {"row":"rls","round":1,"side":"variant","result":{"error":"…stderr tail…"}}
//! {"row":"api_events","round":0,"side":"info","result":{"outbox_rows":1234}}
//! ```
//!
//! `result` is whatever the run printed (`loadgen load`, `loadgen pgbench`, `loadgen
//! events`), or `{"error": …}` when it failed. `info` lines carry figures about a row
//! that are not a run (events written meanwhile); the report merges them per row.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How much of a failed run's output is kept (its end, where the cause usually is).
const ERROR_TAIL_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Baseline,
    Variant,
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub row: String,
    pub round: u32,
    pub side: Side,
    pub result: Value,
}

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The JSON lines file the line is appended to.
    #[arg(long)]
    pub runs: PathBuf,
    #[arg(long)]
    pub row: String,
    /// 1-based for runs; 0 for `info`.
    #[arg(long, default_value_t = 0)]
    pub round: u32,
    #[arg(long, value_enum)]
    pub side: Side,
    /// The run's exit status: anything but 0 records it as failed.
    #[arg(long, default_value_t = 0)]
    pub status: i32,
    /// The run's stderr, quoted (its end) when the run failed.
    #[arg(long)]
    pub stderr: Option<PathBuf>,
}

/// `loadgen record`: the run's stdout on stdin → one line appended to `--runs`.
pub fn record(args: RecordArgs) -> anyhow::Result<()> {
    let mut stdout = String::new();
    std::io::stdin().read_to_string(&mut stdout)?;
    let stderr = match &args.stderr {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => String::new(),
    };
    let record = RunRecord {
        result: run_result(args.status, &stdout, &stderr),
        row: args.row,
        round: args.round,
        side: args.side,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.runs)
        .with_context(|| format!("open {}", args.runs.display()))?;
    writeln!(file, "{}", serde_json::to_string(&record)?)?;
    Ok(())
}

/// The run's JSON object, or `{"error": …}` when it failed or printed something else.
pub fn run_result(status: i32, stdout: &str, stderr: &str) -> Value {
    if status == 0 {
        match serde_json::from_str::<Value>(stdout.trim()) {
            Ok(value @ Value::Object(_)) => return value,
            _ if stdout.trim().is_empty() => {}
            _ => return failure(&format!("output is not a JSON object: {}", tail(stdout))),
        }
    }
    let cause = if stderr.trim().is_empty() {
        format!("exit status {status}, nothing on stderr")
    } else {
        tail(stderr).to_owned()
    };
    failure(&cause)
}

fn failure(message: &str) -> Value {
    serde_json::json!({ "error": message })
}

/// The last `ERROR_TAIL_CHARS` characters of `text`.
fn tail(text: &str) -> &str {
    let skip = text.chars().count().saturating_sub(ERROR_TAIL_CHARS);
    match text.char_indices().nth(skip) {
        Some((at, _)) => &text[at..],
        None => text,
    }
}

/// Every line of a runs file, in order; blank lines are skipped.
pub fn read(path: &Path) -> anyhow::Result<Vec<RunRecord>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

pub fn parse(text: &str) -> anyhow::Result<Vec<RunRecord>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).with_context(|| format!("line {}", index + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successful_run_is_recorded_as_printed() {
        let result = run_result(0, "{\"rps\": 10.5}\n", "warning: noise\n");
        assert_eq!(result, serde_json::json!({"rps": 10.5}));
    }

    #[test]
    fn a_failed_run_keeps_the_end_of_its_stderr() {
        let stderr = format!("{}the cause", "x".repeat(1000));
        let result = run_result(1, "", &stderr);
        let message = result["error"].as_str().expect("an error message");
        assert_eq!(message.chars().count(), ERROR_TAIL_CHARS);
        assert!(message.ends_with("the cause"));
    }

    #[test]
    fn a_failure_without_stderr_names_the_exit_status() {
        assert_eq!(
            run_result(101, "", ""),
            serde_json::json!({"error": "exit status 101, nothing on stderr"})
        );
    }

    #[test]
    fn output_that_is_not_a_json_object_is_a_failure() {
        let result = run_result(0, "tps = 12\n", "");
        assert!(
            result["error"]
                .as_str()
                .is_some_and(|e| e.contains("tps = 12"))
        );
    }

    #[test]
    fn the_tail_respects_character_boundaries() {
        let text = "é".repeat(ERROR_TAIL_CHARS + 3);
        assert_eq!(tail(&text).chars().count(), ERROR_TAIL_CHARS);
        assert_eq!(tail("short"), "short");
    }

    #[test]
    fn records_round_trip_through_the_lines_format() {
        let record = RunRecord {
            row: "rls".into(),
            round: 2,
            side: Side::Variant,
            result: serde_json::json!({"rps": 1.0}),
        };
        let line = serde_json::to_string(&record).expect("serializes");
        assert_eq!(
            line,
            r#"{"row":"rls","round":2,"side":"variant","result":{"rps":1.0}}"#
        );
        let parsed = parse(&format!("{line}\n\n{line}\n")).expect("parses");
        assert_eq!(parsed, vec![record.clone(), record]);
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let err =
            parse("{\"row\":\"rls\",\"round\":1,\"side\":\"info\",\"result\":{}}\nnot json\n")
                .expect_err("line 2 is not a record");
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }
}
