//! Alert rules and alerts: CreateAlertRule, ListAlertRules, DeleteAlertRule,
//! ListAlerts, AcknowledgeAlert. Evaluation lives in `crate::alerts`.

use chrono::{DateTime, Utc};
use pp_auth::Principal;
use pp_db::idempotency::{self, Scope};
use pp_db::{Cursor, TenantTx};
use pp_error::ApiError;
use pp_metrics::Metric;
use pp_proto::insights as pb;
use pp_types::Violations;
use pp_types::convert::timestamp;
use sqlx::types::Json;
use uuid::Uuid;

use super::paging::{bound_page, bound_token, fingerprint, trigger_span};
use super::{ACTORS, InsightsApi, READERS};
use crate::alerts::rules::{self, Condition, Severity};
use crate::engine::{self, Dimension};
use crate::store::SCHEMA;
use crate::store::alerts::{self as store, AlertFilter, AlertRow, RuleFilter, RuleRow};

/// The longest display name of a rule.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// The most filters a rule may have.
pub const MAX_FILTERS: usize = 5;
/// The longest filter value and acknowledgement note.
const MAX_FILTER_VALUE_CHARS: usize = 255;
const MAX_NOTE_CHARS: usize = 1000;

fn condition_of(value: i32) -> Option<Condition> {
    match pb::AlertCondition::try_from(value).ok()? {
        pb::AlertCondition::Above => Some(Condition::Above),
        pb::AlertCondition::Below => Some(Condition::Below),
        pb::AlertCondition::ChangeUp => Some(Condition::ChangeUp),
        pb::AlertCondition::ChangeDown => Some(Condition::ChangeDown),
        pb::AlertCondition::Unspecified => None,
    }
}

fn condition_proto(condition: &str) -> pb::AlertCondition {
    match Condition::parse(condition) {
        Some(Condition::Above) => pb::AlertCondition::Above,
        Some(Condition::Below) => pb::AlertCondition::Below,
        Some(Condition::ChangeUp) => pb::AlertCondition::ChangeUp,
        Some(Condition::ChangeDown) => pb::AlertCondition::ChangeDown,
        None => pb::AlertCondition::Unspecified,
    }
}

/// A severity field: unspecified is `None`, an unknown number `Err`.
fn severity_of(value: i32) -> Result<Option<Severity>, ()> {
    match pb::AlertSeverity::try_from(value).map_err(drop)? {
        pb::AlertSeverity::Unspecified => Ok(None),
        pb::AlertSeverity::Info => Ok(Some(Severity::Info)),
        pb::AlertSeverity::Warning => Ok(Some(Severity::Warning)),
        pb::AlertSeverity::Critical => Ok(Some(Severity::Critical)),
    }
}

fn severity_proto(severity: &str) -> pb::AlertSeverity {
    match Severity::parse(severity) {
        Some(Severity::Info) => pb::AlertSeverity::Info,
        Some(Severity::Warning) => pb::AlertSeverity::Warning,
        Some(Severity::Critical) => pb::AlertSeverity::Critical,
        None => pb::AlertSeverity::Unspecified,
    }
}

fn state_proto(state: &str) -> pb::AlertState {
    match state {
        "open" => pb::AlertState::Open,
        "acknowledged" => pb::AlertState::Acknowledged,
        "resolved" => pb::AlertState::Resolved,
        _ => pb::AlertState::Unspecified,
    }
}

pub fn rule_proto(row: &RuleRow) -> pb::AlertRule {
    pb::AlertRule {
        alert_rule_id: row.alert_rule_id.to_string(),
        brand_id: row.brand_id.to_string(),
        display_name: row.display_name.clone(),
        metric: row.metric.clone(),
        filters: row
            .filters
            .0
            .iter()
            .map(|f| pb::MetricFilter {
                dimension: f.dimension.clone(),
                value: f.value.clone(),
            })
            .collect(),
        condition: condition_proto(&row.condition) as i32,
        threshold: row.threshold,
        window: Some(prost_types::Duration {
            seconds: row.window_seconds,
            nanos: 0,
        }),
        severity: severity_proto(&row.severity) as i32,
        enabled: row.enabled,
        created_by_user_id: row.created_by.map(|u| u.to_string()).unwrap_or_default(),
        create_time: Some(timestamp(row.created_at)),
    }
}

pub fn alert_proto(row: &AlertRow) -> pb::Alert {
    pb::Alert {
        alert_id: row.alert_id.to_string(),
        brand_id: row.brand_id.to_string(),
        alert_rule_id: row
            .alert_rule_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        severity: severity_proto(&row.severity) as i32,
        state: state_proto(&row.state) as i32,
        title: row.title.clone(),
        message: row.message.clone(),
        observed: crate::alerts::observed(row),
        threshold: row.threshold,
        trigger_time: Some(timestamp(row.triggered_at)),
        acknowledge_time: row.acknowledged_at.map(timestamp),
        acknowledged_by_user_id: row
            .acknowledged_by
            .map(|u| u.to_string())
            .unwrap_or_default(),
        resolve_time: row.resolved_at.map(timestamp),
        kind: row.kind.clone(),
    }
}

/// A validated rule, ready to store.
struct NewRule {
    brand_id: Uuid,
    display_name: String,
    metric: Metric,
    filters: Vec<RuleFilter>,
    condition: Condition,
    threshold: f64,
    window_seconds: i64,
    severity: Severity,
    enabled: bool,
}

/// Checks every field of a rule; each violation names `alert_rule.<field>`.
fn validate_rule(violations: &mut Violations, rule: &pb::AlertRule) -> Option<NewRule> {
    let brand_id = violations.uuid("alert_rule.brand_id", &rule.brand_id);
    let metric = Metric::from_id(rule.metric.trim());
    if metric.is_none() {
        violations.add("alert_rule.metric", "is not a metric of the catalogue");
    }
    let filters = validate_filters(violations, metric, &rule.filters);
    let condition = condition_of(rule.condition);
    if condition.is_none() {
        violations.add(
            "alert_rule.condition",
            "must be ABOVE, BELOW, CHANGE_UP or CHANGE_DOWN",
        );
    }
    if !rule.threshold.is_finite() {
        violations.add("alert_rule.threshold", "must be a finite number");
    } else if condition.is_some_and(Condition::is_change) && rule.threshold <= 0.0 {
        violations.add(
            "alert_rule.threshold",
            "must be a positive fraction for CHANGE_UP and CHANGE_DOWN (0.2 = 20 %)",
        );
    }
    let window_seconds = match &rule.window {
        None => {
            violations.add("alert_rule.window", "is required");
            None
        }
        Some(window)
            if window.nanos != 0
                || !(rules::MIN_WINDOW_SECONDS..=rules::MAX_WINDOW_SECONDS)
                    .contains(&window.seconds) =>
        {
            violations.add(
                "alert_rule.window",
                "must be whole seconds between 1 hour and 90 days",
            );
            None
        }
        Some(window) => Some(window.seconds),
    };
    let severity = match severity_of(rule.severity) {
        Ok(severity) => severity.unwrap_or(Severity::Warning),
        Err(()) => {
            violations.add("alert_rule.severity", "is not a severity");
            Severity::Warning
        }
    };
    let display_name = rule.display_name.trim().to_owned();
    if display_name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        violations.add(
            "alert_rule.display_name",
            format!("must have at most {MAX_DISPLAY_NAME_CHARS} characters"),
        );
    }
    let (brand_id, metric, filters, condition, window_seconds) =
        (brand_id?, metric?, filters?, condition?, window_seconds?);
    let display_name = if display_name.is_empty() {
        default_name(metric, condition, rule.threshold)
    } else {
        display_name
    };
    Some(NewRule {
        brand_id,
        display_name,
        metric,
        filters,
        condition,
        threshold: rule.threshold,
        window_seconds,
        severity,
        enabled: rule.enabled,
    })
}

/// A rule's name when the client gave none: "Net revenue below 1000".
fn default_name(metric: Metric, condition: Condition, threshold: f64) -> String {
    let name = metric.definition().display_name;
    match condition {
        Condition::Above => format!("{name} above {threshold}"),
        Condition::Below => format!("{name} below {threshold}"),
        Condition::ChangeUp => format!("{name} up more than {}%", threshold * 100.0),
        Condition::ChangeDown => format!("{name} down more than {}%", threshold * 100.0),
    }
}

/// The filters: each on a dimension the metric has (never `day`), once, with a value
/// the dimension takes.
fn validate_filters(
    violations: &mut Violations,
    metric: Option<Metric>,
    filters: &[pb::MetricFilter],
) -> Option<Vec<RuleFilter>> {
    if filters.len() > MAX_FILTERS {
        violations.add(
            "alert_rule.filters",
            format!("must have at most {MAX_FILTERS} filters"),
        );
        return None;
    }
    let mut valid = Vec::new();
    let mut seen = Vec::new();
    let mut ok = true;
    for (i, filter) in filters.iter().enumerate() {
        let field = |name: &str| format!("alert_rule.filters[{i}].{name}");
        let dimension = Dimension::from_name(filter.dimension.trim())
            .filter(|d| *d != Dimension::Day)
            .filter(|d| metric.is_none_or(|m| engine::dimensions(m).contains(d)));
        let Some(dimension) = dimension else {
            violations.add(
                field("dimension"),
                "is not a dimension this metric can be filtered by",
            );
            ok = false;
            continue;
        };
        if seen.contains(&dimension) {
            violations.add(field("dimension"), "is filtered on twice");
            ok = false;
        }
        seen.push(dimension);
        let value = filter.value.trim();
        let bad_value = value.is_empty()
            || value.chars().count() > MAX_FILTER_VALUE_CHARS
            || (dimension == Dimension::Platform && engine::platform_column(value).is_none());
        if bad_value {
            violations.add(
                field("value"),
                "must be a value of the dimension (platforms: META_ADS, TIKTOK_ADS, GOOGLE_ADS)",
            );
            ok = false;
        }
        valid.push(RuleFilter {
            dimension: dimension.name().to_owned(),
            value: value.to_owned(),
        });
    }
    ok.then_some(valid)
}

/// The states ListAlerts shows for a `state` field (unspecified: open and acknowledged).
fn states_of(violations: &mut Violations, value: i32) -> &'static [&'static str] {
    match pb::AlertState::try_from(value) {
        Ok(pb::AlertState::Unspecified) => &["open", "acknowledged"],
        Ok(pb::AlertState::Open) => &["open"],
        Ok(pb::AlertState::Acknowledged) => &["acknowledged"],
        Ok(pb::AlertState::Resolved) => &["resolved"],
        Err(_) => {
            violations.add("state", "is not an alert state");
            &[]
        }
    }
}

/// The severities at or above `min_severity` (unspecified: every one).
fn severities_from(violations: &mut Violations, value: i32) -> Vec<&'static str> {
    let min = match severity_of(value) {
        Ok(min) => min.unwrap_or(Severity::Info),
        Err(()) => {
            violations.add("min_severity", "is not a severity");
            Severity::Info
        }
    };
    Severity::ALL
        .into_iter()
        .filter(|s| *s >= min)
        .map(Severity::as_str)
        .collect()
}

impl InsightsApi {
    pub(super) async fn create_rule(
        &self,
        principal: Principal,
        request: pb::CreateAlertRuleRequest,
    ) -> Result<pb::CreateAlertRuleResponse, ApiError> {
        principal.require(ACTORS)?;
        let Some(input) = request.alert_rule.as_ref() else {
            return Err(ApiError::invalid("alert_rule", "is required"));
        };
        let mut violations = Violations::new();
        let rule = validate_rule(&mut violations, input);
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let Some(rule) = rule else {
            return Err(ApiError::internal("validated alert rule incomplete"));
        };
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = Scope {
            schema: SCHEMA,
            rpc: "CreateAlertRule",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            self.visible_brand(&mut tx, &principal, rule.brand_id)
                .await?;
            let row = store::insert_rule(
                &mut tx,
                &RuleRow {
                    alert_rule_id: Uuid::now_v7(),
                    brand_id: rule.brand_id,
                    display_name: rule.display_name,
                    metric: rule.metric.id().to_owned(),
                    filters: Json(rule.filters),
                    condition: rule.condition.as_str().to_owned(),
                    threshold: rule.threshold,
                    window_seconds: rule.window_seconds,
                    severity: rule.severity.as_str().to_owned(),
                    enabled: rule.enabled,
                    created_by: Some(principal.user_id.0),
                    created_at: Utc::now(),
                },
            )
            .await?;
            let response = pb::CreateAlertRuleResponse {
                alert_rule: Some(rule_proto(&row)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }

    pub(super) async fn list_rules(
        &self,
        principal: Principal,
        request: pb::ListAlertRulesRequest,
    ) -> Result<pb::ListAlertRulesResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.optional_uuid("brand_id", &request.brand_id);
        let query = fingerprint(&["ListAlertRules", &request.brand_id]);
        let page = bound_page(
            &mut violations,
            request.page_size,
            &request.page_token,
            query,
        );
        violations.finish()?;
        let Some(page) = page else {
            return Err(ApiError::internal("validated page missing"));
        };
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let listed = self.listed_brands(&mut tx, &principal, brand_id).await?;
        let brands = listed.as_deref();
        let rows = store::list_rules(&mut tx, brands, &page).await?;
        tx.commit().await?;
        let (rows, next) = page.finish(rows, |r| Cursor {
            created_at: r.created_at,
            id: r.alert_rule_id,
        });
        Ok(pb::ListAlertRulesResponse {
            alert_rules: rows.iter().map(rule_proto).collect(),
            next_page_token: bound_token(next, query),
        })
    }

    pub(super) async fn delete_rule(
        &self,
        principal: Principal,
        request: pb::DeleteAlertRuleRequest,
    ) -> Result<pb::DeleteAlertRuleResponse, ApiError> {
        principal.require(ACTORS)?;
        let mut violations = Violations::new();
        let rule_id = violations.uuid("alert_rule_id", &request.alert_rule_id);
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let Some(rule_id) = rule_id else {
            return Err(ApiError::internal("validated rule id missing"));
        };
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = Scope {
            schema: SCHEMA,
            rpc: "DeleteAlertRule",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let Some(brand_id) = store::rule_brand(&mut tx, rule_id)
                .await?
                .filter(|brand_id| principal.may_see_brand(*brand_id))
            else {
                return Err(ApiError::NotFound("ALERT_RULE_NOT_FOUND"));
            };
            if !store::delete_rule(&mut tx, rule_id).await? {
                return Err(ApiError::NotFound("ALERT_RULE_NOT_FOUND"));
            }
            // Its alerts are kept, but nothing will evaluate the rule again: resolved.
            store::resolve(&mut tx, brand_id, &crate::alerts::rule_key(rule_id)).await?;
            Ok::<_, ApiError>((tx, pb::DeleteAlertRuleResponse {}))
        })
        .await
    }

    pub(super) async fn alerts_page(
        &self,
        principal: Principal,
        request: pb::ListAlertsRequest,
    ) -> Result<pb::ListAlertsResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.optional_uuid("brand_id", &request.brand_id);
        let states = states_of(&mut violations, request.state);
        let severities = severities_from(&mut violations, request.min_severity);
        let (from, until) = trigger_span(&mut violations, request.time_range.as_ref());
        let stamp = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let query = fingerprint(&[
            "ListAlerts",
            &request.brand_id,
            &request.state.to_string(),
            &request.min_severity.to_string(),
            &stamp(from),
            &stamp(until),
        ]);
        let page = bound_page(
            &mut violations,
            request.page_size,
            &request.page_token,
            query,
        );
        violations.finish()?;
        let Some(page) = page else {
            return Err(ApiError::internal("validated page missing"));
        };
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let listed = self.listed_brands(&mut tx, &principal, brand_id).await?;
        let brands = listed.as_deref();
        let filter = AlertFilter {
            brands,
            states,
            severities: &severities,
            triggered_from: from,
            triggered_until: until,
        };
        let rows = store::list_alerts(&mut tx, &filter, &page).await?;
        tx.commit().await?;
        let (rows, next) = page.finish(rows, |r| Cursor {
            created_at: r.triggered_at,
            id: r.alert_id,
        });
        Ok(pb::ListAlertsResponse {
            alerts: rows.iter().map(alert_proto).collect(),
            next_page_token: bound_token(next, query),
        })
    }

    pub(super) async fn acknowledge(
        &self,
        principal: Principal,
        request: pb::AcknowledgeAlertRequest,
    ) -> Result<pb::AcknowledgeAlertResponse, ApiError> {
        principal.require(ACTORS)?;
        let mut violations = Violations::new();
        let alert_id = violations.uuid("alert_id", &request.alert_id);
        violations.request_id("request_id", &request.request_id);
        let note = request.note.trim();
        if note.chars().count() > MAX_NOTE_CHARS {
            violations.add(
                "note",
                format!("must have at most {MAX_NOTE_CHARS} characters"),
            );
        }
        violations.finish()?;
        let Some(alert_id) = alert_id else {
            return Err(ApiError::internal("validated alert id missing"));
        };
        let note = (!note.is_empty()).then_some(note);
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = Scope {
            schema: SCHEMA,
            rpc: "AcknowledgeAlert",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let user_id = principal.user_id.0;
            let Some((row, changed)) = store::acknowledge(&mut tx, alert_id, user_id, note)
                .await?
                .filter(|(row, _)| principal.may_see_brand(row.brand_id))
            else {
                return Err(ApiError::NotFound("ALERT_NOT_FOUND"));
            };
            if changed {
                crate::alerts::record_acknowledged(&mut tx, &row, user_id).await?;
            }
            let response = pb::AcknowledgeAlertResponse {
                alert: Some(alert_proto(&row)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> pb::AlertRule {
        pb::AlertRule {
            brand_id: Uuid::new_v4().to_string(),
            metric: "ad_spend".into(),
            filters: vec![pb::MetricFilter {
                dimension: "platform".into(),
                value: "META_ADS".into(),
            }],
            condition: pb::AlertCondition::Above as i32,
            threshold: 100.0,
            window: Some(prost_types::Duration {
                seconds: 86_400,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn fields(rule: &pb::AlertRule) -> Vec<String> {
        let mut violations = Violations::new();
        validate_rule(&mut violations, rule);
        violations
            .into_inner()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_valid_rule_defaults_its_name_and_severity() {
        let mut violations = Violations::new();
        let valid = validate_rule(&mut violations, &rule()).expect("valid");
        assert!(violations.is_empty());
        assert_eq!(valid.severity, Severity::Warning);
        assert_eq!(valid.display_name, "Ad spend above 100");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = rule();
        bad.metric = "vibes".into();
        assert_eq!(fields(&bad), ["alert_rule.metric"]);
        let mut bad = rule();
        bad.metric = "net_revenue".into();
        assert_eq!(fields(&bad), ["alert_rule.filters[0].dimension"]);
        let mut bad = rule();
        bad.filters[0].value = "MYSPACE".into();
        assert_eq!(fields(&bad), ["alert_rule.filters[0].value"]);
        let mut bad = rule();
        bad.condition = 0;
        assert_eq!(fields(&bad), ["alert_rule.condition"]);
        let mut bad = rule();
        bad.threshold = f64::NAN;
        assert_eq!(fields(&bad), ["alert_rule.threshold"]);
        let mut bad = rule();
        bad.window = Some(prost_types::Duration {
            seconds: 3599,
            nanos: 0,
        });
        assert_eq!(fields(&bad), ["alert_rule.window"]);
        bad.window = Some(prost_types::Duration {
            seconds: 91 * 86_400,
            nanos: 0,
        });
        assert_eq!(fields(&bad), ["alert_rule.window"]);
        let mut bad = rule();
        bad.display_name = "x".repeat(201);
        assert_eq!(fields(&bad), ["alert_rule.display_name"]);
        let mut bad = rule();
        bad.severity = 42;
        assert_eq!(fields(&bad), ["alert_rule.severity"]);
    }

    #[test]
    fn page_tokens_are_bound_to_their_query() {
        let token = bound_token("abc".into(), 7);
        let mut violations = Violations::new();
        assert!(bound_page(&mut violations, 10, &token, 8).is_none());
        assert_eq!(
            violations
                .into_inner()
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>(),
            ["page_token"]
        );
        assert_eq!(bound_token(String::new(), 7), "");
    }
}
