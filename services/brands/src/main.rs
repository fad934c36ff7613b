//! `pulsepoint-brands` serves; `pulsepoint-brands migrate` migrates its schemas.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use pp_config::{ExposeSecret, Source};
use pulsepoint_brands::{BrandsConfig, COMMERCE_MIGRATIONS, Deps, MIGRATIONS, State};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "pulsepoint-brands failed");
            eprintln!("pulsepoint-brands: {err}");
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
        let applied = pp_db::migrate(&pool, "brands", MIGRATIONS).await?
            + pp_db::migrate(&pool, "commerce", COMMERCE_MIGRATIONS).await?;
        tracing::info!(applied, "brands and commerce schemas up to date");
        return Ok(());
    }
    let config = BrandsConfig::from_source(&source)?;
    let _telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
        service_name: "pulsepoint-brands".into(),
        log_format: source.string("PULSEPOINT_LOG_FORMAT", "json"),
        otlp_endpoint: source.raw("OTEL_EXPORTER_OTLP_ENDPOINT").map(str::to_owned),
    })?;

    let state = State {
        pool: pp_db::connect_lazy(
            config.database_url.expose_secret(),
            pp_db::PoolSettings::new(config.server.database_pool_size)
                .statement_timeout(config.server.database_statement_timeout),
        )?,
        cache: Arc::new(pp_cache::Cache::new(&config.redis_url)),
    };
    let keys =
        pp_server::jwks::load_and_refresh(config.auth_url.clone(), Duration::from_secs(60)).await?;
    let auth = pulsepoint_brands::auth_layer(keys, &config.jwt, &state);
    if let Some(pubsub) = pp_events::PubSubConfig::from_source(&source) {
        pp_events::relay::spawn(state.pool.clone(), pubsub, "brands", std::future::pending());
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen_addr).await?;
    tracing::info!(addr = %config.server.listen_addr, "pulsepoint-brands listening");
    let deps = Deps {
        server: config.server,
        state,
        auth,
        shutdown_delay: config.shutdown_delay,
    };
    pulsepoint_brands::serve(deps, listener, pp_server::serve::shutdown_signal()).await?;
    Ok(())
}
