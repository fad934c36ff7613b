//! The observability service: stores every event once, and answers what the tenant's
//! API and AI use looks like (events, usage and cost, accuracy, latency, budgets).

pub mod api;
pub mod budget;
pub mod ingest;
pub mod live;
pub mod range;
pub mod store;

use std::sync::Arc;

use pp_auth::CachedTokenStatus;
use pp_cache::Cache;
use pp_config::{ConfigError, Source};
use pp_db::{Migration, PgPool};
use pp_proto::observability::observability_service_server::ObservabilityServiceServer;
use pp_server::service::{BoxError, Service, ServiceContext, ServiceDef};
use tonic::service::Routes;

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

/// The observability service, as `pp_server::service` runs it.
pub struct Observability;

impl Service for Observability {
    const DEF: ServiceDef = ServiceDef {
        name: "observability",
        grpc_service: "pulsepoint.observability.v1.ObservabilityService",
        default_addr: "0.0.0.0:50055",
        migrations: &[("observability", MIGRATIONS)],
        public_methods: &[],
    };
    type State = State;

    async fn state(ctx: &ServiceContext) -> Result<State, BoxError> {
        let limits = stream_limits(&ctx.source)?;
        Ok(State::with_stream_limits(
            ctx.pool.clone(),
            ctx.cache.clone(),
            limits,
        ))
    }

    fn token_status(state: &State) -> Option<Arc<CachedTokenStatus>> {
        Some(state.token_status.clone())
    }

    fn tasks(ctx: &ServiceContext, state: &Arc<State>) {
        let Some(pubsub) = pp_events::PubSubConfig::from_source(&ctx.source) else {
            tracing::warn!("PULSEPOINT_PUBSUB_PROJECT unset: no events will be received");
            return;
        };
        let subscription = ctx
            .source
            .string("PULSEPOINT_PUBSUB_SUBSCRIPTION", SUBSCRIPTION);
        ctx.spawn(run_subscriber(
            state.clone(),
            pubsub,
            subscription,
            ctx.shutdown_signal(),
        ));
    }

    fn routes(state: Arc<State>, max_message_bytes: usize) -> Routes {
        Routes::new(
            ObservabilityServiceServer::new(api::ObservabilityApi::new(state))
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        )
    }
}

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
