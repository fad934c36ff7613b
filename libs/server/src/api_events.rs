//! `api.request` / `api.error` events for every authenticated RPC, recorded off the
//! hot path: the layer only `try_send`s a small record to a bounded channel; a
//! background task wakes every 200 ms, serializes the records straight to JSON
//! envelopes and writes them per tenant as one bulk outbox row (see
//! `pp_events::outbox::record_batch`); the relay publishes one message per event. No
//! database write happens inside a request.
//! When the channel is full (the database is far behind) records are dropped and
//! counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use pp_auth::{Principal, TenantId};
use pp_db::{PgPool, TenantTx};
use tokio::sync::mpsc;
use tower_layer::Layer;
use tower_service::Service;
use uuid::Uuid;

/// Calls waiting to be written (at most); beyond this they are dropped and counted.
const CHANNEL_CAPACITY: usize = 20_000;
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Tries per tenant batch (backoff 0.2, 0.4, 0.8, 1.6 s between them).
const WRITE_ATTEMPTS: u32 = 5;

/// One finished RPC.
#[derive(Debug, Clone)]
struct ApiCall {
    event_id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    role: &'static str,
    method: String,
    grpc_code: i32,
    duration_ms: f64,
    request_id: Option<String>,
    at: DateTime<Utc>,
}

/// The sending side, shared by the layer; cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiEventsLayer {
    tx: mpsc::Sender<ApiCall>,
    dropped: Arc<AtomicU64>,
}

impl ApiEventsLayer {
    /// Starts the writer task for `schema`'s outbox and returns the layer.
    pub fn start(pool: PgPool, schema: &'static str) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let dropped = Arc::<AtomicU64>::default();
        tokio::spawn(write_batches(pool, schema, rx, dropped.clone()));
        ApiEventsLayer { tx, dropped }
    }

    /// Records dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn grpc_code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// The envelope of an API event, serialized straight to JSON (the shape of
/// [`pp_events::EventEnvelope`], without building a `serde_json::Value` per call).
#[derive(serde::Serialize)]
struct ApiEnvelope<'a> {
    event_id: Uuid,
    tenant_id: Uuid,
    event_type: &'static str,
    occurred_at: DateTime<Utc>,
    user_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    status: &'static str,
    payload: ApiPayload<'a>,
}

#[derive(serde::Serialize)]
struct ApiPayload<'a> {
    method: &'a str,
    grpc_code: &'static str,
    role: &'static str,
    duration_ms: f64,
}

impl ApiCall {
    fn serialized(&self) -> Result<pp_events::outbox::SerializedEvent, serde_json::Error> {
        let failed = self.grpc_code != 0;
        let event_type = if failed { "api.error" } else { "api.request" };
        let envelope = ApiEnvelope {
            event_id: self.event_id,
            tenant_id: self.tenant_id,
            event_type,
            occurred_at: self.at,
            user_id: self.user_id,
            request_id: self.request_id.as_deref(),
            status: if failed { "error" } else { "ok" },
            payload: ApiPayload {
                method: &self.method,
                grpc_code: grpc_code_name(self.grpc_code),
                role: self.role,
                duration_ms: self.duration_ms,
            },
        };
        Ok(pp_events::outbox::SerializedEvent {
            tenant_id: self.tenant_id,
            event_id: envelope.event_id,
            event_type,
            occurred_at: self.at,
            envelope_json: serde_json::to_string(&envelope)?,
        })
    }
}

async fn write_batches(
    pool: PgPool,
    schema: &'static str,
    mut rx: mpsc::Receiver<ApiCall>,
    dropped: Arc<AtomicU64>,
) {
    let mut batch: Vec<ApiCall> = Vec::with_capacity(CHANNEL_CAPACITY);
    let mut behind = false;
    let mut dropped_reported = 0;
    loop {
        // Wait for a first call, then let calls pile up for FLUSH_EVERY without waking
        // this task for each one, then take them all: one outbox row per tenant and
        // flush. A writer that found the channel full flushes again at once.
        if rx.recv_many(&mut batch, CHANNEL_CAPACITY).await == 0 {
            return; // every sender is gone
        }
        if !behind {
            tokio::time::sleep(FLUSH_EVERY).await;
        }
        loop {
            let room = CHANNEL_CAPACITY.saturating_sub(batch.len());
            if room == 0 || rx.recv_many(&mut batch, room).now_or_never().unwrap_or(0) == 0 {
                break;
            }
        }
        behind = batch.len() >= CHANNEL_CAPACITY;
        batch.sort_by_key(|call| call.tenant_id);
        for tenant_calls in batch.chunk_by(|a, b| a.tenant_id == b.tenant_id) {
            // The database may be briefly away: retry with backoff (the channel keeps
            // taking calls meanwhile, and drops what does not fit). Event ids are fixed
            // per call, so a retry after a commit whose answer was lost only publishes
            // duplicates, which the store absorbs.
            let mut attempt = 0;
            while let Err(err) = write_tenant(&pool, schema, tenant_calls).await {
                attempt += 1;
                if attempt >= WRITE_ATTEMPTS {
                    dropped.fetch_add(tenant_calls.len() as u64, Ordering::Relaxed);
                    tracing::error!(%err, count = tenant_calls.len(), "api events not recorded; dropped");
                    break;
                }
                tracing::warn!(%err, attempt, "api events not recorded yet; retrying");
                tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(attempt)).await;
            }
        }
        batch.clear();
        // Drops happen on the request path, silently there: say so here, once per flush.
        let dropped_now = dropped.load(Ordering::Relaxed);
        if dropped_now > dropped_reported {
            tracing::warn!(
                dropped = dropped_now - dropped_reported,
                total = dropped_now,
                "api events dropped: the writer fell behind"
            );
            dropped_reported = dropped_now;
        }
    }
}

async fn write_tenant(pool: &PgPool, schema: &'static str, calls: &[ApiCall]) -> pp_db::Result<()> {
    let Some(first) = calls.first() else {
        return Ok(());
    };
    let events = calls
        .iter()
        .map(ApiCall::serialized)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    let mut tx = TenantTx::begin_for_tenant(pool, TenantId(first.tenant_id)).await?;
    pp_events::outbox::record_batch(&mut tx, schema, &events).await?;
    tx.commit().await
}

impl<S> Layer<S> for ApiEventsLayer {
    type Service = ApiEvents<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiEvents {
            inner,
            layer: self.clone(),
        }
    }
}

// === impl ApiEvents ===

#[derive(Clone, Debug)]
pub struct ApiEvents<S> {
    inner: S,
    layer: ApiEventsLayer,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ApiEvents<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let Some((tenant_id, user_id, role)) = request
            .extensions()
            .get::<Principal>()
            .map(|p| (p.tenant_id.0, p.user_id.0, p.role.as_str()))
        else {
            // Public or refused calls belong to no tenant.
            return Box::pin(self.inner.call(request));
        };
        let method = request.uri().path().to_owned();
        let request_id = request
            .headers()
            .get(pp_auth::context::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let started = Instant::now();
        let at = Utc::now();
        let layer = self.layer.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            // Errors are trailers-only responses (code in the headers); a success's
            // code arrives in trailers after the body and is OK by construction here.
            let grpc_code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                Err(_) => 14,
            };
            let call = ApiCall {
                event_id: Uuid::now_v7(),
                tenant_id,
                user_id,
                role,
                method,
                grpc_code,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                request_id,
                at,
            };
            if layer.tx.try_send(call).is_err() {
                layer.dropped.fetch_add(1, Ordering::Relaxed);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_api_event_is_an_event_envelope() {
        let call = ApiCall {
            event_id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            role: "analyst",
            method: "/pulsepoint.brands.v1.BrandService/GetBrand".into(),
            grpc_code: 5,
            duration_ms: 1.25,
            request_id: Some("req-1".into()),
            at: Utc::now(),
        };
        let row = call.serialized().expect("serialize");
        let event: pp_events::EventEnvelope =
            serde_json::from_str(&row.envelope_json).expect("an EventEnvelope");
        assert_eq!(event.event_id, row.event_id);
        assert_eq!(event.tenant_id, call.tenant_id);
        assert_eq!(event.user_id, Some(call.user_id));
        assert_eq!(
            (event.event_type.as_str(), row.event_type),
            ("api.error", "api.error")
        );
        assert_eq!(event.status, "error");
        assert_eq!(event.occurred_at, call.at);
        assert_eq!(event.request_id.as_deref(), Some("req-1"));
        assert_eq!(
            event.payload,
            serde_json::json!({
                "method": "/pulsepoint.brands.v1.BrandService/GetBrand",
                "grpc_code": "NOT_FOUND",
                "role": "analyst",
                "duration_ms": 1.25,
            })
        );
        let ok = ApiCall {
            grpc_code: 0,
            request_id: None,
            ..call
        };
        let event: pp_events::EventEnvelope =
            serde_json::from_str(&ok.serialized().expect("serialize").envelope_json)
                .expect("envelope");
        assert_eq!(
            (event.event_type.as_str(), event.status.as_str()),
            ("api.request", "ok")
        );
        assert_eq!(event.request_id, None);
    }
}
