//! SQL of `insights.recommendations`, and the reads the budget and restock rules need
//! (campaign days from the ad rollups, which products each campaign sells, prices).

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::TenantTx;
use uuid::Uuid;

/// A recommendation as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecommendationRow {
    pub recommendation_id: Uuid,
    pub brand_id: Uuid,
    pub kind: String,
    pub subject: String,
    /// `expired` when still `open` in the table but past its expiry.
    pub state: String,
    pub priority: String,
    pub title: String,
    pub rationale: String,
    pub evidence: Vec<Vec<u8>>,
    pub currency_code: String,
    pub expected_impact_micros: i64,
    pub confidence: f64,
    pub product_id: Option<String>,
    pub variant_id: Option<String>,
    pub sku: Option<String>,
    pub units: Option<i64>,
    pub order_by_date: Option<NaiveDate>,
    pub stockout_date: Option<NaiveDate>,
    pub from_platform: Option<String>,
    pub from_campaign_id: Option<String>,
    pub to_platform: Option<String>,
    pub to_campaign_id: Option<String>,
    pub daily_amount_micros: Option<i64>,
    pub create_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
    pub decide_time: Option<DateTime<Utc>>,
    pub decide_day: Option<NaiveDate>,
    pub decided_by_user_id: Option<Uuid>,
    pub dismiss_reason: Option<String>,
    pub decision_note: String,
    pub outcome_succeeded: Option<bool>,
    pub outcome_summary: Option<String>,
    pub outcome_figures: Option<Vec<Vec<u8>>>,
    pub outcome_time: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "recommendation_id, brand_id, kind, subject,
    case when state = 'open' and expire_time <= now() then 'expired' else state end as state,
    priority, title, rationale, evidence, currency_code, expected_impact_micros, confidence,
    product_id, variant_id, sku, units, order_by_date, stockout_date,
    from_platform, from_campaign_id, to_platform, to_campaign_id, daily_amount_micros,
    create_time, expire_time, decide_time, decide_day, decided_by_user_id, dismiss_reason,
    decision_note, outcome_succeeded, outcome_summary, outcome_figures, outcome_time";

/// A recommendation the rules produced, before it is stored.
#[derive(Debug, Clone, Default)]
pub struct NewRecommendation {
    pub brand_id: Uuid,
    pub kind: &'static str,
    pub subject: String,
    pub priority: &'static str,
    pub title: String,
    pub rationale: String,
    pub evidence: Vec<Vec<u8>>,
    pub currency_code: String,
    pub expected_impact_micros: i64,
    pub confidence: f64,
    pub product_id: Option<String>,
    pub variant_id: Option<String>,
    pub sku: Option<String>,
    pub units: Option<i64>,
    pub order_by_date: Option<NaiveDate>,
    pub stockout_date: Option<NaiveDate>,
    pub from_platform: Option<String>,
    pub from_campaign_id: Option<String>,
    pub to_platform: Option<String>,
    pub to_campaign_id: Option<String>,
    pub daily_amount_micros: Option<i64>,
    /// Expires at the start of this brand-local day…
    pub expire_day: NaiveDate,
    /// …in this time zone (the brand's).
    pub time_zone: String,
}

/// Open recommendations of the brand past their expiry become `expired`.
pub async fn expire_overdue(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<u64> {
    let done = sqlx::query(
        "update insights.recommendations set state = 'expired', update_time = now()
         where brand_id = $1 and state = 'open' and expire_time <= now()",
    )
    .bind(brand_id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Stores `rec`: refreshes the open one of the same kind and subject in place, or
/// inserts it unless a decided one of that subject has not expired yet (a dismissed
/// restock is not raised again the next hour). Returns whether a row was written.
pub async fn upsert_open(tx: &mut TenantTx, rec: &NewRecommendation) -> pp_db::Result<bool> {
    let written = sqlx::query(
        "insert into insights.recommendations (
             tenant_id, recommendation_id, brand_id, kind, subject, state, priority, title,
             rationale, evidence, currency_code, expected_impact_micros, confidence,
             product_id, variant_id, sku, units, order_by_date, stockout_date,
             from_platform, from_campaign_id, to_platform, to_campaign_id,
             daily_amount_micros, expire_time)
         select nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3, $4,
                'open', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                $19, $20, $21, $22, ($23::date::timestamp at time zone $24)
         where not exists (
             select 1 from insights.recommendations
             where brand_id = $2 and kind = $3 and subject = $4
               and state in ('accepted', 'dismissed') and expire_time > now())
         on conflict (tenant_id, brand_id, kind, subject) where state = 'open' do update set
             priority = excluded.priority, title = excluded.title,
             rationale = excluded.rationale, evidence = excluded.evidence,
             expected_impact_micros = excluded.expected_impact_micros,
             confidence = excluded.confidence, units = excluded.units,
             order_by_date = excluded.order_by_date, stockout_date = excluded.stockout_date,
             daily_amount_micros = excluded.daily_amount_micros,
             expire_time = excluded.expire_time, update_time = now()",
    )
    .bind(Uuid::new_v4())
    .bind(rec.brand_id)
    .bind(rec.kind)
    .bind(&rec.subject)
    .bind(rec.priority)
    .bind(&rec.title)
    .bind(&rec.rationale)
    .bind(&rec.evidence)
    .bind(&rec.currency_code)
    .bind(rec.expected_impact_micros)
    .bind(rec.confidence)
    .bind(&rec.product_id)
    .bind(&rec.variant_id)
    .bind(&rec.sku)
    .bind(rec.units)
    .bind(rec.order_by_date)
    .bind(rec.stockout_date)
    .bind(&rec.from_platform)
    .bind(&rec.from_campaign_id)
    .bind(&rec.to_platform)
    .bind(&rec.to_campaign_id)
    .bind(rec.daily_amount_micros)
    .bind(rec.expire_day)
    .bind(&rec.time_zone)
    .execute(tx.conn())
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Open recommendations of `kind` for the brand whose subject the rules no longer
/// produce become `expired` (the data changed). Returns how many.
pub async fn expire_unsupported(
    tx: &mut TenantTx,
    brand_id: Uuid,
    kind: &str,
    subjects: &[String],
) -> pp_db::Result<u64> {
    let done = sqlx::query(
        "update insights.recommendations set state = 'expired', update_time = now()
         where brand_id = $1 and kind = $2 and state = 'open' and not (subject = any($3))",
    )
    .bind(brand_id)
    .bind(kind)
    .bind(subjects)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// One recommendation by id (in the transaction's tenant), locked for a decision.
pub async fn get_for_update(
    tx: &mut TenantTx,
    recommendation_id: Uuid,
) -> pp_db::Result<Option<RecommendationRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from insights.recommendations
         where recommendation_id = $1 for update"
    ))
    .bind(recommendation_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// What a decision writes.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub state: &'static str,
    pub user_id: Uuid,
    pub decide_day: NaiveDate,
    pub dismiss_reason: Option<&'static str>,
    pub note: &'a str,
}

/// Records the decision on an open recommendation; the row as it is now.
pub async fn decide(
    tx: &mut TenantTx,
    recommendation_id: Uuid,
    decision: &Decision<'_>,
) -> pp_db::Result<RecommendationRow> {
    sqlx::query_as(&format!(
        "update insights.recommendations
         set state = $2, decide_time = now(), decide_day = $3, decided_by_user_id = $4,
             dismiss_reason = $5, decision_note = $6, update_time = now()
         where recommendation_id = $1
         returning {COLUMNS}"
    ))
    .bind(recommendation_id)
    .bind(decision.state)
    .bind(decision.decide_day)
    .bind(decision.user_id)
    .bind(decision.dismiss_reason)
    .bind(decision.note)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

/// Which recommendations a list shows.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// `None`: every brand of the tenant.
    pub brands: Option<Vec<Uuid>>,
    pub state: &'static str,
    pub kinds: Option<Vec<&'static str>>,
    pub offset: i64,
    pub limit: i64,
}

/// A page of recommendations: highest priority first, then newest, then by id.
pub async fn list(tx: &mut TenantTx, filter: &ListFilter) -> pp_db::Result<Vec<RecommendationRow>> {
    let kinds: Option<Vec<String>> = filter
        .kinds
        .as_ref()
        .map(|kinds| kinds.iter().map(|k| (*k).to_owned()).collect());
    sqlx::query_as(&format!(
        "select * from (select {COLUMNS} from insights.recommendations
                        where ($1::uuid[] is null or brand_id = any($1))
                          and ($3::text[] is null or kind = any($3))) r
         where state = $2
         order by case priority when 'high' then 0 when 'medium' then 1 else 2 end,
                  create_time desc, recommendation_id
         offset $4 limit $5"
    ))
    .bind(&filter.brands)
    .bind(filter.state)
    .bind(kinds)
    .bind(filter.offset)
    .bind(filter.limit)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Accepted recommendations of the brand not measured yet.
pub async fn unmeasured(
    tx: &mut TenantTx,
    brand_id: Uuid,
) -> pp_db::Result<Vec<RecommendationRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from insights.recommendations
         where brand_id = $1 and state = 'accepted' and outcome_time is null
         order by decide_time"
    ))
    .bind(brand_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Records the measured outcome of an accepted recommendation.
pub async fn set_outcome(
    tx: &mut TenantTx,
    recommendation_id: Uuid,
    succeeded: bool,
    summary: &str,
    figures: &[Vec<u8>],
) -> pp_db::Result<()> {
    sqlx::query(
        "update insights.recommendations
         set outcome_succeeded = $2, outcome_summary = $3, outcome_figures = $4,
             outcome_time = now(), update_time = now()
         where recommendation_id = $1",
    )
    .bind(recommendation_id)
    .bind(succeeded)
    .bind(summary)
    .bind(figures)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One campaign day of the ad rollups, with the campaign's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignDay {
    pub platform: String,
    pub campaign_id: String,
    pub name: String,
    pub day: NaiveDate,
    pub spend_micros: i64,
    pub conversion_value_micros: i64,
}

/// Every campaign day of `start..=end` (from the ad rollups; the name from
/// `commerce.campaigns`, the id when it has none).
pub async fn campaign_days(
    tx: &mut TenantTx,
    brand_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
) -> pp_db::Result<Vec<CampaignDay>> {
    sqlx::query_as(
        "select s.platform, s.campaign_id, coalesce(c.name, s.campaign_id) as name, s.day,
                s.spend_micros, s.conversion_value_micros
         from insights.daily_ad_spend s
         left join commerce.campaigns c
                on c.tenant_id = s.tenant_id and c.brand_id = s.brand_id
               and c.platform = s.platform and c.platform_campaign_id = s.campaign_id
         where s.brand_id = $1 and s.day between $2 and $3 and s.campaign_id <> ''
         order by s.platform, s.campaign_id, s.day",
    )
    .bind(brand_id)
    .bind(start)
    .bind(end)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Per campaign, the share of each variant in the units of the orders it touched over
/// `start..=end` (counted orders: not test, not cancelled; brand days of `time_zone`): (platform, campaign id, variant id, share).
pub async fn campaign_variant_shares(
    tx: &mut TenantTx,
    brand_id: Uuid,
    time_zone: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> pp_db::Result<Vec<(String, String, String, f64)>> {
    sqlx::query_as(
        "with touched as (
             select distinct t.platform, t.platform_campaign_id as campaign_id, t.order_id
             from commerce.touchpoints t
             join commerce.orders o on o.tenant_id = t.tenant_id and o.order_id = t.order_id
             where t.brand_id = $1 and t.platform_campaign_id is not null
               and t.platform in ('meta', 'tiktok', 'google_ads')
               and not o.test and o.cancelled_at is null
               and (o.processed_at at time zone $2)::date between $3 and $4),
         units as (
             select t.platform, t.campaign_id, l.platform_variant_id as variant_id,
                    sum(l.quantity)::double precision as units
             from touched t
             join commerce.order_lines l on l.tenant_id = current_setting('app.tenant_id')::uuid
                                        and l.order_id = t.order_id
             where l.platform_variant_id is not null
             group by 1, 2, 3)
         select platform, campaign_id, variant_id,
                units / nullif(sum(units) over (partition by platform, campaign_id), 0)
         from units",
    )
    .bind(brand_id)
    .bind(time_zone)
    .bind(start)
    .bind(end)
    .fetch_all(tx.conn())
    .await
    .map(|rows: Vec<(String, String, String, Option<f64>)>| {
        rows.into_iter()
            .map(|(p, c, v, share)| (p, c, v, share.unwrap_or(0.0)))
            .collect()
    })
    .map_err(Into::into)
}

/// The price of every variant of the brand, by variant id.
pub async fn variant_prices(
    tx: &mut TenantTx,
    brand_id: Uuid,
) -> pp_db::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "select platform_variant_id, price_micros from commerce.variants where brand_id = $1",
    )
    .bind(brand_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}
