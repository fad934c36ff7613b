//! Identity flows a user would notice.

use std::time::Duration;

use pp_proto::auth::*;
use pp_proto::brands::ListBrandsRequest;
use pp_proto::common::Role as ProtoRole;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn sign_up_login_and_who_am_i() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let token = login(&stack, &tenant.admin_email.to_uppercase()).await;
    let me = stack
        .auth()
        .await
        .expect("client")
        .who_am_i(authed(&token, WhoAmIRequest {}))
        .await
        .expect("whoami")
        .into_inner();
    let user = me.user.expect("user");
    assert_eq!(user.user_id, tenant.admin_id);
    assert_eq!(user.role, ProtoRole::Admin as i32);
    assert_eq!(me.tenant.expect("tenant").name, "Acme");

    let mut auth = stack.auth().await.expect("client");
    let wrong = auth
        .login(LoginRequest {
            email: tenant.admin_email.clone(),
            password: "not-the-password".into(),
            tenant_id: String::new(),
        })
        .await;
    assert_code(wrong, Code::Unauthenticated);
    let unknown = auth
        .login(LoginRequest {
            email: "nobody@example.com".into(),
            password: PASSWORD.into(),
            tenant_id: String::new(),
        })
        .await;
    let status = assert_code(unknown, Code::Unauthenticated);
    assert_eq!(
        status.message(),
        "missing or invalid credentials",
        "unknown email and wrong password look alike"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = stack.auth().await.expect("client");
    let first = auth
        .refresh_token(RefreshTokenRequest {
            refresh_token: tenant.refresh_token.clone(),
        })
        .await
        .expect("refresh")
        .into_inner()
        .tokens
        .expect("tokens");
    assert_ne!(first.refresh_token, tenant.refresh_token);
    auth.who_am_i(authed(&first.access_token, WhoAmIRequest {}))
        .await
        .expect("new access token works");

    // The old refresh token again: reuse. The whole family is revoked.
    let reuse = auth
        .refresh_token(RefreshTokenRequest {
            refresh_token: tenant.refresh_token.clone(),
        })
        .await;
    assert_code(reuse, Code::Unauthenticated);
    let after = auth
        .refresh_token(RefreshTokenRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await;
    assert_code(after, Code::Unauthenticated);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_code(
        auth.who_am_i(authed(&first.access_token, WhoAmIRequest {}))
            .await,
        Code::Unauthenticated,
    );

    let garbage = auth
        .refresh_token(RefreshTokenRequest {
            refresh_token: "rt_nonsense".into(),
        })
        .await;
    assert_code(garbage, Code::Unauthenticated);
}

#[tokio::test]
async fn logout_is_effective_on_every_service_within_a_second() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut brands = stack.brands().await.expect("client");
    let mut auth = stack.auth().await.expect("client");
    // Warm every cache (verified token, token state, Redis).
    brands
        .list_brands(authed(&tenant.admin_token, ListBrandsRequest::default()))
        .await
        .expect("list");
    auth.logout(authed(
        &tenant.admin_token,
        LogoutRequest {
            refresh_token: tenant.refresh_token.clone(),
        },
    ))
    .await
    .expect("logout");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_code(
        brands
            .list_brands(authed(&tenant.admin_token, ListBrandsRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        auth.who_am_i(authed(&tenant.admin_token, WhoAmIRequest {}))
            .await,
        Code::Unauthenticated,
    );
    let refresh = auth
        .refresh_token(RefreshTokenRequest {
            refresh_token: tenant.refresh_token,
        })
        .await;
    assert_code(refresh, Code::Unauthenticated);
}

#[tokio::test]
async fn deactivated_users_lose_access() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let (user_id, token) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let mut brands = stack.brands().await.expect("client");
    brands
        .list_brands(authed(&token, ListBrandsRequest::default()))
        .await
        .expect("analyst reads");
    let mut auth = stack.auth().await.expect("client");
    let deactivated = auth
        .deactivate_user(authed(
            &tenant.admin_token,
            DeactivateUserRequest {
                user_id: user_id.clone(),
            },
        ))
        .await
        .expect("deactivate")
        .into_inner();
    assert_eq!(
        deactivated.user.expect("user").status,
        UserStatus::Deactivated as i32
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_code(
        brands
            .list_brands(authed(&token, ListBrandsRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    // An admin cannot lock themself out.
    let own = auth
        .deactivate_user(authed(
            &tenant.admin_token,
            DeactivateUserRequest {
                user_id: tenant.admin_id.clone(),
            },
        ))
        .await;
    assert_code(own, Code::FailedPrecondition);
}

#[tokio::test]
async fn role_changes_and_users() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let (user_id, _) = user_with_role(&stack, &tenant, ProtoRole::Manager).await;
    let mut auth = stack.auth().await.expect("client");
    let updated = auth
        .update_user_role(authed(
            &tenant.admin_token,
            UpdateUserRoleRequest {
                user_id,
                role: ProtoRole::Analyst as i32,
            },
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.user.expect("user").role, ProtoRole::Analyst as i32);
    let demote_self = auth
        .update_user_role(authed(
            &tenant.admin_token,
            UpdateUserRoleRequest {
                user_id: tenant.admin_id.clone(),
                role: ProtoRole::Analyst as i32,
            },
        ))
        .await;
    assert_code(demote_self, Code::FailedPrecondition);

    // CreateUser is idempotent by request id; a second user with the same email is refused.
    let request = CreateUserRequest {
        email: "twin@example.com".into(),
        display_name: "Twin".into(),
        role: ProtoRole::Analyst as i32,
        password: PASSWORD.into(),
        request_id: "create-twin".into(),
    };
    let first = auth
        .create_user(authed(&tenant.admin_token, request.clone()))
        .await
        .expect("create")
        .into_inner();
    let replay = auth
        .create_user(authed(&tenant.admin_token, request.clone()))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, replay);
    let duplicate = auth
        .create_user(authed(
            &tenant.admin_token,
            CreateUserRequest {
                request_id: String::new(),
                ..request
            },
        ))
        .await;
    assert_code(duplicate, Code::AlreadyExists);

    let users = auth
        .list_users(authed(
            &tenant.admin_token,
            ListUsersRequest {
                page_size: 2,
                page_token: String::new(),
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(users.users.len(), 2);
    let rest = auth
        .list_users(authed(
            &tenant.admin_token,
            ListUsersRequest {
                page_size: 2,
                page_token: users.next_page_token,
            },
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(rest.users.len(), 1, "admin, manager, twin");
    assert!(rest.next_page_token.is_empty());
}

#[tokio::test]
async fn api_keys_are_shown_once_exchanged_and_revocable() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = stack.auth().await.expect("client");
    let created = auth
        .create_api_key(authed(
            &tenant.admin_token,
            CreateApiKeyRequest {
                name: "warehouse".into(),
                request_id: "k1".into(),
            },
        ))
        .await
        .expect("create")
        .into_inner();
    assert!(created.secret.starts_with("ppk_"));
    let replay = auth
        .create_api_key(authed(
            &tenant.admin_token,
            CreateApiKeyRequest {
                name: "warehouse".into(),
                request_id: "k1".into(),
            },
        ))
        .await
        .expect("replay")
        .into_inner();
    assert!(replay.secret.is_empty(), "the secret is never shown twice");
    assert_eq!(replay.api_key, created.api_key);
    let key = created.api_key.expect("key");

    let listed = auth
        .list_api_keys(authed(&tenant.admin_token, ListApiKeysRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.api_keys.len(), 1);

    let token = auth
        .exchange_api_key(ExchangeApiKeyRequest {
            secret: created.secret.clone(),
        })
        .await
        .expect("exchange")
        .into_inner()
        .access_token;
    let mut brands = stack.brands().await.expect("client");
    brands
        .list_brands(authed(&token, ListBrandsRequest::default()))
        .await
        .expect("api client reads");
    let me = auth
        .who_am_i(authed(&token, WhoAmIRequest {}))
        .await
        .expect("whoami")
        .into_inner();
    assert_eq!(me.user.expect("user").role, ProtoRole::ApiClient as i32);

    let mut tampered = created.secret.clone();
    tampered.push('x');
    assert_code(
        auth.exchange_api_key(ExchangeApiKeyRequest { secret: tampered })
            .await,
        Code::Unauthenticated,
    );

    auth.revoke_api_key(authed(
        &tenant.admin_token,
        RevokeApiKeyRequest {
            api_key_id: key.api_key_id,
        },
    ))
    .await
    .expect("revoke");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_code(
        brands
            .list_brands(authed(&token, ListBrandsRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        auth.exchange_api_key(ExchangeApiKeyRequest {
            secret: created.secret,
        })
        .await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn logins_are_throttled_per_account() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut auth = stack.auth().await.expect("client");
    for _ in 0..5 {
        let wrong = auth
            .login(LoginRequest {
                email: tenant.admin_email.clone(),
                password: "wrong-password!".into(),
                tenant_id: String::new(),
            })
            .await;
        assert_code(wrong, Code::Unauthenticated);
    }
    let right = auth
        .login(LoginRequest {
            email: tenant.admin_email.clone(),
            password: PASSWORD.into(),
            tenant_id: String::new(),
        })
        .await;
    let status = assert_code(right, Code::ResourceExhausted);
    let delay = pp_error::retry_delay(&status).expect("RetryInfo");
    assert!(delay > Duration::ZERO);
}

#[tokio::test]
async fn jwks_lets_other_services_verify() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let keys = pp_server::jwks::load_and_refresh(
        format!("http://{}", stack.auth_addr),
        Duration::from_secs(3600),
        std::future::pending(),
    )
    .await
    .expect("jwks");
    let verifier = pp_auth::TokenVerifier::new(keys, &stack.jwt.issuer, &stack.jwt.audience);
    let principal = verifier
        .verify(&tenant.admin_token)
        .expect("verifies with published keys");
    assert_eq!(principal.tenant_id.to_string(), tenant.tenant_id);
}
