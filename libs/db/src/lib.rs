//! PostgreSQL access: the pool, [`TenantTx`] (the only way to touch tenant data), and
//! the migration runner.
//!
//! Row-level security policies read `app.tenant_id`; [`TenantTx::begin`] sets it with a
//! bound parameter, transaction-local, so a pooled connection never carries one
//! tenant's context into the next request.

pub mod idempotency;
mod migrate;
pub mod page;
mod tenant_tx;

pub use migrate::{Migration, migrate};
pub use page::{Cursor, PageRequest};
pub use sqlx::{PgPool, Postgres};
pub use tenant_tx::{Lookup, TenantTx};

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

/// The cluster-level bootstrap (roles), run by a superuser in dev and tests.
pub const BOOTSTRAP_SQL: &str = include_str!("../sql/bootstrap.sql");

fn options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before every checkout: a round trip per request for nothing. A dead
        // connection fails its first statement, the request errors, the pool drops it.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(300))
}

/// Opens a pool. `max_connections` small: services are many, Postgres connections few.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    options(max_connections).connect(url).await
}

/// Like [`connect`], but does not connect until first use (start-up does not fail
/// while the database is still coming up; health reports it instead).
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    options(max_connections).connect_lazy(url)
}

/// A database time as a protobuf `Timestamp`.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// True when the error is a unique violation (SQLSTATE 23505).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// True when the error is an RLS `WITH CHECK` violation (SQLSTATE 42501).
pub fn is_rls_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("42501"))
}
