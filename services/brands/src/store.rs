//! SQL for the brands schema (and the commerce reads of GetPortfolio).

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::{Cursor, PageRequest, TenantTx};
use uuid::Uuid;

use crate::domain::brand::BrandFields;

pub const SCHEMA: &str = "brands";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrandRow {
    pub brand_id: Uuid,
    pub name: String,
    pub domain: String,
    pub currency_code: String,
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "brand_id, name, domain, currency_code, time_zone, created_at, updated_at";

pub async fn is_time_zone(tx: &mut TenantTx, name: &str) -> pp_db::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from pg_timezone_names where name = $1)")
        .bind(name)
        .fetch_one(tx.conn())
        .await
        .map_err(Into::into)
}

pub async fn insert(
    tx: &mut TenantTx,
    brand_id: Uuid,
    fields: &BrandFields,
) -> pp_db::Result<BrandRow> {
    sqlx::query_as(&format!(
        "insert into brands.brands (tenant_id, brand_id, name, domain, currency_code, time_zone)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3, $4, $5)
         returning {COLUMNS}"
    ))
    .bind(brand_id)
    .bind(&fields.name)
    .bind(&fields.domain)
    .bind(&fields.currency_code)
    .bind(&fields.time_zone)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn get(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<Option<BrandRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from brands.brands where brand_id = $1"
    ))
    .bind(brand_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn list(tx: &mut TenantTx, page: &PageRequest) -> pp_db::Result<(Vec<BrandRow>, String)> {
    let (after_time, after_id) = page.after_parts();
    let rows: Vec<BrandRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from brands.brands where (created_at, brand_id) > ($1, $2)
         order by created_at, brand_id limit $3"
    ))
    .bind(after_time)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |b| Cursor {
        created_at: b.created_at,
        id: b.brand_id,
    }))
}

/// Sets the fields named in `paths` to the values in `fields`.
pub async fn update(
    tx: &mut TenantTx,
    brand_id: Uuid,
    fields: &BrandFields,
    paths: &[String],
) -> pp_db::Result<Option<BrandRow>> {
    let has = |p: &str| paths.iter().any(|x| x == p);
    sqlx::query_as(&format!(
        "update brands.brands set
            name = case when $2 then $3 else name end,
            domain = case when $4 then $5 else domain end,
            currency_code = case when $6 then $7 else currency_code end,
            time_zone = case when $8 then $9 else time_zone end,
            updated_at = now()
         where brand_id = $1
         returning {COLUMNS}"
    ))
    .bind(brand_id)
    .bind(has("name"))
    .bind(&fields.name)
    .bind(has("domain"))
    .bind(&fields.domain)
    .bind(has("currency_code"))
    .bind(&fields.currency_code)
    .bind(has("time_zone"))
    .bind(&fields.time_zone)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn delete(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<bool> {
    let result = sqlx::query("delete from brands.brands where brand_id = $1")
        .bind(brand_id)
        .execute(tx.conn())
        .await?;
    Ok(result.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub struct BrandTotalsRow {
    pub brand_id: Uuid,
    pub name: String,
    pub currency_code: String,
    pub sales: pp_metrics::SalesTotals,
}

#[derive(sqlx::FromRow)]
struct BrandNameRow {
    brand_id: Uuid,
    name: String,
    currency_code: String,
}

/// Sales totals per brand (oldest brand first), from the metric catalogue's daily
/// figures (`pp_metrics::daily`): the same orders, refunds and days as the insights
/// dashboard.
pub async fn portfolio(
    tx: &mut TenantTx,
    start: NaiveDate,
    end: NaiveDate,
) -> pp_db::Result<Vec<BrandTotalsRow>> {
    let brands: Vec<BrandNameRow> = sqlx::query_as(
        "select brand_id, name, currency_code from brands.brands order by created_at, brand_id",
    )
    .fetch_all(tx.conn())
    .await?;
    let ids: Vec<Uuid> = brands.iter().map(|b| b.brand_id).collect();
    let totals = pp_metrics::sales_totals(tx, &ids, start, end).await?;
    Ok(brands
        .into_iter()
        .map(|b| BrandTotalsRow {
            sales: totals
                .iter()
                .find(|t| t.brand_id == b.brand_id)
                .copied()
                .unwrap_or(pp_metrics::SalesTotals {
                    brand_id: b.brand_id,
                    ..Default::default()
                }),
            brand_id: b.brand_id,
            name: b.name,
            currency_code: b.currency_code,
        })
        .collect())
}
