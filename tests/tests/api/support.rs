//! Helpers shared by the end-to-end tests.

use pp_proto::auth::{
    CreateApiKeyRequest, CreateUserRequest, ExchangeApiKeyRequest, LoginRequest, SignUpRequest,
};
use pp_proto::brands::{Brand, CreateBrandRequest};
use pp_proto::common::Role as ProtoRole;
pub use pulsepoint_e2e::{Stack, StackOptions, authed, spawn_stack};
use tonic::Code;
use uuid::Uuid;

pub const PASSWORD: &str = "correct-horse-battery-staple";

/// A signed-up tenant and its admin's token.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub admin_id: String,
    pub admin_email: String,
    pub admin_token: String,
    pub refresh_token: String,
}

pub async fn sign_up(stack: &Stack, name: &str) -> Tenant {
    let email = format!("admin-{}@example.com", Uuid::new_v4().simple());
    let response = stack
        .auth()
        .await
        .expect("auth client")
        .sign_up(SignUpRequest {
            tenant_name: name.into(),
            email: email.clone(),
            password: PASSWORD.into(),
            display_name: "Admin".into(),
        })
        .await
        .expect("sign up")
        .into_inner();
    let tokens = response.tokens.expect("tokens");
    Tenant {
        tenant_id: response.tenant.expect("tenant").tenant_id,
        admin_id: response.user.expect("user").user_id,
        admin_email: email,
        admin_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
    }
}

/// Creates a user with `role` in the tenant and returns (user id, access token).
pub async fn user_with_role(stack: &Stack, tenant: &Tenant, role: ProtoRole) -> (String, String) {
    let mut auth = stack.auth().await.expect("auth client");
    if role == ProtoRole::ApiClient {
        let created = auth
            .create_api_key(authed(
                &tenant.admin_token,
                CreateApiKeyRequest {
                    name: "machine".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("api key")
            .into_inner();
        let token = auth
            .exchange_api_key(ExchangeApiKeyRequest {
                secret: created.secret,
            })
            .await
            .expect("exchange")
            .into_inner()
            .access_token;
        return (created.api_key.expect("key").api_key_id, token);
    }
    if role == ProtoRole::Admin {
        return (tenant.admin_id.clone(), tenant.admin_token.clone());
    }
    let email = format!("user-{}@example.com", Uuid::new_v4().simple());
    let user = auth
        .create_user(authed(
            &tenant.admin_token,
            CreateUserRequest {
                email: email.clone(),
                display_name: "Someone".into(),
                role: role as i32,
                password: PASSWORD.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create user")
        .into_inner()
        .user
        .expect("user");
    let token = login(stack, &email).await;
    (user.user_id, token)
}

pub async fn login(stack: &Stack, email: &str) -> String {
    stack
        .auth()
        .await
        .expect("auth client")
        .login(LoginRequest {
            email: email.into(),
            password: PASSWORD.into(),
            tenant_id: String::new(),
        })
        .await
        .expect("login")
        .into_inner()
        .tokens
        .expect("tokens")
        .access_token
}

/// A brand with the given currency and time zone.
pub async fn brand_with(
    stack: &Stack,
    token: &str,
    name: &str,
    currency: &str,
    zone: &str,
) -> Brand {
    stack
        .brands()
        .await
        .expect("client")
        .create_brand(authed(
            token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: name.into(),
                    currency_code: currency.into(),
                    time_zone: zone.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create brand")
        .into_inner()
        .brand
        .expect("brand")
}

pub async fn create_brand(stack: &Stack, token: &str, name: &str) -> Brand {
    stack
        .brands()
        .await
        .expect("brands client")
        .create_brand(authed(
            token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: name.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create brand")
        .into_inner()
        .brand
        .expect("brand")
}

/// The caller's stored events of `types` (first page, newest first).
pub async fn events_of(
    stack: &Stack,
    token: &str,
    types: &[&str],
) -> Vec<pp_proto::observability::Event> {
    stack
        .observability()
        .await
        .expect("observability client")
        .list_events(authed(
            token,
            pp_proto::observability::ListEventsRequest {
                event_types: types.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            },
        ))
        .await
        .expect("list events")
        .into_inner()
        .events
}

/// Polls [`events_of`] until `done` holds (the pipeline is asynchronous) or 15 s pass;
/// returns the last page seen.
pub async fn wait_for_events(
    stack: &Stack,
    token: &str,
    types: &[&str],
    done: impl Fn(&[pp_proto::observability::Event]) -> bool,
) -> Vec<pp_proto::observability::Event> {
    let mut events = Vec::new();
    for _ in 0..150 {
        events = events_of(stack, token, types).await;
        if done(&events) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    events
}

/// Asserts a call failed with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
) -> tonic::Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "status: {status:?}");
            status
        }
    }
}

/// Asserts INVALID_ARGUMENT naming `field` in a BadRequest field violation.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = assert_code(result, Code::InvalidArgument);
    let fields = pp_error::field_violations(&status);
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation on {field}, got {fields:?}"
    );
}

/// Every RPC (as `package.Service/Method`) of every service the stack runs, read from
/// the descriptor set the servers publish: a new RPC, or a service added to the stack,
/// shows up here by itself (and then needs a case in `call`, or the tests fail).
pub fn served_methods(stack: &Stack) -> Vec<String> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(pp_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut methods = Vec::new();
    let mut described = Vec::new();
    for file in set.file {
        let package = file.package().to_owned();
        for service in file.service {
            let full = format!("{package}.{}", service.name());
            if !stack.services.iter().any(|s| s.name == full) {
                continue;
            }
            described.push(full.clone());
            for method in service.method {
                methods.push(format!("{full}/{}", method.name()));
            }
        }
    }
    for served in &stack.services {
        assert!(
            described.iter().any(|d| d == served.name),
            "{} runs in the stack but is not in the descriptor set",
            served.name
        );
    }
    methods
}

/// Ids a call may target.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub tenant_id: String,
    pub brand_id: String,
    pub user_id: String,
    pub api_key_id: String,
    pub refresh_token: String,
    pub integration_id: String,
    pub sync_run_id: String,
    /// A recommendation of the target tenant (random when empty).
    pub recommendation_id: String,
    pub alert_id: String,
    pub alert_rule_id: String,
    /// A question of the target tenant and its answer (random when empty).
    pub question_id: String,
    pub answer_id: String,
}

/// `id`, or a random UUID when it is empty.
fn or_random(id: &str) -> String {
    if id.is_empty() {
        Uuid::new_v4().to_string()
    } else {
        id.to_owned()
    }
}

/// Calls `method` with `token` and a minimal request aimed at `targets`.
pub async fn call(
    stack: &Stack,
    method: &str,
    token: &str,
    targets: &Targets,
) -> Result<(), tonic::Status> {
    use pp_proto::auth::*;
    use pp_proto::brands::*;
    use pp_proto::common::{Date, DateRange};
    use pp_proto::observability::*;
    let mut auth = stack.auth().await.expect("auth client");
    let mut brands = stack.brands().await.expect("brands client");
    let mut observability = stack.observability().await.expect("observability client");
    let mut integrations = stack.integrations().await.expect("integrations client");
    let mut insights = stack.insights().await.expect("insights client");
    let t = targets;
    let january = || {
        Some(DateRange {
            start_date: Some(Date {
                year: 2026,
                month: 1,
                day: 1,
            }),
            end_date: Some(Date {
                year: 2026,
                month: 1,
                day: 31,
            }),
        })
    };
    let name = format!("n-{}", Uuid::new_v4().simple());
    match method.rsplit('/').next().unwrap_or_default() {
        "SignUp" => auth
            .sign_up(authed(
                token,
                SignUpRequest {
                    tenant_name: name.clone(),
                    email: format!("{name}@example.com"),
                    password: PASSWORD.into(),
                    display_name: String::new(),
                },
            ))
            .await
            .map(drop),
        "Login" => auth
            .login(authed(
                token,
                LoginRequest {
                    email: "nobody@example.com".into(),
                    password: PASSWORD.into(),
                    tenant_id: t.tenant_id.clone(),
                },
            ))
            .await
            .map(drop),
        "RefreshToken" => auth
            .refresh_token(authed(
                token,
                RefreshTokenRequest {
                    refresh_token: t.refresh_token.clone(),
                },
            ))
            .await
            .map(drop),
        "Logout" => auth
            .logout(authed(
                token,
                LogoutRequest {
                    refresh_token: t.refresh_token.clone(),
                },
            ))
            .await
            .map(drop),
        "WhoAmI" => auth
            .who_am_i(authed(token, WhoAmIRequest {}))
            .await
            .map(drop),
        "CreateUser" => auth
            .create_user(authed(
                token,
                CreateUserRequest {
                    email: format!("{name}@example.com"),
                    display_name: "x".into(),
                    role: pp_proto::common::Role::Analyst as i32,
                    password: PASSWORD.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "ListUsers" => auth
            .list_users(authed(token, ListUsersRequest::default()))
            .await
            .map(drop),
        "UpdateUserRole" => auth
            .update_user_role(authed(
                token,
                UpdateUserRoleRequest {
                    user_id: t.user_id.clone(),
                    role: pp_proto::common::Role::Manager as i32,
                },
            ))
            .await
            .map(drop),
        "DeactivateUser" => auth
            .deactivate_user(authed(
                token,
                DeactivateUserRequest {
                    user_id: t.user_id.clone(),
                },
            ))
            .await
            .map(drop),
        "CreateApiKey" => auth
            .create_api_key(authed(
                token,
                CreateApiKeyRequest {
                    name,
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "ListApiKeys" => auth
            .list_api_keys(authed(token, ListApiKeysRequest::default()))
            .await
            .map(drop),
        "RevokeApiKey" => auth
            .revoke_api_key(authed(
                token,
                RevokeApiKeyRequest {
                    api_key_id: t.api_key_id.clone(),
                },
            ))
            .await
            .map(drop),
        "ExchangeApiKey" => auth
            .exchange_api_key(authed(
                token,
                ExchangeApiKeyRequest {
                    secret: "ppk_00000000000000000000000000000000.nope".into(),
                },
            ))
            .await
            .map(drop),
        "GetJwks" => auth
            .get_jwks(authed(token, GetJwksRequest {}))
            .await
            .map(drop),
        "CreateBrand" => brands
            .create_brand(authed(
                token,
                CreateBrandRequest {
                    brand: Some(Brand {
                        name,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "GetBrand" => brands
            .get_brand(authed(
                token,
                GetBrandRequest {
                    brand_id: t.brand_id.clone(),
                },
            ))
            .await
            .map(drop),
        "ListBrands" => brands
            .list_brands(authed(token, ListBrandsRequest::default()))
            .await
            .map(drop),
        "UpdateBrand" => brands
            .update_brand(authed(
                token,
                UpdateBrandRequest {
                    brand: Some(Brand {
                        brand_id: t.brand_id.clone(),
                        name,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["name".into()],
                    }),
                },
            ))
            .await
            .map(drop),
        "DeleteBrand" => brands
            .delete_brand(authed(
                token,
                DeleteBrandRequest {
                    brand_id: t.brand_id.clone(),
                },
            ))
            .await
            .map(drop),
        "GetPortfolio" => brands
            .get_portfolio(authed(
                token,
                GetPortfolioRequest {
                    date_range: Some(DateRange {
                        start_date: Some(Date {
                            year: 2026,
                            month: 1,
                            day: 1,
                        }),
                        end_date: Some(Date {
                            year: 2026,
                            month: 1,
                            day: 31,
                        }),
                    }),
                },
            ))
            .await
            .map(drop),
        "ListEvents" => observability
            .list_events(authed(
                token,
                ListEventsRequest {
                    brand_id: t.brand_id.clone(),
                    user_id: t.user_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        // Opening the stream is the call; dropping it frees the slot.
        "StreamEvents" => observability
            .stream_events(authed(
                token,
                StreamEventsRequest {
                    brand_id: t.brand_id.clone(),
                    user_id: t.user_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetUsageSummary" => observability
            .get_usage_summary(authed(
                token,
                GetUsageSummaryRequest {
                    brand_id: t.brand_id.clone(),
                    user_id: t.user_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetAccuracySummary" => observability
            .get_accuracy_summary(authed(
                token,
                GetAccuracySummaryRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetLatencySummary" => observability
            .get_latency_summary(authed(
                token,
                GetLatencySummaryRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "SetCostBudget" => observability
            .set_cost_budget(authed(
                token,
                SetCostBudgetRequest {
                    budget: Some(CostBudget {
                        period: BudgetPeriod::Monthly as i32,
                        limit: Some(pp_proto::common::Money {
                            currency_code: "USD".into(),
                            units: 100,
                            nanos: 0,
                        }),
                        enforcement: BudgetEnforcement::WarnOnly as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "GetCostBudget" => observability
            .get_cost_budget(authed(
                token,
                GetCostBudgetRequest {
                    brand_id: t.brand_id.clone(),
                },
            ))
            .await
            .map(drop),
        "CheckBudget" => observability
            .check_budget(authed(
                token,
                CheckBudgetRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "StartOAuth" => integrations
            .start_o_auth(authed(
                token,
                pp_proto::integrations::StartOAuthRequest {
                    brand_id: t.brand_id.clone(),
                    platform: pp_proto::common::Platform::Shopify as i32,
                    redirect_uri: pulsepoint_e2e::OAUTH_REDIRECT_URI.into(),
                    shop_domain: "acme.myshopify.com".into(),
                },
            ))
            .await
            .map(drop),
        "CompleteOAuth" => integrations
            .complete_o_auth(authed(
                token,
                pp_proto::integrations::CompleteOAuthRequest {
                    state: "not-a-state-we-issued".into(),
                    code: "code".into(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "ConnectDemoStore" => integrations
            .connect_demo_store(authed(
                token,
                pp_proto::integrations::ConnectDemoStoreRequest {
                    brand_id: t.brand_id.clone(),
                    platforms: vec![pp_proto::common::Platform::MetaAds as i32],
                    history_days: 7,
                    seed: 7,
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "ListIntegrations" => integrations
            .list_integrations(authed(
                token,
                pp_proto::integrations::ListIntegrationsRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetIntegration" => integrations
            .get_integration(authed(
                token,
                pp_proto::integrations::GetIntegrationRequest {
                    integration_id: t.integration_id.clone(),
                },
            ))
            .await
            .map(drop),
        "DisconnectIntegration" => integrations
            .disconnect_integration(authed(
                token,
                pp_proto::integrations::DisconnectIntegrationRequest {
                    integration_id: t.integration_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "TriggerSync" => integrations
            .trigger_sync(authed(
                token,
                pp_proto::integrations::TriggerSyncRequest {
                    integration_id: t.integration_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetSyncRun" => integrations
            .get_sync_run(authed(
                token,
                pp_proto::integrations::GetSyncRunRequest {
                    sync_run_id: t.sync_run_id.clone(),
                },
            ))
            .await
            .map(drop),
        "ListSyncRuns" => integrations
            .list_sync_runs(authed(
                token,
                pp_proto::integrations::ListSyncRunsRequest {
                    brand_id: t.brand_id.clone(),
                    integration_id: t.integration_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        // Opening the stream is the call.
        "WatchSync" => integrations
            .watch_sync(authed(
                token,
                pp_proto::integrations::WatchSyncRequest {
                    sync_run_id: t.sync_run_id.clone(),
                },
            ))
            .await
            .map(drop),
        "IngestShopifyWebhook" => integrations
            .ingest_shopify_webhook(authed(
                token,
                pp_proto::integrations::IngestShopifyWebhookRequest {
                    body: b"{}".to_vec(),
                    shop_domain: "acme.myshopify.com".into(),
                    topic: "orders/create".into(),
                    webhook_id: "w-1".into(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetDashboard" => insights
            .get_dashboard(authed(
                token,
                pp_proto::insights::GetDashboardRequest {
                    brand_id: t.brand_id.clone(),
                    date_range: january(),
                    comparison_range: None,
                },
            ))
            .await
            .map(drop),
        "GetAttribution" => insights
            .get_attribution(authed(
                token,
                pp_proto::insights::GetAttributionRequest {
                    brand_id: t.brand_id.clone(),
                    date_range: january(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "GetInventoryForecast" => insights
            .get_inventory_forecast(authed(
                token,
                pp_proto::insights::GetInventoryForecastRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "ListRecommendations" => insights
            .list_recommendations(authed(
                token,
                pp_proto::insights::ListRecommendationsRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "AcceptRecommendation" => insights
            .accept_recommendation(authed(
                token,
                pp_proto::insights::AcceptRecommendationRequest {
                    recommendation_id: or_random(&t.recommendation_id),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "DismissRecommendation" => insights
            .dismiss_recommendation(authed(
                token,
                pp_proto::insights::DismissRecommendationRequest {
                    recommendation_id: or_random(&t.recommendation_id),
                    reason: 1,
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "ListAlerts" => insights
            .list_alerts(authed(
                token,
                pp_proto::insights::ListAlertsRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "AcknowledgeAlert" => insights
            .acknowledge_alert(authed(
                token,
                pp_proto::insights::AcknowledgeAlertRequest {
                    alert_id: t.alert_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "CreateAlertRule" => insights
            .create_alert_rule(authed(
                token,
                pp_proto::insights::CreateAlertRuleRequest {
                    alert_rule: Some(pp_proto::insights::AlertRule {
                        brand_id: t.brand_id.clone(),
                        metric: "net_revenue".into(),
                        condition: pp_proto::insights::AlertCondition::Below as i32,
                        threshold: 100.0,
                        window: Some(prost_types::Duration {
                            seconds: 86_400,
                            nanos: 0,
                        }),
                        enabled: true,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "ListAlertRules" => insights
            .list_alert_rules(authed(
                token,
                pp_proto::insights::ListAlertRulesRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "DeleteAlertRule" => insights
            .delete_alert_rule(authed(
                token,
                pp_proto::insights::DeleteAlertRuleRequest {
                    alert_rule_id: t.alert_rule_id.clone(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(drop),
        "AskQuestion" => insights
            .ask_question(authed(
                token,
                pp_proto::insights::AskQuestionRequest {
                    brand_id: t.brand_id.clone(),
                    text: "What was my net revenue?".into(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        // Opening the stream is the call.
        "StreamAnswer" => insights
            .stream_answer(authed(
                token,
                pp_proto::insights::StreamAnswerRequest {
                    brand_id: t.brand_id.clone(),
                    text: "What was my net revenue?".into(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "SubmitFeedback" => insights
            .submit_feedback(authed(
                token,
                pp_proto::insights::SubmitFeedbackRequest {
                    question_id: or_random(&t.question_id),
                    answer_id: or_random(&t.answer_id),
                    rating: 5,
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        "ListQuestions" => insights
            .list_questions(authed(
                token,
                pp_proto::insights::ListQuestionsRequest {
                    brand_id: t.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop),
        other => {
            panic!("no test call for RPC {method} ({other}): add it to tests/tests/api/support.rs")
        }
    }
}

/// A monthly, blocking budget of USD 1.00 (warning at the default 80%).
pub async fn set_budget_of_one_dollar(
    client: &mut pp_proto::observability::observability_service_client::ObservabilityServiceClient<
        tonic::transport::Channel,
    >,
    token: &str,
) -> pp_proto::observability::CostBudget {
    client
        .set_cost_budget(authed(
            token,
            pp_proto::observability::SetCostBudgetRequest {
                budget: Some(pp_proto::observability::CostBudget {
                    period: pp_proto::observability::BudgetPeriod::Monthly as i32,
                    limit: Some(pp_proto::common::Money {
                        currency_code: "USD".into(),
                        units: 1,
                        nanos: 0,
                    }),
                    enforcement: pp_proto::observability::BudgetEnforcement::Block as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("set budget")
        .into_inner()
        .budget
        .expect("budget")
}

/// API-request events the brands service recorded for `tenant` (bulk outbox rows).
pub async fn brands_api_events(stack: &Stack, tenant: &Tenant) -> i64 {
    let pool = stack.db.pool_as("brands", 1).await.expect("pool");
    let tenant_id = pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("uuid");
    let mut tx = pp_db::TenantTx::begin_for_tenant(&pool, tenant_id)
        .await
        .expect("tx");
    sqlx::query_scalar(
        "select coalesce(sum(events), 0)::bigint from brands.outbox where event_type = 'batch'",
    )
    .fetch_one(tx.conn())
    .await
    .expect("outbox")
}

/// Connects a demo store (Shopify + Meta) to `brand_id` and returns the Shopify
/// integration and its initial run.
pub async fn connect_demo(
    stack: &Stack,
    token: &str,
    brand_id: &str,
    history_days: i32,
) -> (
    pp_proto::integrations::Integration,
    pp_proto::integrations::SyncRun,
) {
    let mut client = stack.integrations().await.expect("integrations client");
    let response = client
        .connect_demo_store(authed(
            token,
            pp_proto::integrations::ConnectDemoStoreRequest {
                brand_id: brand_id.into(),
                platforms: vec![
                    pp_proto::common::Platform::Shopify as i32,
                    pp_proto::common::Platform::MetaAds as i32,
                ],
                history_days,
                seed: 42,
                request_id: Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("connect demo store")
        .into_inner();
    (
        response.integrations[0].clone(),
        response.sync_runs[0].clone(),
    )
}

/// Waits (bounded) until the run reaches a terminal state; returns it.
pub async fn wait_for_run(
    stack: &Stack,
    token: &str,
    sync_run_id: &str,
) -> pp_proto::integrations::SyncRun {
    use pp_proto::integrations::SyncRunState;
    let mut client = stack.integrations().await.expect("integrations client");
    for _ in 0..600 {
        let run = client
            .get_sync_run(authed(
                token,
                pp_proto::integrations::GetSyncRunRequest {
                    sync_run_id: sync_run_id.into(),
                },
            ))
            .await
            .expect("get sync run")
            .into_inner()
            .sync_run
            .expect("run");
        let state = SyncRunState::try_from(run.state).unwrap_or(SyncRunState::Unspecified);
        if !matches!(state, SyncRunState::Queued | SyncRunState::Running) {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("sync run {sync_run_id} did not finish in 60 s");
}
