//! The caller's context, carried from a server request to the internal calls it makes.
//!
//! The server stack runs each request inside [`scope`]; [`ForwardLayer`], on an internal
//! client channel, copies the caller's `authorization`, `x-request-id` and
//! `traceparent` onto the outgoing request, so the next service sees the same user,
//! the same request id and the same trace.

use std::future::Future;
use std::task::{Context, Poll};

use http::HeaderValue;
use tower_layer::Layer;
use tower_service::Service;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const TRACEPARENT_HEADER: &str = "traceparent";

#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub authorization: Option<HeaderValue>,
    pub request_id: Option<HeaderValue>,
    pub traceparent: Option<HeaderValue>,
}

impl CallContext {
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        CallContext {
            authorization: headers.get(http::header::AUTHORIZATION).cloned(),
            request_id: headers.get(REQUEST_ID_HEADER).cloned(),
            traceparent: headers.get(TRACEPARENT_HEADER).cloned(),
        }
    }
}

tokio::task_local! {
    static CALL_CONTEXT: CallContext;
}

/// Runs `future` with `context` as the current call context.
pub fn scope<F: Future>(context: CallContext, future: F) -> impl Future<Output = F::Output> {
    CALL_CONTEXT.scope(context, future)
}

/// The context of the request being served, if any.
pub fn current() -> Option<CallContext> {
    CALL_CONTEXT.try_with(Clone::clone).ok()
}

/// Client-side layer: forwards the current call context on outgoing requests.
#[derive(Clone, Debug, Default)]
pub struct ForwardLayer;

impl<S> Layer<S> for ForwardLayer {
    type Service = Forward<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forward { inner }
    }
}

// === impl Forward ===

#[derive(Clone, Debug)]
pub struct Forward<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Forward<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(context) = current() {
            let headers = request.headers_mut();
            // An explicit header set by the caller wins over the forwarded one.
            let pairs = [
                (http::header::AUTHORIZATION, context.authorization),
                (
                    http::HeaderName::from_static(REQUEST_ID_HEADER),
                    context.request_id,
                ),
                (
                    http::HeaderName::from_static(TRACEPARENT_HEADER),
                    context.traceparent,
                ),
            ];
            for (name, value) in pairs {
                if let Some(value) = value {
                    headers.entry(name).or_insert(value);
                }
            }
        }
        // With tracing exported, the callee's span is a child of the current one.
        pp_telemetry::inject_span_context(&tracing::Span::current(), request.headers_mut());
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt;

    #[tokio::test]
    async fn forwards_identity_request_id_and_trace() {
        let echo = tower::service_fn(|request: http::Request<()>| async move {
            Ok::<_, Infallible>(request.headers().clone())
        });
        let service = ForwardLayer.layer(echo);
        let context = CallContext {
            authorization: Some(HeaderValue::from_static("Bearer abc")),
            request_id: Some(HeaderValue::from_static("req-1")),
            traceparent: Some(HeaderValue::from_static(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )),
        };
        let headers = scope(context, service.clone().oneshot(http::Request::new(())))
            .await
            .expect("infallible");
        assert_eq!(headers.get("authorization").expect("auth"), "Bearer abc");
        assert_eq!(headers.get(REQUEST_ID_HEADER).expect("id"), "req-1");
        assert!(headers.get(TRACEPARENT_HEADER).is_some());

        // Outside a request nothing is invented.
        let headers = service
            .oneshot(http::Request::new(()))
            .await
            .expect("infallible");
        assert!(headers.get("authorization").is_none());
    }
}
