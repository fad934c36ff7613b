//! gRPC adapters for ObservabilityService, one module per resource: events and live
//! tails, summaries, budgets. Each handler reads the principal, validates the request,
//! calls the store or a domain module and converts the result.

mod budgets;
mod events;
mod summaries;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pp_auth::{Principal, Role};
use pp_error::ApiError;
use pp_proto::common::TimeRange;
use pp_proto::observability as pb;
use pp_proto::observability::observability_service_server::ObservabilityService;
use pp_types::Violations;
use tonic::{Request, Response, Status};

use crate::State;
use crate::range::{self, RangeRule};

pub use events::event_proto;

const EVENT_READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst];
const SUMMARY_READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst, Role::ApiClient];

pub struct ObservabilityApi {
    state: Arc<State>,
}

impl ObservabilityApi {
    pub fn new(state: Arc<State>) -> Self {
        ObservabilityApi { state }
    }
}

/// The request's time range, defaulted and capped by `rule`; violations name `field`.
fn time_range(
    violations: &mut Violations,
    field: &str,
    range: Option<&TimeRange>,
    rule: RangeRule,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let mut bound = |name: &str, value: Option<&prost_types::Timestamp>| {
        value.and_then(|t| violations.time(&format!("{field}.{name}"), t))
    };
    let start = bound("start_time", range.and_then(|r| r.start_time.as_ref()));
    let end = bound("end_time", range.and_then(|r| r.end_time.as_ref()));
    match range::resolve(start, end, Utc::now(), rule) {
        Ok(resolved) => Some(resolved),
        Err(error @ range::RangeError::Empty) => {
            violations.add(format!("{field}.end_time"), error.describe());
            None
        }
        Err(error @ range::RangeError::TooLong(_)) => {
            violations.add(field, error.describe());
            None
        }
    }
}

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::from_request(request).map_err(Status::from)
}

/// Runs a handler's domain part and converts its error at the edge.
async fn respond<T>(
    result: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<Response<T>, Status> {
    Ok(Response::new(result.await?))
}

#[tonic::async_trait]
impl ObservabilityService for ObservabilityApi {
    type StreamEventsStream = events::EventStream;

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let principal = principal(&request)?;
        respond(events::list(&self.state, principal, request.into_inner())).await
    }

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<events::EventStream>, Status> {
        let principal = principal(&request)?;
        respond(events::stream(&self.state, principal, request.into_inner())).await
    }

    async fn get_usage_summary(
        &self,
        request: Request<pb::GetUsageSummaryRequest>,
    ) -> Result<Response<pb::GetUsageSummaryResponse>, Status> {
        let principal = principal(&request)?;
        respond(summaries::usage(
            &self.state,
            principal,
            request.into_inner(),
        ))
        .await
    }

    async fn get_accuracy_summary(
        &self,
        request: Request<pb::GetAccuracySummaryRequest>,
    ) -> Result<Response<pb::GetAccuracySummaryResponse>, Status> {
        let principal = principal(&request)?;
        respond(summaries::accuracy(
            &self.state,
            principal,
            request.into_inner(),
        ))
        .await
    }

    async fn get_latency_summary(
        &self,
        request: Request<pb::GetLatencySummaryRequest>,
    ) -> Result<Response<pb::GetLatencySummaryResponse>, Status> {
        let principal = principal(&request)?;
        respond(summaries::latency(
            &self.state,
            principal,
            request.into_inner(),
        ))
        .await
    }

    async fn set_cost_budget(
        &self,
        request: Request<pb::SetCostBudgetRequest>,
    ) -> Result<Response<pb::SetCostBudgetResponse>, Status> {
        let principal = principal(&request)?;
        respond(budgets::set(&self.state, principal, request.into_inner())).await
    }

    async fn get_cost_budget(
        &self,
        request: Request<pb::GetCostBudgetRequest>,
    ) -> Result<Response<pb::GetCostBudgetResponse>, Status> {
        let principal = principal(&request)?;
        respond(budgets::get(&self.state, principal, request.into_inner())).await
    }

    async fn check_budget(
        &self,
        request: Request<pb::CheckBudgetRequest>,
    ) -> Result<Response<pb::CheckBudgetResponse>, Status> {
        let principal = principal(&request)?;
        respond(budgets::check(&self.state, principal, request.into_inner())).await
    }
}
