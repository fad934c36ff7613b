//! `pulsepoint-loadgen`: the load generator behind `make bench` (docs/performance.md).
//!
//! ```text
//! pulsepoint-loadgen serve-echo --stack bare|auth|full|full-events --addr 127.0.0.1:P [--auth-url …]
//! pulsepoint-loadgen load --target URL --rpc echo|get-brand|get-brand-web|get-dashboard|dashboard-sql|dashboard-raw \
//!     --connections N --concurrency M --duration S [--token T] [--brand-id ID] \
//!     [--server-pid PID …] [--db-comm postgres]          # one JSON line on stdout
//! pulsepoint-loadgen pgbench --url URL [--clients N] [--seconds S]  # one JSON line
//! pulsepoint-loadgen setup --auth-url URL --brands-url URL [--format json|words]
//! pulsepoint-loadgen events --database-url URL --store-url URL --tenant-id T \
//!     [--count N] [--server-pid PID …] [--broker-pid PID]  # outbox → store (JSON)
//! pulsepoint-loadgen sync-upsert --method sync|copy-orders|copy-all --orders N \
//!     --database-url URL --copy-url URL --tenant-id T   # orders written/s (JSON)
//! pulsepoint-loadgen rollups --database-url URL --tenant-id T --brand-id B  # build time (JSON)
//! pulsepoint-loadgen free-ports N                        # N free ports, one line
//! pulsepoint-loadgen record --runs FILE --row R --round N --side baseline|variant|info \
//!     [--status S] [--stderr FILE] < run-output          # one line into runs.jsonl
//! pulsepoint-loadgen report --runs FILE --results FILE [--doc docs/performance.md] \
//!     --cores … --pinning … (the run's conditions)       # results.json + the table
//! ```
//!
//! Run the load side with one tokio thread (it is pinned to one core by the bench).

#[path = "../bench/mod.rs"]
mod bench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "pulsepoint-loadgen", about = "Pulsepoint load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The bench echo server, bare or behind the shared layers.
    ServeEcho(bench::server::ServeArgs),
    /// Closed-loop load against one target; prints one JSON line.
    Load(bench::load::LoadArgs),
    /// One pgbench -S run, measured like `load`; prints one JSON line.
    Pgbench(bench::pgbench::PgbenchArgs),
    /// Signs up a tenant and creates a brand; prints tenant_id, token, brand_id.
    Setup(bench::setup::SetupArgs),
    /// Writes events into brands.outbox and times them into observability.events.
    Events(bench::events::EventsArgs),
    /// Orders through the real sync path, or by binary COPY; prints one JSON line.
    SyncUpsert(bench::sync_upsert::SyncUpsertArgs),
    /// Builds a brand's rollups as the insights service does the first time; JSON line.
    Rollups(bench::dashboard::RollupsArgs),
    /// Free TCP ports on 127.0.0.1, distinct, space-separated on one line.
    FreePorts { count: usize },
    /// Appends one run's output (stdin) to the runs file, as a failure if it failed.
    Record(bench::runs::RecordArgs),
    /// The runs file → results.json and the table (stdout, and the doc's bench section).
    Report(bench::report::ReportArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        // The servers use every core they are given (taskset decides how many).
        Command::ServeEcho(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(bench::server::serve(args)),
        // The load side runs on one thread: no cross-thread hand-offs on its core.
        Command::Load(args) => current_thread()?.block_on(bench::load::run(args)),
        Command::Pgbench(args) => bench::pgbench::run(args),
        Command::Setup(args) => current_thread()?.block_on(bench::setup::run(args)),
        Command::Events(args) => current_thread()?.block_on(bench::events::run(args)),
        Command::SyncUpsert(args) => current_thread()?.block_on(bench::sync_upsert::run(args)),
        Command::Rollups(args) => current_thread()?.block_on(bench::dashboard::rollups(args)),
        Command::FreePorts { count } => {
            let ports: Vec<String> = bench::free_ports(count)?
                .iter()
                .map(u16::to_string)
                .collect();
            println!("{}", ports.join(" "));
            Ok(())
        }
        Command::Record(args) => bench::runs::record(args),
        Command::Report(args) => bench::report::run(args),
    }
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
