//! SQL for sync runs and the work queue that leases them.

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::{Lookup, PageRequest, PgPool, TenantTx};
use pp_types::TenantId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncRunRow {
    pub sync_run_id: Uuid,
    pub integration_id: Uuid,
    pub brand_id: Uuid,
    pub platform: String,
    pub mode: String,
    pub trigger: String,
    pub state: String,
    pub entities: sqlx::types::Json<Vec<EntityProgress>>,
    pub percent_complete: i32,
    pub data_as_of: Option<DateTime<Utc>>,
    pub error_reason: Option<String>,
    pub error_message: Option<String>,
    pub triggered_by: Option<Uuid>,
    pub backfill_start: Option<NaiveDate>,
    pub backfill_end: Option<NaiveDate>,
    /// Times a worker started (or resumed) it.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl SyncRunRow {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.state.as_str(),
            "succeeded" | "partial" | "failed" | "cancelled"
        )
    }
}

/// One entity's progress within a run, with the cursor a resumed run starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityProgress {
    /// `orders`, `products`, `inventory_levels`, `ad_spend`.
    pub entity: String,
    pub fetched: i64,
    pub written: i64,
    pub done: bool,
    /// The provider cursor of the next page; None before the first page.
    pub cursor: Option<String>,
    /// What this entity asks the provider for, fixed when it starts, so a resumed
    /// run continues the same query its cursor belongs to.
    #[serde(default)]
    pub query: Option<EntityQuery>,
    /// The newest `updated_at` fetched so far (the next incremental run starts there).
    #[serde(default)]
    pub high_water: Option<DateTime<Utc>>,
}

impl EntityProgress {
    pub fn new(entity: &str) -> Self {
        EntityProgress {
            entity: entity.to_owned(),
            fetched: 0,
            written: 0,
            done: false,
            cursor: None,
            query: None,
            high_water: None,
        }
    }
}

/// The range an entity reads: records updated since an instant (Shopify), or the
/// days of a report (ad platforms, brand's ad-account days, inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EntityQuery {
    pub updated_since: Option<DateTime<Utc>>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

const COLUMNS: &str = "sync_run_id, integration_id, brand_id, platform, mode, trigger, state, \
    entities, percent_complete, data_as_of, error_reason, error_message, triggered_by, \
    backfill_start, backfill_end, attempts, created_at, started_at, ended_at, updated_at";

#[derive(Debug, Clone)]
pub struct NewRun {
    pub integration_id: Uuid,
    pub brand_id: Uuid,
    pub platform: String,
    pub mode: &'static str,
    pub trigger: &'static str,
    pub triggered_by: Option<Uuid>,
    pub backfill: Option<(NaiveDate, NaiveDate)>,
    pub entities: Vec<EntityProgress>,
}

/// The queued or running run of an integration, if any.
pub async fn active(tx: &mut TenantTx, integration_id: Uuid) -> pp_db::Result<Option<SyncRunRow>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from integrations.sync_runs
         where integration_id = $1 and state in ('queued', 'running')"
    ))
    .bind(integration_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Queues a run (and its queue row). Returns None when another run is already
/// active (the unique index decides, so two concurrent triggers cannot both win).
pub async fn enqueue(tx: &mut TenantTx, new: &NewRun) -> pp_db::Result<Option<SyncRunRow>> {
    let run_id = Uuid::now_v7();
    let row: Option<SyncRunRow> = sqlx::query_as(&format!(
        "insert into integrations.sync_runs (tenant_id, sync_run_id, integration_id, brand_id,
             platform, mode, trigger, state, entities, triggered_by, backfill_start, backfill_end)
         values (integrations.current_tenant(), $1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10)
         on conflict (tenant_id, integration_id) where state in ('queued', 'running') do nothing
         returning {COLUMNS}"
    ))
    .bind(run_id)
    .bind(new.integration_id)
    .bind(new.brand_id)
    .bind(&new.platform)
    .bind(new.mode)
    .bind(new.trigger)
    .bind(sqlx::types::Json(&new.entities))
    .bind(new.triggered_by)
    .bind(new.backfill.map(|b| b.0))
    .bind(new.backfill.map(|b| b.1))
    .fetch_optional(tx.conn())
    .await?;
    if row.is_some() {
        sqlx::query(
            "insert into integrations.sync_queue (tenant_id, sync_run_id, integration_id)
             values (integrations.current_tenant(), $1, $2)",
        )
        .bind(run_id)
        .bind(new.integration_id)
        .execute(tx.conn())
        .await?;
    }
    Ok(row)
}

pub async fn get(tx: &mut TenantTx, sync_run_id: Uuid) -> pp_db::Result<Option<SyncRunRow>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from integrations.sync_runs where sync_run_id = $1"
    ))
    .bind(sync_run_id)
    .fetch_optional(tx.conn())
    .await?)
}

#[derive(Debug, Default)]
pub struct ListFilter {
    pub integration_id: Option<Uuid>,
    pub brand_id: Option<Uuid>,
    pub brand_scope: Option<Vec<Uuid>>,
    pub state: Option<&'static str>,
}

pub async fn list(
    tx: &mut TenantTx,
    filter: &ListFilter,
    page: &PageRequest,
) -> pp_db::Result<(Vec<SyncRunRow>, String)> {
    let (after_time, after_id) = page.after_parts();
    let rows: Vec<SyncRunRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from integrations.sync_runs
         where ($1::uuid is null or integration_id = $1)
           and ($2::uuid is null or brand_id = $2)
           and ($3::uuid[] is null or brand_id = any($3))
           and ($4::text is null or state = $4)
           and ($5 or (created_at, sync_run_id) < ($6, $7))
         order by created_at desc, sync_run_id desc
         limit $8"
    ))
    .bind(filter.integration_id)
    .bind(filter.brand_id)
    .bind(&filter.brand_scope)
    .bind(filter.state)
    .bind(page.after.is_none())
    .bind(after_time)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |r| pp_db::Cursor {
        created_at: r.created_at,
        id: r.sync_run_id,
    }))
}

// === The queue ===

/// A leased run: the worker holds it until `lease_expires_at`, renewing as it goes.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Lease {
    pub tenant_id: Uuid,
    pub sync_run_id: Uuid,
    pub integration_id: Uuid,
}

/// Leases the oldest due run no live worker holds: queued ones, and running ones
/// whose worker stopped renewing (crashed). `FOR UPDATE SKIP LOCKED` keeps two
/// workers from taking the same row.
pub async fn lease_next(
    pool: &PgPool,
    worker: Uuid,
    lease: std::time::Duration,
) -> pp_db::Result<Option<Lease>> {
    let mut tx = TenantTx::begin_lookup(pool, Lookup::SyncWorker, "on").await?;
    let leased: Option<Lease> = sqlx::query_as(
        "update integrations.sync_queue q
         set lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2)
         from (select tenant_id, sync_run_id from integrations.sync_queue
               where available_at <= now()
                 and (lease_expires_at is null or lease_expires_at < now())
               order by available_at
               limit 1
               for update skip locked) due
         where q.tenant_id = due.tenant_id and q.sync_run_id = due.sync_run_id
         returning q.tenant_id, q.sync_run_id, q.integration_id",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .fetch_optional(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(leased)
}

/// Extends the lease, inside the transaction that writes the worker's progress: a
/// worker that lost its lease (another resumed the run) writes nothing. False then.
pub async fn renew(
    tx: &mut TenantTx,
    lease: &Lease,
    worker: Uuid,
    duration: std::time::Duration,
) -> pp_db::Result<bool> {
    let renewed = sqlx::query(
        "update integrations.sync_queue
         set lease_expires_at = now() + make_interval(secs => $3)
         where sync_run_id = $1 and lease_owner = $2",
    )
    .bind(lease.sync_run_id)
    .bind(worker)
    .bind(duration.as_secs_f64())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(renewed == 1)
}

/// Puts a run back for later (rate limited, platform down): another attempt after
/// `delay`, by any worker.
pub async fn requeue(
    tx: &mut TenantTx,
    sync_run_id: Uuid,
    delay: std::time::Duration,
) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.sync_queue
         set lease_owner = null, lease_expires_at = null,
             available_at = now() + make_interval(secs => $2)
         where sync_run_id = $1",
    )
    .bind(sync_run_id)
    .bind(delay.as_secs_f64())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks a run started (first lease) and counts the attempt.
pub async fn start(tx: &mut TenantTx, sync_run_id: Uuid) -> pp_db::Result<SyncRunRow> {
    Ok(sqlx::query_as(&format!(
        "update integrations.sync_runs
         set state = 'running', started_at = coalesce(started_at, now()),
             attempts = attempts + 1, updated_at = now()
         where sync_run_id = $1
         returning {COLUMNS}"
    ))
    .bind(sync_run_id)
    .fetch_one(tx.conn())
    .await?)
}

/// Saves progress after a page was written.
pub async fn save_progress(
    tx: &mut TenantTx,
    sync_run_id: Uuid,
    entities: &[EntityProgress],
    percent: i32,
) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.sync_runs
         set entities = $2, percent_complete = $3, updated_at = now()
         where sync_run_id = $1",
    )
    .bind(sync_run_id)
    .bind(sqlx::types::Json(entities))
    .bind(percent)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Ends a run and removes it from the queue.
///
/// The queue row is locked (deleted) before the run row, the order a worker's page
/// transaction takes them in (`renew`, then `save_progress`): the other order
/// deadlocked a DisconnectIntegration that cancels a run while its worker was
/// writing a page.
pub async fn finish(
    tx: &mut TenantTx,
    sync_run_id: Uuid,
    state: &str,
    data_as_of: Option<DateTime<Utc>>,
    error: Option<(&str, &str)>,
) -> pp_db::Result<SyncRunRow> {
    sqlx::query("delete from integrations.sync_queue where sync_run_id = $1")
        .bind(sync_run_id)
        .execute(tx.conn())
        .await?;
    let row = sqlx::query_as(&format!(
        "update integrations.sync_runs
         set state = $2, data_as_of = $3, error_reason = $4, error_message = $5,
             percent_complete = case when $2 = 'succeeded' then 100 else percent_complete end,
             ended_at = now(), updated_at = now()
         where sync_run_id = $1
         returning {COLUMNS}"
    ))
    .bind(sync_run_id)
    .bind(state)
    .bind(data_as_of)
    .bind(error.map(|e| e.0))
    .bind(error.map(|e| e.1))
    .fetch_one(tx.conn())
    .await?;
    Ok(row)
}

// === The schedule ===

/// Sets when the integration next syncs on its own.
pub async fn schedule(
    tx: &mut TenantTx,
    integration_id: Uuid,
    every: std::time::Duration,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into integrations.sync_schedule (tenant_id, integration_id, every, next_run_at)
         values (integrations.current_tenant(), $1, make_interval(secs => $2),
                 now() + make_interval(secs => $2))
         on conflict (tenant_id, integration_id) do update set every = excluded.every",
    )
    .bind(integration_id)
    .bind(every.as_secs_f64())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn unschedule(tx: &mut TenantTx, integration_id: Uuid) -> pp_db::Result<()> {
    sqlx::query("delete from integrations.sync_schedule where integration_id = $1")
        .bind(integration_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Claims the integrations whose scheduled sync is due, moving their next time on.
pub async fn claim_due(pool: &PgPool, limit: i64) -> pp_db::Result<Vec<(TenantId, Uuid)>> {
    let mut tx = TenantTx::begin_lookup(pool, Lookup::SyncWorker, "on").await?;
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "update integrations.sync_schedule s set next_run_at = now() + s.every
         from (select tenant_id, integration_id from integrations.sync_schedule
               where next_run_at <= now()
               order by next_run_at
               limit $1
               for update skip locked) due
         where s.tenant_id = due.tenant_id and s.integration_id = due.integration_id
         returning s.tenant_id, s.integration_id",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, integration)| (TenantId(tenant), integration))
        .collect())
}
