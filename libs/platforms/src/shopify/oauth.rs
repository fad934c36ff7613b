//! Shopify's authorization-code grant: the authorize redirect, the callback HMAC,
//! the code exchange and the refresh of expiring offline tokens.
//!
//! Token lifetime, decided: we ask for **expiring offline tokens** (`expiring=1` on
//! the exchange; Shopify changelog 2025-12-10), which public apps must use from
//! 2027-01-01. Shopify then answers with `expires_in` (3600 s) and a
//! `refresh_token` that rotates on every refresh. An answer without them (an app
//! not yet migrated, or a custom app) is kept as a non-expiring offline token, so
//! both shapes work.

use std::collections::BTreeMap;

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{ShopDomain, ShopifyConfig};
use crate::{Credentials, Http, PlatformError, ReauthReason};

type HmacSha256 = Hmac<Sha256>;

/// Where to send the merchant to approve the app:
/// `{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state`. Without
/// `grant_options[]=per-user` Shopify issues an offline token, which background
/// sync needs.
pub fn authorize_url(
    cfg: &ShopifyConfig,
    shop: &ShopDomain,
    state: &str,
    redirect_uri: &str,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &cfg.api_key)
        .append_pair("scope", &cfg.scopes.join(","))
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .finish();
    format!("{}/admin/oauth/authorize?{query}", cfg.shop_url(shop))
}

/// Checks the `hmac` Shopify adds to the install request and the OAuth callback.
/// `params` are the decoded query parameters. `hmac` (and the legacy `signature`)
/// are removed, the rest sorted by key and joined as `key=value` with `&`, then
/// signed with HMAC-SHA256 under the app secret and compared in constant time.
///
/// ❓ Escaping: Shopify's own libraries (shopify-api-js `URLSearchParams`, the Ruby
/// gem's `URI.encode_www_form`) form-urlencode each key and value; the older
/// written docs only replace `%`, `&` (and `=` in keys). Both give the same
/// message for the usual parameters (`code`, `shop`, `state`, `timestamp`); for a
/// value where they differ (e.g. `host` with base64 `=` padding) either signature
/// is accepted, since each can only be made with the secret.
pub fn verify_callback_hmac(api_secret: &str, params: &BTreeMap<String, String>) -> bool {
    let Some(given) = params.get("hmac") else {
        return false;
    };
    let Ok(given) = hex::decode(given.trim()) else {
        return false;
    };
    let form = signed_message(params, Escaping::Form);
    let legacy = signed_message(params, Escaping::Legacy);
    let verifies = |message: &str| {
        mac(api_secret, message.as_bytes())
            .verify_slice(&given)
            .is_ok()
    };
    verifies(&form) || (legacy != form && verifies(&legacy))
}

/// The lower-case hex HMAC Shopify puts in `hmac` for these parameters (the
/// form-urlencoded message). Used by the fixture to sign callbacks.
pub fn callback_hmac(api_secret: &str, params: &BTreeMap<String, String>) -> String {
    let message = signed_message(params, Escaping::Form);
    hex::encode(mac(api_secret, message.as_bytes()).finalize().into_bytes())
}

#[derive(Clone, Copy)]
enum Escaping {
    Form,
    Legacy,
}

fn signed_message(params: &BTreeMap<String, String>, escaping: Escaping) -> String {
    // BTreeMap iterates in key order: the sort Shopify asks for.
    let pairs = params
        .iter()
        .filter(|(key, _)| key.as_str() != "hmac" && key.as_str() != "signature");
    match escaping {
        Escaping::Form => {
            let mut serializer = form_urlencoded::Serializer::new(String::new());
            for (key, value) in pairs {
                serializer.append_pair(key, value);
            }
            serializer.finish()
        }
        Escaping::Legacy => pairs
            .map(|(key, value)| {
                let escape = |s: &str| s.replace('%', "%25").replace('&', "%26");
                format!("{}={}", escape(key).replace('=', "%3D"), escape(value))
            })
            .collect::<Vec<_>>()
            .join("&"),
    }
}

pub(crate) fn mac(secret: &str, message: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac accepts keys of every length"));
    mac.update(message);
    mac
}

/// The token endpoint's answer, in both the expiring and non-expiring shapes.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Comma-separated granted scopes. Absent on some refresh answers.
    scope: Option<String>,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
}

impl TokenResponse {
    fn into_credentials(self, previous_scopes: &[String]) -> Credentials {
        let scopes = match self.scope {
            Some(scope) => split_scopes(&scope),
            None => previous_scopes.to_vec(),
        };
        Credentials {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_at: self
                .expires_in
                .map(|secs| Utc::now() + chrono::Duration::seconds(secs)),
            scopes,
        }
    }
}

fn split_scopes(scope: &str) -> Vec<String> {
    scope
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The requested scopes the grant does not cover. A granted `write_x` covers a
/// requested `read_x` (Shopify returns only the write scope when both are held).
pub fn scopes_missing(requested: &[String], granted: &[String]) -> Vec<String> {
    let covers = |wanted: &str| {
        granted.iter().any(|g| g == wanted)
            || wanted.strip_prefix("read_").is_some_and(|rest| {
                granted
                    .iter()
                    .any(|g| g.strip_prefix("write_") == Some(rest))
            })
    };
    requested.iter().filter(|s| !covers(s)).cloned().collect()
}

/// Exchanges the callback's `code` for an offline token (`POST
/// /admin/oauth/access_token`) and checks that every requested scope was granted.
pub async fn exchange_code(
    http: &Http,
    cfg: &ShopifyConfig,
    shop: &ShopDomain,
    code: &str,
) -> Result<Credentials, PlatformError> {
    let url = cfg.token_url(shop);
    let form = [
        ("client_id", cfg.api_key.as_str()),
        ("client_secret", cfg.api_secret.as_str()),
        ("code", code),
        ("expiring", "1"),
    ];
    let response = http.send(|client| client.post(&url).form(&form)).await?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, shop = %shop, "shopify refused the authorization code");
        return Err(PlatformError::Invalid {
            message: format!(
                "Shopify did not accept the authorization for {shop}; start connecting the store again"
            ),
        });
    }
    let token: TokenResponse = response.json().await.map_err(|_| PlatformError::Invalid {
        message: "Shopify sent an unreadable token response".into(),
    })?;
    let credentials = token.into_credentials(&[]);
    let missing = scopes_missing(&cfg.scopes, &credentials.scopes);
    if !missing.is_empty() {
        return Err(PlatformError::Reauth {
            reason: ReauthReason::ScopesMissing,
            message: format!(
                "{shop} did not grant the permissions Pulsepoint needs ({}); reconnect the store and approve them",
                missing.join(", ")
            ),
        });
    }
    Ok(credentials)
}

/// Trades the refresh token for a new access token (`grant_type=refresh_token`)
/// and replaces `creds` in place; the caller persists the change, since the
/// refresh token rotates. A refused refresh means the store must be reconnected.
pub async fn refresh_access_token(
    http: &Http,
    cfg: &ShopifyConfig,
    shop: &ShopDomain,
    creds: &mut Credentials,
) -> Result<(), PlatformError> {
    let Some(refresh_token) = creds.refresh_token.clone() else {
        return Err(reconnect(shop, ReauthReason::TokenExpired));
    };
    let url = cfg.token_url(shop);
    let form = [
        ("client_id", cfg.api_key.as_str()),
        ("client_secret", cfg.api_secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    let response = http.send(|client| client.post(&url).form(&form)).await?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, shop = %shop, "shopify refused the token refresh");
        return Err(reconnect(shop, ReauthReason::TokenRevoked));
    }
    let token: TokenResponse = response.json().await.map_err(|_| PlatformError::Invalid {
        message: "Shopify sent an unreadable token response".into(),
    })?;
    let mut renewed = token.into_credentials(&creds.scopes);
    // Shopify rotates the refresh token; if an answer leaves it out, keep the old.
    if renewed.refresh_token.is_none() {
        renewed.refresh_token = Some(refresh_token);
    }
    *creds = renewed;
    Ok(())
}

/// The user-facing "reconnect" error.
pub(crate) fn reconnect(shop: &ShopDomain, reason: ReauthReason) -> PlatformError {
    PlatformError::Reauth {
        reason,
        message: format!(
            "Shopify no longer accepts Pulsepoint's access to {shop}; reconnect the store"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn callback_hmac_matches_shopifys_documented_example() {
        // The example in Shopify's OAuth docs (secret "hush").
        let params = params(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            (
                "hmac",
                "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20",
            ),
            ("shop", "some-shop.myshopify.com"),
            ("timestamp", "1337178173"),
        ]);
        assert!(verify_callback_hmac("hush", &params));
        assert!(!verify_callback_hmac("hush2", &params));
    }

    #[test]
    fn either_escaping_of_a_padded_host_verifies() {
        let secret = "s3cret";
        let base = params(&[
            ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw=="),
            ("shop", "demo.myshopify.com"),
        ]);
        let mut form_signed = base.clone();
        form_signed.insert("hmac".into(), callback_hmac(secret, &base));
        assert!(verify_callback_hmac(secret, &form_signed));

        let legacy = signed_message(&base, Escaping::Legacy);
        assert_eq!(
            legacy,
            "host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw==&shop=demo.myshopify.com"
        );
        let mut legacy_signed = base.clone();
        legacy_signed.insert(
            "hmac".into(),
            hex::encode(mac(secret, legacy.as_bytes()).finalize().into_bytes()),
        );
        assert!(verify_callback_hmac(secret, &legacy_signed));
    }

    #[test]
    fn write_scopes_cover_read_scopes() {
        let requested: Vec<String> = ["read_orders", "read_products", "read_inventory"]
            .map(String::from)
            .into();
        let granted = split_scopes("write_orders,read_products");
        assert_eq!(
            scopes_missing(&requested, &granted),
            vec!["read_inventory".to_string()]
        );
        let granted = split_scopes("read_orders, write_products ,read_inventory");
        assert!(scopes_missing(&requested, &granted).is_empty());
        // A read scope never covers a write scope.
        let wanted = vec!["write_orders".to_string()];
        assert_eq!(
            scopes_missing(&wanted, &split_scopes("read_orders")),
            wanted
        );
    }

    #[test]
    fn authorize_url_asks_for_an_offline_token() {
        let cfg = ShopifyConfig {
            api_key: "key 1".into(),
            api_secret: "secret".into(),
            scopes: vec!["read_orders".into(), "read_products".into()],
            api_version: "2025-07".into(),
            shop_base_url: ShopifyConfig::DEFAULT_SHOP_BASE_URL.into(),
        };
        let shop = super::super::validate_shop_domain("demo.myshopify.com").expect("valid shop");
        let url = authorize_url(&cfg, &shop, "n&nce", "https://app.example/cb?x=1");
        assert_eq!(
            url,
            "https://demo.myshopify.com/admin/oauth/authorize?client_id=key+1&scope=read_orders%2Cread_products\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1&state=n%26nce"
        );
        assert!(!url.contains("per-user"));
    }
}
