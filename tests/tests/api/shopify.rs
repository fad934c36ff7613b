//! Shopify end to end through the real client and a fixture store speaking the
//! Admin API's wire format: OAuth (and every way it must refuse), the sync with
//! throttling, retries and a refreshed token, exact totals, webhooks through the
//! gateway route, tokens sealed at rest and key rotation.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pp_commerce::Order;
use pp_commerce::demo::{DemoConfig, DemoStore, OrderVolume};
use pp_platforms::Credentials;
use pp_platforms::fixtures::Fault;
use pp_platforms::fixtures::shopify::{ShopifyData, ShopifyFixture};
use pp_proto::integrations::{
    CompleteOAuthRequest, IntegrationStatus, StartOAuthRequest, SyncRunState, TriggerSyncRequest,
};
use uuid::Uuid;

use crate::support::*;

pub(crate) const SHOP: &str = "fixture-store.myshopify.com";

/// A fixture store with `orders` generated orders (products and stock too).
pub(crate) async fn fixture_store(orders: u64) -> ShopifyFixture {
    let store = DemoStore::new(DemoConfig {
        seed: 5,
        history_days: 20,
        end_date: chrono::Utc::now().date_naive(),
        currency: "USD".into(),
        utc_offset_minutes: 0,
        orders: OrderVolume::Total(orders),
        platforms: pp_commerce::Platform::ALL.to_vec(),
    })
    .expect("demo config");
    let mut data = ShopifyData::new(SHOP);
    data.orders = store.orders().collect();
    data.products = store.products().to_vec();
    data.inventory = store.inventory_levels();
    ShopifyFixture::start(data).await.expect("fixture")
}

pub(crate) async fn stack_for(
    fixture: &ShopifyFixture,
    tweak: impl FnOnce(&mut StackOptions),
) -> Stack {
    let mut options = StackOptions::default();
    options.platforms.shopify = Some(fixture.config());
    options.sync.page_size = 7;
    tweak(&mut options);
    spawn_stack(options).await.expect("stack")
}

/// StartOAuth, then the provider's callback as the browser would relay it.
pub(crate) async fn start(stack: &Stack, token: &str, brand_id: &str, shop: &str) -> String {
    let mut client = stack.integrations().await.expect("client");
    let started = client
        .start_o_auth(authed(
            token,
            StartOAuthRequest {
                brand_id: brand_id.into(),
                platform: pp_proto::common::Platform::Shopify as i32,
                redirect_uri: pulsepoint_e2e::OAUTH_REDIRECT_URI.into(),
                shop_domain: shop.into(),
            },
        ))
        .await
        .expect("start oauth")
        .into_inner();
    assert!(
        started
            .authorization_url
            .contains("/admin/oauth/authorize?"),
        "{}",
        started.authorization_url
    );
    assert!(started.authorization_url.contains(&started.state));
    started.state
}

pub(crate) fn callback(
    fixture: &ShopifyFixture,
    state: &str,
    code: &str,
) -> BTreeMap<String, String> {
    fixture.signed_callback(BTreeMap::from([
        ("code".to_owned(), code.to_owned()),
        ("shop".to_owned(), SHOP.to_owned()),
        ("state".to_owned(), state.to_owned()),
        ("timestamp".to_owned(), "1767225600".to_owned()),
    ]))
}

pub(crate) async fn complete(
    stack: &Stack,
    token: &str,
    state: &str,
    params: BTreeMap<String, String>,
) -> Result<pp_proto::integrations::CompleteOAuthResponse, tonic::Status> {
    let mut client = stack.integrations().await.expect("client");
    client
        .complete_o_auth(authed(
            token,
            CompleteOAuthRequest {
                state: state.into(),
                code: params.get("code").cloned().unwrap_or_default(),
                shop_domain: params.get("shop").cloned().unwrap_or_default(),
                callback_params: params.into_iter().collect(),
                request_id: Uuid::new_v4().to_string(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The integration's stored credentials, opened with the stack's vault.
pub(crate) async fn stored_credentials(
    stack: &Stack,
    tenant: &Tenant,
    integration_id: &str,
) -> Credentials {
    let db = stack.db.superuser_pool().await.expect("db");
    let blob: Vec<u8> = sqlx::query_scalar(
        "select credentials from integrations.integrations where integration_id = $1",
    )
    .bind(integration_id.parse::<Uuid>().expect("uuid"))
    .fetch_one(&db)
    .await
    .expect("row");
    let aad = pp_vault::aad_for(
        tenant.tenant_id.parse().expect("uuid"),
        integration_id.parse().expect("uuid"),
    );
    stack
        .integrations
        .vault
        .open_json(&blob, &aad)
        .await
        .expect("credentials open")
}

struct OrderTotals {
    orders: i64,
    total: i64,
    refunded: i64,
    lines: i64,
}

/// Orders as Shopify pages them: by `updatedAt`, then id.
fn orders_by_update(orders: &[Order]) -> Vec<Order> {
    let mut sorted = orders.to_vec();
    sorted.sort_by(|a, b| {
        (a.updated_at, &a.platform_order_id).cmp(&(b.updated_at, &b.platform_order_id))
    });
    sorted
}

/// The requests the client makes for `orders` in pages of 7: each page, plus the
/// follow-ups for what did not fit (`shopify/graphql.rs` sizes: 5 lines, 2 refunds
/// of 3 lines, 5 moments per order; follow-up pages of 124 lines, 249 refund lines,
/// 250 moments).
fn requests_for(orders: &[Order]) -> usize {
    let rest = |n: usize, first: usize, page: usize| n.saturating_sub(first).div_ceil(page);
    let follow_ups: usize = orders
        .iter()
        .map(|o| {
            let refunds = usize::from(o.refunds.len() >= 2);
            let refund_lines: usize = o.refunds.iter().map(|r| rest(r.lines.len(), 3, 249)).sum();
            rest(o.lines.len(), 5, 124) + refunds + refund_lines + rest(o.touchpoints.len(), 5, 250)
        })
        .sum();
    orders.len().div_ceil(7) + follow_ups
}

fn fixture_totals(orders: &[Order]) -> OrderTotals {
    OrderTotals {
        orders: orders.len() as i64,
        total: orders.iter().map(|o| o.total_micros).sum(),
        refunded: orders
            .iter()
            .flat_map(|o| &o.refunds)
            .map(|r| r.amount_micros)
            .sum(),
        lines: orders.iter().map(|o| o.lines.len() as i64).sum(),
    }
}

async fn stored_order_totals(stack: &Stack, brand_id: &str) -> OrderTotals {
    let db = stack.db.superuser_pool().await.expect("db");
    let brand: Uuid = brand_id.parse().expect("uuid");
    let (orders, total, refunded): (i64, i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(total_micros), 0)::bigint,
                (select coalesce(sum(amount_micros), 0)::bigint from commerce.refunds where brand_id = $1)
         from commerce.orders where brand_id = $1",
    )
    .bind(brand)
    .fetch_one(&db)
    .await
    .expect("orders");
    let lines: i64 =
        sqlx::query_scalar("select count(*) from commerce.order_lines where brand_id = $1")
            .bind(brand)
            .fetch_one(&db)
            .await
            .expect("lines");
    OrderTotals {
        orders,
        total,
        refunded,
        lines,
    }
}

fn assert_totals_equal(stored: &OrderTotals, expected: &OrderTotals) {
    assert_eq!(
        (stored.orders, stored.total, stored.refunded, stored.lines),
        (
            expected.orders,
            expected.total,
            expected.refunded,
            expected.lines
        ),
        "stored (orders, total, refunded, lines) must equal the platform's"
    );
}

#[tokio::test]
async fn shopify_connects_syncs_exactly_through_faults_and_keeps_tokens_sealed() {
    let fixture = fixture_store(40).await;
    let stack = stack_for(&fixture, |_| {}).await;
    let tenant = sign_up(&stack, "Shop Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Shop brand").await;

    // Faults on the first sync's pages: 429 + Retry-After, Shopify's THROTTLED,
    // a 500, and an expired token that the client refreshes.
    fixture.faults().at(
        2,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    fixture.faults().at(4, Fault::Throttled);
    fixture.faults().at(6, Fault::ServerError);
    fixture.faults().at(8, Fault::TokenExpired);
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    let code = fixture.data().auth_code.clone();
    let params = callback(&fixture, &state, &code);
    let connected = complete(&stack, &tenant.admin_token, &state, params)
        .await
        .expect("complete oauth");
    let integration = connected.integration.expect("integration");
    assert_eq!(integration.status, IntegrationStatus::Connected as i32);
    assert_eq!(integration.external_account_id, SHOP);
    let token_before = stored_credentials(&stack, &tenant, &integration.integration_id).await;

    let run = connected.initial_sync_run.expect("run");
    let done = wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(done.state, SyncRunState::Succeeded as i32, "{done:?}");
    let expected = fixture_totals(&fixture.data().orders);
    assert_totals_equal(
        &stored_order_totals(&stack, &brand.brand_id).await,
        &expected,
    );
    assert!(fixture.token_requests() >= 2, "exchange, then a refresh");
    let token_after = stored_credentials(&stack, &tenant, &integration.integration_id).await;
    assert_ne!(
        token_before.access_token, token_after.access_token,
        "the refreshed token was sealed back to the row"
    );

    // No plaintext token anywhere in the row, as the database stores it.
    let db = stack.db.superuser_pool().await.expect("db");
    let raw: String = sqlx::query_scalar(
        "select row_to_json(i)::text from integrations.integrations i where integration_id = $1",
    )
    .bind(integration.integration_id.parse::<Uuid>().expect("uuid"))
    .fetch_one(&db)
    .await
    .expect("raw row");
    for secret in [
        Some(token_after.access_token.clone()),
        token_after.refresh_token.clone(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!raw.contains(&secret), "plaintext token in the stored row");
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!raw.contains(&hex), "hex-encoded token in the stored row");
    }

    // A ciphertext copied to another row does not open there.
    let other = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 1)
        .await
        .0;
    sqlx::query(
        "update integrations.integrations set credentials =
             (select credentials from integrations.integrations where integration_id = $1)
         where integration_id = $2",
    )
    .bind(integration.integration_id.parse::<Uuid>().expect("uuid"))
    .bind(other.integration_id.parse::<Uuid>().expect("uuid"))
    .execute(&db)
    .await
    .expect("copy");
    let moved: Vec<u8> = sqlx::query_scalar(
        "select credentials from integrations.integrations where integration_id = $1",
    )
    .bind(other.integration_id.parse::<Uuid>().expect("uuid"))
    .fetch_one(&db)
    .await
    .expect("moved");
    let wrong_row = pp_vault::aad_for(
        tenant.tenant_id.parse().expect("uuid"),
        other.integration_id.parse().expect("uuid"),
    );
    assert!(
        stack
            .integrations
            .vault
            .open(&moved, &wrong_row)
            .await
            .is_err()
    );
    sqlx::query(
        "update integrations.integrations set credentials = null where integration_id = $1",
    )
    .bind(other.integration_id.parse::<Uuid>().expect("uuid"))
    .execute(&db)
    .await
    .expect("clear");

    // Key rotation: a new active key, `reencrypt`, and every row is under it.
    let rotated =
        pp_vault::LocalKeyring::rotate_file(&stack.token_key_file, "test-key-2").expect("rotate");
    let vault = pp_vault::Vault::local(rotated);
    let (resealed, moved) =
        pulsepoint_integrations::cli::reencrypt_all(&stack.integrations.pool, &vault)
            .await
            .expect("reencrypt");
    assert_eq!((resealed, moved), (1, 1));
    let blobs: Vec<(Uuid, Uuid, Vec<u8>)> = sqlx::query_as(
        "select tenant_id, integration_id, credentials from integrations.integrations
         where credentials is not null",
    )
    .fetch_all(&db)
    .await
    .expect("blobs");
    for (tenant_id, integration_id, blob) in blobs {
        assert_eq!(
            pp_vault::Vault::key_id_of(&blob).expect("key id"),
            "test-key-2"
        );
        let opened: Credentials = vault
            .open_json(&blob, &pp_vault::aad_for(tenant_id, integration_id))
            .await
            .expect("opens under the new key");
        assert_eq!(opened.access_token, token_after.access_token);
    }
}

fn http1() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// POSTs a webhook to the gateway's route as Shopify would.
async fn post_webhook(
    stack: &Stack,
    topic: &str,
    shop: &str,
    webhook_id: &str,
    body: &[u8],
    hmac: &str,
) -> u16 {
    let request = http::Request::post(format!("http://{}/webhooks/shopify", stack.gateway_addr))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-shop-domain", shop)
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-hmac-sha256", hmac)
        .header("x-shopify-api-version", "2025-07")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request");
    let response = http1().request(request).await.expect("gateway answers");
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

#[tokio::test]
async fn webhooks_through_the_gateway_upsert_dedupe_verify_and_uninstall() {
    let fixture = fixture_store(12).await;
    let stack = stack_for(&fixture, |_| {}).await;
    let tenant = sign_up(&stack, "Hook Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Hooked").await;
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    let code = fixture.data().auth_code.clone();
    let params = callback(&fixture, &state, &code);
    let connected = complete(&stack, &tenant.admin_token, &state, params)
        .await
        .expect("connect");
    let run = connected.initial_sync_run.expect("run");
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;

    // The platform changes an order (a new, larger total), then tells us.
    let order_id = {
        let mut data = fixture.data();
        let order = &mut data.orders[0];
        order.total_micros += 5_000_000;
        order.tax_micros += 5_000_000;
        order.updated_at += chrono::Duration::minutes(5);
        order.platform_order_id.clone()
    };
    let body = fixture.order_webhook_body(&order_id).expect("body");
    let hmac = fixture.sign_webhook(&body);
    let webhook_id = Uuid::new_v4().to_string();
    assert_eq!(
        post_webhook(&stack, "orders/updated", SHOP, &webhook_id, &body, &hmac).await,
        200
    );
    let expected = fixture_totals(&fixture.data().orders);
    assert_totals_equal(
        &stored_order_totals(&stack, &brand.brand_id).await,
        &expected,
    );

    // The same delivery again: 200, nothing applied twice, one delivery recorded.
    assert_eq!(
        post_webhook(&stack, "orders/updated", SHOP, &webhook_id, &body, &hmac).await,
        200
    );
    let db = stack.db.superuser_pool().await.expect("db");
    let deliveries: i64 = sqlx::query_scalar(
        "select count(*) from integrations.webhook_deliveries where webhook_id = $1",
    )
    .bind(&webhook_id)
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(deliveries, 1);
    assert_totals_equal(
        &stored_order_totals(&stack, &brand.brand_id).await,
        &expected,
    );

    // A tampered body, or a signature under another secret: 401, nothing applied.
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        post_webhook(
            &stack,
            "orders/updated",
            SHOP,
            "w-tampered",
            &tampered,
            &hmac
        )
        .await,
        401
    );
    let forged = pp_platforms::shopify::webhook_hmac("not-the-app-secret", &body);
    assert_eq!(
        post_webhook(&stack, "orders/updated", SHOP, "w-forged", &body, &forged).await,
        401
    );
    // A verified delivery for a shop nobody connected: 200, ignored.
    assert_eq!(
        post_webhook(
            &stack,
            "orders/updated",
            "someone-else.myshopify.com",
            "w-unknown",
            &body,
            &hmac
        )
        .await,
        200
    );
    let unknown: i64 = sqlx::query_scalar(
        "select count(*) from integrations.webhook_deliveries where webhook_id in ('w-tampered', 'w-forged', 'w-unknown')",
    )
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(unknown, 0);

    // A user token calling the RPC directly is refused, even an admin's.
    let mut client = stack.integrations().await.expect("client");
    let status = client
        .ingest_shopify_webhook(authed(
            &tenant.admin_token,
            pp_proto::integrations::IngestShopifyWebhookRequest {
                body: body.clone(),
                shop_domain: SHOP.into(),
                topic: "orders/updated".into(),
                hmac_sha256: hmac.clone(),
                webhook_id: "w-direct".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("user token");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    // app/uninstalled disconnects the store and forgets its token.
    let uninstall = br#"{"id":1,"domain":"fixture-store.myshopify.com"}"#;
    let uninstall_hmac = fixture.sign_webhook(uninstall);
    assert_eq!(
        post_webhook(
            &stack,
            "app/uninstalled",
            SHOP,
            "w-uninstall",
            uninstall,
            &uninstall_hmac
        )
        .await,
        200
    );
    let (status, credentials): (String, Option<Vec<u8>>) = sqlx::query_as(
        "select status, credentials from integrations.integrations where integration_id = $1",
    )
    .bind(
        connected
            .integration
            .expect("integration")
            .integration_id
            .parse::<Uuid>()
            .expect("uuid"),
    )
    .fetch_one(&db)
    .await
    .expect("row");
    assert_eq!(status, "disconnected");
    assert!(credentials.is_none());
    // Shopify removed the app itself: it is not asked to uninstall it again.
    assert_eq!(fixture.revocations().requests(), 0);
    assert!(fixture.revoked_tokens().is_empty());
}

#[tokio::test]
async fn oauth_refuses_tampering_foreign_shops_replays_expiry_other_users_and_bad_redirects() {
    let fixture = fixture_store(1).await;
    let stack = stack_for(&fixture, |o| o.oauth_state_ttl = Duration::from_secs(2)).await;
    let tenant = sign_up(&stack, "Careful Co").await;
    let other_tenant = sign_up(&stack, "Other Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Careful").await;
    let (_, manager_token) = user_with_role(&stack, &tenant, pp_proto::common::Role::Manager).await;
    let code = fixture.data().auth_code.clone();
    let mut client = stack.integrations().await.expect("client");

    // Malformed or foreign shop domains and off-list redirects never get a URL.
    for (shop, redirect, field) in [
        (
            "evil.com",
            pulsepoint_e2e::OAUTH_REDIRECT_URI,
            "shop_domain",
        ),
        (
            "x.myshopify.com.evil.com",
            pulsepoint_e2e::OAUTH_REDIRECT_URI,
            "shop_domain",
        ),
        (
            "Upper.myshopify.com",
            pulsepoint_e2e::OAUTH_REDIRECT_URI,
            "shop_domain",
        ),
        (SHOP, "https://evil.example/callback", "redirect_uri"),
    ] {
        let result = client
            .start_o_auth(authed(
                &tenant.admin_token,
                StartOAuthRequest {
                    brand_id: brand.brand_id.clone(),
                    platform: pp_proto::common::Platform::Shopify as i32,
                    redirect_uri: redirect.into(),
                    shop_domain: shop.into(),
                },
            ))
            .await;
        assert_invalid(result, field);
    }

    // A tampered parameter (or hmac) is refused; the state survives for the real one.
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    let mut tampered = callback(&fixture, &state, &code);
    tampered.insert("timestamp".into(), "1767225601".into());
    assert_invalid(
        complete(&stack, &tenant.admin_token, &state, tampered).await,
        "callback_params",
    );
    let mut bad_hmac = callback(&fixture, &state, &code);
    bad_hmac.insert("hmac".into(), "00".repeat(32));
    assert_invalid(
        complete(&stack, &tenant.admin_token, &state, bad_hmac).await,
        "callback_params",
    );
    // A callback naming another shop than the state's.
    let mut foreign = callback(&fixture, &state, &code);
    foreign.insert("shop".into(), "other-shop.myshopify.com".into());
    let foreign = fixture.signed_callback(foreign);
    assert_invalid(
        complete(&stack, &tenant.admin_token, &state, foreign).await,
        "shop_domain",
    );
    // Another user of the same tenant, and another tenant, cannot use the state.
    assert_invalid(
        complete(
            &stack,
            &manager_token,
            &state,
            callback(&fixture, &state, &code),
        )
        .await,
        "state",
    );
    assert_invalid(
        complete(
            &stack,
            &other_tenant.admin_token,
            &state,
            callback(&fixture, &state, &code),
        )
        .await,
        "state",
    );
    // The real callback works once; replaying it is refused.
    complete(
        &stack,
        &tenant.admin_token,
        &state,
        callback(&fixture, &state, &code),
    )
    .await
    .expect("the genuine callback connects");
    assert_invalid(
        complete(
            &stack,
            &tenant.admin_token,
            &state,
            callback(&fixture, &state, &code),
        )
        .await,
        "state",
    );
    // An expired state is refused.
    let late = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_invalid(
        complete(
            &stack,
            &tenant.admin_token,
            &late,
            callback(&fixture, &late, &code),
        )
        .await,
        "state",
    );
}

#[tokio::test]
async fn a_revoked_token_needs_reauth_with_a_clear_message_and_no_token_in_it() {
    let fixture = fixture_store(5).await;
    let stack = stack_for(&fixture, |_| {}).await;
    let tenant = sign_up(&stack, "Revoked Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Revoked").await;
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    // Request 1 reads the shop while connecting; the sync's first page is refused.
    fixture.faults().at(2, Fault::TokenRevoked);
    let code = fixture.data().auth_code.clone();
    let params = callback(&fixture, &state, &code);
    let connected = complete(&stack, &tenant.admin_token, &state, params)
        .await
        .expect("connect");
    let integration = connected.integration.expect("integration");
    let token = stored_credentials(&stack, &tenant, &integration.integration_id).await;
    let run = connected.initial_sync_run.expect("run");
    let done = wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(done.state, SyncRunState::Failed as i32, "{done:?}");
    assert_eq!(done.error_reason, "TOKEN_REVOKED");
    let mut client = stack.integrations().await.expect("client");
    let now = client
        .get_integration(authed(
            &tenant.admin_token,
            pp_proto::integrations::GetIntegrationRequest {
                integration_id: integration.integration_id.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner()
        .integration
        .expect("integration");
    assert_eq!(now.status, IntegrationStatus::ReauthRequired as i32);
    assert!(
        now.error_message.to_lowercase().contains("reconnect"),
        "{}",
        now.error_message
    );
    assert!(!now.error_message.contains(&token.access_token));
    // It is not retried forever: a TriggerSync now is refused until reconnected.
    let status = client
        .trigger_sync(authed(
            &tenant.admin_token,
            TriggerSyncRequest {
                integration_id: integration.integration_id.clone(),
                request_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("reauth required");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn a_sync_killed_mid_run_resumes_from_its_cursor_without_duplicates_or_gaps() {
    let fixture = fixture_store(30).await;
    let stack = stack_for(&fixture, |o| {
        o.sync.workers = 0;
        o.sync.lease = Duration::from_millis(800);
        // A write per page, so the crash lands between two known writes.
        o.sync.write_batch = 1;
    })
    .await;
    let tenant = sign_up(&stack, "Crash Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Crashing").await;
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    let code = fixture.data().auth_code.clone();
    let params = callback(&fixture, &state, &code);
    let connected = complete(&stack, &tenant.admin_token, &state, params)
        .await
        .expect("connect");
    let run_id = connected.initial_sync_run.expect("run").sync_run_id;
    let products_pages = fixture.data().products.len().div_ceil(7);
    let sorted = orders_by_update(&fixture.data().orders);
    // The worker hangs on the third orders page (pages of 7, each with its follow-up
    // queries for orders bigger than a page): it is then killed.
    let hang_at = products_pages + requests_for(&sorted[..14]) + 1;
    let before = fixture.requests();
    fixture.faults().at(hang_at, Fault::Hang);
    let pool = stack.integrations.pool.clone();
    let lease = stack.integrations.sync.lease;
    let dead = Uuid::new_v4();
    let leased = pulsepoint_integrations::store::sync_runs::lease_next(&pool, dead, lease)
        .await
        .expect("lease")
        .expect("the run");
    let state = stack.integrations.clone();
    let worker = tokio::spawn(async move {
        pulsepoint_integrations::sync::run_leased(&state, leased, dead).await;
    });
    for _ in 0..200 {
        if fixture.requests() >= before + hang_at {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        fixture.requests(),
        before + hang_at,
        "stopped at the hanging page"
    );
    // The second page's write runs beside the hung fetch of the third: let it land.
    for _ in 0..200 {
        if stored_order_totals(&stack, &brand.brand_id).await.orders >= 14 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    worker.abort();
    let _ = worker.await;
    let partial = stored_order_totals(&stack, &brand.brand_id).await;
    assert_eq!(
        partial.orders, 14,
        "two orders pages were written before the crash"
    );

    // Another worker takes the run over once the lease lapses, from the cursor.
    let survivor = Uuid::new_v4();
    let taken = loop {
        if let Some(taken) =
            pulsepoint_integrations::store::sync_runs::lease_next(&pool, survivor, lease)
                .await
                .expect("lease")
        {
            break taken;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(taken.sync_run_id.to_string(), run_id);
    pulsepoint_integrations::sync::run_leased(&stack.integrations, taken, survivor).await;
    let done = wait_for_run(&stack, &tenant.admin_token, &run_id).await;
    assert_eq!(done.state, SyncRunState::Succeeded as i32, "{done:?}");
    let expected = fixture_totals(&fixture.data().orders);
    assert_totals_equal(
        &stored_order_totals(&stack, &brand.brand_id).await,
        &expected,
    );
    // Resumed at the page that hung: the survivor asked exactly for the orders after
    // the 14 written (their pages and follow-ups), then the inventory; had it
    // restarted, the first two pages would have been read again.
    let inventory_pages = fixture.data().inventory.len().div_ceil(7).max(1);
    let survivor_requests = fixture.requests() - before - hang_at;
    assert_eq!(
        survivor_requests,
        requests_for(&sorted[14..]) + inventory_pages,
        "the resumed run re-read pages it had already written"
    );
}
