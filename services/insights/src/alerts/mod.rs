//! Alerts: what is checked, when, and how an alert is raised once.
//!
//! Each evaluation of a brand (after its rollups are refreshed by a
//! `data.sync_completed`, and on a schedule) checks:
//!
//! - its enabled **threshold rules** ([`rules`]: a catalogue metric through the engine
//!   over the rule's trailing window of whole days);
//! - **anomalies** ([`anomaly`]) of the last complete brand-local day's net revenue,
//!   orders, ad spend and blended ROAS against the same weekday of the 8 weeks before;
//! - **stock-out risk**: every variant the forecast rates HIGH (30-day horizon, 28-day
//!   velocity, as GetInventoryForecast's defaults).
//!
//! Sync alerts come from events instead ([`handle_sync_failed`]): a `data.sync_failed`
//! whose `error_reason` says the credentials are gone raises `reauth_required`
//! (CRITICAL), any other failure `sync_failed` (WARNING); a user's disconnect raises
//! nothing. The next `data.sync_completed` of that integration resolves both.
//!
//! Every check yields, per condition (`condition_key`), "firing" or "clear". Firing
//! raises an alert unless the condition already has an unresolved one (so a condition
//! that stays true is one alert, however often it is checked), and at most once per
//! brand-local day (a unique key, so racing evaluators cannot both insert). Clear
//! resolves the condition's open or acknowledged alert. Each raised alert writes
//! `alert.raised` to the outbox in the same transaction.

pub mod anomaly;
pub mod checks;
pub mod rules;

use std::time::Duration;

use chrono::NaiveDate;
use pp_auth::TenantId;
use pp_db::{Lookup, PgPool, TenantTx};
use pp_events::EventEnvelope;
use pp_proto::insights as pb;
use prost::Message;
use uuid::Uuid;

use crate::store::alerts::{self as store, AlertRow, NewAlert};
use crate::store::{self as brand_store, SCHEMA, commerce, rollups};

/// The event of a failed (or cancelled) sync run.
pub const SYNC_FAILED: &str = "data.sync_failed";
/// The event of a raised alert.
pub const ALERT_RAISED: &str = "alert.raised";
/// The event of an acknowledged alert.
pub const ALERT_ACKNOWLEDGED: &str = "alert.acknowledged";

/// `error_reason`s of a failed sync that mean the user must reconnect.
const REAUTH_REASONS: [&str; 4] = [
    "TOKEN_REVOKED",
    "SCOPES_MISSING",
    "TOKEN_EXPIRED",
    "REAUTH_REQUIRED",
];
/// `error_reason` of a run cancelled because the user disconnected: not an alert.
const DISCONNECTED: &str = "INTEGRATION_DISCONNECTED";

/// What a check concluded about one condition.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Raise this alert (unless its condition is already alerted).
    Firing(NewAlert),
    /// The condition (this key) holds no longer: resolve its alert.
    Clear(String),
}

/// Evaluates every check of one brand in its tenant and applies the outcomes in one
/// transaction; returns how many alerts were raised (0 when the brand is gone).
pub async fn evaluate_brand(
    pool: &PgPool,
    tenant: TenantId,
    brand_id: Uuid,
) -> pp_db::Result<usize> {
    let mut tx = TenantTx::begin_for_tenant(pool, tenant).await?;
    brand_store::lock_brand(&mut tx, brand_id, brand_store::BrandLock::Alerts).await?;
    let Some(brand) = brand_store::brand(&mut tx, brand_id).await? else {
        tx.rollback().await?;
        return Ok(0);
    };
    let today = commerce::brand_today(&mut tx, &brand).await?;
    let mut outcomes = checks::threshold_rules(&mut tx, &brand, today).await?;
    outcomes.extend(checks::anomalies(&mut tx, &brand, today).await?);
    outcomes.extend(checks::stockout_risk(&mut tx, &brand, today).await?);
    let raised = apply(&mut tx, brand_id, outcomes).await?;
    tx.commit().await?;
    Ok(raised)
}

/// Raises the firing outcomes (each with its `alert.raised` event) and resolves the
/// clear ones; returns how many alerts were raised.
pub async fn apply(
    tx: &mut TenantTx,
    brand_id: Uuid,
    outcomes: Vec<Outcome>,
) -> pp_db::Result<usize> {
    let mut raised = 0;
    for outcome in outcomes {
        match outcome {
            Outcome::Firing(alert) => {
                if let Some(row) = store::raise(tx, &alert).await? {
                    record_raised(tx, &row).await?;
                    raised += 1;
                }
            }
            Outcome::Clear(key) => {
                store::resolve(tx, brand_id, &key).await?;
            }
        }
    }
    Ok(raised)
}

/// The observed figure of an alert, decoded (`None` when it has none).
pub fn observed(row: &AlertRow) -> Option<pb::Figure> {
    row.observed
        .as_deref()
        .and_then(|bytes| pb::Figure::decode(bytes).ok())
}

/// Writes `alert.raised` for `row` to the outbox, in the transaction that raised it.
async fn record_raised(tx: &mut TenantTx, row: &AlertRow) -> pp_db::Result<()> {
    let Some(tenant) = tx.tenant_id() else {
        return Ok(());
    };
    let figure = observed(row);
    let payload = serde_json::json!({
        "alert_id": row.alert_id,
        "alert_rule_id": row.alert_rule_id,
        "kind": row.kind,
        "condition_key": row.condition_key,
        "severity": row.severity,
        "title": row.title,
        "day": row.day,
        "metric": figure.as_ref().map(|f| f.metric.clone()),
        "observed_value": figure.as_ref().map(|f| f.value),
        "threshold": row.threshold,
    });
    let event = EventEnvelope::new(tenant.0, ALERT_RAISED, payload).with_brand(row.brand_id);
    pp_events::outbox::record(tx, SCHEMA, &event).await
}

/// Writes `alert.acknowledged` for `row` to the outbox, in the acknowledging
/// transaction.
pub async fn record_acknowledged(
    tx: &mut TenantTx,
    row: &AlertRow,
    user_id: Uuid,
) -> pp_db::Result<()> {
    let Some(tenant) = tx.tenant_id() else {
        return Ok(());
    };
    let payload = serde_json::json!({
        "alert_id": row.alert_id,
        "alert_rule_id": row.alert_rule_id,
        "kind": row.kind,
        "severity": row.severity,
        "state": row.state,
    });
    let event = EventEnvelope::new(tenant.0, ALERT_ACKNOWLEDGED, payload)
        .with_brand(row.brand_id)
        .with_user(user_id)
        .with_current_request_id();
    pp_events::outbox::record(tx, SCHEMA, &event).await
}

/// The condition key of a threshold rule.
pub fn rule_key(alert_rule_id: Uuid) -> String {
    format!("rule:{alert_rule_id}")
}

/// The integration a sync event names, from its payload.
fn integration_of(event: &EventEnvelope) -> Option<Uuid> {
    event
        .payload
        .get("integration_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
}

/// Condition keys of an integration's sync alerts.
fn sync_keys(integration_id: Uuid) -> [String; 2] {
    [
        format!("sync_failed:{integration_id}"),
        format!("reauth:{integration_id}"),
    ]
}

/// The alert a failed sync raises on `day`, or `None` for a user's disconnect.
pub fn sync_failure_alert(
    event: &EventEnvelope,
    brand_id: Uuid,
    day: NaiveDate,
) -> Option<NewAlert> {
    let integration_id = integration_of(event)?;
    let text = |key: &str| {
        event
            .payload
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let reason = text("error_reason");
    if reason == DISCONNECTED {
        return None;
    }
    let platform = match text("platform") {
        p if p.is_empty() => "an integration".to_owned(),
        p => p,
    };
    let [failed_key, reauth_key] = sync_keys(integration_id);
    let (kind, key, severity, title, message) = if REAUTH_REASONS.contains(&reason.as_str()) {
        (
            "reauth_required",
            reauth_key,
            rules::Severity::Critical,
            format!("Reconnect {platform}"),
            format!(
                "{platform} no longer accepts Pulsepoint's access ({reason}); data stops \
                 syncing until the integration is reconnected."
            ),
        )
    } else {
        (
            "sync_failed",
            failed_key,
            rules::Severity::Warning,
            format!("{platform} sync failed"),
            format!(
                "The last {platform} sync failed ({}); figures may be out of date until a \
                 sync succeeds.",
                if reason.is_empty() {
                    "no reason given"
                } else {
                    reason.as_str()
                }
            ),
        )
    };
    Some(NewAlert {
        brand_id,
        alert_rule_id: None,
        kind,
        condition_key: key,
        day,
        severity: severity.as_str(),
        title,
        message,
        observed: None,
        threshold: 0.0,
    })
}

/// Handles a `data.sync_failed` naming a brand: raises its sync alert, once per event
/// id (a redelivery changes nothing). Returns whether the event was handled.
pub async fn handle_sync_failed(pool: &PgPool, event: &EventEnvelope) -> pp_db::Result<bool> {
    let Some(brand_id) = event.brand_id else {
        return Ok(false);
    };
    let mut tx = TenantTx::begin_for_tenant(pool, TenantId(event.tenant_id)).await?;
    if !rollups::claim_event(&mut tx, event.event_id).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    brand_store::lock_brand(&mut tx, brand_id, brand_store::BrandLock::Alerts).await?;
    let Some(brand) = brand_store::brand(&mut tx, brand_id).await? else {
        tx.commit().await?;
        return Ok(true);
    };
    let today = commerce::brand_today(&mut tx, &brand).await?;
    if let Some(alert) = sync_failure_alert(event, brand_id, today) {
        apply(&mut tx, brand_id, vec![Outcome::Firing(alert)]).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// After a sync completed and the brand's rollups were refreshed: resolves the
/// integration's sync alerts and evaluates the brand. Failures are logged, not
/// returned (the rollups are committed; the schedule evaluates again).
pub async fn after_sync_completed(pool: &PgPool, event: &EventEnvelope, brand_id: Uuid) {
    let tenant = TenantId(event.tenant_id);
    if let Some(integration_id) = integration_of(event) {
        let cleared = sync_keys(integration_id)
            .into_iter()
            .map(Outcome::Clear)
            .collect();
        let resolved = async {
            let mut tx = TenantTx::begin_for_tenant(pool, tenant).await?;
            brand_store::lock_brand(&mut tx, brand_id, brand_store::BrandLock::Alerts).await?;
            apply(&mut tx, brand_id, cleared).await?;
            tx.commit().await
        };
        if let Err(err) = resolved.await {
            tracing::warn!(%err, brand.id = %brand_id, "sync alerts not resolved");
        }
    }
    match evaluate_brand(pool, tenant, brand_id).await {
        Ok(raised) => tracing::info!(brand.id = %brand_id, raised, "alerts evaluated after sync"),
        Err(err) => {
            tracing::warn!(%err, brand.id = %brand_id, "alert evaluation failed; the schedule retries")
        }
    }
}

/// Evaluates every brand that has rollups, each in its own tenant; a brand that fails
/// is logged and skipped. Returns how many alerts were raised.
pub async fn evaluate_all(pool: &PgPool) -> pp_db::Result<usize> {
    let mut lookup = TenantTx::begin_lookup(pool, Lookup::RollupSweep, "on").await?;
    let brands = rollups::swept_brands(&mut lookup).await?;
    lookup.commit().await?;
    let mut raised = 0;
    for (tenant_id, brand_id) in brands {
        match evaluate_brand(pool, TenantId(tenant_id), brand_id).await {
            Ok(count) => raised += count,
            Err(err) => tracing::warn!(%err, brand.id = %brand_id, "alert evaluation failed"),
        }
    }
    Ok(raised)
}

/// Runs [`evaluate_all`] every `every` until `shutdown`.
pub async fn run_evaluator(
    pool: PgPool,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
        match evaluate_all(&pool).await {
            Ok(raised) => tracing::info!(raised, "scheduled alert evaluation done"),
            Err(err) => tracing::warn!(%err, "scheduled alert evaluation failed; next one retries"),
        }
    }
}
