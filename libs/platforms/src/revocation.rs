//! Revoking a connection's grant at the provider, when a user disconnects it.
//!
//! Each client has one revoke call, in the shape its platform documents:
//! Google `POST oauth2.googleapis.com/revoke`, Meta `DELETE /me/permissions`, TikTok
//! `POST /oauth2/revoke_token/`, Shopify the `appUninstall` mutation. They answer in
//! one shape: the provider confirmed it ([`Revocation::Revoked`]), or it no longer
//! knew the token ([`Revocation::AlreadyRevoked`]: revoked, expired or uninstalled
//! earlier, so there is nothing left to revoke). Anything else is a
//! [`PlatformError`] whose message is safe to show; the caller forgets the tokens
//! either way and records the failure.
//!
//! A revocation goes through the shared [`Http`](crate::Http) sender (429 and 5xx
//! retried) but never for longer than [`REVOKE_TIMEOUT`] in all: a user is waiting
//! on the disconnect.

use std::future::Future;
use std::time::Duration;

use crate::PlatformError;

/// The most a revocation may take, retries included.
pub const REVOKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the provider said to a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The provider confirmed that the grant is revoked.
    Revoked,
    /// The provider no longer accepts the token (revoked, expired, app uninstalled):
    /// nothing was left to revoke.
    AlreadyRevoked,
}

impl Revocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::AlreadyRevoked => "already_revoked",
        }
    }
}

/// Runs a revocation within [`REVOKE_TIMEOUT`]; past it, `Unavailable`.
pub(crate) async fn within(
    platform: &'static str,
    revocation: impl Future<Output = Result<Revocation, PlatformError>>,
) -> Result<Revocation, PlatformError> {
    match tokio::time::timeout(REVOKE_TIMEOUT, revocation).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(
                platform,
                timeout_ms = REVOKE_TIMEOUT.as_millis() as u64,
                "the revocation timed out"
            );
            Err(PlatformError::Unavailable {
                message: format!("{platform} did not answer the revocation in time"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_revocation_that_hangs_times_out() {
        let outcome = within("meta", std::future::pending()).await;
        assert!(
            matches!(&outcome, Err(PlatformError::Unavailable { message }) if message == "meta did not answer the revocation in time"),
            "{outcome:?}"
        );
        let outcome = within("meta", async { Ok(Revocation::Revoked) }).await;
        assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    }
}
