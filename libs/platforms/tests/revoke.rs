//! Revoking a grant at each provider: the request each client sends (captured by a
//! recording server), how it reads each answer, and a round trip against each
//! platform's fixture (revoked once, refused afterwards, a 500 is a failure).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use pp_commerce::Platform;
use pp_platforms::fixtures::ads_data::sample_days;
use pp_platforms::fixtures::google_ads::GoogleAdsFixture;
use pp_platforms::fixtures::meta::MetaFixture;
use pp_platforms::fixtures::shopify::{ShopifyData, ShopifyFixture};
use pp_platforms::fixtures::tiktok::TiktokFixture;
use pp_platforms::fixtures::{Fault, serve};
use pp_platforms::google_ads::{self, CustomerInfo, GoogleAdsClient, GoogleAdsConfig};
use pp_platforms::meta::{self, AdAccount, MetaClient, MetaConfig, appsecret_proof};
use pp_platforms::shopify::{ShopifyClient, ShopifyConfig, exchange_code, validate_shop_domain};
use pp_platforms::tiktok::{self, Advertiser, TiktokClient, TiktokConfig};
use pp_platforms::{Credentials, Http, PlatformError, ReauthReason, RetryPolicy, Revocation};
use secrecy::SecretString;
use serde_json::{Value, json};

// === a server that records what it is sent ===

#[derive(Debug, Clone)]
struct Captured {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Captured {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a json body")
    }

    fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<Captured>>>,
    answer: Arc<Mutex<(StatusCode, String)>>,
}

impl Recorder {
    /// Serves `status` + `body` (JSON text) to every request and records each.
    async fn start(status: StatusCode, body: Value) -> (Self, String) {
        let recorder = Recorder {
            seen: Arc::default(),
            answer: Arc::new(Mutex::new((status, body.to_string()))),
        };
        let state = recorder.clone();
        let router = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    state.seen.lock().expect("lock").push(Captured {
                        method,
                        path: uri.path().to_owned(),
                        query: uri.query().unwrap_or_default().to_owned(),
                        headers,
                        body,
                    });
                    let (status, body) = state.answer.lock().expect("lock").clone();
                    let response: Response = (
                        status,
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response();
                    response
                }
            },
        );
        let running = serve(router).await.expect("recorder starts");
        (recorder, running.base_url())
    }

    fn answer(&self, status: StatusCode, body: Value) {
        *self.answer.lock().expect("lock") = (status, body.to_string());
    }

    fn requests(&self) -> Vec<Captured> {
        self.seen.lock().expect("lock").clone()
    }

    fn last(&self) -> Captured {
        self.requests().last().cloned().expect("a request")
    }
}

fn http() -> Http {
    Http::new(RetryPolicy::fast())
}

fn creds(access: &str, refresh: Option<&str>) -> Credentials {
    Credentials {
        access_token: access.into(),
        refresh_token: refresh.map(str::to_owned),
        expires_at: None,
        scopes: Vec::new(),
    }
}

/// A failure's text never carries the token it was about.
fn assert_no_token(error: &PlatformError, token: &str) {
    let text = format!("{error} {error:?}");
    assert!(!text.contains(token), "{text}");
}

// === request shapes and answers ===

#[tokio::test]
async fn google_revokes_the_refresh_token_as_a_form_post() {
    let (recorder, base) = Recorder::start(StatusCode::OK, json!({})).await;
    let mut cfg = GoogleAdsConfig::new(
        "cid",
        SecretString::from("csecret"),
        SecretString::from("dev"),
    );
    assert_eq!(cfg.revoke_url, "https://oauth2.googleapis.com/revoke");
    cfg.revoke_url = format!("{base}/revoke");
    let both = creds("ya29.access", Some("1//refresh"));

    let outcome = google_ads::revoke(&http(), &cfg, &both).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    let sent = recorder.last();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.path, "/revoke");
    assert!(sent.query.is_empty(), "no token in the url: {}", sent.query);
    assert_eq!(
        sent.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(sent.form(), vec![("token".into(), "1//refresh".into())]);
    assert!(sent.header("authorization").is_empty());

    // Without a refresh token, the access token (Google revokes its grant too).
    google_ads::revoke(&http(), &cfg, &creds("ya29.only", None))
        .await
        .expect("revoked");
    assert_eq!(
        recorder.last().form(),
        vec![("token".into(), "ya29.only".into())]
    );

    recorder.answer(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_token", "error_description": "Token expired or revoked"}),
    );
    let outcome = google_ads::revoke(&http(), &cfg, &both).await;
    assert_eq!(outcome.ok(), Some(Revocation::AlreadyRevoked));

    recorder.answer(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": "Bad Request"}),
    );
    let error = google_ads::revoke(&http(), &cfg, &both)
        .await
        .expect_err("refused");
    assert!(matches!(error, PlatformError::Invalid { .. }), "{error:?}");
    assert_no_token(&error, "1//refresh");
}

#[tokio::test]
async fn meta_deletes_the_users_permissions_with_the_token_in_a_header() {
    let (recorder, base) = Recorder::start(StatusCode::OK, json!({"success": true})).await;
    let mut cfg = MetaConfig::new("1234", SecretString::from("app-secret"));
    cfg.graph_base = base;
    let token = creds("EAAlong-token", None);

    let outcome = meta::revoke(&http(), &cfg, &token).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    let sent = recorder.last();
    assert_eq!(sent.method, Method::DELETE);
    assert_eq!(sent.path, "/v25.0/me/permissions");
    assert_eq!(sent.header("authorization"), "Bearer EAAlong-token");
    let proof = appsecret_proof(&SecretString::from("app-secret"), "EAAlong-token");
    assert_eq!(sent.query, format!("appsecret_proof={proof}"));
    assert!(!sent.query.contains("EAAlong-token"));
    assert!(sent.body.is_empty());

    // Older Graph versions answer a bare `true`.
    recorder.answer(StatusCode::OK, json!(true));
    let outcome = meta::revoke(&http(), &cfg, &token).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));

    recorder.answer(StatusCode::OK, json!({"success": false}));
    let error = meta::revoke(&http(), &cfg, &token)
        .await
        .expect_err("not confirmed");
    assert!(matches!(error, PlatformError::Invalid { .. }), "{error:?}");

    recorder.answer(
        StatusCode::BAD_REQUEST,
        json!({"error": {"message": "Error validating access token: The user has not authorized application 1234.", "type": "OAuthException", "code": 190, "error_subcode": 458}}),
    );
    let outcome = meta::revoke(&http(), &cfg, &token).await;
    assert_eq!(outcome.ok(), Some(Revocation::AlreadyRevoked));

    recorder.answer(
        StatusCode::BAD_REQUEST,
        json!({"error": {"message": "Unsupported delete request.", "type": "GraphMethodException", "code": 100}}),
    );
    let error = meta::revoke(&http(), &cfg, &token)
        .await
        .expect_err("refused");
    assert_eq!(error.to_string(), "meta refused the revocation (error 100)");
    assert_no_token(&error, "EAAlong-token");
}

#[tokio::test]
async fn tiktok_posts_app_secret_and_token_as_json() {
    let (recorder, base) = Recorder::start(
        StatusCode::OK,
        json!({"code": 0, "message": "OK", "request_id": "r1", "data": {}}),
    )
    .await;
    let mut cfg = TiktokConfig::new("app-7", SecretString::from("tt-secret"));
    cfg.api_base = base;
    let token = creds("act.long-term", None);

    let outcome = tiktok::revoke(&http(), &cfg, &token).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    let sent = recorder.last();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.path, "/open_api/v1.3/oauth2/revoke_token/");
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("content-type"), "application/json");
    assert_eq!(
        sent.json(),
        json!({"app_id": "app-7", "secret": "tt-secret", "access_token": "act.long-term"})
    );

    recorder.answer(
        StatusCode::OK,
        json!({"code": 40105, "message": "Access token is incorrect or has been revoked.", "request_id": "r2", "data": {}}),
    );
    let outcome = tiktok::revoke(&http(), &cfg, &token).await;
    assert_eq!(outcome.ok(), Some(Revocation::AlreadyRevoked));

    recorder.answer(
        StatusCode::OK,
        json!({"code": 40001, "message": "The app_id or secret is incorrect.", "request_id": "r3", "data": {}}),
    );
    let error = tiktok::revoke(&http(), &cfg, &token)
        .await
        .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "tiktok refused the revocation (code 40001)"
    );
    assert_no_token(&error, "act.long-term");
}

#[tokio::test]
async fn shopify_sends_the_app_uninstall_mutation() {
    let (recorder, base) = Recorder::start(
        StatusCode::OK,
        json!({"data": {"appUninstall": {"app": {"id": "gid://shopify/App/1"}, "userErrors": []}}}),
    )
    .await;
    let cfg = ShopifyConfig {
        api_key: "key".into(),
        api_secret: "secret".into(),
        scopes: ShopifyConfig::default_scopes(),
        api_version: "2025-07".into(),
        shop_base_url: format!("{base}/{{shop}}"),
    };
    let shop = validate_shop_domain("demo.myshopify.com").expect("shop");
    let client = ShopifyClient::new(http(), cfg, shop);
    let mut token = creds("shpat_offline", None);

    let outcome = client.uninstall_app(&mut token).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    let sent = recorder.last();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(
        sent.path,
        "/demo.myshopify.com/admin/api/2025-07/graphql.json"
    );
    assert_eq!(sent.header("x-shopify-access-token"), "shpat_offline");
    assert_eq!(sent.header("content-type"), "application/json");
    let body = sent.json();
    let query = body["query"].as_str().expect("query");
    assert!(query.starts_with("mutation"), "{query}");
    assert!(query.contains("appUninstall"), "{query}");
    assert!(query.contains("userErrors"), "{query}");

    recorder.answer(
        StatusCode::OK,
        json!({"data": {"appUninstall": {"app": null, "userErrors": [{"field": null, "message": "The app is not installed.", "code": "APP_NOT_INSTALLED"}]}}}),
    );
    let outcome = client.uninstall_app(&mut token).await;
    assert_eq!(outcome.ok(), Some(Revocation::AlreadyRevoked));

    recorder.answer(
        StatusCode::UNAUTHORIZED,
        json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
    );
    let outcome = client.uninstall_app(&mut token).await;
    assert_eq!(outcome.ok(), Some(Revocation::AlreadyRevoked));

    recorder.answer(
        StatusCode::OK,
        json!({"data": {"appUninstall": {"app": null, "userErrors": [{"field": null, "message": "Error", "code": "APP_UNINSTALL_ERROR"}]}}}),
    );
    let error = client.uninstall_app(&mut token).await.expect_err("refused");
    assert!(matches!(error, PlatformError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("app_uninstall_error"), "{error}");
    assert_no_token(&error, "shpat_offline");
}

#[tokio::test]
async fn a_provider_down_is_retried_then_unavailable() {
    let (recorder, base) =
        Recorder::start(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "x"})).await;
    let mut cfg = MetaConfig::new("1234", SecretString::from("app-secret"));
    cfg.graph_base = base;
    let error = meta::revoke(&http(), &cfg, &creds("EAAlong-token", None))
        .await
        .expect_err("down");
    assert!(
        matches!(error, PlatformError::Unavailable { .. }),
        "{error:?}"
    );
    assert_eq!(
        recorder.requests().len() as u32,
        RetryPolicy::fast().max_attempts,
        "the shared sender retried the 5xx"
    );
}

// === round trips against the fixtures ===

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

#[tokio::test]
async fn google_fixture_ends_the_grant_once_and_refuses_its_tokens() {
    let fx = GoogleAdsFixture::new(
        CustomerInfo {
            id: "1234567890".into(),
            name: "Acme".into(),
            currency: "USD".into(),
            time_zone: "America/New_York".into(),
        },
        None,
        sample_days(
            Platform::GoogleAds,
            "USD",
            &[("1", "Search")],
            day("2026-01-01"),
            2,
        ),
    );
    let running = fx.start().await.expect("fixture");
    let cfg = fx.config(&running);
    let (access, refresh) = fx.issue_tokens();
    let mut connected = Credentials {
        access_token: access,
        refresh_token: Some(refresh.clone()),
        expires_at: Some(Utc::now() + chrono::Duration::minutes(50)),
        scopes: vec![google_ads::ADWORDS_SCOPE.into()],
    };

    // Down: a failure, and the grant still works.
    fx.revocations.always(Fault::ServerError);
    let error = google_ads::revoke(&http(), &cfg, &connected)
        .await
        .expect_err("500");
    assert!(
        matches!(error, PlatformError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(fx.revoked_tokens().is_empty());
    fx.revocations.clear_always();
    let client = GoogleAdsClient::new(http(), cfg.clone());
    client
        .accessible_customers(&mut connected)
        .await
        .expect("still connected");

    let before = fx.revocations.requests();
    let outcome = google_ads::revoke(&http(), &cfg, &connected).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    assert_eq!(fx.revocations.requests() - before, 1);
    assert_eq!(fx.revoked_tokens(), vec![refresh]);
    let refused = client
        .accessible_customers(&mut connected)
        .await
        .expect_err("revoked");
    assert!(
        matches!(
            refused,
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            }
        ),
        "{refused:?}"
    );
    let again = google_ads::revoke(&http(), &cfg, &connected).await;
    assert_eq!(again.ok(), Some(Revocation::AlreadyRevoked));
    assert_eq!(fx.revoked_tokens().len(), 1);
}

#[tokio::test]
async fn meta_fixture_deauthorizes_once_and_refuses_the_token() {
    let fx = MetaFixture::new(
        AdAccount {
            id: "act_1".into(),
            name: "Acme".into(),
            currency: "USD".into(),
            timezone_name: "America/New_York".into(),
        },
        sample_days(
            Platform::Meta,
            "USD",
            &[("1", "Prospecting")],
            day("2026-01-01"),
            2,
        ),
    );
    let running = fx.start().await.expect("fixture");
    let cfg = fx.config(&running);
    let token = fx.issue_long_lived_token();
    let mut connected = creds(&token, None);

    fx.revocations.always(Fault::ServerError);
    let error = meta::revoke(&http(), &cfg, &connected)
        .await
        .expect_err("500");
    assert!(
        matches!(error, PlatformError::Unavailable { .. }),
        "{error:?}"
    );
    fx.revocations.clear_always();
    assert!(
        fx.is_long_lived(&token),
        "a failed revocation changes nothing"
    );

    let outcome = meta::revoke(&http(), &cfg, &connected).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    assert_eq!(fx.revoked_tokens(), vec![token.clone()]);
    let client = MetaClient::new(http(), cfg.clone());
    let refused = client
        .ad_accounts(&mut connected)
        .await
        .expect_err("revoked");
    assert!(
        matches!(
            refused,
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            }
        ),
        "{refused:?}"
    );
    let again = meta::revoke(&http(), &cfg, &connected).await;
    assert_eq!(again.ok(), Some(Revocation::AlreadyRevoked));
    assert_eq!(fx.revoked_tokens().len(), 1);
}

#[tokio::test]
async fn tiktok_fixture_revokes_that_token_only() {
    let fx = TiktokFixture::new(
        Advertiser {
            id: "7000000000001".into(),
            name: "Acme".into(),
            currency: "USD".into(),
            timezone: "America/New_York".into(),
        },
        sample_days(
            Platform::Tiktok,
            "USD",
            &[("1", "UGC")],
            day("2026-01-01"),
            2,
        ),
    );
    let running = fx.start().await.expect("fixture");
    let cfg = fx.config(&running);
    let token = fx.issue_token();
    let other = fx.issue_token();
    let mut connected = creds(&token, None);
    let client = TiktokClient::new(http(), cfg.clone());
    let advertisers = vec!["7000000000001".to_owned()];

    fx.revocations.always(Fault::ServerError);
    let error = tiktok::revoke(&http(), &cfg, &connected)
        .await
        .expect_err("500");
    assert!(
        matches!(error, PlatformError::Unavailable { .. }),
        "{error:?}"
    );
    fx.revocations.clear_always();

    let outcome = tiktok::revoke(&http(), &cfg, &connected).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    assert_eq!(fx.revoked_tokens(), vec![token.clone()]);
    let refused = client
        .advertiser_info(&mut connected, &advertisers)
        .await
        .expect_err("revoked");
    assert!(
        matches!(
            refused,
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            }
        ),
        "{refused:?}"
    );
    client
        .advertiser_info(&mut creds(&other, None), &advertisers)
        .await
        .expect("another advertiser's token still works");
    let again = tiktok::revoke(&http(), &cfg, &connected).await;
    assert_eq!(again.ok(), Some(Revocation::AlreadyRevoked));
}

#[tokio::test]
async fn shopify_fixture_uninstalls_once_and_refuses_every_token() {
    let fx = ShopifyFixture::start(ShopifyData::new("demo-store.myshopify.com"))
        .await
        .expect("fixture");
    let cfg = fx.config();
    let code = fx.data().auth_code.clone();
    let mut connected = exchange_code(&http(), &cfg, &fx.shop(), &code)
        .await
        .expect("connected");
    assert!(
        connected.refresh_token.is_some(),
        "an expiring offline token"
    );
    let client = ShopifyClient::new(http(), cfg.clone(), fx.shop());

    fx.revocations().always(Fault::ServerError);
    let error = client.uninstall_app(&mut connected).await.expect_err("500");
    assert!(
        matches!(error, PlatformError::Unavailable { .. }),
        "{error:?}"
    );
    fx.revocations().clear_always();
    let data_requests = fx.requests();
    client
        .shop_info(&mut connected)
        .await
        .expect("still installed");

    let before = fx.revocations().requests();
    let outcome = client.uninstall_app(&mut connected).await;
    assert_eq!(outcome.ok(), Some(Revocation::Revoked));
    assert_eq!(fx.revocations().requests() - before, 1);
    assert_eq!(fx.requests() - data_requests, 1, "not counted as data");
    assert_eq!(fx.revoked_tokens(), vec![connected.access_token.clone()]);
    let refused = client.shop_info(&mut connected).await.expect_err("gone");
    assert!(
        matches!(
            refused,
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            }
        ),
        "{refused:?}"
    );
    let again = client.uninstall_app(&mut connected).await;
    assert_eq!(again.ok(), Some(Revocation::AlreadyRevoked));
    assert_eq!(fx.revoked_tokens().len(), 1);
}
