//! How a platform call can fail, in the terms the sync engine acts on.
//! Messages are safe to show a user: never a token, never a raw provider body.

use std::time::Duration;

/// Why the user has to reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauthReason {
    /// The provider says the token was revoked or is invalid (app uninstalled,
    /// password changed, access removed).
    TokenRevoked,
    /// A scope the sync needs was not granted (or was taken away).
    ScopesMissing,
    /// The token expired and cannot be refreshed.
    TokenExpired,
}

impl ReauthReason {
    /// The machine-readable reason stored on the integration (`error_reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::ScopesMissing => "SCOPES_MISSING",
            Self::TokenExpired => "TOKEN_EXPIRED",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The credentials are no good; retrying will not help. The integration becomes
    /// REAUTH_REQUIRED with this message.
    #[error("{message}")]
    Reauth {
        reason: ReauthReason,
        message: String,
    },
    /// Still rate limited after the retry budget.
    #[error("the platform is rate limiting requests")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx or network failure that outlasted the retry budget.
    #[error("{message}")]
    Unavailable { message: String },
    /// The provider answered, but not with something usable (unexpected 4xx, a body
    /// that does not parse, a GraphQL error).
    #[error("{message}")]
    Invalid { message: String },
}

impl PlatformError {
    /// The machine-readable reason recorded on a failed sync run.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Reauth { reason, .. } => reason.as_str(),
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Unavailable { .. } => "PLATFORM_UNAVAILABLE",
            Self::Invalid { .. } => "PLATFORM_ERROR",
        }
    }

    /// Whether a later attempt (next scheduled run) may succeed without the user.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable { .. })
    }
}
