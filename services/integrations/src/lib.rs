//! The integrations service: connects a brand's Shopify store and ad accounts
//! (OAuth, tokens sealed at rest), keeps their orders, products, inventory and ad
//! spend current in the `commerce` schema (the sync engine), and takes Shopify's
//! webhooks from the gateway.

pub mod api;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod demo_load;
pub mod events;
pub mod oauth;
pub mod revoke;
pub mod store;
pub mod sync;
pub mod webhooks;

use std::sync::Arc;

use pp_db::{Migration, PgPool};
use pp_proto::integrations::integration_service_server::IntegrationServiceServer;
use pp_server::service::{BoxError, Service, ServiceContext, ServiceDef};
use tonic::service::Routes;

pub use config::{OAuthSettings, PlatformsConfig};
pub use sync::SyncSettings;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "integrations",
        sql: include_str!("../migrations/0001_integrations.sql"),
    },
    pp_db::IDEMPOTENCY_MIGRATION,
    pp_events::OUTBOX_MIGRATION,
    pp_events::OUTBOX_TRACEPARENT_MIGRATION,
    pp_events::OUTBOX_BATCH_MIGRATION,
];

/// The commerce schema: synced platform data. This service is its only writer;
/// brands and insights may only read it.
pub const COMMERCE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "orders",
        sql: include_str!("../migrations/commerce_0001_orders.sql"),
    },
    Migration {
        version: 2,
        name: "synced_data",
        sql: include_str!("../migrations/commerce_0002_synced_data.sql"),
    },
];

/// The one RPC the auth layer lets through without a user token: it checks the
/// gateway's service credential itself (see `webhooks`).
pub const WEBHOOK_METHOD: &str =
    "/pulsepoint.integrations.v1.IntegrationService/IngestShopifyWebhook";

pub struct State {
    pub pool: PgPool,
    pub vault: pp_vault::Vault,
    pub platforms: PlatformsConfig,
    pub oauth: OAuthSettings,
    pub sync: SyncSettings,
    /// The credential the gateway presents when it forwards a webhook.
    pub webhook_credential: Option<pp_config::SecretString>,
}

/// The integrations service, as `pp_server::service` runs it.
pub struct Integrations;

impl Service for Integrations {
    const DEF: ServiceDef = ServiceDef {
        name: "integrations",
        grpc_service: "pulsepoint.integrations.v1.IntegrationService",
        default_addr: "0.0.0.0:50053",
        migrations: &[
            ("commerce", COMMERCE_MIGRATIONS),
            ("integrations", MIGRATIONS),
        ],
        public_methods: &[WEBHOOK_METHOD],
    };
    type State = State;

    async fn state(ctx: &ServiceContext) -> Result<State, BoxError> {
        config::state_from_source(&ctx.source, ctx.pool.clone()).await
    }

    fn tasks(ctx: &ServiceContext, state: &Arc<State>) {
        for _ in 0..state.sync.workers {
            ctx.spawn(sync::worker(
                state.clone(),
                uuid::Uuid::new_v4(),
                ctx.shutdown.clone(),
            ));
        }
        ctx.spawn(sync::scheduler(state.clone(), ctx.shutdown.clone()));
    }

    fn routes(state: Arc<State>, max_message_bytes: usize) -> Routes {
        Routes::new(
            IntegrationServiceServer::new(api::IntegrationApi::new(state))
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        )
    }
}
