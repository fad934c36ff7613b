//! Keeping the daily rollups current: after each `data.sync_completed` event (its own
//! Pub/Sub subscription, each event handled once) the brand's changed days are
//! recomputed; a scheduled sweep recomputes every rolled-up brand's trailing days and
//! anything changed since its last refresh (a missed event, an order deleted by a
//! disconnect, a customer's first order moved by a backfill).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use pp_auth::TenantId;
use pp_db::{Lookup, PgPool, TenantTx};
use pp_events::EventEnvelope;
use uuid::Uuid;

use crate::State;
use crate::store::{self, commerce, rollups};

/// The event that makes a brand's rollups stale.
pub const SYNC_COMPLETED: &str = "data.sync_completed";

/// Rows committed by a sync that started before our last refresh but committed after it
/// carry an earlier `synced_at`: re-reading this far back catches them.
fn sync_slack() -> chrono::Duration {
    chrono::Duration::minutes(10)
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// These brand days were recomputed.
    Days(NaiveDate, NaiveDate),
    /// Nothing had changed.
    Nothing,
    /// The brand does not exist (deleted, or not this tenant's).
    NoBrand,
}

/// Recomputes the days of `brand_id` changed since its last refresh (all of its days
/// the first time), plus `also` (the sweep's trailing window), in one transaction.
pub async fn refresh_brand(
    tx: &mut TenantTx,
    brand_id: Uuid,
    also: Option<(NaiveDate, NaiveDate)>,
) -> pp_db::Result<Refreshed> {
    store::lock_brand(tx, brand_id, store::BrandLock::Rollups).await?;
    let Some(brand) = store::brand(tx, brand_id).await? else {
        return Ok(Refreshed::NoBrand);
    };
    let now: DateTime<Utc> = sqlx::query_scalar("select now()")
        .fetch_one(tx.conn())
        .await?;
    let changed = match rollups::synced_until(tx, brand_id).await? {
        Some(until) => commerce::changed_days(tx, &brand, until - sync_slack()).await?,
        None => commerce::data_days(tx, &brand).await?,
    };
    let range = match (changed, also) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (one, other) => one.or(other),
    };
    let result = match range {
        Some((start, end)) => {
            rollups::refresh(tx, brand_id, start, end).await?;
            Refreshed::Days(start, end)
        }
        None => Refreshed::Nothing,
    };
    rollups::set_synced_until(tx, brand_id, now).await?;
    Ok(result)
}

/// What follows a brand's rollup refresh, each in its own transaction (a failure is
/// logged and retried by the next sync or sweep, never undoes the refresh): the
/// recommendations are regenerated.
async fn after_refresh(pool: &PgPool, tenant: TenantId, brand_id: Uuid) {
    crate::recommendations::refresh(pool, tenant, brand_id).await;
}

/// Handles one delivered event: a `data.sync_completed` naming a brand refreshes that
/// brand's changed days, once per event id (a redelivery changes nothing), then
/// evaluates its alerts and regenerates its recommendations ([`after_refresh`]); a
/// `data.sync_failed` raises a sync alert ([`crate::alerts::handle_sync_failed`]). Other
/// events are ignored. Returns whether the event was handled.
pub async fn handle_event(pool: &PgPool, event: &EventEnvelope) -> pp_db::Result<bool> {
    if event.event_type == crate::alerts::SYNC_FAILED {
        return crate::alerts::handle_sync_failed(pool, event).await;
    }
    if event.event_type != SYNC_COMPLETED {
        return Ok(false);
    }
    let Some(brand_id) = event.brand_id else {
        return Ok(false);
    };
    let mut tx = TenantTx::begin_for_tenant(pool, TenantId(event.tenant_id)).await?;
    if !rollups::claim_event(&mut tx, event.event_id).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let refreshed = refresh_brand(&mut tx, brand_id, None).await?;
    tx.commit().await?;
    tracing::info!(event.id = %event.event_id, brand.id = %brand_id, ?refreshed, "rollups refreshed after sync");
    crate::alerts::after_sync_completed(pool, event, brand_id).await;
    after_refresh(pool, TenantId(event.tenant_id), brand_id).await;
    Ok(true)
}

/// Handles a batch of deliveries (see [`handle_event`]); an event whose envelope names
/// another tenant than its `tenant_id` attribute is refused with a warning.
pub async fn handle_deliveries(
    state: &State,
    deliveries: Vec<pp_events::consumer::Delivery>,
) -> Result<(), String> {
    for delivery in deliveries {
        let tenant = delivery.event.tenant_id.to_string();
        if delivery.tenant_attribute.as_deref() != Some(tenant.as_str()) {
            tracing::warn!(event.id = %delivery.event.event_id, "event refused: tenant attribute differs from the envelope");
            continue;
        }
        handle_event(&state.pool, &delivery.event)
            .await
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

/// The subscriber: every event of `subscription` through [`handle_deliveries`] until
/// `shutdown`.
pub async fn run_subscriber(
    state: Arc<State>,
    pubsub: pp_events::PubSubConfig,
    subscription: String,
    shutdown: impl std::future::Future<Output = ()>,
) {
    pp_events::consumer::consume(
        pubsub,
        subscription,
        move |deliveries| {
            let state = state.clone();
            async move { handle_deliveries(&state, deliveries).await }
        },
        shutdown,
    )
    .await;
}

/// One sweep: every brand with rollups gets its last `trailing_days` days (in its own
/// time zone, up to today) and whatever changed since its last refresh recomputed.
/// Returns how many brands were refreshed.
pub async fn sweep(pool: &PgPool, trailing_days: u32) -> pp_db::Result<usize> {
    let mut lookup = TenantTx::begin_lookup(pool, Lookup::RollupSweep, "on").await?;
    let brands = rollups::swept_brands(&mut lookup).await?;
    lookup.commit().await?;
    let mut refreshed = 0;
    for (tenant_id, brand_id) in brands {
        let mut tx = TenantTx::begin_for_tenant(pool, TenantId(tenant_id)).await?;
        let today: Option<NaiveDate> = sqlx::query_scalar(
            "select (now() at time zone time_zone)::date from brands.brands where brand_id = $1",
        )
        .bind(brand_id)
        .fetch_optional(tx.conn())
        .await?;
        let window = today.map(|today| {
            let first = today - chrono::Days::new(u64::from(trailing_days.saturating_sub(1)));
            (first, today)
        });
        let result = refresh_brand(&mut tx, brand_id, window).await?;
        tx.commit().await?;
        if result != Refreshed::NoBrand {
            refreshed += 1;
            after_refresh(pool, TenantId(tenant_id), brand_id).await;
        }
    }
    Ok(refreshed)
}

/// Runs [`sweep`] every `every` until `shutdown`.
pub async fn run_sweeper(
    pool: PgPool,
    every: Duration,
    trailing_days: u32,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
        match sweep(&pool, trailing_days).await {
            Ok(brands) => tracing::info!(brands, "rollup sweep done"),
            Err(err) => tracing::warn!(%err, "rollup sweep failed; next one retries"),
        }
    }
}
