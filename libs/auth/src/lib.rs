//! Identity for every Pulsepoint service.
//!
//! - [`Principal`]: who is calling, put into request extensions by [`AuthLayer`].
//! - [`TokenVerifier`]: EdDSA-only JWT checks (signature, `iss`, `aud`, `exp`, `nbf`,
//!   `sub`), with a cache of verified tokens so signatures stay off the hot path.
//! - [`TokenStatus`]: "is this token still good" (tenant active, user active, not
//!   revoked), answered by the service's store and cached here for at most
//!   [`STATUS_CACHE_TTL`] so a revocation is effective everywhere within a second.
//! - [`SigningKey`]: minting, used by the auth service only.
//! - [`context`]: the caller's identity, request id and trace context, forwarded on
//!   internal calls by [`context::ForwardLayer`].

pub mod claims;
pub mod context;
pub mod keys;
pub mod layer;
pub mod principal;
pub mod role;
pub mod status;
pub mod verifier;

pub use claims::{AccessClaims, TOKEN_TYPE_ACCESS};
pub use keys::{KeyStore, SigningKey};
pub use layer::{AuthLayer, PublicMethods};
pub use principal::{Principal, TenantId, UserId};
pub use role::Role;
pub use status::{CachedTokenStatus, STATUS_CACHE_TTL, TokenState, TokenStatus};
pub use verifier::{TokenVerifier, VerifyError};
