//! Forwarding gRPC calls to the backend that owns the service.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use pp_error::ApiError;
use tonic::Status;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;
use tower_service::Service;

/// Headers that belong to one hop and must not cross to HTTP/2 backends.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

#[derive(Clone)]
pub struct Proxy {
    /// Service full name → channel to its backend.
    backends: Arc<HashMap<String, Channel>>,
    internal: Arc<Vec<&'static str>>,
}

impl Proxy {
    pub fn new(
        backends: &HashMap<String, String>,
        internal: &[&'static str],
    ) -> Result<Self, tonic::transport::Error> {
        let mut channels = HashMap::new();
        for (service, url) in backends {
            let channel = Endpoint::from_shared(url.clone())?
                .connect_timeout(std::time::Duration::from_secs(2))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(std::time::Duration::from_secs(30))
                .connect_lazy();
            channels.insert(service.clone(), channel);
        }
        Ok(Proxy {
            backends: Arc::new(channels),
            internal: Arc::new(internal.to_vec()),
        })
    }

    fn route(&self, path: &str) -> Result<Channel, Status> {
        if self.internal.contains(&path) {
            return Err(Status::unimplemented("not available through the gateway"));
        }
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        self.backends
            .get(service)
            .cloned()
            .ok_or_else(|| Status::unimplemented("service not deployed"))
    }
}

fn status_response(status: Status) -> http::Response<Body> {
    status.into_http()
}

/// Takes gRPC (tonic-web has already translated grpc-web) and returns gRPC.
impl Service<http::Request<Body>> for Proxy {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let channel = self.route(request.uri().path());
        Box::pin(async move {
            let channel = match channel {
                Ok(channel) => channel,
                Err(status) => return Ok(status_response(status)),
            };
            // The client address the request-context layer found (through the trusted
            // proxies, see `PULSEPOINT_TRUSTED_PROXIES`).
            let client = request
                .extensions()
                .get::<pp_server::ClientAddr>()
                .map(|client| client.to_string());
            let (mut parts, body) = request.into_parts();
            for name in HOP_BY_HOP {
                parts.headers.remove(*name);
            }
            // The backend's spans become children of the gateway's: one trace per
            // request. Without an exporter there is no span context and the client's
            // own traceparent (if any) passes through unchanged.
            pp_telemetry::inject_span_context(&tracing::Span::current(), &mut parts.headers);
            // The backends trust the gateway, not the client: the address found here
            // replaces whatever chain arrived.
            parts.headers.remove("x-forwarded-for");
            if let Some(value) = client.and_then(|ip| http::HeaderValue::from_str(&ip).ok()) {
                parts.headers.insert("x-forwarded-for", value);
            }
            let path = parts.uri.path_and_query().cloned();
            let mut uri = http::Uri::builder();
            if let Some(path) = path {
                uri = uri.path_and_query(path);
            }
            parts.uri = uri.build().unwrap_or_default();
            let outgoing = http::Request::from_parts(parts, body);
            match channel.oneshot(outgoing).await {
                Ok(response) => Ok(response),
                Err(err) => {
                    tracing::warn!(%err, "backend unavailable");
                    Ok(status_response(
                        ApiError::Unavailable("BACKEND_UNAVAILABLE").into(),
                    ))
                }
            }
        })
    }
}
