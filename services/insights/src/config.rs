//! Configuration, read once at start-up; a bad value names its key.

use std::time::Duration;

use pp_config::{ConfigError, Source};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The integrations service (`PULSEPOINT_INTEGRATIONS_URL`).
    pub integrations_url: String,
    /// How long a computed dashboard is cached per tenant
    /// (`PULSEPOINT_INSIGHTS_CACHE_TTL_MS`, default 60 s; 0 disables the cache).
    pub dashboard_cache_ttl: Duration,
    /// How long one brand's data freshness (the answer of integrations'
    /// ListIntegrations) is reused (`PULSEPOINT_INSIGHTS_FRESHNESS_TTL_MS`, 15 s; 0: ask
    /// every time).
    pub freshness_ttl: Duration,
    /// How often the rollup sweep runs (`PULSEPOINT_INSIGHTS_SWEEP_EVERY_MS`, 15 min).
    pub sweep_every: Duration,
    /// Trailing brand days the sweep recomputes (`PULSEPOINT_INSIGHTS_SWEEP_DAYS`, 35).
    pub sweep_trailing_days: u32,
    /// How often every brand's alerts are evaluated besides after each sync
    /// (`PULSEPOINT_INSIGHTS_ALERTS_EVERY_MS`, 1 h).
    pub alerts_every: Duration,
    /// The day answers treat as "today" (`PULSEPOINT_INSIGHTS_TODAY`, `YYYY-MM-DD`):
    /// unset in production, where it is each brand's current date in its time zone;
    /// set for reproducible demos and the golden question tests.
    pub today: Option<chrono::NaiveDate>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            integrations_url: "http://127.0.0.1:50053".into(),
            dashboard_cache_ttl: Duration::from_secs(60),
            freshness_ttl: Duration::from_secs(15),
            sweep_every: Duration::from_secs(15 * 60),
            sweep_trailing_days: 35,
            alerts_every: Duration::from_secs(60 * 60),
            today: None,
        }
    }
}

impl Settings {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let integrations_url =
            source.string("PULSEPOINT_INTEGRATIONS_URL", &defaults.integrations_url);
        if !(integrations_url.starts_with("http://") || integrations_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_INTEGRATIONS_URL".into(),
                reason: "must be an http(s) URL".into(),
            });
        }
        let sweep_every = source.millis(
            "PULSEPOINT_INSIGHTS_SWEEP_EVERY_MS",
            ms(defaults.sweep_every),
        )?;
        if sweep_every.is_zero() {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_INSIGHTS_SWEEP_EVERY_MS".into(),
                reason: "must be at least 1".into(),
            });
        }
        let sweep_trailing_days: u32 = source.parse(
            "PULSEPOINT_INSIGHTS_SWEEP_DAYS",
            defaults.sweep_trailing_days,
        )?;
        if !(1..=400).contains(&sweep_trailing_days) {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_INSIGHTS_SWEEP_DAYS".into(),
                reason: "must be between 1 and 400".into(),
            });
        }
        let alerts_every = source.millis(
            "PULSEPOINT_INSIGHTS_ALERTS_EVERY_MS",
            ms(defaults.alerts_every),
        )?;
        if alerts_every.is_zero() {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_INSIGHTS_ALERTS_EVERY_MS".into(),
                reason: "must be at least 1".into(),
            });
        }
        let today = match source
            .raw("PULSEPOINT_INSIGHTS_TODAY")
            .filter(|v| !v.is_empty())
        {
            None => None,
            Some(value) => Some(value.parse().map_err(|_| ConfigError::Invalid {
                key: "PULSEPOINT_INSIGHTS_TODAY".into(),
                reason: "must be a date, YYYY-MM-DD".into(),
            })?),
        };
        Ok(Settings {
            integrations_url,
            dashboard_cache_ttl: source.millis(
                "PULSEPOINT_INSIGHTS_CACHE_TTL_MS",
                ms(defaults.dashboard_cache_ttl),
            )?,
            freshness_ttl: source.millis(
                "PULSEPOINT_INSIGHTS_FRESHNESS_TTL_MS",
                ms(defaults.freshness_ttl),
            )?,
            sweep_every,
            sweep_trailing_days,
            alerts_every,
            today,
        })
    }
}
