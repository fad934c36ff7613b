//! The outermost layer: request id, span, trace parent, call context, one log line.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http::HeaderValue;
use pp_auth::context::{self, CallContext, REQUEST_ID_HEADER};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::client_addr::{ClientAddr, TrustedProxies};

#[derive(Clone, Debug, Default)]
pub struct RequestContextLayer {
    trusted_proxies: Arc<TrustedProxies>,
}

impl RequestContextLayer {
    /// `trusted_proxies`: whose `x-forwarded-for` is believed for [`ClientAddr`].
    pub fn new(trusted_proxies: TrustedProxies) -> Self {
        RequestContextLayer {
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContext {
            inner,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

// === impl RequestContext ===

#[derive(Clone, Debug)]
pub struct RequestContext<S> {
    inner: S,
    trusted_proxies: Arc<TrustedProxies>,
}

/// A client-supplied request id is kept if it is short and printable; otherwise a
/// fresh UUIDv7 replaces it.
fn request_id(headers: &http::HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID_HEADER)
        .filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 64
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        })
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RequestContext<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let request_id = request_id(request.headers());
        request
            .headers_mut()
            .insert(REQUEST_ID_HEADER, request_id.clone());
        let peer = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.ip());
        let client = ClientAddr::from_parts(&self.trusted_proxies, peer, request.headers());
        if let Some(client) = client {
            request.extensions_mut().insert(client);
        }
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            rpc.system = "grpc",
            rpc.method = %method,
            request_id = %request_id.to_str().unwrap_or_default(),
            client.address = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
        );
        if let Some(client) = client {
            span.record("client.address", tracing::field::display(client));
        }
        pp_telemetry::set_parent_from_headers(&span, request.headers());
        let call_context = CallContext::from_headers(request.headers());
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let logged_span = span.clone();
        Box::pin(
            context::scope(call_context, async move {
                let mut result = future.await;
                let code = match &result {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0")
                        .to_owned(),
                    Err(_) => "transport".to_owned(),
                };
                if let Ok(response) = &mut result {
                    response.headers_mut().insert(REQUEST_ID_HEADER, request_id);
                }
                let _entered = logged_span.enter();
                tracing::info!(
                    grpc.code = %code,
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "rpc finished"
                );
                result
            })
            .instrument(span),
        )
    }
}
