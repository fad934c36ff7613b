//! The event as it travels: JSON, one shape for every event type.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The message body on Pub/Sub (and the BigQuery row, see deploy/pubsub/).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventEnvelope {
    pub event_id: Uuid,
    pub tenant_id: Uuid,
    /// e.g. `api.request`, `ai.answer_generated`, `brand.created`.
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `ok`, `error`, … (event-type specific).
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl EventEnvelope {
    pub fn new(tenant_id: Uuid, event_type: impl Into<String>, payload: serde_json::Value) -> Self {
        EventEnvelope {
            event_id: Uuid::now_v7(),
            tenant_id,
            event_type: event_type.into(),
            occurred_at: Utc::now(),
            brand_id: None,
            user_id: None,
            request_id: None,
            status: "ok".into(),
            payload,
        }
    }

    pub fn with_brand(mut self, brand_id: Uuid) -> Self {
        self.brand_id = Some(brand_id);
        self
    }

    pub fn with_user(mut self, user_id: Uuid) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// Takes the request id of the RPC being served (see `pp_auth::context`).
    pub fn with_current_request_id(self) -> Self {
        let request_id = pp_auth::context::current()
            .and_then(|context| context.request_id)
            .and_then(|value| value.to_str().ok().map(str::to_owned));
        self.with_request_id(request_id)
    }
}
