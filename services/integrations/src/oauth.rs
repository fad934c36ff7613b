//! The OAuth handshake with each platform: the state we mint (random, single-use,
//! bound to tenant + brand + platform + user, ten minutes), the authorize URL, and
//! the code exchange that ends in credentials and the connected account.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pp_commerce::Platform;
use pp_error::ApiError;
use pp_platforms::shopify::{self, ShopDomain};
use pp_platforms::{Credentials, PlatformError, google_ads, meta, tiktok};
use sha2::{Digest, Sha256};

use crate::PlatformsConfig;

/// A fresh state: the value handed to the provider, and the hash we store.
pub fn new_state() -> (String, [u8; 32]) {
    let bytes: [u8; 32] = rand::random();
    let state = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_state(&state);
    (state, hash)
}

pub fn hash_state(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

/// A platform with no app configured cannot be connected.
fn not_configured() -> ApiError {
    ApiError::FailedPrecondition("PLATFORM_NOT_CONFIGURED")
}

/// The provider URL to send the user to. `pkce_challenge` is Google's.
pub fn authorization_url(
    platforms: &PlatformsConfig,
    platform: Platform,
    state: &str,
    redirect_uri: &str,
    shop: Option<&ShopDomain>,
    pkce_challenge: Option<&str>,
) -> Result<String, ApiError> {
    Ok(match platform {
        Platform::Shopify => {
            let cfg = platforms.shopify.as_ref().ok_or_else(not_configured)?;
            let shop =
                shop.ok_or_else(|| ApiError::invalid("shop_domain", "is required for Shopify"))?;
            shopify::authorize_url(cfg, shop, state, redirect_uri)
        }
        Platform::Meta => {
            let cfg = platforms.meta.as_ref().ok_or_else(not_configured)?;
            meta::authorize_url(cfg, state, redirect_uri)
        }
        Platform::Tiktok => {
            let cfg = platforms.tiktok.as_ref().ok_or_else(not_configured)?;
            tiktok::authorize_url(cfg, state, redirect_uri)
        }
        Platform::GoogleAds => {
            let cfg = platforms.google_ads.as_ref().ok_or_else(not_configured)?;
            google_ads::authorize_url(cfg, state, redirect_uri, pkce_challenge.unwrap_or_default())
        }
    })
}

/// What a completed handshake connects.
#[derive(Debug)]
pub struct Connected {
    pub credentials: Credentials,
    pub external_account_id: String,
    pub display_name: String,
    pub currency_code: Option<String>,
    pub time_zone: Option<String>,
}

/// Exchanges the code and finds the account it grants. When the user can reach
/// several ad accounts, the first (by id) is connected.
pub async fn exchange(
    platforms: &PlatformsConfig,
    platform: Platform,
    code: &str,
    redirect_uri: &str,
    shop: Option<&ShopDomain>,
    pkce_verifier: Option<&str>,
) -> Result<Connected, PlatformError> {
    let http = &platforms.http;
    let missing = || PlatformError::Invalid {
        message: "this platform is not configured".into(),
    };
    match platform {
        Platform::Shopify => {
            let cfg = platforms.shopify.as_ref().ok_or_else(missing)?;
            let shop = shop.ok_or_else(missing)?;
            let mut credentials = shopify::exchange_code(http, cfg, shop, code).await?;
            let client = shopify::ShopifyClient::new(http.clone(), cfg.clone(), shop.clone());
            let info = client.shop_info(&mut credentials).await?;
            Ok(Connected {
                credentials,
                external_account_id: shop.as_str().to_owned(),
                display_name: info.name,
                currency_code: Some(info.currency_code),
                time_zone: Some(info.iana_timezone),
            })
        }
        Platform::Meta => {
            let cfg = platforms.meta.as_ref().ok_or_else(missing)?;
            let mut credentials = meta::exchange_code(http, cfg, code, redirect_uri).await?;
            let client = meta::MetaClient::new(http.clone(), cfg.clone());
            let mut accounts = client.ad_accounts(&mut credentials).await?;
            accounts.sort_by(|a, b| a.id.cmp(&b.id));
            let account = accounts.into_iter().next().ok_or_else(no_account)?;
            Ok(Connected {
                credentials,
                external_account_id: account.id,
                display_name: account.name,
                currency_code: Some(account.currency),
                time_zone: Some(account.timezone_name),
            })
        }
        Platform::Tiktok => {
            let cfg = platforms.tiktok.as_ref().ok_or_else(missing)?;
            let (mut credentials, mut advertisers) = tiktok::exchange_code(http, cfg, code).await?;
            advertisers.sort();
            let first = advertisers.into_iter().next().ok_or_else(no_account)?;
            let client = tiktok::TiktokClient::new(http.clone(), cfg.clone());
            let info = client
                .advertiser_info(&mut credentials, std::slice::from_ref(&first))
                .await?
                .into_iter()
                .next();
            Ok(Connected {
                credentials,
                display_name: info
                    .as_ref()
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| first.clone()),
                currency_code: info.as_ref().map(|a| a.currency.clone()),
                time_zone: info.map(|a| a.timezone),
                external_account_id: first,
            })
        }
        Platform::GoogleAds => {
            let cfg = platforms.google_ads.as_ref().ok_or_else(missing)?;
            let verifier = pkce_verifier.ok_or_else(missing)?;
            let mut credentials =
                google_ads::exchange_code(http, cfg, code, redirect_uri, verifier).await?;
            let client = google_ads::GoogleAdsClient::new(http.clone(), cfg.clone());
            let mut customers = client.accessible_customers(&mut credentials).await?;
            customers.sort();
            let first = customers.into_iter().next().ok_or_else(no_account)?;
            let login = platforms.google_ads_login_customer_id.as_deref();
            let info = client
                .customer_info(&mut credentials, &first, login)
                .await?;
            Ok(Connected {
                credentials,
                external_account_id: first,
                display_name: info.name,
                currency_code: Some(info.currency),
                time_zone: Some(info.time_zone),
            })
        }
    }
}

fn no_account() -> PlatformError {
    PlatformError::Invalid {
        message: "the platform account has no ad account Pulsepoint can read".into(),
    }
}
