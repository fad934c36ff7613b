//! Redis: a cache and nothing more. Keys are always `t:{tenant_id}:…`.
//!
//! Redis is never the only copy of anything. Every operation here is best-effort: an
//! error (Redis down, absent, slow) is logged once in a while and reported as a miss,
//! and callers go to Postgres. Reconnection is attempted at most every
//! [`RECONNECT_INTERVAL`] so a dead Redis costs nothing on the hot path.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pp_types::TenantId;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::RwLock;

/// How long one Redis operation may take before we give up and use Postgres.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(2);

/// A Redis key inside one tenant's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKey(String);

impl TenantKey {
    /// `t:{tenant_id}:{suffix}`. The suffix is built from ids and constants, never
    /// from raw client text.
    pub fn new(tenant_id: TenantId, suffix: impl std::fmt::Display) -> Self {
        TenantKey(format!("t:{tenant_id}:{suffix}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub struct Cache {
    client: Option<redis::Client>,
    connection: RwLock<Option<ConnectionManager>>,
    last_attempt: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("configured", &self.client.is_some())
            .finish()
    }
}

impl Cache {
    /// A cache on `url`. Does not connect yet; an unparsable URL disables the cache.
    pub fn new(url: &str) -> Self {
        let client = redis::Client::open(url)
            .map_err(|err| tracing::warn!(%err, "redis url invalid; cache disabled"))
            .ok();
        Cache {
            client,
            connection: RwLock::new(None),
            last_attempt: Mutex::new(None),
        }
    }

    /// A cache that is always a miss (tests, tools).
    pub fn disabled() -> Self {
        Cache {
            client: None,
            connection: RwLock::new(None),
            last_attempt: Mutex::new(None),
        }
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if let Some(connection) = self.connection.read().await.as_ref() {
            return Some(connection.clone());
        }
        let client = self.client.as_ref()?;
        {
            let mut last = self.last_attempt.lock().ok()?;
            if last.is_some_and(|at| at.elapsed() < RECONNECT_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(OPERATION_TIMEOUT)
            .set_response_timeout(OPERATION_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(200);
        match tokio::time::timeout(
            OPERATION_TIMEOUT * 2,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        {
            Ok(Ok(manager)) => {
                *self.connection.write().await = Some(manager.clone());
                Some(manager)
            }
            Ok(Err(err)) => {
                tracing::warn!(%err, "redis unavailable; using postgres");
                None
            }
            Err(_) => {
                tracing::warn!("redis connect timed out; using postgres");
                None
            }
        }
    }

    async fn run<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match tokio::time::timeout(OPERATION_TIMEOUT, op(connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                tracing::debug!(%err, "redis operation failed");
                None
            }
            Err(_) => {
                tracing::debug!("redis operation timed out");
                None
            }
        }
    }

    pub async fn get(&self, key: &TenantKey) -> Option<Vec<u8>> {
        self.run(|mut c| async move { c.get::<_, Option<Vec<u8>>>(key.as_str()).await })
            .await
            .flatten()
    }

    /// Sets `key` with a time to live. Returns whether Redis took it.
    pub async fn set(&self, key: &TenantKey, value: &[u8], ttl: Duration) -> bool {
        let millis = ttl.as_millis().max(1) as u64;
        self.run(|mut c| async move { c.pset_ex::<_, _, ()>(key.as_str(), value, millis).await })
            .await
            .is_some()
    }

    /// Deletes `key`. Returns whether Redis took it.
    pub async fn delete(&self, key: &TenantKey) -> bool {
        self.run(|mut c| async move { c.del::<_, ()>(key.as_str()).await })
            .await
            .is_some()
    }

    /// Whether Redis answers a PING now.
    pub async fn ping(&self) -> bool {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .is_some()
    }
}
