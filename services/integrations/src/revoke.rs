//! Revoking a connection's grant at the provider when a user disconnects it.
//!
//! DisconnectIntegration reads and opens the credentials, calls [`at_provider`] with
//! no transaction open, then disconnects locally. [`at_provider`] never fails: a
//! provider that refuses, times out or cannot be reached is logged (never a token)
//! and returned as [`Outcome::Failed`], and the tokens are forgotten anyway: the user
//! asked to disconnect. The outcome is recorded in the `integration.disconnected`
//! event and returned in the response, so the user knows to remove the access at
//! the provider by hand when it failed.
//!
//! The `app/uninstalled` webhook never comes here: Shopify has already removed the app.

use pp_commerce::Platform;
use pp_platforms::{Credentials, Revocation, google_ads, meta, shopify, tiktok};
use uuid::Uuid;

use crate::PlatformsConfig;

/// What asking the provider gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider confirmed the revocation.
    Revoked,
    /// The provider no longer accepted the token: nothing was left to revoke.
    AlreadyRevoked,
    /// The provider could not be reached or refused.
    Failed,
    /// Nothing to revoke, and the provider was not contacted.
    NotApplicable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::AlreadyRevoked => "already_revoked",
            Self::Failed => "failed",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// The outcome with a machine-readable reason and a message safe to show a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRevocation {
    pub outcome: Outcome,
    /// Empty for `Revoked`.
    pub reason: &'static str,
    pub message: String,
}

impl ProviderRevocation {
    pub fn not_applicable(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::NotApplicable,
            reason,
            message: message.into(),
        }
    }

    fn failed(platform: Platform, reason: &'static str, cause: &str) -> Self {
        Self {
            outcome: Outcome::Failed,
            reason,
            message: format!(
                "{} could not be asked to revoke Pulsepoint's access ({cause}); the connection is removed here, but {}",
                name(platform),
                remove_by_hand(platform)
            ),
        }
    }

    /// Credentials that could not be opened (lost key, copied row): nothing to send.
    pub fn unreadable(platform: Platform) -> Self {
        Self::failed(
            platform,
            "CREDENTIALS_UNREADABLE",
            "the stored access could not be read",
        )
    }

    /// The event payload's `provider_revocation`.
    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({
            "outcome": self.outcome.as_str(),
            "reason": self.reason,
            "message": self.message,
        })
    }
}

/// Asks the provider to revoke the grant `credentials` hold: Google revokes the
/// refresh token, Meta de-authorizes the app, TikTok revokes the token, Shopify
/// uninstalls the app from `account` (the shop domain). Each call is bounded by
/// `pp_platforms::revocation::REVOKE_TIMEOUT`.
pub async fn at_provider(
    config: &PlatformsConfig,
    integration_id: Uuid,
    platform: Platform,
    account: &str,
    mut credentials: Credentials,
) -> ProviderRevocation {
    let http = &config.http;
    // None: the server has no app for this platform, so nothing can be sent.
    let result = match platform {
        Platform::Shopify => match config.shopify.clone() {
            Some(cfg) => Some(match shopify::validate_shop_domain(account) {
                Ok(shop) => {
                    shopify::ShopifyClient::new(http.clone(), cfg, shop)
                        .uninstall_app(&mut credentials)
                        .await
                }
                Err(error) => Err(error),
            }),
            None => None,
        },
        Platform::Meta => match &config.meta {
            Some(cfg) => Some(meta::revoke(http, cfg, &credentials).await),
            None => None,
        },
        Platform::Tiktok => match &config.tiktok {
            Some(cfg) => Some(tiktok::revoke(http, cfg, &credentials).await),
            None => None,
        },
        Platform::GoogleAds => match &config.google_ads {
            Some(cfg) => Some(google_ads::revoke(http, cfg, &credentials).await),
            None => None,
        },
    };
    let platform_name = platform.as_str();
    let Some(result) = result else {
        tracing::warn!(
            %integration_id,
            platform = platform.as_str(),
            "the platform is not configured; its access could not be revoked"
        );
        return ProviderRevocation::failed(
            platform,
            "PLATFORM_NOT_CONFIGURED",
            "this platform is not configured on the server",
        );
    };
    match result {
        Ok(revocation) => {
            tracing::info!(
                %integration_id,
                platform = platform_name,
                outcome = revocation.as_str(),
                "the provider revoked pulsepoint's access"
            );
            match revocation {
                Revocation::Revoked => ProviderRevocation {
                    outcome: Outcome::Revoked,
                    reason: "",
                    message: format!("{} revoked Pulsepoint's access", name(platform)),
                },
                Revocation::AlreadyRevoked => ProviderRevocation {
                    outcome: Outcome::AlreadyRevoked,
                    reason: "TOKEN_ALREADY_INVALID",
                    message: format!(
                        "{} no longer accepted Pulsepoint's access: it had already been revoked",
                        name(platform)
                    ),
                },
            }
        }
        Err(error) => {
            // `PlatformError` messages never carry a token or a raw provider body.
            let reason = error.reason();
            tracing::warn!(
                %integration_id,
                platform = platform_name,
                reason,
                %error,
                "the provider did not revoke pulsepoint's access; its tokens are forgotten anyway"
            );
            ProviderRevocation::failed(platform, reason, &error.to_string())
        }
    }
}

fn name(platform: Platform) -> &'static str {
    match platform {
        Platform::Shopify => "Shopify",
        Platform::Meta => "Meta",
        Platform::Tiktok => "TikTok",
        Platform::GoogleAds => "Google",
    }
}

/// Where the user removes the access themselves when the provider did not.
fn remove_by_hand(platform: Platform) -> &'static str {
    match platform {
        Platform::Shopify => {
            "the Pulsepoint app may still be installed: uninstall it in your Shopify admin (Settings > Apps)"
        }
        Platform::Meta => {
            "Meta may still grant access: remove Pulsepoint under Business Integrations in your Facebook settings"
        }
        Platform::Tiktok => {
            "TikTok may still grant access: remove Pulsepoint from the authorized apps in TikTok for Business"
        }
        Platform::GoogleAds => {
            "Google may still grant access: remove Pulsepoint under Third-party connections in your Google Account"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_tells_the_user_where_to_remove_access() {
        let failed = ProviderRevocation::failed(
            Platform::Meta,
            "PLATFORM_UNAVAILABLE",
            "the platform answered 500 Internal Server Error repeatedly",
        );
        assert_eq!(failed.outcome, Outcome::Failed);
        assert!(
            failed.message.contains("Business Integrations"),
            "{}",
            failed.message
        );
        let payload = failed.payload();
        assert_eq!(payload["outcome"], "failed");
        assert_eq!(payload["reason"], "PLATFORM_UNAVAILABLE");
    }
}
