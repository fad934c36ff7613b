//! Tenant A using tenant B's ids: NOT_FOUND and no data, for every RPC.

use pp_proto::auth::*;
use pp_proto::brands::*;
use pp_proto::common::Role as ProtoRole;
use pp_proto::observability::{GetUsageSummaryRequest, ListEventsRequest};
use tonic::Code;

use crate::support::*;

/// An open recommendation of B's brand, written as the superuser.
async fn b_recommendation(stack: &Stack, tenant_id: &str, brand_id: &str) -> String {
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "insert into insights.recommendations (tenant_id, recommendation_id, brand_id, kind,
             subject, state, priority, title, rationale, evidence, currency_code,
             expected_impact_micros, confidence, variant_id, units, expire_time)
         values ($1, $2, $3, 'restock', 'v1', 'open', 'high', 'Restock', 'B only', '{}', 'USD',
                 1, 0.5, 'v1', 10, now() + interval '1 day')",
    )
    .bind(tenant_id.parse::<uuid::Uuid>().expect("uuid"))
    .bind(id)
    .bind(brand_id.parse::<uuid::Uuid>().expect("uuid"))
    .execute(&superuser)
    .await
    .expect("B's recommendation");
    id.to_string()
}

#[tokio::test]
async fn every_rpc_keeps_tenants_apart() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let a = sign_up(&stack, "Tenant A").await;
    let b = sign_up(&stack, "Tenant B").await;
    let b_brand = create_brand(&stack, &b.admin_token, "B's brand").await;
    let (b_user, _) = user_with_role(&stack, &b, ProtoRole::Analyst).await;
    let (b_key, b_key_token) = user_with_role(&stack, &b, ProtoRole::ApiClient).await;
    let (b_integration, b_run) = connect_demo(&stack, &b.admin_token, &b_brand.brand_id, 7).await;
    // B's alert rule, and an alert of B's (its integration needs reconnecting).
    let b_rule = crate::alerts::create_rule(
        &stack,
        &b.admin_token,
        crate::alerts::rule_on(&b_brand.brand_id, "net_revenue", 86_400),
    )
    .await;
    let b_alert =
        crate::alerts::reauth_alert(&stack, &b, &b_brand.brand_id, &b_integration.integration_id)
            .await;
    let b_question = crate::questions::ask(
        &stack,
        &b.admin_token,
        &b_brand.brand_id,
        "what was my net revenue last week?",
    )
    .await;
    let b_targets = Targets {
        tenant_id: b.tenant_id.clone(),
        brand_id: b_brand.brand_id.clone(),
        user_id: b_user.clone(),
        api_key_id: b_key.clone(),
        refresh_token: b.refresh_token.clone(),
        integration_id: b_integration.integration_id.clone(),
        sync_run_id: b_run.sync_run_id.clone(),
        recommendation_id: b_recommendation(&stack, &b.tenant_id, &b_brand.brand_id).await,
        alert_id: b_alert.alert_id.clone(),
        alert_rule_id: b_rule.alert_rule_id.clone(),
        question_id: b_question.question_id.clone(),
        answer_id: b_question
            .answer
            .as_ref()
            .map(|a| a.answer_id.clone())
            .unwrap_or_default(),
    };
    let a_brand = create_brand(&stack, &a.admin_token, "A's brand").await;
    // B's events, naming B's brand and user.
    let b_event = pp_events::EventEnvelope::new(
        b.tenant_id.parse().expect("uuid"),
        "ai.model_called",
        serde_json::json!({"model": "m", "operation": "o", "cost_micros": 1_000, "duration_ms": 5.0}),
    )
    .with_brand(b_brand.brand_id.parse().expect("uuid"))
    .with_user(b_user.parse().expect("uuid"));
    assert!(
        pulsepoint_observability::ingest(&stack.observability, &b_event)
            .await
            .expect("ingest")
    );

    let methods = served_methods(&stack);
    assert!(
        methods.len() >= 20,
        "descriptor set lists the RPCs: {methods:?}"
    );
    for method in &methods {
        let name = method.rsplit('/').next().unwrap_or_default();
        match name {
            // Takes a secret, not an id: holding B's refresh token is being B.
            "RefreshToken" => continue,
            // Ends A's own session; checked last, below.
            "Logout" => continue,
            _ => {}
        }
        let result = call(&stack, method, &a.admin_token, &b_targets).await;
        match name {
            // Take another tenant's object id: must be NOT_FOUND, saying nothing more.
            "GetBrand"
            | "UpdateBrand"
            | "DeleteBrand"
            | "UpdateUserRole"
            | "DeactivateUser"
            | "RevokeApiKey"
            | "GetCostBudget"
            | "StartOAuth"
            | "ConnectDemoStore"
            | "GetIntegration"
            | "DisconnectIntegration"
            | "TriggerSync"
            | "GetSyncRun"
            | "WatchSync"
            | "GetDashboard"
            | "GetAttribution"
            | "GetInventoryForecast"
            | "ListRecommendations"
            | "AcceptRecommendation"
            | "DismissRecommendation"
            | "ListAlerts"
            | "AcknowledgeAlert"
            | "CreateAlertRule"
            | "ListAlertRules"
            | "DeleteAlertRule"
            | "AskQuestion"
            | "StreamAnswer"
            | "SubmitFeedback"
            | "ListQuestions" => {
                let status = result.expect_err(method);
                assert_eq!(status.code(), Code::NotFound, "{method}: {status:?}");
                assert_eq!(
                    status.message(),
                    "not found",
                    "{method} must not describe the object"
                );
            }
            // A state minted by nobody in A's tenant: refused, naming only the field.
            "CompleteOAuth" => assert_eq!(
                result.expect_err(method).code(),
                Code::InvalidArgument,
                "{method}"
            ),
            // Only the gateway's service credential may call it; a user token is refused.
            "IngestShopifyWebhook" => assert_eq!(
                result.expect_err(method).code(),
                Code::PermissionDenied,
                "{method}"
            ),
            // Login names B's tenant but A's credentials don't exist there.
            "Login" => assert_eq!(
                result.expect_err(method).code(),
                Code::Unauthenticated,
                "{method}"
            ),
            // Calls without ids succeed (or fail on their own terms) in A's tenant.
            _ => {
                if let Err(status) = &result {
                    assert_ne!(
                        status.code(),
                        Code::PermissionDenied,
                        "{method}: {status:?}"
                    );
                }
            }
        }
    }

    // Logout given B's refresh token ends A's session only.
    let a_token = login(&stack, &a.admin_email).await;
    call(
        &stack,
        "pulsepoint.auth.v1.AuthService/Logout",
        &a.admin_token,
        &b_targets,
    )
    .await
    .expect("logout");
    let mut brands = stack.brands().await.expect("client");
    let mut auth = stack.auth().await.expect("client");

    let listed = brands
        .list_brands(authed(&a_token, ListBrandsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed
            .brands
            .iter()
            .all(|brand| brand.brand_id != b_brand.brand_id)
    );
    assert!(
        listed
            .brands
            .iter()
            .any(|brand| brand.brand_id == a_brand.brand_id)
    );
    let portfolio = call(
        &stack,
        "pulsepoint.brands.v1.BrandService/GetPortfolio",
        &a_token,
        &b_targets,
    )
    .await;
    assert!(portfolio.is_ok());
    let users = auth
        .list_users(authed(&a_token, ListUsersRequest::default()))
        .await
        .expect("users")
        .into_inner();
    assert!(users.users.iter().all(|u| u.tenant_id == a.tenant_id));
    let keys = auth
        .list_api_keys(authed(&a_token, ListApiKeysRequest::default()))
        .await
        .expect("keys")
        .into_inner();
    assert!(keys.api_keys.iter().all(|k| k.api_key_id != b_key));

    // Observability filters naming B's brand or user find nothing of B's.
    let mut observability = stack.observability().await.expect("client");
    let by_b_ids = observability
        .list_events(authed(
            &a_token,
            ListEventsRequest {
                brand_id: b_brand.brand_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("events")
        .into_inner();
    assert!(by_b_ids.events.is_empty(), "{:?}", by_b_ids.events);
    let all_of_a = events_of(&stack, &a_token, &[]).await;
    assert!(all_of_a.iter().all(|e| e.tenant_id == a.tenant_id));
    let usage = observability
        .get_usage_summary(authed(
            &a_token,
            GetUsageSummaryRequest {
                user_id: b_user.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("usage")
        .into_inner();
    assert_eq!(usage.totals.expect("totals").request_count, 0);
    let b_usage = observability
        .get_usage_summary(authed(&b.admin_token, GetUsageSummaryRequest::default()))
        .await
        .expect("B's usage")
        .into_inner();
    assert_eq!(b_usage.totals.expect("totals").request_count, 1);

    // B's alert is still open and its rule still there.
    let mut insights = stack.insights().await.expect("client");
    let b_alerts = insights
        .list_alerts(authed(
            &b.admin_token,
            pp_proto::insights::ListAlertsRequest::default(),
        ))
        .await
        .expect("B's alerts")
        .into_inner()
        .alerts;
    let still = b_alerts
        .iter()
        .find(|alert| alert.alert_id == b_alert.alert_id)
        .expect("B's alert");
    assert_eq!(
        still.state,
        pp_proto::insights::AlertState::Open as i32,
        "A's acknowledge did not touch it"
    );
    let b_rules = insights
        .list_alert_rules(authed(
            &b.admin_token,
            pp_proto::insights::ListAlertRulesRequest::default(),
        ))
        .await
        .expect("B's rules")
        .into_inner()
        .alert_rules;
    assert!(
        b_rules
            .iter()
            .any(|rule| rule.alert_rule_id == b_rule.alert_rule_id),
        "A's delete did not remove it"
    );

    // B sees its objects exactly as before.
    let b_view = brands
        .get_brand(authed(
            &b.admin_token,
            GetBrandRequest {
                brand_id: b_brand.brand_id.clone(),
            },
        ))
        .await
        .expect("B's brand")
        .into_inner();
    assert_eq!(b_view.brand.expect("brand").name, "B's brand");
    brands
        .list_brands(authed(&b_key_token, ListBrandsRequest::default()))
        .await
        .expect("B's API key still works");
    let b_users = auth
        .list_users(authed(&b.admin_token, ListUsersRequest::default()))
        .await
        .expect("users")
        .into_inner();
    let analyst = b_users
        .users
        .iter()
        .find(|u| u.user_id == b_user)
        .expect("B's analyst");
    assert_eq!(
        (analyst.role, analyst.status),
        (ProtoRole::Analyst as i32, UserStatus::Active as i32)
    );
    auth.refresh_token(RefreshTokenRequest {
        refresh_token: b.refresh_token.clone(),
    })
    .await
    .expect("A's logout did not end B's session");

    // Idempotency keys are per tenant: A reusing B's request id creates A's own brand.
    let shared = CreateBrandRequest {
        brand: Some(Brand {
            name: "Same Key".into(),
            ..Default::default()
        }),
        request_id: "shared-request-id".into(),
    };
    let from_b = brands
        .create_brand(authed(&b.admin_token, shared.clone()))
        .await
        .expect("B")
        .into_inner();
    let from_a = brands
        .create_brand(authed(&a_token, shared))
        .await
        .expect("A")
        .into_inner();
    assert_ne!(
        from_a.brand.expect("a").brand_id,
        from_b.brand.expect("b").brand_id
    );
}
