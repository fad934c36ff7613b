//! The end-to-end harness: the whole mesh in one process, on real PostgreSQL and
//! Redis, each server on `127.0.0.1:0`, a fresh database per stack.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pp_auth::keys::JwkSet;
use pp_auth::{KeyStore, SigningKey};
use pp_config::{JwtConfig, ServerConfig};
use pp_proto::auth::auth_service_client::AuthServiceClient;
use pp_proto::brands::brand_service_client::BrandServiceClient;
use pp_proto::observability::observability_service_client::ObservabilityServiceClient;
use pp_testkit::TestDb;
use pulsepoint_auth::domain::passwords::PasswordPolicy;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const ALLOWED_ORIGIN: &str = "https://app.pulsepoint.test";

/// How a stack is set up.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub redis_url: String,
    pub tenant_rate_per_sec: u32,
    pub user_rate_per_sec: u32,
    pub shutdown_delay: Duration,
    /// A Pub/Sub emulator (`host:port`): when set, every service relays its outbox
    /// there and observability subscribes.
    pub pubsub_emulator: Option<String>,
    /// Proxies every server believes `x-forwarded-for` from (tests that act as a
    /// load balancer on loopback trust 127.0.0.1).
    pub trusted_proxies: pp_config::TrustedProxies,
    pub public_rate_per_sec: u32,
    /// argon2id cost (small by default: tests create many users) and the memory all
    /// computations may use together.
    pub password_policy: PasswordPolicy,
    pub hashing_memory_budget_bytes: u64,
    pub login_throttle: pulsepoint_auth::LoginThrottle,
    /// The `statement_timeout` of every service pool, as in production
    /// (`PULSEPOINT_DATABASE_STATEMENT_TIMEOUT_MS`).
    pub database_statement_timeout: Duration,
    /// Live-tail caps and buffer of the observability service.
    pub observability_streams: pulsepoint_observability::StreamLimits,
    /// The platform apps integrations talks to (tests point them at fixtures).
    pub platforms: pulsepoint_integrations::PlatformsConfig,
    /// The sync engine's pace (fast polls and short leases in tests).
    pub sync: pulsepoint_integrations::SyncSettings,
    /// How long an OAuth state is accepted.
    pub oauth_state_ttl: Duration,
    /// How long insights caches a dashboard (zero: no cache, so tests that change
    /// data see it at once; the cache test turns it on).
    pub insights_cache_ttl: Duration,
    /// How long insights reuses a brand's data freshness (zero: asked every time).
    pub insights_freshness_ttl: Duration,
    /// The day insights' answers treat as today (`None`: each brand's current date).
    pub insights_today: Option<chrono::NaiveDate>,
    /// The Messages API insights answers with, as `(base_url, api_key)` (a local
    /// fixture, `pp_platforms::fixtures::anthropic`); `None`: the planner answers.
    pub anthropic: Option<(String, String)>,
}

/// The one redirect URI the test stack allows for OAuth.
pub const OAUTH_REDIRECT_URI: &str = "https://app.pulsepoint.test/oauth/callback";

/// The credential the test gateway presents to IngestShopifyWebhook.
pub const WEBHOOK_CREDENTIAL: &str = "test-webhook-credential-0123456789";

/// Sync settings for tests: quick polls, short leases, small pages.
pub fn test_sync_settings() -> pulsepoint_integrations::SyncSettings {
    pulsepoint_integrations::SyncSettings {
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(50),
        workers: 1,
        page_size: 250,
        write_batch: 1000,
        every: Duration::from_secs(3600),
        shopify_lookback: Duration::from_secs(60),
        retry_later: Duration::from_millis(200),
        max_attempts: 3,
    }
}

/// No platform app configured, fast retries.
pub fn no_platforms() -> pulsepoint_integrations::PlatformsConfig {
    pulsepoint_integrations::PlatformsConfig {
        http: pp_platforms::Http::new(pp_platforms::RetryPolicy::fast()),
        shopify: None,
        meta: None,
        tiktok: None,
        google_ads: None,
        google_ads_login_customer_id: None,
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            redis_url: pp_testkit::redis_url(),
            tenant_rate_per_sec: 10_000,
            user_rate_per_sec: 10_000,
            shutdown_delay: Duration::ZERO,
            pubsub_emulator: None,
            trusted_proxies: pp_config::TrustedProxies::none(),
            public_rate_per_sec: 10_000,
            password_policy: PasswordPolicy {
                memory_kib: 1024,
                iterations: 1,
            },
            hashing_memory_budget_bytes: 128 * 1024 * 1024,
            login_throttle: pulsepoint_auth::LoginThrottle::default(),
            database_statement_timeout: Duration::from_secs(5),
            observability_streams: pulsepoint_observability::StreamLimits::default(),
            platforms: no_platforms(),
            sync: test_sync_settings(),
            oauth_state_ttl: Duration::from_secs(600),
            insights_cache_ttl: Duration::ZERO,
            insights_freshness_ttl: Duration::ZERO,
            insights_today: None,
            anthropic: None,
        }
    }
}

/// One gRPC service the stack runs, by its full name (`package.Service`).
#[derive(Debug, Clone)]
pub struct ServedService {
    pub name: &'static str,
    pub addr: SocketAddr,
}

pub struct Stack {
    pub db: TestDb,
    /// Every gRPC service the stack runs behind the gateway: the gateway routes
    /// exactly these, and the cross-tenant and role tests call every RPC of each.
    pub services: Vec<ServedService>,
    pub auth_addr: SocketAddr,
    pub brands_addr: SocketAddr,
    pub gateway_addr: SocketAddr,
    pub observability_addr: SocketAddr,
    pub integrations_addr: SocketAddr,
    pub insights_addr: SocketAddr,
    /// The insights state: its pool and the integrations client it forwards
    /// identities through, for tests that refresh rollups or call it directly.
    pub insights: Arc<pulsepoint_insights::State>,
    /// The integrations state: its pool, vault and settings, for tests that act as
    /// a worker or inspect what it sealed.
    pub integrations: Arc<pulsepoint_integrations::State>,
    /// The local key file the vault seals tokens with.
    pub token_key_file: std::path::PathBuf,
    /// The observability state, so tests can deliver events as the subscriber would.
    pub observability: Arc<pulsepoint_observability::State>,
    pub signing_key: Arc<SigningKey>,
    pub jwt: JwtConfig,
    shutdowns: Vec<CancellationToken>,
    pub static_dir: std::path::PathBuf,
    /// The services run the way `pp_server::service::run` runs them.
    servers: Vec<tokio::task::JoinHandle<()>>,
}

fn server_config(options: &StackOptions) -> ServerConfig {
    ServerConfig {
        listen_addr: "127.0.0.1:0".parse().expect("addr"),
        reflection: true,
        request_timeout: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(2),
        shutdown_delay: options.shutdown_delay,
        max_message_bytes: 1024 * 1024,
        tenant_rate_per_sec: options.tenant_rate_per_sec,
        user_rate_per_sec: options.user_rate_per_sec,
        api_events: true,
        database_pool_size: 4,
        database_statement_timeout: options.database_statement_timeout,
        max_concurrent_streams: 200,
        trusted_proxies: options.trusted_proxies.clone(),
        public_rate_per_sec: options.public_rate_per_sec,
    }
}

pub fn test_jwt() -> JwtConfig {
    JwtConfig {
        issuer: "https://auth.pulsepoint.test".into(),
        audience: "pulsepoint".into(),
    }
}

async fn listener() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

fn shutdown_pair() -> (
    CancellationToken,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let token = CancellationToken::new();
    (token.clone(), token.cancelled_owned())
}

/// Every pool of the stack, with the statement timeout production configures.
fn pool_settings(options: &StackOptions, connections: u32) -> pp_db::PoolSettings {
    pp_db::PoolSettings::new(connections).statement_timeout(options.database_statement_timeout)
}

/// The context a service of the stack runs in: its own role's pool (with the
/// production statement timeout), Redis, and a shutdown token of its own.
async fn service_context(
    options: &StackOptions,
    db: &TestDb,
    service: &str,
    jwt: &JwtConfig,
) -> anyhow::Result<pp_server::service::ServiceContext> {
    let server = server_config(options);
    let pool = db.pool_as(service, pool_settings(options, 8)).await?;
    Ok(pp_server::service::ServiceContext::new(
        pp_config::Source::from_pairs(Vec::<(String, String)>::new()),
        server,
        jwt.clone(),
        pool,
        Arc::new(pp_cache::Cache::new(&options.redis_url)),
    ))
}

/// Serves `S` in the background exactly as `pp_server::service::run` would.
fn spawn_service<S: pp_server::service::Service>(
    ctx: pp_server::service::ServiceContext,
    state: Arc<S::State>,
    keys: Arc<KeyStore>,
    listener: TcpListener,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(err) = pp_server::service::serve::<S>(ctx, state, keys, listener).await {
            eprintln!("{} server: {err}", S::DEF.name);
        }
    })
}

/// A fresh database, migrated by the owner role.
pub async fn migrated_db() -> anyhow::Result<TestDb> {
    let db = TestDb::create().await?;
    db.migrate("auth", pulsepoint_auth::MIGRATIONS).await?;
    db.migrate("brands", pulsepoint_brands::MIGRATIONS).await?;
    for (schema, migrations) in
        <pulsepoint_integrations::Integrations as pp_server::service::Service>::DEF.migrations
    {
        db.migrate(schema, migrations).await?;
    }
    db.migrate("observability", pulsepoint_observability::MIGRATIONS)
        .await?;
    db.migrate("insights", pulsepoint_insights::MIGRATIONS)
        .await?;
    Ok(db)
}

fn static_dir_root() -> std::path::PathBuf {
    std::env::temp_dir()
}

/// With `TEST_LOG` set, the servers' logs go to the test output.
fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
}

pub async fn spawn_stack(options: StackOptions) -> anyhow::Result<Stack> {
    init_test_log();
    let db = migrated_db().await?;
    let signing_key = Arc::new(SigningKey::generate()?);
    let jwks = JwkSet {
        keys: vec![signing_key.public_jwk()],
    };
    let jwt = test_jwt();
    let mut shutdowns = Vec::new();

    // auth
    let (auth_listener, auth_addr) = listener().await?;
    let auth_ctx = service_context(&options, &db, "auth", &jwt).await?;
    let auth_state = Arc::new(pulsepoint_auth::State {
        pool: auth_ctx.pool.clone(),
        cache: auth_ctx.cache.clone(),
        signing_key: signing_key.clone(),
        jwks: jwks.clone(),
        jwt: jwt.clone(),
        // Real argon2id, small cost: tests create many users.
        hasher: pulsepoint_auth::Hasher::with_memory_budget(
            options.password_policy,
            options.hashing_memory_budget_bytes,
        ),
        throttle: options.login_throttle,
    });
    let keys = Arc::new(KeyStore::from_jwks(&jwks)?);
    shutdowns.push(auth_ctx.shutdown.clone());
    let mut servers = vec![spawn_service::<pulsepoint_auth::Auth>(
        auth_ctx,
        auth_state,
        keys.clone(),
        auth_listener,
    )];

    // brands, verifying with the keys auth publishes
    let (brands_listener, brands_addr) = listener().await?;
    let brands_ctx = service_context(&options, &db, "brands", &jwt).await?;
    let brands_state = Arc::new(pulsepoint_brands::State {
        pool: brands_ctx.pool.clone(),
        cache: brands_ctx.cache.clone(),
    });
    shutdowns.push(brands_ctx.shutdown.clone());
    servers.push(spawn_service::<pulsepoint_brands::Brands>(
        brands_ctx,
        brands_state,
        keys.clone(),
        brands_listener,
    ));

    // observability
    let (observability_listener, observability_addr) = listener().await?;
    let observability_ctx = service_context(&options, &db, "observability", &jwt).await?;
    let observability = Arc::new(pulsepoint_observability::State::with_stream_limits(
        observability_ctx.pool.clone(),
        observability_ctx.cache.clone(),
        options.observability_streams,
    ));
    shutdowns.push(observability_ctx.shutdown.clone());
    servers.push(spawn_service::<pulsepoint_observability::Observability>(
        observability_ctx,
        observability.clone(),
        keys.clone(),
        observability_listener,
    ));

    // integrations, with its sync workers and scheduler
    let (integrations_listener, integrations_addr) = listener().await?;
    let integrations_ctx = service_context(&options, &db, "integrations", &jwt).await?;
    let token_key_file =
        static_dir_root().join(format!("pp-token-keys-{}", uuid::Uuid::new_v4().simple()));
    let keyring = pp_vault::LocalKeyring::generate_file(&token_key_file, "test-key-1")?;
    let integrations = Arc::new(pulsepoint_integrations::State {
        pool: integrations_ctx.pool.clone(),
        vault: pp_vault::Vault::local(keyring),
        platforms: options.platforms.clone(),
        oauth: pulsepoint_integrations::OAuthSettings {
            redirect_uris: vec![OAUTH_REDIRECT_URI.to_owned()],
            state_ttl: options.oauth_state_ttl,
        },
        sync: options.sync.clone(),
        webhook_credential: Some(WEBHOOK_CREDENTIAL.to_owned().into()),
    });
    shutdowns.push(integrations_ctx.shutdown.clone());
    <pulsepoint_integrations::Integrations as pp_server::service::Service>::tasks(
        &integrations_ctx,
        &integrations,
    );
    servers.push(spawn_service::<pulsepoint_integrations::Integrations>(
        integrations_ctx,
        integrations.clone(),
        keys.clone(),
        integrations_listener,
    ));

    // insights, calling integrations with the caller's identity
    let (insights_listener, insights_addr) = listener().await?;
    let insights_ctx = service_context(&options, &db, "insights", &jwt).await?;
    let insights_model = options.anthropic.as_ref().map(|(base_url, api_key)| {
        let mut model = pulsepoint_insights::config::ModelSettings::new(base_url, api_key);
        model.retry_base = Duration::from_millis(10);
        // Fixture replies are instant: a short deadline keeps the stall test short.
        model.timeout = Duration::from_secs(3);
        model
    });
    let insights = Arc::new(pulsepoint_insights::State {
        pool: insights_ctx.pool.clone(),
        cache: insights_ctx.cache.clone(),
        integrations: pulsepoint_insights::freshness::client(&format!(
            "http://{integrations_addr}"
        ))
        .ok_or_else(|| anyhow::anyhow!("integrations url"))?,
        recent_freshness: pulsepoint_insights::freshness::Recent::new(
            options.insights_freshness_ttl,
        ),
        observability: pulsepoint_insights::answers::model::budget::client(&format!(
            "http://{observability_addr}"
        ))
        .ok_or_else(|| anyhow::anyhow!("observability url"))?,
        model: insights_model
            .clone()
            .map(pulsepoint_insights::answers::model::Client::new)
            .transpose()?,
        settings: pulsepoint_insights::Settings {
            integrations_url: format!("http://{integrations_addr}"),
            dashboard_cache_ttl: options.insights_cache_ttl,
            freshness_ttl: options.insights_freshness_ttl,
            today: options.insights_today,
            observability_url: format!("http://{observability_addr}"),
            model: insights_model,
            ..Default::default()
        },
    });
    shutdowns.push(insights_ctx.shutdown.clone());
    servers.push(spawn_service::<pulsepoint_insights::Insights>(
        insights_ctx,
        insights.clone(),
        keys.clone(),
        insights_listener,
    ));

    // The event pipeline, when a broker is given.
    if let Some(host) = &options.pubsub_emulator {
        let pubsub = pp_events::PubSubConfig::emulator(host.clone(), "pulsepoint-test")
            .with_subscriptions([
                pulsepoint_observability::SUBSCRIPTION,
                pulsepoint_insights::SUBSCRIPTION,
            ]);
        for schema in [
            "auth",
            "brands",
            "integrations",
            "insights",
            "observability",
        ] {
            let (tx, signal) = shutdown_pair();
            shutdowns.push(tx);
            pp_events::relay::spawn(
                db.pool_as(schema, pool_settings(&options, 2)).await?,
                pubsub.clone(),
                schema,
                signal,
            );
        }
        let (tx, signal) = shutdown_pair();
        shutdowns.push(tx);
        tokio::spawn(pulsepoint_observability::run_subscriber(
            observability.clone(),
            pubsub.clone(),
            pulsepoint_observability::SUBSCRIPTION.to_owned(),
            signal,
        ));
        let (tx, signal) = shutdown_pair();
        shutdowns.push(tx);
        tokio::spawn(pulsepoint_insights::rollups::run_subscriber(
            insights.clone(),
            pubsub,
            pulsepoint_insights::SUBSCRIPTION.to_owned(),
            signal,
        ));
    }

    // gateway
    let static_dir =
        std::env::temp_dir().join(format!("pp-static-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&static_dir)?;
    std::fs::write(
        static_dir.join("index.html"),
        "<!doctype html><title>Pulsepoint</title>",
    )?;
    let (gateway_listener, gateway_addr) = listener().await?;
    let services = vec![
        ServedService {
            name: pp_proto::auth::auth_service_server::SERVICE_NAME,
            addr: auth_addr,
        },
        ServedService {
            name: pp_proto::brands::brand_service_server::SERVICE_NAME,
            addr: brands_addr,
        },
        ServedService {
            name: pp_proto::integrations::integration_service_server::SERVICE_NAME,
            addr: integrations_addr,
        },
        ServedService {
            name: pp_proto::insights::insights_service_server::SERVICE_NAME,
            addr: insights_addr,
        },
        ServedService {
            name: pp_proto::observability::observability_service_server::SERVICE_NAME,
            addr: observability_addr,
        },
    ];
    let backends: HashMap<String, String> = services
        .iter()
        .map(|service| (service.name.to_owned(), format!("http://{}", service.addr)))
        .collect();
    let gateway_config = pulsepoint_gateway::GatewayConfig {
        server: server_config(&options),
        cors_origins: vec![ALLOWED_ORIGIN.to_owned()],
        static_dir: static_dir.clone(),
        backends,
        webhook_credential: Some(WEBHOOK_CREDENTIAL.to_owned().into()),
    };
    let (tx, signal) = shutdown_pair();
    shutdowns.push(tx);
    tokio::spawn(async move {
        if let Err(err) = pulsepoint_gateway::serve(gateway_config, gateway_listener, signal).await
        {
            eprintln!("gateway: {err}");
        }
    });

    Ok(Stack {
        db,
        services,
        auth_addr,
        brands_addr,
        gateway_addr,
        observability_addr,
        integrations_addr,
        insights_addr,
        insights,
        integrations,
        token_key_file,
        observability,
        signing_key,
        jwt,
        shutdowns,
        static_dir,
        servers,
    })
}

pub async fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

impl Stack {
    pub async fn auth(&self) -> anyhow::Result<AuthServiceClient<Channel>> {
        Ok(AuthServiceClient::new(channel(self.auth_addr).await?))
    }

    pub async fn brands(&self) -> anyhow::Result<BrandServiceClient<Channel>> {
        Ok(BrandServiceClient::new(channel(self.brands_addr).await?))
    }

    pub async fn integrations(
        &self,
    ) -> anyhow::Result<
        pp_proto::integrations::integration_service_client::IntegrationServiceClient<Channel>,
    > {
        Ok(
            pp_proto::integrations::integration_service_client::IntegrationServiceClient::new(
                channel(self.integrations_addr).await?,
            ),
        )
    }

    pub async fn insights(
        &self,
    ) -> anyhow::Result<pp_proto::insights::insights_service_client::InsightsServiceClient<Channel>>
    {
        Ok(
            pp_proto::insights::insights_service_client::InsightsServiceClient::new(
                channel(self.insights_addr).await?,
            ),
        )
    }

    pub async fn observability(&self) -> anyhow::Result<ObservabilityServiceClient<Channel>> {
        Ok(ObservabilityServiceClient::new(
            channel(self.observability_addr).await?,
        ))
    }

    /// Shuts every server down and waits until the services have stopped, background
    /// tasks included (what `run` waits for before the process exits).
    pub async fn stop(&mut self) {
        self.shutdown();
        for server in self.servers.drain(..) {
            let _ = server.await;
        }
    }

    /// Signals every server to shut down (health flips to NOT_SERVING first).
    pub fn shutdown(&mut self) {
        for token in self.shutdowns.drain(..) {
            token.cancel();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown();
        let _ = std::fs::remove_dir_all(&self.static_dir);
        let _ = std::fs::remove_file(&self.token_key_file);
    }
}

/// Adds `authorization: Bearer <token>` to a request.
pub fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}").parse().expect("ascii token");
    request.metadata_mut().insert("authorization", value);
    request
}
