//! The brands service: a tenant's stores, and their portfolio totals.

pub mod api;
pub mod config;
pub mod domain;
pub mod store;

use std::sync::Arc;

use pp_auth::{AuthLayer, PublicMethods};
use pp_cache::Cache;
use pp_config::ServerConfig;
use pp_db::{Migration, PgPool};
use pp_proto::brands::brand_service_server::BrandServiceServer;
use tokio::net::TcpListener;

pub use config::BrandsConfig;

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

/// The commerce schema (synced platform data). Brands migrates it until the
/// integrations service, its writer, exists; the runner is idempotent either way.
pub const COMMERCE_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "orders",
    sql: include_str!("../migrations/commerce_0001_orders.sql"),
}];

pub struct State {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
}

pub struct Deps {
    pub server: ServerConfig,
    pub state: State,
    pub auth: AuthLayer,
    pub shutdown_delay: std::time::Duration,
}

/// The auth layer for brands: no public RPCs.
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
        health_name: "pulsepoint.brands.v1.BrandService",
        auth,
        shutdown_delay,
        pool: state.pool.clone(),
        schema: "brands",
    };
    let service = BrandServiceServer::new(api::BrandApi::new(Arc::new(state)))
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
