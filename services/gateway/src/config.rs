//! The gateway's settings.

use std::collections::HashMap;
use std::path::PathBuf;

use pp_config::{ConfigError, SecretString, ServerConfig, Source};

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub server: ServerConfig,
    /// Origins whose browsers may call the API (exact match, scheme://host[:port]).
    pub cors_origins: Vec<String>,
    pub static_dir: PathBuf,
    /// Service full name → backend URL.
    pub backends: HashMap<String, String>,
    /// The credential the gateway presents to IngestShopifyWebhook
    /// (`PULSEPOINT_WEBHOOK_CREDENTIAL`, shared with integrations); without it the
    /// webhook route answers 503.
    pub webhook_credential: Option<SecretString>,
}

impl GatewayConfig {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let defaults = [
            (
                "pulsepoint.auth.v1.AuthService",
                "PULSEPOINT_BACKEND_AUTH",
                "http://127.0.0.1:50051",
            ),
            (
                "pulsepoint.brands.v1.BrandService",
                "PULSEPOINT_BACKEND_BRANDS",
                "http://127.0.0.1:50052",
            ),
            (
                "pulsepoint.integrations.v1.IntegrationService",
                "PULSEPOINT_BACKEND_INTEGRATIONS",
                "http://127.0.0.1:50053",
            ),
            (
                "pulsepoint.insights.v1.InsightsService",
                "PULSEPOINT_BACKEND_INSIGHTS",
                "http://127.0.0.1:50054",
            ),
            (
                "pulsepoint.observability.v1.ObservabilityService",
                "PULSEPOINT_BACKEND_OBSERVABILITY",
                "http://127.0.0.1:50055",
            ),
        ];
        let mut backends = HashMap::new();
        for (service, key, default) in defaults {
            let url = source.string(key, default);
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    reason: "must be an http(s) URL".into(),
                });
            }
            backends.insert(service.to_owned(), url);
        }
        let cors_origins = source.list("PULSEPOINT_CORS_ORIGINS");
        for origin in &cors_origins {
            if origin == "*" || origin.parse::<http::HeaderValue>().is_err() {
                return Err(ConfigError::Invalid {
                    key: "PULSEPOINT_CORS_ORIGINS".into(),
                    reason: format!("{origin:?} is not an exact origin (no wildcards)"),
                });
            }
        }
        Ok(GatewayConfig {
            server: ServerConfig::from_source(source, "0.0.0.0:8080")?,
            cors_origins,
            static_dir: PathBuf::from(source.string("PULSEPOINT_STATIC_DIR", "frontend/dist")),
            backends,
            webhook_credential: source.optional_secret("PULSEPOINT_WEBHOOK_CREDENTIAL"),
        })
    }
}
