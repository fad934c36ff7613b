//! Login throttling, counted before the password is checked.
//!
//! Every attempt is charged to three counters *before* any hashing, atomically (the
//! rows are locked while they are read and bumped), so concurrent guesses cannot all
//! slip past a read-then-write check:
//!
//! - the pair (account, client address): 5 failures per window. An attacker guessing
//!   one account from one place stops here, and the owner elsewhere is unaffected;
//! - the account from anywhere: a slower backstop (50 per window) against guesses
//!   spread over many addresses;
//! - the client address over every account (50 per window): spraying many emails,
//!   unknown ones included, from one place.
//!
//! An attempt refused by a counter does not add to any counter. A successful login
//! gives its charge back; everything else (a wrong password, an unknown email, a
//! password matching several tenants without `tenant_id`) keeps it.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pp_db::PgPool;
use pp_error::ApiError;

use crate::store;

/// Failures allowed per window, per counter.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub window_secs: i64,
    pub max_failures_per_pair: i32,
    pub max_failures_per_account: i32,
    pub max_failures_per_client: i32,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            window_secs: 15 * 60,
            max_failures_per_pair: 5,
            max_failures_per_account: 50,
            max_failures_per_client: 50,
        }
    }
}

/// The counters one attempt was charged to; handed back on success.
#[derive(Debug, Clone)]
pub struct Charge {
    keys: Vec<String>,
}

impl LoginThrottle {
    fn counters(&self, email: &str, client: Option<IpAddr>) -> Vec<(String, i32)> {
        // Without a known client address (not served over TCP) only the account counts.
        let mut counters = vec![(format!("account:{email}"), self.max_failures_per_account)];
        if let Some(client) = client {
            counters.push((format!("pair:{client}|{email}"), self.max_failures_per_pair));
            counters.push((format!("client:{client}"), self.max_failures_per_client));
        }
        // One locking order for every attempt: no deadlock between two of them.
        counters.sort();
        counters
    }

    /// Charges an attempt, or refuses it with the time until its window ends.
    pub async fn charge(
        &self,
        pool: &PgPool,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<Charge, ApiError> {
        let counters = self.counters(email, client);
        let keys: Vec<String> = counters.iter().map(|(key, _)| key.clone()).collect();
        let limits: Vec<i32> = counters.iter().map(|(_, limit)| *limit).collect();
        let refused_until: Option<DateTime<Utc>> =
            store::charge_login_attempt(pool, &keys, &limits, self.window_secs).await?;
        match refused_until {
            None => Ok(Charge { keys }),
            Some(until) => Err(ApiError::ResourceExhausted {
                reason: "LOGIN_THROTTLED",
                retry_after: (until - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_secs(1)),
            }),
        }
    }

    /// A successful login: the attempt was not a failure.
    pub async fn refund(&self, pool: &PgPool, charge: Charge) -> Result<(), ApiError> {
        Ok(store::refund_login_attempt(pool, &charge.keys).await?)
    }
}
