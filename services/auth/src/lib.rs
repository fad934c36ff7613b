//! The auth service: tenants, users, tokens, API keys, JWKS.
//!
//! `api.rs` adapts gRPC to the rules in `domain/` and the SQL in `store.rs`.

pub mod api;
pub mod config;
pub mod domain;
pub mod store;

use std::sync::Arc;

use pp_auth::keys::JwkSet;
use pp_auth::{KeyStore, PublicMethods, SigningKey};
use pp_cache::Cache;
use pp_config::{JwtConfig, ServerConfig};
use pp_db::{Migration, PgPool};
use pp_proto::auth::auth_service_server::AuthServiceServer;
use tokio::net::TcpListener;

pub use config::AuthConfig;
pub use domain::passwords::{Hasher, PasswordPolicy};
pub use domain::throttle::LoginThrottle;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "identity",
        sql: include_str!("../migrations/0001_identity.sql"),
    },
    Migration {
        version: 2,
        name: "login_throttle",
        sql: include_str!("../migrations/0002_login_throttle.sql"),
    },
    pp_db::IDEMPOTENCY_MIGRATION,
    pp_events::OUTBOX_MIGRATION,
    pp_events::OUTBOX_TRACEPARENT_MIGRATION,
    pp_events::OUTBOX_BATCH_MIGRATION,
];

/// The RPCs callable without a token.
pub const PUBLIC_METHODS: &[&str] = &[
    "/pulsepoint.auth.v1.AuthService/SignUp",
    "/pulsepoint.auth.v1.AuthService/Login",
    "/pulsepoint.auth.v1.AuthService/RefreshToken",
    "/pulsepoint.auth.v1.AuthService/ExchangeApiKey",
    "/pulsepoint.auth.v1.AuthService/GetJwks",
];

/// Everything the handlers share.
pub struct State {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
    pub signing_key: Arc<SigningKey>,
    /// Public keys published by GetJwks: the current key plus any still-trusted old ones.
    pub jwks: JwkSet,
    pub jwt: JwtConfig,
    /// argon2id with bounded concurrency and memory.
    pub hasher: Hasher,
    pub throttle: LoginThrottle,
}

/// What the service needs to run, already built (main builds it from config; tests
/// build it directly).
pub struct Deps {
    pub server: ServerConfig,
    pub state: State,
    pub shutdown_delay: std::time::Duration,
}

/// Serves the auth service on `listener` until `shutdown`.
pub async fn serve(
    deps: Deps,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let Deps {
        server,
        state,
        shutdown_delay,
    } = deps;
    let keys = Arc::new(KeyStore::from_jwks(&state.jwks).unwrap_or_default());
    let auth = pp_server::serve::auth_layer(
        keys,
        &state.jwt,
        state.pool.clone(),
        state.cache.clone(),
        PublicMethods::new(PUBLIC_METHODS.iter().copied()),
    );
    let max = server.max_message_bytes;
    let spec = pp_server::serve::ServiceSpec {
        config: server,
        health_name: "pulsepoint.auth.v1.AuthService",
        auth,
        shutdown_delay,
        pool: state.pool.clone(),
        schema: "auth",
    };
    let service = AuthServiceServer::new(api::AuthApi::new(Arc::new(state)))
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
