//! What every Pulsepoint gRPC server shares: the layer stack, health, reflection,
//! limits, and graceful shutdown with a bounded drain.
//!
//! The order of the layers, outermost first, is built in [`serve`] only:
//!
//! 1. [`RequestContextLayer`]: request id, client address (through the trusted
//!    proxies), span (method, request id, tenant, user), W3C trace parent, the call
//!    context internal clients forward, one log line.
//! 2. [`pp_auth::AuthLayer`]: bearer token → `Principal` (public paths pass).
//! 3. [`RateLimitLayer`]: per-tenant and per-user budgets, per-client-address for the
//!    public RPCs → `RESOURCE_EXHAUSTED` with `RetryInfo`.
//! 4. [`ApiEventsLayer`] (when the service records API events): one `api.request` /
//!    `api.error` event per authenticated call that was admitted (a refused call
//!    writes nothing), off the hot path.
//! 5. tonic's request timeout, then the service (authz + validation + handler).

pub mod api_events;
pub mod client_addr;
pub mod jwks;
pub mod rate_limit;
pub mod request_context;
pub mod serve;
pub mod service;
pub mod token_status;

pub use api_events::ApiEventsLayer;
pub use client_addr::{ClientAddr, TrustedProxies};
pub use rate_limit::{RateLimitLayer, RateLimiter};
pub use request_context::RequestContextLayer;
pub use serve::{ServeOptions, serve};
pub use token_status::PgRedisTokenStatus;
