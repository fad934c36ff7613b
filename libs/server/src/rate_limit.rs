//! Per-tenant and per-user request budgets (GCRA, one second of burst), and a budget
//! per client address for the public (unauthenticated) RPCs.
//!
//! Runs after authentication: a call with a principal is charged to its tenant and
//! user; a call without one (sign-up, login, refresh, key exchange) to its client
//! address ([`crate::ClientAddr`]). Health and reflection are never limited. Limits
//! are per replica: the cluster-wide budget is the configured rate × replicas.
//!
//! Time is tokio's clock, so tests drive the refill with paused time.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use dashmap::DashMap;
use futures::future::BoxFuture;
use pp_auth::Principal;
use pp_error::ApiError;
use tokio::time::Instant;
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
            // Admitted again once `start` is within the burst window: exactly then,
            // not one interval later.
            return Err(start - (now + BURST_WINDOW));
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
    use futures::FutureExt as _;
    use pp_auth::{Role, TenantId, UserId};
    use tonic_types::StatusExt as _;
    use tower_test::mock;

    type Mock = mock::Mock<http::Request<()>, http::Response<String>>;
    type Handle = mock::Handle<http::Request<()>, http::Response<String>>;

    fn principal(tenant: Uuid, user: Uuid) -> Principal {
        Principal {
            tenant_id: TenantId(tenant),
            user_id: UserId(user),
            role: Role::Analyst,
            brand_scope: None,
            token_id: Uuid::new_v4(),
            session_id: Some(Uuid::new_v4()),
            expires_at: i64::MAX,
        }
    }

    /// Sends one request through the layer: `Ok` when it reached the inner service,
    /// else the status the layer answered with.
    async fn send(
        service: &mut mock::Spawn<RateLimit<Mock>>,
        handle: &mut Handle,
        principal: Option<Principal>,
    ) -> Result<(), Status> {
        assert!(
            matches!(service.poll_ready(), Poll::Ready(Ok(()))),
            "the layer is ready"
        );
        let mut request = http::Request::new(());
        if let Some(principal) = principal {
            request.extensions_mut().insert(principal);
        }
        let response = service.call(request);
        if let Some(Some((_, reply))) = handle.next_request().now_or_never() {
            reply.send_response(http::Response::new(String::new()));
            response.await.expect("the inner service answers");
            return Ok(());
        }
        let response = response.await.expect("the layer answers");
        Err(Status::from_header_map(response.headers()).expect("a gRPC status"))
    }

    fn limited(tenant_rate: u32, user_rate: u32) -> (mock::Spawn<RateLimit<Mock>>, Handle) {
        mock::spawn_layer(RateLimitLayer::new(tenant_rate, user_rate))
    }

    /// The reason (`ErrorInfo`) and the wait (`RetryInfo`) of a refusal.
    fn refusal(status: &Status) -> (String, Duration) {
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        let reason = status.get_details_error_info().expect("ErrorInfo").reason;
        let wait = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
            .expect("RetryInfo");
        (reason, wait)
    }

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

    #[tokio::test(start_paused = true)]
    async fn public_paths_pass_whatever_the_budget() {
        let (mut service, mut handle) = limited(1, 1);
        for _ in 0..50 {
            assert!(send(&mut service, &mut handle, None).await.is_ok());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_shares_one_budget_across_its_users() {
        let (mut service, mut handle) = limited(2, 100);
        let tenant = Uuid::new_v4();
        // One second of burst at 2/s, plus the first: three calls, each by a new user.
        for _ in 0..3 {
            let caller = principal(tenant, Uuid::new_v4());
            assert!(send(&mut service, &mut handle, Some(caller)).await.is_ok());
        }
        let caller = principal(tenant, Uuid::new_v4());
        let status = send(&mut service, &mut handle, Some(caller))
            .await
            .expect_err("the tenant's budget is spent");
        let (reason, wait) = refusal(&status);
        assert_eq!(reason, "TENANT_RATE_LIMITED");
        assert!(wait > Duration::ZERO, "{wait:?}");
        // Another tenant is not affected.
        let stranger = principal(Uuid::new_v4(), Uuid::new_v4());
        assert!(
            send(&mut service, &mut handle, Some(stranger))
                .await
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_has_a_budget_of_its_own_within_the_tenant() {
        let (mut service, mut handle) = limited(100, 1);
        let tenant = Uuid::new_v4();
        let busy = principal(tenant, Uuid::new_v4());
        for _ in 0..2 {
            assert!(
                send(&mut service, &mut handle, Some(busy.clone()))
                    .await
                    .is_ok()
            );
        }
        let status = send(&mut service, &mut handle, Some(busy))
            .await
            .expect_err("the user's budget is spent");
        assert_eq!(refusal(&status).0, "USER_RATE_LIMITED");
        // A colleague in the same tenant still has hers.
        let colleague = principal(tenant, Uuid::new_v4());
        assert!(
            send(&mut service, &mut handle, Some(colleague))
                .await
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_refills_as_time_passes() {
        let (mut service, mut handle) = limited(100, 1);
        let caller = principal(Uuid::new_v4(), Uuid::new_v4());
        while send(&mut service, &mut handle, Some(caller.clone()))
            .await
            .is_ok()
        {}
        let status = send(&mut service, &mut handle, Some(caller.clone()))
            .await
            .expect_err("limited");
        let (_, wait) = refusal(&status);
        // Just short of the advertised wait, still refused; at it, admitted.
        tokio::time::advance(wait - Duration::from_millis(1)).await;
        assert!(
            send(&mut service, &mut handle, Some(caller.clone()))
                .await
                .is_err()
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(send(&mut service, &mut handle, Some(caller)).await.is_ok());
    }
}
