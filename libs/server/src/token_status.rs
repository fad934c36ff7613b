//! Token state: Redis (shared, short TTL) in front of Postgres (the truth).

use std::sync::Arc;

use futures::future::BoxFuture;
use pp_auth::{Principal, STATUS_CACHE_TTL, TokenState, TokenStatus};
use pp_cache::{Cache, TenantKey};
use sqlx::PgPool;

/// Asks `auth.token_state(...)` (a SECURITY DEFINER function every service role may
/// execute, see the auth migrations), through a Redis cache entry that lives
/// [`STATUS_CACHE_TTL`]. With Redis down, every check goes to Postgres.
pub struct PgRedisTokenStatus {
    pool: PgPool,
    cache: Arc<Cache>,
}

impl PgRedisTokenStatus {
    pub fn new(pool: PgPool, cache: Arc<Cache>) -> Self {
        PgRedisTokenStatus { pool, cache }
    }

    pub fn key(principal: &Principal) -> TenantKey {
        let session = principal
            .session_id
            .map(|s| s.to_string())
            .unwrap_or_default();
        TenantKey::new(
            principal.tenant_id,
            format_args!(
                "tokstate:{}:{}:{session}",
                principal.user_id, principal.token_id
            ),
        )
    }

    async fn lookup(&self, principal: &Principal) -> Result<TokenState, String> {
        let key = Self::key(principal);
        if let Some(bytes) = self.cache.get(&key).await
            && let Some(state) = std::str::from_utf8(&bytes).ok().and_then(TokenState::parse)
        {
            return Ok(state);
        }
        let state: String = sqlx::query_scalar("select auth.token_state($1, $2, $3, $4)")
            .bind(principal.tenant_id.0)
            .bind(principal.user_id.0)
            .bind(principal.token_id)
            .bind(principal.session_id)
            .fetch_one(&self.pool)
            .await
            .map_err(|err| err.to_string())?;
        let state =
            TokenState::parse(&state).ok_or_else(|| format!("unknown token state {state:?}"))?;
        self.cache
            .set(&key, state.as_str().as_bytes(), STATUS_CACHE_TTL)
            .await;
        Ok(state)
    }
}

impl TokenStatus for PgRedisTokenStatus {
    fn state(&self, principal: &Principal) -> BoxFuture<'_, Result<TokenState, String>> {
        let principal = principal.clone();
        Box::pin(async move { self.lookup(&principal).await })
    }
}
