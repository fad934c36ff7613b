//! The Meta client against the local Graph API fixture, over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use pp_commerce::{AdSpendDay, Platform};
use pp_platforms::fixtures::ads_data::sample_days;
use pp_platforms::fixtures::meta::MetaFixture;
use pp_platforms::fixtures::{Fault, Running};
use pp_platforms::meta::{self, AdAccount, MetaClient, MetaConfig};
use pp_platforms::{Credentials, Http, PlatformError, ReauthReason, RetryPolicy};

const ACCOUNT: &str = "act_1010101";
const REDIRECT: &str = "https://app.pulsepoint.test/oauth/meta/callback";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

struct Harness {
    fx: Arc<MetaFixture>,
    _running: Running,
    cfg: MetaConfig,
    http: Http,
    client: MetaClient,
}

async fn harness() -> Harness {
    let data = sample_days(
        Platform::Meta,
        "EUR",
        &[
            ("120200001", "Spring sale"),
            ("120200002", "Retargeting"),
            ("120200003", "Brand"),
        ],
        day("2026-01-01"),
        10,
    );
    let account = AdAccount {
        id: ACCOUNT.into(),
        name: "Acme EU".into(),
        currency: "EUR".into(),
        timezone_name: "Europe/Berlin".into(),
    };
    let fx = MetaFixture::new(account, data);
    let running = fx.start().await.expect("fixture starts");
    let cfg = fx.config(&running);
    let http = Http::new(RetryPolicy::fast());
    let client = MetaClient::new(http.clone(), cfg.clone());
    Harness {
        fx,
        _running: running,
        cfg,
        http,
        client,
    }
}

fn connected(fx: &MetaFixture) -> Credentials {
    Credentials {
        access_token: fx.issue_long_lived_token(),
        refresh_token: None,
        expires_at: Some(Utc::now() + chrono::Duration::days(59)),
        scopes: vec!["ads_read".into()],
    }
}

/// Follows the dialog's redirect without going to the redirect URI.
async fn consent(url: &str) -> reqwest::Url {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = browser.get(url).send().await.expect("dialog answers");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("location");
    reqwest::Url::parse(location).expect("redirect url")
}

fn param(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .expect("param")
}

async fn fetch_all(
    h: &Harness,
    creds: &mut Credentials,
    since: NaiveDate,
    until: NaiveDate,
) -> Result<(Vec<AdSpendDay>, usize), PlatformError> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = h
            .client
            .insights_page(creds, ACCOUNT, since, until, cursor.as_deref())
            .await?;
        pages += 1;
        rows.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok((rows, pages));
        }
    }
}

fn sorted(mut rows: Vec<AdSpendDay>) -> Vec<AdSpendDay> {
    rows.sort_by(|a, b| (&a.platform_campaign_id, a.date).cmp(&(&b.platform_campaign_id, b.date)));
    rows
}

fn expected(fx: &MetaFixture, since: NaiveDate, until: NaiveDate) -> Vec<AdSpendDay> {
    sorted(
        fx.data()
            .iter()
            .filter(|d| d.date >= since && d.date <= until)
            .cloned()
            .collect(),
    )
}

#[tokio::test]
async fn code_exchange_ends_with_a_long_lived_token_that_has_ads_read() {
    let h = harness().await;
    let redirect = consent(&meta::authorize_url(&h.cfg, "nonce-1", REDIRECT)).await;
    assert_eq!(param(&redirect, "state"), "nonce-1");

    let mut creds = meta::exchange_code(&h.http, &h.cfg, &param(&redirect, "code"), REDIRECT)
        .await
        .expect("exchange");

    assert!(
        h.fx.is_long_lived(&creds.access_token),
        "the short-lived token was kept"
    );
    assert_eq!(
        h.fx.token_requests(),
        2,
        "code exchange then fb_exchange_token"
    );
    let days_left = (creds.expires_at.expect("expiry") - Utc::now()).num_days();
    assert!(
        (59..=60).contains(&days_left),
        "expiry from expires_in, got {days_left} days"
    );
    assert!(creds.scopes.contains(&"ads_read".to_owned()));
    assert_eq!(creds.refresh_token, None);
    let accounts = h.client.ad_accounts(&mut creds).await.expect("accounts");
    assert_eq!(accounts, vec![h.fx.account.clone()]);
}

#[tokio::test]
async fn a_used_code_is_refused_without_leaking_the_secret() {
    let h = harness().await;
    let redirect = consent(&meta::authorize_url(&h.cfg, "s", REDIRECT)).await;
    let code = param(&redirect, "code");
    meta::exchange_code(&h.http, &h.cfg, &code, REDIRECT)
        .await
        .expect("first use");
    let error = meta::exchange_code(&h.http, &h.cfg, &code, REDIRECT)
        .await
        .expect_err("second use");
    assert!(matches!(error, PlatformError::Invalid { .. }), "{error:?}");
    assert!(!error.to_string().contains(&h.fx.app_secret));
}

#[tokio::test]
async fn declining_ads_read_asks_the_user_to_reconnect() {
    let h = harness().await;
    h.fx.decline("ads_read");
    let redirect = consent(&meta::authorize_url(&h.cfg, "s", REDIRECT)).await;
    let error = meta::exchange_code(&h.http, &h.cfg, &param(&redirect, "code"), REDIRECT)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            PlatformError::Reauth {
                reason: ReauthReason::ScopesMissing,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("ads_read"));
}

#[tokio::test]
async fn insights_pages_add_up_to_the_fixture_data_exactly() {
    let h = harness().await;
    h.fx.set_page_size(7);
    let mut creds = connected(&h.fx);

    let (rows, pages) = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-10"))
        .await
        .expect("insights");
    assert_eq!(pages, 5, "30 rows in pages of 7");
    // Spend, impressions, clicks, purchases and purchase value per campaign per day,
    // in the account currency: exactly the fixture's records (omni_purchase chosen
    // over the smaller pixel figure, decimals read without float error).
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-01"), day("2026-01-10"))
    );

    let (rows, _) = fetch_all(&h, &mut creds, day("2026-01-03"), day("2026-01-05"))
        .await
        .expect("sub-range");
    assert_eq!(rows.len(), 9);
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-03"), day("2026-01-05"))
    );
}

#[tokio::test]
async fn campaigns_come_with_their_status() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    let page = h
        .client
        .campaigns_page(&mut creds, "1010101", None)
        .await
        .expect("campaigns");
    let ids: Vec<_> = page
        .items
        .iter()
        .map(|c| c.platform_campaign_id.as_str())
        .collect();
    assert_eq!(ids, ["120200001", "120200002", "120200003"]);
    assert!(
        page.items
            .iter()
            .all(|c| c.status.as_deref() == Some("active") && c.platform == Platform::Meta)
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let (rows, _) = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-02"))
        .await
        .expect("after retry");
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-01"), day("2026-01-02"))
    );
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn the_business_use_case_throttle_is_backed_off_then_succeeds() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::Throttled);
    h.fx.faults.at(2, Fault::Throttled);
    let (rows, _) = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-02"))
        .await
        .expect("after throttle");
    assert_eq!(rows.len(), 6);
    assert_eq!(h.fx.data_requests(), 3);
}

#[tokio::test]
async fn a_throttle_with_a_long_regain_estimate_reschedules_instead_of_sleeping() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.set_throttle_regain_minutes(5);
    h.fx.faults.at(1, Fault::Throttled);
    let error = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-02"))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(error, PlatformError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(300)),
        "{error:?}"
    );
    assert_eq!(h.fx.data_requests(), 1, "no retry before Meta's estimate");
}

#[tokio::test]
async fn high_usage_slows_down_but_still_completes() {
    let h = harness().await;
    h.fx.set_page_size(10);
    h.fx.set_usage_percent(95);
    let mut creds = connected(&h.fx);
    let (rows, pages) = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-10"))
        .await
        .expect("insights");
    assert_eq!((rows.len(), pages), (30, 3));
}

#[tokio::test]
async fn a_500_is_retried() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::ServerError);
    let (rows, _) = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-01"))
        .await
        .expect("after retry");
    assert_eq!(rows.len(), 3);
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn an_expired_token_asks_for_reconnection_since_meta_has_no_refresh() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::TokenExpired);
    let error = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-02"))
        .await
        .expect_err("expired");
    assert!(
        matches!(
            error,
            PlatformError::Reauth {
                reason: ReauthReason::TokenExpired,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains(&creds.access_token));
    assert_eq!(
        h.fx.token_requests(),
        0,
        "an expired token cannot be re-exchanged"
    );
}

#[tokio::test]
async fn a_revoked_token_is_reauth_with_a_safe_message() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::TokenRevoked);
    for _ in 0..2 {
        let error = fetch_all(&h, &mut creds, day("2026-01-01"), day("2026-01-02"))
            .await
            .expect_err("revoked");
        assert!(
            matches!(
                error,
                PlatformError::Reauth {
                    reason: ReauthReason::TokenRevoked,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            !message.contains(&creds.access_token) && !message.contains("EAA"),
            "{message}"
        );
        assert!(message.contains("reconnect meta"));
    }
}
