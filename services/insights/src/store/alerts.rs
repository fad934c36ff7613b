//! SQL of alert rules and alerts (`insights.alert_rules`, `insights.alerts`). Every
//! statement runs in the caller's [`TenantTx`]; RLS keeps tenants apart.

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::{PageRequest, TenantTx};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

/// One filter of a rule, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFilter {
    pub dimension: String,
    pub value: String,
}

/// A rule as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub alert_rule_id: Uuid,
    pub brand_id: Uuid,
    pub display_name: String,
    pub metric: String,
    pub filters: Json<Vec<RuleFilter>>,
    pub condition: String,
    pub threshold: f64,
    pub window_seconds: i64,
    pub severity: String,
    pub enabled: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const RULE_COLUMNS: &str = "alert_rule_id, brand_id, display_name, metric, filters, condition, \
     threshold, window_seconds, severity, enabled, created_by, created_at";

/// Inserts a rule and returns it as stored.
pub async fn insert_rule(tx: &mut TenantTx, rule: &RuleRow) -> pp_db::Result<RuleRow> {
    sqlx::query_as(&format!(
        "insert into insights.alert_rules (tenant_id, alert_rule_id, brand_id, display_name,
             metric, filters, condition, threshold, window_seconds, severity, enabled, created_by)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid,
                 $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning {RULE_COLUMNS}"
    ))
    .bind(rule.alert_rule_id)
    .bind(rule.brand_id)
    .bind(&rule.display_name)
    .bind(&rule.metric)
    .bind(&rule.filters)
    .bind(&rule.condition)
    .bind(rule.threshold)
    .bind(rule.window_seconds)
    .bind(&rule.severity)
    .bind(rule.enabled)
    .bind(rule.created_by)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

/// Deletes a rule; false when the tenant has none with this id.
pub async fn delete_rule(tx: &mut TenantTx, alert_rule_id: Uuid) -> pp_db::Result<bool> {
    let deleted = sqlx::query("delete from insights.alert_rules where alert_rule_id = $1")
        .bind(alert_rule_id)
        .execute(tx.conn())
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// The brand of a rule, if the tenant has it.
pub async fn rule_brand(tx: &mut TenantTx, alert_rule_id: Uuid) -> pp_db::Result<Option<Uuid>> {
    sqlx::query_scalar("select brand_id from insights.alert_rules where alert_rule_id = $1")
        .bind(alert_rule_id)
        .fetch_optional(tx.conn())
        .await
        .map_err(Into::into)
}

/// A page of rules, oldest first: of `brands` (every brand when `None`).
pub async fn list_rules(
    tx: &mut TenantTx,
    brands: Option<&[Uuid]>,
    page: &PageRequest,
) -> pp_db::Result<Vec<RuleRow>> {
    let (after_time, after_id) = page.after_parts();
    sqlx::query_as(&format!(
        "select {RULE_COLUMNS} from insights.alert_rules
         where ($1::uuid[] is null or brand_id = any($1))
           and (created_at, alert_rule_id) > ($2, $3)
         order by created_at, alert_rule_id
         limit $4"
    ))
    .bind(brands)
    .bind(after_time)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// The enabled rules of a brand.
pub async fn enabled_rules(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<Vec<RuleRow>> {
    sqlx::query_as(&format!(
        "select {RULE_COLUMNS} from insights.alert_rules
         where brand_id = $1 and enabled order by created_at, alert_rule_id"
    ))
    .bind(brand_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// An alert as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub alert_id: Uuid,
    pub brand_id: Uuid,
    pub alert_rule_id: Option<Uuid>,
    pub kind: String,
    pub condition_key: String,
    pub day: NaiveDate,
    pub severity: String,
    pub state: String,
    pub title: String,
    pub message: String,
    pub observed: Option<Vec<u8>>,
    pub threshold: f64,
    pub triggered_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const ALERT_COLUMNS: &str = "alert_id, brand_id, alert_rule_id, kind, condition_key, day, \
     severity, state, title, message, observed, threshold, triggered_at, acknowledged_at, \
     acknowledged_by, resolved_at";

/// An alert to raise.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub brand_id: Uuid,
    pub alert_rule_id: Option<Uuid>,
    pub kind: &'static str,
    pub condition_key: String,
    pub day: NaiveDate,
    pub severity: &'static str,
    pub title: String,
    pub message: String,
    pub observed: Option<Vec<u8>>,
    pub threshold: f64,
}

/// Raises `alert` unless its condition already has an unresolved alert, or already
/// fired on `alert.day` (the unique key settles a race). The new row, or `None`.
pub async fn raise(tx: &mut TenantTx, alert: &NewAlert) -> pp_db::Result<Option<AlertRow>> {
    sqlx::query_as(&format!(
        "insert into insights.alerts (tenant_id, alert_id, brand_id, alert_rule_id, kind,
             condition_key, day, severity, title, message, observed, threshold)
         select nullif(current_setting('app.tenant_id', true), '')::uuid,
                $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
         where not exists (select 1 from insights.alerts
                           where brand_id = $2 and condition_key = $5 and state <> 'resolved')
         on conflict do nothing
         returning {ALERT_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(alert.brand_id)
    .bind(alert.alert_rule_id)
    .bind(alert.kind)
    .bind(&alert.condition_key)
    .bind(alert.day)
    .bind(alert.severity)
    .bind(&alert.title)
    .bind(&alert.message)
    .bind(&alert.observed)
    .bind(alert.threshold)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// Resolves the brand's unresolved alerts of `condition_key` (the condition cleared);
/// returns how many.
pub async fn resolve(tx: &mut TenantTx, brand_id: Uuid, condition_key: &str) -> pp_db::Result<u64> {
    let resolved = sqlx::query(
        "update insights.alerts set state = 'resolved', resolved_at = now()
         where brand_id = $1 and condition_key = $2 and state <> 'resolved'",
    )
    .bind(brand_id)
    .bind(condition_key)
    .execute(tx.conn())
    .await?;
    Ok(resolved.rows_affected())
}

/// Acknowledges an alert (an acknowledged or resolved one stays as it is); the alert
/// after the change and whether it changed, or `None` when the tenant has no such alert.
pub async fn acknowledge(
    tx: &mut TenantTx,
    alert_id: Uuid,
    user_id: Uuid,
    note: Option<&str>,
) -> pp_db::Result<Option<(AlertRow, bool)>> {
    let changed: Option<AlertRow> = sqlx::query_as(&format!(
        "update insights.alerts
            set state = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2, note = $3
          where alert_id = $1 and state = 'open'
          returning {ALERT_COLUMNS}"
    ))
    .bind(alert_id)
    .bind(user_id)
    .bind(note)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(row) = changed {
        return Ok(Some((row, true)));
    }
    let current: Option<AlertRow> = sqlx::query_as(&format!(
        "select {ALERT_COLUMNS} from insights.alerts where alert_id = $1"
    ))
    .bind(alert_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(current.map(|row| (row, false)))
}

/// What ListAlerts filters on.
#[derive(Debug, Clone)]
pub struct AlertFilter<'a> {
    /// Only these brands (every brand when `None`).
    pub brands: Option<&'a [Uuid]>,
    /// Only these states.
    pub states: &'a [&'static str],
    /// Only these severities.
    pub severities: &'a [&'static str],
    pub triggered_from: Option<DateTime<Utc>>,
    pub triggered_until: Option<DateTime<Utc>>,
}

/// A page of alerts, newest first.
pub async fn list_alerts(
    tx: &mut TenantTx,
    filter: &AlertFilter<'_>,
    page: &PageRequest,
) -> pp_db::Result<Vec<AlertRow>> {
    let before = page.after;
    let states: Vec<&str> = filter.states.to_vec();
    let severities: Vec<&str> = filter.severities.to_vec();
    sqlx::query_as(&format!(
        "select {ALERT_COLUMNS} from insights.alerts
         where ($1::uuid[] is null or brand_id = any($1))
           and state = any($2) and severity = any($3)
           and ($4::timestamptz is null or triggered_at >= $4)
           and ($5::timestamptz is null or triggered_at < $5)
           and ($6::timestamptz is null or (triggered_at, alert_id) < ($6, $7))
         order by triggered_at desc, alert_id desc
         limit $8"
    ))
    .bind(filter.brands)
    .bind(&states)
    .bind(&severities)
    .bind(filter.triggered_from)
    .bind(filter.triggered_until)
    .bind(before.map(|c| c.created_at))
    .bind(before.map(|c| c.id))
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// The first brand-local day with sales and with ad spend in the rollups.
pub async fn first_data_days(
    tx: &mut TenantTx,
    brand_id: Uuid,
) -> pp_db::Result<(Option<NaiveDate>, Option<NaiveDate>)> {
    sqlx::query_as(
        "select (select min(day) from insights.daily_sales where brand_id = $1),
                (select min(day) from insights.daily_ad_spend where brand_id = $1)",
    )
    .bind(brand_id)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

/// Whether the brand's rollups were last refreshed after brand day `day` ended (so the
/// day is whole in them).
pub async fn rolled_up_past(
    tx: &mut TenantTx,
    brand: &super::BrandInfo,
    day: NaiveDate,
) -> pp_db::Result<bool> {
    let past: Option<bool> = sqlx::query_scalar(
        "select synced_until >= (($2::date + 1)::timestamp at time zone $3)
         from insights.rollup_state where brand_id = $1",
    )
    .bind(brand.brand_id)
    .bind(day)
    .bind(&brand.time_zone)
    .fetch_optional(tx.conn())
    .await?;
    Ok(past.unwrap_or(false))
}
