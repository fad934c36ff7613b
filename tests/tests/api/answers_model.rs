//! The model path of answers on the real stack: the engine tools read the brand's data
//! as the caller (RLS), a figure they return grounds the model's text, and the budget
//! check reaches observability with the caller's forwarded identity.

use std::sync::Arc;

use pp_auth::context::{CallContext, scope};
use pp_platforms::fixtures::anthropic::{AnthropicFixture, Reply, ScriptedMessage};
use pp_proto::observability::{BudgetEnforcement, BudgetPeriod, CostBudget, SetCostBudgetRequest};
use pulsepoint_insights::answers::model::budget::{self, Budget};
use pulsepoint_insights::answers::model::{
    self, EngineTools, FailureKind, ModelEvent, ModelRequest, ToolBox, tools,
};
use pulsepoint_insights::config::ModelSettings;
use serde_json::json;
use uuid::Uuid;

use crate::insights::{craft, day, refresh};
use crate::support::*;

const KEY: &str = "sk-ant-e2e";

fn principal(tenant: &Tenant) -> pp_auth::Principal {
    pp_auth::Principal {
        tenant_id: pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("tenant"),
        user_id: pp_auth::UserId::parse("user_id", &tenant.admin_id).expect("user"),
        role: pp_auth::Role::Analyst,
        brand_scope: None,
        token_id: Uuid::new_v4(),
        session_id: None,
        expires_at: i64::MAX,
    }
}

async fn crafted(stack: &Stack) -> (Tenant, EngineTools) {
    let tenant = sign_up(stack, "Answers").await;
    let made = brand_with(
        stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &made.brand_id).await;
    refresh(stack, &tenant.tenant_id, &made.brand_id).await;
    let tools = EngineTools {
        pool: stack.insights.pool.clone(),
        principal: principal(&tenant),
        brand: pulsepoint_insights::store::BrandInfo {
            brand_id: made.brand_id.parse().expect("uuid"),
            currency_code: "CAD".into(),
            time_zone: "America/Toronto".into(),
        },
        today: day(2026, 3, 15),
    };
    (tenant, tools)
}

#[tokio::test]
async fn model_engine_tools_compute_list_and_refuse_as_the_caller() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let (_tenant, tools) = crafted(&stack).await;
    let input = json!({"metric": "net_revenue", "start": "2026-03-01", "end": "2026-03-14"});
    let output = tools.call("compute_metric", &input).await.expect("figures");
    // Hand-checked in insights.rs: 240 CAD net revenue over 1–14 March.
    assert_eq!(output.figures.len(), 1);
    assert_eq!(output.figures[0].value.micros(), Some(240_000_000));
    assert_eq!(output.content["figures"][0]["display"], "240.00 CAD");

    let by_platform = json!({"metric": "ad_spend", "start": "2026-03-01", "end": "2026-03-14",
                             "breakdown": "platform", "order": "desc"});
    let output = tools
        .call("compute_metric", &by_platform)
        .await
        .expect("figures");
    let platforms: Vec<&str> = output
        .figures
        .iter()
        .map(|f| f.filters[0].value.as_str())
        .collect();
    assert_eq!(
        platforms[0], "META_ADS",
        "highest spend first: {platforms:?}"
    );

    let refused = tools
        .call(
            "compute_metric",
            &json!({"metric": "orders", "start": "2026-03-01", "end": "2026-03-31"}),
        )
        .await
        .expect_err("after today");
    assert!(
        refused.starts_with("end: 2026-03-31 is after today"),
        "{refused}"
    );

    let products = tools
        .call("list_products", &json!({"search": "tee-m"}))
        .await
        .expect("list");
    assert_eq!(products.content["products"][0]["product_id"], "p1");
    assert!(products.names.contains(&"TEE-M".to_owned()));
    let campaigns = tools
        .call("list_campaigns", &json!({}))
        .await
        .expect("list");
    assert!(campaigns.content["total"].as_u64().is_some());
    let forecast = tools
        .call(
            "forecast",
            &json!({"horizon_days": 30, "at_risk_only": false}),
        )
        .await
        .expect("forecast");
    assert_eq!(
        forecast.content["variants"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(forecast.figures.len(), 6);

    // Another tenant's principal sees none of it (RLS): zero, not the brand's data.
    let other = sign_up(&stack, "Other").await;
    let stranger = EngineTools {
        principal: principal(&other),
        ..tools.clone()
    };
    let output = stranger
        .call("compute_metric", &input)
        .await
        .expect("figures");
    assert_eq!(output.figures[0].value.micros(), Some(0));
    let products = stranger
        .call("list_products", &json!({}))
        .await
        .expect("list");
    assert_eq!(products.content["total"], 0);
}

#[tokio::test]
async fn model_answer_is_grounded_by_the_engine_figure_and_not_by_another() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let (_tenant, engine_tools) = crafted(&stack).await;
    let call = ScriptedMessage::tool_use(
        "toolu_1",
        "compute_metric",
        json!({"metric": "net_revenue", "start": "2026-03-01", "end": "2026-03-14"}),
        (500, 40),
    );
    let fixture = AnthropicFixture::new(
        KEY,
        [
            Reply::Message(call.clone()),
            Reply::Message(ScriptedMessage::text(
                "Net revenue from March 1 to March 14, 2026 was 240.00 CAD.",
                700,
                30,
            )),
            Reply::Message(call),
            Reply::Message(ScriptedMessage::text(
                "Net revenue from March 1 to March 14, 2026 was 245.00 CAD.",
                700,
                30,
            )),
        ],
    );
    let running = fixture.start().await.expect("fixture");
    let client = model::Client::new(ModelSettings::new(&running.base_url(), KEY)).expect("client");
    let request = ModelRequest {
        question: "What was net revenue in the first half of March?".into(),
        brand_name: "Maple".into(),
        currency_code: "CAD".into(),
        time_zone: "America/Toronto".into(),
        today: day(2026, 3, 15),
        default_period: (day(2026, 2, 13), day(2026, 3, 14)),
        parent: None,
    };
    let tools: Arc<dyn ToolBox> = Arc::new(engine_tools);
    let (sender, mut receiver) = tokio::sync::mpsc::channel(256);
    let drain = tokio::spawn(async move {
        let mut figures = 0;
        while let Some(event) = receiver.recv().await {
            figures += usize::from(matches!(event, ModelEvent::Figure(_)));
        }
        figures
    });
    let answer = model::answer(&client, &request, tools.as_ref(), &sender)
        .await
        .expect("grounded");
    assert_eq!(answer.figures.len(), 1);
    assert_eq!(answer.metrics, vec![pp_metrics::Metric::NetRevenue]);
    assert_eq!(answer.calls.len(), 2);
    let failure = model::answer(&client, &request, tools.as_ref(), &sender)
        .await
        .expect_err("ungrounded");
    assert_eq!(
        failure.kind,
        FailureKind::Ungrounded {
            numbers: vec!["245.00".into()]
        }
    );
    drop(sender);
    assert_eq!(drain.await.expect("drain"), 2);
    // The tool result the model read is the engine's figure.
    let requests = fixture.requests();
    let result = requests[1]["messages"][2]["content"][0]["content"]
        .as_str()
        .expect("text");
    assert!(result.contains("\"display\":\"240.00 CAD\""), "{result}");
    assert_eq!(
        tools::describe("forecast", &json!({})),
        "Forecasting stock over 14 days"
    );
}

fn as_caller(token: &str) -> CallContext {
    CallContext {
        authorization: Some(
            http::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn model_budget_check_forwards_the_caller_and_follows_a_blocking_budget() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Budgets").await;
    let made = brand_with(
        &stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let client = &stack.insights.observability;
    let check = |micros: i64| {
        scope(
            as_caller(&tenant.admin_token),
            budget::check(
                client,
                &made.brand_id,
                "ask_question",
                "claude-sonnet-4-5",
                micros,
            ),
        )
    };
    // No budget: allowed.
    assert_eq!(check(5_000_000).await, Budget::Allowed);
    // Without the caller's identity the check is refused, so the planner answers.
    assert_eq!(
        budget::check(client, &made.brand_id, "ask_question", "m", 1).await,
        Budget::Refused
    );
    stack
        .observability()
        .await
        .expect("client")
        .set_cost_budget(authed(
            &tenant.admin_token,
            SetCostBudgetRequest {
                budget: Some(CostBudget {
                    period: BudgetPeriod::Daily as i32,
                    limit: Some(budget::usd(1_000_000)),
                    enforcement: BudgetEnforcement::Block as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("budget");
    assert_eq!(check(10_000).await, Budget::Allowed);
    assert_eq!(check(2_000_000).await, Budget::Refused);
}
