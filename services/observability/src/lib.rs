//! The observability service: stores every event once, and answers what the tenant's
//! API and AI use looks like (events, usage and cost, accuracy, latency, budgets).

pub mod api;
pub mod budget;
pub mod ingest;
pub mod live;
pub mod range;
pub mod store;

use std::sync::Arc;

use pp_auth::{AuthLayer, CachedTokenStatus, PublicMethods, TokenVerifier};
use pp_cache::Cache;
use pp_config::{ConfigError, ServerConfig, Source};
use pp_db::{Migration, PgPool};
use pp_proto::observability::observability_service_server::ObservabilityServiceServer;
use tokio::net::TcpListener;

pub use ingest::{ingest, store_deliveries};
pub use live::StreamLimits;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "ai_spend_daily",
        sql: include_str!("../migrations/0002_ai_spend_daily.sql"),
    },
    pp_db::IDEMPOTENCY_MIGRATION,
    pp_events::OUTBOX_MIGRATION,
    pp_events::OUTBOX_TRACEPARENT_MIGRATION,
    pp_events::OUTBOX_BATCH_MIGRATION,
    Migration {
        version: 3,
        name: "known_statuses",
        sql: include_str!("../migrations/0003_known_statuses.sql"),
    },
];

/// The Pub/Sub subscription this service reads (deploy/pubsub/setup.sh creates it;
/// on the emulator, relays create it with the topic, see
/// `PULSEPOINT_PUBSUB_SUBSCRIPTIONS`).
pub const SUBSCRIPTION: &str = "pulsepoint-events-observability";

pub struct State {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
    /// Newly stored events, per tenant, for StreamEvents.
    pub live: live::Hub,
    /// "Is this token still good", shared with the auth layer (see [`auth_layer`]):
    /// open streams re-check their token through it.
    pub token_status: Arc<CachedTokenStatus>,
    /// Deliveries refused by the subscriber.
    pub refusals: ingest::Refusals,
    /// The currency model costs are recorded in (the price table's).
    pub cost_currency: String,
}

impl State {
    pub fn new(pool: PgPool, cache: Arc<Cache>) -> Self {
        Self::with_stream_limits(pool, cache, StreamLimits::default())
    }

    pub fn with_stream_limits(pool: PgPool, cache: Arc<Cache>, limits: StreamLimits) -> Self {
        let token_status = Arc::new(CachedTokenStatus::new(Arc::new(
            pp_server::PgRedisTokenStatus::new(pool.clone(), cache.clone()),
        )));
        State {
            pool,
            cache,
            live: live::Hub::new(limits),
            token_status,
            refusals: ingest::Refusals::default(),
            cost_currency: "USD".into(),
        }
    }
}

/// Stream limits from `PULSEPOINT_OBSERVABILITY_STREAMS_PER_USER` (default 5),
/// `…_STREAMS_PER_TENANT` (100) and `…_STREAM_BUFFER` (events, 1024); each at least 1.
pub fn stream_limits(source: &Source) -> Result<StreamLimits, ConfigError> {
    let defaults = StreamLimits::default();
    let positive = |key: &str, default: usize| -> Result<usize, ConfigError> {
        let value: usize = source.parse(key, default)?;
        if value == 0 {
            return Err(ConfigError::Invalid {
                key: key.to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(value)
    };
    Ok(StreamLimits {
        per_user: positive(
            "PULSEPOINT_OBSERVABILITY_STREAMS_PER_USER",
            defaults.per_user,
        )?,
        per_tenant: positive(
            "PULSEPOINT_OBSERVABILITY_STREAMS_PER_TENANT",
            defaults.per_tenant,
        )?,
        buffer: positive("PULSEPOINT_OBSERVABILITY_STREAM_BUFFER", defaults.buffer)?,
        recheck: defaults.recheck,
    })
}

pub struct Deps {
    pub server: ServerConfig,
    pub state: Arc<State>,
    pub auth: AuthLayer,
    pub shutdown_delay: std::time::Duration,
}

/// The shared authentication layer, asking the state's token status (the one open
/// streams re-check) rather than a copy of its own.
pub fn auth_layer(
    keys: Arc<pp_auth::KeyStore>,
    jwt: &pp_config::JwtConfig,
    state: &State,
) -> AuthLayer {
    let verifier = Arc::new(TokenVerifier::new(keys, &jwt.issuer, &jwt.audience));
    AuthLayer::new(
        verifier,
        state.token_status.clone(),
        PublicMethods::default(),
    )
}

/// Stores every event delivered on `subscription` until `shutdown`, a batch at a time.
pub async fn run_subscriber(
    state: Arc<State>,
    pubsub: pp_events::PubSubConfig,
    subscription: String,
    shutdown: impl std::future::Future<Output = ()>,
) {
    pp_events::consumer::consume(
        pubsub,
        subscription,
        move |deliveries| {
            let state = state.clone();
            async move {
                store_deliveries(&state, deliveries)
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string())
            }
        },
        shutdown,
    )
    .await;
}

pub async fn serve(
    deps: Deps,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let Deps {
        server,
        state,
        auth,
        shutdown_delay,
    } = deps;
    let max = server.max_message_bytes;
    let spec = pp_server::serve::ServiceSpec {
        config: server,
        health_name: "pulsepoint.observability.v1.ObservabilityService",
        auth,
        shutdown_delay,
        pool: state.pool.clone(),
        schema: "observability",
    };
    let service = ObservabilityServiceServer::new(api::ObservabilityApi::new(state))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    pp_server::serve::serve_service(
        spec,
        listener,
        tonic::service::Routes::new(service),
        shutdown,
    )
    .await
}
