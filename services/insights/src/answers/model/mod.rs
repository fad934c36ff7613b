//! The model path of answers: Claude through the Messages API, with tool use over the
//! metric engine, streaming its text as it comes.
//!
//! [`answer`] runs the tool-use loop: it streams one turn of the model, forwards the
//! text deltas, runs the tool calls of the turn through a [`ToolBox`] and sends their
//! results back, until the model ends its turn (at most [`MAX_ROUNDS`] turns). The
//! final text is then checked against every figure the tools returned
//! ([`grounding`]); a number no tool produced fails the answer as
//! [`FailureKind::Ungrounded`], so the caller answers from the planner instead.
//!
//! The caller decides what happens around it: the budget check first ([`budget`]),
//! the planner on any [`ModelFailure`], one `ai.model_called` event per [`ModelCall`]
//! ([`model_called_payload`]), in success and failure alike.
//!
//! Cancellation: when the receiver of `events` is dropped (the client of
//! `StreamAnswer` went away), [`answer`] returns [`FailureKind::Cancelled`] at once
//! and drops the HTTP stream, which closes the connection to the API.

pub mod budget;
pub mod client;
pub mod grounding;
pub mod tools;

use std::time::Duration;

use chrono::NaiveDate;
use pp_metrics::Metric;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

pub use client::Client;
pub use tools::{EngineTools, ToolBox, ToolOutput, ToolSpec};

use crate::engine::Figure;
use client::{BlockStart, StreamEvent};

/// The most model turns one answer may take (each but the last runs tools).
pub const MAX_ROUNDS: usize = 6;
/// The provider named in events and spans.
pub const PROVIDER: &str = "anthropic";

/// What the model is told to do, once per answer.
pub const SYSTEM_PROMPT: &str = "You answer a store owner's questions about their own \
e-commerce data (sales, orders, customers, ad spend and ROAS, margins, inventory), using \
only the tools given.

Rules:
- Every number you state must come from a tool result in this conversation: a figure's \
value (use its `display` form, money to the cent, or round it), a date or period a tool \
returned, or the change between two figures of the same metric and filters (difference, \
percentage change). Do not add up, average or estimate figures yourself: when you need a \
total or an average, call compute_metric for it.
- State the period (dates) and the filters each figure covers.
- When the data cannot answer the question (a metric the catalogue does not have, a \
source that is not connected, a period with no data, a question not about the store's \
data), say \"I can't answer that from your data\" in one sentence, with why, and state no \
number.
- Use the metric ids of list_metrics; find campaign, product and variant ids with \
list_campaigns and list_products before filtering by them.
- Be brief: a sentence or two, or a short list for rankings. Plain text, no tables.";

/// The question and what the model needs to know around it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    pub question: String,
    pub brand_name: String,
    pub currency_code: String,
    pub time_zone: String,
    /// The brand's today.
    pub today: NaiveDate,
    /// The period a question that names none is about (inclusive).
    pub default_period: (NaiveDate, NaiveDate),
    /// The question this one follows up, with its answer's text.
    pub parent: Option<ParentExchange>,
}

/// A previous question and the text of its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentExchange {
    pub question: String,
    pub answer: String,
}

/// What [`answer`] reports while it runs, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    /// More of the answer's text. The deltas joined are [`ModelAnswer::text`]; it is
    /// sent before the grounding check, which may still fail the answer.
    TextDelta(String),
    /// A tool is about to run.
    ToolCall { name: String, description: String },
    /// A figure a tool computed.
    Figure(Figure),
}

/// One call of the Messages API (one HTTP request, a retried one included).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCall {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// USD micros, from the price table.
    pub cost_micros: i64,
    pub duration: Duration,
    /// `ok`, `rate_limited` (429), `overloaded` (529 or an `overloaded_error` event),
    /// `server_error` (other 5xx), `unavailable` (no connection), `error` (refused
    /// request, an `error` event, a stream cut short), `protocol_error` (a reply this
    /// client cannot read), `timeout`, `cancelled`.
    pub outcome: &'static str,
}

/// A grounded answer of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelAnswer {
    pub text: String,
    /// Every figure the tools returned, once each, in order.
    pub figures: Vec<Figure>,
    /// The metrics of the figures, once each, in order (their definitions go with the
    /// answer).
    pub metrics: Vec<Metric>,
    pub calls: Vec<ModelCall>,
}

impl ModelAnswer {
    pub fn cost_micros(&self) -> i64 {
        self.calls.iter().map(|c| c.cost_micros).sum()
    }

    pub fn total_tokens(&self) -> u64 {
        self.calls
            .iter()
            .map(|c| c.input_tokens + c.output_tokens)
            .sum()
    }
}

/// Why the model did not answer; the planner answers instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FailureKind {
    /// The answer's deadline (`PULSEPOINT_AI_TIMEOUT_MS`) passed.
    #[error("the model did not answer in time")]
    Timeout,
    /// 429 / 529 / 5xx after every retry, an overload mid-stream, no connection.
    #[error("the model is unavailable")]
    Unavailable,
    /// The text states numbers no tool returned (as written).
    #[error("the answer states numbers no tool returned: {numbers:?}")]
    Ungrounded { numbers: Vec<String> },
    /// A refused request, a reply this client cannot read, a stop other than the end
    /// of the turn, too many tool rounds.
    #[error("model protocol: {0}")]
    Protocol(String),
    /// The receiver of the events was dropped.
    #[error("cancelled by the client")]
    Cancelled,
}

/// A failed answer, with the calls made so far (their cost is spent all the same).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct ModelFailure {
    pub kind: FailureKind,
    pub calls: Vec<ModelCall>,
}

impl ModelFailure {
    pub fn cost_micros(&self) -> i64 {
        self.calls.iter().map(|c| c.cost_micros).sum()
    }
}

/// The `ai.model_called` payload of `call` (docs/events.md), plus its `outcome`.
pub fn model_called_payload(call: &ModelCall, question_id: Uuid, operation: &str) -> Value {
    json!({
        "provider": PROVIDER,
        "model": call.model,
        "operation": operation,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_micros": call.cost_micros,
        "duration_ms": u64::try_from(call.duration.as_millis()).unwrap_or(u64::MAX),
        "question_id": question_id.to_string(),
        "outcome": call.outcome,
    })
}

/// The first user message: the context, then the question.
pub fn user_message(request: &ModelRequest) -> String {
    let mut out = format!(
        "Brand: {}. Currency: {}. Time zone: {}.\n\
         Today is {} (today's data may be incomplete; no period may end after today).\n\
         When the question names no period, use {} to {}.\n",
        request.brand_name,
        request.currency_code,
        request.time_zone,
        request.today,
        request.default_period.0,
        request.default_period.1,
    );
    if let Some(parent) = &request.parent {
        out.push_str(&format!(
            "\nThis follows up an earlier question.\nEarlier question: {}\nEarlier answer: {}\n",
            parent.question, parent.answer
        ));
    }
    out.push_str(&format!("\nQuestion: {}", request.question));
    out
}

/// What the answer's text may state: the tool results so far, and the request.
#[derive(Debug, Default)]
struct Collected {
    figures: Vec<Figure>,
    numbers: Vec<f64>,
    dates: Vec<NaiveDate>,
    names: Vec<String>,
    text: String,
    calls: Vec<ModelCall>,
}

impl Collected {
    fn add(&mut self, output: &ToolOutput) {
        for figure in &output.figures {
            if !self.figures.contains(figure) {
                self.figures.push(figure.clone());
            }
        }
        self.numbers.extend(&output.numbers);
        self.dates.extend(&output.dates);
        self.names.extend(output.names.iter().cloned());
    }

    fn fail(self, kind: FailureKind) -> ModelFailure {
        ModelFailure {
            kind,
            calls: self.calls,
        }
    }
}

/// Answers `request` with the model and `tools`, reporting progress on `events`.
pub async fn answer(
    client: &Client,
    request: &ModelRequest,
    tools: &dyn ToolBox,
    events: &mpsc::Sender<ModelEvent>,
) -> Result<ModelAnswer, ModelFailure> {
    let deadline = Instant::now() + client.settings().timeout;
    let mut collected = Collected {
        dates: vec![
            request.today,
            request.default_period.0,
            request.default_period.1,
        ],
        names: vec![request.brand_name.clone()],
        ..Default::default()
    };
    let mut asked = request.question.clone();
    if let Some(parent) = &request.parent {
        asked.push('\n');
        asked.push_str(&parent.question);
        asked.push('\n');
        asked.push_str(&parent.answer);
    }
    collected.numbers = grounding::numbers_in(&asked);
    let specs: Vec<Value> = tools.specs().iter().map(ToolSpec::to_json).collect();
    let mut messages = vec![json!({"role": "user", "content": user_message(request)})];
    for _round in 0..MAX_ROUNDS {
        let body = json!({
            "model": client.model(),
            "max_tokens": client.settings().max_tokens,
            "system": SYSTEM_PROMPT,
            "messages": messages,
            "tools": specs,
            "stream": true,
        });
        let turn = match turn(client, &body, deadline, events, &mut collected).await {
            Ok(turn) => turn,
            Err(kind) => return Err(collected.fail(kind)),
        };
        messages.push(json!({"role": "assistant", "content": turn.content()}));
        match turn.stop_reason.as_deref() {
            Some("tool_use") => {}
            Some("end_turn" | "stop_sequence") => return finish(collected),
            Some("max_tokens") => {
                return Err(collected.fail(FailureKind::Protocol(
                    "the answer was cut at max_tokens".into(),
                )));
            }
            other => {
                return Err(collected.fail(FailureKind::Protocol(format!(
                    "the turn stopped with {other:?}"
                ))));
            }
        }
        let mut results = Vec::new();
        for block in &turn.blocks {
            let Block::ToolUse { id, name, input } = block else {
                continue;
            };
            let input: Value = if input.trim().is_empty() {
                json!({})
            } else {
                match serde_json::from_str(input) {
                    Ok(input) => input,
                    Err(err) => {
                        results.push(json!({
                            "type": "tool_result", "tool_use_id": id, "is_error": true,
                            "content": format!("the input is not JSON: {err}"),
                        }));
                        continue;
                    }
                }
            };
            let call = ModelEvent::ToolCall {
                name: name.clone(),
                description: tools.describe(name, &input),
            };
            if let Err(kind) = send(events, call, deadline).await {
                return Err(collected.fail(kind));
            }
            let result = tokio::select! {
                result = tokio::time::timeout_at(deadline, tools.call(name, &input)) => result,
                () = events.closed() => return Err(collected.fail(FailureKind::Cancelled)),
            };
            let Ok(result) = result else {
                return Err(collected.fail(FailureKind::Timeout));
            };
            match result {
                Ok(output) => {
                    for figure in &output.figures {
                        if let Err(kind) =
                            send(events, ModelEvent::Figure(figure.clone()), deadline).await
                        {
                            return Err(collected.fail(kind));
                        }
                    }
                    collected.add(&output);
                    results.push(json!({
                        "type": "tool_result", "tool_use_id": id,
                        "content": output.content.to_string(),
                    }));
                }
                Err(error) => {
                    tracing::info!(tool = %name, %error, "tool call refused");
                    results.push(json!({
                        "type": "tool_result", "tool_use_id": id, "is_error": true,
                        "content": error,
                    }));
                }
            }
        }
        if results.is_empty() {
            return Err(collected.fail(FailureKind::Protocol(
                "stop_reason tool_use without a tool call".into(),
            )));
        }
        messages.push(json!({"role": "user", "content": results}));
    }
    Err(collected.fail(FailureKind::Protocol(format!(
        "no answer after {MAX_ROUNDS} turns"
    ))))
}

/// [`answer`] with nobody listening (AskQuestion): the events are read and dropped, so
/// a full channel never holds the model up.
pub async fn answer_unstreamed(
    client: &Client,
    request: &ModelRequest,
    tools: &dyn ToolBox,
) -> Result<ModelAnswer, ModelFailure> {
    let (sender, mut receiver) = mpsc::channel(64);
    let drain = async move { while receiver.recv().await.is_some() {} };
    let run = async move {
        let result = answer(client, request, tools, &sender).await;
        drop(sender);
        result
    };
    let (result, ()) = tokio::join!(run, drain);
    result
}

/// The grounding check, then the answer.
fn finish(collected: Collected) -> Result<ModelAnswer, ModelFailure> {
    let grounds = grounding::Grounds {
        figures: &collected.figures,
        numbers: &collected.numbers,
        dates: &collected.dates,
        names: &collected.names,
    };
    let numbers = grounding::ungrounded_in(&collected.text, &grounds);
    if !numbers.is_empty() {
        tracing::warn!(?numbers, "model answer states numbers no tool returned");
        return Err(collected.fail(FailureKind::Ungrounded { numbers }));
    }
    let mut metrics = Vec::new();
    for figure in &collected.figures {
        if !metrics.contains(&figure.metric) {
            metrics.push(figure.metric);
        }
    }
    Ok(ModelAnswer {
        text: collected.text,
        figures: collected.figures,
        metrics,
        calls: collected.calls,
    })
}

async fn send(
    events: &mpsc::Sender<ModelEvent>,
    event: ModelEvent,
    deadline: Instant,
) -> Result<(), FailureKind> {
    match tokio::time::timeout_at(deadline, events.send(event)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_closed)) => Err(FailureKind::Cancelled),
        Err(_elapsed) => Err(FailureKind::Timeout),
    }
}

/// A content block of the assistant's turn.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Text(String),
    /// The input as streamed (JSON text).
    ToolUse {
        id: String,
        name: String,
        input: String,
    },
    Other,
}

/// One assistant turn, as streamed.
#[derive(Debug, Default)]
struct Turn {
    /// The model that answered (`message_start`).
    model: String,
    blocks: Vec<Block>,
    stop_reason: Option<String>,
    input_tokens: u64,
    output_tokens: u64,
}

impl Turn {
    /// The turn as the assistant message sent back with the tool results.
    fn content(&self) -> Vec<Value> {
        self.blocks
            .iter()
            .filter_map(|block| match block {
                Block::Text(text) if !text.is_empty() => {
                    Some(json!({"type": "text", "text": text}))
                }
                Block::ToolUse { id, name, input } => Some(json!({
                    "type": "tool_use", "id": id, "name": name,
                    "input": serde_json::from_str::<Value>(input).unwrap_or_else(|_| json!({})),
                })),
                _ => None,
            })
            .collect()
    }
}

/// Streams one turn: opens the call (with retries), forwards its text, and records
/// the call with its tokens and outcome in `collected`. The turn runs in a
/// `pp_telemetry::gen_ai_span` (`chat <model>`: `gen_ai.provider.name` and
/// `gen_ai.system`, `gen_ai.operation.name`, `gen_ai.request.model`,
/// `gen_ai.response.model`, `gen_ai.usage.*`, `gen_ai.response.finish_reasons`,
/// `error.type`, `pulsepoint.cost_micros`).
async fn turn(
    client: &Client,
    body: &Value,
    deadline: Instant,
    events: &mpsc::Sender<ModelEvent>,
    collected: &mut Collected,
) -> Result<Turn, FailureKind> {
    let span = pp_telemetry::gen_ai_span(PROVIDER, client.model(), "chat");
    async {
        let mut stream = match client
            .open(body, deadline, &mut collected.calls, events)
            .await
        {
            Ok(stream) => stream,
            Err(kind) => {
                let outcome = collected.calls.last().map_or("error", |c| c.outcome);
                pp_telemetry::record_gen_ai_outcome(&tracing::Span::current(), None, Some(outcome));
                return Err(kind);
            }
        };
        let started = stream.started;
        let mut turn = Turn::default();
        let result = read_turn(&mut stream, &mut turn, deadline, events, collected).await;
        drop(stream);
        let outcome = match &result {
            Ok(()) => "ok",
            Err((_, outcome)) => *outcome,
        };
        let cost_micros = client.cost_micros(turn.input_tokens, turn.output_tokens);
        let span = tracing::Span::current();
        let response_model = if turn.model.is_empty() {
            client.model()
        } else {
            &turn.model
        };
        pp_telemetry::record_gen_ai_usage(
            &span,
            response_model,
            i64::try_from(turn.input_tokens).unwrap_or(i64::MAX),
            i64::try_from(turn.output_tokens).unwrap_or(i64::MAX),
            cost_micros,
        );
        pp_telemetry::record_gen_ai_outcome(
            &span,
            turn.stop_reason.as_deref(),
            (outcome != "ok").then_some(outcome),
        );
        collected.calls.push(ModelCall {
            model: client.model().to_owned(),
            input_tokens: turn.input_tokens,
            output_tokens: turn.output_tokens,
            cost_micros,
            duration: started.elapsed(),
            outcome,
        });
        result.map(|()| turn).map_err(|(kind, _)| kind)
    }
    .instrument(span)
    .await
}

/// Reads the events of one reply into `turn`, forwarding text deltas.
async fn read_turn(
    stream: &mut client::MessageStream,
    turn: &mut Turn,
    deadline: Instant,
    events: &mpsc::Sender<ModelEvent>,
    collected: &mut Collected,
) -> Result<(), (FailureKind, &'static str)> {
    let mut turn_has_text = false;
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, stream.next()) => next,
            () = events.closed() => return Err((FailureKind::Cancelled, "cancelled")),
        };
        let event = match next {
            Err(_elapsed) => return Err((FailureKind::Timeout, "timeout")),
            Ok(Err(reason)) => return Err((FailureKind::Protocol(reason), "protocol_error")),
            Ok(Ok(None)) => {
                return Err((
                    FailureKind::Protocol("the stream ended before message_stop".into()),
                    "error",
                ));
            }
            Ok(Ok(Some(event))) => event,
        };
        match event {
            StreamEvent::MessageStart {
                model,
                input_tokens,
                output_tokens,
            } => {
                turn.model = model;
                turn.input_tokens = input_tokens;
                turn.output_tokens = output_tokens;
            }
            StreamEvent::BlockStart { index, block } => {
                if turn.blocks.len() <= index {
                    turn.blocks.resize(index + 1, Block::Other);
                }
                turn.blocks[index] = match block {
                    BlockStart::Text(text) => Block::Text(text),
                    BlockStart::ToolUse { id, name } => Block::ToolUse {
                        id,
                        name,
                        input: String::new(),
                    },
                    BlockStart::Other(_) => Block::Other,
                };
            }
            StreamEvent::TextDelta { index, text } => {
                let Some(Block::Text(block)) = turn.blocks.get_mut(index) else {
                    return Err((
                        FailureKind::Protocol(format!("text delta for block {index}")),
                        "protocol_error",
                    ));
                };
                block.push_str(&text);
                if text.is_empty() {
                    continue;
                }
                let mut delta = String::new();
                if !turn_has_text && !collected.text.is_empty() {
                    // A later turn's text starts a new paragraph.
                    delta.push_str("\n\n");
                }
                turn_has_text = true;
                delta.push_str(&text);
                collected.text.push_str(&delta);
                send(events, ModelEvent::TextDelta(delta), deadline)
                    .await
                    .map_err(|kind| {
                        let outcome = if kind == FailureKind::Cancelled {
                            "cancelled"
                        } else {
                            "timeout"
                        };
                        (kind, outcome)
                    })?;
            }
            StreamEvent::InputJsonDelta {
                index,
                partial_json,
            } => {
                let Some(Block::ToolUse { input, .. }) = turn.blocks.get_mut(index) else {
                    return Err((
                        FailureKind::Protocol(format!("input delta for block {index}")),
                        "protocol_error",
                    ));
                };
                input.push_str(&partial_json);
            }
            StreamEvent::MessageDelta {
                stop_reason,
                input_tokens,
                output_tokens,
            } => {
                if stop_reason.is_some() {
                    turn.stop_reason = stop_reason;
                }
                turn.input_tokens = turn.input_tokens.max(input_tokens.unwrap_or(0));
                turn.output_tokens = turn.output_tokens.max(output_tokens.unwrap_or(0));
            }
            StreamEvent::MessageStop => return Ok(()),
            StreamEvent::Error { kind, message } => {
                tracing::warn!(%kind, %message, "model stream failed");
                return Err(if kind == "overloaded_error" {
                    (FailureKind::Unavailable, "overloaded")
                } else {
                    (FailureKind::Unavailable, "error")
                });
            }
            StreamEvent::BlockStop { .. } | StreamEvent::Ping | StreamEvent::Other(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
