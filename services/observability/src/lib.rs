//! The observability service: stores every event once, and answers what the tenant's
//! API and AI use looks like (events, usage and cost, accuracy, latency, budgets).

pub mod api;
pub mod budget;
pub mod ingest;
pub mod store;

use std::sync::Arc;

use pp_auth::{AuthLayer, PublicMethods};
use pp_cache::Cache;
use pp_config::ServerConfig;
use pp_db::{Migration, PgPool};
use pp_proto::observability::observability_service_server::ObservabilityServiceServer;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

pub use ingest::ingest;

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
];

/// The Pub/Sub subscription this service reads (deploy/pubsub/setup.sh creates it;
/// on the emulator, relays create it with the topic, see
/// `PULSEPOINT_PUBSUB_SUBSCRIPTIONS`).
pub const SUBSCRIPTION: &str = "pulsepoint-events-observability";

pub struct State {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
    /// Newly stored events, for StreamEvents (each subscriber filters by tenant).
    pub live: broadcast::Sender<Arc<store::EventRow>>,
    /// The currency model costs are recorded in (the price table's).
    pub cost_currency: String,
}

impl State {
    pub fn new(pool: PgPool, cache: Arc<Cache>) -> Self {
        let (live, _) = broadcast::channel(4096);
        State {
            pool,
            cache,
            live,
            cost_currency: "USD".into(),
        }
    }
}

pub struct Deps {
    pub server: ServerConfig,
    pub state: Arc<State>,
    pub auth: AuthLayer,
    pub shutdown_delay: std::time::Duration,
}

pub fn auth_layer(
    keys: Arc<pp_auth::KeyStore>,
    jwt: &pp_config::JwtConfig,
    state: &State,
) -> AuthLayer {
    pp_server::serve::auth_layer(
        keys,
        jwt,
        state.pool.clone(),
        state.cache.clone(),
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
            async move { store_deliveries(&state, deliveries).await }
        },
        shutdown,
    )
    .await;
}

/// Stores a delivered batch. An event recorded inside a traced request gets a span in
/// that request's trace (child of the `traceparent` it travelled with), lasting as
/// long as its batch took to store.
async fn store_deliveries(
    state: &State,
    deliveries: Vec<pp_events::consumer::Delivery>,
) -> Result<(), String> {
    let spans: Vec<tracing::Span> = deliveries
        .iter()
        .filter_map(|delivery| {
            let traceparent = delivery.traceparent.as_deref()?;
            let span = tracing::info_span!(
                "observability.store_event",
                otel.kind = "consumer",
                messaging.system = "gcp_pubsub",
                messaging.operation = "process",
                event.type = %delivery.event.event_type,
                event.id = %delivery.event.event_id,
            );
            pp_telemetry::set_parent_from_traceparent(&span, traceparent);
            Some(span)
        })
        .collect();
    let events: Vec<pp_events::EventEnvelope> = deliveries
        .into_iter()
        .map(|delivery| delivery.event)
        .collect();
    let result = ingest::ingest_batch(state, &events).await;
    drop(spans);
    result.map(drop).map_err(|err| err.to_string())
}

pub async fn serve(
    deps: Deps,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let Deps {
        mut server,
        state,
        auth,
        shutdown_delay,
    } = deps;
    server.shutdown_delay = shutdown_delay;
    let max = server.max_message_bytes;
    let spec = pp_server::serve::ServiceSpec {
        config: server,
        health_name: "pulsepoint.observability.v1.ObservabilityService",
        auth,
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
