//! Clients for the platforms a brand connects, speaking each API's documented wire
//! format: OAuth (authorize URL, code exchange, refresh) and the data endpoints the
//! sync engine pages through. Every client retries 429 and 5xx with capped
//! exponential backoff and full jitter, honours `Retry-After`, refreshes an expired
//! access token once on 401, and classifies revoked tokens and missing scopes as
//! [`PlatformError::Reauth`] so the integration asks the user to reconnect. Each can
//! also revoke its grant when the user disconnects ([`revocation`]).
//!
//! Every provider base URL is configurable, which is how the tests point the real
//! client code at the local fixture servers in [`fixtures`].

pub mod ads;
pub mod credentials;
pub mod error;
pub mod google_ads;
pub mod http;
pub mod meta;
pub mod revocation;
pub mod shopify;
pub mod tiktok;

pub use credentials::Credentials;
pub use error::{PlatformError, ReauthReason};
pub use http::{Http, RetryPolicy};
pub use revocation::Revocation;

#[cfg(feature = "fixtures")]
pub mod fixtures;

/// One page of records and the cursor to fetch the next one (absent on the last
/// page). The sync engine stores the cursor after it has written the page, so a
/// crashed run resumes where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
