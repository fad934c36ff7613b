//! StreamAnswer: the question first, then progress and figures as the engine computes
//! them, the text in pieces, and the complete answer last. The work runs in its own
//! task, which is aborted when the client goes away (the stream is dropped).

use pp_auth::Principal;
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_proto::insights as pb;
use pp_proto::insights::stream_answer_response::Event;
use pp_types::convert::timestamp;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use uuid::Uuid;

use super::questions::{Ask, question_proto};
use super::{AnswerStream, InsightsApi, convert};
use crate::answers::Step;
use crate::store;

/// Aborts the answering task when the response stream is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn event(event: Event) -> Result<pb::StreamAnswerResponse, Status> {
    Ok(pb::StreamAnswerResponse { event: Some(event) })
}

/// The answer's text in the pieces a client shows as they arrive (line by line).
pub fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

impl InsightsApi {
    pub(super) async fn answer_stream(
        &self,
        principal: Principal,
        ask: Ask,
    ) -> Result<AnswerStream, ApiError> {
        // Errors a client can act on come as the RPC's status, before the stream.
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        self.visible_brand(&mut tx, &principal, ask.brand_id)
            .await?;
        let replay = match &ask.request_id {
            Some(request_id) => {
                store::questions::by_request(&mut tx, principal.user_id.0, request_id).await?
            }
            None => None,
        };
        if let Some(parent) = ask.parent_question_id {
            store::questions::get(&mut tx, parent, principal.user_id.0)
                .await?
                .filter(|row| row.brand_id == ask.brand_id)
                .ok_or(ApiError::NotFound("QUESTION_NOT_FOUND"))?;
        }
        tx.commit().await?;
        let (out, receiver) = mpsc::channel::<Result<pb::StreamAnswerResponse, Status>>(64);
        if let Some(row) = replay {
            let mut question = question_proto(&row)?;
            let answer = question.answer.take();
            let _ = out.send(event(Event::Question(question))).await;
            if let Some(answer) = answer {
                for piece in pieces(&answer.text) {
                    let _ = out.send(event(Event::TextDelta(piece))).await;
                }
                let _ = out.send(event(Event::Answer(answer))).await;
            }
            drop(out);
            return Ok(Box::pin(ReceiverStream::new(receiver)));
        }
        let question_id = Uuid::new_v4();
        let first = pb::Question {
            question_id: question_id.to_string(),
            brand_id: ask.brand_id.to_string(),
            user_id: principal.user_id.0.to_string(),
            text: ask.text.clone(),
            category: String::new(),
            state: pb::QuestionState::Answering as i32,
            answer: None,
            parent_question_id: ask
                .parent_question_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            ask_time: Some(timestamp(chrono::Utc::now())),
            feedback: None,
        };
        let api = InsightsApi {
            state: self.state.clone(),
        };
        // The task answers with the caller's identity and trace: internal calls it
        // makes (freshness, CheckBudget) forward them as the request's own would.
        let call_context = pp_auth::context::current();
        let span = tracing::Span::current();
        let work = async move {
            if out.send(event(Event::Question(first))).await.is_err() {
                return;
            }
            let (steps, mut step_receiver) = mpsc::channel::<Step>(64);
            let forward = {
                let out = out.clone();
                async move {
                    let mut streamed = String::new();
                    while let Some(step) = step_receiver.recv().await {
                        let message = match step {
                            Step::Progress {
                                description,
                                metric,
                            } => Event::Progress(pb::AnswerProgress {
                                description,
                                metric,
                            }),
                            Step::Figure(figure) => Event::Figure(convert::figure(&figure)),
                            Step::TextDelta(text) => {
                                streamed.push_str(&text);
                                Event::TextDelta(text)
                            }
                        };
                        if out.send(event(message)).await.is_err() {
                            // The client left: dropping the receiver stops the work.
                            return streamed;
                        }
                    }
                    streamed
                }
            };
            let work = async move {
                let result = api.ask(&principal, ask, question_id, Some(&steps)).await;
                drop(steps);
                result
            };
            let (result, streamed) = tokio::join!(work, forward);
            match result {
                Ok(question) => {
                    let answer = question.answer.unwrap_or_default();
                    // The planner's text comes whole at the end; so does the planner's
                    // when it replaced a model answer whose text had streamed.
                    if streamed != answer.text {
                        for piece in pieces(&answer.text) {
                            if out.send(event(Event::TextDelta(piece))).await.is_err() {
                                return;
                            }
                        }
                    }
                    let _ = out.send(event(Event::Answer(answer))).await;
                }
                Err(err) => {
                    let _ = out.send(Err(err.into())).await;
                }
            }
        };
        let work = tracing::Instrument::instrument(work, span);
        let task = match call_context {
            Some(context) => tokio::spawn(pp_auth::context::scope(context, work)),
            None => tokio::spawn(work),
        };
        let guard = AbortOnDrop(task.abort_handle());
        let stream = ReceiverStream::new(receiver).map(move |item| {
            let _alive = &guard;
            item
        });
        Ok(Box::pin(stream))
    }
}
