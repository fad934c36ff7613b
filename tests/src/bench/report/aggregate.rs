//! From the raw runs to one summary per row: each round pairs a baseline run with the
//! variant run next to it, the ratio is taken per round, and the row's figure is the
//! median over rounds (docs/performance.md, "Method").

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::bench::runs::{RunRecord, Side};

/// A comparison the bench knows: its row name in runs.jsonl and how it is presented.
#[derive(Debug, Clone, Copy)]
pub struct RowSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub baseline: &'static str,
    pub variant: &'static str,
    /// The median rps ratio the variant should reach; `None`: information only.
    pub target: Option<f64>,
}

/// The paired rows, in table order. A new row in scripts/bench.sh needs an entry here.
pub const ROWS: &[RowSpec] = &[
    RowSpec {
        name: "echo_auth",
        title: "Echo: bare tonic → behind pp_auth::AuthLayer (PgRedisTokenStatus)",
        baseline: "bare echo",
        variant: "echo + AuthLayer",
        target: Some(0.95),
    },
    RowSpec {
        name: "echo_full_stack",
        title: "Echo: bare tonic → full shared stack (context + auth + rate limit, JSON log)",
        baseline: "bare echo",
        variant: "echo + full stack",
        target: None,
    },
    RowSpec {
        name: "get_brand_vs_pgbench",
        title: "GetBrand (token check + RLS tx + select) vs pgbench -S",
        baseline: "pgbench -S -M prepared",
        variant: "GetBrand",
        target: Some(0.6),
    },
    RowSpec {
        name: "rls",
        title: "GetBrand: RLS on vs the same path with RLS bypassed",
        baseline: "GetBrand, BYPASSRLS role",
        variant: "GetBrand, RLS on",
        target: Some(0.95),
    },
    RowSpec {
        name: "grpc_web",
        title: "GetBrand: grpc-web via gateway vs native gRPC direct",
        baseline: "native gRPC → brands",
        variant: "grpc-web → gateway → brands",
        target: Some(0.6),
    },
    RowSpec {
        name: "api_events",
        title: "GetBrand (production read path: Redis up, cache hit): api.request recording off → on",
        baseline: "GetBrand, PULSEPOINT_API_EVENTS=off",
        variant: "GetBrand, recording on",
        target: Some(0.95),
    },
    RowSpec {
        name: "api_events_echo",
        title: "Stress: echo, full stack, api.request recording off → on (every call an outbox row)",
        baseline: "echo + full stack",
        variant: "echo + full stack + ApiEventsLayer",
        target: None,
    },
    RowSpec {
        name: "sync_upsert",
        title: "Orders/s: binary COPY of the order rows → real sync path (a worker's full Shopify \
                run: cost-priced pages → parse → batched upserts, which also write lines, refunds, \
                touchpoints, customers, products, inventory)",
        baseline: "COPY commerce.orders only, superuser",
        variant: "sync: fixture → run_leased, pp_integrations + RLS",
        target: Some(0.5),
    },
    RowSpec {
        name: "sync_upsert_all_tables",
        title: "Orders/s, like for like: binary COPY of every row the sync writes → real sync path",
        baseline: "COPY orders, lines, refunds, refund lines, touchpoints, customers",
        variant: "sync (the same runs as sync_upsert)",
        target: None,
    },
    RowSpec {
        name: "dashboard_rollups",
        title: "GetDashboard, 90 days of a 1M-order demo brand: the same figures by a raw scan of \
                commerce.* → the RPC over the daily rollups",
        baseline: "raw SQL scan (the catalogue's daily SQL), in-process",
        variant: "GetDashboard RPC (cache off)",
        target: Some(20.0),
    },
    RowSpec {
        name: "dashboard_rpc",
        title: "GetDashboard: its own SQL over the rollups, in-process → the RPC (token check, \
                freshness call, response); goal RPC time ≤ 1.2 × SQL time",
        baseline: "the RPC's SQL (brand + engine::dashboard), in-process",
        variant: "GetDashboard RPC (cache off)",
        target: Some(1.0 / 1.2),
    },
    RowSpec {
        name: "ask_rpc",
        title: "AskQuestion, built-in planner, 1M-order demo brand (10 questions in turn): its \
                planner and metric-engine SQL in-process → the RPC (token check, freshness, \
                storing the question and its events); goal RPC p50 ≤ 50 ms",
        baseline: "planner + engine SQL, in-process",
        variant: "AskQuestion RPC",
        target: None,
    },
    RowSpec {
        name: "ask_planner",
        title: "AskQuestion's own time without metric-engine SQL: planner + SQL in-process → \
                the planner alone (parse, write the answer from figures computed once); goal \
                p50 ≤ 0.5 ms",
        baseline: "planner + engine SQL, in-process",
        variant: "planner alone (no SQL), in-process",
        target: None,
    },
];

/// The demo generator row (`pulsepoint-integrations demo`): round 1, the baseline side
/// is the small run (100,000 orders), the variant the large one (1,000,000).
pub const DEMO_ROW: &str = "demo_generator";
const DEMO_TITLE: &str =
    "Demo generator → real upsert path (pulsepoint-integrations demo): peak RSS, large / small run";
/// The titles of the rows summarized only when they ran, in table order.
pub const UNPAIRED_TITLES: [&str; 2] = [EVENTS_TITLE, DEMO_TITLE];
/// The most the large run's peak RSS may be, as a multiple of the small run's.
pub const DEMO_RSS_TARGET: f64 = 1.2;

/// The one-run, unpaired row: `loadgen events`, recorded as round 1, side variant.
pub const EVENTS_ROW: &str = "events_e2e";
const EVENTS_TITLE: &str =
    "Events end to end: brands.outbox → relay → Pub/Sub emulator → observability.events";

/// The per-side figures whose median over rounds the report keeps.
const SIDE_FIGURES: [&str; 7] = [
    "rps",
    "p50_us",
    "p99_us",
    "server_cpu_us_per_req",
    "server_cpu_util",
    "db_cpu_us_per_req",
    "client_cpu_util",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    pub round: u32,
    pub baseline: Value,
    pub variant: Value,
    pub rps_ratio: Option<f64>,
    pub cpu_per_req_ratio: Option<f64>,
}

/// One side's name and the medians of its figures (`SIDE_FIGURES`) over rounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideSummary {
    pub name: &'static str,
    #[serde(flatten)]
    pub medians: BTreeMap<&'static str, Option<f64>>,
}

impl SideSummary {
    pub fn median(&self, figure: &str) -> Option<f64> {
        self.medians.get(figure).copied().flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedRow {
    pub name: &'static str,
    pub title: &'static str,
    pub baseline: SideSummary,
    pub variant: SideSummary,
    pub median_rps_ratio: Option<f64>,
    pub median_cpu_per_req_ratio: Option<f64>,
    pub target: Option<f64>,
    /// Whether the median ratio reached the target; `None` without either.
    pub pass: Option<bool>,
    /// Calls that failed inside measured windows, both sides, all rounds.
    pub errors: u64,
    /// Runs that did not produce figures at all.
    pub failed_runs: u64,
    pub rounds: Vec<Round>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SingleRow {
    pub name: &'static str,
    pub title: &'static str,
    pub target: Option<f64>,
    pub pass: Option<bool>,
    pub median_rps_ratio: Option<f64>,
    pub failed_runs: u64,
    pub errors: u64,
    pub result: Value,
}

/// The demo generator at two sizes: orders/s of each, and how peak RSS grew.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoRow {
    pub name: &'static str,
    pub title: &'static str,
    pub small: Value,
    pub large: Value,
    /// large peak RSS / small peak RSS.
    pub rss_ratio: Option<f64>,
    /// The most `rss_ratio` may be.
    pub rss_ratio_max: f64,
    pub pass: Option<bool>,
    pub failed_runs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RowSummary {
    Paired(PairedRow),
    Single(SingleRow),
    Demo(DemoRow),
}

/// The two runs of one round, as recorded (either may be missing).
#[derive(Debug, Default)]
struct RoundRuns {
    baseline: Option<Value>,
    variant: Option<Value>,
}

/// The runs grouped: row → round → its runs, and row → merged info.
#[derive(Debug, Default)]
struct Grouped {
    rounds: BTreeMap<String, BTreeMap<u32, RoundRuns>>,
    info: BTreeMap<String, Map<String, Value>>,
}

fn group(records: &[RunRecord]) -> Grouped {
    let mut grouped = Grouped::default();
    for record in records {
        if record.side == Side::Info {
            if let Value::Object(fields) = &record.result {
                let info = grouped.info.entry(record.row.clone()).or_default();
                info.extend(fields.clone());
            }
            continue;
        }
        let runs = grouped
            .rounds
            .entry(record.row.clone())
            .or_default()
            .entry(record.round)
            .or_default();
        // A later record of the same round and side replaces the earlier one.
        match record.side {
            Side::Baseline => runs.baseline = Some(record.result.clone()),
            _ => runs.variant = Some(record.result.clone()),
        }
    }
    grouped
}

/// Every row of `ROWS` (in that order, run or not), then the events row and the demo row
/// if they ran.
pub fn summarize(records: &[RunRecord]) -> Vec<RowSummary> {
    let mut grouped = group(records);
    let mut rows: Vec<RowSummary> = ROWS
        .iter()
        .map(|spec| {
            let rounds = grouped.rounds.remove(spec.name).unwrap_or_default();
            RowSummary::Paired(paired_row(spec, rounds, grouped.info.remove(spec.name)))
        })
        .collect();
    let events = grouped
        .rounds
        .get(EVENTS_ROW)
        .and_then(|rounds| rounds.get(&1))
        .and_then(|runs| runs.variant.clone());
    if let Some(result) = events {
        rows.push(RowSummary::Single(SingleRow {
            name: EVENTS_ROW,
            title: EVENTS_TITLE,
            target: None,
            pass: None,
            median_rps_ratio: None,
            failed_runs: u64::from(is_failed(&result)),
            errors: 0,
            result,
        }));
    }
    if let Some(runs) = grouped
        .rounds
        .remove(DEMO_ROW)
        .and_then(|mut r| r.remove(&1))
    {
        rows.push(RowSummary::Demo(demo_row(runs)));
    }
    rows
}

fn demo_row(runs: RoundRuns) -> DemoRow {
    let small = runs.baseline.unwrap_or_else(|| Value::Object(Map::new()));
    let large = runs.variant.unwrap_or_else(|| Value::Object(Map::new()));
    let rss_ratio = figure_of(&small, "peak_rss_kib")
        .filter(|rss| *rss > 0.0)
        .zip(figure_of(&large, "peak_rss_kib"))
        .map(|(small, large)| large / small);
    DemoRow {
        name: DEMO_ROW,
        title: DEMO_TITLE,
        failed_runs: u64::from(is_failed(&small)) + u64::from(is_failed(&large)),
        small,
        large,
        rss_ratio,
        rss_ratio_max: DEMO_RSS_TARGET,
        pass: rss_ratio.map(|ratio| ratio <= DEMO_RSS_TARGET),
    }
}

/// Rows in the runs that the report does not know (neither in `ROWS` nor the events row).
pub fn unknown_rows(records: &[RunRecord]) -> Vec<String> {
    let mut names: Vec<String> = records
        .iter()
        .map(|r| r.row.clone())
        .filter(|name| {
            name != EVENTS_ROW && name != DEMO_ROW && !ROWS.iter().any(|spec| spec.name == name)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn paired_row(
    spec: &RowSpec,
    rounds: BTreeMap<u32, RoundRuns>,
    info: Option<Map<String, Value>>,
) -> PairedRow {
    let rounds: Vec<Round> = rounds
        .into_iter()
        .map(|(round, runs)| {
            let baseline = runs.baseline.unwrap_or_else(|| Value::Object(Map::new()));
            let variant = runs.variant.unwrap_or_else(|| Value::Object(Map::new()));
            Round {
                round,
                rps_ratio: ratio(&baseline, &variant, "rps"),
                // No CPU charged at all is below the clock-tick resolution, not a figure.
                cpu_per_req_ratio: ratio(&baseline, &variant, "server_cpu_us_per_req")
                    .filter(|r| *r != 0.0),
                baseline,
                variant,
            }
        })
        .collect();
    let side = |name: &'static str, pick: fn(&Round) -> &Value| SideSummary {
        name,
        medians: SIDE_FIGURES
            .iter()
            .map(|figure| {
                let values = rounds.iter().filter_map(|r| figure_of(pick(r), figure));
                (*figure, median(values.collect()))
            })
            .collect(),
    };
    let baseline = side(spec.baseline, |r| &r.baseline);
    let variant = side(spec.variant, |r| &r.variant);
    let median_rps_ratio = median(rounds.iter().filter_map(|r| r.rps_ratio).collect());
    let errors = rounds
        .iter()
        .flat_map(|r| [&r.baseline, &r.variant])
        .filter_map(|run| run.get("errors").and_then(Value::as_u64))
        .sum();
    let failed_runs = rounds
        .iter()
        .flat_map(|r| [&r.baseline, &r.variant])
        .filter(|run| is_failed(run))
        .count() as u64;
    PairedRow {
        name: spec.name,
        title: spec.title,
        baseline,
        variant,
        median_rps_ratio,
        median_cpu_per_req_ratio: median(
            rounds.iter().filter_map(|r| r.cpu_per_req_ratio).collect(),
        ),
        target: spec.target,
        pass: median_rps_ratio
            .zip(spec.target)
            .map(|(ratio, target)| ratio >= target),
        errors,
        failed_runs,
        rounds,
        info,
    }
}

fn is_failed(run: &Value) -> bool {
    run.get("error").is_some()
}

fn figure_of(run: &Value, figure: &str) -> Option<f64> {
    run.get(figure).and_then(Value::as_f64)
}

/// variant / baseline of one figure in one round; `None` unless both are numbers and the
/// baseline is not zero. A variant at zero (every call failed) is a ratio of zero.
fn ratio(baseline: &Value, variant: &Value, figure: &str) -> Option<f64> {
    let base = figure_of(baseline, figure).filter(|v| *v != 0.0)?;
    let var = figure_of(variant, figure)?;
    Some(var / base)
}

/// The middle value; the mean of the two middle ones for an even count.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(row: &str, round: u32, side: Side, result: Value) -> RunRecord {
        RunRecord {
            row: row.into(),
            round,
            side,
            result,
        }
    }

    fn paired(rows: &[RowSummary], name: &str) -> PairedRow {
        rows.iter()
            .find_map(|row| match row {
                RowSummary::Paired(p) if p.name == name => Some(p.clone()),
                _ => None,
            })
            .expect("the row is in the summary")
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn the_row_ratio_is_the_median_of_per_round_ratios() {
        // Round ratios 0.5, 1.0, 0.9: the median is 0.9, while the ratio of the median
        // rps (90 / 100) would hide that pairing.
        let records = vec![
            run("rls", 1, Side::Baseline, json!({"rps": 100.0})),
            run("rls", 1, Side::Variant, json!({"rps": 50.0})),
            run("rls", 2, Side::Variant, json!({"rps": 200.0})),
            run("rls", 2, Side::Baseline, json!({"rps": 200.0})),
            run("rls", 3, Side::Baseline, json!({"rps": 100.0})),
            run("rls", 3, Side::Variant, json!({"rps": 90.0})),
        ];
        let row = paired(&summarize(&records), "rls");
        let ratios: Vec<_> = row.rounds.iter().map(|r| r.rps_ratio).collect();
        assert_eq!(ratios, vec![Some(0.5), Some(1.0), Some(0.9)]);
        assert_eq!(row.median_rps_ratio, Some(0.9));
        assert_eq!(row.baseline.median("rps"), Some(100.0));
        assert_eq!(row.variant.median("rps"), Some(90.0));
        assert_eq!(row.pass, Some(false), "0.9 is below the 0.95 target");
    }

    #[test]
    fn sides_pair_by_round_whatever_order_they_ran_in() {
        let records = vec![
            run(
                "grpc_web",
                2,
                Side::Variant,
                json!({"rps": 30.0, "server_cpu_us_per_req": 20.0}),
            ),
            run(
                "grpc_web",
                1,
                Side::Baseline,
                json!({"rps": 10.0, "server_cpu_us_per_req": 5.0}),
            ),
            run(
                "grpc_web",
                2,
                Side::Baseline,
                json!({"rps": 40.0, "server_cpu_us_per_req": 10.0}),
            ),
            run(
                "grpc_web",
                1,
                Side::Variant,
                json!({"rps": 8.0, "server_cpu_us_per_req": 10.0}),
            ),
        ];
        let row = paired(&summarize(&records), "grpc_web");
        assert_eq!(row.rounds.len(), 2);
        assert_eq!(row.rounds[0].rps_ratio, Some(0.8));
        assert_eq!(row.rounds[1].rps_ratio, Some(0.75));
        assert_eq!(row.rounds[0].cpu_per_req_ratio, Some(2.0));
        assert_eq!(row.median_cpu_per_req_ratio, Some(2.0));
        assert_eq!(row.pass, Some(true), "0.775 reaches the 0.6 target");
    }

    #[test]
    fn a_failed_or_missing_side_gives_no_ratio_for_its_round() {
        let records = vec![
            run(
                "echo_auth",
                1,
                Side::Baseline,
                json!({"rps": 100.0, "errors": 2}),
            ),
            run(
                "echo_auth",
                1,
                Side::Variant,
                json!({"error": "connect refused"}),
            ),
            run(
                "echo_auth",
                2,
                Side::Baseline,
                json!({"rps": 100.0, "errors": 1}),
            ),
            run("echo_auth", 2, Side::Variant, json!({"rps": 97.0})),
            run("echo_auth", 3, Side::Baseline, json!({"rps": 0.0})),
            run("echo_auth", 3, Side::Variant, json!({"rps": 10.0})),
            run("echo_auth", 4, Side::Baseline, json!({"rps": 100.0})),
            run(
                "echo_auth",
                5,
                Side::Baseline,
                json!({"rps": 100.0, "server_cpu_us_per_req": 9.0}),
            ),
            run(
                "echo_auth",
                5,
                Side::Variant,
                json!({"rps": 0.0, "server_cpu_us_per_req": 0.0}),
            ),
        ];
        let row = paired(&summarize(&records), "echo_auth");
        let ratios: Vec<_> = row.rounds.iter().map(|r| r.rps_ratio).collect();
        assert_eq!(ratios, vec![None, Some(0.97), None, None, Some(0.0)]);
        assert_eq!(row.median_rps_ratio, Some(0.485));
        assert_eq!(row.rounds[4].cpu_per_req_ratio, None);
        assert_eq!(
            row.rounds[3].variant,
            json!({}),
            "the missing side is empty"
        );
        assert_eq!(row.errors, 3);
        assert_eq!(row.failed_runs, 1);
    }

    #[test]
    fn a_row_that_did_not_run_has_no_figures_and_no_verdict() {
        let row = paired(&summarize(&[]), "get_brand_vs_pgbench");
        assert!(row.rounds.is_empty());
        assert_eq!(row.median_rps_ratio, None);
        assert_eq!(row.pass, None);
        assert_eq!(row.baseline.median("p50_us"), None);
    }

    #[test]
    fn rows_without_a_target_have_no_verdict() {
        let records = vec![
            run("echo_full_stack", 1, Side::Baseline, json!({"rps": 10.0})),
            run("echo_full_stack", 1, Side::Variant, json!({"rps": 5.0})),
        ];
        let row = paired(&summarize(&records), "echo_full_stack");
        assert_eq!(row.median_rps_ratio, Some(0.5));
        assert_eq!(row.pass, None);
    }

    #[test]
    fn info_lines_merge_into_their_row() {
        let records = vec![
            run("api_events_echo", 0, Side::Info, json!({"outbox_rows": 10})),
            run("api_events_echo", 0, Side::Info, json!({"dropped": 2})),
        ];
        let row = paired(&summarize(&records), "api_events_echo");
        assert!(row.rounds.is_empty(), "info is not a round");
        let info = row.info.expect("info merged");
        assert_eq!(info.get("outbox_rows"), Some(&json!(10)));
        assert_eq!(info.get("dropped"), Some(&json!(2)));
    }

    #[test]
    fn the_events_row_comes_last_and_only_when_it_ran() {
        assert_eq!(summarize(&[]).len(), ROWS.len());
        let records = vec![run(
            EVENTS_ROW,
            1,
            Side::Variant,
            json!({"error": "no emulator"}),
        )];
        let rows = summarize(&records);
        assert_eq!(rows.len(), ROWS.len() + 1);
        let Some(RowSummary::Single(events)) = rows.last() else {
            panic!("the events row is last");
        };
        assert_eq!(events.failed_runs, 1);
    }

    #[test]
    fn the_demo_row_compares_peak_rss_of_the_large_run_with_the_small() {
        let records = vec![
            run(
                DEMO_ROW,
                1,
                Side::Baseline,
                json!({"orders": 100_000, "orders_per_second": 9_000.0, "peak_rss_kib": 40_000}),
            ),
            run(
                DEMO_ROW,
                1,
                Side::Variant,
                json!({"orders": 1_000_000, "orders_per_second": 8_000.0, "peak_rss_kib": 52_000}),
            ),
        ];
        let rows = summarize(&records);
        let Some(RowSummary::Demo(demo)) = rows.last() else {
            panic!("the demo row is last");
        };
        assert_eq!(demo.rss_ratio, Some(1.3));
        assert_eq!(demo.pass, Some(false), "1.3 is above the 1.2 allowed");
        assert_eq!(demo.failed_runs, 0);
        assert!(unknown_rows(&records).is_empty());
    }

    #[test]
    fn a_failed_demo_run_has_no_ratio() {
        let records = vec![run(DEMO_ROW, 1, Side::Variant, json!({"error": "oom"}))];
        let Some(RowSummary::Demo(demo)) = summarize(&records).pop() else {
            panic!("the demo row is there");
        };
        assert_eq!(
            (demo.rss_ratio, demo.pass, demo.failed_runs),
            (None, None, 1)
        );
    }

    #[test]
    fn unknown_rows_are_named_once() {
        let records = vec![
            run("new_row", 1, Side::Baseline, json!({})),
            run("new_row", 1, Side::Variant, json!({})),
            run("rls", 1, Side::Variant, json!({})),
            run(EVENTS_ROW, 1, Side::Variant, json!({})),
        ];
        assert_eq!(unknown_rows(&records), vec!["new_row".to_owned()]);
    }
}
