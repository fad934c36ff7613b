//! The bench echo server: the same tonic server, bare or behind the shared layers.
//!
//! - `bare`: tonic only.
//! - `auth`: [`pp_auth::AuthLayer`] exactly as the services build it
//!   ([`pp_server::serve::auth_layer`]: JWKS from the auth service, verified-token
//!   cache, [`pp_auth::CachedTokenStatus`] over [`pp_server::PgRedisTokenStatus`] on
//!   the real PostgreSQL and Redis).
//! - `full`: the whole shared stack of `pp_server::serve` (request context with its
//!   JSON log line per call, auth, rate limits set out of the way).
//! - `full-events`: `full` plus [`pp_server::ApiEventsLayer`] for the `brands` schema,
//!   where the services put it (after auth, before the rate limit): every call's
//!   `api.request` event is really written to `brands.outbox` (as `pp_brands`, the
//!   role of `--database-url`). Records dropped because the writer fell behind are
//!   reported on stderr (`api events dropped: N`).
//!
//! Every variant uses the same `Server::builder()` settings as `pp_server::serve`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;
use pp_auth::PublicMethods;
use pp_config::{JwtConfig, Source};
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tower::ServiceBuilder;

use super::echo_pb::echo_service_server::{EchoService, EchoServiceServer};
use super::echo_pb::{EchoRequest, EchoResponse};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stack {
    Bare,
    Auth,
    Full,
    FullEvents,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:50090")]
    pub addr: SocketAddr,
    #[arg(long, value_enum, default_value = "bare")]
    pub stack: Stack,
    /// Where the JWKS comes from (auth and full stacks).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub auth_url: String,
    /// A service role's URL: token state is asked through `auth.token_state`.
    #[arg(long, default_value = "")]
    pub database_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
}

#[derive(Debug, Default)]
struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse {
            payload: request.into_inner().payload,
        }))
    }
}

fn builder() -> Server {
    // As pp_server::serve builds it.
    Server::builder()
        .timeout(Duration::from_secs(10))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let shutdown = pp_server::serve::shutdown_signal();
    let service = EchoServiceServer::new(Echo);
    eprintln!("echo server ({:?}) on {}", args.stack, args.addr);
    match args.stack {
        Stack::Bare => {
            builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
        }
        Stack::Auth | Stack::Full | Stack::FullEvents => {
            if args.database_url.is_empty() {
                anyhow::bail!("--database-url (or PULSEPOINT_DATABASE_URL) is required");
            }
            let jwt = JwtConfig::from_source(&Source::from_env()?);
            let keys = pp_server::jwks::load_and_refresh(
                args.auth_url.clone(),
                Duration::from_secs(60),
                std::future::pending(),
            )
            .await
            .map_err(anyhow::Error::msg)?;
            let pool = pp_db::connect_lazy(&args.database_url, 4)?;
            let cache = std::sync::Arc::new(pp_cache::Cache::new(&args.redis_url));
            let events_pool = pool.clone();
            let auth =
                pp_server::serve::auth_layer(keys, &jwt, pool, cache, PublicMethods::default());
            if args.stack == Stack::Auth {
                builder()
                    .layer(auth)
                    .add_service(service)
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await?;
            } else {
                let _telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
                    service_name: "pulsepoint-bench-echo".into(),
                    log_format: "json".into(),
                    otlp_endpoint: None,
                })
                .map_err(|err| anyhow::anyhow!("telemetry: {err}"))?;
                // As pp_server::serve: after auth (it needs the principal), before the
                // rate limit.
                let api_events = (args.stack == Stack::FullEvents).then(|| {
                    let layer = pp_server::ApiEventsLayer::start(events_pool, "brands");
                    tokio::spawn(report_dropped(layer.clone()));
                    layer
                });
                let stack = ServiceBuilder::new()
                    .layer(pp_server::RequestContextLayer::default())
                    .layer(auth)
                    .option_layer(api_events)
                    .layer(pp_server::RateLimitLayer::new(1_000_000_000, 1_000_000_000))
                    .into_inner();
                builder()
                    .layer(stack)
                    .add_service(service)
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Prints the dropped-record count whenever it changes (the bench reads the last line).
async fn report_dropped(layer: pp_server::ApiEventsLayer) {
    let mut reported = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let dropped = layer.dropped();
        if dropped != reported {
            eprintln!("api events dropped: {dropped}");
            reported = dropped;
        }
    }
}
