//! SQL of the insights service: its own schema (rollups, refresh state, handled
//! events, alert rules and alerts) and its reads of `brands.brands` and `commerce.*` (SELECT only).

pub mod alerts;
pub mod attribution;
pub mod catalog;
pub mod commerce;
pub mod questions;
pub mod recommendations;
pub mod rollups;

use pp_db::TenantTx;
use uuid::Uuid;

pub const SCHEMA: &str = "insights";

/// What the engine needs to know of a brand.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BrandInfo {
    pub brand_id: Uuid,
    pub currency_code: String,
    pub time_zone: String,
}

/// The brand, if it exists in the transaction's tenant.
pub async fn brand(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<Option<BrandInfo>> {
    sqlx::query_as(
        "select brand_id, currency_code, time_zone from brands.brands where brand_id = $1",
    )
    .bind(brand_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// What a brand lock serialises; each has its own lock, so a long rollup refresh does
/// not hold up an alert evaluation of the same brand.
#[derive(Debug, Clone, Copy)]
pub enum BrandLock {
    /// Rollup refreshes.
    Rollups = 7401,
    /// Recommendation regenerations.
    Recommendations = 7402,
    /// Alert evaluations.
    Alerts = 7403,
}

/// Takes `lock` on the brand for this transaction: work of that kind on one brand (after
/// a sync, on a schedule, on another replica) runs one at a time; other brands are not
/// held up.
pub async fn lock_brand(tx: &mut TenantTx, brand_id: Uuid, lock: BrandLock) -> pp_db::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1::text, $2))")
        .bind(brand_id)
        .bind(lock as i64)
        .execute(tx.conn())
        .await?;
    Ok(())
}
