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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{AccessClaims, TOKEN_TYPE_ACCESS};
    use crate::keys::{JwkSet, KeyStore, SigningKey};
    use crate::status::{TokenState, TokenStatus};
    use std::convert::Infallible;
    use tower::ServiceExt;

    /// A status backend with a fixed answer (the layer's own logic is under test).
    struct Fixed(TokenState);

    impl TokenStatus for Fixed {
        fn state(&self, _: &Principal) -> BoxFuture<'_, Result<TokenState, String>> {
            let state = self.0;
            Box::pin(async move { Ok(state) })
        }
    }

    fn layer(state: TokenState) -> (SigningKey, AuthLayer) {
        let key = SigningKey::generate().expect("key");
        let keys = KeyStore::from_jwks(&JwkSet {
            keys: vec![key.public_jwk()],
        })
        .expect("keys");
        let verifier = Arc::new(TokenVerifier::new(Arc::new(keys), "iss", "aud"));
        let status = Arc::new(CachedTokenStatus::new(Arc::new(Fixed(state))));
        (
            key,
            AuthLayer::new(verifier, status, PublicMethods::new(["/pkg.Svc/Open"])),
        )
    }

    fn token(key: &SigningKey) -> String {
        let now = crate::verifier::now_unix();
        key.sign(&AccessClaims {
            sub: uuid::Uuid::new_v4().to_string(),
            tid: uuid::Uuid::new_v4().to_string(),
            role: "manager".into(),
            brands: None,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: "iss".into(),
            aud: "aud".into(),
            exp: now + 60,
            iat: now,
            nbf: now,
            sid: Some(uuid::Uuid::new_v4().to_string()),
            typ: TOKEN_TYPE_ACCESS.into(),
        })
        .expect("sign")
    }

    /// Answers 200 with a header saying whether a principal arrived.
    fn inner() -> impl Service<
        http::Request<()>,
        Response = http::Response<String>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|request: http::Request<()>| async move {
            let role = request
                .extensions()
                .get::<Principal>()
                .map(|p| p.role.to_string())
                .unwrap_or_default();
            Ok::<_, Infallible>(http::Response::new(role))
        })
    }

    fn request(path: &str, token: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::builder().uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(()).expect("request")
    }

    fn grpc_status(response: &http::Response<String>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn public_paths_pass_and_private_ones_need_a_good_token() {
        let (key, auth) = layer(TokenState::Active);
        let service = auth.layer(inner());

        let open = service
            .clone()
            .oneshot(request("/pkg.Svc/Open", None))
            .await
            .expect("infallible");
        assert_eq!(grpc_status(&open), None);
        let health = service
            .clone()
            .oneshot(request("/grpc.health.v1.Health/Check", None))
            .await
            .expect("infallible");
        assert_eq!(grpc_status(&health), None);

        let missing = service
            .clone()
            .oneshot(request("/pkg.Svc/Closed", None))
            .await
            .expect("infallible");
        assert_eq!(grpc_status(&missing), Some("16"));
        let garbage = service
            .clone()
            .oneshot(request("/pkg.Svc/Closed", Some("x.y.z")))
            .await
            .expect("infallible");
        assert_eq!(grpc_status(&garbage), Some("16"));

        let good = service
            .oneshot(request("/pkg.Svc/Closed", Some(&token(&key))))
            .await
            .expect("infallible");
        assert_eq!(grpc_status(&good), None);
        assert_eq!(good.body(), "manager", "the principal reached the handler");
    }

    #[tokio::test]
    async fn revoked_tokens_are_refused() {
        let (key, auth) = layer(TokenState::Revoked);
        let response = auth
            .layer(inner())
            .oneshot(request("/pkg.Svc/Closed", Some(&token(&key))))
            .await
            .expect("infallible");
        assert_eq!(grpc_status(&response), Some("16"));
    }
}
