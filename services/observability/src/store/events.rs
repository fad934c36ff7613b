//! SQL for the observability schema.

use chrono::{DateTime, Utc};
use pp_db::{Cursor, PageRequest, TenantTx};
use pp_events::EventEnvelope;
use uuid::Uuid;

pub const SCHEMA: &str = "observability";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub tenant_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub brand_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub status: String,
    pub payload: serde_json::Value,
}

impl From<&EventEnvelope> for EventRow {
    fn from(event: &EventEnvelope) -> Self {
        EventRow {
            tenant_id: event.tenant_id,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            occurred_at: event.occurred_at,
            brand_id: event.brand_id,
            user_id: event.user_id,
            request_id: event.request_id.clone(),
            status: event.status.clone(),
            payload: event.payload.clone(),
        }
    }
}

/// Stores the events (all of the transaction's tenant) once each: a redelivered or
/// republished event id is ignored. Returns the ids that were new.
pub async fn insert_events(
    tx: &mut TenantTx,
    events: &[&EventEnvelope],
) -> pp_db::Result<Vec<Uuid>> {
    let n = events.len();
    let (mut tenants, mut ids, mut types, mut times) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut brands, mut users, mut requests, mut statuses, mut payloads) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for event in events {
        tenants.push(event.tenant_id);
        ids.push(event.event_id);
        types.push(event.event_type.as_str());
        times.push(event.occurred_at);
        brands.push(event.brand_id);
        users.push(event.user_id);
        requests.push(event.request_id.as_deref());
        statuses.push(event.status.as_str());
        payloads.push(&event.payload);
    }
    sqlx::query_scalar(
        "insert into observability.events
            (tenant_id, event_id, event_type, occurred_at, brand_id, user_id, request_id, status, payload)
         select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::uuid[],
                              $6::uuid[], $7::text[], $8::text[], $9::jsonb[])
         on conflict (tenant_id, event_id) do nothing
         returning event_id",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(&types)
    .bind(&times)
    .bind(&brands)
    .bind(&users)
    .bind(&requests)
    .bind(&statuses)
    .bind(&payloads)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Adds AI spend to the tenant's running total of `day` (UTC).
pub async fn add_spend(
    tx: &mut TenantTx,
    day: chrono::NaiveDate,
    cost_micros: i64,
    calls: i64,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into observability.ai_spend_daily (tenant_id, day, cost_micros, calls)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3)
         on conflict (tenant_id, day) do update
         set cost_micros = ai_spend_daily.cost_micros + excluded.cost_micros,
             calls = ai_spend_daily.calls + excluded.calls",
    )
    .bind(day)
    .bind(cost_micros)
    .bind(calls)
    .execute(tx.conn())
    .await
    .map(drop)
    .map_err(Into::into)
}

/// Filters of ListEvents / StreamEvents, already validated.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_types: Vec<String>,
    pub brand_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub status: Option<&'static str>,
}

impl EventFilter {
    pub fn matches(&self, event: &EventRow) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && self.brand_id.is_none_or(|b| event.brand_id == Some(b))
            && self.user_id.is_none_or(|u| event.user_id == Some(u))
            && self.start.is_none_or(|s| event.occurred_at >= s)
            && self.end.is_none_or(|e| event.occurred_at < e)
            && self.status.is_none_or(|s| event.status == s)
    }
}

/// Newest first.
pub async fn list_events(
    tx: &mut TenantTx,
    filter: &EventFilter,
    page: &PageRequest,
) -> pp_db::Result<(Vec<EventRow>, String)> {
    // First page: from the end of time PostgreSQL can store.
    let end_of_time = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or_default();
    let (before_time, before_id) = page
        .after
        .map_or((end_of_time, Uuid::max()), |c| (c.created_at, c.id));
    let rows: Vec<EventRow> = sqlx::query_as(
        "select tenant_id, event_id, event_type, occurred_at, brand_id, user_id, request_id, status, payload
         from observability.events
         where (occurred_at, event_id) < ($1, $2)
           and (cardinality($3::text[]) = 0 or event_type = any($3))
           and ($4::uuid is null or brand_id = $4)
           and ($5::uuid is null or user_id = $5)
           and ($6::timestamptz is null or occurred_at >= $6)
           and ($7::timestamptz is null or occurred_at < $7)
           and ($8::text is null or status = $8)
         order by occurred_at desc, event_id desc
         limit $9",
    )
    .bind(before_time)
    .bind(before_id)
    .bind(&filter.event_types)
    .bind(filter.brand_id)
    .bind(filter.user_id)
    .bind(filter.start)
    .bind(filter.end)
    .bind(filter.status)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |e| Cursor {
        created_at: e.occurred_at,
        id: e.event_id,
    }))
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

#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub brand_id: Option<Uuid>,
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
           and ($1::timestamptz is null or occurred_at >= $1)
           and ($2::timestamptz is null or occurred_at < $2)
           and ($3::uuid is null or brand_id = $3)
           and ($4::uuid is null or user_id = $4)
           and ($5::text is null or payload->>'model' = $5)
           and ($6::text is null or payload->>'operation' = $6)
         group by 1, 2, 3, 4, 5
         order by 1, 2, 3, 4, 5"
    );
    sqlx::query_as(&sql)
        .bind(filter.start)
        .bind(filter.end)
        .bind(filter.brand_id)
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

/// Percentiles of `duration_ms` per RPC (api.* events) and per AI operation
/// (ai.model_called events).
pub async fn latency(
    tx: &mut TenantTx,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    brand_id: Option<Uuid>,
    method_prefix: &str,
) -> pp_db::Result<(Vec<LatencyRow>, Vec<LatencyRow>)> {
    const STATS: &str = "count(*) as count, count(*) filter (where status <> 'ok') as error_count,
        percentile_cont(0.5) within group (order by (payload->>'duration_ms')::float8) as p50,
        percentile_cont(0.95) within group (order by (payload->>'duration_ms')::float8) as p95,
        percentile_cont(0.99) within group (order by (payload->>'duration_ms')::float8) as p99,
        max((payload->>'duration_ms')::float8) as max";
    const WHERE: &str = "($1::timestamptz is null or occurred_at >= $1) and ($2::timestamptz is null or occurred_at < $2)
        and ($3::uuid is null or brand_id = $3) and payload ? 'duration_ms'";
    let rpcs = sqlx::query_as(&format!(
        "select payload->>'method' as name, null::text as model, {STATS} from observability.events
         where event_type in ('api.request', 'api.error') and {WHERE} and starts_with(payload->>'method', $4)
         group by 1 order by 1"
    ))
    .bind(start)
    .bind(end)
    .bind(brand_id)
    .bind(method_prefix)
    .fetch_all(tx.conn())
    .await?;
    let ai = sqlx::query_as(&format!(
        "select payload->>'operation' as name, payload->>'model' as model, {STATS} from observability.events
         where event_type = 'ai.model_called' and {WHERE} and $4 = $4
         group by 1, 2 order by 1, 2"
    ))
    .bind(start)
    .bind(end)
    .bind(brand_id)
    .bind(method_prefix)
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

/// Feedback and answers, overall (`bucket` null), by category, or by period start
/// (`trunc` = day|week|month, a constant chosen by the caller's enum).
pub async fn accuracy(
    tx: &mut TenantTx,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    brand_id: Option<Uuid>,
    bucket: &'static str,
) -> pp_db::Result<Vec<AccuracyRow>> {
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
         where event_type in ('ai.feedback_provided', 'ai.answer_generated')
           and ($1::timestamptz is null or occurred_at >= $1)
           and ($2::timestamptz is null or occurred_at < $2)
           and ($3::uuid is null or brand_id = $3)
         group by 1 order by 1"
    );
    sqlx::query_as(&sql)
        .bind(start)
        .bind(end)
        .bind(brand_id)
        .fetch_all(tx.conn())
        .await
        .map_err(Into::into)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BudgetRow {
    pub period: String,
    pub limit_micros: i64,
    pub currency_code: String,
    pub warning_ratio: f64,
    pub enforcement: String,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

pub async fn upsert_budget(tx: &mut TenantTx, budget: &BudgetRow) -> pp_db::Result<BudgetRow> {
    sqlx::query_as(
        "insert into observability.cost_budgets (tenant_id, period, limit_micros, currency_code, warning_ratio, enforcement, updated_by)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3, $4, $5, $6)
         on conflict (tenant_id) do update set period = excluded.period, limit_micros = excluded.limit_micros,
            currency_code = excluded.currency_code, warning_ratio = excluded.warning_ratio,
            enforcement = excluded.enforcement, updated_by = excluded.updated_by, updated_at = now()
         returning period, limit_micros, currency_code, warning_ratio, enforcement, updated_by, updated_at",
    )
    .bind(&budget.period)
    .bind(budget.limit_micros)
    .bind(&budget.currency_code)
    .bind(budget.warning_ratio)
    .bind(&budget.enforcement)
    .bind(budget.updated_by)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn get_budget(tx: &mut TenantTx) -> pp_db::Result<Option<BudgetRow>> {
    sqlx::query_as("select period, limit_micros, currency_code, warning_ratio, enforcement, updated_by, updated_at from observability.cost_budgets")
        .fetch_optional(tx.conn())
        .await
    .map_err(Into::into)
}

/// AI spend since `since` (a UTC midnight: periods start at one), in micros, from
/// the running daily totals.
pub async fn spent_since(tx: &mut TenantTx, since: DateTime<Utc>) -> pp_db::Result<i64> {
    sqlx::query_scalar(
        "select coalesce(sum(cost_micros), 0)::bigint from observability.ai_spend_daily
         where day >= $1",
    )
    .bind(since.date_naive())
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

/// Records that `threshold` was crossed in the period; false if already recorded.
pub async fn claim_alert(
    tx: &mut TenantTx,
    period_start: DateTime<Utc>,
    threshold: &str,
) -> pp_db::Result<bool> {
    let result = sqlx::query(
        "insert into observability.budget_alerts (tenant_id, period_start, threshold)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2) on conflict do nothing",
    )
    .bind(period_start)
    .bind(threshold)
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}
