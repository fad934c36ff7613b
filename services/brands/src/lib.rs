//! The brands service: a tenant's stores, and their portfolio totals.

pub mod api;
pub mod domain;
pub mod store;

use std::sync::Arc;

use pp_cache::Cache;
use pp_db::{Migration, PgPool};
use pp_proto::brands::brand_service_server::BrandServiceServer;
use pp_server::service::{BoxError, Service, ServiceContext, ServiceDef};
use tonic::service::Routes;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "brands",
        sql: include_str!("../migrations/0001_brands.sql"),
    },
    pp_db::IDEMPOTENCY_MIGRATION,
    pp_events::OUTBOX_MIGRATION,
    pp_events::OUTBOX_TRACEPARENT_MIGRATION,
    pp_events::OUTBOX_BATCH_MIGRATION,
];

pub struct State {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
}

/// The brands service, as `pp_server::service` runs it.
pub struct Brands;

impl Service for Brands {
    const DEF: ServiceDef = ServiceDef {
        name: "brands",
        grpc_service: "pulsepoint.brands.v1.BrandService",
        default_addr: "0.0.0.0:50052",
        migrations: &[("brands", MIGRATIONS)],
        public_methods: &[],
    };
    type State = State;

    async fn state(ctx: &ServiceContext) -> Result<State, BoxError> {
        Ok(State {
            pool: ctx.pool.clone(),
            cache: ctx.cache.clone(),
        })
    }

    fn routes(state: Arc<State>, max_message_bytes: usize) -> Routes {
        Routes::new(
            BrandServiceServer::new(api::BrandApi::new(state))
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        )
    }
}
