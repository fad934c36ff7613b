//! Serving a set of gRPC services the way every Pulsepoint server does.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pp_auth::{AuthLayer, CachedTokenStatus, KeyStore, PublicMethods, TokenVerifier};
use pp_config::{JwtConfig, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower::ServiceBuilder;

use crate::rate_limit::RateLimitLayer;
use crate::request_context::RequestContextLayer;
use crate::token_status::PgRedisTokenStatus;

/// What a service hands to [`serve`].
pub struct ServeOptions {
    pub config: ServerConfig,
    /// Fully-qualified names reported by health (besides the overall `""`).
    pub health_names: Vec<&'static str>,
    pub auth: AuthLayer,
    /// Records `api.request` events into the service's outbox when set.
    pub api_events: Option<crate::ApiEventsLayer>,
}

/// Builds the authentication layer used by every backend service.
pub fn auth_layer(
    keys: Arc<KeyStore>,
    jwt: &JwtConfig,
    pool: sqlx::PgPool,
    cache: Arc<pp_cache::Cache>,
    public: PublicMethods,
) -> AuthLayer {
    let status = Arc::new(CachedTokenStatus::new(Arc::new(PgRedisTokenStatus::new(
        pool, cache,
    ))));
    auth_layer_with_status(keys, jwt, status, public)
}

/// The authentication layer over a token-status checker the service shares (a stream
/// that re-checks its caller's token asks the same one).
pub fn auth_layer_with_status(
    keys: Arc<KeyStore>,
    jwt: &JwtConfig,
    status: Arc<CachedTokenStatus>,
    public: PublicMethods,
) -> AuthLayer {
    let verifier = Arc::new(TokenVerifier::new(keys, &jwt.issuer, &jwt.audience));
    AuthLayer::new(verifier, status, public)
}

/// Serves `routes` on `listener` with health, reflection (v1 and v1alpha) and the
/// shared layer stack until `shutdown` completes, then drains for at most
/// `config.shutdown_grace`.
pub async fn serve(
    options: ServeOptions,
    listener: TcpListener,
    routes: Routes,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let ServeOptions {
        config,
        health_names,
        auth,
        api_events,
    } = options;
    let (reporter, health_service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    for name in &health_names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }

    let mut routes = routes.add_service(health_service);
    if config.reflection {
        routes = add_reflection(routes);
    }

    // Outermost first; see the crate docs for why in this order.
    let stack = ServiceBuilder::new()
        .layer(RequestContextLayer::new(config.trusted_proxies.clone()))
        .layer(auth)
        .layer(RateLimitLayer::with_public(
            config.tenant_rate_per_sec,
            config.user_rate_per_sec,
            config.public_rate_per_sec,
        ))
        .option_layer(api_events)
        .into_inner();

    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: health NOT_SERVING");
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for name in &health_names {
            reporter
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
    };
    serve_and_drain(
        signal,
        config.shutdown_delay,
        config.shutdown_grace,
        |signal| {
            Server::builder()
                .timeout(config.request_timeout)
                .http2_keepalive_interval(Some(Duration::from_secs(30)))
                .max_concurrent_streams(Some(config.max_concurrent_streams))
                .layer(stack)
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming(listener), signal)
        },
    )
    .await
}

/// The connections `listener` accepts, with TCP_NODELAY set. A response goes out as
/// several small HTTP/2 frames (headers, data, trailers); with Nagle's algorithm on, a
/// frame written behind an unacknowledged one waits for the client's delayed ACK, about
/// 40 ms a call once a response is more than a few hundred bytes.
pub fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Adds gRPC reflection (v1 and v1alpha, for grpcurl 1.8) of the whole API and health.
pub fn add_reflection(routes: Routes) -> Routes {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pp_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pp_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha();
    match (v1, v1alpha) {
        (Ok(v1), Ok(v1alpha)) => routes.add_service(v1).add_service(v1alpha),
        (Err(err), _) | (_, Err(err)) => {
            tracing::error!(%err, "reflection disabled");
            routes
        }
    }
}

/// Runs a server built by `server` until `signal` (plus `delay`, during which load
/// balancers see NOT_SERVING and stop routing here), then lets in-flight calls finish
/// for at most `grace`: tonic's own drain has no upper bound.
pub async fn serve_and_drain<F, E>(
    signal: impl Future<Output = ()> + Send + 'static,
    delay: Duration,
    grace: Duration,
    server: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    let draining = Arc::new(Notify::new());
    let stop = {
        let draining = draining.clone();
        Box::pin(async move {
            signal.await;
            tokio::time::sleep(delay).await;
            draining.notify_one();
        })
    };
    let drain_deadline = async move {
        draining.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server(stop) => result,
        () = drain_deadline => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "drain deadline passed; closing remaining connections");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nodelay_set() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let stream = accepted
            .next()
            .await
            .expect("a connection")
            .expect("accepted");
        assert!(stream.nodelay().expect("nodelay"), "Nagle must be off");
    }
}
