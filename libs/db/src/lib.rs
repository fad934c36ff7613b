//! PostgreSQL access: the pool, [`TenantTx`] (the only way to touch tenant data), and
//! the migration runner.
//!
//! Row-level security policies read `app.tenant_id`; [`TenantTx::begin`] sets it with a
//! bound parameter, transaction-local, so a pooled connection never carries one
//! tenant's context into the next request.

mod error;
pub mod idempotency;
mod migrate;
pub mod page;
mod tenant_tx;

pub use error::{DbError, Result};
pub use idempotency::IDEMPOTENCY_MIGRATION;
pub use migrate::{Migration, migrate};
pub use page::{Cursor, PageRequest};
pub use sqlx::{PgPool, Postgres};
pub use tenant_tx::{Lookup, TenantTx};

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The cluster-level bootstrap (roles), run by a superuser in dev and tests.
pub const BOOTSTRAP_SQL: &str = include_str!("../sql/bootstrap.sql");

/// How a service's pool behaves.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// Set on every connection: a statement running longer is cancelled by the server,
    /// so a query whose client went away (or that a client made too broad) does not
    /// keep running. `None` for migrations and admin work.
    pub statement_timeout: Option<Duration>,
}

impl PoolSettings {
    pub fn new(max_connections: u32) -> Self {
        PoolSettings {
            max_connections,
            statement_timeout: None,
        }
    }

    pub fn statement_timeout(self, timeout: Duration) -> Self {
        PoolSettings {
            statement_timeout: Some(timeout),
            ..self
        }
    }
}

impl From<u32> for PoolSettings {
    fn from(max_connections: u32) -> Self {
        PoolSettings::new(max_connections)
    }
}

fn options(url: &str, settings: PoolSettings) -> Result<(PgPoolOptions, PgConnectOptions)> {
    let mut connect: PgConnectOptions = url.parse()?;
    if let Some(timeout) = settings.statement_timeout {
        connect = connect.options([(
            "statement_timeout",
            format!("{}ms", timeout.as_millis().max(1)),
        )]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before every checkout: a round trip per request for nothing. A dead
        // connection fails its first statement, the request errors, the pool drops it.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(300));
    Ok((pool, connect))
}

/// Opens a pool. Keep it small: services are many, Postgres connections few.
pub async fn connect(url: &str, settings: impl Into<PoolSettings>) -> Result<PgPool> {
    let (pool, connect) = options(url, settings.into())?;
    Ok(pool.connect_with(connect).await?)
}

/// Like [`connect`], but does not connect until first use (start-up does not fail
/// while the database is still coming up; health reports it instead).
pub fn connect_lazy(url: &str, settings: impl Into<PoolSettings>) -> Result<PgPool> {
    let (pool, connect) = options(url, settings.into())?;
    Ok(pool.connect_lazy_with(connect))
}
