//! The daily rollups: written from the catalogue's daily SQL (`pp_metrics::daily`),
//! read by the metric engine.

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::TenantTx;
use uuid::Uuid;

use crate::engine::Dimension;

/// Replaces brand `brand_id`'s rollup rows of `start..=end` with what `commerce` holds
/// now. Runs in the caller's transaction: readers see the old rows or the new, never a
/// half-refreshed day.
pub async fn refresh(
    tx: &mut TenantTx,
    brand_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
) -> pp_db::Result<()> {
    for table in ["daily_sales", "daily_ad_spend", "daily_sku_sales"] {
        sqlx::query(&format!(
            "delete from insights.{table} where brand_id = $1 and day between $2 and $3"
        ))
        .bind(brand_id)
        .bind(start)
        .bind(end)
        .execute(tx.conn())
        .await?;
    }
    let brands = [brand_id];
    sqlx::query(&format!(
        "insert into insights.daily_sales (tenant_id, brand_id, day, sales_channel,
             gross_sales_micros, discounts_micros, refunds_micros, orders, units, units_refunded,
             cogs_micros, refunded_cogs_micros, new_customers, new_customer_revenue_micros,
             returning_customer_orders, returning_customer_revenue_micros)
         select nullif(current_setting('app.tenant_id', true), '')::uuid, d.*
         from ({}) d",
        pp_metrics::daily::daily_sales_sql()
    ))
    .bind(&brands[..])
    .bind(start)
    .bind(end)
    .execute(tx.conn())
    .await?;
    sqlx::query(&format!(
        "insert into insights.daily_ad_spend (tenant_id, brand_id, day, platform, campaign_id,
             spend_micros, impressions, clicks, conversions, conversion_value_micros)
         select nullif(current_setting('app.tenant_id', true), '')::uuid, d.*
         from ({}) d",
        pp_metrics::daily::daily_ad_spend_sql()
    ))
    .bind(&brands[..])
    .bind(start)
    .bind(end)
    .execute(tx.conn())
    .await?;
    sqlx::query(&format!(
        "insert into insights.daily_sku_sales (tenant_id, brand_id, day, variant_id, product_id,
             sku, units, units_refunded, gross_sales_micros, discounts_micros, refunds_micros,
             cogs_micros)
         select nullif(current_setting('app.tenant_id', true), '')::uuid, d.*
         from ({}) d",
        pp_metrics::daily::daily_sku_sales_sql()
    ))
    .bind(&brands[..])
    .bind(start)
    .bind(end)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Up to when the brand's commerce rows are in its rollups; `None` before the first
/// refresh.
pub async fn synced_until(
    tx: &mut TenantTx,
    brand_id: Uuid,
) -> pp_db::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "select synced_until from insights.rollup_state where brand_id = $1 for update",
    )
    .bind(brand_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// Records that commerce rows synced before `until` are in the brand's rollups.
pub async fn set_synced_until(
    tx: &mut TenantTx,
    brand_id: Uuid,
    until: DateTime<Utc>,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into insights.rollup_state (tenant_id, brand_id, synced_until, refreshed_at)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, now())
         on conflict (tenant_id, brand_id) do update
             set synced_until = excluded.synced_until, refreshed_at = now()",
    )
    .bind(brand_id)
    .bind(until)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records a sync event as handled; `false` when it already was.
pub async fn claim_event(tx: &mut TenantTx, event_id: Uuid) -> pp_db::Result<bool> {
    let inserted = sqlx::query(
        "insert into insights.handled_events (tenant_id, event_id)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1)
         on conflict do nothing",
    )
    .bind(event_id)
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Every (tenant, brand) with rollups, for the sweep (a `Lookup::RollupSweep`
/// transaction).
pub async fn swept_brands(tx: &mut TenantTx) -> pp_db::Result<Vec<(Uuid, Uuid)>> {
    sqlx::query_as("select tenant_id, brand_id from insights.rollup_state order by 1, 2")
        .fetch_all(tx.conn())
        .await
        .map_err(Into::into)
}

/// The grouping expression of a breakdown (constant SQL, never client text).
fn key_sql(breakdown: Option<Dimension>) -> &'static str {
    match breakdown {
        None => "''",
        Some(Dimension::Day) => "day::text",
        Some(Dimension::SalesChannel) => "sales_channel",
        Some(Dimension::Platform) => "platform",
        Some(Dimension::CampaignId) => "campaign_id",
        Some(Dimension::VariantId) => "variant_id",
        Some(Dimension::ProductId) => "product_id",
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SalesRow {
    pub key: String,
    pub gross_sales_micros: i64,
    pub discounts_micros: i64,
    pub refunds_micros: i64,
    pub orders: i64,
    pub units: i64,
    pub cogs_micros: i64,
    pub refunded_cogs_micros: i64,
    pub new_customers: i64,
    pub new_customer_revenue_micros: i64,
    pub returning_customer_revenue_micros: i64,
}

/// Sales rollups of `start..=end`, summed per breakdown key.
pub async fn sales(
    tx: &mut TenantTx,
    brand_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
    sales_channel: Option<&str>,
    breakdown: Option<Dimension>,
) -> pp_db::Result<Vec<SalesRow>> {
    sqlx::query_as(&format!(
        "select {} as key,
                sum(gross_sales_micros)::bigint as gross_sales_micros,
                sum(discounts_micros)::bigint as discounts_micros,
                sum(refunds_micros)::bigint as refunds_micros,
                sum(orders)::bigint as orders,
                sum(units)::bigint as units,
                sum(cogs_micros)::bigint as cogs_micros,
                sum(refunded_cogs_micros)::bigint as refunded_cogs_micros,
                sum(new_customers)::bigint as new_customers,
                sum(new_customer_revenue_micros)::bigint as new_customer_revenue_micros,
                sum(returning_customer_revenue_micros)::bigint
                    as returning_customer_revenue_micros
         from insights.daily_sales
         where brand_id = $1 and day between $2 and $3
           and ($4::text is null or sales_channel = $4)
         group by 1",
        key_sql(breakdown)
    ))
    .bind(brand_id)
    .bind(start)
    .bind(end)
    .bind(sales_channel)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdRow {
    pub key: String,
    pub spend_micros: i64,
    pub conversion_value_micros: i64,
}

/// Ad-spend rollups of `start..=end`, summed per breakdown key.
pub async fn ad_spend(
    tx: &mut TenantTx,
    brand_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
    platform: Option<&str>,
    campaign_id: Option<&str>,
    breakdown: Option<Dimension>,
) -> pp_db::Result<Vec<AdRow>> {
    sqlx::query_as(&format!(
        "select {} as key,
                sum(spend_micros)::bigint as spend_micros,
                sum(conversion_value_micros)::bigint as conversion_value_micros
         from insights.daily_ad_spend
         where brand_id = $1 and day between $2 and $3
           and ($4::text is null or platform = $4)
           and ($5::text is null or campaign_id = $5)
         group by 1",
        key_sql(breakdown)
    ))
    .bind(brand_id)
    .bind(start)
    .bind(end)
    .bind(platform)
    .bind(campaign_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SkuRow {
    pub key: String,
    pub units: i64,
    pub gross_sales_micros: i64,
    pub discounts_micros: i64,
    pub refunds_micros: i64,
    /// Net of refunded units.
    pub cogs_micros: i64,
}

/// Which variants the SKU rollups are read for (`None`: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct SkuFilter<'a> {
    pub variant_id: Option<&'a str>,
    pub product_id: Option<&'a str>,
}

/// Line-level sales per breakdown key from the SKU rollups of `start..=end`.
pub async fn sku_sales(
    tx: &mut TenantTx,
    brand_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
    filter: SkuFilter<'_>,
    breakdown: Option<Dimension>,
) -> pp_db::Result<Vec<SkuRow>> {
    sqlx::query_as(&format!(
        "select {} as key, sum(units)::bigint as units,
                sum(gross_sales_micros)::bigint as gross_sales_micros,
                sum(discounts_micros)::bigint as discounts_micros,
                sum(refunds_micros)::bigint as refunds_micros,
                sum(cogs_micros)::bigint as cogs_micros
         from insights.daily_sku_sales
         where brand_id = $1 and day between $2 and $3
           and ($4::text is null or variant_id = $4)
           and ($5::text is null or product_id = $5)
         group by 1",
        key_sql(breakdown)
    ))
    .bind(brand_id)
    .bind(start)
    .bind(end)
    .bind(filter.variant_id)
    .bind(filter.product_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}
