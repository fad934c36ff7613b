//! The model path against the local Messages API fixture (`pp_platforms::fixtures::
//! anthropic`), with a tool box that returns fixed figures (the engine itself is
//! tested with the database elsewhere).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use pp_metrics::Metric;
use pp_platforms::fixtures::anthropic::{AnthropicFixture, Reply, ScriptedBlock, ScriptedMessage};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::*;
use crate::config::ModelSettings;
use crate::engine::{self, Figure};

const KEY: &str = "sk-ant-test-key";

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).expect("date")
}

fn october_revenue() -> Figure {
    Figure {
        metric: Metric::NetRevenue,
        value: engine::Value::Money(48_213_456_000),
        start: day(10, 1),
        end: day(10, 31),
        filters: Vec::new(),
        currency_code: "USD".into(),
    }
}

/// Answers `compute_metric` with the fixed figures of the asked metric (after the
/// real input check), refuses the rest; records every call.
#[derive(Default)]
struct FixedTools {
    figures: Vec<Figure>,
    calls: Mutex<Vec<(String, Value)>>,
}

impl FixedTools {
    fn new(figures: Vec<Figure>) -> Self {
        FixedTools {
            figures,
            calls: Mutex::default(),
        }
    }

    fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().expect("lock").clone()
    }
}

impl ToolBox for FixedTools {
    fn specs(&self) -> Vec<ToolSpec> {
        tools::engine_specs()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        input: &'a Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            self.calls
                .lock()
                .expect("lock")
                .push((name.to_owned(), input.clone()));
            match name {
                "compute_metric" => {
                    let call = tools::metric_call(input, day(11, 15))?;
                    let figures = self
                        .figures
                        .iter()
                        .filter(|f| f.metric == call.query.metric)
                        .cloned()
                        .collect();
                    Ok(tools::metric_output(&call, figures, "USD"))
                }
                "list_metrics" => Ok(tools::list_metrics()),
                other => Err(format!("unknown tool {other:?}")),
            }
        })
    }
}

fn request() -> ModelRequest {
    ModelRequest {
        question: "What was my revenue in October?".into(),
        brand_name: "Acme Outdoor".into(),
        currency_code: "USD".into(),
        time_zone: "America/New_York".into(),
        today: day(11, 15),
        default_period: (day(10, 16), day(11, 14)),
        parent: None,
    }
}

fn revenue_call(id: &str) -> ScriptedMessage {
    ScriptedMessage::tool_use(
        id,
        "compute_metric",
        json!({"metric": "net_revenue", "start": "2026-10-01", "end": "2026-10-31"}),
        (100, 20),
    )
}

const GROUNDED: &str = "Net revenue from 2026-10-01 to 2026-10-31 was $48,213.46.";

async fn start(script: Vec<Reply>) -> (Arc<AnthropicFixture>, Client) {
    let fixture = AnthropicFixture::new(KEY, script);
    let running = fixture.start().await.expect("fixture");
    let mut settings = ModelSettings::new(&running.base_url(), KEY);
    settings.retry_base = Duration::from_millis(10);
    settings.timeout = Duration::from_secs(10);
    (fixture, Client::new(settings).expect("client"))
}

/// Runs `answer` while collecting every event.
async fn run(
    client: &Client,
    tools: &FixedTools,
) -> (Result<ModelAnswer, ModelFailure>, Vec<ModelEvent>) {
    let (sender, mut receiver) = mpsc::channel(64);
    let collect = async move {
        let mut events = Vec::new();
        while let Some(event) = receiver.recv().await {
            events.push(event);
        }
        events
    };
    let answer = async move {
        let result = answer(client, &request(), tools, &sender).await;
        drop(sender);
        result
    };
    tokio::join!(answer, collect)
}

fn outcomes(calls: &[ModelCall]) -> Vec<&'static str> {
    calls.iter().map(|c| c.outcome).collect()
}

#[tokio::test]
async fn model_tool_use_round_trip_reaches_the_tools_and_streams_the_text() {
    let (fixture, client) = start(vec![
        Reply::Message(revenue_call("toolu_01")),
        Reply::Message(ScriptedMessage::text(GROUNDED, 150, 30)),
    ])
    .await;
    let tools = FixedTools::new(vec![october_revenue()]);
    let (result, events) = run(&client, &tools).await;
    let answer = result.expect("answer");
    assert_eq!(answer.text, GROUNDED);
    assert_eq!(answer.figures, vec![october_revenue()]);
    assert_eq!(answer.metrics, vec![Metric::NetRevenue]);

    // The tool ran with the model's input.
    let calls = tools.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "compute_metric");
    assert_eq!(calls[0].1["metric"], "net_revenue");

    // Events: the call, its figure, then the text in several deltas.
    assert!(
        matches!(&events[0], ModelEvent::ToolCall { name, description }
        if name == "compute_metric" && description == "Computing net_revenue, 2026-10-01 to 2026-10-31")
    );
    assert_eq!(events[1], ModelEvent::Figure(october_revenue()));
    let deltas: Vec<&str> = events[2..]
        .iter()
        .map(|e| match e {
            ModelEvent::TextDelta(text) => text.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(deltas.len() > 1, "streamed in pieces: {deltas:?}");
    assert_eq!(deltas.concat(), GROUNDED);

    // The second request carries the tool_use back and its tool_result.
    let requests = fixture.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first["model"], "claude-sonnet-4-5");
    assert_eq!(first["stream"], true);
    assert_eq!(first["system"], SYSTEM_PROMPT);
    assert_eq!(first["tools"].as_array().map(Vec::len), Some(5));
    let asked = first["messages"][0]["content"].as_str().expect("text");
    assert!(asked.contains("Brand: Acme Outdoor. Currency: USD. Time zone: America/New_York."));
    assert!(asked.contains("Today is 2026-11-15"));
    assert!(asked.ends_with("Question: What was my revenue in October?"));
    let messages = requests[1]["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    assert_eq!(messages[1]["content"][0]["id"], "toolu_01");
    assert_eq!(
        messages[1]["content"][0]["input"],
        json!({"metric": "net_revenue", "start": "2026-10-01", "end": "2026-10-31"})
    );
    let result = &messages[2]["content"][0];
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_01");
    assert!(result.get("is_error").is_none());
    let content: Value =
        serde_json::from_str(result["content"].as_str().expect("text")).expect("json");
    assert_eq!(content["figures"][0]["display"], "$48,213.46");
    assert_eq!(fixture.completed(), 2);
}

#[tokio::test]
async fn model_answer_unstreamed_needs_no_listener() {
    // More text deltas than the channel holds, and nobody reading.
    let long = "Net revenue was $48,213.46. ".repeat(40);
    let (_fixture, client) = start(vec![
        Reply::Message(revenue_call("toolu_01")),
        Reply::Message(ScriptedMessage::text(&long, 150, 300)),
    ])
    .await;
    let tools = FixedTools::new(vec![october_revenue()]);
    let answer = answer_unstreamed(&client, &request(), &tools)
        .await
        .expect("answer");
    assert_eq!(answer.text, long);
}

#[tokio::test]
async fn model_usage_tokens_are_summed_and_costed_from_the_price_table() {
    let (_fixture, client) = start(vec![
        Reply::Message(revenue_call("toolu_01")),
        Reply::Message(ScriptedMessage::text(GROUNDED, 150, 30)),
    ])
    .await;
    let tools = FixedTools::new(vec![october_revenue()]);
    let answer = run(&client, &tools).await.0.expect("answer");
    assert_eq!(outcomes(&answer.calls), ["ok", "ok"]);
    let tokens: Vec<(u64, u64)> = answer
        .calls
        .iter()
        .map(|c| (c.input_tokens, c.output_tokens))
        .collect();
    assert_eq!(tokens, [(100, 20), (150, 30)]);
    // claude-sonnet-4-5 at $3 / $15 per million: 100×3 + 20×15 = 600 micros,
    // 150×3 + 30×15 = 900.
    let costs: Vec<i64> = answer.calls.iter().map(|c| c.cost_micros).collect();
    assert_eq!(costs, [600, 900]);
    assert_eq!(answer.cost_micros(), 1_500);
    assert_eq!(answer.total_tokens(), 300);
    // The budget estimate: 6,000 input tokens and max_tokens (1,024) of output.
    assert_eq!(client.estimated_cost_micros(), 6_000 * 3 + 1_024 * 15);
    assert!(answer.calls.iter().all(|c| c.model == "claude-sonnet-4-5"));
}

#[tokio::test]
async fn model_rate_limited_call_is_retried_after_retry_after() {
    let (fixture, client) = start(vec![
        Reply::RateLimited {
            retry_after_secs: 1,
        },
        Reply::Message(revenue_call("toolu_01")),
        Reply::Message(ScriptedMessage::text(GROUNDED, 150, 30)),
    ])
    .await;
    let tools = FixedTools::new(vec![october_revenue()]);
    let started = std::time::Instant::now();
    let answer = run(&client, &tools).await.0.expect("answer");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after honoured"
    );
    assert_eq!(outcomes(&answer.calls), ["rate_limited", "ok", "ok"]);
    assert_eq!(answer.calls[0].cost_micros, 0);
    assert_eq!(fixture.requests().len(), 3);
}

#[tokio::test]
async fn model_overload_and_server_errors_are_retried_then_succeed() {
    let (fixture, client) = start(vec![
        Reply::Overloaded,
        Reply::ServerError,
        Reply::Message(ScriptedMessage::text(
            "I can't answer that from your data.",
            80,
            12,
        )),
    ])
    .await;
    let tools = FixedTools::default();
    let answer = run(&client, &tools).await.0.expect("answer");
    assert_eq!(
        outcomes(&answer.calls),
        ["overloaded", "server_error", "ok"]
    );
    assert_eq!(answer.text, "I can't answer that from your data.");
    assert!(answer.figures.is_empty());
    assert_eq!(fixture.requests().len(), 3);
}

#[tokio::test]
async fn model_persistent_overload_is_unavailable_with_every_call_recorded() {
    let (fixture, client) = start(vec![Reply::Overloaded; 5]).await;
    let tools = FixedTools::default();
    let failure = run(&client, &tools).await.0.expect_err("unavailable");
    assert_eq!(failure.kind, FailureKind::Unavailable);
    // The first call and three retries.
    assert_eq!(outcomes(&failure.calls), ["overloaded"; 4]);
    assert_eq!(fixture.requests().len(), 4);
}

#[tokio::test]
async fn model_overload_mid_stream_is_unavailable_and_counts_the_tokens() {
    let mut message = ScriptedMessage::text("Net revenue", 90, 5);
    message.error_after_blocks = Some("overloaded_error".into());
    let (_fixture, client) = start(vec![Reply::Message(message)]).await;
    let failure = run(&client, &FixedTools::default())
        .await
        .0
        .expect_err("unavailable");
    assert_eq!(failure.kind, FailureKind::Unavailable);
    assert_eq!(outcomes(&failure.calls), ["overloaded"]);
    assert_eq!(failure.calls[0].input_tokens, 90);
    assert_eq!(failure.cost_micros(), 270 + 15);
}

#[tokio::test]
async fn model_reply_stating_a_number_no_tool_returned_is_ungrounded() {
    let (_fixture, client) = start(vec![
        Reply::Message(revenue_call("toolu_01")),
        Reply::Message(ScriptedMessage::text(
            "Net revenue from 2026-10-01 to 2026-10-31 was $48,213.46, from 1,317 orders.",
            150,
            30,
        )),
    ])
    .await;
    let tools = FixedTools::new(vec![october_revenue()]);
    let failure = run(&client, &tools).await.0.expect_err("ungrounded");
    assert_eq!(
        failure.kind,
        FailureKind::Ungrounded {
            numbers: vec!["1,317".into()]
        }
    );
    // Both calls are still recorded, with their cost.
    assert_eq!(outcomes(&failure.calls), ["ok", "ok"]);
    assert_eq!(failure.cost_micros(), 1_500);
}

#[tokio::test]
async fn model_bad_tool_input_goes_back_as_an_error_result() {
    let (fixture, client) = start(vec![
        Reply::Message(ScriptedMessage::tool_use(
            "toolu_bad",
            "compute_metric",
            json!({"metric": "sessions", "start": "2026-10-01", "end": "2026-10-31"}),
            (100, 20),
        )),
        Reply::Message(ScriptedMessage::text(
            "I can't answer that from your data: Pulsepoint has no sessions metric.",
            150,
            20,
        )),
    ])
    .await;
    let answer = run(&client, &FixedTools::default())
        .await
        .0
        .expect("answer");
    assert!(answer.text.starts_with("I can't answer that"));
    let requests = fixture.requests();
    let result = &requests[1]["messages"][2]["content"][0];
    assert_eq!(result["tool_use_id"], "toolu_bad");
    assert_eq!(result["is_error"], true);
    assert!(
        result["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("unknown metric \"sessions\"")),
        "{result}"
    );
}

#[tokio::test]
async fn model_text_of_several_turns_is_one_answer_in_paragraphs() {
    let mut first = revenue_call("toolu_01");
    first
        .blocks
        .insert(0, ScriptedBlock::Text("Let me look that up.".into()));
    let (_fixture, client) = start(vec![
        Reply::Message(first),
        Reply::Message(ScriptedMessage::text(GROUNDED, 150, 30)),
    ])
    .await;
    let tools = FixedTools::new(vec![october_revenue()]);
    let (result, events) = run(&client, &tools).await;
    let answer = result.expect("answer");
    assert_eq!(answer.text, format!("Let me look that up.\n\n{GROUNDED}"));
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            ModelEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, answer.text);
}

#[tokio::test]
async fn model_wrong_key_is_a_protocol_failure_without_retries() {
    let fixture = AnthropicFixture::new(KEY, vec![]);
    let running = fixture.start().await.expect("fixture");
    let mut settings = ModelSettings::new(&running.base_url(), "sk-ant-wrong");
    settings.retry_base = Duration::from_millis(10);
    let client = Client::new(settings).expect("client");
    let failure = run(&client, &FixedTools::default())
        .await
        .0
        .expect_err("refused");
    assert!(
        matches!(&failure.kind, FailureKind::Protocol(reason) if reason.contains("authentication_error")),
        "{failure:?}"
    );
    assert_eq!(outcomes(&failure.calls), ["error"]);
    assert_eq!(fixture.requests().len(), 1);
}

#[tokio::test]
async fn model_stall_past_the_timeout_is_a_timeout() {
    let (_fixture, client) = start(vec![Reply::Stall]).await;
    let mut settings = client.settings().clone();
    settings.timeout = Duration::from_millis(300);
    let client = Client::new(settings).expect("client");
    let started = std::time::Instant::now();
    let failure = run(&client, &FixedTools::default())
        .await
        .0
        .expect_err("timeout");
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert_eq!(outcomes(&failure.calls), ["timeout"]);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn model_slow_stream_past_the_timeout_is_a_timeout_with_its_tokens() {
    let message = ScriptedMessage::text(GROUNDED, 120, 40).paced(Duration::from_millis(200));
    let (fixture, client) = start(vec![Reply::Message(message)]).await;
    let mut settings = client.settings().clone();
    settings.timeout = Duration::from_millis(500);
    let client = Client::new(settings).expect("client");
    let failure = run(&client, &FixedTools::default())
        .await
        .0
        .expect_err("timeout");
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert_eq!(outcomes(&failure.calls), ["timeout"]);
    // The input tokens of message_start are counted.
    assert_eq!(failure.calls[0].input_tokens, 120);
    assert!(failure.cost_micros() > 0);
    wait_for(|| fixture.disconnects() == 1).await;
}

#[tokio::test]
async fn model_dropping_the_events_receiver_stops_the_model_stream() {
    let long = "Net revenue was $48,213.46. ".repeat(20);
    let message = ScriptedMessage::text(&long, 120, 400).paced(Duration::from_millis(30));
    let (fixture, client) = start(vec![Reply::Message(message)]).await;
    let (sender, mut receiver) = mpsc::channel(1);
    let task = tokio::spawn(async move {
        let tools = FixedTools::new(vec![october_revenue()]);
        answer(&client, &request(), &tools, &sender).await
    });
    // The first delta arrives; then the client goes away.
    let first = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
        .await
        .expect("in time");
    assert!(matches!(first, Some(ModelEvent::TextDelta(_))));
    drop(receiver);
    let failure = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops at once")
        .expect("task")
        .expect_err("cancelled");
    assert_eq!(failure.kind, FailureKind::Cancelled);
    assert_eq!(outcomes(&failure.calls), ["cancelled"]);
    assert_eq!(failure.calls[0].input_tokens, 120);
    // The API side sees the connection go.
    wait_for(|| fixture.disconnects() == 1).await;
    assert_eq!(fixture.completed(), 0);
}

async fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met within 2 s");
}

#[test]
fn model_called_payload_has_the_documented_shape() {
    let call = ModelCall {
        model: "claude-sonnet-4-5".into(),
        input_tokens: 150,
        output_tokens: 30,
        cost_micros: 900,
        duration: Duration::from_millis(1234),
        outcome: "ok",
    };
    let question_id = Uuid::nil();
    assert_eq!(
        model_called_payload(&call, question_id, "ask_question"),
        json!({
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "operation": "ask_question",
            "input_tokens": 150,
            "output_tokens": 30,
            "cost_micros": 900,
            "duration_ms": 1234,
            "question_id": "00000000-0000-0000-0000-000000000000",
            "outcome": "ok",
        })
    );
}

#[test]
fn model_user_message_names_the_context_and_the_parent() {
    let mut asked = request();
    asked.parent = Some(ParentExchange {
        question: "Revenue last month?".into(),
        answer: "Net revenue from 2026-10-01 to 2026-10-31 was $48,213.46.".into(),
    });
    asked.question = "and the month before?".into();
    let text = user_message(&asked);
    assert!(text.contains("When the question names no period, use 2026-10-16 to 2026-11-14."));
    assert!(text.contains("Earlier question: Revenue last month?"));
    assert!(text.contains("Earlier answer: Net revenue"));
    assert!(text.ends_with("Question: and the month before?"));
}
