//! The engine's direct reads of the `commerce` schema: figures that daily rollups
//! cannot give (a distinct count of customers, inventory on hand now), and the days a
//! sync changed.

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::TenantTx;
use uuid::Uuid;

use super::BrandInfo;

/// Units available now of one variant (all locations; a negative level counts as zero).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OnHand {
    pub variant_id: String,
    pub product_id: String,
    pub units: i64,
}

/// Units available now per variant, for every variant of the brand, or just
/// `variant_id`'s, or just `product_id`'s.
pub async fn on_hand(
    tx: &mut TenantTx,
    brand_id: Uuid,
    variant_id: Option<&str>,
    product_id: Option<&str>,
) -> pp_db::Result<Vec<OnHand>> {
    sqlx::query_as(
        "select v.platform_variant_id as variant_id, v.platform_product_id as product_id,
                coalesce(sum(greatest(il.available, 0)), 0)::bigint as units
         from commerce.variants v
         left join commerce.inventory_levels il
                on il.tenant_id = v.tenant_id and il.brand_id = v.brand_id
               and il.platform_inventory_item_id = v.platform_inventory_item_id
         where v.brand_id = $1 and ($2::text is null or v.platform_variant_id = $2)
           and ($3::text is null or v.platform_product_id = $3)
         group by v.platform_variant_id, v.platform_product_id",
    )
    .bind(brand_id)
    .bind(variant_id)
    .bind(product_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Distinct customers with a counted order in the period (brand days) whose first
/// order was earlier than that order; per sales channel when `by_channel`.
pub async fn returning_customers(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    start: NaiveDate,
    end: NaiveDate,
    sales_channel: Option<&str>,
    by_channel: bool,
) -> pp_db::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "select case when $6 then coalesce(nullif(o.source_name, ''), 'unknown') else '' end,
                count(distinct o.platform_customer_id)::bigint
         from commerce.orders o
         join commerce.customers cu on cu.tenant_id = o.tenant_id and cu.brand_id = o.brand_id
                                   and cu.platform_customer_id = o.platform_customer_id
         where o.brand_id = $1 and not o.test and o.cancelled_at is null
           and o.currency_code = $7
           and o.processed_at >= ($2::date::timestamp at time zone $4)
           and o.processed_at < (($3::date + 1)::timestamp at time zone $4)
           and cu.first_order_at < o.processed_at
           and ($5::text is null or coalesce(nullif(o.source_name, ''), 'unknown') = $5)
         group by 1",
    )
    .bind(brand.brand_id)
    .bind(start)
    .bind(end)
    .bind(&brand.time_zone)
    .bind(sales_channel)
    .bind(by_channel)
    .bind(&brand.currency_code)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// The brand days a sync changed since `since` (rows synced at or after it): the
/// processed and refund days of every order rewritten, and every ad-spend day
/// rewritten. `None` when nothing changed.
pub async fn changed_days(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    since: DateTime<Utc>,
) -> pp_db::Result<Option<(NaiveDate, NaiveDate)>> {
    let range: (Option<NaiveDate>, Option<NaiveDate>) = sqlx::query_as(
        "with days as (
             select (o.processed_at at time zone $3)::date as day
               from commerce.orders o where o.brand_id = $1 and o.synced_at >= $2
             union all
             select (r.refunded_at at time zone $3)::date
               from commerce.orders o
               join commerce.refunds r on r.tenant_id = o.tenant_id and r.order_id = o.order_id
              where o.brand_id = $1 and o.synced_at >= $2
             union all
             select a.spend_date from commerce.ad_spend_daily a
              where a.brand_id = $1 and a.synced_at >= $2
         )
         select min(day), max(day) from days",
    )
    .bind(brand.brand_id)
    .bind(since)
    .bind(&brand.time_zone)
    .fetch_one(tx.conn())
    .await?;
    Ok(match range {
        (Some(first), Some(last)) => Some((first, last)),
        _ => None,
    })
}

/// The first and last brand day with any commerce data (a full rebuild's range).
pub async fn data_days(
    tx: &mut TenantTx,
    brand: &BrandInfo,
) -> pp_db::Result<Option<(NaiveDate, NaiveDate)>> {
    let range: (Option<NaiveDate>, Option<NaiveDate>) = sqlx::query_as(
        "with days as (
             select (min(o.processed_at) at time zone $2)::date as first,
                    (max(o.processed_at) at time zone $2)::date as last
               from commerce.orders o where o.brand_id = $1
             union all
             select (min(r.refunded_at) at time zone $2)::date, (max(r.refunded_at) at time zone $2)::date
               from commerce.refunds r where r.brand_id = $1
             union all
             select min(a.spend_date), max(a.spend_date)
               from commerce.ad_spend_daily a where a.brand_id = $1
         )
         select min(first), max(last) from days",
    )
    .bind(brand.brand_id)
    .bind(&brand.time_zone)
    .fetch_one(tx.conn())
    .await?;
    Ok(match range {
        (Some(first), Some(last)) => Some((first, last)),
        _ => None,
    })
}

/// A variant of the brand's catalogue, as the forecast shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VariantRow {
    pub variant_id: String,
    pub product_id: String,
    pub sku: String,
    /// "Product title / variant title".
    pub title: String,
    pub lead_time_days: Option<i32>,
}

/// The brand's variants (only `product_id`'s when given), by variant id.
pub async fn variants(
    tx: &mut TenantTx,
    brand_id: Uuid,
    product_id: Option<&str>,
) -> pp_db::Result<Vec<VariantRow>> {
    sqlx::query_as(
        "select v.platform_variant_id as variant_id, v.platform_product_id as product_id,
                coalesce(v.sku, '') as sku, p.title || ' / ' || v.title as title,
                v.lead_time_days
         from commerce.variants v
         join commerce.products p on p.tenant_id = v.tenant_id and p.brand_id = v.brand_id
                                 and p.platform_product_id = v.platform_product_id
         where v.brand_id = $1 and ($2::text is null or v.platform_product_id = $2)
         order by v.platform_variant_id",
    )
    .bind(brand_id)
    .bind(product_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Today in the brand's time zone.
pub async fn brand_today(tx: &mut TenantTx, brand: &BrandInfo) -> pp_db::Result<NaiveDate> {
    sqlx::query_scalar("select (now() at time zone $1)::date")
        .bind(&brand.time_zone)
        .fetch_one(tx.conn())
        .await
        .map_err(Into::into)
}
