//! Storing delivered events: once per event id, budget alerts once per threshold.

use pp_auth::TenantId;
use pp_db::TenantTx;
use pp_events::EventEnvelope;

use crate::State;
use crate::budget::{self, Period};
use crate::store::{self, EventRow, SCHEMA};

/// Stores `event` (idempotently), raises budget alerts an AI call pushed over a
/// threshold, and tells live tails. Returns whether the event was new.
pub async fn ingest(state: &State, event: &EventEnvelope) -> Result<bool, sqlx::Error> {
    let mut tx = TenantTx::begin_for_tenant(&state.pool, TenantId(event.tenant_id)).await?;
    let inserted = store::insert_event(&mut tx, event).await?;
    let mut alerts = Vec::new();
    if inserted
        && event.event_type == "ai.model_called"
        && let Some(row) = store::get_budget(&mut tx).await?
    {
        let period = Period::parse(&row.period).unwrap_or(Period::Monthly);
        let (start, _) = period.bounds(chrono::Utc::now());
        let spent = store::spent_since(&mut tx, start).await?;
        for threshold in budget::reached(spent, row.limit_micros, row.warning_ratio) {
            // One alert per threshold and period, however many calls cross it.
            if store::claim_alert(&mut tx, start, threshold).await? {
                let event_type = if threshold == "limit" {
                    "budget.limit_reached"
                } else {
                    "budget.warning"
                };
                let alert = EventEnvelope::new(
                    event.tenant_id,
                    event_type,
                    serde_json::json!({
                        "period": row.period,
                        "limit_micros": row.limit_micros,
                        "spent_micros": spent,
                        "currency_code": row.currency_code,
                        "limit_reached": threshold == "limit",
                    }),
                );
                // Stored now (the copy coming back from Pub/Sub is then a duplicate)
                // and published for everyone else.
                store::insert_event(&mut tx, &alert).await?;
                pp_events::outbox::record(&mut tx, SCHEMA, &alert).await?;
                alerts.push(alert);
            }
        }
    }
    tx.commit().await?;
    if inserted {
        // Live tails get the event (and any alert) once it is durable.
        let _ = state.live.send(std::sync::Arc::new(EventRow::from(event)));
        for alert in &alerts {
            let _ = state.live.send(std::sync::Arc::new(EventRow::from(alert)));
        }
    }
    Ok(inserted)
}
