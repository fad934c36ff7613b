//! Configuration: the platforms' apps (every base URL overridable), the OAuth
//! redirect allow-list, the token key, the webhook credential and the sync pace.
//! Read once at start-up; a bad value names its key.

use std::time::Duration;

use pp_config::{ConfigError, ExposeSecret, Source};
use pp_platforms::google_ads::GoogleAdsConfig;
use pp_platforms::meta::MetaConfig;
use pp_platforms::shopify::ShopifyConfig;
use pp_platforms::tiktok::TiktokConfig;
use pp_platforms::{Http, RetryPolicy};
use pp_server::service::BoxError;

use crate::{State, SyncSettings};

/// Each platform's app, when configured; a platform without one cannot be
/// connected through OAuth (the demo store needs none).
#[derive(Debug, Clone)]
pub struct PlatformsConfig {
    pub http: Http,
    pub shopify: Option<ShopifyConfig>,
    pub meta: Option<MetaConfig>,
    pub tiktok: Option<TiktokConfig>,
    pub google_ads: Option<GoogleAdsConfig>,
    /// The Google Ads manager account calls go through, if any.
    pub google_ads_login_customer_id: Option<String>,
}

/// The OAuth handshake's rules.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Exact redirect URIs a StartOAuth may name.
    pub redirect_uris: Vec<String>,
    /// How long a state is accepted.
    pub state_ttl: Duration,
}

impl PlatformsConfig {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let fast = source.bool("PULSEPOINT_PLATFORM_FAST_RETRIES", false)?;
        let http = Http::new(if fast {
            RetryPolicy::fast()
        } else {
            RetryPolicy::default()
        });
        let secret = |key: &str| source.optional_secret(key);
        let shopify = match (
            source.raw("PULSEPOINT_SHOPIFY_API_KEY"),
            secret("PULSEPOINT_SHOPIFY_API_SECRET"),
        ) {
            (Some(key), Some(api_secret)) => {
                let scopes = source.list("PULSEPOINT_SHOPIFY_SCOPES");
                Some(ShopifyConfig {
                    api_key: key.to_owned(),
                    api_secret: api_secret.expose_secret().to_owned(),
                    scopes: if scopes.is_empty() {
                        ShopifyConfig::default_scopes()
                    } else {
                        scopes
                    },
                    api_version: source.string("PULSEPOINT_SHOPIFY_API_VERSION", "2025-07"),
                    shop_base_url: source.string(
                        "PULSEPOINT_SHOPIFY_SHOP_BASE_URL",
                        ShopifyConfig::DEFAULT_SHOP_BASE_URL,
                    ),
                })
            }
            _ => None,
        };
        let meta = match (
            source.raw("PULSEPOINT_META_APP_ID"),
            secret("PULSEPOINT_META_APP_SECRET"),
        ) {
            (Some(id), Some(app_secret)) => {
                let mut cfg = MetaConfig::new(id, app_secret);
                override_string(
                    source,
                    "PULSEPOINT_META_GRAPH_BASE_URL",
                    &mut cfg.graph_base,
                );
                override_string(
                    source,
                    "PULSEPOINT_META_DIALOG_BASE_URL",
                    &mut cfg.dialog_base,
                );
                override_string(source, "PULSEPOINT_META_API_VERSION", &mut cfg.api_version);
                Some(cfg)
            }
            _ => None,
        };
        let tiktok = match (
            source.raw("PULSEPOINT_TIKTOK_APP_ID"),
            secret("PULSEPOINT_TIKTOK_SECRET"),
        ) {
            (Some(id), Some(app_secret)) => {
                let mut cfg = TiktokConfig::new(id, app_secret);
                override_string(source, "PULSEPOINT_TIKTOK_API_BASE_URL", &mut cfg.api_base);
                override_string(
                    source,
                    "PULSEPOINT_TIKTOK_PORTAL_BASE_URL",
                    &mut cfg.portal_base,
                );
                Some(cfg)
            }
            _ => None,
        };
        let google_ads = match (
            source.raw("PULSEPOINT_GOOGLE_ADS_CLIENT_ID"),
            secret("PULSEPOINT_GOOGLE_ADS_CLIENT_SECRET"),
            secret("PULSEPOINT_GOOGLE_ADS_DEVELOPER_TOKEN"),
        ) {
            (Some(id), Some(client_secret), Some(token)) => {
                let mut cfg = GoogleAdsConfig::new(id, client_secret, token);
                override_string(source, "PULSEPOINT_GOOGLE_ADS_AUTH_URL", &mut cfg.auth_url);
                override_string(
                    source,
                    "PULSEPOINT_GOOGLE_ADS_TOKEN_URL",
                    &mut cfg.token_url,
                );
                override_string(
                    source,
                    "PULSEPOINT_GOOGLE_ADS_REVOKE_URL",
                    &mut cfg.revoke_url,
                );
                override_string(
                    source,
                    "PULSEPOINT_GOOGLE_ADS_API_BASE_URL",
                    &mut cfg.api_base,
                );
                override_string(
                    source,
                    "PULSEPOINT_GOOGLE_ADS_API_VERSION",
                    &mut cfg.api_version,
                );
                Some(cfg)
            }
            _ => None,
        };
        Ok(PlatformsConfig {
            http,
            shopify,
            meta,
            tiktok,
            google_ads,
            google_ads_login_customer_id: source
                .raw("PULSEPOINT_GOOGLE_ADS_LOGIN_CUSTOMER_ID")
                .map(str::to_owned),
        })
    }
}

fn override_string(source: &Source, key: &str, target: &mut String) {
    if let Some(value) = source.raw(key) {
        *target = value.to_owned();
    }
}

impl OAuthSettings {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let redirect_uris = source.list("PULSEPOINT_OAUTH_REDIRECT_URIS");
        for uri in &redirect_uris {
            if !(uri.starts_with("https://")
                || uri.starts_with("http://127.0.0.1")
                || uri.starts_with("http://localhost"))
            {
                return Err(ConfigError::Invalid {
                    key: "PULSEPOINT_OAUTH_REDIRECT_URIS".into(),
                    reason: format!("{uri:?} must be https (http only for localhost)"),
                });
            }
        }
        Ok(OAuthSettings {
            redirect_uris,
            state_ttl: Duration::from_secs(600),
        })
    }
}

impl SyncSettings {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let defaults = SyncSettings::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Ok(SyncSettings {
            lease: source.millis("PULSEPOINT_SYNC_LEASE_MS", ms(defaults.lease))?,
            poll: source.millis("PULSEPOINT_SYNC_POLL_MS", ms(defaults.poll))?,
            workers: source.parse("PULSEPOINT_SYNC_WORKERS", defaults.workers)?,
            page_size: source.parse("PULSEPOINT_SYNC_PAGE_SIZE", defaults.page_size)?,
            write_batch: source.parse("PULSEPOINT_SYNC_WRITE_BATCH", defaults.write_batch)?,
            every: source.millis("PULSEPOINT_SYNC_EVERY_MS", ms(defaults.every))?,
            shopify_lookback: source.millis(
                "PULSEPOINT_SYNC_SHOPIFY_LOOKBACK_MS",
                ms(defaults.shopify_lookback),
            )?,
            retry_later: source
                .millis("PULSEPOINT_SYNC_RETRY_LATER_MS", ms(defaults.retry_later))?,
            max_attempts: source.parse("PULSEPOINT_SYNC_MAX_ATTEMPTS", defaults.max_attempts)?,
        })
    }
}

/// The vault that seals provider tokens: a Cloud KMS key (`PULSEPOINT_TOKEN_KMS_KEY`,
/// production) or a local key file (`PULSEPOINT_TOKEN_KEY_FILE`, development; made
/// by `make dev`). The local file, when also set beside KMS, still opens old rows.
pub fn vault_from_source(source: &Source) -> Result<pp_vault::Vault, BoxError> {
    let local =
        match source.raw("PULSEPOINT_TOKEN_KEY_FILE") {
            Some(path) => Some(pp_vault::LocalKeyring::from_file(path).map_err(|err| {
                ConfigError::Invalid {
                    key: "PULSEPOINT_TOKEN_KEY_FILE".into(),
                    reason: err.to_string(),
                }
            })?),
            None => None,
        };
    match (source.raw("PULSEPOINT_TOKEN_KMS_KEY"), local) {
        (Some(key_name), local) => {
            let http = Http::new(RetryPolicy::default());
            let tokens = std::sync::Arc::new(pp_vault::MetadataServer::new(http.clone()));
            let kms = pp_vault::CloudKms::new(key_name, tokens, http).map_err(|err| {
                ConfigError::Invalid {
                    key: "PULSEPOINT_TOKEN_KMS_KEY".into(),
                    reason: err.to_string(),
                }
            })?;
            Ok(pp_vault::Vault::kms(kms, local))
        }
        (None, Some(local)) => Ok(pp_vault::Vault::local(local)),
        (None, None) => Err(Box::new(ConfigError::Missing {
            key: "PULSEPOINT_TOKEN_KEY_FILE or PULSEPOINT_TOKEN_KMS_KEY".into(),
        })),
    }
}

/// The service's state from configuration.
pub async fn state_from_source(source: &Source, pool: pp_db::PgPool) -> Result<State, BoxError> {
    Ok(State {
        pool,
        vault: vault_from_source(source)?,
        platforms: PlatformsConfig::from_source(source)?,
        oauth: OAuthSettings::from_source(source)?,
        sync: SyncSettings::from_source(source)?,
        webhook_credential: source.optional_secret("PULSEPOINT_WEBHOOK_CREDENTIAL"),
    })
}
