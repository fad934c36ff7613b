//! Usage, latency and accuracy aggregates. Every query is bounded by a time range the
//! caller has already defaulted and capped, written as plain `occurred_at >= $start and
//! occurred_at < $end` so it is an index range on `events_tenant_type_time`
//! (tenant_id from the RLS policy, event_type, occurred_at).

use chrono::{DateTime, Utc};
use pp_db::TenantTx;
use uuid::Uuid;

/// What every summary is limited to: a time range and the brands the caller may see.
#[derive(Debug, Clone)]
pub struct SummaryScope {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Only this brand (a request filter).
    pub brand_id: Option<Uuid>,
    /// The token's brand scope; `None` is the whole tenant (see `EventFilter`).
    pub brand_scope: Option<Vec<Uuid>>,
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct UsageRow {
    pub model: Option<String>,
    pub operation: Option<String>,
    pub brand_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub day: Option<chrono::NaiveDate>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub request_count: i64,
    pub error_count: i64,
}

/// The dimensions a usage summary may be grouped by; each maps to a fixed SQL
/// expression (no client text ever reaches the query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Model,
    Operation,
    Brand,
    User,
    Day,
}

#[derive(Debug, Clone)]
pub struct UsageFilter {
    pub scope: SummaryScope,
    pub user_id: Option<Uuid>,
    pub model: Option<String>,
    pub operation: Option<String>,
}

/// Token use and cost from `ai.model_called` events, grouped by `dims`.
pub async fn usage(
    tx: &mut TenantTx,
    filter: &UsageFilter,
    dims: &[Dimension],
) -> pp_db::Result<Vec<UsageRow>> {
    let column =
        |dim: Dimension, expr: &'static str| if dims.contains(&dim) { expr } else { "null" };
    let model = column(Dimension::Model, "payload->>'model'");
    let operation = column(Dimension::Operation, "payload->>'operation'");
    let brand = column(Dimension::Brand, "brand_id");
    let user = column(Dimension::User, "user_id");
    let day = column(Dimension::Day, "(occurred_at at time zone 'UTC')::date");
    let sql = format!(
        "select {model} as model, {operation} as operation, {brand}::uuid as brand_id, {user}::uuid as user_id, {day}::date as day,
                coalesce(sum((payload->>'input_tokens')::bigint), 0)::bigint as input_tokens,
                coalesce(sum((payload->>'output_tokens')::bigint), 0)::bigint as output_tokens,
                coalesce(sum((payload->>'cost_micros')::bigint), 0)::bigint as cost_micros,
                count(*) as request_count,
                count(*) filter (where status <> 'ok') as error_count
         from observability.events
         where event_type = 'ai.model_called'
           and occurred_at >= $1 and occurred_at < $2
           and ($3::uuid is null or brand_id = $3)
           and ($4::uuid[] is null or brand_id = any($4))
           and ($5::uuid is null or user_id = $5)
           and ($6::text is null or payload->>'model' = $6)
           and ($7::text is null or payload->>'operation' = $7)
         group by 1, 2, 3, 4, 5
         order by 1, 2, 3, 4, 5"
    );
    let scope = &filter.scope;
    sqlx::query_as(&sql)
        .bind(scope.start)
        .bind(scope.end)
        .bind(scope.brand_id)
        .bind(scope.brand_scope.as_deref())
        .bind(filter.user_id)
        .bind(&filter.model)
        .bind(&filter.operation)
        .fetch_all(tx.conn())
        .await
        .map_err(Into::into)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LatencyRow {
    pub name: String,
    pub model: Option<String>,
    pub count: i64,
    pub error_count: i64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

const LATENCY_STATS: &str =
    "count(*) as count, count(*) filter (where status <> 'ok') as error_count,
    percentile_cont(0.5) within group (order by (payload->>'duration_ms')::float8) as p50,
    percentile_cont(0.95) within group (order by (payload->>'duration_ms')::float8) as p95,
    percentile_cont(0.99) within group (order by (payload->>'duration_ms')::float8) as p99,
    max((payload->>'duration_ms')::float8) as max";

const SCOPE_WHERE: &str = "occurred_at >= $1 and occurred_at < $2
    and ($3::uuid is null or brand_id = $3) and ($4::uuid[] is null or brand_id = any($4))";

/// Percentiles of `duration_ms` per RPC (api.* events) and per AI operation
/// (ai.model_called events).
pub async fn latency(
    tx: &mut TenantTx,
    scope: &SummaryScope,
    method_prefix: &str,
) -> pp_db::Result<(Vec<LatencyRow>, Vec<LatencyRow>)> {
    let rpcs = sqlx::query_as(&format!(
        "select payload->>'method' as name, null::text as model, {LATENCY_STATS} from observability.events
         where event_type in ('api.request', 'api.error') and {SCOPE_WHERE}
           and payload ? 'duration_ms' and starts_with(payload->>'method', $5)
         group by 1 order by 1"
    ))
    .bind(scope.start)
    .bind(scope.end)
    .bind(scope.brand_id)
    .bind(scope.brand_scope.as_deref())
    .bind(method_prefix)
    .fetch_all(tx.conn())
    .await?;
    let ai = sqlx::query_as(&format!(
        "select payload->>'operation' as name, payload->>'model' as model, {LATENCY_STATS} from observability.events
         where event_type = 'ai.model_called' and {SCOPE_WHERE} and payload ? 'duration_ms'
         group by 1, 2 order by 1, 2"
    ))
    .bind(scope.start)
    .bind(scope.end)
    .bind(scope.brand_id)
    .bind(scope.brand_scope.as_deref())
    .fetch_all(tx.conn())
    .await?;
    Ok((rpcs, ai))
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct AccuracyRow {
    pub bucket: Option<String>,
    pub feedback_count: i64,
    pub average_rating: f64,
    pub actionable_count: i64,
    pub r1: i64,
    pub r2: i64,
    pub r3: i64,
    pub r4: i64,
    pub r5: i64,
    pub answer_count: i64,
    pub unanswerable_count: i64,
}

/// How accuracy rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccuracyBucket {
    /// One row (`bucket` null).
    Overall,
    /// Per question category.
    Category,
    /// Per UTC day, week or month (`bucket` = its first day, `YYYY-MM-DD`).
    Day,
    Week,
    Month,
}

impl AccuracyBucket {
    fn sql(self) -> &'static str {
        match self {
            AccuracyBucket::Overall => "null::text",
            AccuracyBucket::Category => "payload->>'category'",
            AccuracyBucket::Day => {
                "to_char(date_trunc('day', occurred_at at time zone 'UTC'), 'YYYY-MM-DD')"
            }
            AccuracyBucket::Week => {
                "to_char(date_trunc('week', occurred_at at time zone 'UTC'), 'YYYY-MM-DD')"
            }
            AccuracyBucket::Month => {
                "to_char(date_trunc('month', occurred_at at time zone 'UTC'), 'YYYY-MM-DD')"
            }
        }
    }
}

/// Feedback and answers, grouped by `bucket`.
pub async fn accuracy(
    tx: &mut TenantTx,
    scope: &SummaryScope,
    bucket: AccuracyBucket,
) -> pp_db::Result<Vec<AccuracyRow>> {
    let bucket = bucket.sql();
    let sql = format!(
        "select {bucket} as bucket,
            count(*) filter (where event_type = 'ai.feedback_provided') as feedback_count,
            coalesce(avg((payload->>'rating')::float8) filter (where event_type = 'ai.feedback_provided'), 0)::float8 as average_rating,
            count(*) filter (where event_type = 'ai.feedback_provided' and (payload->>'actionable')::bool) as actionable_count,
            count(*) filter (where event_type = 'ai.feedback_provided' and payload->>'rating' = '1') as r1,
            count(*) filter (where event_type = 'ai.feedback_provided' and payload->>'rating' = '2') as r2,
            count(*) filter (where event_type = 'ai.feedback_provided' and payload->>'rating' = '3') as r3,
            count(*) filter (where event_type = 'ai.feedback_provided' and payload->>'rating' = '4') as r4,
            count(*) filter (where event_type = 'ai.feedback_provided' and payload->>'rating' = '5') as r5,
            count(*) filter (where event_type = 'ai.answer_generated') as answer_count,
            count(*) filter (where event_type = 'ai.answer_generated' and not coalesce((payload->>'answerable')::bool, true)) as unanswerable_count
         from observability.events
         where event_type in ('ai.feedback_provided', 'ai.answer_generated') and {SCOPE_WHERE}
         group by 1 order by 1"
    );
    sqlx::query_as(&sql)
        .bind(scope.start)
        .bind(scope.end)
        .bind(scope.brand_id)
        .bind(scope.brand_scope.as_deref())
        .fetch_all(tx.conn())
        .await
        .map_err(Into::into)
}
