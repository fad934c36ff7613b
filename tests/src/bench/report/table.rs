//! The Markdown table of docs/performance.md, and its place between the bench markers.

use serde::Deserialize;

use super::Meta;
use super::aggregate::{DemoRow, PairedRow, RowSummary, SingleRow};

pub const BEGIN_MARKER: &str = "<!-- bench:begin -->";
pub const END_MARKER: &str = "<!-- bench:end -->";

const HEADER: &str = "| Comparison | Baseline rps | Variant rps | Median ratio | Target | Baseline p50 / p99 µs | Variant p50 / p99 µs | Server CPU µs/req (base → var) | DB CPU µs/req (base → var) | Met |\n\
|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|";

const NONE: &str = "–";

/// Marks a line kept from an earlier table, followed by that run's `<date> at <commit>`.
const KEPT: &str = " (from the run of ";
/// Starts the line under the table that gives a kept line's run in full.
const EARLIER_RUN: &str = "Earlier run: ";

/// The run's conditions, a blank line, then the table (no trailing newline).
///
/// `previous` is the table this one replaces (the text between the doc's markers): a row
/// this run did not measure (`PP_BENCH_ROWS` picked others) keeps its line from there,
/// marked with the run it came from, whose conditions follow the table.
pub fn render(meta: &Meta, rows: &[RowSummary], previous: Option<&str>) -> String {
    let previous = previous.unwrap_or_default();
    let previous_run = previous
        .lines()
        .find(|line| line.starts_with("Run "))
        .and_then(run_of);
    let mut lines = vec![conditions(meta), String::new(), HEADER.to_owned()];
    let mut table_rows = Vec::new();
    for row in rows {
        let (title, ran) = match row {
            RowSummary::Paired(row) => (row.title, !row.rounds.is_empty() || row.info.is_some()),
            RowSummary::Single(row) => (row.title, true),
            RowSummary::Demo(row) => (row.title, true),
        };
        let kept = (!ran)
            .then(|| previous_line(previous, title))
            .flatten()
            .and_then(|line| mark_kept(line, previous_run.as_deref()));
        table_rows.push(kept.unwrap_or_else(|| match row {
            RowSummary::Paired(row) => paired_line(row),
            RowSummary::Single(row) => events_line(row),
            RowSummary::Demo(row) => demo_line(row),
        }));
    }
    // Rows that are only summarized when they ran (events, demo) keep their old line too.
    for title in super::aggregate::UNPAIRED_TITLES {
        let ran = rows.iter().any(|row| match row {
            RowSummary::Single(row) => row.title == title,
            RowSummary::Demo(row) => row.title == title,
            RowSummary::Paired(_) => false,
        });
        if !ran
            && let Some(line) = previous_line(previous, title)
                .and_then(|line| mark_kept(line, previous_run.as_deref()))
        {
            table_rows.push(line);
        }
    }
    let earlier: Vec<String> = previous
        .lines()
        .filter_map(|line| line.strip_prefix(EARLIER_RUN))
        .map(str::to_owned)
        .chain(
            previous
                .lines()
                .find(|line| line.starts_with("Run "))
                .map(str::to_owned),
        )
        .filter(|run| {
            run_of(run).is_some_and(|run| {
                table_rows
                    .iter()
                    .any(|line| line.contains(&format!("{KEPT}{run})")))
            })
        })
        .fold(Vec::new(), |mut runs, run| {
            if !runs.contains(&run) {
                runs.push(run);
            }
            runs
        });
    lines.extend(table_rows);
    if !earlier.is_empty() {
        lines.push(String::new());
        lines.extend(earlier.iter().map(|run| format!("{EARLIER_RUN}{run}")));
    }
    lines.join("\n")
}

/// `<date> at <commit>` of a conditions line (`Run <date> at <commit>; …`).
fn run_of(conditions: &str) -> Option<String> {
    let rest = conditions.strip_prefix("Run ")?;
    Some(rest[..rest.find(';')?].to_owned())
}

fn previous_line<'a>(previous: &'a str, title: &str) -> Option<&'a str> {
    previous.lines().find(|line| {
        line.starts_with(&format!("| {title} ")) || line.starts_with(&format!("| {title}<"))
    })
}

/// `line` marked as from `run`, unless it already names its run; `None` when it has no
/// figures worth keeping or its run is unknown.
fn mark_kept(line: &str, run: Option<&str>) -> Option<String> {
    // Cells 2 and 3 are the two rps columns: both empty, the row did not run then either.
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    if cells
        .get(2..4)
        .is_none_or(|rps| rps.iter().all(|cell| *cell == NONE))
    {
        return None;
    }
    if line.contains(KEPT) {
        return Some(line.to_owned());
    }
    let at = line.find(" <br>")?;
    Some(format!("{}{KEPT}{}){}", &line[..at], run?, &line[at..]))
}

fn demo_line(row: &DemoRow) -> String {
    let figure =
        |run: &serde_json::Value, name: &str| run.get(name).and_then(serde_json::Value::as_f64);
    let mib = |run: &serde_json::Value| figure(run, "peak_rss_kib").map(|kib| kib / 1024.0);
    let met = match row.pass {
        None => NONE,
        Some(true) => "yes",
        Some(false) => "**no**",
    };
    let note = if row.failed_runs > 0 {
        format!(" ({} failed runs)", row.failed_runs)
    } else {
        String::new()
    };
    format!(
        "| {}{note} <br>*{} orders: {} MiB peak RSS, orders/s* → *{} orders: {} MiB peak RSS, \
         orders/s; ratio = peak RSS large / small* | {} | {} | {} | ≤ {:.2} | – | – | – | – | {met} |",
        row.title,
        grouped(figure(&row.small, "orders")),
        decimals(mib(&row.small), 1),
        grouped(figure(&row.large, "orders")),
        decimals(mib(&row.large), 1),
        grouped(figure(&row.small, "orders_per_second")),
        grouped(figure(&row.large, "orders_per_second")),
        decimals(row.rss_ratio, 2),
        row.rss_ratio_max,
    )
}

fn conditions(meta: &Meta) -> String {
    let commit = if meta.commit.is_empty() {
        "uncommitted"
    } else {
        &meta.commit
    };
    format!(
        "Run {} at {commit}; {} cores, {}; {} rounds × {} s per side (after {} s warm-up); \
         {} connections, {} in flight (echo) / {} (database rows, pgbench -c); \
         1-min load average at start {:.2}.",
        meta.date,
        meta.cores,
        meta.pinning,
        meta.rounds,
        shortest(meta.seconds_per_run),
        shortest(meta.warmup_seconds),
        meta.connections,
        meta.concurrency_echo,
        meta.concurrency_db,
        meta.load_average_at_start,
    )
}

fn paired_line(row: &PairedRow) -> String {
    let (base, var) = (&row.baseline, &row.variant);
    let met = match row.pass {
        None => NONE,
        Some(true) => "yes",
        Some(false) => "**no**",
    };
    let mut note = String::new();
    if row.errors > 0 {
        note += &format!(" ({} errors)", row.errors);
    }
    if row.failed_runs > 0 {
        note += &format!(" ({} failed runs)", row.failed_runs);
    }
    if let Some(written) = row.info.as_ref().and_then(|i| i.get("outbox_rows")) {
        note += &format!(" ({} events written", grouped(written.as_f64()));
        match row.info.as_ref().and_then(|i| i.get("dropped")) {
            Some(dropped) => note += &format!(", {} dropped)", grouped(dropped.as_f64())),
            None => note += ")",
        }
    }
    format!(
        "| {}{note} <br>*{}* → *{}* | {} | {} | {} | {} | {} / {} | {} / {} | {} → {} | {} → {} | {met} |",
        row.title,
        base.name,
        var.name,
        grouped(base.median("rps")),
        grouped(var.median("rps")),
        decimals(row.median_rps_ratio, 2),
        row.target
            .map_or_else(|| NONE.to_owned(), |t| format!("≥ {t:.2}")),
        grouped(base.median("p50_us")),
        grouped(base.median("p99_us")),
        grouped(var.median("p50_us")),
        grouped(var.median("p99_us")),
        decimals(base.median("server_cpu_us_per_req"), 1),
        decimals(var.median("server_cpu_us_per_req"), 1),
        decimals(base.median("db_cpu_us_per_req"), 1),
        decimals(var.median("db_cpu_us_per_req"), 1),
    )
}

/// What `loadgen events` prints (tests/src/bench/events.rs), as far as the table uses it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EventsResult {
    error: Option<serde_json::Value>,
    events: Option<f64>,
    stored: Option<f64>,
    complete: bool,
    written_per_sec: Option<f64>,
    rps: Option<f64>,
    lag_p50_ms: Option<f64>,
    lag_p99_ms: Option<f64>,
    server_cpu_us_per_req: Option<f64>,
    broker_cpu_us_per_req: Option<f64>,
    db_cpu_us_per_req: Option<f64>,
}

fn events_line(row: &SingleRow) -> String {
    let events = EventsResult::deserialize(&row.result).unwrap_or_else(|err| EventsResult {
        error: Some(err.to_string().into()),
        ..EventsResult::default()
    });
    if events.error.is_some() {
        return format!(
            "| {} (failed: see results.json) | – | – | – | – | – | – | – | – | – |",
            row.title
        );
    }
    let note = if events.complete {
        String::new()
    } else {
        format!(
            " (only {} of {} stored)",
            grouped(events.stored),
            grouped(events.events)
        )
    };
    format!(
        "| {}{note} <br>*{} events written as pp_brands ({}/s)* → \
         *stored events/s; lag = received_at − occurred_at, **ms*** | – | {} | – | – | – | \
         lag {} / {} ms | – → {} (relay + obs.; emulator {}) | – → {} | – |",
        row.title,
        grouped(events.events),
        grouped(events.written_per_sec),
        grouped(events.rps),
        grouped(events.lag_p50_ms),
        grouped(events.lag_p99_ms),
        decimals(events.server_cpu_us_per_req, 1),
        decimals(events.broker_cpu_us_per_req, 1),
        decimals(events.db_cpu_us_per_req, 1),
    )
}

/// Rounded to a whole number with thousands separators (`12,345`); `–` for none.
fn grouped(value: Option<f64>) -> String {
    let Some(value) = value else {
        return NONE.to_owned();
    };
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    // `-0` after rounding is shown as 0.
    if value.is_sign_negative() && digits.chars().any(|d| d != '0') {
        out.insert(0, '-');
    }
    out
}

fn decimals(value: Option<f64>, places: usize) -> String {
    value.map_or_else(|| NONE.to_owned(), |v| format!("{v:.places$}"))
}

/// `5` for 5.0, `0.5` for 0.5: the knobs as they were given.
fn shortest(value: f64) -> String {
    format!("{value}")
}

/// The text between the bench markers (the table a run replaces), if the doc has them.
pub fn between_markers(doc: &str) -> Option<&str> {
    let start = doc.find(BEGIN_MARKER)? + BEGIN_MARKER.len();
    let end = doc[start..].find(END_MARKER)?;
    Some(&doc[start..start + end])
}

/// `doc` with the text between the bench markers replaced by `table`; everything else
/// is kept byte for byte. Without the markers, a "Latest results" section is appended.
pub fn replace_between_markers(doc: &str, table: &str) -> String {
    let section = format!("{BEGIN_MARKER}\n{table}\n{END_MARKER}");
    if let Some(begin) = doc.find(BEGIN_MARKER) {
        let after_begin = begin + BEGIN_MARKER.len();
        if let Some(end) = doc[after_begin..].find(END_MARKER) {
            let tail = &doc[after_begin + end + END_MARKER.len()..];
            return format!("{}{section}{tail}", &doc[..begin]);
        }
    }
    format!("{doc}\n## Latest results\n\n{section}\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::bench::report::aggregate::summarize;
    use crate::bench::runs::{RunRecord, Side};

    fn meta() -> Meta {
        Meta {
            date: "2026-11-26T02:10:21Z".into(),
            commit: "9240f45".into(),
            cores: 2,
            pinning: "servers on CPU 0, load on CPU 1 (taskset); PostgreSQL unpinned".into(),
            load_average_at_start: 1.634,
            rounds: 3,
            seconds_per_run: 5.0,
            warmup_seconds: 1.0,
            connections: 4,
            concurrency_echo: 32,
            concurrency_db: 16,
            bench_wall_seconds: 0,
        }
    }

    fn run(row: &str, round: u32, side: Side, result: serde_json::Value) -> RunRecord {
        RunRecord {
            row: row.into(),
            round,
            side,
            result,
        }
    }

    fn line_of<'a>(table: &'a str, title_start: &str) -> &'a str {
        table
            .lines()
            .find(|line| line.starts_with(&format!("| {title_start}")))
            .expect("the row is in the table")
    }

    #[test]
    fn numbers_are_grouped_rounded_or_dashed() {
        assert_eq!(grouped(Some(1_297_867.0)), "1,297,867");
        assert_eq!(grouped(Some(999.5)), "1,000");
        assert_eq!(grouped(Some(470.0)), "470");
        assert_eq!(grouped(Some(-1234.4)), "-1,234");
        assert_eq!(grouped(Some(-0.2)), "0");
        assert_eq!(grouped(None), "–");
        assert_eq!(decimals(Some(0.934), 2), "0.93");
        assert_eq!(decimals(None, 1), "–");
        assert_eq!(shortest(5.0), "5");
        assert_eq!(shortest(0.5), "0.5");
    }

    #[test]
    fn the_conditions_line_reads_like_the_published_one() {
        assert_eq!(
            conditions(&meta()),
            "Run 2026-11-26T02:10:21Z at 9240f45; 2 cores, servers on CPU 0, load on CPU 1 \
             (taskset); PostgreSQL unpinned; 3 rounds × 5 s per side (after 1 s warm-up); \
             4 connections, 32 in flight (echo) / 16 (database rows, pgbench -c); 1-min load \
             average at start 1.63."
        );
        let uncommitted = Meta {
            commit: String::new(),
            ..meta()
        };
        assert!(conditions(&uncommitted).contains(" at uncommitted;"));
    }

    #[test]
    fn a_missed_target_is_bold_no_and_a_met_one_yes() {
        let side = |rps: f64, p50: u64, cpu: f64| {
            json!({"rps": rps, "p50_us": p50, "p99_us": 863, "server_cpu_us_per_req": cpu,
                   "db_cpu_us_per_req": 0.14})
        };
        let records = vec![
            run("echo_auth", 1, Side::Baseline, side(65_579.0, 470, 14.5)),
            run("echo_auth", 1, Side::Variant, side(61_328.0, 481, 15.3)),
            run("rls", 1, Side::Baseline, side(5_000.0, 2_513, 134.0)),
            run("rls", 1, Side::Variant, side(5_250.0, 2_537, 135.5)),
        ];
        let table = render(&meta(), &summarize(&records), None);
        assert_eq!(
            line_of(&table, "Echo: bare tonic → behind"),
            "| Echo: bare tonic → behind pp_auth::AuthLayer (PgRedisTokenStatus) <br>*bare echo* → \
             *echo + AuthLayer* | 65,579 | 61,328 | 0.94 | ≥ 0.95 | 470 / 863 | 481 / 863 | \
             14.5 → 15.3 | 0.1 → 0.1 | **no** |"
        );
        assert!(line_of(&table, "GetBrand: RLS on").ends_with(
            "| 1.05 | ≥ 0.95 | 2,513 / 863 | 2,537 / 863 | 134.0 → 135.5 | 0.1 → 0.1 | yes |"
        ));
        // Rows with no target, or not run, have no verdict.
        assert!(
            line_of(&table, "Echo: bare tonic → full")
                .ends_with("| – | – | – / – | – / – | – → – | – → – | – |")
        );
    }

    #[test]
    fn the_table_has_the_header_and_one_line_per_row() {
        let table = render(&meta(), &summarize(&[]), None);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("Run "));
        assert_eq!(lines[1], "");
        assert_eq!(format!("{}\n{}", lines[2], lines[3]), HEADER);
        assert_eq!(lines.len(), 4 + crate::bench::report::aggregate::ROWS.len());
        assert!(!table.ends_with('\n'));
    }

    #[test]
    fn errors_failed_runs_and_info_are_noted_in_the_title() {
        let records = vec![
            run(
                "api_events_echo",
                1,
                Side::Baseline,
                json!({"rps": 10.0, "errors": 3}),
            ),
            run(
                "api_events_echo",
                1,
                Side::Variant,
                json!({"error": "boom"}),
            ),
            run(
                "api_events_echo",
                0,
                Side::Info,
                json!({"outbox_rows": 454_901, "dropped": 0}),
            ),
            run(
                "api_events",
                0,
                Side::Info,
                json!({"outbox_rows": 1_297_867}),
            ),
        ];
        let table = render(&meta(), &summarize(&records), None);
        assert!(line_of(&table, "Stress: echo").starts_with(
            "| Stress: echo, full stack, api.request recording off → on (every call an outbox row) \
             (3 errors) (1 failed runs) (454,901 events written, 0 dropped) <br>"
        ));
        assert!(
            line_of(&table, "GetBrand (production read path")
                .contains("off → on (1,297,867 events written) <br>")
        );
    }

    #[test]
    fn the_events_row_shows_throughput_lag_and_cpu() {
        let result = json!({
            "events": 20_000, "stored": 20_000, "complete": true, "written_per_sec": 14_355.2,
            "rps": 6_956.4, "lag_p50_ms": 962.0, "lag_p99_ms": 1_524.3,
            "server_cpu_us_per_req": 17.04, "broker_cpu_us_per_req": 89.46, "db_cpu_us_per_req": 84.5,
        });
        let records = vec![run("events_e2e", 1, Side::Variant, result)];
        let table = render(&meta(), &summarize(&records), None);
        assert_eq!(
            table.lines().last(),
            Some(
                "| Events end to end: brands.outbox → relay → Pub/Sub emulator → observability.events \
                 <br>*20,000 events written as pp_brands (14,355/s)* → *stored events/s; lag = \
                 received_at − occurred_at, **ms*** | – | 6,956 | – | – | – | lag 962 / 1,524 ms | \
                 – → 17.0 (relay + obs.; emulator 89.5) | – → 84.5 | – |"
            )
        );
    }

    #[test]
    fn an_incomplete_or_failed_events_run_says_so() {
        let incomplete = json!({"events": 20_000, "stored": 12_345, "complete": false});
        let table = render(
            &meta(),
            &summarize(&[run("events_e2e", 1, Side::Variant, incomplete)]),
            None,
        );
        assert!(table.lines().last().is_some_and(|l| {
            l.contains("observability.events (only 12,345 of 20,000 stored) <br>")
        }));
        let failed = json!({"error": "the probe event was not stored"});
        let table = render(
            &meta(),
            &summarize(&[run("events_e2e", 1, Side::Variant, failed)]),
            None,
        );
        assert!(table.lines().last().is_some_and(|l| l.ends_with(
            "observability.events (failed: see results.json) | – | – | – | – | – | – | – | – | – |"
        )));
    }

    #[test]
    fn rows_not_run_keep_their_previous_line_and_name_its_run() {
        let old = render(
            &meta(),
            &summarize(&[
                run("rls", 1, Side::Baseline, json!({"rps": 100.0})),
                run("rls", 1, Side::Variant, json!({"rps": 99.0})),
                run(
                    "events_e2e",
                    1,
                    Side::Variant,
                    json!({"events": 10, "complete": true, "rps": 5.0}),
                ),
            ]),
            None,
        );
        let newer = Meta {
            date: "2026-12-01T00:00:00Z".into(),
            commit: "abc1234".into(),
            ..meta()
        };
        let records = vec![
            run("sync_upsert", 1, Side::Baseline, json!({"rps": 100.0})),
            run("sync_upsert", 1, Side::Variant, json!({"rps": 20.0})),
        ];
        let table = render(&newer, &summarize(&records), Some(&old));
        let kept = line_of(&table, "GetBrand: RLS on");
        assert!(
            kept.contains("bypassed (from the run of 2026-11-26T02:10:21Z at 9240f45) <br>"),
            "{kept}"
        );
        assert!(kept.contains("| 0.99 |"), "the old figures: {kept}");
        assert!(line_of(&table, "Events end to end").contains("(from the run of 2026-11-26"));
        assert!(line_of(&table, "Orders/s: binary COPY").contains("| 0.20 | ≥ 0.50 |"));
        let never_ran = line_of(&table, "Echo: bare tonic → behind");
        assert!(
            never_ran.ends_with("| – |") && !never_ran.contains(KEPT),
            "a row that never ran stays empty, unmarked: {never_ran}"
        );
        assert!(table.ends_with(&format!("\n\n{EARLIER_RUN}{}", conditions(&meta()))));
        // A third run keeps the marks and the earlier run's conditions, once.
        let third = render(&meta(), &summarize(&records), Some(&table));
        assert_eq!(third.matches(EARLIER_RUN).count(), 1, "{third}");
        assert_eq!(third.matches(KEPT).count(), 2, "{third}");
    }

    #[test]
    fn the_demo_row_shows_both_sizes_and_the_rss_ratio() {
        let records = vec![
            run(
                "demo_generator",
                1,
                Side::Baseline,
                json!({"orders": 100_000, "orders_per_second": 9_100.4, "peak_rss_kib": 51_200}),
            ),
            run(
                "demo_generator",
                1,
                Side::Variant,
                json!({"orders": 1_000_000, "orders_per_second": 8_900.0, "peak_rss_kib": 56_320}),
            ),
        ];
        let table = render(&meta(), &summarize(&records), None);
        let line = table.lines().last().expect("a last line");
        assert!(line.starts_with("| Demo generator"), "{line}");
        assert!(
            line.ends_with(
                "*100,000 orders: 50.0 MiB peak RSS, orders/s* → *1,000,000 orders: 55.0 MiB peak \
                 RSS, orders/s; ratio = peak RSS large / small* | 9,100 | 8,900 | 1.10 | ≤ 1.20 | \
                 – | – | – | – | yes |"
            ),
            "{line}"
        );
    }

    #[test]
    fn only_the_text_between_the_markers_changes() {
        let doc = "# Performance\n\nIntro.\n\n<!-- bench:begin -->\nold table\nold line\n<!-- bench:end -->\n\n## After\n\nKept <!-- bench:end --> too.\n";
        let updated = replace_between_markers(doc, "new table");
        assert_eq!(
            updated,
            "# Performance\n\nIntro.\n\n<!-- bench:begin -->\nnew table\n<!-- bench:end -->\n\n## After\n\nKept <!-- bench:end --> too.\n"
        );
        assert_eq!(
            replace_between_markers(&updated, "new table"),
            updated,
            "idempotent"
        );
    }

    #[test]
    fn without_markers_a_results_section_is_appended() {
        let doc = "# Performance\n";
        assert_eq!(
            replace_between_markers(doc, "t"),
            "# Performance\n\n## Latest results\n\n<!-- bench:begin -->\nt\n<!-- bench:end -->\n"
        );
        // An end marker before the begin marker does not count.
        let reversed = "<!-- bench:end -->\n<!-- bench:begin -->\n";
        assert!(replace_between_markers(reversed, "t").starts_with(reversed));
    }
}
