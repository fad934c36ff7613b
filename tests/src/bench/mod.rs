//! The load generator behind `make bench` (see docs/performance.md).
//!
//! - [`server`]: a bench-only echo server, bare or behind the shared layers.
//! - [`load`]: many concurrent unary calls over several connections, HDR histograms,
//!   server CPU read from `/proc` over the measured window only.
//! - [`cpu`]: `/proc/<pid>/stat` reading.
//! - [`dashboard`]: GetDashboard's figures by the RPC, by its own SQL over the rollups,
//!   and by a raw scan of `commerce.*`.
//! - [`ask`]: AskQuestion with the built-in planner by the RPC, by its own SQL, and the
//!   planner's work alone.
//! - [`setup`]: a tenant, a token and a brand through the real API.
//! - [`events`]: events end to end, outbox → relay → Pub/Sub → observability store.
//! - [`pgbench`]: one pgbench run with the same figures as [`load`].
//! - [`sync_upsert`]: orders through the real sync path, or by binary COPY ([`pgcopy`]).
//! - [`runs`]: the raw figures of a bench run (runs.jsonl), one line per run side.
//! - [`report`]: runs.jsonl → results.json and the table of docs/performance.md.

pub mod ask;
pub mod cpu;
pub mod dashboard;
pub mod events;
pub mod load;
pub mod pgbench;
pub mod pgcopy;
pub mod report;
pub mod runs;
pub mod server;
pub mod setup;
pub mod sync_upsert;

/// `count` distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
pub fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect()
}

/// Code generated from tests/proto/echo.proto by tests/build.rs.
pub mod echo_pb {
    #![allow(clippy::all)]
    tonic::include_proto!("pulsepoint.bench.v1");
}
