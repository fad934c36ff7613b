//! Per-tenant and per-user request budgets (GCRA, one second of burst), and a budget
//! per client address for the public (unauthenticated) RPCs.
//!
//! Runs after authentication: a call with a principal is charged to its tenant and
//! user; a call without one (sign-up, login, refresh, key exchange) to its client
//! address ([`crate::ClientAddr`]). Health and reflection are never limited. Limits
//! are per replica: the cluster-wide budget is the configured rate × replicas.

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
    clients: Arc<RateLimiter>,
}

impl RateLimitLayer {
    pub fn new(tenant_rate_per_sec: u32, user_rate_per_sec: u32) -> Self {
        Self::with_public(tenant_rate_per_sec, user_rate_per_sec, u32::MAX)
    }

    /// Also limits unauthenticated calls to `public_rate_per_sec` per client address.
    pub fn with_public(
        tenant_rate_per_sec: u32,
        user_rate_per_sec: u32,
        public_rate_per_sec: u32,
    ) -> Self {
        RateLimitLayer {
            tenants: Arc::new(RateLimiter::per_second(tenant_rate_per_sec)),
            users: Arc::new(RateLimiter::per_second(user_rate_per_sec)),
            clients: Arc::new(RateLimiter::per_second(public_rate_per_sec)),
        }
    }

    fn admit_public(&self, client: std::net::IpAddr) -> Result<(), ApiError> {
        // An IPv6 address is 16 bytes, like the limiter's keys (IPv4 as mapped IPv6).
        let key = Uuid::from_bytes(match client {
            std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(v6) => v6.octets(),
        });
        self.clients
            .check(key, Instant::now())
            .map_err(|retry_after| ApiError::ResourceExhausted {
                reason: "CLIENT_RATE_LIMITED",
                retry_after,
            })
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
        let admitted = match request.extensions().get::<Principal>() {
            Some(principal) => self.layer.admit(principal),
            // Health and reflection (operators, probes) are not budgeted.
            None if request.uri().path().starts_with("/grpc.") => Ok(()),
            None => request
                .extensions()
                .get::<crate::ClientAddr>()
                .map_or(Ok(()), |client| self.layer.admit_public(client.0)),
        };
        if let Err(error) = admitted {
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
