//! A backend service, declared once, and the one way every service runs.
//!
//! A service crate implements [`Service`]: its [`ServiceDef`] (name, default address,
//! migrations, public methods), how it builds its state from configuration, its
//! routes, and its background tasks. [`run`] is the whole of its `main`: config,
//! telemetry (before migrations, so their logs are seen), `migrate`, verification
//! keys, the outbox relay, serve, and a shutdown token every background task honours.
//! Tests build a [`ServiceContext`] themselves and call [`serve`], the same code path.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use pp_auth::{AuthLayer, CachedTokenStatus, KeyStore, PublicMethods};
use pp_cache::Cache;
use pp_config::{ConfigError, ExposeSecret, JwtConfig, ServerConfig, Source};
use pp_db::{Migration, PgPool, PoolSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Routes;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a service is, in one place.
#[derive(Debug)]
pub struct ServiceDef {
    /// Short name: its schema (and outbox), its database role `pp_<name>`, its binary
    /// `pulsepoint-<name>`.
    pub name: &'static str,
    /// The fully-qualified gRPC service it serves (health reports it).
    pub grpc_service: &'static str,
    pub default_addr: &'static str,
    /// The schemas it migrates, in order, each with its migrations.
    pub migrations: &'static [(&'static str, &'static [Migration])],
    /// RPCs callable without a token.
    pub public_methods: &'static [&'static str],
}

impl ServiceDef {
    pub fn binary(&self) -> String {
        format!("pulsepoint-{}", self.name)
    }
}

/// The shared infrastructure a service runs on, built by [`run`] (or a test).
#[derive(Clone)]
pub struct ServiceContext {
    pub source: Arc<Source>,
    pub server: ServerConfig,
    pub jwt: JwtConfig,
    /// The service's own pool (its `pp_<name>` role; statement timeout set).
    pub pool: PgPool,
    pub cache: Arc<Cache>,
    /// Cancelled when the service shuts down: every background task ends on it.
    pub shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl ServiceContext {
    pub fn new(
        source: Source,
        server: ServerConfig,
        jwt: JwtConfig,
        pool: PgPool,
        cache: Arc<Cache>,
    ) -> Self {
        ServiceContext {
            source: Arc::new(source),
            server,
            jwt,
            pool,
            cache,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Runs a background task; [`serve`] waits (within the shutdown grace) for every
    /// such task after the server stops. The task must end once `shutdown` is
    /// cancelled.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Resolves when the service is shutting down (for APIs that take a future).
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shutdown.clone().cancelled_owned()
    }
}

/// A backend service.
pub trait Service: 'static {
    const DEF: ServiceDef;
    type State: Send + Sync + 'static;

    /// Builds the state from configuration (`run` only; tests build it directly).
    fn state(ctx: &ServiceContext) -> impl Future<Output = Result<Self::State, BoxError>> + Send;

    /// The keys that verify tokens, when the service holds them itself (auth).
    /// Otherwise `run` fetches auth's JWKS and refreshes it.
    fn own_keys(_state: &Self::State) -> Option<Arc<KeyStore>> {
        None
    }

    /// The token-status checker the auth layer should use, when the service shares
    /// one with its handlers (observability's streams re-check their caller's token).
    fn token_status(_state: &Self::State) -> Option<Arc<CachedTokenStatus>> {
        None
    }

    /// Background tasks besides the outbox relay (which `run` starts for every
    /// service when Pub/Sub is configured). Each must end on `ctx.shutdown`.
    fn tasks(_ctx: &ServiceContext, _state: &Arc<Self::State>) {}

    /// The service's gRPC routes.
    fn routes(state: Arc<Self::State>, max_message_bytes: usize) -> Routes;
}

/// How often other services re-read auth's JWKS (rotated keys are picked up).
const JWKS_REFRESH: Duration = Duration::from_secs(60);

/// Serves `S` on `listener` until `ctx.shutdown` is cancelled, with the shared layer
/// stack (`keys` verify tokens), health and reflection; then drains (bounded) and
/// waits for the background tasks (bounded by the same grace).
pub async fn serve<S: Service>(
    ctx: ServiceContext,
    state: Arc<S::State>,
    keys: Arc<KeyStore>,
    listener: TcpListener,
) -> Result<(), BoxError> {
    let public = PublicMethods::new(S::DEF.public_methods.iter().copied());
    let auth: AuthLayer = match S::token_status(&state) {
        Some(status) => crate::serve::auth_layer_with_status(keys, &ctx.jwt, status, public),
        None => {
            crate::serve::auth_layer(keys, &ctx.jwt, ctx.pool.clone(), ctx.cache.clone(), public)
        }
    };
    // The event writer is a background task like the others: it flushes its last
    // batch once the server (holding the layer) is gone, within the grace below.
    let api_events = ctx.server.api_events.then(|| {
        let (layer, writer) = crate::ApiEventsLayer::with_writer(ctx.pool.clone(), S::DEF.name);
        ctx.spawn(writer);
        layer
    });
    let routes = S::routes(state, ctx.server.max_message_bytes);
    let options = crate::ServeOptions {
        health_names: vec![S::DEF.grpc_service],
        auth,
        api_events,
        config: ctx.server.clone(),
    };
    let result = crate::serve::serve(options, listener, routes, ctx.shutdown_signal()).await;
    // The server is done (or failed): stop whatever still runs, and give the
    // background tasks the grace to finish what they hold (a relay pass, a flush).
    ctx.shutdown.cancel();
    ctx.tasks.close();
    if tokio::time::timeout(ctx.server.shutdown_grace, ctx.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks still running after the shutdown grace");
    }
    Ok(result?)
}

/// The whole `main` of a service: `pulsepoint-<name>` serves, `pulsepoint-<name>
/// migrate` migrates its schemas with `PULSEPOINT_DATABASE_OWNER_URL`.
pub async fn run<S: Service>() -> ExitCode {
    match run_inner::<S>().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "{} failed", S::DEF.binary());
            eprintln!("{}: {err}", S::DEF.binary());
            ExitCode::FAILURE
        }
    }
}

async fn run_inner<S: Service>() -> Result<(), BoxError> {
    let source = Source::from_env()?;
    // Telemetry first: migrations and start-up failures are logged like the rest.
    let _telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
        service_name: S::DEF.binary(),
        log_format: source.string("PULSEPOINT_LOG_FORMAT", "json"),
        otlp_endpoint: source.raw("OTEL_EXPORTER_OTLP_ENDPOINT").map(str::to_owned),
    })
    .map_err(|err| err.to_string())?;
    match std::env::args().nth(1).as_deref() {
        Some("migrate") => return migrate(&S::DEF, &source).await,
        Some(other) if other != "serve" => {
            return Err(format!("unknown command {other:?} (serve or migrate)").into());
        }
        _ => {}
    }
    let server = ServerConfig::from_source(&source, S::DEF.default_addr)?;
    let database_url = source.secret("PULSEPOINT_DATABASE_URL")?;
    let pool = pp_db::connect_lazy(
        database_url.expose_secret(),
        PoolSettings::new(server.database_pool_size)
            .statement_timeout(server.database_statement_timeout),
    )?;
    let cache = Arc::new(Cache::new(
        &source.string("PULSEPOINT_REDIS_URL", "redis://127.0.0.1:6379"),
    ));
    let jwt = JwtConfig::from_source(&source);
    let ctx = ServiceContext::new(source, server, jwt, pool, cache);

    let state = Arc::new(S::state(&ctx).await?);
    let keys = match S::own_keys(&state) {
        Some(keys) => keys,
        None => {
            let auth_url = ctx
                .source
                .string("PULSEPOINT_AUTH_URL", "http://127.0.0.1:50051");
            crate::jwks::load_and_refresh(auth_url, JWKS_REFRESH, ctx.shutdown_signal()).await?
        }
    };
    if let Some(pubsub) = pp_events::PubSubConfig::from_source(&ctx.source) {
        ctx.spawn(pp_events::relay::run_until(
            ctx.pool.clone(),
            pubsub,
            S::DEF.name,
            ctx.shutdown_signal(),
        ));
    }
    S::tasks(&ctx, &state);
    let listener = TcpListener::bind(ctx.server.listen_addr).await?;
    tracing::info!(addr = %ctx.server.listen_addr, "{} listening", S::DEF.binary());
    let shutdown = ctx.shutdown.clone();
    tokio::spawn(async move {
        crate::serve::shutdown_signal().await;
        shutdown.cancel();
    });
    serve::<S>(ctx, state, keys, listener).await
}

async fn migrate(def: &ServiceDef, source: &Source) -> Result<(), BoxError> {
    let url = source
        .secret("PULSEPOINT_DATABASE_OWNER_URL")
        .map_err(|err: ConfigError| err.to_string())?;
    let pool = pp_db::connect(url.expose_secret(), 2).await?;
    let mut applied = 0;
    for (schema, migrations) in def.migrations {
        applied += pp_db::migrate(&pool, schema, migrations).await?;
    }
    tracing::info!(applied, service = def.name, "schemas up to date");
    Ok(())
}
