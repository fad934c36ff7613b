//! Configuration, read once at start-up; a bad value names its key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use pp_config::{ConfigError, SecretString, Source};

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
    /// The observability service, asked `CheckBudget` before each model call
    /// (`PULSEPOINT_OBSERVABILITY_URL`).
    pub observability_url: String,
    /// Claude through the Messages API, when `ANTHROPIC_API_KEY` is set; `None`: the
    /// built-in planner answers every question.
    pub model: Option<ModelSettings>,
}

/// How answers call the model (`ANTHROPIC_API_KEY` and `PULSEPOINT_AI_*`).
#[derive(Clone)]
pub struct ModelSettings {
    /// `ANTHROPIC_API_KEY`; never logged.
    pub api_key: SecretString,
    /// `PULSEPOINT_AI_BASE_URL`, default `https://api.anthropic.com` (tests: a fixture).
    pub base_url: String,
    /// `PULSEPOINT_AI_MODEL`, default `claude-sonnet-4-5`.
    pub model: String,
    /// The whole answer, every round and retry included, must finish within this
    /// (`PULSEPOINT_AI_TIMEOUT_MS`, default 60 s); past it the planner answers.
    pub timeout: Duration,
    /// `max_tokens` of each call (`PULSEPOINT_AI_MAX_TOKENS`, default 1024).
    pub max_tokens: u32,
    /// Retries of a call answered 429, 529 or 5xx (`PULSEPOINT_AI_MAX_RETRIES`, 3).
    pub max_retries: u32,
    /// The first retry's pause; each later one doubles it, with jitter; a
    /// `retry-after` header wins (not configurable: tests shorten it).
    pub retry_base: Duration,
    /// USD per million input and output tokens, per model (`PULSEPOINT_AI_PRICES`).
    pub prices: PriceTable,
}

impl fmt::Debug for ModelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelSettings")
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("max_tokens", &self.max_tokens)
            .field("max_retries", &self.max_retries)
            .field("retry_base", &self.retry_base)
            .field("prices", &self.prices)
            .finish()
    }
}

impl ModelSettings {
    pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
    pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

    /// Settings for `base_url` with `api_key` and the defaults otherwise (tests).
    pub fn new(base_url: &str, api_key: &str) -> Self {
        ModelSettings {
            api_key: SecretString::from(api_key.to_owned()),
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: Self::DEFAULT_MODEL.into(),
            timeout: Duration::from_secs(60),
            max_tokens: 1024,
            max_retries: 3,
            retry_base: Duration::from_millis(500),
            prices: PriceTable::default(),
        }
    }

    fn from_source(source: &Source) -> Result<Option<Self>, ConfigError> {
        let Some(api_key) = source.optional_secret("ANTHROPIC_API_KEY") else {
            return Ok(None);
        };
        let base_url = source.string("PULSEPOINT_AI_BASE_URL", Self::DEFAULT_BASE_URL);
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_AI_BASE_URL".into(),
                reason: "must be an http(s) URL".into(),
            });
        }
        let mut settings = ModelSettings::new(&base_url, "");
        settings.api_key = api_key;
        settings.model = source.string("PULSEPOINT_AI_MODEL", Self::DEFAULT_MODEL);
        settings.timeout = source.millis("PULSEPOINT_AI_TIMEOUT_MS", 60_000)?;
        if settings.timeout.is_zero() {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_AI_TIMEOUT_MS".into(),
                reason: "must be at least 1".into(),
            });
        }
        settings.max_tokens = source.parse("PULSEPOINT_AI_MAX_TOKENS", 1024)?;
        if !(1..=64_000).contains(&settings.max_tokens) {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_AI_MAX_TOKENS".into(),
                reason: "must be between 1 and 64000".into(),
            });
        }
        settings.max_retries = source.parse("PULSEPOINT_AI_MAX_RETRIES", 3)?;
        if settings.max_retries > 10 {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_AI_MAX_RETRIES".into(),
                reason: "must be at most 10".into(),
            });
        }
        if let Some(prices) = source.raw("PULSEPOINT_AI_PRICES") {
            settings.prices = PriceTable::parse(prices).map_err(|reason| ConfigError::Invalid {
                key: "PULSEPOINT_AI_PRICES".into(),
                reason,
            })?;
        }
        if settings.prices.get(&settings.model).is_none() {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_AI_PRICES".into(),
                reason: format!("has no price for the model {:?}", settings.model),
            });
        }
        Ok(Some(settings))
    }
}

/// USD per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Price {
    /// The cost of a call in USD micros, rounded up to a whole micro (a budget should
    /// not under-count).
    pub fn cost_micros(self, input_tokens: u64, output_tokens: u64) -> i64 {
        // USD per million tokens is exactly micro-USD per token.
        let micros = input_tokens as f64 * self.input_per_million
            + output_tokens as f64 * self.output_per_million;
        micros.ceil().min(i64::MAX as f64) as i64
    }
}

/// Prices per model name, as `model=input/output,…` in USD per million tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    /// The list prices of the current Claude models (USD per million tokens).
    fn default() -> Self {
        let mut prices = BTreeMap::new();
        for (model, input, output) in [
            ("claude-sonnet-4-5", 3.0, 15.0),
            ("claude-sonnet-4-0", 3.0, 15.0),
            ("claude-haiku-4-5", 1.0, 5.0),
            ("claude-opus-4-1", 15.0, 75.0),
        ] {
            prices.insert(
                model.to_owned(),
                Price {
                    input_per_million: input,
                    output_per_million: output,
                },
            );
        }
        PriceTable { prices }
    }
}

impl PriceTable {
    /// Parses `model=input/output` entries separated by commas, on top of the defaults
    /// (an entry replaces the default of its model).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut table = PriceTable::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((model, prices)) = entry.split_once('=') else {
                return Err(format!("{entry:?} is not model=input/output"));
            };
            let Some((input, output)) = prices.split_once('/') else {
                return Err(format!("{entry:?} is not model=input/output"));
            };
            let number = |text: &str| -> Result<f64, String> {
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{entry:?}: {text:?} is not a price"))
            };
            let model = model.trim();
            if model.is_empty() {
                return Err(format!("{entry:?} names no model"));
            }
            table.prices.insert(
                model.to_owned(),
                Price {
                    input_per_million: number(input)?,
                    output_per_million: number(output)?,
                },
            );
        }
        Ok(table)
    }

    /// The price of `model`: its own, else that of the longest configured name it
    /// starts with (`claude-sonnet-4-5-20250929` is priced as `claude-sonnet-4-5`).
    pub fn get(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.prices.get(model) {
            return Some(*price);
        }
        self.prices
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }
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
            observability_url: "http://127.0.0.1:50055".into(),
            model: None,
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
        let observability_url =
            source.string("PULSEPOINT_OBSERVABILITY_URL", &defaults.observability_url);
        if !(observability_url.starts_with("http://") || observability_url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                key: "PULSEPOINT_OBSERVABILITY_URL".into(),
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
            observability_url,
            model: ModelSettings::from_source(source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use pp_config::ExposeSecret;

    use super::*;

    fn invalid_key(result: Result<Settings, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid value, got {other:?}"),
        }
    }

    #[test]
    fn config_without_a_key_has_no_model() {
        let settings = Settings::from_source(&Source::default()).expect("defaults");
        assert!(settings.model.is_none());
        assert_eq!(settings.observability_url, "http://127.0.0.1:50055");
    }

    #[test]
    fn config_with_a_key_uses_the_model_with_defaults() {
        let source = Source::from_pairs([("ANTHROPIC_API_KEY", "sk-ant-secret")]);
        let settings = Settings::from_source(&source).expect("valid");
        let model = settings.model.expect("model settings");
        assert_eq!(model.api_key.expose_secret(), "sk-ant-secret");
        assert_eq!(model.base_url, "https://api.anthropic.com");
        assert_eq!(model.model, "claude-sonnet-4-5");
        assert_eq!(model.timeout, Duration::from_secs(60));
        assert_eq!(model.max_retries, 3);
        // The key never shows in Debug output.
        let debug = format!("{model:?}");
        assert!(!debug.contains("sk-ant-secret"), "{debug}");
    }

    #[test]
    fn config_reads_every_model_setting() {
        let source = Source::from_pairs([
            ("ANTHROPIC_API_KEY", "k"),
            ("PULSEPOINT_AI_BASE_URL", "http://127.0.0.1:9/"),
            ("PULSEPOINT_AI_MODEL", "claude-haiku-4-5"),
            ("PULSEPOINT_AI_TIMEOUT_MS", "2500"),
            ("PULSEPOINT_AI_MAX_TOKENS", "300"),
            (
                "PULSEPOINT_AI_PRICES",
                "claude-haiku-4-5=0.8/4, my-model=2/10",
            ),
            ("PULSEPOINT_OBSERVABILITY_URL", "http://observability:50055"),
        ]);
        let settings = Settings::from_source(&source).expect("valid");
        assert_eq!(settings.observability_url, "http://observability:50055");
        let model = settings.model.expect("model settings");
        assert_eq!(model.base_url, "http://127.0.0.1:9");
        assert_eq!(model.model, "claude-haiku-4-5");
        assert_eq!(model.timeout, Duration::from_millis(2500));
        assert_eq!(model.max_tokens, 300);
        let haiku = model.prices.get("claude-haiku-4-5").expect("price");
        assert_eq!(haiku.input_per_million, 0.8);
        assert_eq!(haiku.output_per_million, 4.0);
        assert!(model.prices.get("my-model").is_some());
        // Defaults stay for models the setting does not name.
        assert!(model.prices.get("claude-sonnet-4-5").is_some());
    }

    #[test]
    fn config_bad_model_values_name_their_key() {
        let with = |key: &str, value: &str| {
            Source::from_pairs([("ANTHROPIC_API_KEY", "k")]).with(key, value)
        };
        for prices in [
            "claude-sonnet-4-5=3",
            "=3/15",
            "claude-sonnet-4-5=x/15",
            "a=-1/2",
        ] {
            assert_eq!(
                invalid_key(Settings::from_source(&with("PULSEPOINT_AI_PRICES", prices))),
                "PULSEPOINT_AI_PRICES",
                "{prices}"
            );
        }
        // A model without a price could not be costed.
        let unpriced = with("PULSEPOINT_AI_MODEL", "gpt-9");
        assert_eq!(
            invalid_key(Settings::from_source(&unpriced)),
            "PULSEPOINT_AI_PRICES"
        );
        for (key, value) in [
            ("PULSEPOINT_AI_BASE_URL", "api.anthropic.com"),
            ("PULSEPOINT_AI_TIMEOUT_MS", "0"),
            ("PULSEPOINT_AI_TIMEOUT_MS", "soon"),
            ("PULSEPOINT_AI_MAX_TOKENS", "0"),
            ("PULSEPOINT_AI_MAX_RETRIES", "99"),
            ("PULSEPOINT_OBSERVABILITY_URL", "observability:50055"),
        ] {
            assert_eq!(invalid_key(Settings::from_source(&with(key, value))), key);
        }
    }

    #[test]
    fn config_prices_cost_calls_in_micros() {
        let table = PriceTable::default();
        let sonnet = table.get("claude-sonnet-4-5").expect("price");
        // 1,000 input tokens at $3/M = $0.003; 500 output at $15/M = $0.0075.
        assert_eq!(sonnet.cost_micros(1_000, 500), 10_500);
        // A dated snapshot is priced as its family.
        assert_eq!(table.get("claude-sonnet-4-5-20250929"), Some(sonnet));
        assert_eq!(table.get("gpt-9"), None);
        let haiku = table.get("claude-haiku-4-5").expect("price");
        assert_eq!(haiku.cost_micros(1, 1), 6);
        assert_eq!(haiku.cost_micros(0, 0), 0);
    }
}
