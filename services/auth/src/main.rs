//! `pulsepoint-auth` serves; `pulsepoint-auth migrate` migrates the auth schema.

use std::process::ExitCode;
use std::sync::Arc;

use pp_auth::SigningKey;
use pp_auth::keys::JwkSet;
use pp_config::{ExposeSecret, Source};
use pulsepoint_auth::{AuthConfig, Deps, Hasher, LoginThrottle, MIGRATIONS, State};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "pulsepoint-auth failed");
            eprintln!("pulsepoint-auth: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("keygen") {
        // A new Ed25519 signing key as PKCS#8 PEM on stdout (dev set-up, key rotation).
        print!("{}", SigningKey::generate()?.to_pkcs8_pem());
        return Ok(());
    }
    let source = Source::from_env()?;
    // Migrations need only the owner URL (k8s Job, Cloud Run job, make dev).
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        let url = source.secret("PULSEPOINT_DATABASE_OWNER_URL")?;
        let pool = pp_db::connect(url.expose_secret(), 2).await?;
        let applied = pp_db::migrate(&pool, "auth", MIGRATIONS).await?;
        tracing::info!(applied, "auth schema up to date");
        return Ok(());
    }
    let config = AuthConfig::from_source(&source)?;
    let _telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
        service_name: "pulsepoint-auth".into(),
        log_format: source.string("PULSEPOINT_LOG_FORMAT", "json"),
        otlp_endpoint: source.raw("OTEL_EXPORTER_OTLP_ENDPOINT").map(str::to_owned),
    })?;

    let pem = std::fs::read_to_string(&config.signing_key_file).map_err(|err| {
        format!(
            "PULSEPOINT_SIGNING_KEY_FILE {}: {err}",
            config.signing_key_file
        )
    })?;
    let signing_key = SigningKey::from_pkcs8_pem(&pem)
        .map_err(|err| format!("PULSEPOINT_SIGNING_KEY_FILE: {err}"))?;
    let mut jwks = JwkSet {
        keys: vec![signing_key.public_jwk()],
    };
    if let Some(path) = &config.previous_jwks_file {
        let previous = JwkSet::from_json(&std::fs::read_to_string(path)?)?;
        jwks.keys.extend(
            previous
                .keys
                .into_iter()
                .filter(|k| k.kid != signing_key.kid()),
        );
    }
    let pool = pp_db::connect_lazy(
        config.database_url.expose_secret(),
        pp_db::PoolSettings::new(config.server.database_pool_size)
            .statement_timeout(config.server.database_statement_timeout),
    )?;
    if let Some(pubsub) = pp_events::PubSubConfig::from_source(&source) {
        pp_events::relay::spawn(pool.clone(), pubsub, "auth", std::future::pending());
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen_addr).await?;
    tracing::info!(addr = %config.server.listen_addr, kid = signing_key.kid(), "pulsepoint-auth listening");
    let deps = Deps {
        server: config.server,
        shutdown_delay: config.shutdown_delay,
        state: State {
            pool,
            cache: Arc::new(pp_cache::Cache::new(&config.redis_url)),
            signing_key: Arc::new(signing_key),
            jwks,
            jwt: config.jwt,
            hasher: Hasher::with_memory_budget(
                config.passwords,
                config.hashing_memory_budget_bytes,
            ),
            throttle: LoginThrottle::default(),
        },
    };
    pulsepoint_auth::serve(deps, listener, pp_server::serve::shutdown_signal()).await?;
    Ok(())
}
