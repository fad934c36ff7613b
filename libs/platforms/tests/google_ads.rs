//! The Google Ads client against the local Google OAuth + Ads API fixture, over real HTTP.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use pp_commerce::{AdSpendDay, Platform};
use pp_platforms::fixtures::ads_data::sample_days;
use pp_platforms::fixtures::google_ads::GoogleAdsFixture;
use pp_platforms::fixtures::{Fault, Running};
use pp_platforms::google_ads::{self, CustomerInfo, GoogleAdsClient, GoogleAdsConfig};
use pp_platforms::{Credentials, Http, PlatformError, ReauthReason, RetryPolicy};

const CUSTOMER: &str = "1234567890";
const MANAGER: &str = "9998887777";
const REDIRECT: &str = "https://app.pulsepoint.test/oauth/google/callback";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

struct Harness {
    fx: Arc<GoogleAdsFixture>,
    _running: Running,
    cfg: GoogleAdsConfig,
    http: Http,
    client: GoogleAdsClient,
}

async fn harness() -> Harness {
    let data = sample_days(
        Platform::GoogleAds,
        "GBP",
        &[
            ("21000000001", "Search brand"),
            ("21000000002", "PMax"),
            ("21000000003", "Shopping"),
        ],
        day("2026-01-01"),
        10,
    );
    let customer = CustomerInfo {
        id: CUSTOMER.into(),
        name: "Acme UK".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
    };
    let fx = GoogleAdsFixture::new(customer, Some(MANAGER.into()), data);
    let running = fx.start().await.expect("fixture starts");
    let cfg = fx.config(&running);
    let http = Http::new(RetryPolicy::fast());
    let client = GoogleAdsClient::new(http.clone(), cfg.clone());
    Harness {
        fx,
        _running: running,
        cfg,
        http,
        client,
    }
}

fn connected(fx: &GoogleAdsFixture) -> Credentials {
    let (access, refresh) = fx.issue_tokens();
    Credentials {
        access_token: access,
        refresh_token: Some(refresh),
        expires_at: Some(Utc::now() + chrono::Duration::minutes(50)),
        scopes: vec![google_ads::ADWORDS_SCOPE.into()],
    }
}

/// Goes through the consent screen and returns the code it redirects with.
async fn consent(url: &str, state: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = browser.get(url).send().await.expect("consent screen");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = reqwest::Url::parse(
        response.headers()[reqwest::header::LOCATION]
            .to_str()
            .expect("location"),
    )
    .expect("redirect");
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(state));
    param("code").expect("code")
}

fn sorted(mut rows: Vec<AdSpendDay>) -> Vec<AdSpendDay> {
    rows.sort_by(|a, b| (&a.platform_campaign_id, a.date).cmp(&(&b.platform_campaign_id, b.date)));
    rows
}

fn expected(fx: &GoogleAdsFixture, start: NaiveDate, end: NaiveDate) -> Vec<AdSpendDay> {
    sorted(
        fx.data()
            .iter()
            .filter(|d| d.date >= start && d.date <= end)
            .cloned()
            .collect(),
    )
}

async fn fetch(
    h: &Harness,
    creds: &mut Credentials,
    start: &str,
    end: &str,
) -> Result<Vec<AdSpendDay>, PlatformError> {
    h.client
        .search_stream(creds, CUSTOMER, Some(MANAGER), day(start), day(end))
        .await
}

#[tokio::test]
async fn pkce_code_exchange_checks_the_verifier_and_yields_a_refresh_token() {
    let h = harness().await;
    let (verifier, challenge) = google_ads::pkce_pair();

    let code = consent(
        &google_ads::authorize_url(&h.cfg, "st-1", REDIRECT, &challenge),
        "st-1",
    )
    .await;
    let (wrong_verifier, _) = google_ads::pkce_pair();
    let error = google_ads::exchange_code(&h.http, &h.cfg, &code, REDIRECT, &wrong_verifier)
        .await
        .expect_err("wrong verifier");
    assert!(matches!(error, PlatformError::Invalid { .. }), "{error:?}");

    let code = consent(
        &google_ads::authorize_url(&h.cfg, "st-2", REDIRECT, &challenge),
        "st-2",
    )
    .await;
    let creds = google_ads::exchange_code(&h.http, &h.cfg, &code, REDIRECT, &verifier)
        .await
        .expect("exchange");
    assert!(creds.refresh_token.is_some());
    assert!(creds.scopes.contains(&google_ads::ADWORDS_SCOPE.to_owned()));
    let minutes_left = (creds.expires_at.expect("expiry") - Utc::now()).num_minutes();
    assert!((58..=60).contains(&minutes_left), "{minutes_left}");
    assert!(!format!("{creds:?}").contains(&creds.access_token));
}

#[tokio::test]
async fn a_grant_without_offline_access_is_refused() {
    let h = harness().await;
    let (verifier, challenge) = google_ads::pkce_pair();
    let url = google_ads::authorize_url(&h.cfg, "st", REDIRECT, &challenge)
        .replace("access_type=offline", "access_type=online");
    let code = consent(&url, "st").await;
    let error = google_ads::exchange_code(&h.http, &h.cfg, &code, REDIRECT, &verifier)
        .await
        .expect_err("no refresh token");
    assert!(matches!(error, PlatformError::Reauth { .. }), "{error:?}");
    assert!(error.to_string().contains("offline access"));
}

#[tokio::test]
async fn customers_and_their_currency_and_time_zone() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    let customers = h
        .client
        .accessible_customers(&mut creds)
        .await
        .expect("customers");
    assert_eq!(customers, [CUSTOMER, MANAGER]);
    let info = h
        .client
        .customer_info(&mut creds, "123-456-7890", Some(MANAGER))
        .await
        .expect("info");
    assert_eq!(info, h.fx.customer);
    let campaigns = h
        .client
        .campaigns(&mut creds, CUSTOMER, Some(MANAGER))
        .await
        .expect("campaigns");
    assert_eq!(campaigns.len(), 3);
    assert!(
        campaigns
            .iter()
            .all(|c| c.status.as_deref() == Some("enabled"))
    );
}

#[tokio::test]
async fn streamed_batches_add_up_to_the_fixture_data_exactly() {
    let h = harness().await;
    h.fx.set_batch_size(4);
    let mut creds = connected(&h.fx);
    let rows = fetch(&h, &mut creds, "2026-01-01", "2026-01-10")
        .await
        .expect("stream");
    // 30 rows over 8 batches; cost micros, impressions, clicks, fractional
    // conversions and conversion value (a JSON double) per campaign per day, exactly,
    // including days where Google leaves zero metrics out.
    assert_eq!(rows.len(), 30);
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-01"), day("2026-01-10"))
    );
    let rows = fetch(&h, &mut creds, "2026-01-04", "2026-01-06")
        .await
        .expect("sub-range");
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-04"), day("2026-01-06"))
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
    let rows = fetch(&h, &mut creds, "2026-01-01", "2026-01-02")
        .await
        .expect("after retry");
    assert_eq!(rows.len(), 6);
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn resource_exhausted_is_backed_off_then_succeeds() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::Throttled);
    h.fx.faults.at(2, Fault::Throttled);
    let rows = fetch(&h, &mut creds, "2026-01-01", "2026-01-02")
        .await
        .expect("after throttle");
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-01"), day("2026-01-02"))
    );
    assert_eq!(h.fx.data_requests(), 3);
}

#[tokio::test]
async fn a_500_is_retried() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::ServerError);
    let rows = fetch(&h, &mut creds, "2026-01-01", "2026-01-01")
        .await
        .expect("after retry");
    assert_eq!(rows.len(), 3);
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn a_401_refreshes_once_and_the_caller_gets_the_new_token() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    let old = creds.access_token.clone();
    h.fx.faults.at(1, Fault::TokenExpired);
    let rows = fetch(&h, &mut creds, "2026-01-01", "2026-01-02")
        .await
        .expect("after refresh");
    assert_eq!(rows.len(), 6);
    assert_ne!(
        creds.access_token, old,
        "credentials updated in place for the caller to persist"
    );
    assert_eq!(h.fx.refreshes(), 1);
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn an_access_token_past_its_expiry_is_refreshed_before_the_call() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    creds.expires_at = Some(Utc::now() - chrono::Duration::minutes(1));
    fetch(&h, &mut creds, "2026-01-01", "2026-01-01")
        .await
        .expect("stream");
    assert_eq!((h.fx.refreshes(), h.fx.data_requests()), (1, 1));
    assert!(creds.expires_at.is_some_and(|at| at > Utc::now()));
}

#[tokio::test]
async fn a_revoked_grant_is_reauth_with_a_safe_message() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::TokenRevoked);
    for _ in 0..2 {
        let error = fetch(&h, &mut creds, "2026-01-01", "2026-01-02")
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
        let refresh = creds.refresh_token.clone().unwrap_or_default();
        assert!(
            !message.contains(&creds.access_token) && !message.contains(&refresh),
            "{message}"
        );
        assert!(message.contains("reconnect google ads"));
    }
    assert_eq!(h.fx.refreshes(), 0);
}

#[tokio::test]
async fn a_user_without_access_to_the_customer_must_reconnect() {
    let h = harness().await;
    let mut creds = connected(&h.fx);
    let error = h
        .client
        .search_stream(
            &mut creds,
            CUSTOMER,
            None,
            day("2026-01-01"),
            day("2026-01-02"),
        )
        .await
        .expect_err("no manager header");
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
}
