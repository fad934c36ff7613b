//! The brands service's settings.

use pp_config::{ConfigError, JwtConfig, SecretString, ServerConfig, Source};

#[derive(Debug)]
pub struct BrandsConfig {
    pub server: ServerConfig,
    pub jwt: JwtConfig,
    pub database_url: SecretString,
    pub owner_database_url: Option<SecretString>,
    pub redis_url: String,
    pub auth_url: String,
    pub shutdown_delay: std::time::Duration,
}

impl BrandsConfig {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        Ok(BrandsConfig {
            server: ServerConfig::from_source(source, "0.0.0.0:50052")?,
            jwt: JwtConfig::from_source(source),
            database_url: source.secret("PULSEPOINT_DATABASE_URL")?,
            owner_database_url: source.optional_secret("PULSEPOINT_DATABASE_OWNER_URL"),
            redis_url: source.string("PULSEPOINT_REDIS_URL", "redis://127.0.0.1:6379"),
            auth_url: source.string("PULSEPOINT_AUTH_URL", "http://127.0.0.1:50051"),
            shutdown_delay: source.millis("PULSEPOINT_SHUTDOWN_DELAY_MS", 2_000)?,
        })
    }
}
