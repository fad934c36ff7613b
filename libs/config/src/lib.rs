//! Typed configuration: defaults → optional file → `PULSEPOINT_*` environment.
//!
//! Every service reads its settings through a [`Source`], so tests build one from a
//! map instead of touching the process environment. Values are parsed once at
//! start-up; a bad value is an error that names the key.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

pub use pp_types::net::TrustedProxies;
pub use secrecy::{ExposeSecret, SecretString};

/// A configuration value that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required setting {key}")]
    Missing { key: String },
    #[error("invalid value for {key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Where settings come from: a flat map of `KEY=value`, later layers winning.
#[derive(Clone, Default)]
pub struct Source {
    values: HashMap<String, String>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets; only the keys are shown.
        let mut keys: Vec<_> = self.values.keys().collect();
        keys.sort();
        f.debug_struct("Source").field("keys", &keys).finish()
    }
}

impl Source {
    /// The production source: the file named by `PULSEPOINT_CONFIG_FILE` (if any),
    /// overridden by the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let mut source = Source::default();
        if let Some(path) = env.get("PULSEPOINT_CONFIG_FILE") {
            source = Source::from_file(path)?;
        }
        source.values.extend(env);
        Ok(source)
    }

    /// Reads a `KEY=value` file (blank lines and `#` comments ignored).
    pub fn from_file(path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::File {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        let mut values = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    reason: format!("line {} is not KEY=value", number + 1),
                });
            };
            values.insert(key.trim().to_owned(), value.trim().to_owned());
        }
        Ok(Source { values })
    }

    /// A source made of the given pairs (tests, tools).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Source {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Returns a copy with `key` set to `value`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    pub fn raw(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or(default).to_owned()
    }

    pub fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.raw(key)
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::Missing {
                key: key.to_owned(),
            })
    }

    pub fn secret(&self, key: &str) -> Result<SecretString, ConfigError> {
        self.required(key).map(SecretString::from)
    }

    pub fn optional_secret(&self, key: &str) -> Option<SecretString> {
        self.raw(key).map(|v| SecretString::from(v.to_owned()))
    }

    pub fn parse<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(key) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|err: T::Err| ConfigError::Invalid {
                key: key.to_owned(),
                reason: err.to_string(),
            }),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                key: key.to_owned(),
                reason: format!("expected true or false, got {other:?}"),
            }),
        }
    }

    pub fn socket_addr(&self, key: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        self.string(key, default)
            .parse()
            .map_err(|err: std::net::AddrParseError| ConfigError::Invalid {
                key: key.to_owned(),
                reason: err.to_string(),
            })
    }

    /// A duration in milliseconds.
    pub fn millis(&self, key: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse(key, default_ms).map(Duration::from_millis)
    }

    /// A comma-separated list; empty entries dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.raw(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Settings every gRPC server shares.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen_addr: SocketAddr,
    /// Serve gRPC reflection (v1 and v1alpha). Off in production.
    pub reflection: bool,
    /// Per-request deadline enforced by the server.
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Time between flipping health to NOT_SERVING and closing the listener, so load
    /// balancers stop routing here first (`PULSEPOINT_SHUTDOWN_DELAY_MS`).
    pub shutdown_delay: Duration,
    pub max_message_bytes: usize,
    /// Requests per second allowed per tenant and per user (token buckets).
    pub tenant_rate_per_sec: u32,
    pub user_rate_per_sec: u32,
    /// Record `api.request` / `api.error` events (`PULSEPOINT_API_EVENTS`, on by
    /// default; off only to measure what recording costs).
    pub api_events: bool,
    /// Connections of the service's PostgreSQL pool (`PULSEPOINT_DATABASE_POOL_SIZE`).
    pub database_pool_size: u32,
    /// PostgreSQL cancels a statement of the service's pool running longer than this
    /// (`PULSEPOINT_DATABASE_STATEMENT_TIMEOUT_MS`), so a query whose client went away
    /// does not keep running.
    pub database_statement_timeout: Duration,
    /// HTTP/2 streams (concurrent calls, open server streams included) one client
    /// connection may hold (`PULSEPOINT_MAX_CONCURRENT_STREAMS`).
    pub max_concurrent_streams: u32,
    /// Proxies whose `x-forwarded-for` is believed when finding the client address
    /// (`PULSEPOINT_TRUSTED_PROXIES`, CIDR blocks; empty: the TCP peer is the client).
    pub trusted_proxies: pp_types::net::TrustedProxies,
    /// Calls per second one client address may make to the public (unauthenticated)
    /// RPCs: sign-up, login, refresh, API key exchange (`PULSEPOINT_PUBLIC_RATE_PER_SEC`).
    pub public_rate_per_sec: u32,
}

impl ServerConfig {
    pub fn from_source(source: &Source, default_addr: &str) -> Result<Self, ConfigError> {
        let config = ServerConfig {
            listen_addr: source.socket_addr("PULSEPOINT_LISTEN_ADDR", default_addr)?,
            reflection: source.bool("PULSEPOINT_REFLECTION", true)?,
            request_timeout: source.millis("PULSEPOINT_REQUEST_TIMEOUT_MS", 10_000)?,
            shutdown_grace: source.millis("PULSEPOINT_SHUTDOWN_GRACE_MS", 10_000)?,
            shutdown_delay: source.millis("PULSEPOINT_SHUTDOWN_DELAY_MS", 2_000)?,
            max_message_bytes: source.parse("PULSEPOINT_MAX_MESSAGE_BYTES", 4 * 1024 * 1024)?,
            tenant_rate_per_sec: source.parse("PULSEPOINT_TENANT_RATE_PER_SEC", 500)?,
            user_rate_per_sec: source.parse("PULSEPOINT_USER_RATE_PER_SEC", 100)?,
            api_events: source.bool("PULSEPOINT_API_EVENTS", true)?,
            database_pool_size: source.parse("PULSEPOINT_DATABASE_POOL_SIZE", 16)?,
            database_statement_timeout: source
                .millis("PULSEPOINT_DATABASE_STATEMENT_TIMEOUT_MS", 5_000)?,
            max_concurrent_streams: source.parse("PULSEPOINT_MAX_CONCURRENT_STREAMS", 200)?,
            trusted_proxies: pp_types::net::TrustedProxies::parse(
                &source.list("PULSEPOINT_TRUSTED_PROXIES"),
            )
            .map_err(|reason| ConfigError::Invalid {
                key: "PULSEPOINT_TRUSTED_PROXIES".into(),
                reason,
            })?,
            public_rate_per_sec: source.parse("PULSEPOINT_PUBLIC_RATE_PER_SEC", 5)?,
        };
        if config.database_statement_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_DATABASE_STATEMENT_TIMEOUT_MS".into(),
                reason: "must be at least 1".into(),
            });
        }
        if config.max_concurrent_streams == 0 {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_MAX_CONCURRENT_STREAMS".into(),
                reason: "must be at least 1".into(),
            });
        }
        if config.database_pool_size == 0 {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_DATABASE_POOL_SIZE".into(),
                reason: "must be at least 1".into(),
            });
        }
        if config.max_message_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_MAX_MESSAGE_BYTES".into(),
                reason: "must be at least 1024".into(),
            });
        }
        if config.tenant_rate_per_sec == 0
            || config.user_rate_per_sec == 0
            || config.public_rate_per_sec == 0
        {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_TENANT_RATE_PER_SEC/PULSEPOINT_USER_RATE_PER_SEC/PULSEPOINT_PUBLIC_RATE_PER_SEC"
                    .into(),
                reason: "must be positive".into(),
            });
        }
        Ok(config)
    }
}

/// Token verification settings shared by every service.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
}

impl JwtConfig {
    pub fn from_source(source: &Source) -> Self {
        JwtConfig {
            issuer: source.string("PULSEPOINT_JWT_ISSUER", "https://auth.pulsepoint.local"),
            audience: source.string("PULSEPOINT_JWT_AUDIENCE", "pulsepoint"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_and_bad_values_name_the_key() {
        let source = Source::from_pairs([("PULSEPOINT_LISTEN_ADDR", "127.0.0.1:9")]);
        let config = ServerConfig::from_source(&source, "0.0.0.0:1").expect("valid");
        assert_eq!(config.listen_addr.port(), 9);

        let bad = source.with("PULSEPOINT_REFLECTION", "maybe");
        let err = ServerConfig::from_source(&bad, "0.0.0.0:1").expect_err("invalid");
        assert!(err.to_string().contains("PULSEPOINT_REFLECTION"), "{err}");
    }

    #[test]
    fn debug_never_shows_values() {
        let source = Source::from_pairs([("PULSEPOINT_DATABASE_URL", "postgres://u:hunter2@h/db")]);
        let shown = format!("{source:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("PULSEPOINT_DATABASE_URL"));
    }

    #[test]
    fn file_layer_is_read() {
        let dir = std::env::temp_dir().join(format!("ppcfg-{}", std::process::id()));
        std::fs::write(&dir, "# comment\nPULSEPOINT_REFLECTION=false\n").expect("write");
        let source = Source::from_file(dir.to_str().expect("utf8")).expect("read");
        assert!(!source.bool("PULSEPOINT_REFLECTION", true).expect("bool"));
        let _ = std::fs::remove_file(dir);
    }
}
