//! `pulsepoint-observability` serves and stores events; `… migrate` migrates its schema.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use pp_config::{ExposeSecret, JwtConfig, ServerConfig, Source};
use pulsepoint_observability::{Deps, MIGRATIONS, State};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "pulsepoint-observability failed");
            eprintln!("pulsepoint-observability: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let source = Source::from_env()?;
    // Migrations need only the owner URL (k8s Job, Cloud Run job, make dev).
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        let url = source.secret("PULSEPOINT_DATABASE_OWNER_URL")?;
        let pool = pp_db::connect(url.expose_secret(), 2).await?;
        pp_db::migrate(&pool, "observability", MIGRATIONS).await?;
        return Ok(());
    }
    let server = ServerConfig::from_source(&source, "0.0.0.0:50055")?;
    let jwt = JwtConfig::from_source(&source);
    let database_url = source.secret("PULSEPOINT_DATABASE_URL")?;
    let _telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
        service_name: "pulsepoint-observability".into(),
        log_format: source.string("PULSEPOINT_LOG_FORMAT", "json"),
        otlp_endpoint: source.raw("OTEL_EXPORTER_OTLP_ENDPOINT").map(str::to_owned),
    })?;
    let pool = pp_db::connect_lazy(
        database_url.expose_secret(),
        pp_db::PoolSettings::new(server.database_pool_size)
            .statement_timeout(server.database_statement_timeout),
    )?;
    let cache = Arc::new(pp_cache::Cache::new(
        &source.string("PULSEPOINT_REDIS_URL", "redis://127.0.0.1:6379"),
    ));
    let limits = pulsepoint_observability::stream_limits(&source)?;
    let state = Arc::new(State::with_stream_limits(pool.clone(), cache, limits));
    if let Some(pubsub) = pp_events::PubSubConfig::from_source(&source) {
        pp_events::relay::spawn(
            pool,
            pubsub.clone(),
            "observability",
            std::future::pending(),
        );
        let subscription = source.string(
            "PULSEPOINT_PUBSUB_SUBSCRIPTION",
            pulsepoint_observability::SUBSCRIPTION,
        );
        tokio::spawn(pulsepoint_observability::run_subscriber(
            state.clone(),
            pubsub,
            subscription,
            std::future::pending(),
        ));
    } else {
        tracing::warn!("PULSEPOINT_PUBSUB_PROJECT unset: no events will be received");
    }
    let auth_url = source.string("PULSEPOINT_AUTH_URL", "http://127.0.0.1:50051");
    let keys = pp_server::jwks::load_and_refresh(auth_url, Duration::from_secs(60)).await?;
    let auth = pulsepoint_observability::auth_layer(keys, &jwt, &state);
    let listener = tokio::net::TcpListener::bind(server.listen_addr).await?;
    tracing::info!(addr = %server.listen_addr, "pulsepoint-observability listening");
    let shutdown_delay = source.millis("PULSEPOINT_SHUTDOWN_DELAY_MS", 2_000)?;
    pulsepoint_observability::serve(
        Deps {
            server,
            state,
            auth,
            shutdown_delay,
        },
        listener,
        pp_server::serve::shutdown_signal(),
    )
    .await?;
    Ok(())
}
