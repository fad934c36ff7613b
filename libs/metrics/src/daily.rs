//! The daily components of every sales and ad metric, computed from the `commerce`
//! schema: the one SQL definition of which orders, refunds and spend rows count and on
//! which day. The insights service stores these rows as its rollups; brands'
//! GetPortfolio sums the same rows, so both report the same figures to the micro.
//!
//! Every query takes `$1` brand ids (`uuid[]`), `$2` first and `$3` last day (dates in
//! each brand's time zone, inclusive) and runs inside the caller's `TenantTx` (RLS
//! keeps it to the tenant).

use chrono::NaiveDate;
use pp_db::TenantTx;
use uuid::Uuid;

/// Shared CTEs: the brands asked for, with their time zone, currency and the instants
/// their first and last day begin and end.
const BRANDS: &str = "
brand as (
    select b.tenant_id, b.brand_id, b.time_zone, b.currency_code,
           ($2::date::timestamp at time zone b.time_zone) as starts_at,
           (($3::date + 1)::timestamp at time zone b.time_zone) as ends_at
    from brands.brands b
    where b.brand_id = any($1::uuid[])
)";

/// Sales per brand, day and sales channel: columns `brand_id, day, sales_channel,
/// gross_sales_micros, discounts_micros, refunds_micros, orders, units,
/// units_refunded, cogs_micros, refunded_cogs_micros, new_customers,
/// new_customer_revenue_micros, returning_customer_orders,
/// returning_customer_revenue_micros`.
pub fn daily_sales_sql() -> String {
    format!(
        "with {BRANDS},
counted as (
    select o.tenant_id, o.brand_id, o.order_id, o.platform_customer_id, o.processed_at,
           (o.processed_at at time zone b.time_zone)::date as day,
           coalesce(nullif(o.source_name, ''), 'unknown') as sales_channel,
           o.subtotal_micros, o.discounts_micros
    from commerce.orders o
    join brand b on b.tenant_id = o.tenant_id and b.brand_id = o.brand_id
    where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code
      and o.processed_at >= b.starts_at and o.processed_at < b.ends_at
),
-- Grouped per day and channel before any join: each part is small, so the plan stays
-- cheap even before the tables have statistics.
lines_by_day as (
    select c.brand_id, c.day, c.sales_channel,
           sum(l.quantity)::bigint as units,
           sum(l.quantity::bigint * coalesce(v.unit_cost_micros, 0))::bigint as cogs_micros
    from counted c
    join commerce.order_lines l on l.tenant_id = c.tenant_id and l.order_id = c.order_id
    left join commerce.variants v on v.tenant_id = l.tenant_id and v.brand_id = l.brand_id
                                 and v.platform_variant_id = l.platform_variant_id
    group by 1, 2, 3
),
sales as (
    select c.brand_id, c.day, c.sales_channel,
           sum(c.subtotal_micros)::bigint as gross_sales_micros,
           sum(c.discounts_micros)::bigint as discounts_micros,
           count(*)::bigint as orders,
           count(distinct c.platform_customer_id)
               filter (where cu.first_order_at = c.processed_at)::bigint as new_customers,
           coalesce(sum(c.subtotal_micros - c.discounts_micros)
               filter (where cu.first_order_at = c.processed_at), 0)::bigint
               as new_customer_revenue_micros,
           count(*) filter (where cu.first_order_at < c.processed_at)::bigint
               as returning_customer_orders,
           coalesce(sum(c.subtotal_micros - c.discounts_micros)
               filter (where cu.first_order_at < c.processed_at), 0)::bigint
               as returning_customer_revenue_micros
    from counted c
    left join commerce.customers cu on cu.tenant_id = c.tenant_id and cu.brand_id = c.brand_id
                                   and cu.platform_customer_id = c.platform_customer_id
    group by 1, 2, 3
),
refunded as (
    select r.brand_id,
           (r.refunded_at at time zone b.time_zone)::date as day,
           coalesce(nullif(o.source_name, ''), 'unknown') as sales_channel,
           coalesce(sum(rl.subtotal_micros), 0)::bigint as refunds_micros,
           coalesce(sum(rl.quantity), 0)::bigint as units_refunded,
           coalesce(sum(rl.quantity::bigint * coalesce(v.unit_cost_micros, 0)), 0)::bigint
               as refunded_cogs_micros
    from commerce.refunds r
    join brand b on b.tenant_id = r.tenant_id and b.brand_id = r.brand_id
    join commerce.orders o on o.tenant_id = r.tenant_id and o.order_id = r.order_id
    left join commerce.refund_lines rl on rl.tenant_id = r.tenant_id and rl.order_id = r.order_id
                                      and rl.platform_refund_id = r.platform_refund_id
    left join commerce.order_lines l on l.tenant_id = rl.tenant_id and l.order_id = rl.order_id
                                    and l.platform_line_id = rl.platform_line_id
    left join commerce.variants v on v.tenant_id = l.tenant_id and v.brand_id = l.brand_id
                                 and v.platform_variant_id = l.platform_variant_id
    where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code
      and r.refunded_at >= b.starts_at and r.refunded_at < b.ends_at
    group by 1, 2, 3
),
keys as (
    select brand_id, day, sales_channel from sales
    union
    select brand_id, day, sales_channel from refunded
)
select k.brand_id, k.day, k.sales_channel,
       coalesce(s.gross_sales_micros, 0) as gross_sales_micros,
       coalesce(s.discounts_micros, 0) as discounts_micros,
       coalesce(f.refunds_micros, 0) as refunds_micros,
       coalesce(s.orders, 0) as orders,
       coalesce(u.units, 0) as units,
       coalesce(f.units_refunded, 0) as units_refunded,
       coalesce(u.cogs_micros, 0) as cogs_micros,
       coalesce(f.refunded_cogs_micros, 0) as refunded_cogs_micros,
       coalesce(s.new_customers, 0) as new_customers,
       coalesce(s.new_customer_revenue_micros, 0) as new_customer_revenue_micros,
       coalesce(s.returning_customer_orders, 0) as returning_customer_orders,
       coalesce(s.returning_customer_revenue_micros, 0) as returning_customer_revenue_micros
from keys k
left join sales s using (brand_id, day, sales_channel)
left join lines_by_day u using (brand_id, day, sales_channel)
left join refunded f using (brand_id, day, sales_channel)"
    )
}

/// Ad spend per brand, ad-account day, platform and campaign (rows in the brand's
/// currency): `brand_id, day, platform, campaign_id, spend_micros, impressions,
/// clicks, conversions, conversion_value_micros`.
pub fn daily_ad_spend_sql() -> String {
    format!(
        "with {BRANDS}
select a.brand_id, a.spend_date as day, a.platform, a.platform_campaign_id as campaign_id,
       sum(a.spend_micros)::bigint as spend_micros,
       sum(a.impressions)::bigint as impressions,
       sum(a.clicks)::bigint as clicks,
       sum(a.conversions)::float8 as conversions,
       sum(a.conversion_value_micros)::bigint as conversion_value_micros
from commerce.ad_spend_daily a
join brand b on b.tenant_id = a.tenant_id and b.brand_id = a.brand_id
where a.currency_code = b.currency_code and a.spend_date between $2 and $3
group by 1, 2, 3, 4"
    )
}

/// Units and sales per brand, day and variant: `brand_id, day, variant_id, product_id,
/// sku, units, units_refunded, gross_sales_micros, discounts_micros, refunds_micros,
/// cogs_micros` (line-level: order-level discounts not allocated to a line are not
/// in `discounts_micros`; `cogs_micros` is net of refunded units).
pub fn daily_sku_sales_sql() -> String {
    format!(
        "with {BRANDS},
sold as (
    select o.brand_id, (o.processed_at at time zone b.time_zone)::date as day,
           coalesce(l.platform_variant_id, '') as variant_id,
           max(coalesce(l.platform_product_id, '')) as product_id,
           max(coalesce(l.sku, '')) as sku,
           sum(l.quantity)::bigint as units,
           sum(l.quantity::bigint * l.unit_price_micros)::bigint as gross_sales_micros,
           sum(l.discount_micros)::bigint as discounts_micros,
           sum(l.quantity::bigint * coalesce(v.unit_cost_micros, 0))::bigint as cogs_micros
    from commerce.orders o
    join brand b on b.tenant_id = o.tenant_id and b.brand_id = o.brand_id
    join commerce.order_lines l on l.tenant_id = o.tenant_id and l.order_id = o.order_id
    left join commerce.variants v on v.tenant_id = l.tenant_id and v.brand_id = l.brand_id
                                 and v.platform_variant_id = l.platform_variant_id
    where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code
      and o.processed_at >= b.starts_at and o.processed_at < b.ends_at
    group by 1, 2, 3
),
refunded as (
    select r.brand_id, (r.refunded_at at time zone b.time_zone)::date as day,
           coalesce(l.platform_variant_id, '') as variant_id,
           max(coalesce(l.platform_product_id, '')) as product_id,
           max(coalesce(l.sku, '')) as sku,
           sum(rl.quantity)::bigint as units_refunded,
           sum(rl.subtotal_micros)::bigint as refunds_micros,
           sum(rl.quantity::bigint * coalesce(v.unit_cost_micros, 0))::bigint as refunded_cogs
    from commerce.refunds r
    join brand b on b.tenant_id = r.tenant_id and b.brand_id = r.brand_id
    join commerce.orders o on o.tenant_id = r.tenant_id and o.order_id = r.order_id
    join commerce.refund_lines rl on rl.tenant_id = r.tenant_id and rl.order_id = r.order_id
                                 and rl.platform_refund_id = r.platform_refund_id
    join commerce.order_lines l on l.tenant_id = rl.tenant_id and l.order_id = rl.order_id
                               and l.platform_line_id = rl.platform_line_id
    left join commerce.variants v on v.tenant_id = l.tenant_id and v.brand_id = l.brand_id
                                 and v.platform_variant_id = l.platform_variant_id
    where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code
      and r.refunded_at >= b.starts_at and r.refunded_at < b.ends_at
    group by 1, 2, 3
)
select coalesce(s.brand_id, f.brand_id) as brand_id,
       coalesce(s.day, f.day) as day,
       coalesce(s.variant_id, f.variant_id) as variant_id,
       coalesce(s.product_id, f.product_id) as product_id,
       coalesce(s.sku, f.sku) as sku,
       coalesce(s.units, 0) as units,
       coalesce(f.units_refunded, 0) as units_refunded,
       coalesce(s.gross_sales_micros, 0) as gross_sales_micros,
       coalesce(s.discounts_micros, 0) as discounts_micros,
       coalesce(f.refunds_micros, 0) as refunds_micros,
       coalesce(s.cogs_micros, 0) - coalesce(f.refunded_cogs, 0) as cogs_micros
from sold s
full join refunded f on f.brand_id = s.brand_id and f.day = s.day
                    and f.variant_id = s.variant_id"
    )
}

/// One brand's sales totals over a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct SalesTotals {
    pub brand_id: Uuid,
    pub gross_sales_micros: i64,
    pub discounts_micros: i64,
    pub refunds_micros: i64,
    pub orders: i64,
}

impl SalesTotals {
    pub fn net_revenue_micros(&self) -> i64 {
        crate::net_revenue(
            self.gross_sales_micros,
            self.discounts_micros,
            self.refunds_micros,
        )
    }

    pub fn average_order_value_micros(&self) -> i64 {
        crate::average_order_value(self.gross_sales_micros, self.discounts_micros, self.orders)
    }
}

/// Sales totals of `brands` from `start` to `end` (brand days, inclusive): the daily
/// rows of [`daily_sales_sql`] summed. Brands without sales are absent.
pub async fn sales_totals(
    tx: &mut TenantTx,
    brands: &[Uuid],
    start: NaiveDate,
    end: NaiveDate,
) -> pp_db::Result<Vec<SalesTotals>> {
    let sql = format!(
        "select brand_id,
                sum(gross_sales_micros)::bigint as gross_sales_micros,
                sum(discounts_micros)::bigint as discounts_micros,
                sum(refunds_micros)::bigint as refunds_micros,
                sum(orders)::bigint as orders
         from ({}) daily group by brand_id",
        daily_sales_sql()
    );
    sqlx::query_as(&sql)
        .bind(brands)
        .bind(start)
        .bind(end)
        .fetch_all(tx.conn())
        .await
        .map_err(Into::into)
}
