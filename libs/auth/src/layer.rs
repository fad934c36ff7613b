//! The server-side authentication layer every Pulsepoint server runs.
//!
//! Reads `authorization: Bearer …`, verifies the token ([`TokenVerifier`]), checks it is
//! still good ([`CachedTokenStatus`]), and puts the [`Principal`] into the request
//! extensions. Health, reflection and the public auth RPCs pass untouched. A refusal
//! is a gRPC `UNAUTHENTICATED` response; the reason is logged, not sent.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use pp_error::ApiError;
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;

use crate::principal::Principal;
use crate::status::{CachedTokenStatus, TokenState};
use crate::verifier::TokenVerifier;

/// Paths that need no token: health, reflection, and the listed methods.
#[derive(Clone, Debug, Default)]
pub struct PublicMethods(Arc<HashSet<String>>);

impl PublicMethods {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(methods: I) -> Self {
        PublicMethods(Arc::new(methods.into_iter().map(Into::into).collect()))
    }

    pub fn is_public(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.v1.Health/")
            || path.starts_with("/grpc.reflection.v1.ServerReflection/")
            || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
            || self.0.contains(path)
    }
}

#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<TokenVerifier>,
    status: Arc<CachedTokenStatus>,
    public: PublicMethods,
}

impl AuthLayer {
    pub fn new(
        verifier: Arc<TokenVerifier>,
        status: Arc<CachedTokenStatus>,
        public: PublicMethods,
    ) -> Self {
        AuthLayer {
            verifier,
            status,
            public,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

// === impl Auth ===

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

/// Extracts the bearer token of a request, if well-formed.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl AuthLayer {
    /// Authenticates a request's headers.
    pub async fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, ApiError> {
        let token = bearer_token(headers).ok_or(ApiError::Unauthenticated("MISSING_TOKEN"))?;
        let principal = self.layer_verify(token)?;
        let state = self.status.state(&principal).await.map_err(|cause| {
            tracing::error!(%cause, "token status unavailable");
            ApiError::Unavailable("TOKEN_STATUS_UNAVAILABLE")
        })?;
        match state {
            TokenState::Active => Ok(principal),
            refused => {
                tracing::info!(reason = refused.as_str(), "token refused");
                Err(ApiError::Unauthenticated("TOKEN_REVOKED"))
            }
        }
    }

    fn layer_verify(&self, token: &str) -> Result<Principal, ApiError> {
        self.verifier.verify(token).map_err(|reason| {
            tracing::info!(%reason, "token refused");
            ApiError::Unauthenticated("INVALID_TOKEN")
        })
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Auth<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        // The clone is not ready; keep the ready one for this call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            if layer.public.is_public(request.uri().path()) {
                return inner.call(request).await;
            }
            match layer.authenticate(request.headers()).await {
                Ok(principal) => {
                    let span = tracing::Span::current();
                    span.record("tenant_id", tracing::field::display(principal.tenant_id));
                    span.record("user_id", tracing::field::display(principal.user_id));
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}
