//! Alerts and alert rules: each kind raised by a crafted data set and not by a normal
//! one, once per condition and day; rules validated (nothing written on bad input),
//! listed with query-bound page tokens and deleted idempotently; acknowledgement
//! idempotent by request id; `alert.raised` / `alert.acknowledged` in the outbox; the
//! analyst reads but does not act.

use pp_proto::brands::Brand;
use pp_proto::common::Role as ProtoRole;
use pp_proto::insights::{
    AcknowledgeAlertRequest, Alert, AlertCondition, AlertRule, AlertSeverity, AlertState,
    CreateAlertRuleRequest, DeleteAlertRuleRequest, ListAlertRulesRequest, ListAlertsRequest,
    MetricFilter,
};
use sqlx::PgPool;
use tonic::Code;
use uuid::Uuid;

use crate::support::*;

/// A USD brand in UTC (so "yesterday" in SQL and in the brand agree).
async fn utc_brand(stack: &Stack, token: &str, name: &str) -> Brand {
    brand_with(stack, token, name, "USD", "UTC").await
}

/// An enabled rule: `metric` BELOW 100 over `window_seconds`.
pub fn rule_on(brand_id: &str, metric: &str, window_seconds: i64) -> AlertRule {
    AlertRule {
        brand_id: brand_id.into(),
        metric: metric.into(),
        condition: AlertCondition::Below as i32,
        threshold: 100.0,
        window: Some(prost_types::Duration {
            seconds: window_seconds,
            nanos: 0,
        }),
        enabled: true,
        ..Default::default()
    }
}

/// Creates `rule` as `token`'s user.
pub async fn create_rule(stack: &Stack, token: &str, rule: AlertRule) -> AlertRule {
    stack
        .insights()
        .await
        .expect("client")
        .create_alert_rule(authed(
            token,
            CreateAlertRuleRequest {
                alert_rule: Some(rule),
                request_id: Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("create rule")
        .into_inner()
        .alert_rule
        .expect("rule")
}

/// A `data.sync_failed` of `integration_id` with `reason`, as integrations records it.
fn sync_failed(
    tenant: &Tenant,
    brand_id: &str,
    integration_id: &str,
    reason: &str,
) -> pp_events::EventEnvelope {
    pp_events::EventEnvelope::new(
        tenant.tenant_id.parse().expect("uuid"),
        "data.sync_failed",
        serde_json::json!({
            "sync_run_id": Uuid::new_v4(),
            "integration_id": integration_id,
            "platform": "shopify",
            "state": "failed",
            "error_reason": reason,
        }),
    )
    .with_brand(brand_id.parse().expect("uuid"))
}

/// Raises a reauth alert for the brand's integration (as its failed sync would) and
/// returns it.
pub async fn reauth_alert(
    stack: &Stack,
    tenant: &Tenant,
    brand_id: &str,
    integration_id: &str,
) -> Alert {
    let event = sync_failed(tenant, brand_id, integration_id, "TOKEN_REVOKED");
    assert!(
        pulsepoint_insights::rollups::handle_event(&stack.insights.pool, &event)
            .await
            .expect("handle")
    );
    alerts_of(
        stack,
        &tenant.admin_token,
        brand_id,
        AlertState::Unspecified,
    )
    .await
    .into_iter()
    .find(|a| a.kind == "reauth_required")
    .expect("reauth alert")
}

/// The brand's alerts in `state` (unspecified: open and acknowledged), newest first.
async fn alerts_of(stack: &Stack, token: &str, brand_id: &str, state: AlertState) -> Vec<Alert> {
    stack
        .insights()
        .await
        .expect("client")
        .list_alerts(authed(
            token,
            ListAlertsRequest {
                brand_id: brand_id.into(),
                state: state as i32,
                page_size: 100,
                ..Default::default()
            },
        ))
        .await
        .expect("list alerts")
        .into_inner()
        .alerts
}

/// Evaluates the brand's alerts as the service does after a sync; returns how many
/// were raised.
async fn evaluate(stack: &Stack, tenant: &Tenant, brand_id: &str) -> usize {
    pulsepoint_insights::alerts::evaluate_brand(
        &stack.insights.pool,
        pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("tenant"),
        brand_id.parse().expect("uuid"),
    )
    .await
    .expect("evaluate")
}

/// Refreshes the brand's rollups as after a sync.
async fn refresh(stack: &Stack, tenant: &Tenant, brand_id: &str) {
    let tenant = pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("tenant");
    let mut tx = pp_db::TenantTx::begin_for_tenant(&stack.insights.pool, tenant)
        .await
        .expect("tx");
    pulsepoint_insights::rollups::refresh_brand(&mut tx, brand_id.parse().expect("uuid"), None)
        .await
        .expect("refresh");
    tx.commit().await.expect("commit");
}

/// Rows of `event_type` in the insights outbox for the tenant.
async fn outbox(db: &PgPool, tenant: &Tenant, event_type: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(
        "select envelope from insights.outbox where tenant_id = $1 and event_type = $2
         order by occurred_at",
    )
    .bind(tenant.tenant_id.parse::<Uuid>().expect("uuid"))
    .bind(event_type)
    .fetch_all(db)
    .await
    .expect("outbox")
}

/// Runs `sql` with `$1` tenant and `$2` brand as the superuser.
async fn exec(db: &PgPool, tenant: &Tenant, brand_id: &str, sql: &str) {
    sqlx::query(sql)
        .bind(tenant.tenant_id.parse::<Uuid>().expect("tenant"))
        .bind(brand_id.parse::<Uuid>().expect("brand"))
        .execute(db)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// 57 days of history: `10 + n % 3` orders of $100 and $200–215 of Meta spend on day
/// today − n; yesterday (n = 1) has `yesterday_orders` orders and
/// `yesterday_spend_micros` of spend instead.
async fn history(
    db: &PgPool,
    tenant: &Tenant,
    brand_id: &str,
    yesterday_orders: i32,
    yesterday_spend_micros: i64,
) {
    sqlx::query(
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id,
             processed_at, currency_code, total_micros, subtotal_micros)
         select $1, $2, gen_random_uuid(), 'o-' || n || '-' || k,
                (((now() at time zone 'UTC')::date - n) + interval '12 hours') at time zone 'UTC',
                'USD', 100000000, 100000000
         from generate_series(1, 57) n, generate_series(1, 20) k
         where k <= case when n = 1 then $3 else 10 + n % 3 end",
    )
    .bind(tenant.tenant_id.parse::<Uuid>().expect("tenant"))
    .bind(brand_id.parse::<Uuid>().expect("brand"))
    .bind(yesterday_orders)
    .execute(db)
    .await
    .expect("orders");
    sqlx::query(
        "insert into commerce.ad_spend_daily (tenant_id, brand_id, platform, platform_campaign_id,
             spend_date, currency_code, spend_micros, impressions, clicks, conversions,
             conversion_value_micros)
         select $1, $2, 'meta', 'm1', (now() at time zone 'UTC')::date - n, 'USD',
                case when n = 1 then $3 else 200000000 + (n % 4) * 5000000 end, 1000, 10, 1, 0
         from generate_series(1, 57) n",
    )
    .bind(tenant.tenant_id.parse::<Uuid>().expect("tenant"))
    .bind(brand_id.parse::<Uuid>().expect("brand"))
    .bind(yesterday_spend_micros)
    .execute(db)
    .await
    .expect("spend");
}

#[tokio::test]
async fn alert_rules_are_validated_paged_and_deleted_idempotently() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = utc_brand(&stack, &tenant.admin_token, "Rules").await;
    let other_brand = utc_brand(&stack, &tenant.admin_token, "Other").await;
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let mut insights = stack.insights().await.expect("client");
    let create = |token: &str, rule: AlertRule, request_id: &str| {
        authed(
            token,
            CreateAlertRuleRequest {
                alert_rule: Some(rule),
                request_id: request_id.into(),
            },
        )
    };

    // Bad input names the field, and nothing is written.
    let valid = rule_on(&brand.brand_id, "ad_spend", 86_400);
    let mut unknown_metric = valid.clone();
    unknown_metric.metric = "vibes".into();
    let mut unknown_dimension = valid.clone();
    unknown_dimension.filters = vec![MetricFilter {
        dimension: "colour".into(),
        value: "red".into(),
    }];
    let mut unsupported_dimension = rule_on(&brand.brand_id, "net_revenue", 86_400);
    unsupported_dimension.filters = vec![MetricFilter {
        dimension: "platform".into(),
        value: "META_ADS".into(),
    }];
    let mut short_window = valid.clone();
    short_window.window = Some(prost_types::Duration {
        seconds: 1800,
        nanos: 0,
    });
    let mut no_condition = valid.clone();
    no_condition.condition = AlertCondition::Unspecified as i32;
    let mut infinite = valid.clone();
    infinite.threshold = f64::INFINITY;
    for (rule, field) in [
        (unknown_metric, "alert_rule.metric"),
        (unknown_dimension, "alert_rule.filters[0].dimension"),
        (unsupported_dimension, "alert_rule.filters[0].dimension"),
        (short_window, "alert_rule.window"),
        (no_condition, "alert_rule.condition"),
        (infinite, "alert_rule.threshold"),
    ] {
        assert_invalid(
            insights
                .create_alert_rule(create(&tenant.admin_token, rule, "bad-request"))
                .await,
            field,
        );
    }
    let mut other_tenant_brand = valid.clone();
    other_tenant_brand.brand_id = Uuid::new_v4().to_string();
    assert_code(
        insights
            .create_alert_rule(create(&tenant.admin_token, other_tenant_brand, ""))
            .await,
        Code::NotFound,
    );
    // The analyst reads, but may not create.
    assert_code(
        insights
            .create_alert_rule(create(&analyst, valid.clone(), ""))
            .await,
        Code::PermissionDenied,
    );
    let written: i64 = sqlx::query_scalar("select count(*) from insights.alert_rules")
        .fetch_one(&superuser)
        .await
        .expect("count");
    assert_eq!(written, 0, "nothing written on bad input");

    // Created once per request id; severity defaults to WARNING.
    let mut meta = valid.clone();
    meta.filters = vec![MetricFilter {
        dimension: "platform".into(),
        value: "META_ADS".into(),
    }];
    meta.display_name = "Meta spend below 100".into();
    let first = insights
        .create_alert_rule(create(&tenant.admin_token, meta.clone(), "create-1"))
        .await
        .expect("create")
        .into_inner()
        .alert_rule
        .expect("rule");
    let replay = insights
        .create_alert_rule(create(&tenant.admin_token, meta, "create-1"))
        .await
        .expect("replay")
        .into_inner()
        .alert_rule
        .expect("rule");
    assert_eq!(first.alert_rule_id, replay.alert_rule_id);
    assert_eq!(first.severity, AlertSeverity::Warning as i32);
    assert_eq!(first.filters.len(), 1);
    assert_eq!(first.created_by_user_id, tenant.admin_id);
    for metric in ["orders", "blended_roas"] {
        create_rule(
            &stack,
            &tenant.admin_token,
            rule_on(&brand.brand_id, metric, 3600),
        )
        .await;
    }
    create_rule(
        &stack,
        &tenant.admin_token,
        rule_on(&other_brand.brand_id, "orders", 3600),
    )
    .await;

    // Pages (oldest first), bound to their query; the analyst may list.
    let list = |token: &str, brand_id: &str, page_token: &str| {
        authed(
            token,
            ListAlertRulesRequest {
                brand_id: brand_id.into(),
                page_size: 2,
                page_token: page_token.into(),
            },
        )
    };
    let page_one = insights
        .list_alert_rules(list(&analyst, &brand.brand_id, ""))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(page_one.alert_rules.len(), 2);
    assert_eq!(page_one.alert_rules[0].alert_rule_id, first.alert_rule_id);
    assert!(!page_one.next_page_token.is_empty());
    let page_two = insights
        .list_alert_rules(list(&analyst, &brand.brand_id, &page_one.next_page_token))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(page_two.alert_rules.len(), 1);
    assert!(page_two.next_page_token.is_empty());
    assert_invalid(
        insights
            .list_alert_rules(list(&analyst, "", &page_one.next_page_token))
            .await,
        "page_token",
    );
    assert_invalid(
        insights
            .list_alerts(authed(
                &analyst,
                ListAlertsRequest {
                    brand_id: brand.brand_id.clone(),
                    page_token: page_one.next_page_token.clone(),
                    ..Default::default()
                },
            ))
            .await,
        "page_token",
    );
    let every_brand = insights
        .list_alert_rules(authed(&analyst, ListAlertRulesRequest::default()))
        .await
        .expect("all")
        .into_inner();
    assert_eq!(every_brand.alert_rules.len(), 4);

    // Deleted; a retry with the same request id succeeds again, a new one is NOT_FOUND.
    let delete = |token: &str, request_id: &str| {
        authed(
            token,
            DeleteAlertRuleRequest {
                alert_rule_id: first.alert_rule_id.clone(),
                request_id: request_id.into(),
            },
        )
    };
    assert_code(
        insights.delete_alert_rule(delete(&analyst, "del-1")).await,
        Code::PermissionDenied,
    );
    insights
        .delete_alert_rule(delete(&tenant.admin_token, "del-1"))
        .await
        .expect("delete");
    insights
        .delete_alert_rule(delete(&tenant.admin_token, "del-1"))
        .await
        .expect("a retried delete succeeds again");
    assert_code(
        insights
            .delete_alert_rule(delete(&tenant.admin_token, "del-2"))
            .await,
        Code::NotFound,
    );
    let left = insights
        .list_alert_rules(authed(&analyst, ListAlertRulesRequest::default()))
        .await
        .expect("all")
        .into_inner();
    assert_eq!(left.alert_rules.len(), 3);
}

#[tokio::test]
async fn threshold_rules_fire_once_a_day_and_resolve_when_cleared() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = utc_brand(&stack, &tenant.admin_token, "Thresholds").await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    // Yesterday: one $100 order, $300 on Meta, $50 on Google; the day before: one $100
    // order and $100 on Meta.
    exec(
        &superuser,
        &tenant,
        &brand.brand_id,
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id,
             processed_at, currency_code, total_micros, subtotal_micros)
         select $1, $2, gen_random_uuid(), 'o' || n,
                (((now() at time zone 'UTC')::date - n) + interval '12 hours') at time zone 'UTC',
                'USD', 100000000, 100000000
         from generate_series(1, 2) n",
    )
    .await;
    exec(
        &superuser,
        &tenant,
        &brand.brand_id,
        "insert into commerce.ad_spend_daily (tenant_id, brand_id, platform, platform_campaign_id,
             spend_date, currency_code, spend_micros, impressions, clicks, conversions,
             conversion_value_micros)
         values ($1, $2, 'meta', 'm1', (now() at time zone 'UTC')::date - 1, 'USD', 300000000, 0, 0, 0, 0),
                ($1, $2, 'google_ads', 'g1', (now() at time zone 'UTC')::date - 1, 'USD', 50000000, 0, 0, 0, 0),
                ($1, $2, 'meta', 'm1', (now() at time zone 'UTC')::date - 2, 'USD', 100000000, 0, 0, 0, 0)",
    )
    .await;
    refresh(&stack, &tenant, &brand.brand_id).await;

    let with = |metric: &str, condition: AlertCondition, threshold: f64, window: i64| {
        let mut rule = rule_on(&brand.brand_id, metric, window);
        rule.condition = condition as i32;
        rule.threshold = threshold;
        rule
    };
    // Fires: $100 < $500 over 1 h (= yesterday).
    let mut low_revenue = with("net_revenue", AlertCondition::Below, 500.0, 3600);
    low_revenue.severity = AlertSeverity::Critical as i32;
    let low_revenue = create_rule(&stack, &tenant.admin_token, low_revenue).await;
    // Does not fire: $100 is not above $1,000.
    let high_revenue = create_rule(
        &stack,
        &tenant.admin_token,
        with("net_revenue", AlertCondition::Above, 1000.0, 86_400),
    )
    .await;
    // Fires: Meta spend rose 200 % (> 50 %) day over day.
    let mut meta_up = with("ad_spend", AlertCondition::ChangeUp, 0.5, 86_400);
    meta_up.filters = vec![MetricFilter {
        dimension: "platform".into(),
        value: "META_ADS".into(),
    }];
    let meta_up = create_rule(&stack, &tenant.admin_token, meta_up).await;
    // Does not fire: all spend rose 250 %, not more than 500 %.
    create_rule(
        &stack,
        &tenant.admin_token,
        with("ad_spend", AlertCondition::ChangeUp, 5.0, 86_400),
    )
    .await;
    // Fires: 2 orders over a 2-day window (1 a day would not be above 1.5).
    let two_days = create_rule(
        &stack,
        &tenant.admin_token,
        with("orders", AlertCondition::Above, 1.5, 2 * 86_400),
    )
    .await;
    // Would fire, but is disabled.
    let mut disabled = with("net_revenue", AlertCondition::Below, 500.0, 3600);
    disabled.enabled = false;
    create_rule(&stack, &tenant.admin_token, disabled).await;

    // Two evaluators racing on the same day raise each alert once.
    let (a, b) = tokio::join!(
        evaluate(&stack, &tenant, &brand.brand_id),
        evaluate(&stack, &tenant, &brand.brand_id)
    );
    assert_eq!(a + b, 3, "three rules fire");
    assert_eq!(
        evaluate(&stack, &tenant, &brand.brand_id).await,
        0,
        "no storm"
    );
    let alerts = alerts_of(
        &stack,
        &tenant.admin_token,
        &brand.brand_id,
        AlertState::Open,
    )
    .await;
    let mut fired: Vec<&str> = alerts.iter().map(|a| a.alert_rule_id.as_str()).collect();
    fired.sort_unstable();
    let mut expected = vec![
        low_revenue.alert_rule_id.as_str(),
        meta_up.alert_rule_id.as_str(),
        two_days.alert_rule_id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(fired, expected);
    let low = alerts
        .iter()
        .find(|a| a.alert_rule_id == low_revenue.alert_rule_id)
        .expect("low revenue alert");
    assert_eq!(low.kind, "threshold");
    assert_eq!(low.severity, AlertSeverity::Critical as i32);
    assert_eq!(low.threshold, 500.0);
    let observed = low.observed.as_ref().expect("observed figure");
    assert_eq!(observed.metric, "net_revenue");
    assert_eq!(observed.value, 100.0);
    let raised = outbox(&superuser, &tenant, "alert.raised").await;
    assert_eq!(raised.len(), 3, "one alert.raised per alert");
    assert!(
        raised
            .iter()
            .any(|e| e["payload"]["alert_id"] == low.alert_id.as_str()
                && e["brand_id"] == brand.brand_id.as_str())
    );

    // Revenue recovers: the low-revenue alert resolves, the high-revenue rule fires.
    exec(
        &superuser,
        &tenant,
        &brand.brand_id,
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id,
             processed_at, currency_code, total_micros, subtotal_micros)
         values ($1, $2, gen_random_uuid(), 'big',
                 (((now() at time zone 'UTC')::date - 1) + interval '13 hours') at time zone 'UTC',
                 'USD', 1000000000, 1000000000)",
    )
    .await;
    refresh(&stack, &tenant, &brand.brand_id).await;
    // The scheduled pass over every rolled-up brand.
    assert_eq!(
        pulsepoint_insights::alerts::evaluate_all(&stack.insights.pool)
            .await
            .expect("scheduled evaluation"),
        1
    );
    let resolved = alerts_of(
        &stack,
        &tenant.admin_token,
        &brand.brand_id,
        AlertState::Resolved,
    )
    .await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].alert_rule_id, low_revenue.alert_rule_id);
    assert!(resolved[0].resolve_time.is_some());
    let open = alerts_of(
        &stack,
        &tenant.admin_token,
        &brand.brand_id,
        AlertState::Open,
    )
    .await;
    assert!(
        open.iter()
            .any(|a| a.alert_rule_id == high_revenue.alert_rule_id)
    );

    // A deleted rule's alert is kept, resolved.
    stack
        .insights()
        .await
        .expect("client")
        .delete_alert_rule(authed(
            &tenant.admin_token,
            DeleteAlertRuleRequest {
                alert_rule_id: meta_up.alert_rule_id.clone(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("delete");
    let resolved = alerts_of(
        &stack,
        &tenant.admin_token,
        &brand.brand_id,
        AlertState::Resolved,
    )
    .await;
    assert!(
        resolved
            .iter()
            .any(|a| a.alert_rule_id == meta_up.alert_rule_id)
    );
    assert_eq!(evaluate(&stack, &tenant, &brand.brand_id).await, 0);
}

#[tokio::test]
async fn anomalies_flag_an_odd_day_and_not_a_normal_one() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let normal = utc_brand(&stack, &tenant.admin_token, "Normal").await;
    history(&superuser, &tenant, &normal.brand_id, 11, 205_000_000).await;
    refresh(&stack, &tenant, &normal.brand_id).await;
    assert_eq!(evaluate(&stack, &tenant, &normal.brand_id).await, 0);
    assert!(
        alerts_of(
            &stack,
            &tenant.admin_token,
            &normal.brand_id,
            AlertState::Unspecified
        )
        .await
        .is_empty(),
        "an ordinary day raises nothing"
    );

    // One order and five times the spend yesterday: all four metrics are off.
    let odd = utc_brand(&stack, &tenant.admin_token, "Odd").await;
    history(&superuser, &tenant, &odd.brand_id, 1, 1_000_000_000).await;
    refresh(&stack, &tenant, &odd.brand_id).await;
    // Rollups last refreshed before yesterday ended: yesterday is not judged yet.
    exec(
        &superuser,
        &tenant,
        &odd.brand_id,
        "update insights.rollup_state
            set synced_until = ((now() at time zone 'UTC')::date::timestamp - interval '1 hour') at time zone 'UTC'
          where tenant_id = $1 and brand_id = $2",
    )
    .await;
    assert_eq!(evaluate(&stack, &tenant, &odd.brand_id).await, 0);
    refresh(&stack, &tenant, &odd.brand_id).await;
    assert_eq!(evaluate(&stack, &tenant, &odd.brand_id).await, 4);
    assert_eq!(
        evaluate(&stack, &tenant, &odd.brand_id).await,
        0,
        "once a day"
    );
    let alerts = alerts_of(&stack, &tenant.admin_token, &odd.brand_id, AlertState::Open).await;
    let mut metrics: Vec<String> = alerts
        .iter()
        .map(|a| {
            assert_eq!(a.kind, "anomaly");
            assert!(a.alert_rule_id.is_empty(), "built-in");
            a.observed.as_ref().expect("figure").metric.clone()
        })
        .collect();
    metrics.sort_unstable();
    assert_eq!(
        metrics,
        ["ad_spend", "blended_roas", "net_revenue", "orders"]
    );
    let revenue = alerts
        .iter()
        .find(|a| {
            a.observed
                .as_ref()
                .is_some_and(|f| f.metric == "net_revenue")
        })
        .expect("net revenue");
    assert!(revenue.title.contains("low"), "{}", revenue.title);
    assert_eq!(revenue.observed.as_ref().expect("figure").value, 100.0);
    let spend = alerts
        .iter()
        .find(|a| a.observed.as_ref().is_some_and(|f| f.metric == "ad_spend"))
        .expect("spend");
    assert!(spend.title.contains("high"), "{}", spend.title);
    assert_eq!(outbox(&superuser, &tenant, "alert.raised").await.len(), 4);
}

#[tokio::test]
async fn stockout_risk_alerts_name_the_variants_at_high_risk() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = utc_brand(&stack, &tenant.admin_token, "Stock").await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    // va: 2 a day, 10 on hand (5 days) with a 7-day lead time: HIGH.
    // vb: never sold: no alert. vc: sold, none left: HIGH (out of stock).
    // vd: 1 a day, 100 on hand: LOW.
    for sql in [
        "insert into commerce.products (tenant_id, brand_id, platform_product_id, title, status, platform_updated_at)
         values ($1, $2, 'p1', 'Mug', 'active', now())",
        "insert into commerce.variants (tenant_id, brand_id, platform_variant_id, platform_product_id,
             platform_inventory_item_id, sku, title, currency_code, price_micros, lead_time_days)
         values ($1, $2, 'va', 'p1', 'ia', 'MUG-A', 'A', 'USD', 10000000, 7),
                ($1, $2, 'vb', 'p1', 'ib', 'MUG-B', 'B', 'USD', 10000000, null),
                ($1, $2, 'vc', 'p1', 'ic', 'MUG-C', 'C', 'USD', 10000000, 3),
                ($1, $2, 'vd', 'p1', 'id', 'MUG-D', 'D', 'USD', 10000000, 7)",
        "insert into commerce.inventory_levels (tenant_id, brand_id, platform_inventory_item_id,
             platform_location_id, location_name, available, platform_updated_at)
         values ($1, $2, 'ia', 'x', 'X', 10, now()), ($1, $2, 'ib', 'x', 'X', 4, now()),
                ($1, $2, 'ic', 'x', 'X', 0, now()), ($1, $2, 'id', 'x', 'X', 100, now())",
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
             currency_code, total_micros, subtotal_micros)
         select $1, $2, md5('o' || n)::uuid, 'o' || n,
                (((now() at time zone 'UTC')::date - n) + interval '12 hours') at time zone 'UTC',
                'USD', 30000000, 30000000
         from generate_series(1, 28) n",
        "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
             platform_product_id, platform_variant_id, sku, title, quantity, unit_price_micros)
         select $1, $2, md5('o' || n)::uuid, 'l' || n || v, 'p1', v, 'MUG', 'Mug', q, 10000000
         from generate_series(1, 28) n, (values ('va', 2), ('vd', 1)) as t(v, q)",
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
             currency_code, total_micros, subtotal_micros)
         values ($1, $2, md5('c')::uuid, 'c',
                 (((now() at time zone 'UTC')::date - 3) + interval '12 hours') at time zone 'UTC',
                 'USD', 10000000, 10000000)",
        "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
             platform_product_id, platform_variant_id, sku, title, quantity, unit_price_micros)
         values ($1, $2, md5('c')::uuid, 'lc', 'p1', 'vc', 'MUG-C', 'Mug', 1, 10000000)",
    ] {
        exec(&superuser, &tenant, &brand.brand_id, sql).await;
    }
    refresh(&stack, &tenant, &brand.brand_id).await;
    assert_eq!(evaluate(&stack, &tenant, &brand.brand_id).await, 2);
    assert_eq!(evaluate(&stack, &tenant, &brand.brand_id).await, 0);
    let alerts = alerts_of(
        &stack,
        &tenant.admin_token,
        &brand.brand_id,
        AlertState::Open,
    )
    .await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts.iter().all(|a| a.kind == "stockout_risk"));
    let out = alerts
        .iter()
        .find(|a| a.title.contains("MUG-C"))
        .expect("vc");
    assert_eq!(out.severity, AlertSeverity::Critical as i32);
    let soon = alerts
        .iter()
        .find(|a| a.title.contains("MUG-A"))
        .expect("va");
    assert_eq!(soon.severity, AlertSeverity::Warning as i32);
    let cover = soon.observed.as_ref().expect("days of cover");
    assert_eq!((cover.metric.as_str(), cover.value), ("days_of_cover", 5.0));
    // min_severity filters.
    let critical = stack
        .insights()
        .await
        .expect("client")
        .list_alerts(authed(
            &tenant.admin_token,
            ListAlertsRequest {
                brand_id: brand.brand_id.clone(),
                min_severity: AlertSeverity::Critical as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .alerts;
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].alert_id, out.alert_id);
}

#[tokio::test]
async fn sync_failures_raise_alerts_and_acknowledging_is_idempotent() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = utc_brand(&stack, &tenant.admin_token, "Syncs").await;
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let pool = &stack.insights.pool;
    let handle = |event: pp_events::EventEnvelope| async move {
        pulsepoint_insights::rollups::handle_event(pool, &event)
            .await
            .expect("handle")
    };
    let (shopify, meta, tiktok) = (
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
    );
    // The user disconnected: nothing to alert about.
    assert!(
        handle(sync_failed(
            &tenant,
            &brand.brand_id,
            &tiktok,
            "INTEGRATION_DISCONNECTED"
        ))
        .await
    );
    assert!(
        alerts_of(&stack, &analyst, &brand.brand_id, AlertState::Unspecified)
            .await
            .is_empty()
    );
    // Revoked credentials: reauth (CRITICAL); an outage: sync failed (WARNING).
    let revoked = sync_failed(&tenant, &brand.brand_id, &shopify, "TOKEN_REVOKED");
    assert!(handle(revoked.clone()).await);
    assert!(!handle(revoked).await, "a redelivery is ignored");
    assert!(
        handle(sync_failed(
            &tenant,
            &brand.brand_id,
            &meta,
            "PLATFORM_UNAVAILABLE"
        ))
        .await
    );
    let alerts = alerts_of(&stack, &analyst, &brand.brand_id, AlertState::Unspecified).await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let reauth = alerts
        .iter()
        .find(|a| a.kind == "reauth_required")
        .expect("reauth")
        .clone();
    assert_eq!(reauth.severity, AlertSeverity::Critical as i32);
    let failed = alerts
        .iter()
        .find(|a| a.kind == "sync_failed")
        .expect("sync failed")
        .clone();
    assert_eq!(failed.severity, AlertSeverity::Warning as i32);
    // The same failure again (another run) while the alert is open: no second alert.
    assert!(
        handle(sync_failed(
            &tenant,
            &brand.brand_id,
            &meta,
            "PLATFORM_UNAVAILABLE"
        ))
        .await
    );
    assert_eq!(
        alerts_of(&stack, &analyst, &brand.brand_id, AlertState::Unspecified)
            .await
            .len(),
        2
    );
    assert_eq!(outbox(&superuser, &tenant, "alert.raised").await.len(), 2);

    // Acknowledge: the analyst may not; the admin may, idempotently.
    let mut insights = stack.insights().await.expect("client");
    let ack = |token: &str, alert_id: &str, request_id: &str| {
        authed(
            token,
            AcknowledgeAlertRequest {
                alert_id: alert_id.into(),
                note: "on it".into(),
                request_id: request_id.into(),
            },
        )
    };
    assert_code(
        insights
            .acknowledge_alert(ack(&analyst, &reauth.alert_id, "ack-1"))
            .await,
        Code::PermissionDenied,
    );
    assert_invalid(
        insights
            .acknowledge_alert(ack(&tenant.admin_token, "nope", ""))
            .await,
        "alert_id",
    );
    assert_code(
        insights
            .acknowledge_alert(ack(&tenant.admin_token, &Uuid::new_v4().to_string(), ""))
            .await,
        Code::NotFound,
    );
    let first = insights
        .acknowledge_alert(ack(&tenant.admin_token, &reauth.alert_id, "ack-1"))
        .await
        .expect("ack")
        .into_inner()
        .alert
        .expect("alert");
    assert_eq!(first.state, AlertState::Acknowledged as i32);
    assert_eq!(first.acknowledged_by_user_id, tenant.admin_id);
    let replay = insights
        .acknowledge_alert(ack(&tenant.admin_token, &reauth.alert_id, "ack-1"))
        .await
        .expect("replay")
        .into_inner()
        .alert
        .expect("alert");
    assert_eq!(replay, first, "a retry returns the first answer");
    let again = insights
        .acknowledge_alert(ack(&tenant.admin_token, &reauth.alert_id, "ack-2"))
        .await
        .expect("twice is fine")
        .into_inner()
        .alert
        .expect("alert");
    assert_eq!(again.state, AlertState::Acknowledged as i32);
    assert_eq!(again.acknowledge_time, first.acknowledge_time);
    let acknowledged = outbox(&superuser, &tenant, "alert.acknowledged").await;
    assert_eq!(acknowledged.len(), 1, "one event for one change");
    assert_eq!(
        acknowledged[0]["payload"]["alert_id"],
        reauth.alert_id.as_str()
    );
    assert_eq!(acknowledged[0]["user_id"], tenant.admin_id.as_str());

    // ListAlerts filters: state, a time range, paging with query-bound tokens.
    let list = |request: ListAlertsRequest| authed(&analyst, request);
    let open_only = insights
        .list_alerts(list(ListAlertsRequest {
            state: AlertState::Open as i32,
            ..Default::default()
        }))
        .await
        .expect("open")
        .into_inner()
        .alerts;
    assert_eq!(open_only.len(), 1);
    assert_eq!(open_only[0].alert_id, failed.alert_id);
    let future = insights
        .list_alerts(list(ListAlertsRequest {
            time_range: Some(pp_proto::common::TimeRange {
                start_time: Some(pp_types::convert::timestamp(
                    chrono::Utc::now() + chrono::Duration::hours(1),
                )),
                end_time: None,
            }),
            ..Default::default()
        }))
        .await
        .expect("future")
        .into_inner()
        .alerts;
    assert!(future.is_empty());
    let page_one = insights
        .list_alerts(list(ListAlertsRequest {
            page_size: 1,
            ..Default::default()
        }))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(page_one.alerts.len(), 1);
    assert_eq!(page_one.alerts[0].alert_id, failed.alert_id, "newest first");
    let page_two = insights
        .list_alerts(list(ListAlertsRequest {
            page_size: 1,
            page_token: page_one.next_page_token.clone(),
            ..Default::default()
        }))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(page_two.alerts[0].alert_id, reauth.alert_id);
    assert_invalid(
        insights
            .list_alerts(list(ListAlertsRequest {
                page_size: 1,
                state: AlertState::Resolved as i32,
                page_token: page_one.next_page_token.clone(),
                ..Default::default()
            }))
            .await,
        "page_token",
    );

    // A completed sync of the Shopify integration resolves its reauth alert only.
    let completed = pp_events::EventEnvelope::new(
        tenant.tenant_id.parse().expect("uuid"),
        pulsepoint_insights::rollups::SYNC_COMPLETED,
        serde_json::json!({"integration_id": shopify, "platform": "shopify", "state": "succeeded"}),
    )
    .with_brand(brand.brand_id.parse().expect("uuid"));
    assert!(handle(completed).await);
    let resolved = alerts_of(&stack, &analyst, &brand.brand_id, AlertState::Resolved).await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].alert_id, reauth.alert_id);
    let still_open = alerts_of(&stack, &analyst, &brand.brand_id, AlertState::Unspecified).await;
    assert_eq!(still_open.len(), 1);
    assert_eq!(still_open[0].alert_id, failed.alert_id);
}

#[tokio::test]
async fn a_completed_sync_evaluates_alerts_through_the_event_pipeline() {
    let emulator = tokio::task::spawn_blocking(pp_testkit::PubSubEmulator::start)
        .await
        .expect("join")
        .expect("emulator");
    let stack = spawn_stack(StackOptions {
        pubsub_emulator: Some(emulator.host()),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Demo").await;
    // Fires on any week with orders: the demo store has some every day.
    let mut rule = rule_on(&brand.brand_id, "orders", 7 * 86_400);
    rule.condition = AlertCondition::Above as i32;
    rule.threshold = 0.0;
    let rule = create_rule(&stack, &tenant.admin_token, rule).await;
    let (_, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 30).await;
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    // data.sync_completed: integrations' outbox → relay → Pub/Sub → insights, which
    // refreshes the rollups and then evaluates the brand.
    let mut fired = Vec::new();
    for _ in 0..300 {
        fired = alerts_of(
            &stack,
            &tenant.admin_token,
            &brand.brand_id,
            AlertState::Open,
        )
        .await;
        if !fired.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // (The demo's seasonality may also raise anomalies; the rule's alert is the one.)
    let from_rule: Vec<&Alert> = fired.iter().filter(|a| a.kind == "threshold").collect();
    assert_eq!(from_rule.len(), 1, "{fired:?}");
    assert_eq!(from_rule[0].alert_rule_id, rule.alert_rule_id);
    // alert.raised goes out through insights' own outbox and relay, one per alert.
    let raised = wait_for_events(&stack, &tenant.admin_token, &["alert.raised"], |events| {
        events.len() >= fired.len()
    })
    .await;
    assert_eq!(raised.len(), fired.len(), "{raised:?}");
}
