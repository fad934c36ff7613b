//! One retrying HTTP sender shared by every platform client.

use std::time::Duration;

use rand::Rng;
use reqwest::{Response, StatusCode};

use crate::PlatformError;

/// Capped exponential backoff with full jitter: attempt n waits a uniform random
/// time in `[0, min(cap, base * 2^n)]`, or the server's `Retry-After` when it sends
/// one (bounded by `max_retry_after`).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// A `Retry-After` longer than this is not slept through: the call fails with
    /// `RateLimited` and the sync is rescheduled.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Fast retries for tests against local fixtures.
    pub fn fast() -> Self {
        Self {
            max_attempts: 6,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        }
    }

    /// The full-jitter delay before retry number `attempt` (0-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.cap);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }
}

/// A `reqwest::Client` with the retry policy.
#[derive(Debug, Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub retry: RetryPolicy,
}

impl Http {
    pub fn new(retry: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("pulsepoint/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { client, retry }
    }

    /// Sends the request `build` makes (called again for each attempt), retrying
    /// 429, 5xx and connection failures. Returns the first response that is not
    /// retryable (2xx, 401, other 4xx): the caller interprets it.
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Response, PlatformError> {
        let mut attempt = 0;
        loop {
            let outcome = build(&self.client).send().await;
            let last = attempt + 1 >= self.retry.max_attempts;
            let wait = match outcome {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        let retry_after = retry_after(&response);
                        if last || retry_after.is_some_and(|d| d > self.retry.max_retry_after) {
                            return Err(PlatformError::RateLimited { retry_after });
                        }
                        retry_after.unwrap_or_else(|| self.retry.backoff(attempt))
                    } else if status.is_server_error() {
                        if last {
                            return Err(PlatformError::Unavailable {
                                message: format!("the platform answered {status} repeatedly"),
                            });
                        }
                        retry_after(&response).unwrap_or_else(|| self.retry.backoff(attempt))
                    } else {
                        return Ok(response);
                    }
                }
                Err(error) => {
                    if last {
                        tracing::warn!(error = %error.without_url(), "platform request failed");
                        return Err(PlatformError::Unavailable {
                            message: "the platform could not be reached".into(),
                        });
                    }
                    self.retry.backoff(attempt)
                }
            };
            tracing::debug!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying platform request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// `Retry-After` in delta-seconds (the form the platforms send).
pub fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
