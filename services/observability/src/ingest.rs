//! Storing delivered events: once per event id, running AI spend, budget alerts once
//! per threshold.

use std::collections::BTreeMap;
use std::sync::Arc;

use pp_auth::TenantId;
use pp_db::TenantTx;
use pp_events::EventEnvelope;
use uuid::Uuid;

use crate::State;
use crate::budget::{self, Period};
use crate::store::{self, EventRow, SCHEMA};

/// The event type whose `payload.cost_micros` counts against budgets.
pub const MODEL_CALLED: &str = "ai.model_called";

/// Stores one event (idempotently); see [`ingest_batch`]. Returns whether it was new.
pub async fn ingest(state: &State, event: &EventEnvelope) -> pp_db::Result<bool> {
    ingest_batch(state, std::slice::from_ref(event))
        .await
        .map(|new| new == 1)
}

/// Stores a delivered batch, one transaction per tenant (in tenant order, events in id
/// order, so concurrent batches lock rows in the same order): events already stored
/// are skipped, newly stored `ai.model_called` events are added to the tenant's running
/// spend, and a budget threshold crossed raises its alert once per period. Live tails
/// hear about new events once they are durable. Returns how many events were new.
///
/// On error nothing of the failing tenant's share is stored and the whole batch is
/// redelivered; the shares already committed are then skipped as duplicates.
pub async fn ingest_batch(state: &State, events: &[EventEnvelope]) -> pp_db::Result<usize> {
    let mut by_tenant: BTreeMap<Uuid, BTreeMap<Uuid, &EventEnvelope>> = BTreeMap::new();
    for event in events {
        by_tenant
            .entry(event.tenant_id)
            .or_default()
            .insert(event.event_id, event);
    }
    let mut stored = 0;
    for (tenant, events) in by_tenant {
        let events: Vec<&EventEnvelope> = events.into_values().collect();
        stored += ingest_tenant(state, tenant, &events).await?;
    }
    Ok(stored)
}

async fn ingest_tenant(
    state: &State,
    tenant: Uuid,
    events: &[&EventEnvelope],
) -> pp_db::Result<usize> {
    let mut tx = TenantTx::begin_for_tenant(&state.pool, TenantId(tenant)).await?;
    let new: std::collections::HashSet<Uuid> = store::insert_events(&mut tx, events)
        .await?
        .into_iter()
        .collect();
    let new_events: Vec<&EventEnvelope> = events
        .iter()
        .copied()
        .filter(|e| new.contains(&e.event_id))
        .collect();

    // Running spend per UTC day, one upsert per day touched.
    let mut spend: BTreeMap<chrono::NaiveDate, (i64, i64)> = BTreeMap::new();
    for event in new_events.iter().filter(|e| e.event_type == MODEL_CALLED) {
        let day = spend.entry(event.occurred_at.date_naive()).or_default();
        day.0 = day.0.saturating_add(cost_micros(&event.payload));
        day.1 += 1;
    }
    let mut alerts = Vec::new();
    if !spend.is_empty() {
        for (day, (cost, calls)) in &spend {
            store::add_spend(&mut tx, *day, *cost, *calls).await?;
        }
        if let Some(row) = store::get_budget(&mut tx).await? {
            alerts = raise_alerts(&mut tx, tenant, &row).await?;
        }
    }
    tx.commit().await?;
    for event in new_events.iter().copied().chain(alerts.iter()) {
        let _ = state.live.send(Arc::new(EventRow::from(event)));
    }
    Ok(new_events.len())
}

/// `payload.cost_micros` as a number or a numeric string; anything else costs 0.
fn cost_micros(payload: &serde_json::Value) -> i64 {
    match payload.get("cost_micros") {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Thresholds the period's spend has reached and that were not alerted yet: each is
/// claimed (once per tenant, period and threshold), stored and put in the outbox.
async fn raise_alerts(
    tx: &mut TenantTx,
    tenant: Uuid,
    row: &store::BudgetRow,
) -> pp_db::Result<Vec<EventEnvelope>> {
    let period = Period::parse(&row.period).unwrap_or(Period::Monthly);
    let (start, _) = period.bounds(chrono::Utc::now());
    let spent = store::spent_since(tx, start).await?;
    let mut alerts = Vec::new();
    for threshold in budget::reached(spent, row.limit_micros, row.warning_ratio) {
        if !store::claim_alert(tx, start, threshold).await? {
            continue;
        }
        let event_type = if threshold == "limit" {
            "budget.limit_reached"
        } else {
            "budget.warning"
        };
        let alert = EventEnvelope::new(
            tenant,
            event_type,
            serde_json::json!({
                "period": row.period,
                "limit_micros": row.limit_micros,
                "spent_micros": spent,
                "currency_code": row.currency_code,
                "limit_reached": threshold == "limit",
            }),
        );
        // Stored now (the copy coming back from Pub/Sub is then a duplicate) and
        // published for everyone else.
        store::insert_events(tx, &[&alert]).await?;
        pp_events::outbox::record(tx, SCHEMA, &alert).await?;
        alerts.push(alert);
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::cost_micros;

    #[test]
    fn cost_is_read_as_number_or_numeric_string() {
        assert_eq!(cost_micros(&serde_json::json!({"cost_micros": 1500})), 1500);
        assert_eq!(cost_micros(&serde_json::json!({"cost_micros": "42"})), 42);
        assert_eq!(cost_micros(&serde_json::json!({"cost_micros": "x"})), 0);
        assert_eq!(cost_micros(&serde_json::json!({})), 0);
    }
}
