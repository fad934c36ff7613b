//! The public auth RPCs under attack: throttles that count before hashing, per client
//! address through trusted proxies, bounded password hashing, idempotent retries.

use std::collections::HashSet;

use futures::future::join_all;
use pp_proto::auth::auth_service_client::AuthServiceClient;
use pp_proto::auth::{
    CreateApiKeyRequest, CreateUserRequest, ExchangeApiKeyRequest, ListApiKeysRequest,
    ListUsersRequest, LoginRequest, LogoutRequest, RefreshTokenRequest, SignUpRequest,
};
use pp_proto::brands::{Brand, CreateBrandRequest, ListBrandsRequest};
use pp_proto::common::{Money, Role as ProtoRole};
use pp_proto::observability::{BudgetPeriod, CostBudget, SetCostBudgetRequest};
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::support::*;

/// A stack whose servers believe `x-forwarded-for` from loopback: the test plays the
/// load balancer, and the gateway (also on loopback) is the proxy auth trusts.
fn behind_a_proxy() -> StackOptions {
    StackOptions {
        trusted_proxies: pp_config::TrustedProxies::parse(&["127.0.0.1"]).expect("cidr"),
        ..StackOptions::default()
    }
}

fn from<T>(client: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-forwarded-for", client.parse().expect("ascii"));
    request
}

fn login_as(email: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: email.into(),
        password: password.into(),
        tenant_id: String::new(),
    }
}

async fn gateway_auth(stack: &Stack) -> AuthServiceClient<Channel> {
    AuthServiceClient::new(
        pulsepoint_e2e::channel(stack.gateway_addr)
            .await
            .expect("gateway channel"),
    )
}

fn reason(status: &tonic::Status) -> String {
    pp_error::error_reason(status).unwrap_or_default()
}

#[tokio::test]
async fn one_client_cannot_lock_everyone_out_of_login() {
    let stack = spawn_stack(behind_a_proxy()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = gateway_auth(&stack).await;
    for _ in 0..50 {
        let email = format!("nobody-{}@example.com", Uuid::new_v4().simple());
        let wrong = auth
            .login(from("198.51.100.1", login_as(&email, "not-the-password")))
            .await;
        assert_code(wrong, Code::Unauthenticated);
    }
    // The sprayer is now throttled …
    let email = format!("nobody-{}@example.com", Uuid::new_v4().simple());
    let throttled = auth
        .login(from("198.51.100.1", login_as(&email, "not-the-password")))
        .await;
    let status = assert_code(throttled, Code::ResourceExhausted);
    assert_eq!(reason(&status), "LOGIN_THROTTLED");
    // … and nobody else is.
    auth.login(from(
        "198.51.100.2",
        login_as(&tenant.admin_email, PASSWORD),
    ))
    .await
    .expect("another client's correct login");
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_not_believed() {
    // No trusted proxies: every call here comes from 127.0.0.1, whatever it claims.
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = stack.auth().await.expect("client");
    for attempt in 0..5 {
        let wrong = auth
            .login(from(
                &format!("203.0.113.{attempt}"),
                login_as(&tenant.admin_email, "not-the-password"),
            ))
            .await;
        assert_code(wrong, Code::Unauthenticated);
    }
    let spoofed = auth
        .login(from(
            "203.0.113.99",
            login_as(&tenant.admin_email, "not-the-password"),
        ))
        .await;
    assert_code(spoofed, Code::ResourceExhausted);
}

#[tokio::test]
async fn concurrent_guesses_are_counted_before_hashing() {
    let stack = spawn_stack(behind_a_proxy()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let auth = stack.auth().await.expect("client");
    let guesses = (0..30).map(|i| {
        let mut auth = auth.clone();
        let email = tenant.admin_email.clone();
        async move {
            auth.login(from(
                "198.51.100.7",
                login_as(&email, &format!("guess-{i}-wrong")),
            ))
            .await
        }
    });
    let results = join_all(guesses).await;
    let verified = results
        .iter()
        .filter(|r| r.as_ref().err().map(tonic::Status::code) == Some(Code::Unauthenticated))
        .count();
    let throttled = results
        .iter()
        .filter(|r| r.as_ref().err().map(tonic::Status::code) == Some(Code::ResourceExhausted))
        .count();
    assert!(
        verified <= 5,
        "{verified} guesses reached the password check"
    );
    assert_eq!(verified + throttled, 30, "{results:?}");
    // The owner, elsewhere, is not locked out by it.
    let mut auth = auth;
    auth.login(from("192.0.2.10", login_as(&tenant.admin_email, PASSWORD)))
        .await
        .expect("the owner logs in from another address");
}

#[tokio::test]
async fn logins_needing_a_tenant_id_are_throttled_too() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let first = sign_up(&stack, "First").await;
    let mut auth = stack.auth().await.expect("client");
    auth.sign_up(SignUpRequest {
        tenant_name: "Second".into(),
        email: first.admin_email.clone(),
        password: PASSWORD.into(),
        display_name: String::new(),
    })
    .await
    .expect("same email, second tenant");
    for _ in 0..5 {
        let ambiguous = auth.login(login_as(&first.admin_email, PASSWORD)).await;
        let status = assert_code(ambiguous, Code::FailedPrecondition);
        assert_eq!(reason(&status), "TENANT_ID_REQUIRED");
    }
    let throttled = auth.login(login_as(&first.admin_email, PASSWORD)).await;
    assert_code(throttled, Code::ResourceExhausted);
}

#[tokio::test]
async fn a_person_in_eleven_tenants_logs_into_each() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let email = format!("agency-{}@example.com", Uuid::new_v4().simple());
    let mut auth = stack.auth().await.expect("client");
    let mut tenants = Vec::new();
    for i in 0..11 {
        let response = auth
            .sign_up(SignUpRequest {
                tenant_name: format!("Client {i}"),
                email: email.clone(),
                password: PASSWORD.into(),
                display_name: String::new(),
            })
            .await
            .expect("sign up")
            .into_inner();
        tenants.push(response.tenant.expect("tenant").tenant_id);
    }
    for tenant_id in [&tenants[10], &tenants[0]] {
        let user = auth
            .login(LoginRequest {
                tenant_id: tenant_id.clone(),
                ..login_as(&email, PASSWORD)
            })
            .await
            .expect("login into a named tenant")
            .into_inner()
            .user
            .expect("user");
        assert_eq!(&user.tenant_id, tenant_id);
    }
}

#[tokio::test]
async fn public_rpcs_are_rate_limited_per_client_address() {
    let stack = spawn_stack(StackOptions {
        public_rate_per_sec: 5,
        ..behind_a_proxy()
    })
    .await
    .expect("stack");
    let auth = gateway_auth(&stack).await;
    let calls = (0..30).map(|_| {
        let mut auth = auth.clone();
        async move {
            auth.refresh_token(from(
                "198.51.100.3",
                RefreshTokenRequest {
                    refresh_token: "rt_nope.nope".into(),
                },
            ))
            .await
        }
    });
    let results = join_all(calls).await;
    let limited: Vec<&tonic::Status> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|s| s.code() == Code::ResourceExhausted)
        .collect();
    assert!(!limited.is_empty(), "30 calls at once from one address");
    assert!(
        limited
            .iter()
            .all(|s| reason(s) == "CLIENT_RATE_LIMITED" && pp_error::retry_delay(s).is_some())
    );
    // Another address has its own budget.
    let mut auth = auth;
    let other = auth
        .refresh_token(from(
            "198.51.100.4",
            RefreshTokenRequest {
                refresh_token: "rt_nope.nope".into(),
            },
        ))
        .await;
    assert_code(other, Code::Unauthenticated);
}

/// Peak resident memory of this process since the last reset, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[tokio::test]
async fn concurrent_sign_ups_hash_in_bounded_memory() {
    // Production argon2id parameters and the production memory budget.
    let stack = spawn_stack(StackOptions {
        password_policy: pulsepoint_auth::PasswordPolicy::default(),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let auth = stack.auth().await.expect("client");
    // Start the window at the current resident set ("5" resets the peak, Linux ≥ 4.0).
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = peak_rss();
    let sign_ups = (0..200).map(|i| {
        let mut auth = auth.clone();
        async move {
            auth.sign_up(SignUpRequest {
                tenant_name: format!("Load {i}"),
                email: format!("load-{}@example.com", Uuid::new_v4().simple()),
                password: PASSWORD.into(),
                display_name: String::new(),
            })
            .await
        }
    });
    let results = join_all(sign_ups).await;
    let growth = peak_rss().saturating_sub(before);
    let exhausted = results
        .iter()
        .filter(|r| r.as_ref().err().map(tonic::Status::code) == Some(Code::ResourceExhausted))
        .count();
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    eprintln!(
        "200 concurrent sign-ups: {succeeded} ok, {exhausted} RESOURCE_EXHAUSTED, peak growth {} MiB",
        growth / (1024 * 1024)
    );
    assert_eq!(succeeded + exhausted, 200, "{results:?}");
    assert!(succeeded > 0 && exhausted > 0);
    assert!(
        growth < 200 * 1024 * 1024,
        "peak memory grew by {} MiB",
        growth / (1024 * 1024)
    );
}

#[tokio::test]
async fn idempotent_rpcs_retried_fifty_times_at_once_act_once() {
    // CreateUser, CreateApiKey, CreateBrand, SetCostBudget: every RPC with a request_id.
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let auth = stack.auth().await.expect("client");
    let brands = stack.brands().await.expect("client");
    let token = tenant.admin_token.clone();

    let email = format!("new-{}@example.com", Uuid::new_v4().simple());
    let users = join_all((0..50).map(|_| {
        let mut auth = auth.clone();
        let request = CreateUserRequest {
            email: email.clone(),
            display_name: "New".into(),
            role: ProtoRole::Analyst as i32,
            password: PASSWORD.into(),
            request_id: "create-user-1".into(),
        };
        let token = token.clone();
        async move { auth.create_user(authed(&token, request)).await }
    }))
    .await;
    let users: HashSet<String> = users
        .into_iter()
        .map(|r| {
            r.expect("create user")
                .into_inner()
                .user
                .expect("user")
                .user_id
        })
        .collect();
    assert_eq!(users.len(), 1, "one user, the same answer 50 times");
    let mut listing = auth.clone();
    let listed = listing
        .list_users(authed(&token, ListUsersRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .users;
    assert_eq!(listed.iter().filter(|u| u.email == email).count(), 1);

    let keys = join_all((0..50).map(|_| {
        let mut auth = auth.clone();
        let token = token.clone();
        async move {
            auth.create_api_key(authed(
                &token,
                CreateApiKeyRequest {
                    name: "ci".into(),
                    request_id: "create-key-1".into(),
                },
            ))
            .await
        }
    }))
    .await;
    let keys: Vec<_> = keys
        .into_iter()
        .map(|r| r.expect("create key").into_inner())
        .collect();
    let ids: HashSet<String> = keys
        .iter()
        .map(|k| k.api_key.as_ref().expect("key").api_key_id.clone())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        keys.iter().filter(|k| !k.secret.is_empty()).count(),
        1,
        "the secret is shown once, never replayed"
    );
    let mut listing = auth.clone();
    let listed = listing
        .list_api_keys(authed(&token, ListApiKeysRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .api_keys;
    assert_eq!(listed.len(), 1);

    let created = join_all((0..50).map(|_| {
        let mut brands = brands.clone();
        let token = token.clone();
        async move {
            brands
                .create_brand(authed(
                    &token,
                    CreateBrandRequest {
                        brand: Some(Brand {
                            name: "Northwind".into(),
                            currency_code: "USD".into(),
                            time_zone: "UTC".into(),
                            ..Default::default()
                        }),
                        request_id: "create-brand-1".into(),
                    },
                ))
                .await
        }
    }))
    .await;
    let created: HashSet<String> = created
        .into_iter()
        .map(|r| {
            r.expect("create brand")
                .into_inner()
                .brand
                .expect("brand")
                .brand_id
        })
        .collect();
    assert_eq!(created.len(), 1);
    let observability = stack.observability().await.expect("client");
    let budgets = join_all((0..50).map(|_| {
        let mut observability = observability.clone();
        let token = token.clone();
        async move {
            observability
                .set_cost_budget(authed(
                    &token,
                    SetCostBudgetRequest {
                        budget: Some(CostBudget {
                            period: BudgetPeriod::Monthly as i32,
                            limit: Some(Money {
                                currency_code: "USD".into(),
                                units: 25,
                                nanos: 0,
                            }),
                            ..Default::default()
                        }),
                        request_id: "set-budget-1".into(),
                    },
                ))
                .await
        }
    }))
    .await;
    let budgets: HashSet<String> = budgets
        .into_iter()
        .map(|r| {
            let budget = r.expect("set budget").into_inner().budget.expect("budget");
            format!("{:?}", budget.update_time)
        })
        .collect();
    assert_eq!(
        budgets.len(),
        1,
        "the budget was written once: one update time"
    );
    let mut listing = brands.clone();
    let listed = listing
        .list_brands(authed(&token, ListBrandsRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .brands;
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_logged_out_api_key_session_mints_no_more_tokens() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = stack.auth().await.expect("client");
    let created = auth
        .create_api_key(authed(
            &tenant.admin_token,
            CreateApiKeyRequest {
                name: "machine".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("key")
        .into_inner();
    let exchange = ExchangeApiKeyRequest {
        secret: created.secret.clone(),
    };
    let token = auth
        .exchange_api_key(exchange.clone())
        .await
        .expect("exchange")
        .into_inner()
        .access_token;
    auth.logout(authed(&token, LogoutRequest::default()))
        .await
        .expect("logout");
    let again = auth.exchange_api_key(exchange).await;
    assert_code(again, Code::Unauthenticated);
}

#[tokio::test]
async fn logout_needs_the_whole_refresh_token_to_end_its_session() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = stack.auth().await.expect("client");
    let second = auth
        .login(login_as(&tenant.admin_email, PASSWORD))
        .await
        .expect("second session")
        .into_inner()
        .tokens
        .expect("tokens");
    // The first session's holder knows the second refresh token's id, not its secret.
    let (id, _) = second
        .refresh_token
        .split_once('.')
        .expect("<prefix>_<id>.<secret>");
    auth.logout(authed(
        &tenant.admin_token,
        LogoutRequest {
            refresh_token: format!("{id}.not-the-secret"),
        },
    ))
    .await
    .expect("logout");
    auth.refresh_token(RefreshTokenRequest {
        refresh_token: second.refresh_token,
    })
    .await
    .expect("the second session is still alive");
}
