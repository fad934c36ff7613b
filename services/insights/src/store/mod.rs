//! SQL of the insights service: its own schema (rollups, refresh state, handled
//! events, alert rules and alerts) and its reads of `brands.brands` and `commerce.*` (SELECT only).

pub mod alerts;
pub mod attribution;
pub mod commerce;
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
