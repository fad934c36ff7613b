//! Shopify: OAuth (authorization-code grant with expiring offline tokens), webhook
//! verification and parsing, and the Admin GraphQL client the sync engine pages
//! orders, products and inventory through, which also uninstalls the app when a
//! user disconnects the store (`ShopifyClient::uninstall_app`, the way an offline
//! token is revoked).
//!
//! Every URL is derived from [`ShopifyConfig::shop_base_url`], a template in which
//! `{shop}` stands for the shop's `*.myshopify.com` domain; production uses
//! `https://{shop}`, tests point it at a local fixture.

mod attribution;
mod client;
pub mod cost;
mod graphql;
mod oauth;
mod throttle;
mod webhook;

pub use attribution::{campaign_id_from_utm, channel_for, utm_from_url};
pub use client::{ShopInfo, ShopifyClient};
pub use oauth::{
    authorize_url, callback_hmac, exchange_code, refresh_access_token, scopes_missing,
    verify_callback_hmac,
};
pub use webhook::{parse_order_webhook, verify_webhook_hmac, webhook_hmac};

use crate::PlatformError;

/// The Pulsepoint app's Shopify settings.
#[derive(Clone)]
pub struct ShopifyConfig {
    /// The app's client id (Shopify calls it the API key).
    pub api_key: String,
    /// The app's client secret: signs OAuth callbacks and webhooks. Never in `Debug`.
    pub api_secret: String,
    /// Scopes requested at install, e.g. `read_orders`, `read_products`.
    pub scopes: Vec<String>,
    /// Admin API version, e.g. `2025-07`.
    pub api_version: String,
    /// Where a shop's endpoints live; `{shop}` is replaced by the shop domain.
    pub shop_base_url: String,
}

impl ShopifyConfig {
    pub const DEFAULT_SHOP_BASE_URL: &'static str = "https://{shop}";

    /// The scopes a sync needs: orders (with customer journeys), customers on
    /// orders, products with variant costs, and inventory levels.
    pub fn default_scopes() -> Vec<String> {
        [
            "read_orders",
            "read_products",
            "read_inventory",
            "read_customers",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }

    /// The base URL of one shop, e.g. `https://demo.myshopify.com`.
    pub fn shop_url(&self, shop: &ShopDomain) -> String {
        self.shop_base_url
            .replace("{shop}", shop.as_str())
            .trim_end_matches('/')
            .to_string()
    }

    pub(crate) fn graphql_url(&self, shop: &ShopDomain) -> String {
        format!(
            "{}/admin/api/{}/graphql.json",
            self.shop_url(shop),
            self.api_version
        )
    }

    pub(crate) fn token_url(&self, shop: &ShopDomain) -> String {
        format!("{}/admin/oauth/access_token", self.shop_url(shop))
    }
}

impl std::fmt::Debug for ShopifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyConfig")
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("api_version", &self.api_version)
            .field("shop_base_url", &self.shop_base_url)
            .finish()
    }
}

/// A shop domain that passed [`validate_shop_domain`]: `<name>.myshopify.com`.
/// Holding one is the proof that the value is safe to put in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopDomain(String);

impl ShopDomain {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const SHOP_SUFFIX: &str = ".myshopify.com";

/// Accepts exactly `^[a-z0-9][a-z0-9-]*\.myshopify\.com$`. Shopify's documented
/// pattern also allows upper case and a trailing slash; we take the strict form,
/// since Shopify itself sends the lower-case domain and anything else in a
/// callback is more likely tampering than a real shop.
pub fn validate_shop_domain(shop: &str) -> Result<ShopDomain, PlatformError> {
    let invalid = || PlatformError::Invalid {
        message: "not a Shopify store domain; expected <name>.myshopify.com".into(),
    };
    let name = shop.strip_suffix(SHOP_SUFFIX).ok_or_else(invalid)?;
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    // DNS caps a label at 63 bytes; a longer "name" is not a real store.
    if !first_ok || !rest_ok || name.len() > 63 {
        return Err(invalid());
    }
    Ok(ShopDomain(shop.to_string()))
}

/// Micros to the decimal string Shopify uses for money (`"12.34"`, `"7.0"`); the
/// fixture writes amounts with it.
#[cfg(any(test, feature = "fixtures"))]
pub(crate) fn micros_to_decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let whole = abs / 1_000_000;
    let fraction = format!("{:06}", abs % 1_000_000);
    let fraction = fraction.trim_end_matches('0');
    let fraction = if fraction.is_empty() { "0" } else { fraction };
    format!("{sign}{whole}.{fraction}")
}

/// A Shopify decimal string to micros, or `Invalid` naming the field.
pub(crate) fn money(amount: &str, field: &str) -> Result<i64, PlatformError> {
    pp_commerce::decimal_to_micros(amount).ok_or_else(|| PlatformError::Invalid {
        message: format!("shopify sent an unreadable amount in {field}"),
    })
}

/// Shopify sends `""` for an absent SKU, vendor or product type.
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_domains_are_checked_strictly() {
        let accepted = [
            "demo.myshopify.com",
            "a.myshopify.com",
            "0-shop-9.myshopify.com",
        ];
        for shop in accepted {
            assert_eq!(
                validate_shop_domain(shop).map(|s| s.0).ok().as_deref(),
                Some(shop)
            );
        }
        let rejected = [
            "",
            ".myshopify.com",
            "-demo.myshopify.com",
            "Demo.myshopify.com",
            "demo.MYSHOPIFY.com",
            "demo.myshopify.com/",
            "demo.myshopify.com:443",
            "demo.myshopify.com/admin",
            "evil.com",
            "demo.myshopify.com.evil.com",
            "demo.evil.com?.myshopify.com",
            "de_mo.myshopify.com",
            "de.mo.myshopify.com",
            "https://demo.myshopify.com",
            " demo.myshopify.com",
            "démo.myshopify.com",
        ];
        for shop in rejected {
            assert!(validate_shop_domain(shop).is_err(), "{shop:?} was accepted");
        }
        assert!(validate_shop_domain(&format!("{}.myshopify.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn shop_urls_follow_the_template() {
        let shop = validate_shop_domain("demo.myshopify.com").expect("valid shop");
        let config = ShopifyConfig {
            api_key: "key".into(),
            api_secret: "secret-value".into(),
            scopes: ShopifyConfig::default_scopes(),
            api_version: "2025-07".into(),
            shop_base_url: "http://127.0.0.1:9/{shop}/".into(),
        };
        assert_eq!(
            config.graphql_url(&shop),
            "http://127.0.0.1:9/demo.myshopify.com/admin/api/2025-07/graphql.json"
        );
        assert_eq!(
            config.token_url(&shop),
            "http://127.0.0.1:9/demo.myshopify.com/admin/oauth/access_token"
        );
        assert!(!format!("{config:?}").contains("secret-value"));
    }

    #[test]
    fn money_round_trips() {
        for micros in [0, 1, 12_340_000, 7_000_000, -500_000, 123_456_789] {
            assert_eq!(
                pp_commerce::decimal_to_micros(&micros_to_decimal(micros)),
                Some(micros)
            );
        }
        assert_eq!(micros_to_decimal(12_340_000), "12.34");
        assert_eq!(micros_to_decimal(7_000_000), "7.0");
    }
}
