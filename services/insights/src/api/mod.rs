//! gRPC adapters for InsightsService: read the principal, check the role, validate,
//! call the domain, convert.

mod alerts;
mod attribution;
mod convert;
mod dashboard;
mod inventory;
mod paging;
mod questions;
mod recommendations;
mod stream;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use pp_auth::{Principal, Role};
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_proto::insights as pb;
use pp_proto::insights::insights_service_server::InsightsService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::State;
use crate::store::{self, BrandInfo};

pub use alerts::{alert_proto, rule_proto};
pub use convert::{definition, display, figure};
pub use dashboard::preceding;

/// Every role reads.
const READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst, Role::ApiClient];
/// Roles that act on recommendations, alerts and alert rules.
const ACTORS: &[Role] = &[Role::Admin, Role::Manager];
/// Roles that ask questions and rate answers.
const ASKERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst];

pub struct InsightsApi {
    state: Arc<State>,
}

impl InsightsApi {
    pub fn new(state: Arc<State>) -> Self {
        InsightsApi { state }
    }

    /// The brand, when it exists in the caller's tenant and scope; NOT_FOUND otherwise
    /// (the same answer for "absent" and "another tenant's").
    async fn visible_brand(
        &self,
        tx: &mut TenantTx,
        principal: &Principal,
        brand_id: Uuid,
    ) -> Result<BrandInfo, ApiError> {
        if !principal.may_see_brand(brand_id) {
            return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
        }
        store::brand(tx, brand_id)
            .await?
            .ok_or(ApiError::NotFound("BRAND_NOT_FOUND"))
    }

    /// The brands a list RPC covers: `brand_id` when given (NOT_FOUND unless visible),
    /// else the caller's brand scope (`None`: every brand of the tenant).
    async fn listed_brands(
        &self,
        tx: &mut TenantTx,
        principal: &Principal,
        brand_id: Option<Uuid>,
    ) -> Result<Option<Vec<Uuid>>, ApiError> {
        match brand_id {
            Some(brand_id) => {
                self.visible_brand(tx, principal, brand_id).await?;
                Ok(Some(vec![brand_id]))
            }
            None => Ok(principal.brand_scope.clone()),
        }
    }

    /// How fresh each source of the brand is, asked of the integrations service with
    /// the caller's identity (or its answer of the last few seconds); empty (and a
    /// warning) when that call fails: the figures stand on their own, freshness is left
    /// out, not invented.
    async fn freshness(&self, principal: &Principal, brand_id: &str) -> Vec<pb::DataFreshness> {
        let recent = &self.state.recent_freshness;
        match recent
            .for_brand(&self.state.integrations, principal.tenant_id.0, brand_id)
            .await
        {
            Ok(sources) => sources,
            Err(status) => {
                tracing::warn!(code = ?status.code(), "data freshness unavailable");
                Vec::new()
            }
        }
    }
}

/// The event of a change made by `principal`, written in the change's transaction.
async fn record_event(
    tx: &mut TenantTx,
    principal: &Principal,
    event_type: &str,
    brand_id: Uuid,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    let event = pp_events::EventEnvelope::new(principal.tenant_id.0, event_type, payload)
        .with_brand(brand_id)
        .with_user(principal.user_id.0)
        .with_current_request_id();
    Ok(pp_events::outbox::record(tx, store::SCHEMA, &event).await?)
}

/// An engine failure as the RPC's error: the database's, or INTERNAL for a query the
/// RPC built wrongly (its input was validated before).
fn engine_error(err: crate::engine::EngineError) -> ApiError {
    match err {
        crate::engine::EngineError::Db(err) => err.into(),
        crate::engine::EngineError::Query(err) => {
            ApiError::internal(format!("engine query: {err:?}"))
        }
    }
}

type AnswerStream = Pin<Box<dyn Stream<Item = Result<pb::StreamAnswerResponse, Status>> + Send>>;

#[tonic::async_trait]
impl InsightsService for InsightsApi {
    async fn get_dashboard(
        &self,
        request: Request<pb::GetDashboardRequest>,
    ) -> Result<Response<pb::GetDashboardResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.dashboard(principal, request.into_inner()).await?,
        ))
    }

    async fn get_attribution(
        &self,
        request: Request<pb::GetAttributionRequest>,
    ) -> Result<Response<pb::GetAttributionResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.attribution(principal, request.into_inner()).await?,
        ))
    }

    async fn get_inventory_forecast(
        &self,
        request: Request<pb::GetInventoryForecastRequest>,
    ) -> Result<Response<pb::GetInventoryForecastResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.inventory_forecast(principal, request.into_inner())
                .await?,
        ))
    }

    async fn list_recommendations(
        &self,
        request: Request<pb::ListRecommendationsRequest>,
    ) -> Result<Response<pb::ListRecommendationsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.list_recommendations(principal, request.into_inner())
                .await?,
        ))
    }

    async fn accept_recommendation(
        &self,
        request: Request<pb::AcceptRecommendationRequest>,
    ) -> Result<Response<pb::AcceptRecommendationResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.accept_recommendation(principal, request.into_inner())
                .await?,
        ))
    }

    async fn dismiss_recommendation(
        &self,
        request: Request<pb::DismissRecommendationRequest>,
    ) -> Result<Response<pb::DismissRecommendationResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.dismiss_recommendation(principal, request.into_inner())
                .await?,
        ))
    }

    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.alerts_page(principal, request.into_inner()).await?,
        ))
    }

    async fn acknowledge_alert(
        &self,
        request: Request<pb::AcknowledgeAlertRequest>,
    ) -> Result<Response<pb::AcknowledgeAlertResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.acknowledge(principal, request.into_inner()).await?,
        ))
    }

    async fn create_alert_rule(
        &self,
        request: Request<pb::CreateAlertRuleRequest>,
    ) -> Result<Response<pb::CreateAlertRuleResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.create_rule(principal, request.into_inner()).await?,
        ))
    }

    async fn list_alert_rules(
        &self,
        request: Request<pb::ListAlertRulesRequest>,
    ) -> Result<Response<pb::ListAlertRulesResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.list_rules(principal, request.into_inner()).await?,
        ))
    }

    async fn delete_alert_rule(
        &self,
        request: Request<pb::DeleteAlertRuleRequest>,
    ) -> Result<Response<pb::DeleteAlertRuleResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.delete_rule(principal, request.into_inner()).await?,
        ))
    }

    async fn ask_question(
        &self,
        request: Request<pb::AskQuestionRequest>,
    ) -> Result<Response<pb::AskQuestionResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let r = request.into_inner();
        principal.require(ASKERS)?;
        let ask = questions::Ask::parse(
            &r.brand_id,
            &r.text,
            r.date_range.as_ref(),
            &r.parent_question_id,
            &r.request_id,
        )?;
        let question = self.ask(&principal, ask, Uuid::new_v4(), None).await?;
        Ok(Response::new(pb::AskQuestionResponse {
            question: Some(question),
        }))
    }

    type StreamAnswerStream = AnswerStream;

    async fn stream_answer(
        &self,
        request: Request<pb::StreamAnswerRequest>,
    ) -> Result<Response<Self::StreamAnswerStream>, Status> {
        let principal = Principal::from_request(&request)?;
        let r = request.into_inner();
        principal.require(ASKERS)?;
        let ask = questions::Ask::parse(
            &r.brand_id,
            &r.text,
            r.date_range.as_ref(),
            &r.parent_question_id,
            &r.request_id,
        )?;
        Ok(Response::new(self.answer_stream(principal, ask).await?))
    }

    async fn submit_feedback(
        &self,
        request: Request<pb::SubmitFeedbackRequest>,
    ) -> Result<Response<pb::SubmitFeedbackResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.submit_feedback(principal, request.into_inner())
                .await?,
        ))
    }

    async fn list_questions(
        &self,
        request: Request<pb::ListQuestionsRequest>,
    ) -> Result<Response<pb::ListQuestionsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.list_questions(principal, request.into_inner()).await?,
        ))
    }
}
