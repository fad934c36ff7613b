//! The independent SQL of every metric, written apart from the engine (local dates
//! compared directly, no instant bounds, no rollups), run over `commerce` as the
//! superuser. The engine tests (`insights.rs`) and the golden question set
//! (`golden.rs`) both judge against it.

use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

/// What one figure covers besides its period. `None` is "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The order's sales channel (`source_name`, `unknown` when empty).
    pub sales_channel: Option<String>,
    /// The ad platform as the commerce schema names it (`meta`, `google_ads`, `tiktok`).
    pub platform: Option<String>,
    /// The campaign id at its platform.
    pub campaign_id: Option<String>,
    /// The store's product id: sales figures become line-level.
    pub product_id: Option<String>,
    /// The store's variant id: sales figures become line-level.
    pub variant_id: Option<String>,
}

/// The commerce-schema name of a wire platform (`META_ADS` → `meta`).
pub(crate) fn platform_column(wire: &str) -> Option<&'static str> {
    Some(match wire {
        "META_ADS" => "meta",
        "GOOGLE_ADS" => "google_ads",
        "TIKTOK_ADS" => "tiktok",
        _ => return None,
    })
}

/// The wire name of a commerce-schema platform (`google_ads` → `GOOGLE_ADS`).
pub(crate) fn platform_wire(column: &str) -> &'static str {
    match column {
        "meta" => "META_ADS",
        "google_ads" => "GOOGLE_ADS",
        "tiktok" => "TIKTOK_ADS",
        _ => "PLATFORM_UNSPECIFIED",
    }
}

/// Every CTE the metrics read. `$1` brand, `$2` first and `$3` last local day, `$4`
/// sales channel, `$5` platform (commerce name), `$6` campaign id, `$7` product id,
/// `$8` variant id (each null for "all"). A row's day is its instant's local date in
/// the brand's zone; the instant bounds two days either side only let the indexes
/// narrow the rows read, the local dates decide.
const CTES: &str = "with b as (select * from brands.brands where brand_id = $1),
    p as (select o.* from commerce.orders o
          where o.tenant_id = (select tenant_id from b) and o.brand_id = $1
            and o.processed_at >= ($2::date - 2)::timestamptz and o.processed_at < ($3::date + 3)::timestamptz
            and (o.processed_at at time zone (select time_zone from b))::date between $2 and $3
            and not o.test and o.cancelled_at is null and o.currency_code = (select currency_code from b)
            and ($4::text is null or coalesce(nullif(o.source_name, ''), 'unknown') = $4)),
    line_level as (select ($7::text is not null or $8::text is not null) as v),
    lines as (select l.* from p join commerce.order_lines l on l.tenant_id = p.tenant_id and l.order_id = p.order_id
          where ($7::text is null or l.platform_product_id = $7)
            and ($8::text is null or l.platform_variant_id = $8)),
    refunded as (select rl.*, r.refunded_at, l.platform_variant_id from commerce.refunds r
          join commerce.orders o on o.tenant_id = r.tenant_id and o.order_id = r.order_id
          join commerce.refund_lines rl on rl.tenant_id = r.tenant_id and rl.order_id = r.order_id
                                       and rl.platform_refund_id = r.platform_refund_id
          left join commerce.order_lines l on l.tenant_id = rl.tenant_id and l.order_id = rl.order_id
                                          and l.platform_line_id = rl.platform_line_id
          where r.tenant_id = (select tenant_id from b) and r.brand_id = $1
            and r.refunded_at >= ($2::date - 2)::timestamptz and r.refunded_at < ($3::date + 3)::timestamptz
            and (r.refunded_at at time zone (select time_zone from b))::date between $2 and $3
            and not o.test and o.cancelled_at is null and o.currency_code = (select currency_code from b)
            and ($4::text is null or coalesce(nullif(o.source_name, ''), 'unknown') = $4)
            and ($7::text is null or l.platform_product_id = $7)
            and ($8::text is null or l.platform_variant_id = $8)),
    gross as (select case when (select v from line_level)
              then (select coalesce(sum(quantity::int8 * unit_price_micros), 0) from lines)
              else (select coalesce(sum(subtotal_micros), 0) from p) end as v),
    disc as (select case when (select v from line_level)
              then (select coalesce(sum(discount_micros), 0) from lines)
              else (select coalesce(sum(discounts_micros), 0) from p) end as v),
    refunds as (select coalesce(sum(subtotal_micros), 0) as v from refunded),
    counted_orders as (select case when (select v from line_level)
              then (select count(distinct order_id) from lines)
              else (select count(*) from p) end as v),
    spend as (select coalesce(sum(spend_micros), 0) as v, coalesce(sum(conversion_value_micros), 0) as pv
          from commerce.ad_spend_daily a
          where a.tenant_id = (select tenant_id from b) and a.brand_id = $1
            and a.currency_code = (select currency_code from b) and a.spend_date between $2 and $3
            and ($5::text is null or a.platform = $5)
            and ($6::text is null or a.platform_campaign_id = $6)),
    firsts as (select p.* from p join commerce.customers c
          on c.tenant_id = p.tenant_id and c.brand_id = p.brand_id and c.platform_customer_id = p.platform_customer_id
          where c.first_order_at = p.processed_at),
    repeats as (select p.* from p join commerce.customers c
          on c.tenant_id = p.tenant_id and c.brand_id = p.brand_id and c.platform_customer_id = p.platform_customer_id
          where c.first_order_at < p.processed_at),
    cogs as (select
          (select coalesce(sum(l.quantity * coalesce(v.unit_cost_micros, 0)), 0)
             from lines l
             left join commerce.variants v on v.tenant_id = l.tenant_id and v.brand_id = l.brand_id
                                          and v.platform_variant_id = l.platform_variant_id)
        - (select coalesce(sum(rl.quantity * coalesce(v.unit_cost_micros, 0)), 0)
             from refunded rl
             left join commerce.variants v on v.tenant_id = rl.tenant_id and v.brand_id = $1
                                          and v.platform_variant_id = rl.platform_variant_id) as v),
    units as (select coalesce(sum(quantity), 0) as v from lines),
    net as (select (select v from gross) - (select v from disc) - (select v from refunds) as v),
    on_hand as (select coalesce(sum(greatest(il.available, 0)), 0) as v from commerce.variants v
          join commerce.inventory_levels il on il.tenant_id = v.tenant_id and il.brand_id = v.brand_id
                                           and il.platform_inventory_item_id = v.platform_inventory_item_id
          where v.brand_id = $1
            and ($7::text is null or v.platform_product_id = $7)
            and ($8::text is null or v.platform_variant_id = $8)),
    days as (select ($3::date - $2::date + 1) as v)";

/// The independent SQL of the metric with catalogue id `metric` (plus `on_hand`, units
/// available now), returning a float8 (null for "no value"); `None` for an unknown id.
pub(crate) fn independent_sql(metric: &str) -> Option<String> {
    let tail = match metric {
        "gross_sales" => "select v::float8 from gross",
        "discounts" => "select v::float8 from disc",
        "refunds" => "select v::float8 from refunds",
        "net_revenue" => "select v::float8 from net",
        "orders" => "select v::float8 from counted_orders",
        "units" => "select v::float8 from units",
        "aov" => {
            "select coalesce(div((select v from gross) - (select v from disc), nullif((select v from counted_orders), 0)), 0)::float8"
        }
        "new_customers" => "select count(distinct platform_customer_id)::float8 from firsts",
        "new_customer_revenue" => {
            "select coalesce(sum(subtotal_micros - discounts_micros), 0)::float8 from firsts"
        }
        "returning_customers" => "select count(distinct platform_customer_id)::float8 from repeats",
        "returning_customer_revenue" => {
            "select coalesce(sum(subtotal_micros - discounts_micros), 0)::float8 from repeats"
        }
        "ad_spend" => "select v::float8 from spend",
        "platform_revenue" => "select pv::float8 from spend",
        "platform_roas" => "select coalesce(pv::float8 / nullif(v, 0)::float8, 0) from spend",
        "blended_roas" => {
            "select coalesce((select v from net)::float8 / nullif((select v from spend), 0)::float8, 0)"
        }
        "cac" => {
            "select coalesce(div((select v from spend), nullif((select count(distinct platform_customer_id) from firsts), 0)), 0)::float8"
        }
        "cogs" => "select v::float8 from cogs",
        "gross_margin" => {
            "select coalesce(((select v from net) - (select v from cogs))::float8 / nullif((select v from net), 0)::float8, 0)"
        }
        "contribution_margin" => {
            "select ((select v from net) - (select v from cogs) - (select v from spend))::float8"
        }
        "daily_velocity" => "select (select v from units)::float8 / (select v from days)::float8",
        "days_of_cover" => {
            "select (select v from on_hand)::float8 / nullif((select v from units)::float8 / (select v from days)::float8, 0)"
        }
        "on_hand" => "select v::float8 from on_hand",
        _ => return None,
    };
    Some(format!("{CTES} {tail}"))
}

/// One metric over one period and scope, by the independent SQL (`None`: no value).
/// `on_hand` ignores the period.
pub(crate) async fn independent_value(
    superuser: &PgPool,
    brand_id: Uuid,
    metric: &str,
    start: NaiveDate,
    end: NaiveDate,
    scope: &Scope,
) -> Option<f64> {
    let sql = independent_sql(metric).unwrap_or_else(|| panic!("no independent sql for {metric}"));
    // Not a named statement: Postgres plans each call with its values (a generic plan
    // for "filter or null" parameters can take seconds instead of milliseconds).
    sqlx::query_scalar(&sql)
        .persistent(false)
        .bind(brand_id)
        .bind(start)
        .bind(end)
        .bind(&scope.sales_channel)
        .bind(&scope.platform)
        .bind(&scope.campaign_id)
        .bind(&scope.product_id)
        .bind(&scope.variant_id)
        .fetch_one(superuser)
        .await
        .unwrap_or_else(|err| panic!("{metric} {start}..{end} {scope:?}: {err}"))
}
