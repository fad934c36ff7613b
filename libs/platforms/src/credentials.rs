//! What a connection holds at the provider: tokens, expiry and granted scopes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A connection's tokens. Serialized only to be encrypted at rest; `Debug` never
/// prints a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_token: String,
    /// Absent for providers whose access tokens do not expire (Shopify offline
    /// tokens, TikTok) or that re-exchange instead (Meta long-lived tokens).
    pub refresh_token: Option<String>,
    /// When the access token stops working; absent when it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Scopes the provider says it granted.
    pub scopes: Vec<String>,
}

impl Credentials {
    /// True when the access token expires within `margin` of `now`.
    pub fn expires_within(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        self.expires_at.is_some_and(|at| at - margin <= now)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}
