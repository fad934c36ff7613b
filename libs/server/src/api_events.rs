//! `api.request` / `api.error` events for every authenticated RPC, recorded off the
//! hot path: the layer only `try_send`s a small record to a bounded channel; a
//! background task batches the records per tenant into the service's outbox (one
//! transaction per tenant per batch). No database write happens inside a request.
//! When the channel is full (the database is far behind) records are dropped and
//! counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use pp_auth::{Principal, TenantId};
use pp_db::{PgPool, TenantTx};
use tokio::sync::mpsc;
use tower_layer::Layer;
use tower_service::Service;
use uuid::Uuid;

const CHANNEL_CAPACITY: usize = 10_000;
const MAX_BATCH: usize = 1_000;
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// One finished RPC.
#[derive(Debug, Clone)]
struct ApiCall {
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
        tokio::spawn(write_batches(pool, schema, rx));
        ApiEventsLayer {
            tx,
            dropped: Arc::default(),
        }
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

impl ApiCall {
    fn envelope(&self) -> pp_events::EventEnvelope {
        let failed = self.grpc_code != 0;
        let mut event = pp_events::EventEnvelope::new(
            self.tenant_id,
            if failed { "api.error" } else { "api.request" },
            serde_json::json!({
                "method": self.method,
                "grpc_code": grpc_code_name(self.grpc_code),
                "role": self.role,
                "duration_ms": self.duration_ms,
            }),
        )
        .with_user(self.user_id)
        .with_request_id(self.request_id.clone());
        event.occurred_at = self.at;
        event.status = if failed { "error".into() } else { "ok".into() };
        event
    }
}

async fn write_batches(pool: PgPool, schema: &'static str, mut rx: mpsc::Receiver<ApiCall>) {
    let mut batch: Vec<ApiCall> = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = match rx.recv().await {
            Some(call) => call,
            None => return,
        };
        batch.push(first);
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        while batch.len() < MAX_BATCH {
            tokio::select! {
                call = rx.recv() => match call {
                    Some(call) => batch.push(call),
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        batch.sort_by_key(|call| call.tenant_id);
        for tenant_calls in batch.chunk_by(|a, b| a.tenant_id == b.tenant_id) {
            if let Err(err) = write_tenant(&pool, schema, tenant_calls).await {
                tracing::warn!(%err, count = tenant_calls.len(), "api events not recorded");
            }
        }
        batch.clear();
    }
}

async fn write_tenant(
    pool: &PgPool,
    schema: &'static str,
    calls: &[ApiCall],
) -> Result<(), sqlx::Error> {
    let Some(first) = calls.first() else {
        return Ok(());
    };
    let events: Vec<pp_events::EventEnvelope> = calls.iter().map(ApiCall::envelope).collect();
    let mut tx = TenantTx::begin_for_tenant(pool, TenantId(first.tenant_id)).await?;
    pp_events::outbox::record_many(&mut tx, schema, &events).await?;
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
        let Some(principal) = request.extensions().get::<Principal>().cloned() else {
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
                tenant_id: principal.tenant_id.0,
                user_id: principal.user_id.0,
                role: principal.role.as_str(),
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
