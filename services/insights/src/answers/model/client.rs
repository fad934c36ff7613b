//! The Anthropic Messages API over `reqwest`: `POST {base_url}/v1/messages` with
//! `x-api-key` and `anthropic-version: 2023-06-01`, always `"stream": true`, and the
//! server-sent events of the reply read one chunk at a time.
//!
//! A reply of 429, 529 or any other 5xx (or no connection at all) is retried with
//! exponential backoff and jitter (`retry-after` wins when the API sends it), at most
//! `max_retries` times and never past the answer's deadline. Every attempt is recorded
//! as a [`ModelCall`] (a refused one with no tokens), so cost and errors are always
//! counted.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pp_config::ExposeSecret;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{FailureKind, ModelCall, ModelEvent};
use crate::config::ModelSettings;

/// The API version every request names.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The longest pause a `retry-after` may ask for before the call gives up instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A Messages API client; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    settings: Arc<ModelSettings>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(settings: ModelSettings) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Client {
            http,
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &ModelSettings {
        &self.settings
    }

    /// The model every call asks for.
    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// What `input_tokens` and `output_tokens` of the model cost, in USD micros (the
    /// price table always has the configured model: start-up checks it).
    pub fn cost_micros(&self, input_tokens: u64, output_tokens: u64) -> i64 {
        self.settings
            .prices
            .get(&self.settings.model)
            .map_or(0, |price| price.cost_micros(input_tokens, output_tokens))
    }

    /// A budget estimate of one answer, for `CheckBudget`: two turns of about 3,000
    /// input tokens each and a full `max_tokens` of output.
    pub fn estimated_cost_micros(&self) -> i64 {
        self.cost_micros(6_000, u64::from(self.settings.max_tokens))
    }

    /// A call that ended with `outcome` and no tokens.
    pub(crate) fn call(&self, started: Instant, outcome: &'static str) -> ModelCall {
        ModelCall {
            model: self.settings.model.clone(),
            input_tokens: 0,
            output_tokens: 0,
            cost_micros: 0,
            duration: started.elapsed(),
            outcome,
        }
    }

    /// Sends `body` until the API starts streaming a reply, retrying as the module
    /// says; every failed attempt is pushed to `calls`. Gives up when `events` is
    /// closed (the caller went away) or at `deadline`.
    pub(crate) async fn open(
        &self,
        body: &Value,
        deadline: Instant,
        calls: &mut Vec<ModelCall>,
        events: &mpsc::Sender<ModelEvent>,
    ) -> Result<MessageStream, FailureKind> {
        let mut retries = 0;
        loop {
            let started = Instant::now();
            let attempt = tokio::select! {
                attempt = tokio::time::timeout_at(deadline, self.attempt(body)) => attempt,
                () = events.closed() => {
                    calls.push(self.call(started, "cancelled"));
                    return Err(FailureKind::Cancelled);
                }
            };
            let (outcome, retry_after) = match attempt {
                Err(_elapsed) => {
                    calls.push(self.call(started, "timeout"));
                    return Err(FailureKind::Timeout);
                }
                Ok(Attempt::Streaming(response)) => {
                    return Ok(MessageStream {
                        response,
                        parser: SseParser::default(),
                        pending: VecDeque::new(),
                        started,
                    });
                }
                Ok(Attempt::Refused { outcome, reason }) => {
                    calls.push(self.call(started, outcome));
                    return Err(FailureKind::Protocol(reason));
                }
                Ok(Attempt::Retry {
                    outcome,
                    retry_after,
                }) => (outcome, retry_after),
            };
            calls.push(self.call(started, outcome));
            if retries >= self.settings.max_retries {
                tracing::warn!(outcome, retries, "model unavailable after retries");
                return Err(FailureKind::Unavailable);
            }
            let pause = retry_after.unwrap_or_else(|| backoff(self.settings.retry_base, retries));
            if pause > MAX_RETRY_AFTER || Instant::now() + pause >= deadline {
                tracing::warn!(outcome, ?pause, "model unavailable within the deadline");
                return Err(FailureKind::Unavailable);
            }
            tracing::info!(
                outcome,
                ?pause,
                attempt = retries + 1,
                "retrying the model call"
            );
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = events.closed() => return Err(FailureKind::Cancelled),
            }
            retries += 1;
        }
    }

    /// One POST: a streaming reply, or why not.
    async fn attempt(&self, body: &Value) -> Attempt {
        let url = format!("{}/v1/messages", self.settings.base_url);
        let response = self
            .http
            .post(url)
            .header("x-api-key", self.settings.api_key.expose_secret())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header("accept", "text/event-stream")
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                tracing::warn!(error = %err.without_url(), "model API unreachable");
                return Attempt::Retry {
                    outcome: "unavailable",
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        if status == 200 {
            return Attempt::Streaming(response);
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(Duration::from_secs_f64);
        let outcome = match status {
            429 => "rate_limited",
            529 => "overloaded",
            500..=599 => "server_error",
            _ => {
                // The API's own error text (it never echoes the key).
                let text = response.text().await.unwrap_or_default();
                let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let kind = error["error"]["type"].as_str().unwrap_or("unknown");
                let message = error["error"]["message"].as_str().unwrap_or("");
                tracing::warn!(status, kind, message, "model API refused the request");
                return Attempt::Refused {
                    outcome: "error",
                    reason: format!("HTTP {status}: {kind}: {message}"),
                };
            }
        };
        Attempt::Retry {
            outcome,
            retry_after,
        }
    }
}

/// The pause before retry number `retry` (0-based): `base` × 2^retry, less up to half
/// of it at random (jitter, so many callers do not retry in step).
fn backoff(base: Duration, retry: u32) -> Duration {
    let full = base.saturating_mul(2u32.saturating_pow(retry.min(16)));
    let jitter: f64 = rand::random::<f64>() * 0.5;
    full.mul_f64(1.0 - jitter)
}

enum Attempt {
    Streaming(reqwest::Response),
    Retry {
        outcome: &'static str,
        retry_after: Option<Duration>,
    },
    Refused {
        outcome: &'static str,
        reason: String,
    },
}

/// One event of a streamed message.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart {
        /// The model that answers (a dated snapshot of the one asked for).
        model: String,
        input_tokens: u64,
        output_tokens: u64,
    },
    BlockStart {
        index: usize,
        block: BlockStart,
    },
    TextDelta {
        index: usize,
        text: String,
    },
    InputJsonDelta {
        index: usize,
        partial_json: String,
    },
    BlockStop {
        index: usize,
    },
    /// `usage` numbers are cumulative for the message.
    MessageDelta {
        stop_reason: Option<String>,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    },
    MessageStop,
    Ping,
    Error {
        kind: String,
        message: String,
    },
    /// An event type (or delta type) this client does not use; skipped, as the API
    /// asks of clients.
    Other(String),
}

/// The start of a content block.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    Text(String),
    ToolUse { id: String, name: String },
    Other(String),
}

impl StreamEvent {
    /// The event in one `data:` payload.
    pub fn parse(data: &str) -> Result<StreamEvent, String> {
        let value: Value =
            serde_json::from_str(data).map_err(|err| format!("event is not JSON: {err}"))?;
        let kind = value["type"].as_str().unwrap_or("");
        let index = || -> Result<usize, String> {
            value["index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| format!("{kind} without an index"))
        };
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        Ok(match kind {
            "message_start" => {
                let usage = &value["message"]["usage"];
                StreamEvent::MessageStart {
                    model: text(&value["message"]["model"]),
                    input_tokens: usage["input_tokens"].as_u64().unwrap_or(0),
                    output_tokens: usage["output_tokens"].as_u64().unwrap_or(0),
                }
            }
            "content_block_start" => {
                let block = &value["content_block"];
                StreamEvent::BlockStart {
                    index: index()?,
                    block: match block["type"].as_str().unwrap_or("") {
                        "text" => BlockStart::Text(text(&block["text"])),
                        "tool_use" => BlockStart::ToolUse {
                            id: text(&block["id"]),
                            name: text(&block["name"]),
                        },
                        other => BlockStart::Other(other.to_owned()),
                    },
                }
            }
            "content_block_delta" => {
                let delta = &value["delta"];
                match delta["type"].as_str().unwrap_or("") {
                    "text_delta" => StreamEvent::TextDelta {
                        index: index()?,
                        text: text(&delta["text"]),
                    },
                    "input_json_delta" => StreamEvent::InputJsonDelta {
                        index: index()?,
                        partial_json: text(&delta["partial_json"]),
                    },
                    other => StreamEvent::Other(other.to_owned()),
                }
            }
            "content_block_stop" => StreamEvent::BlockStop { index: index()? },
            "message_delta" => StreamEvent::MessageDelta {
                stop_reason: value["delta"]["stop_reason"].as_str().map(str::to_owned),
                input_tokens: value["usage"]["input_tokens"].as_u64(),
                output_tokens: value["usage"]["output_tokens"].as_u64(),
            },
            "message_stop" => StreamEvent::MessageStop,
            "ping" => StreamEvent::Ping,
            "error" => StreamEvent::Error {
                kind: text(&value["error"]["type"]),
                message: text(&value["error"]["message"]),
            },
            other => StreamEvent::Other(other.to_owned()),
        })
    }
}

/// Splits a byte stream into server-sent events and parses their `data:`.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    /// The complete events in `bytes` and what came before; an incomplete one waits
    /// for the next chunk.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, String> {
        self.buffer.extend(bytes.iter().filter(|b| **b != b'\r'));
        let mut out = Vec::new();
        while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let event = std::str::from_utf8(&event).map_err(|_| "event is not UTF-8")?;
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|data| data.strip_prefix(' ').unwrap_or(data))
                .collect();
            if data.is_empty() {
                continue;
            }
            out.push(StreamEvent::parse(&data.join("\n"))?);
        }
        Ok(out)
    }
}

/// A reply being streamed.
pub(crate) struct MessageStream {
    response: reqwest::Response,
    parser: SseParser,
    pending: VecDeque<StreamEvent>,
    /// When the request of this reply was sent.
    pub(crate) started: Instant,
}

impl MessageStream {
    /// The next event; `None` when the body ended.
    pub(crate) async fn next(&mut self) -> Result<Option<StreamEvent>, String> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.pending.extend(self.parser.push(&bytes)?),
                Ok(None) => return Ok(None),
                Err(err) => return Err(format!("stream broke: {}", err.without_url())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_sse_events_split_across_chunks_are_parsed_whole() {
        let wire = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n\
                    event: ping\ndata: {\"type\": \"ping\"}\n\n\
                    event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"forecast\",\"input\":{}}}\r\n\r\n\
                    event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Net révenue\"}}\n\n\
                    event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"horizon\"}}\n\n\
                    event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":15}}\n\n\
                    event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n\
                    event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let bytes = wire.as_bytes();
        // Cut every 7 bytes: inside lines, inside the two-byte é, between events.
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in bytes.chunks(7) {
            events.extend(parser.push(chunk).expect("valid"));
        }
        assert_eq!(
            events,
            vec![
                StreamEvent::MessageStart {
                    model: "claude-sonnet-4-5-20250929".into(),
                    input_tokens: 25,
                    output_tokens: 1
                },
                StreamEvent::Ping,
                StreamEvent::BlockStart {
                    index: 1,
                    block: BlockStart::ToolUse {
                        id: "toolu_1".into(),
                        name: "forecast".into()
                    }
                },
                StreamEvent::TextDelta {
                    index: 0,
                    text: "Net révenue".into()
                },
                StreamEvent::InputJsonDelta {
                    index: 1,
                    partial_json: "{\"horizon".into()
                },
                StreamEvent::MessageDelta {
                    stop_reason: Some("tool_use".into()),
                    input_tokens: None,
                    output_tokens: Some(15)
                },
                StreamEvent::Error {
                    kind: "overloaded_error".into(),
                    message: "Overloaded".into()
                },
                StreamEvent::MessageStop,
            ]
        );
    }

    #[test]
    fn client_unknown_events_are_skipped_and_bad_json_is_an_error() {
        let mut parser = SseParser::default();
        let events = parser
            .push(b": comment\n\nevent: thinking\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\"}}\n\n")
            .expect("valid");
        assert_eq!(events, vec![StreamEvent::Other("thinking_delta".into())]);
        assert!(parser.push(b"data: {not json\n\n").is_err());
    }

    #[test]
    fn client_backoff_doubles_with_jitter() {
        let base = Duration::from_millis(100);
        for retry in 0..4 {
            let full = base * 2u32.pow(retry);
            let pause = backoff(base, retry);
            assert!(pause <= full && pause >= full / 2, "{pause:?} for {retry}");
        }
    }
}
