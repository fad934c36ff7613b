//! Ids and wire conversions shared by every Pulsepoint crate.
//!
//! This crate sits right above `pp-error` and below everything else (`pp-auth`,
//! `pp-db`, `pp-cache`, the services), so a crate that needs a tenant id does not
//! have to depend on the authentication layer.

pub mod convert;
mod ids;
pub mod net;

pub use convert::Violations;
pub use ids::{TenantId, UserId, parse_uuid};
