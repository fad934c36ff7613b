//! The model path through the RPCs, against a local server that speaks the Messages
//! API (`pp_platforms::fixtures::anthropic`): a tool call reaching the engine, the text
//! streamed, tokens and cost recorded as `ai.model_called` events that observability's
//! GetUsageSummary counts; 429 / 529 retried; an ungrounded number, a stall and an
//! exhausted budget answered by the planner (the last with no model call at all); a
//! StreamAnswer the client drops stopping the model's stream.

use std::sync::Arc;
use std::time::Duration;

use pp_platforms::fixtures::anthropic::{AnthropicFixture, Reply, ScriptedMessage};
use pp_proto::insights::stream_answer_response::Event;
use pp_proto::insights::{
    AnswerEngine, AskQuestionRequest, GetDashboardRequest, Question, StreamAnswerRequest,
};
use pp_proto::observability::GetUsageSummaryRequest;
use pp_proto::observability::observability_service_client::ObservabilityServiceClient;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

const KEY: &str = "sk-ant-test-key";

struct ModelStack {
    stack: Stack,
    fixture: Arc<AnthropicFixture>,
    tenant: Tenant,
    brand_id: String,
}

/// A stack whose insights answers with the fixture model, and a demo brand.
async fn model_stack() -> ModelStack {
    let fixture = AnthropicFixture::new(KEY, Vec::new());
    let running = fixture.start().await.expect("fixture");
    let stack = spawn_stack(StackOptions {
        anthropic: Some((running.base_url(), KEY.to_owned())),
        ..Default::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Demo").await;
    let (_, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 30).await;
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    crate::insights::refresh(&stack, &tenant.tenant_id, &brand.brand_id).await;
    ModelStack {
        stack,
        fixture,
        tenant,
        brand_id: brand.brand_id,
    }
}

/// The last 7 complete days (UTC, the demo brand's zone) and GetDashboard's net revenue
/// over them, as displayed.
async fn last_week(m: &ModelStack) -> (chrono::NaiveDate, chrono::NaiveDate, String) {
    let today = chrono::Utc::now().date_naive();
    let (start, end) = (today - chrono::Days::new(7), today - chrono::Days::new(1));
    let mut insights = m.stack.insights().await.expect("client");
    let dashboard = insights
        .get_dashboard(authed(
            &m.tenant.admin_token,
            GetDashboardRequest {
                brand_id: m.brand_id.clone(),
                date_range: crate::insights::range(start, end),
                comparison_range: None,
            },
        ))
        .await
        .expect("dashboard")
        .into_inner();
    let shown = dashboard
        .kpis
        .iter()
        .filter_map(|k| k.current.as_ref())
        .find(|f| f.metric == "net_revenue")
        .expect("net revenue")
        .display_value
        .clone();
    (start, end, shown)
}

fn compute_net_revenue(start: chrono::NaiveDate, end: chrono::NaiveDate) -> Reply {
    Reply::Message(ScriptedMessage::tool_use(
        "toolu_01",
        "compute_metric",
        json!({"metric": "net_revenue", "start": start.to_string(), "end": end.to_string()}),
        (1_200, 60),
    ))
}

async fn ask(m: &ModelStack, text: &str) -> Question {
    let mut insights = m.stack.insights().await.expect("client");
    insights
        .ask_question(authed(
            &m.tenant.admin_token,
            AskQuestionRequest {
                brand_id: m.brand_id.clone(),
                text: text.into(),
                request_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect("ask")
        .into_inner()
        .question
        .expect("question")
}

/// The insights outbox's events of `event_type` for `question_id`, as envelopes.
async fn outbox(
    m: &ModelStack,
    event_type: &str,
    question_id: &str,
) -> Vec<pp_events::EventEnvelope> {
    let rows: Vec<serde_json::Value> = sqlx::query_scalar(
        "select envelope from insights.outbox
         where event_type = $1 and envelope->'payload'->>'question_id' = $2
         order by occurred_at",
    )
    .bind(event_type)
    .bind(question_id)
    .fetch_all(&m.stack.db.superuser_pool().await.expect("superuser"))
    .await
    .expect("outbox");
    rows.into_iter()
        .map(|row| serde_json::from_value(row).expect("envelope"))
        .collect()
}

#[tokio::test]
async fn the_model_answers_with_engine_tools_and_its_cost_reaches_usage() {
    let m = model_stack().await;
    let (start, end, shown) = last_week(&m).await;
    m.fixture.push(compute_net_revenue(start, end));
    m.fixture.push(Reply::Message(ScriptedMessage::text(
        &format!("Your net revenue from {start} to {end} was {shown}."),
        1_500,
        40,
    )));
    let question = ask(&m, "How much did we make in the last 7 days?").await;
    let answer = question.answer.expect("answer");
    assert_eq!(
        answer.engine,
        AnswerEngine::LlmTools as i32,
        "{}",
        answer.text
    );
    assert!(answer.answerable);
    assert!(answer.text.contains(&shown));
    // The figure came from the engine through the tool.
    assert_eq!(answer.figures.len(), 1);
    assert_eq!(answer.figures[0].metric, "net_revenue");
    assert_eq!(answer.figures[0].display_value, shown);
    assert!(answer.definitions.iter().any(|d| d.metric == "net_revenue"));
    // The second request carried the tool's result back to the model.
    let requests = m.fixture.requests();
    assert_eq!(requests.len(), 2);
    let sent = requests[1].to_string();
    assert!(
        sent.contains("tool_result") && sent.contains("toolu_01"),
        "{sent}"
    );
    // Usage: both calls, priced by the table.
    let usage = answer.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (2_700, 100));
    assert_eq!(usage.model_call_count, 2);
    let cost = pp_types::convert::micros(usage.cost.as_ref().expect("cost"));
    assert!(cost > 0, "priced");
    // One ai.model_called per call, in the outbox; observability counts them.
    let calls = outbox(&m, "ai.model_called", &question.question_id).await;
    assert_eq!(calls.len(), 2);
    let generated = outbox(&m, "ai.answer_generated", &question.question_id).await;
    assert_eq!(generated[0].payload["engine"], "llm_tools");
    assert_eq!(generated[0].payload["cost_micros"], cost);
    for event in calls.iter().chain(&generated) {
        pulsepoint_observability::ingest(&m.stack.observability, event)
            .await
            .expect("ingest");
    }
    let mut observability = m.stack.observability().await.expect("client");
    let totals = observability
        .get_usage_summary(authed(
            &m.tenant.admin_token,
            GetUsageSummaryRequest::default(),
        ))
        .await
        .expect("usage")
        .into_inner()
        .totals
        .expect("totals");
    assert_eq!(totals.input_tokens, 2_700);
    assert_eq!(totals.output_tokens, 100);
    assert_eq!(totals.request_count, 2);
    assert_eq!(
        pp_types::convert::micros(totals.cost.as_ref().expect("cost")),
        cost
    );
}

#[tokio::test]
async fn retries_then_fallbacks_to_the_planner() {
    let m = model_stack().await;
    let (start, end, shown) = last_week(&m).await;
    // 429 then 529, both retried; then the answer.
    m.fixture.push(Reply::RateLimited {
        retry_after_secs: 0,
    });
    m.fixture.push(Reply::Overloaded);
    m.fixture.push(compute_net_revenue(start, end));
    m.fixture.push(Reply::Message(ScriptedMessage::text(
        &format!("Net revenue was {shown}."),
        900,
        20,
    )));
    let retried = ask(&m, "net revenue in the last 7 days").await;
    let answer = retried.answer.expect("answer");
    assert_eq!(
        answer.engine,
        AnswerEngine::LlmTools as i32,
        "{}",
        answer.text
    );
    assert_eq!(m.fixture.requests().len(), 4);
    let outcomes: Vec<String> = outbox(&m, "ai.model_called", &retried.question_id)
        .await
        .iter()
        .map(|e| e.payload["outcome"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(outcomes, ["rate_limited", "overloaded", "ok", "ok"]);

    // A number no tool returned: caught, the planner answers, the event says why.
    m.fixture.push(Reply::Message(ScriptedMessage::text(
        "Net revenue last week was $987,654.32, a record.",
        800,
        15,
    )));
    let ungrounded = ask(&m, "net revenue in the last 7 days").await;
    let answer = ungrounded.answer.expect("answer");
    assert_eq!(answer.engine, AnswerEngine::Planner as i32);
    assert!(!answer.text.contains("987,654.32"), "{}", answer.text);
    assert!(answer.text.contains(&shown), "{}", answer.text);
    let usage = answer.usage.expect("usage");
    assert_eq!(
        usage.model_call_count, 1,
        "the call's cost is still counted"
    );
    let generated = outbox(&m, "ai.answer_generated", &ungrounded.question_id).await;
    assert_eq!(generated[0].payload["fallback"], "ungrounded");
    assert_eq!(generated[0].payload["engine"], "planner");

    // A model that stalls past the deadline: the planner answers.
    m.fixture.push(Reply::Stall);
    let stalled = ask(&m, "net revenue in the last 7 days").await;
    let answer = stalled.answer.expect("answer");
    assert_eq!(answer.engine, AnswerEngine::Planner as i32);
    assert!(answer.text.contains(&shown));
    let generated = outbox(&m, "ai.answer_generated", &stalled.question_id).await;
    assert_eq!(generated[0].payload["fallback"], "timeout");
}

#[tokio::test]
async fn over_budget_the_planner_answers_and_no_model_call_is_made() {
    let m = model_stack().await;
    let mut observability: ObservabilityServiceClient<_> =
        m.stack.observability().await.expect("client");
    set_budget_of_one_dollar(&mut observability, &m.tenant.admin_token).await;
    // Two dollars already spent this month.
    let spent = pp_events::EventEnvelope::new(
        m.tenant.tenant_id.parse().expect("uuid"),
        "ai.model_called",
        json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "operation": "ask_question",
               "input_tokens": 1, "output_tokens": 1, "cost_micros": 2_000_000, "duration_ms": 5}),
    )
    .with_brand(m.brand_id.parse().expect("uuid"));
    assert!(
        pulsepoint_observability::ingest(&m.stack.observability, &spent)
            .await
            .expect("ingest")
    );
    let question = ask(&m, "orders yesterday").await;
    let answer = question.answer.expect("answer");
    assert_eq!(answer.engine, AnswerEngine::Planner as i32);
    assert!(answer.answerable, "{}", answer.text);
    assert!(m.fixture.requests().is_empty(), "no model call over budget");
    let generated = outbox(&m, "ai.answer_generated", &question.question_id).await;
    assert_eq!(generated[0].payload["fallback"], "over_budget");
}

#[tokio::test]
async fn a_stream_the_client_drops_stops_the_model() {
    let m = model_stack().await;
    let (start, end, shown) = last_week(&m).await;
    m.fixture.push(compute_net_revenue(start, end));
    // A long answer, streamed slowly.
    let long = format!(
        "Net revenue was {shown}. {}",
        "It held steady. ".repeat(200)
    );
    m.fixture.push(Reply::Message(
        ScriptedMessage::text(&long, 1_000, 800).paced(Duration::from_millis(20)),
    ));
    let mut insights = m.stack.insights().await.expect("client");
    let mut stream = insights
        .stream_answer(authed(
            &m.tenant.admin_token,
            StreamAnswerRequest {
                brand_id: m.brand_id.clone(),
                text: "how much did we make in the last 7 days?".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("stream")
        .into_inner();
    // Read until the model's text starts arriving, then leave.
    let mut deltas = 0;
    while let Some(message) = stream.message().await.expect("event") {
        if matches!(message.event, Some(Event::TextDelta(_))) {
            deltas += 1;
            if deltas == 3 {
                break;
            }
        }
    }
    assert_eq!(deltas, 3, "the model's text streams");
    drop(stream);
    let mut stopped = false;
    for _ in 0..100 {
        if m.fixture.disconnects() > 0 {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        stopped,
        "the model's stream was closed when the client left"
    );
    assert_eq!(m.fixture.completed(), 1, "only the tool round finished");
    // Nothing was stored for the abandoned question.
    let listed = insights
        .list_questions(authed(
            &m.tenant.admin_token,
            pp_proto::insights::ListQuestionsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.questions.is_empty());
}
