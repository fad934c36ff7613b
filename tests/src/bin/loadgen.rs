//! `pulsepoint-loadgen`: the load generator behind `make bench` (docs/performance.md).
//!
//! ```text
//! pulsepoint-loadgen serve-echo --stack bare|auth|full|full-events --addr 127.0.0.1:P [--auth-url …]
//! pulsepoint-loadgen load --target URL --rpc echo|get-brand|get-brand-web \
//!     --connections N --concurrency M --duration S [--token T] [--brand-id ID] \
//!     [--server-pid PID …] [--db-comm postgres]          # one JSON line on stdout
//! pulsepoint-loadgen setup --auth-url URL --brands-url URL   # tenant, token, brand (JSON)
//! pulsepoint-loadgen cpu-ticks [--pid PID …] [--comm NAME]   # utime+stime ticks (JSON)
//! pulsepoint-loadgen events --database-url URL --store-url URL --tenant-id T \
//!     [--count N] [--server-pid PID …] [--broker-pid PID]  # outbox → store (JSON)
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
    /// Signs up a tenant and creates a brand; prints tenant_id, token, brand_id.
    Setup(bench::setup::SetupArgs),
    /// Writes events into brands.outbox and times them into observability.events.
    Events(bench::events::EventsArgs),
    /// CPU ticks (utime+stime) of processes, for runs the loadgen does not drive.
    CpuTicks {
        #[arg(long = "pid")]
        pids: Vec<u32>,
        #[arg(long)]
        comm: Option<String>,
    },
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
        Command::Setup(args) => current_thread()?.block_on(bench::setup::run(args)),
        Command::Events(args) => current_thread()?.block_on(bench::events::run(args)),
        Command::CpuTicks { pids, comm } => {
            let sample = bench::cpu::sample(&pids, comm.as_deref());
            println!(
                "{}",
                serde_json::json!({
                    "server_ticks": sample.server,
                    "comm_ticks": sample.db,
                    "ticks_per_sec": bench::cpu::clock_ticks_per_sec(),
                })
            );
            Ok(())
        }
    }
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
