//! ListEvents and StreamEvents.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use pp_auth::{Principal, Role};
use pp_db::{PageRequest, TenantTx};
use pp_error::ApiError;
use pp_proto::observability as pb;
use pp_types::Violations;
use pp_types::convert::{duration_ms, timestamp};
use tonic::Status;

use super::{EVENT_READERS, time_range};
use crate::State;
use crate::live::{self, Refused, TailEnd};
use crate::range;
use crate::store::{self, EventFilter, EventRow, EventStatus};

pub type EventStream = Pin<Box<dyn Stream<Item = Result<pb::StreamEventsResponse, Status>> + Send>>;

/// How long a caller refused for holding too many streams should wait.
const STREAM_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) async fn list(
    state: &State,
    principal: Principal,
    request: pb::ListEventsRequest,
) -> Result<pb::ListEventsResponse, ApiError> {
    principal.require(EVENT_READERS)?;
    let mut violations = Violations::new();
    let range = time_range(
        &mut violations,
        "time_range",
        request.time_range.as_ref(),
        range::EVENTS,
    );
    let mut filter = event_filter(
        &mut violations,
        &principal,
        request.event_types,
        &request.brand_id,
        &request.user_id,
        request.status,
    );
    let page = violations.take(PageRequest::parse(request.page_size, &request.page_token));
    violations.finish()?;
    let (Some((start, end)), Some(page)) = (range, page) else {
        return Err(ApiError::internal(
            "validated request without a range or page",
        ));
    };
    (filter.start, filter.end) = (Some(start), Some(end));
    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
    let (rows, next_page_token) = store::list_events(&mut tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(pb::ListEventsResponse {
        events: rows.iter().map(event_proto).collect(),
        next_page_token,
    })
}

/// A live tail of the caller's tenant, in its brand scope, for as long as its token
/// is good; at most `StreamLimits::per_user` / `per_tenant` at once.
pub(super) async fn stream(
    state: &State,
    principal: Principal,
    request: pb::StreamEventsRequest,
) -> Result<EventStream, ApiError> {
    principal.require(EVENT_READERS)?;
    let mut violations = Violations::new();
    let filter = event_filter(
        &mut violations,
        &principal,
        request.event_types,
        &request.brand_id,
        &request.user_id,
        request.status,
    );
    violations.finish()?;
    let subscription = state
        .live
        .subscribe(principal.tenant_id.0, principal.user_id.0)
        .map_err(|refused| ApiError::ResourceExhausted {
            reason: match refused {
                Refused::UserLimit => "TOO_MANY_STREAMS_FOR_USER",
                Refused::TenantLimit => "TOO_MANY_STREAMS_FOR_TENANT",
            },
            retry_after: STREAM_RETRY_AFTER,
        })?;
    let tenant = principal.tenant_id.0;
    let events = live::tail(
        subscription,
        principal,
        state.token_status.clone(),
        state.live.limits().recheck,
        // The hub only offers this tenant's events; the check stays as a second lock.
        move |row| row.tenant_id == tenant && filter.matches(row),
    );
    Ok(Box::pin(events.map(|item| match item {
        Ok(row) => Ok(pb::StreamEventsResponse {
            event: Some(event_proto(&row)),
        }),
        Err(end) => Err(Status::from(match end {
            TailEnd::Expired => ApiError::Unauthenticated("TOKEN_EXPIRED"),
            TailEnd::Revoked => ApiError::Unauthenticated("TOKEN_REVOKED"),
            TailEnd::StatusUnavailable => ApiError::Unavailable("TOKEN_STATUS_UNAVAILABLE"),
            TailEnd::Lagged(missed) => ApiError::DataLoss {
                reason: "STREAM_LAGGED",
                missed,
            },
        })),
    })))
}

/// The filters ListEvents and StreamEvents share, plus the token's brand scope.
fn event_filter(
    violations: &mut Violations,
    principal: &Principal,
    types: Vec<String>,
    brand: &str,
    user: &str,
    status: i32,
) -> EventFilter {
    let brand_id = violations.optional_uuid("brand_id", brand);
    let user_id = violations.optional_uuid("user_id", user);
    let status = match pb::EventStatus::try_from(status) {
        Ok(pb::EventStatus::Unspecified) => None,
        Ok(pb::EventStatus::Success) => Some(EventStatus::Ok),
        Ok(pb::EventStatus::Failure) => Some(EventStatus::Error),
        Ok(pb::EventStatus::Partial) => Some(EventStatus::Partial),
        Err(_) => {
            violations.add("status", "unknown status");
            None
        }
    };
    if types.len() > 50 || types.iter().any(|t| t.is_empty() || t.len() > 100) {
        violations.add("event_types", "at most 50 non-empty types");
    }
    EventFilter {
        event_types: types,
        brand_id,
        user_id,
        start: None,
        end: None,
        status,
        brand_scope: principal.brand_scope.clone(),
    }
}

fn json_to_prost(value: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_prost).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_prost(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn event_proto(row: &EventRow) -> pb::Event {
    let text = |key: &str| {
        row.payload
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let payload = match row.event_type.as_str() {
        "api.request" | "api.error" => {
            Some(pb::event::Payload::ApiRequest(pb::ApiRequestPayload {
                method: text("method"),
                grpc_code: text("grpc_code"),
                role: text("role")
                    .parse::<Role>()
                    .map(|r| r.to_proto() as i32)
                    .unwrap_or_default(),
                api_key_id: text("api_key_id"),
            }))
        }
        _ => None,
    };
    let attributes = match json_to_prost(&row.payload).kind {
        Some(prost_types::value::Kind::StructValue(fields)) => Some(fields),
        _ => None,
    };
    pb::Event {
        event_id: row.event_id.to_string(),
        tenant_id: row.tenant_id.to_string(),
        event_type: row.event_type.clone(),
        occurred_at: Some(timestamp(row.occurred_at)),
        brand_id: row.brand_id.map(|id| id.to_string()).unwrap_or_default(),
        user_id: row.user_id.map(|id| id.to_string()).unwrap_or_default(),
        request_id: row.request_id.clone().unwrap_or_default(),
        status: match row.status {
            EventStatus::Ok => pb::EventStatus::Success,
            EventStatus::Partial => pb::EventStatus::Partial,
            EventStatus::Error => pb::EventStatus::Failure,
        } as i32,
        duration: row
            .payload
            .get("duration_ms")
            .and_then(|v| v.as_f64())
            .map(duration_ms),
        error_reason: if row.status == EventStatus::Ok {
            String::new()
        } else {
            text("grpc_code")
        },
        payload,
        attributes,
        ..Default::default()
    }
}
