//! The gateway: the browser's (and operators') one door into the mesh.
//!
//! - grpc-web (HTTP/1.1 and HTTP/2) is translated to gRPC by tonic-web; native gRPC
//!   passes as is.
//! - CORS approves only the configured origins.
//! - `/pulsepoint.<svc>.v1.<Service>/<Method>` is proxied to that service's backend;
//!   internal-only RPCs are refused here.
//! - `POST /webhooks/shopify` forwards Shopify's deliveries, raw body intact, to the
//!   integrations service with the gateway's service credential.
//! - Health and reflection (the whole API) are served locally; anything else is a
//!   static file of the frontend build.
//!
//! Authentication happens in the backends (one shared layer); the gateway forwards
//! the caller's metadata untouched, adding `x-forwarded-for` and `x-request-id`.

pub mod config;
pub mod proxy;
pub mod webhooks;

use std::time::Duration;

use axum::Router;
use http::{HeaderName, Method};
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

pub use config::GatewayConfig;
use proxy::Proxy;

/// RPCs that only other services may call; the gateway never forwards them.
pub const INTERNAL_METHODS: &[&str] = &[
    "/pulsepoint.integrations.v1.IntegrationService/IngestShopifyWebhook",
    "/pulsepoint.observability.v1.ObservabilityService/CheckBudget",
];

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<http::HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    let header = |name: &'static str| HeaderName::from_static(name);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers([
            http::header::CONTENT_TYPE,
            http::header::AUTHORIZATION,
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("x-request-id"),
            header("traceparent"),
            header("idempotency-key"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn serve(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;

    let mut local = Routes::new(health_service);
    if config.server.reflection {
        local = pp_server::serve::add_reflection(local);
    }

    let proxy = Proxy::new(&config.backends, INTERNAL_METHODS)?;
    let mut router: Router = local.into_axum_router();
    for service in pp_proto::SERVICE_NAMES {
        // grpc-web is translated per route: tonic-web refuses plain HTTP/1.1 requests,
        // which the static files below must still get.
        let grpc_web = tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), proxy.clone());
        router = router.route_service(&format!("/{service}/{{*method}}"), grpc_web);
    }
    let integrations = config
        .backends
        .get(pp_proto::integrations::integration_service_server::SERVICE_NAME)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:50053".to_owned());
    let webhooks = webhooks::WebhookRoute::new(
        &integrations,
        config.webhook_credential.clone(),
        config.server.max_message_bytes,
    )?;
    router = router.route(
        "/webhooks/shopify",
        axum::routing::post(webhooks::shopify).with_state(webhooks),
    );
    let index = config.static_dir.join("index.html");
    let router =
        router.fallback_service(ServeDir::new(&config.static_dir).fallback(ServeFile::new(index)));

    let signal = async move {
        shutdown.await;
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };
    // Outermost first: CORS (answers preflights), request context (request id, client
    // address through the trusted proxies); grpc-web → gRPC happens on the proxied
    // routes.
    let server = &config.server;
    pp_server::serve::serve_and_drain(
        signal,
        server.shutdown_delay,
        server.shutdown_grace,
        |signal| {
            Server::builder()
                .accept_http1(true)
                .timeout(server.request_timeout)
                .max_concurrent_streams(Some(server.max_concurrent_streams))
                .layer(cors(&config.cors_origins))
                .layer(pp_server::RequestContextLayer::new(
                    server.trusted_proxies.clone(),
                ))
                .add_routes(Routes::from(router))
                .serve_with_incoming_shutdown(pp_server::serve::incoming(listener), signal)
        },
    )
    .await
    .map_err(Into::into)
}
