//! Questions and answers: AskQuestion, StreamAnswer, SubmitFeedback, ListQuestions.
//! The answers themselves come from `crate::answers`.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use pp_auth::Principal;
use pp_db::idempotency::{self, Scope};
use pp_db::{Cursor, TenantTx};
use pp_error::ApiError;
use pp_metrics::Metric;
use pp_proto::insights as pb;
use pp_types::Violations;
use pp_types::convert::{money, timestamp};
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::convert::{self, definitions};
use super::paging::{bound_page, bound_token, fingerprint, trigger_span};
use super::{ASKERS, InsightsApi, READERS, engine_error, record_event};
use crate::answers::model::tools::EngineTools;
use crate::answers::model::{
    self, FailureKind, ModelAnswer, ModelCall, ModelEvent, ModelRequest, ParentExchange,
};
use crate::answers::{self, Planned, Step};
use crate::engine::MAX_PERIOD_DAYS;
use crate::store::questions::{FeedbackRow, NewQuestion, QuestionFilter, QuestionRow};
use crate::store::{self, SCHEMA};

/// The longest question and feedback comment, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// AskQuestion's and StreamAnswer's input, validated.
#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub brand_id: Uuid,
    pub text: String,
    pub default_period: Option<(NaiveDate, NaiveDate)>,
    pub parent_question_id: Option<Uuid>,
    pub request_id: Option<String>,
}

impl Ask {
    pub fn parse(
        brand_id: &str,
        text: &str,
        date_range: Option<&pp_proto::common::DateRange>,
        parent_question_id: &str,
        request_id: &str,
    ) -> Result<Ask, ApiError> {
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand_id", brand_id);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            violations.add("text", "is required");
        } else if trimmed.chars().count() > MAX_TEXT_CHARS {
            violations.add(
                "text",
                format!("must have at most {MAX_TEXT_CHARS} characters"),
            );
        }
        let default_period = convert::range(
            &mut violations,
            "date_range",
            date_range,
            false,
            MAX_PERIOD_DAYS,
        );
        let parent_question_id = violations.optional_uuid("parent_question_id", parent_question_id);
        violations.request_id("request_id", request_id);
        violations.finish()?;
        Ok(Ask {
            brand_id: brand_id.ok_or_else(|| ApiError::internal("validated brand id missing"))?,
            text: trimmed.to_owned(),
            default_period,
            parent_question_id,
            request_id: (!request_id.is_empty()).then(|| request_id.to_owned()),
        })
    }
}

impl InsightsApi {
    /// Answers a question and stores it; `steps` receives progress, figures and (from
    /// the model) text as they come (StreamAnswer). With a model configured and within
    /// budget the model answers with the engine's tools; otherwise, or when its answer
    /// fails (timeout, unavailable, ungrounded), the built-in planner does. A retry with
    /// the same request id gets the stored question back, with no new events or cost.
    pub(super) async fn ask(
        &self,
        principal: &Principal,
        ask: Ask,
        question_id: Uuid,
        steps: Option<&mpsc::Sender<Step>>,
    ) -> Result<pb::Question, ApiError> {
        principal.require(ASKERS)?;
        let started = Instant::now();
        let ask_time = Utc::now();
        let user_id = principal.user_id.0;
        // What the answer needs, read in one short transaction (the model may take
        // seconds: no transaction stays open across it).
        let mut tx = TenantTx::begin(&self.state.pool, principal).await?;
        let brand = self.visible_brand(&mut tx, principal, ask.brand_id).await?;
        if let Some(request_id) = &ask.request_id
            && let Some(row) = store::questions::by_request(&mut tx, user_id, request_id).await?
        {
            tx.commit().await?;
            return question_proto(&row);
        }
        let parent = match ask.parent_question_id {
            None => None,
            Some(parent_id) => Some(
                store::questions::get(&mut tx, parent_id, user_id)
                    .await?
                    .filter(|row| row.brand_id == ask.brand_id)
                    .ok_or(ApiError::NotFound("QUESTION_NOT_FOUND"))?,
            ),
        };
        let parent_plan = parent
            .as_ref()
            .and_then(|row| row.plan.clone())
            .and_then(|plan| serde_json::from_value::<answers::Plan>(plan).ok());
        let today = match self.state.settings.today {
            Some(today) => today,
            None => store::commerce::brand_today(&mut tx, &brand).await?,
        };
        let brand_wire = brand.brand_id.to_string();
        let freshness = self
            .state
            .recent_freshness
            .for_brand(&self.state.integrations, principal.tenant_id.0, &brand_wire)
            .await;
        let connected = match &freshness {
            Ok(sources) => Some(
                sources
                    .iter()
                    .map(|s| platform_wire(s.platform))
                    .collect::<Vec<String>>(),
            ),
            Err(status) => {
                tracing::warn!(code = ?status.code(), "connected sources unknown");
                None
            }
        };
        let ctx = answers::context(
            &mut tx,
            &brand,
            today,
            ask.default_period,
            parent_plan,
            connected,
        )
        .await?;
        tx.commit().await?;

        // The model, when one is configured and the budget allows.
        let mut spent: Vec<ModelCall> = Vec::new();
        let mut fallback: Option<String> = None;
        let mut by_model: Option<ModelAnswer> = None;
        if let Some(client) = &self.state.model {
            let budget = model::budget::check(
                &self.state.observability,
                &brand_wire,
                OPERATION,
                client.model(),
                client.estimated_cost_micros(),
            )
            .await;
            if budget == model::budget::Budget::Refused {
                fallback = Some("over_budget".into());
            } else {
                let request = ModelRequest {
                    question: ask.text.clone(),
                    brand_name: ctx.brand_name.clone(),
                    currency_code: brand.currency_code.clone(),
                    time_zone: brand.time_zone.clone(),
                    today,
                    default_period: ask
                        .default_period
                        .unwrap_or((today - chrono::Days::new(30), today - chrono::Days::new(1))),
                    parent: parent.as_ref().map(|row| ParentExchange {
                        question: row.text.clone(),
                        answer: stored_text(row),
                    }),
                };
                let tools = EngineTools {
                    pool: self.state.pool.clone(),
                    principal: principal.clone(),
                    brand: brand.clone(),
                    today,
                };
                let result = match steps {
                    Some(steps) => ask_streamed(client, &request, &tools, steps).await,
                    None => model::answer_unstreamed(client, &request, &tools).await,
                };
                match result {
                    Ok(answer) => {
                        spent = answer.calls.clone();
                        by_model = Some(answer);
                    }
                    Err(failure) => {
                        tracing::warn!(error = %failure, "the model did not answer; the planner does");
                        if let Some(steps) = steps {
                            let _ = steps
                                .send(Step::Progress {
                                    description: format!(
                                        "The model's answer was not used ({}); answering with the built-in planner",
                                        failure.kind
                                    ),
                                    metric: String::new(),
                                })
                                .await;
                        }
                        fallback = Some(fallback_reason(&failure.kind).to_owned());
                        spent = failure.calls;
                    }
                }
            }
        }

        let mut tx = TenantTx::begin(&self.state.pool, principal).await?;
        // What was answered: the model's text and figures, or the planner's; the
        // planner's reading of the question gives the category and the plan a follow-up
        // starts from either way.
        struct Said {
            text: String,
            figures: Vec<pb::Figure>,
            metrics: Vec<pp_metrics::Metric>,
            answerable: bool,
            engine: pb::AnswerEngine,
            category: String,
            plan: Option<serde_json::Value>,
        }
        let said = match &by_model {
            Some(model_answer) => {
                let reading = answers::parse::plan(&ask.text, &ctx).ok();
                Said {
                    text: model_answer.text.clone(),
                    figures: model_answer.figures.iter().map(convert::figure).collect(),
                    metrics: unique(&model_answer.metrics),
                    answerable: !model_answer.figures.is_empty(),
                    engine: pb::AnswerEngine::LlmTools,
                    category: reading
                        .as_ref()
                        .map_or_else(|| "other".to_owned(), |plan| plan.category.clone()),
                    plan: reading.and_then(|plan| serde_json::to_value(plan).ok()),
                }
            }
            None => {
                let planned = answers::plan_and_answer(&mut tx, &brand, &ask.text, &ctx, steps)
                    .await
                    .map_err(engine_error)?;
                let (figures, metrics, plan) = match &planned {
                    Planned::Answered { plan, answered } => (
                        answered.figures.iter().map(convert::figure).collect(),
                        unique(&answered.metrics),
                        serde_json::to_value(plan).ok(),
                    ),
                    Planned::Refused(_) => (Vec::new(), Vec::new(), None),
                };
                Said {
                    text: planned.text(),
                    figures,
                    metrics,
                    answerable: matches!(planned, Planned::Answered { .. }),
                    engine: pb::AnswerEngine::Planner,
                    category: planned.category().to_owned(),
                    plan,
                }
            }
        };
        let answer_id = Uuid::new_v4();
        let Said {
            text,
            figures,
            metrics,
            answerable,
            engine,
            category,
            plan,
        } = said;
        let engine_name = if engine == pb::AnswerEngine::LlmTools {
            "llm_tools"
        } else {
            "planner"
        };
        let input_tokens: u64 = spent.iter().map(|c| c.input_tokens).sum();
        let output_tokens: u64 = spent.iter().map(|c| c.output_tokens).sum();
        let cost_micros: i64 = spent.iter().map(|c| c.cost_micros).sum();
        let model_name = spent.first().map(|c| c.model.clone()).unwrap_or_default();
        let answer = pb::Answer {
            answer_id: answer_id.to_string(),
            question_id: question_id.to_string(),
            brand_id: brand_wire.clone(),
            text,
            answerable,
            figures,
            definitions: definitions(&metrics),
            data_freshness: freshness.unwrap_or_default(),
            engine: engine as i32,
            usage: Some(pb::AiUsage {
                model: model_name.clone(),
                input_tokens: i64::try_from(input_tokens).unwrap_or(i64::MAX),
                output_tokens: i64::try_from(output_tokens).unwrap_or(i64::MAX),
                cost: Some(money("USD", cost_micros)),
                latency: Some(duration(started.elapsed())),
                model_call_count: i32::try_from(spent.len()).unwrap_or(i32::MAX),
            }),
            generate_time: Some(timestamp(Utc::now())),
        };
        // Every model call costs, whatever became of its answer.
        for call in &spent {
            record_event(
                &mut tx,
                principal,
                "ai.model_called",
                brand.brand_id,
                model::model_called_payload(call, question_id, OPERATION),
            )
            .await?;
        }
        let inserted = store::questions::insert(
            &mut tx,
            &NewQuestion {
                question_id,
                brand_id: brand.brand_id,
                user_id,
                text: &ask.text,
                category: &category,
                parent_question_id: ask.parent_question_id,
                request_id: ask.request_id.as_deref(),
                plan,
                answer_id,
                answerable,
                engine: engine_name,
                answer: answer.encode_to_vec(),
                ask_time,
            },
        )
        .await?;
        if !inserted {
            // A concurrent call with the same request id stored its answer first.
            let request_id = ask.request_id.as_deref().unwrap_or_default();
            let row = store::questions::by_request(&mut tx, user_id, request_id)
                .await?
                .ok_or_else(|| ApiError::internal("conflicting question missing"))?;
            tx.commit().await?;
            return question_proto(&row);
        }
        record_event(
            &mut tx,
            principal,
            "ai.question_asked",
            brand.brand_id,
            json!({ "question_id": question_id, "category": category }),
        )
        .await?;
        record_event(
            &mut tx,
            principal,
            "ai.answer_generated",
            brand.brand_id,
            json!({
                "question_id": question_id,
                "answer_id": answer_id,
                "category": category,
                "answerable": answerable,
                "engine": engine_name,
                "model": model_name,
                "total_tokens": input_tokens + output_tokens,
                "cost_micros": cost_micros,
                "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "fallback": fallback,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(pb::Question {
            question_id: question_id.to_string(),
            brand_id: brand_wire,
            user_id: user_id.to_string(),
            text: ask.text,
            category,
            state: pb::QuestionState::Answered as i32,
            answer: Some(answer),
            parent_question_id: ask
                .parent_question_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            ask_time: Some(timestamp(ask_time)),
            feedback: None,
        })
    }

    pub(super) async fn submit_feedback(
        &self,
        principal: Principal,
        request: pb::SubmitFeedbackRequest,
    ) -> Result<pb::SubmitFeedbackResponse, ApiError> {
        principal.require(ASKERS)?;
        let mut violations = Violations::new();
        let question_id = violations.uuid("question_id", &request.question_id);
        let answer_id = violations.uuid("answer_id", &request.answer_id);
        if !(1..=5).contains(&request.rating) {
            violations.add("rating", "must be between 1 and 5");
        }
        let comment = request.comment.trim().to_owned();
        if comment.chars().count() > MAX_TEXT_CHARS {
            violations.add(
                "comment",
                format!("must have at most {MAX_TEXT_CHARS} characters"),
            );
        }
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let (Some(question_id), Some(answer_id)) = (question_id, answer_id) else {
            return Err(ApiError::internal("validated ids missing"));
        };
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = Scope {
            schema: SCHEMA,
            rpc: "SubmitFeedback",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let user_id = principal.user_id.0;
            let question = store::questions::get(&mut tx, question_id, user_id)
                .await?
                .filter(|row| principal.may_see_brand(row.brand_id))
                .ok_or(ApiError::NotFound("QUESTION_NOT_FOUND"))?;
            if question.answer_id != Some(answer_id) {
                return Err(ApiError::NotFound("ANSWER_NOT_FOUND"));
            }
            let feedback = store::questions::upsert_feedback(
                &mut tx,
                question_id,
                answer_id,
                question.brand_id,
                user_id,
                request.rating,
                request.actionable,
                &comment,
            )
            .await?;
            record_event(
                &mut tx,
                &principal,
                "ai.feedback_provided",
                question.brand_id,
                json!({
                    "question_id": question_id,
                    "answer_id": answer_id,
                    "category": question.category,
                    "rating": request.rating,
                    "actionable": request.actionable,
                }),
            )
            .await?;
            let response = pb::SubmitFeedbackResponse {
                feedback: Some(feedback_proto(&feedback)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }

    pub(super) async fn list_questions(
        &self,
        principal: Principal,
        request: pb::ListQuestionsRequest,
    ) -> Result<pb::ListQuestionsResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.optional_uuid("brand_id", &request.brand_id);
        let user_id = violations.optional_uuid("user_id", &request.user_id);
        let (from, until) = trigger_span(&mut violations, request.time_range.as_ref());
        let stamp = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let query = fingerprint(&[
            "ListQuestions",
            &request.brand_id,
            &request.user_id,
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
        let filter = QuestionFilter {
            brands: listed.as_deref(),
            user_id,
            asked_from: from,
            asked_until: until,
        };
        let rows = store::questions::list(&mut tx, principal.user_id.0, &filter, &page).await?;
        tx.commit().await?;
        let (rows, next) = page.finish(rows, |r| Cursor {
            created_at: r.ask_time,
            id: r.question_id,
        });
        Ok(pb::ListQuestionsResponse {
            questions: rows.iter().map(question_proto).collect::<Result<_, _>>()?,
            next_page_token: bound_token(next, query),
        })
    }
}

/// The operation model calls and budget checks are accounted under.
const OPERATION: &str = "ask_question";

/// Why the model's answer was not used, for `ai.answer_generated`.
fn fallback_reason(kind: &FailureKind) -> &'static str {
    match kind {
        FailureKind::Timeout => "timeout",
        FailureKind::Unavailable => "unavailable",
        FailureKind::Ungrounded { .. } => "ungrounded",
        FailureKind::Protocol(_) => "protocol_error",
        FailureKind::Cancelled => "cancelled",
    }
}

/// The text of a stored question's answer (empty when it has none).
fn stored_text(row: &QuestionRow) -> String {
    row.answer
        .as_deref()
        .and_then(|bytes| pb::Answer::decode(bytes).ok())
        .map(|answer| answer.text)
        .unwrap_or_default()
}

/// The model's answer with its events forwarded as steps while it runs: text as it
/// streams, each tool call as progress, each figure. A closed `steps` (the client left)
/// drops the model's events channel, which stops the model's stream.
async fn ask_streamed(
    client: &model::Client,
    request: &ModelRequest,
    tools: &EngineTools,
    steps: &mpsc::Sender<Step>,
) -> Result<ModelAnswer, model::ModelFailure> {
    let (events, mut receiver) = mpsc::channel::<ModelEvent>(64);
    let forward = async move {
        while let Some(event) = receiver.recv().await {
            let step = match event {
                ModelEvent::TextDelta(text) => Step::TextDelta(text),
                ModelEvent::ToolCall { name, description } => Step::Progress {
                    description,
                    metric: name,
                },
                ModelEvent::Figure(figure) => Step::Figure(figure),
            };
            if steps.send(step).await.is_err() {
                // Dropping the receiver tells the model loop the client is gone.
                return;
            }
        }
    };
    let work = async move { model::answer(client, request, tools, &events).await };
    let (result, ()) = tokio::join!(work, forward);
    result
}

/// `Platform::MetaAds` → `"META_ADS"`.
fn platform_wire(platform: i32) -> String {
    let name = pp_proto::common::Platform::try_from(platform)
        .map(|p| p.as_str_name())
        .unwrap_or("PLATFORM_UNSPECIFIED");
    name.trim_start_matches("PLATFORM_").to_owned()
}

fn unique(metrics: &[Metric]) -> Vec<Metric> {
    let mut out: Vec<Metric> = Vec::new();
    for metric in metrics {
        if !out.contains(metric) {
            out.push(*metric);
        }
    }
    out
}

fn duration(elapsed: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(elapsed.subsec_nanos()).unwrap_or(0),
    }
}

/// A stored question as the wire message.
pub(super) fn question_proto(row: &QuestionRow) -> Result<pb::Question, ApiError> {
    let answer = match &row.answer {
        Some(bytes) => Some(
            pb::Answer::decode(bytes.as_slice())
                .map_err(|err| ApiError::internal(format!("stored answer: {err}")))?,
        ),
        None => None,
    };
    let state = match row.state.as_str() {
        "answering" => pb::QuestionState::Answering,
        "failed" => pb::QuestionState::Failed,
        _ => pb::QuestionState::Answered,
    };
    Ok(pb::Question {
        question_id: row.question_id.to_string(),
        brand_id: row.brand_id.to_string(),
        user_id: row.user_id.to_string(),
        text: row.text.clone(),
        category: row.category.clone(),
        state: state as i32,
        answer,
        parent_question_id: row
            .parent_question_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        ask_time: Some(timestamp(row.ask_time)),
        feedback: row.feedback.as_ref().map(|f| feedback_proto(&f.0)),
    })
}

fn feedback_proto(row: &FeedbackRow) -> pb::Feedback {
    pb::Feedback {
        feedback_id: row.feedback_id.to_string(),
        question_id: row.question_id.to_string(),
        answer_id: row.answer_id.to_string(),
        brand_id: row.brand_id.to_string(),
        user_id: row.user_id.to_string(),
        rating: row.rating,
        actionable: row.actionable,
        comment: row.comment.clone(),
        create_time: Some(timestamp(row.create_time)),
    }
}
