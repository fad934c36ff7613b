//! "Is this token still good": tenant active, user active, token not revoked.
//!
//! The answer comes from a [`TokenStatus`] backend (Redis, falling back to Postgres,
//! in `pp-server`) and is cached in-process for [`STATUS_CACHE_TTL`]. The backend's own
//! shared cache uses the same TTL, so a revocation reaches every replica of every
//! service within `2 × STATUS_CACHE_TTL` = 1 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::principal::Principal;

pub const STATUS_CACHE_TTL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Revoked,
    UserInactive,
    TenantInactive,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Revoked => "revoked",
            TokenState::UserInactive => "user_inactive",
            TokenState::TenantInactive => "tenant_inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            TokenState::Active,
            TokenState::Revoked,
            TokenState::UserInactive,
            TokenState::TenantInactive,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// Where token state is looked up. Errors mean "could not tell" and fail closed.
pub trait TokenStatus: Send + Sync + 'static {
    fn state(&self, principal: &Principal) -> BoxFuture<'_, Result<TokenState, String>>;
}

/// (tenant, user, token, session): everything a token's state depends on.
type StateKey = (Uuid, Uuid, Uuid, Option<Uuid>);

/// An in-process cache in front of a [`TokenStatus`].
pub struct CachedTokenStatus {
    inner: Arc<dyn TokenStatus>,
    ttl: Duration,
    /// Keyed by everything the answer depends on, not the token id alone.
    cache: DashMap<StateKey, (TokenState, Instant)>,
}

impl CachedTokenStatus {
    pub fn new(inner: Arc<dyn TokenStatus>) -> Self {
        Self::with_ttl(inner, STATUS_CACHE_TTL)
    }

    pub fn with_ttl(inner: Arc<dyn TokenStatus>, ttl: Duration) -> Self {
        CachedTokenStatus {
            inner,
            ttl,
            cache: DashMap::new(),
        }
    }

    pub async fn state(&self, principal: &Principal) -> Result<TokenState, String> {
        let key = (
            principal.tenant_id.0,
            principal.user_id.0,
            principal.token_id,
            principal.session_id,
        );
        if let Some(entry) = self.cache.get(&key) {
            let (state, at) = *entry;
            if at.elapsed() < self.ttl {
                return Ok(state);
            }
        }
        let state = self.inner.state(principal).await?;
        if self.cache.len() > 100_000 {
            self.cache.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        self.cache.insert(key, (state, Instant::now()));
        Ok(state)
    }
}
