//! Storing delivered events: once per event id, running AI spend, budget alerts once
//! per threshold.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pp_auth::TenantId;
use pp_db::TenantTx;
use pp_events::EventEnvelope;
use uuid::Uuid;

use crate::State;
use crate::budget::{self, Threshold};
use crate::store::{self, EventRow, SCHEMA};

/// The event type whose `payload.cost_micros` counts against budgets.
pub const MODEL_CALLED: &str = "ai.model_called";

/// Deliveries refused (acked without being stored: redelivering them cannot help),
/// counted so the refusals show beside the warnings they log.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Events whose content is malformed (an `ai.model_called` with a cost that is
    /// negative or not a whole number of micros).
    pub malformed: AtomicU64,
    /// Messages whose envelope names another tenant than the `tenant_id` attribute
    /// they were published with (or that carry no such attribute).
    pub tenant_mismatch: AtomicU64,
}

impl Refusals {
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    pub fn tenant_mismatch(&self) -> u64 {
        self.tenant_mismatch.load(Ordering::Relaxed)
    }
}

/// Stores a delivered batch (see [`ingest_batch`]) after checking each message's
/// envelope against its Pub/Sub `tenant_id` attribute: the relay sets both from the
/// same outbox row, so a difference means a forged or corrupted message, which is
/// acked away with a warning and counted, never stored. An event recorded inside a
/// traced request gets a span in that request's trace (child of the `traceparent` it
/// travelled with), lasting as long as its batch took to store.
pub async fn store_deliveries(
    state: &State,
    deliveries: Vec<pp_events::consumer::Delivery>,
) -> pp_db::Result<usize> {
    let mut events = Vec::with_capacity(deliveries.len());
    let mut spans = Vec::new();
    for delivery in deliveries {
        let event = delivery.event;
        let attribute = delivery.tenant_attribute.as_deref();
        if attribute != Some(event.tenant_id.to_string().as_str()) {
            state
                .refusals
                .tenant_mismatch
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                event.id = %event.event_id,
                envelope_tenant = %event.tenant_id,
                attribute_tenant = attribute.unwrap_or("(none)"),
                "event refused: envelope tenant differs from the message's tenant_id attribute"
            );
            continue;
        }
        if let Some(traceparent) = delivery.traceparent.as_deref() {
            let span = tracing::info_span!(
                "observability.store_event",
                otel.kind = "consumer",
                messaging.system = "gcp_pubsub",
                messaging.operation = "process",
                event.type = %event.event_type,
                event.id = %event.event_id,
            );
            pp_telemetry::set_parent_from_traceparent(&span, traceparent);
            spans.push(span);
        }
        events.push(event);
    }
    let result = ingest_batch(state, &events).await;
    drop(spans);
    result
}

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
/// hear about new events once they are durable. Malformed events (see [`Refusals`])
/// are skipped with a warning. Returns how many events were new.
///
/// On error nothing of the failing tenant's share is stored and the whole batch is
/// redelivered; the shares already committed are then skipped as duplicates.
pub async fn ingest_batch(state: &State, events: &[EventEnvelope]) -> pp_db::Result<usize> {
    let mut by_tenant: BTreeMap<Uuid, BTreeMap<Uuid, &EventEnvelope>> = BTreeMap::new();
    for event in events {
        if let Err(reason) = check(event) {
            state.refusals.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(event.id = %event.event_id, event.type = %event.event_type, reason, "malformed event refused");
            continue;
        }
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
        // Checked before the batch was split by tenant: never negative here.
        day.0 = day
            .0
            .saturating_add(cost_micros(&event.payload).unwrap_or(0));
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
        state.live.publish(Arc::new(EventRow::from(event)));
    }
    Ok(new_events.len())
}

/// Why an event cannot be stored, if it cannot.
fn check(event: &EventEnvelope) -> Result<(), &'static str> {
    if event.event_type == MODEL_CALLED {
        cost_micros(&event.payload)?;
    }
    Ok(())
}

/// `payload.cost_micros` as a whole number (or a numeric string) of micros; absent
/// means the call cost nothing. Negative or non-numeric is malformed: spend never
/// goes down.
fn cost_micros(payload: &serde_json::Value) -> Result<i64, &'static str> {
    let cost = match payload.get("cost_micros") {
        None | Some(serde_json::Value::Null) => return Ok(0),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    };
    match cost {
        Some(cost) if cost >= 0 => Ok(cost),
        Some(_) => Err("negative cost_micros"),
        None => Err("cost_micros is not a whole number"),
    }
}

/// Thresholds the period's spend has reached and that were not alerted yet: each is
/// claimed (once per tenant, period and threshold), stored and put in the outbox.
async fn raise_alerts(
    tx: &mut TenantTx,
    tenant: Uuid,
    row: &store::BudgetRow,
) -> pp_db::Result<Vec<EventEnvelope>> {
    let (start, _) = row.period.bounds(chrono::Utc::now());
    let spent = store::spent_since(tx, start).await?;
    let mut alerts = Vec::new();
    for threshold in budget::reached(spent, row.limit_micros, row.warning_ratio) {
        if !store::claim_alert(tx, start, threshold).await? {
            continue;
        }
        let event_type = if threshold == Threshold::Limit {
            "budget.limit_reached"
        } else {
            "budget.warning"
        };
        let alert = EventEnvelope::new(
            tenant,
            event_type,
            serde_json::json!({
                "period": row.period.as_str(),
                "limit_micros": row.limit_micros,
                "spent_micros": spent,
                "currency_code": row.currency_code,
                "limit_reached": threshold == Threshold::Limit,
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
    fn cost_is_a_whole_non_negative_number_of_micros() {
        let cost = |payload| cost_micros(&payload);
        assert_eq!(cost(serde_json::json!({"cost_micros": 1500})), Ok(1500));
        assert_eq!(cost(serde_json::json!({"cost_micros": "42"})), Ok(42));
        assert_eq!(cost(serde_json::json!({})), Ok(0));
        assert!(cost(serde_json::json!({"cost_micros": "x"})).is_err());
        assert!(cost(serde_json::json!({"cost_micros": -1})).is_err());
        assert!(cost(serde_json::json!({"cost_micros": 1.5})).is_err());
    }
}
