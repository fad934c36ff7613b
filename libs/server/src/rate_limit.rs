//! Per-tenant and per-user request budgets (GCRA, one second of burst).
//!
//! Runs after authentication; public paths (no principal) pass. Limits are per
//! replica: the cluster-wide budget is the configured rate × replicas.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures::future::BoxFuture;
use pp_auth::Principal;
use pp_error::ApiError;
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;
use uuid::Uuid;

const BURST_WINDOW: Duration = Duration::from_secs(1);

/// A set of GCRA limiters keyed by id.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next_free: DashMap<Uuid, Instant>,
}

impl RateLimiter {
    pub fn per_second(rate: u32) -> Self {
        RateLimiter {
            interval: Duration::from_secs(1) / rate.max(1),
            next_free: DashMap::new(),
        }
    }

    /// Takes one unit for `key`, or says how long to wait.
    pub fn check(&self, key: Uuid, now: Instant) -> Result<(), Duration> {
        if self.next_free.len() > 100_000 {
            self.next_free.retain(|_, tat| *tat > now);
        }
        let mut tat = self.next_free.entry(key).or_insert(now);
        let start = (*tat).max(now);
        if start > now + BURST_WINDOW {
            return Err(start - now - BURST_WINDOW + self.interval);
        }
        *tat = start + self.interval;
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    tenants: Arc<RateLimiter>,
    users: Arc<RateLimiter>,
}

impl RateLimitLayer {
    pub fn new(tenant_rate_per_sec: u32, user_rate_per_sec: u32) -> Self {
        RateLimitLayer {
            tenants: Arc::new(RateLimiter::per_second(tenant_rate_per_sec)),
            users: Arc::new(RateLimiter::per_second(user_rate_per_sec)),
        }
    }

    fn admit(&self, principal: &Principal) -> Result<(), ApiError> {
        let now = Instant::now();
        self.tenants
            .check(principal.tenant_id.0, now)
            .map_err(|retry_after| ApiError::ResourceExhausted {
                reason: "TENANT_RATE_LIMITED",
                retry_after,
            })?;
        self.users
            .check(principal.user_id.0, now)
            .map_err(|retry_after| ApiError::ResourceExhausted {
                reason: "USER_RATE_LIMITED",
                retry_after,
            })
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

// === impl RateLimit ===

#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RateLimit<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        if let Some(principal) = request.extensions().get::<Principal>()
            && let Err(error) = self.layer.admit(principal)
        {
            return Box::pin(async move { Ok(Status::from(error).into_http()) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_second_of_burst_then_asks_to_wait() {
        let limiter = RateLimiter::per_second(10);
        let key = Uuid::new_v4();
        let now = Instant::now();
        let allowed = (0..100).filter(|_| limiter.check(key, now).is_ok()).count();
        assert_eq!(allowed, 11, "one second of burst plus the first");
        let wait = limiter.check(key, now).expect_err("limited");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        // Another key has its own budget.
        assert!(limiter.check(Uuid::new_v4(), now).is_ok());
        // Time refills the budget.
        assert!(limiter.check(key, now + Duration::from_secs(2)).is_ok());
    }
}
