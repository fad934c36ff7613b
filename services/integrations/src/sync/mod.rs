//! The sync engine: workers lease queued runs from Postgres (`FOR UPDATE SKIP
//! LOCKED`), page through the provider from each entity's stored cursor, upsert every
//! page and save the next cursor in one transaction, and renew their lease in that
//! same transaction. Any number of replicas run workers; a crashed worker's lease
//! expires and another worker resumes the run from its last saved cursor. Re-reading
//! a page is harmless: every write is an upsert keyed on the platform's ids.

pub mod connector;
pub mod demo;
pub mod plan;
pub mod platforms;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pp_db::TenantTx;
use pp_platforms::{Credentials, PlatformError};
use pp_types::TenantId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::State;
use crate::events;
use crate::store::commerce::{self, Target};
use crate::store::integrations as integration_store;
use crate::store::sync_runs::{self, EntityProgress, EntityQuery, Lease, SyncRunRow};
use connector::{Batch, Connector};

/// How the engine paces itself.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How long a worker owns a run without renewing; a crashed worker's run is
    /// picked up this long after its last page.
    pub lease: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// Workers per process.
    pub workers: usize,
    /// Records per provider page (at most; Shopify's are sized by query cost).
    pub page_size: u32,
    /// Records gathered (from one or more pages) into one write.
    pub write_batch: usize,
    /// How often a connected integration syncs on its own.
    pub every: Duration,
    /// Shopify incremental runs re-read orders updated this long before the last
    /// high-water mark (clock skew, late writes at the platform).
    pub shopify_lookback: Duration,
    /// A rate-limited or unreachable platform is retried after this long.
    pub retry_later: Duration,
    /// Attempts before a run that keeps failing transiently is marked failed.
    pub max_attempts: i32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            workers: 2,
            page_size: 250,
            write_batch: 1000,
            every: Duration::from_secs(3600),
            shopify_lookback: Duration::from_secs(3600),
            retry_later: Duration::from_secs(60),
            max_attempts: 5,
        }
    }
}

/// One worker: lease, run, repeat.
pub async fn worker(state: Arc<State>, worker_id: Uuid, shutdown: CancellationToken) {
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match sync_runs::lease_next(&state.pool, worker_id, state.sync.lease).await {
            Ok(Some(lease)) => {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = run_leased(&state, lease, worker_id) => continue,
                }
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, "sync worker could not lease work"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(state.sync.poll) => {}
        }
    }
}

/// Queues the scheduled runs that are due.
pub async fn scheduler(state: Arc<State>, shutdown: CancellationToken) {
    loop {
        match sync_runs::claim_due(&state.pool, 100).await {
            Ok(due) => {
                for (tenant, integration_id) in due {
                    if let Err(err) = queue_scheduled(&state, tenant, integration_id).await {
                        tracing::warn!(%err, %integration_id, "could not queue a scheduled sync");
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "sync scheduler could not read the schedule"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(state.sync.poll * 5) => {}
        }
    }
}

async fn queue_scheduled(
    state: &State,
    tenant: TenantId,
    integration_id: Uuid,
) -> pp_db::Result<()> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    if let Some(integration) = integration_store::get(&mut tx, integration_id).await?
        && matches!(integration.status.as_str(), "connected" | "error")
    {
        plan::queue(
            &mut tx,
            &integration,
            "incremental",
            "scheduled",
            None,
            None,
        )
        .await?;
    }
    tx.commit().await
}

/// Runs one leased run to its end (or until the lease is lost); every failure is
/// recorded on the run, never lost.
pub async fn run_leased(state: &State, lease: Lease, worker_id: Uuid) {
    let run_id = lease.sync_run_id;
    if let Err(err) = execute(state, lease, worker_id).await {
        // A database failure mid-run: the lease runs out and another worker resumes.
        tracing::warn!(%err, %run_id, "sync run interrupted");
    }
}

enum Outcome {
    Done,
    LostLease,
}

async fn execute(state: &State, lease: Lease, worker_id: Uuid) -> Result<(), pp_db::DbError> {
    let tenant = TenantId(lease.tenant_id);
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    if !sync_runs::renew(&mut tx, &lease, worker_id, state.sync.lease).await? {
        return tx.rollback().await;
    }
    let Some(run) = sync_runs::get(&mut tx, lease.sync_run_id).await? else {
        return tx.rollback().await;
    };
    let Some(integration) = integration_store::get(&mut tx, lease.integration_id).await? else {
        return tx.rollback().await;
    };
    if integration.status == "disconnected" || integration.status == "reauth_required" {
        let reason = if integration.status == "disconnected" {
            (
                "INTEGRATION_DISCONNECTED",
                "the integration was disconnected",
            )
        } else {
            (
                "REAUTH_REQUIRED",
                "the integration must be reconnected before it can sync",
            )
        };
        let row =
            sync_runs::finish(&mut tx, run.sync_run_id, "cancelled", None, Some(reason)).await?;
        events::sync_ended(&mut tx, &row, "data.sync_failed").await?;
        return tx.commit().await;
    }
    let run = if run.state == "queued" {
        let row = sync_runs::start(&mut tx, run.sync_run_id).await?;
        events::sync_started(&mut tx, &row).await?;
        row
    } else {
        // Resumed after a crash: count the attempt, keep the cursors.
        sync_runs::start(&mut tx, run.sync_run_id).await?
    };
    tx.commit().await?;

    let started = Utc::now();
    let mut connector = match Connector::build(state, tenant, &integration).await {
        Ok(connector) => connector,
        Err(err) => return fail(state, tenant, &run, &integration.integration_id, &err).await,
    };
    let mut entities = run.entities.0.clone();
    for index in 0..entities.len() {
        if entities[index].done {
            continue;
        }
        if entities[index].query.is_none() {
            entities[index].query = Some(plan::query_for(
                state,
                &integration,
                &run,
                &entities[index].entity,
            ));
        }
        let entity = entities[index].entity.clone();
        let query = entities[index].query.clone().unwrap_or_default();
        let (page_size, want) = (state.sync.page_size, state.sync.write_batch);
        let mut gathered = gather(
            &mut connector,
            &entity,
            &query,
            entities[index].cursor.clone(),
            page_size,
            want,
        )
        .await;
        loop {
            let Gathered {
                batch,
                cursor,
                done,
                error,
            } = gathered;
            let more = error.is_none() && !done;
            let refreshed = connector.take_refreshed();
            // The next batch is fetched while this one is written.
            let write = async {
                match batch {
                    Some(batch) => {
                        let page = Written {
                            batch,
                            cursor: cursor.clone(),
                            done,
                            refreshed,
                        };
                        commit(
                            state,
                            &lease,
                            worker_id,
                            &run,
                            &integration,
                            &mut entities,
                            index,
                            page,
                        )
                        .await
                    }
                    None => {
                        if let Some(credentials) = refreshed {
                            let mut tx = TenantTx::begin(&state.pool, tenant).await?;
                            crate::credentials::store(
                                state,
                                &mut tx,
                                tenant,
                                integration.integration_id,
                                &credentials,
                            )
                            .await?;
                            tx.commit().await?;
                        }
                        Ok(true)
                    }
                }
            };
            let next = async {
                if more {
                    Some(
                        gather(
                            &mut connector,
                            &entity,
                            &query,
                            cursor.clone(),
                            page_size,
                            want,
                        )
                        .await,
                    )
                } else {
                    None
                }
            };
            let (kept_lease, next) = tokio::join!(write, next);
            if !kept_lease? {
                tracing::info!(run = %run.sync_run_id, "lease lost; another worker has the run");
                return Ok(());
            }
            if let Some(err) = error {
                // Keep what this run already wrote; the error decides what's next.
                save_credentials(state, tenant, &integration.integration_id, &mut connector)
                    .await?;
                return fail(state, tenant, &run, &integration.integration_id, &err).await;
            }
            match next {
                Some(next) => gathered = next,
                None => break,
            }
        }
    }
    save_credentials(state, tenant, &integration.integration_id, &mut connector).await?;
    match succeed(state, tenant, &run, &integration, &entities, started).await? {
        Outcome::Done | Outcome::LostLease => Ok(()),
    }
}

/// Pages gathered into one write.
struct Gathered {
    /// What was fetched (None: the first fetch failed).
    batch: Option<Batch>,
    /// Where the next fetch starts.
    cursor: Option<String>,
    /// The entity has no more pages.
    done: bool,
    /// Why fetching stopped early; what was fetched before it is still written.
    error: Option<PlatformError>,
}

/// Fetches pages from `cursor` until at least `want` records, the last page or an
/// error: a provider's small pages (Shopify's are sized by query cost) are written
/// in batches, each with the cursor after its last page.
async fn gather(
    connector: &mut Connector,
    entity: &str,
    query: &EntityQuery,
    mut cursor: Option<String>,
    page_size: u32,
    want: usize,
) -> Gathered {
    let mut batch: Option<Batch> = None;
    loop {
        match connector
            .fetch(entity, query, cursor.as_deref(), page_size)
            .await
        {
            Ok(page) => {
                match &mut batch {
                    Some(gathered) => gathered.extend(page.batch),
                    None => batch = Some(page.batch),
                }
                let done = page.next_cursor.is_none();
                if !done {
                    cursor = page.next_cursor;
                }
                if done || batch.as_ref().is_some_and(|b| b.len() >= want) {
                    return Gathered {
                        batch,
                        cursor: if done { None } else { cursor },
                        done,
                        error: None,
                    };
                }
            }
            Err(err) => {
                return Gathered {
                    batch,
                    cursor,
                    done: false,
                    error: Some(err),
                };
            }
        }
    }
}

/// A gathered batch ready to be written.
struct Written {
    batch: Batch,
    cursor: Option<String>,
    done: bool,
    refreshed: Option<Credentials>,
}

/// Writes a batch, the entity's progress and cursor, refreshed credentials and
/// the renewed lease in one transaction. False: the lease was lost, nothing written.
#[allow(clippy::too_many_arguments)]
async fn commit(
    state: &State,
    lease: &Lease,
    worker_id: Uuid,
    run: &SyncRunRow,
    integration: &integration_store::IntegrationRow,
    entities: &mut [EntityProgress],
    index: usize,
    page: Written,
) -> Result<bool, pp_db::DbError> {
    let tenant = TenantId(lease.tenant_id);
    let target = Target {
        brand_id: integration.brand_id,
        integration_id: integration.integration_id,
    };
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    if !sync_runs::renew(&mut tx, lease, worker_id, state.sync.lease).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let fetched = page.batch.len() as i64;
    let high_water = page.batch.high_water();
    let written = write_batch(&mut tx, target, integration, &page.batch).await?;
    let progress = &mut entities[index];
    progress.fetched += fetched;
    progress.written += written as i64;
    progress.high_water = progress.high_water.max(high_water);
    progress.cursor = page.cursor;
    progress.done = page.done;
    if let Some(credentials) = page.refreshed {
        crate::credentials::store(
            state,
            &mut tx,
            tenant,
            integration.integration_id,
            &credentials,
        )
        .await?;
    }
    sync_runs::save_progress(&mut tx, run.sync_run_id, entities, percent(entities)).await?;
    tx.commit().await?;
    Ok(true)
}

fn percent(entities: &[EntityProgress]) -> i32 {
    if entities.is_empty() {
        return 100;
    }
    let done = entities.iter().filter(|e| e.done).count();
    i32::try_from(done * 100 / entities.len())
        .unwrap_or(100)
        .min(99)
}

async fn write_batch(
    tx: &mut TenantTx,
    target: Target,
    integration: &integration_store::IntegrationRow,
    batch: &Batch,
) -> pp_db::Result<u64> {
    match batch {
        Batch::Orders(orders) => commerce::upsert_orders(tx, target, orders).await,
        Batch::Products(products) => {
            let currency = integration.currency_code.as_deref().unwrap_or("USD");
            commerce::upsert_products(tx, target, currency, products).await
        }
        Batch::Inventory(levels) => commerce::upsert_inventory(tx, target, levels).await,
        Batch::AdSpend(rows) => commerce::upsert_ad_spend(tx, target, rows).await,
        Batch::Campaigns(campaigns) => commerce::upsert_campaigns(tx, target, campaigns).await,
    }
}

async fn save_credentials(
    state: &State,
    tenant: TenantId,
    integration_id: &Uuid,
    connector: &mut Connector,
) -> Result<(), pp_db::DbError> {
    if let Some(credentials) = connector.take_refreshed() {
        let mut tx = TenantTx::begin(&state.pool, tenant).await?;
        crate::credentials::store(state, &mut tx, tenant, *integration_id, &credentials).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn succeed(
    state: &State,
    tenant: TenantId,
    run: &SyncRunRow,
    integration: &integration_store::IntegrationRow,
    entities: &[EntityProgress],
    started: chrono::DateTime<Utc>,
) -> Result<Outcome, pp_db::DbError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let Some(current) = sync_runs::get(&mut tx, run.sync_run_id).await? else {
        tx.rollback().await?;
        return Ok(Outcome::LostLease);
    };
    if current.is_terminal() {
        tx.rollback().await?;
        return Ok(Outcome::LostLease);
    }
    let mut sync_state = integration.sync_state.clone();
    if !sync_state.is_object() {
        sync_state = serde_json::json!({});
    }
    for entity in entities {
        if let Some(high_water) = entity.high_water {
            sync_state[format!("{}_updated_at", entity.entity)] =
                serde_json::Value::String(high_water.to_rfc3339());
        }
    }
    // The data is complete as of when this run started reading.
    let data_as_of = run.started_at.unwrap_or(started).min(started);
    let row = sync_runs::finish(
        &mut tx,
        run.sync_run_id,
        "succeeded",
        Some(data_as_of),
        None,
    )
    .await?;
    integration_store::record_success(
        &mut tx,
        integration.integration_id,
        run.sync_run_id,
        &sync_state,
    )
    .await?;
    sync_runs::schedule(&mut tx, integration.integration_id, state.sync.every).await?;
    events::sync_ended(&mut tx, &row, "data.sync_completed").await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// Records a platform failure: revoked or missing scopes → the integration needs
/// the user (REAUTH_REQUIRED) and the run fails for good; rate limits and outages →
/// the run is retried later, until its attempts run out.
async fn fail(
    state: &State,
    tenant: TenantId,
    run: &SyncRunRow,
    integration_id: &Uuid,
    err: &PlatformError,
) -> Result<(), pp_db::DbError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let message = err.to_string();
    if err.is_transient() && run.attempts < state.sync.max_attempts {
        let delay = match err {
            PlatformError::RateLimited {
                retry_after: Some(after),
            } => (*after).max(state.sync.retry_later),
            _ => state.sync.retry_later,
        };
        sync_runs::requeue(&mut tx, run.sync_run_id, delay).await?;
        tracing::info!(run = %run.sync_run_id, reason = err.reason(), "sync deferred");
        return tx.commit().await;
    }
    let (status, state_name) = match err {
        PlatformError::Reauth { .. } => ("reauth_required", "failed"),
        _ => ("error", "failed"),
    };
    let wrote_something = sync_runs::get(&mut tx, run.sync_run_id)
        .await?
        .is_some_and(|r| r.entities.0.iter().any(|e| e.written > 0 || e.done));
    let final_state = if wrote_something && !matches!(err, PlatformError::Reauth { .. }) {
        "partial"
    } else {
        state_name
    };
    let row = sync_runs::finish(
        &mut tx,
        run.sync_run_id,
        final_state,
        None,
        Some((err.reason(), &message)),
    )
    .await?;
    integration_store::set_status(
        &mut tx,
        *integration_id,
        status,
        Some((err.reason(), &message)),
    )
    .await?;
    events::sync_ended(&mut tx, &row, "data.sync_failed").await?;
    tx.commit().await
}
