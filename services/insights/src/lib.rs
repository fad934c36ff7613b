//! The insights service: the metric catalogue's engine over daily rollups of the
//! `commerce` schema (which it only reads), and the dashboard built on it.
//!
//! - [`engine`]: metric × period × filters × breakdown → figures with definitions.
//! - [`rollups`]: the daily rollups, refreshed after each `data.sync_completed` event
//!   (own Pub/Sub subscription, each event once) and by a scheduled sweep.
//! - [`freshness`]: "data as of" per source, asked of the integrations service with
//!   the caller's identity.
//! - [`attribution`]: each order's net revenue credited to its touches under each
//!   attribution model, exactly to the micro, and summed per platform or campaign.
//! - [`forecast`]: stock-out and reorder dates, reorder quantity and risk per variant.
//! - [`recommendations`]: restocks and budget moves, regenerated after each sync and by
//!   the sweep, and the measured outcome of the accepted ones.
//! - [`alerts`]: threshold rules, anomalies, stock-out risk and sync failures, raised
//!   once per condition and day, after each sync and on a schedule.
//! - [`answers`]: questions in plain language → a plan → metric-engine figures → the
//!   answer's text (the built-in planner), or a one-line refusal; [`answers::model`] is
//!   the model path (Claude through the Messages API, tool use over the engine,
//!   grounding, budget).
//! - [`api`]: the gRPC adapters of every InsightsService RPC.

pub mod alerts;
pub mod answers;
pub mod api;
pub mod attribution;
pub mod config;
pub mod engine;
pub mod forecast;
pub mod freshness;
pub mod recommendations;
pub mod rollups;
pub mod store;

use std::sync::Arc;

use pp_cache::Cache;
use pp_db::{Migration, PgPool};
use pp_proto::insights::insights_service_server::InsightsServiceServer;
use pp_server::service::{BoxError, Service, ServiceContext, ServiceDef};
use tonic::service::Routes;

pub use config::Settings;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "rollups",
        sql: include_str!("../migrations/0001_rollups.sql"),
    },
    Migration {
        version: 2,
        name: "recommendations",
        sql: include_str!("../migrations/0002_recommendations.sql"),
    },
    Migration {
        version: 3,
        name: "alerts",
        sql: include_str!("../migrations/0003_alerts.sql"),
    },
    Migration {
        version: 4,
        name: "questions",
        sql: include_str!("../migrations/0004_questions.sql"),
    },
    pp_db::IDEMPOTENCY_MIGRATION,
    pp_events::OUTBOX_MIGRATION,
    pp_events::OUTBOX_TRACEPARENT_MIGRATION,
    pp_events::OUTBOX_BATCH_MIGRATION,
];

/// The Pub/Sub subscription this service reads `data.sync_completed` from
/// (deploy/pubsub/setup.sh creates it; on the emulator the consumer creates it).
pub const SUBSCRIPTION: &str = "pulsepoint-events-insights";

pub struct State {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
    /// The integrations service, called with the caller's identity.
    pub integrations: freshness::IntegrationsClient,
    /// Its recent answers (`Settings::freshness_ttl`).
    pub recent_freshness: freshness::Recent,
    /// The observability service, asked `CheckBudget` with the caller's identity
    /// before each model call.
    pub observability: answers::model::budget::ObservabilityClient,
    /// The Messages API client when `ANTHROPIC_API_KEY` is set; `None`: the planner
    /// answers every question.
    pub model: Option<answers::model::Client>,
    pub settings: Settings,
}

/// The insights service, as `pp_server::service` runs it.
pub struct Insights;

impl Service for Insights {
    const DEF: ServiceDef = ServiceDef {
        name: "insights",
        grpc_service: "pulsepoint.insights.v1.InsightsService",
        default_addr: "0.0.0.0:50054",
        migrations: &[("insights", MIGRATIONS)],
        public_methods: &[],
    };
    type State = State;

    async fn state(ctx: &ServiceContext) -> Result<State, BoxError> {
        let settings = Settings::from_source(&ctx.source)?;
        let integrations = freshness::client(&settings.integrations_url)
            .ok_or("PULSEPOINT_INTEGRATIONS_URL: not a valid URL")?;
        let observability = answers::model::budget::client(&settings.observability_url)
            .ok_or("PULSEPOINT_OBSERVABILITY_URL: not a valid URL")?;
        let model = match &settings.model {
            None => {
                tracing::info!("ANTHROPIC_API_KEY unset: the built-in planner answers questions");
                None
            }
            Some(model) => Some(answers::model::Client::new(model.clone())?),
        };
        Ok(State {
            pool: ctx.pool.clone(),
            cache: ctx.cache.clone(),
            integrations,
            recent_freshness: freshness::Recent::new(settings.freshness_ttl),
            observability,
            model,
            settings,
        })
    }

    fn tasks(ctx: &ServiceContext, state: &Arc<State>) {
        ctx.spawn(rollups::run_sweeper(
            state.pool.clone(),
            state.settings.sweep_every,
            state.settings.sweep_trailing_days,
            ctx.shutdown_signal(),
        ));
        ctx.spawn(alerts::run_evaluator(
            state.pool.clone(),
            state.settings.alerts_every,
            ctx.shutdown_signal(),
        ));
        let Some(pubsub) = pp_events::PubSubConfig::from_source(&ctx.source) else {
            tracing::warn!("PULSEPOINT_PUBSUB_PROJECT unset: rollups follow the sweep only");
            return;
        };
        let subscription = ctx
            .source
            .string("PULSEPOINT_PUBSUB_SUBSCRIPTION", SUBSCRIPTION);
        ctx.spawn(rollups::run_subscriber(
            state.clone(),
            pubsub,
            subscription,
            ctx.shutdown_signal(),
        ));
    }

    fn routes(state: Arc<State>, max_message_bytes: usize) -> Routes {
        Routes::new(
            InsightsServiceServer::new(api::InsightsApi::new(state))
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        )
    }
}
