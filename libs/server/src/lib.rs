//! What every Pulsepoint gRPC server shares: the layer stack, health, reflection,
//! limits, and graceful shutdown with a bounded drain.
//!
//! The order of the layers, outermost first, is built in [`serve`] only:
//!
//! 1. [`RequestContextLayer`]: request id, span (method, request id, tenant, user),
//!    W3C trace parent, the call context internal clients forward, one log line.
//! 2. [`pp_auth::AuthLayer`]: bearer token → `Principal` (public paths pass).
//! 3. [`ApiEventsLayer`] (when the service records API events): one `api.request` /
//!    `api.error` event per authenticated call, written off the hot path.
//! 4. [`RateLimitLayer`]: per-tenant and per-user budgets → `RESOURCE_EXHAUSTED`.
//! 5. tonic's request timeout, then the service (authz + validation + handler).

pub mod api_events;
pub mod jwks;
pub mod rate_limit;
pub mod request_context;
pub mod serve;
pub mod token_status;

pub use api_events::ApiEventsLayer;
pub use rate_limit::{RateLimitLayer, RateLimiter};
pub use request_context::RequestContextLayer;
pub use serve::{ServeOptions, serve};
pub use token_status::PgRedisTokenStatus;
