//! Forged, expired, misdirected and revoked tokens are all UNAUTHENTICATED, on every
//! RPC of every service that needs a token (the descriptor set's list; the public ones
//! per docs/rbac.md are skipped), and the answer never says which check failed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pp_proto::auth::{LogoutRequest, WhoAmIRequest};
use pp_proto::brands::ListBrandsRequest;
use serde_json::{Value, json};
use tonic::Code;

use crate::support::*;

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

async fn assert_refused(stack: &Stack, label: &str, token: &str) {
    let mut brands = stack.brands().await.expect("client");
    let mut auth = stack.auth().await.expect("client");
    let on_brands = brands
        .list_brands(authed(token, ListBrandsRequest::default()))
        .await;
    let on_auth = auth.who_am_i(authed(token, WhoAmIRequest {})).await;
    let on_insights = stack
        .insights()
        .await
        .expect("client")
        .get_dashboard(authed(
            token,
            pp_proto::insights::GetDashboardRequest::default(),
        ))
        .await;
    let mut results = vec![
        ("brands".to_owned(), on_brands.map(drop)),
        ("auth".to_owned(), on_auth.map(drop)),
        ("insights".to_owned(), on_insights.map(drop)),
    ];
    let table = crate::rbac::matrix();
    let targets = Targets::default();
    for method in served_methods(stack) {
        let key = method
            .rsplit_once('.')
            .map_or(method.as_str(), |(_, tail)| tail)
            .to_owned();
        let cell = table
            .get(&key)
            .and_then(|row| row.get("admin"))
            .map(String::as_str);
        match cell {
            Some("public") => {}
            // Service-only (the gateway's credential): a bearer token is not verified
            // there, and any token, real or forged, gets the same PERMISSION_DENIED.
            Some("service") => {
                let status = call(stack, &method, token, &targets)
                    .await
                    .expect_err(&format!("{label} accepted by {method}"));
                assert_eq!(status.code(), Code::PermissionDenied, "{label} on {method}");
            }
            _ => results.push((method.clone(), call(stack, &method, token, &targets).await)),
        }
    }
    for (service, result) in results {
        let status = result.expect_err(&format!("{label} accepted by {service}"));
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{label} on {service}: {status:?}"
        );
        assert_eq!(
            status.message(),
            "missing or invalid credentials",
            "{label}: no detail on the wire"
        );
    }
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let key = &stack.signing_key;
    let real: Value = {
        let payload = tenant.admin_token.split('.').nth(1).expect("payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims")
    };
    let now = chrono::Utc::now().timestamp();
    let sign_with = |claims: &Value, kid: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let encoding = EncodingKey::from_ed_pem(key.to_pkcs8_pem().as_bytes()).expect("pem");
        jsonwebtoken::encode(&header, claims, &encoding).expect("sign")
    };
    let variant = |edit: &dyn Fn(&mut Value)| {
        let mut claims = real.clone();
        edit(&mut claims);
        sign_with(&claims, key.kid())
    };

    // The control: the real token works.
    stack
        .brands()
        .await
        .expect("client")
        .list_brands(authed(&tenant.admin_token, ListBrandsRequest::default()))
        .await
        .expect("real token");

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": key.kid()})),
        b64(&real)
    );
    assert_refused(&stack, "alg none", &alg_none).await;

    // HS256 "signed" with the public key (the classic algorithm confusion).
    let public_x = key.public_jwk().x;
    let public_raw = URL_SAFE_NO_PAD.decode(&public_x).expect("x");
    for secret in [public_raw.as_slice(), public_x.as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().to_owned());
        let hs =
            jsonwebtoken::encode(&header, &real, &EncodingKey::from_secret(secret)).expect("hs256");
        assert_refused(&stack, "HS256 with public key", &hs).await;
    }

    assert_refused(&stack, "wrong kid", &sign_with(&real, "not-a-known-kid")).await;
    let stranger = pp_auth::SigningKey::generate().expect("key");
    let foreign = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid().to_owned());
        let encoding = EncodingKey::from_ed_pem(stranger.to_pkcs8_pem().as_bytes()).expect("pem");
        jsonwebtoken::encode(&header, &real, &encoding).expect("sign")
    };
    assert_refused(&stack, "signed by another key under our kid", &foreign).await;
    assert_refused(
        &stack,
        "expired",
        &variant(&|c| c["exp"] = json!(now - 120)),
    )
    .await;
    assert_refused(
        &stack,
        "nbf in the future",
        &variant(&|c| c["nbf"] = json!(now + 600)),
    )
    .await;
    assert_refused(
        &stack,
        "wrong aud",
        &variant(&|c| c["aud"] = json!("another-api")),
    )
    .await;
    assert_refused(
        &stack,
        "wrong iss",
        &variant(&|c| c["iss"] = json!("https://evil.example")),
    )
    .await;
    assert_refused(
        &stack,
        "missing sub",
        &variant(&|c| {
            c.as_object_mut().expect("object").remove("sub");
        }),
    )
    .await;
    assert_refused(
        &stack,
        "missing exp",
        &variant(&|c| {
            c.as_object_mut().expect("object").remove("exp");
        }),
    )
    .await;
    assert_refused(
        &stack,
        "missing iat",
        &variant(&|c| {
            c.as_object_mut().expect("object").remove("iat");
        }),
    )
    .await;
    assert_refused(
        &stack,
        "iat in the future",
        &variant(&|c| c["iat"] = json!(now + 600)),
    )
    .await;
    assert_refused(
        &stack,
        "lives longer than an access token",
        &variant(&|c| {
            c["iat"] = json!(now);
            c["exp"] = json!(now + 30 * 24 * 3600);
        }),
    )
    .await;
    assert_refused(
        &stack,
        "no session",
        &variant(&|c| {
            c.as_object_mut().expect("object").remove("sid");
        }),
    )
    .await;
    assert_refused(
        &stack,
        "not an access token",
        &variant(&|c| c["typ"] = json!("refresh")),
    )
    .await;
    assert_refused(
        &stack,
        "tenant of nobody",
        &variant(&|c| c["tid"] = json!(uuid::Uuid::new_v4().to_string())),
    )
    .await;

    // Tampered payload: the real signature over edited claims.
    let mut parts: Vec<String> = tenant.admin_token.split('.').map(str::to_owned).collect();
    let mut escalated = real.clone();
    escalated["role"] = json!("admin");
    escalated["tid"] = json!(uuid::Uuid::new_v4().to_string());
    parts[1] = b64(&escalated);
    assert_refused(&stack, "tampered payload", &parts.join(".")).await;

    assert_refused(
        &stack,
        "refresh token as access token",
        &tenant.refresh_token,
    )
    .await;
    assert_refused(&stack, "garbage", "not.a.jwt").await;

    // Revoked: logout, then the same token.
    let token = login(&stack, &tenant.admin_email).await;
    stack
        .auth()
        .await
        .expect("client")
        .logout(authed(&token, LogoutRequest::default()))
        .await
        .expect("logout");
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_refused(&stack, "revoked", &token).await;
}
