//! The load generator behind `make bench` (see docs/performance.md).
//!
//! - [`server`]: a bench-only echo server, bare or behind the shared layers.
//! - [`load`]: many concurrent unary calls over several connections, HDR histograms,
//!   server CPU read from `/proc` over the measured window only.
//! - [`cpu`]: `/proc/<pid>/stat` reading.
//! - [`setup`]: a tenant, a token and a brand through the real API.
//! - [`events`]: events end to end, outbox → relay → Pub/Sub → observability store.

pub mod cpu;
pub mod events;
pub mod load;
pub mod server;
pub mod setup;

/// Code generated from tests/proto/echo.proto by tests/build.rs.
pub mod echo_pb {
    #![allow(clippy::all)]
    tonic::include_proto!("pulsepoint.bench.v1");
}
