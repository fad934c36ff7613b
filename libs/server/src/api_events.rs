//! `api.request` / `api.error` events for every authenticated RPC, recorded off the
//! hot path: the layer only pushes a small record into a buffer queued per tenant
//! ([`buffer`]); a background task ([`writer`]) wakes every 200 ms, serializes the
//! records straight to JSON envelopes and writes them per tenant as one bulk outbox
//! row (see `pp_events::outbox::record_batch`); the relay publishes one message per
//! event. No database write happens inside a request.
//! When a tenant's queue (or the buffer) is full, the database being far behind or the
//! tenant flooding, its records are dropped and counted, never waited for; other
//! tenants' records still get in.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use pp_auth::Principal;
use pp_db::PgPool;
use tower_layer::Layer;
use tower_service::Service;
use uuid::Uuid;

mod buffer;
mod writer;

use buffer::{Limits, PendingCalls};

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
    sender: Arc<Sender>,
}

/// Closes the buffer when the last layer is gone, so the writer flushes and stops.
#[derive(Debug)]
struct Sender {
    pending: Arc<PendingCalls>,
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.pending.close();
    }
}

impl ApiEventsLayer {
    /// Starts the writer task for `schema`'s outbox and returns the layer.
    pub fn start(pool: PgPool, schema: &'static str) -> Self {
        let (layer, writer) = Self::with_writer(pool, schema);
        tokio::spawn(writer);
        layer
    }

    /// The layer and its writer, for the caller to run (and wait for): the writer
    /// flushes what is left and ends once the last copy of the layer is dropped, i.e.
    /// when the server that holds it has stopped.
    pub fn with_writer(
        pool: PgPool,
        schema: &'static str,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        let pending = Arc::new(PendingCalls::new(Limits::DEFAULT));
        let writer = writer::run(pending.clone(), writer::OutboxSink { pool, schema });
        (Self::over(pending), writer)
    }

    fn over(pending: Arc<PendingCalls>) -> Self {
        ApiEventsLayer {
            sender: Arc::new(Sender { pending }),
        }
    }

    /// Records dropped because the writer was behind or their tenant was flooding.
    pub fn dropped(&self) -> u64 {
        self.sender.pending.dropped()
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
            // Full: dropped and counted by the buffer, reported by the writer.
            layer.sender.pending.push(call);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;
    use pp_auth::{Role, TenantId, UserId};
    use tower_test::mock;

    /// A finished call of `tenant_id`, as the layer records it.
    pub(crate) fn call_of(tenant_id: Uuid) -> ApiCall {
        ApiCall {
            event_id: Uuid::now_v7(),
            tenant_id,
            user_id: Uuid::now_v7(),
            role: "analyst",
            method: "/pulsepoint.brands.v1.BrandService/ListBrands".into(),
            grpc_code: 0,
            duration_ms: 1.0,
            request_id: None,
            at: Utc::now(),
        }
    }

    fn principal(tenant: Uuid) -> Principal {
        Principal {
            tenant_id: TenantId(tenant),
            user_id: UserId(Uuid::new_v4()),
            role: Role::Manager,
            brand_scope: None,
            token_id: Uuid::new_v4(),
            session_id: Some(Uuid::new_v4()),
            expires_at: i64::MAX,
        }
    }

    #[tokio::test]
    async fn records_authenticated_calls_with_their_code_and_skips_public_ones() {
        let pending = Arc::new(PendingCalls::new(Limits::DEFAULT));
        let (mut service, mut handle) = mock::spawn_layer::<http::Request<()>, http::Response<()>, _>(
            ApiEventsLayer::over(pending.clone()),
        );
        let tenant = Uuid::new_v4();
        let mut send = |principal: Option<Principal>, grpc_status: Option<&str>| {
            assert!(service.poll_ready().is_ready());
            let mut request = http::Request::builder()
                .uri("/pulsepoint.brands.v1.BrandService/GetBrand")
                .header(pp_auth::context::REQUEST_ID_HEADER, "req-7")
                .body(())
                .expect("request");
            if let Some(principal) = principal {
                request.extensions_mut().insert(principal);
            }
            let response = service.call(request);
            let (_, reply) = handle
                .next_request()
                .now_or_never()
                .flatten()
                .expect("forwarded");
            let mut answer = http::Response::new(());
            if let Some(code) = grpc_status {
                answer
                    .headers_mut()
                    .insert("grpc-status", code.parse().expect("header"));
            }
            reply.send_response(answer);
            response
        };
        send(Some(principal(tenant)), None).await.expect("ok");
        send(Some(principal(tenant)), Some("5")).await.expect("ok");
        send(None, Some("16")).await.expect("ok");

        let drained = pending.drain();
        assert_eq!(drained.batches.len(), 1, "one tenant");
        let (recorded_tenant, calls) = &drained.batches[0];
        assert_eq!(*recorded_tenant, tenant);
        let codes: Vec<i32> = calls.iter().map(|c| c.grpc_code).collect();
        assert_eq!(codes, vec![0, 5], "the public call is not recorded");
        assert!(
            calls
                .iter()
                .all(|c| c.request_id.as_deref() == Some("req-7")
                    && c.method == "/pulsepoint.brands.v1.BrandService/GetBrand")
        );
    }

    #[test]
    fn the_last_layer_gone_closes_the_buffer() {
        let pending = Arc::new(PendingCalls::new(Limits::DEFAULT));
        let layer = ApiEventsLayer::over(pending.clone());
        let copy = layer.clone();
        drop(layer);
        assert!(!pending.is_closed());
        drop(copy);
        assert!(pending.is_closed());
    }

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
