//! The auth service: tenants, users, tokens, API keys, JWKS.
//!
//! `api/` adapts gRPC (one module per resource) to the flows and rules in `domain/`
//! and the SQL in `store.rs`.

pub mod api;
pub mod config;
pub mod domain;
pub mod store;

use std::sync::Arc;

use pp_auth::keys::JwkSet;
use pp_auth::{KeyStore, SigningKey};
use pp_cache::Cache;
use pp_config::JwtConfig;
use pp_db::{Migration, PgPool};
use pp_proto::auth::auth_service_server::AuthServiceServer;
use pp_server::service::{BoxError, Service, ServiceContext, ServiceDef};
use tonic::service::Routes;

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

/// How often expired login-throttle counters are deleted.
const THROTTLE_PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The auth service, as `pp_server::service` runs it.
pub struct Auth;

impl Service for Auth {
    const DEF: ServiceDef = ServiceDef {
        name: "auth",
        grpc_service: "pulsepoint.auth.v1.AuthService",
        default_addr: "0.0.0.0:50051",
        migrations: &[("auth", MIGRATIONS)],
        public_methods: PUBLIC_METHODS,
    };
    type State = State;

    async fn state(ctx: &ServiceContext) -> Result<State, BoxError> {
        let config = AuthConfig::from_source(&ctx.source)?;
        let pem = std::fs::read_to_string(&config.signing_key_file).map_err(|err| {
            format!(
                "PULSEPOINT_SIGNING_KEY_FILE {}: {err}",
                config.signing_key_file
            )
        })?;
        let signing_key = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|err| format!("PULSEPOINT_SIGNING_KEY_FILE: {err}"))?;
        let mut jwks = JwkSet {
            keys: vec![signing_key.public_jwk()],
        };
        if let Some(path) = &config.previous_jwks_file {
            let previous = JwkSet::from_json(&std::fs::read_to_string(path)?)?;
            jwks.keys.extend(
                previous
                    .keys
                    .into_iter()
                    .filter(|k| k.kid != signing_key.kid()),
            );
        }
        tracing::info!(kid = signing_key.kid(), "signing key loaded");
        Ok(State {
            pool: ctx.pool.clone(),
            cache: ctx.cache.clone(),
            signing_key: Arc::new(signing_key),
            jwks,
            jwt: ctx.jwt.clone(),
            hasher: Hasher::with_memory_budget(
                config.passwords,
                config.hashing_memory_budget_bytes,
            ),
            throttle: LoginThrottle::default(),
        })
    }

    fn own_keys(state: &State) -> Option<Arc<KeyStore>> {
        Some(Arc::new(
            KeyStore::from_jwks(&state.jwks).unwrap_or_default(),
        ))
    }

    fn tasks(ctx: &ServiceContext, state: &Arc<State>) {
        let (pool, window) = (state.pool.clone(), state.throttle.window_secs);
        let shutdown = ctx.shutdown.clone();
        ctx.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(THROTTLE_PRUNE_EVERY) => {}
                    () = shutdown.cancelled() => return,
                }
                match store::prune_login_throttle(&pool, window * 2).await {
                    Ok(pruned) => tracing::debug!(pruned, "login throttle counters pruned"),
                    Err(err) => tracing::warn!(%err, "login throttle prune failed"),
                }
            }
        });
    }

    fn routes(state: Arc<State>, max_message_bytes: usize) -> Routes {
        Routes::new(
            AuthServiceServer::new(api::AuthApi::new(state))
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        )
    }
}
