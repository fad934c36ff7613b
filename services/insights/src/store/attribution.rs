//! The reads of GetAttribution: each order's amount in the period with its journey
//! (from `commerce`, streamed), spend and platform-reported conversions per platform
//! and campaign (from the `insights.daily_ad_spend` rollups), and campaign names.

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use pp_db::TenantTx;
use uuid::Uuid;

use super::BrandInfo;
use crate::attribution::{AdPlatform, Channel, Order, Touch};

/// The orders that bring an amount to the brand days `$2..=$3` of brand `$1`, with
/// their touches at most `$4` × 24 h before them, one row per touch (touch columns
/// null for an order without one), ordered by order.
///
/// The amount follows the catalogue's net revenue (docs/metrics.md): orders that count
/// (not test, not cancelled, in the brand's currency) bring `subtotal − discounts` when
/// processed in the period and lose the subtotals of their refund lines refunded in the
/// period, each on its own brand day. So the amounts sum to `net_revenue`.
const JOURNEYS_SQL: &str = "
with b as (
    select tenant_id, brand_id, currency_code,
           ($2::date::timestamp at time zone time_zone) as starts_at,
           (($3::date + 1)::timestamp at time zone time_zone) as ends_at
    from brands.brands where brand_id = $1
),
placed as (
    select o.order_id, o.subtotal_micros - o.discounts_micros as sold_micros
    from commerce.orders o
    join b on b.tenant_id = o.tenant_id and b.brand_id = o.brand_id
    where o.processed_at >= b.starts_at and o.processed_at < b.ends_at
),
refunded as (
    select r.order_id, sum(rl.subtotal_micros)::bigint as refunded_micros
    from commerce.refunds r
    join b on b.tenant_id = r.tenant_id and b.brand_id = r.brand_id
    join commerce.refund_lines rl on rl.tenant_id = r.tenant_id and rl.order_id = r.order_id
                                 and rl.platform_refund_id = r.platform_refund_id
    where r.refunded_at >= b.starts_at and r.refunded_at < b.ends_at
    group by r.order_id
),
amounts as (
    select o.tenant_id, o.brand_id, o.order_id, o.processed_at, o.platform_customer_id,
           p.order_id is not null as placed_in_period,
           (coalesce(p.sold_micros, 0) - coalesce(f.refunded_micros, 0))::bigint as amount_micros
    from (select order_id from placed union select order_id from refunded) k
    join commerce.orders o on o.order_id = k.order_id
    join b on b.tenant_id = o.tenant_id and b.brand_id = o.brand_id
    left join placed p on p.order_id = k.order_id
    left join refunded f on f.order_id = k.order_id
    where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code
)
select a.order_id, a.processed_at, a.amount_micros, a.placed_in_period,
       coalesce(a.placed_in_period and cu.first_order_at = a.processed_at, false) as first_order,
       t.position, t.occurred_at, t.channel, t.platform, t.platform_campaign_id
from amounts a
left join commerce.customers cu on cu.tenant_id = a.tenant_id and cu.brand_id = a.brand_id
                               and cu.platform_customer_id = a.platform_customer_id
left join commerce.touchpoints t
       on t.tenant_id = a.tenant_id and t.order_id = a.order_id
      and t.occurred_at <= a.processed_at
      and t.occurred_at >= a.processed_at - make_interval(hours => 24 * $4)
order by a.order_id, t.position";

#[derive(Debug, sqlx::FromRow)]
struct JourneyRow {
    order_id: Uuid,
    processed_at: DateTime<Utc>,
    amount_micros: i64,
    placed_in_period: bool,
    first_order: bool,
    position: Option<i32>,
    occurred_at: Option<DateTime<Utc>>,
    channel: Option<String>,
    platform: Option<String>,
    platform_campaign_id: Option<String>,
}

impl JourneyRow {
    fn order(&self) -> Order {
        Order {
            placed_at: self.processed_at,
            amount_micros: self.amount_micros,
            placed_in_period: self.placed_in_period,
            first_order: self.first_order,
            touches: Vec::new(),
        }
    }

    /// The row's touch; `None` when the order has none (or a channel the schema does
    /// not allow).
    fn touch(self) -> Option<Touch> {
        Some(Touch {
            occurred_at: self.occurred_at?,
            position: self.position?,
            channel: Channel::from_column(self.channel.as_deref()?)?,
            platform: self.platform.as_deref().and_then(AdPlatform::from_column),
            campaign_id: self.platform_campaign_id.filter(|id| !id.is_empty()),
        })
    }
}

/// Calls `each` with every order that brings an amount to `start..=end` (brand days),
/// its touches at most `lookback_days` before it, streaming the rows.
pub async fn for_each_order(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    start: NaiveDate,
    end: NaiveDate,
    lookback_days: i32,
    mut each: impl FnMut(&Order),
) -> pp_db::Result<()> {
    let mut rows = sqlx::query_as::<_, JourneyRow>(JOURNEYS_SQL)
        .bind(brand.brand_id)
        .bind(start)
        .bind(end)
        .bind(lookback_days)
        .fetch(tx.conn());
    let mut current: Option<(Uuid, Order)> = None;
    while let Some(row) = rows.try_next().await? {
        let same_order = current
            .as_ref()
            .is_some_and(|(order_id, _)| *order_id == row.order_id);
        if !same_order {
            if let Some((_, done)) = current.take() {
                each(&done);
            }
            current = Some((row.order_id, row.order()));
        }
        if let (Some(touch), Some((_, order))) = (row.touch(), current.as_mut()) {
            order.touches.push(touch);
        }
    }
    if let Some((_, done)) = current {
        each(&done);
    }
    Ok(())
}

/// Spend and platform-reported results of one platform and campaign over a period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignSpend {
    /// `meta`, `tiktok`, `google_ads`.
    pub platform: String,
    pub campaign_id: String,
    pub spend_micros: i64,
    /// The platform's own conversions (fractional for Google Ads).
    pub conversions: f64,
    pub conversion_value_micros: i64,
}

/// Ad-spend rollups of `start..=end` per platform and campaign.
pub async fn spend(
    tx: &mut TenantTx,
    brand_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
) -> pp_db::Result<Vec<CampaignSpend>> {
    sqlx::query_as(
        "select platform, campaign_id,
                sum(spend_micros)::bigint as spend_micros,
                sum(conversions)::float8 as conversions,
                sum(conversion_value_micros)::bigint as conversion_value_micros
         from insights.daily_ad_spend
         where brand_id = $1 and day between $2 and $3
         group by 1, 2",
    )
    .bind(brand_id)
    .bind(start)
    .bind(end)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// The brand's campaign names: (platform, campaign id, name).
pub async fn campaign_names(
    tx: &mut TenantTx,
    brand_id: Uuid,
) -> pp_db::Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "select platform, platform_campaign_id, name from commerce.campaigns where brand_id = $1",
    )
    .bind(brand_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}
