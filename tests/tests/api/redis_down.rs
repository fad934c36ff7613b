//! With Redis unreachable everything keeps working from Postgres.

use std::time::Duration;

use pp_proto::auth::{LoginRequest, LogoutRequest, WhoAmIRequest};
use pp_proto::brands::{GetBrandRequest, ListBrandsRequest};
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn logins_tokens_revocation_and_reads_work_without_redis() {
    // Nothing listens on port 1: connection refused, as with a stopped Redis.
    let options = StackOptions {
        redis_url: "redis://127.0.0.1:1".into(),
        ..StackOptions::default()
    };
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "No Redis Inc").await;
    let token = login(&stack, &tenant.admin_email).await;
    let brand = create_brand(&stack, &token, "Resilient").await;
    let mut brands = stack.brands().await.expect("client");
    for _ in 0..3 {
        let got = brands
            .get_brand(authed(
                &token,
                GetBrandRequest {
                    brand_id: brand.brand_id.clone(),
                },
            ))
            .await
            .expect("read from postgres");
        assert_eq!(got.into_inner().brand.expect("brand").name, "Resilient");
    }

    let mut auth = stack.auth().await.expect("client");
    auth.logout(authed(&token, LogoutRequest::default()))
        .await
        .expect("logout");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_code(
        brands
            .list_brands(authed(&token, ListBrandsRequest::default()))
            .await,
        Code::Unauthenticated,
    );

    // A suspended tenant is refused, on the token path and at login.
    let fresh = login(&stack, &tenant.admin_email).await;
    auth.who_am_i(authed(&fresh, WhoAmIRequest {}))
        .await
        .expect("works before suspension");
    let owner = stack.db.owner_pool().await.expect("owner");
    let mut tx = owner.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(&tenant.tenant_id)
        .execute(&mut *tx)
        .await
        .expect("ctx");
    sqlx::query("update auth.tenants set status = 'suspended'")
        .execute(&mut *tx)
        .await
        .expect("suspend");
    tx.commit().await.expect("commit");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_code(
        brands
            .list_brands(authed(&fresh, ListBrandsRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        auth.who_am_i(authed(&fresh, WhoAmIRequest {})).await,
        Code::Unauthenticated,
    );
    let login = auth
        .login(LoginRequest {
            email: tenant.admin_email.clone(),
            password: PASSWORD.into(),
            tenant_id: String::new(),
        })
        .await;
    assert_code(login, Code::Unauthenticated);
}
