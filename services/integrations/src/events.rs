//! The events this service records, each in the transaction of the change it describes.

use pp_db::TenantTx;
use pp_events::EventEnvelope;

use crate::store::SCHEMA;
use crate::store::sync_runs::SyncRunRow;

fn envelope(
    tx: &TenantTx,
    event_type: &str,
    run: &SyncRunRow,
    payload: serde_json::Value,
) -> Option<EventEnvelope> {
    let tenant = tx.tenant_id()?;
    let mut event = EventEnvelope::new(tenant.0, event_type, payload)
        .with_brand(run.brand_id)
        .with_current_request_id();
    if let Some(user) = run.triggered_by {
        event = event.with_user(user);
    }
    Some(event)
}

pub async fn sync_started(tx: &mut TenantTx, run: &SyncRunRow) -> pp_db::Result<()> {
    let payload = serde_json::json!({
        "sync_run_id": run.sync_run_id,
        "integration_id": run.integration_id,
        "platform": run.platform,
        "mode": run.mode,
        "trigger": run.trigger,
    });
    record(tx, "data.sync_started", run, payload).await
}

/// `data.sync_completed` (entity counts, data as of) or `data.sync_failed`.
pub async fn sync_ended(
    tx: &mut TenantTx,
    run: &SyncRunRow,
    event_type: &str,
) -> pp_db::Result<()> {
    let entities: serde_json::Map<String, serde_json::Value> = run
        .entities
        .0
        .iter()
        .map(|e| {
            (
                e.entity.clone(),
                serde_json::json!({ "fetched": e.fetched, "written": e.written }),
            )
        })
        .collect();
    let payload = serde_json::json!({
        "sync_run_id": run.sync_run_id,
        "integration_id": run.integration_id,
        "platform": run.platform,
        "state": run.state,
        "entities": entities,
        "data_as_of": run.data_as_of,
        "error_reason": run.error_reason,
    });
    record(tx, event_type, run, payload).await
}

async fn record(
    tx: &mut TenantTx,
    event_type: &str,
    run: &SyncRunRow,
    payload: serde_json::Value,
) -> pp_db::Result<()> {
    let Some(event) = envelope(tx, event_type, run, payload) else {
        return Ok(());
    };
    pp_events::outbox::record(tx, SCHEMA, &event).await
}
