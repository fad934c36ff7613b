//! The TikTok client against the local Business API fixture, over real HTTP.

use std::sync::Arc;

use chrono::NaiveDate;
use pp_commerce::{AdSpendDay, Platform};
use pp_platforms::fixtures::ads_data::sample_days;
use pp_platforms::fixtures::tiktok::TiktokFixture;
use pp_platforms::fixtures::{Fault, Running};
use pp_platforms::tiktok::{self, Advertiser, TiktokClient, TiktokConfig, date_windows};
use pp_platforms::{Credentials, Http, PlatformError, ReauthReason, RetryPolicy};

const ADVERTISER: &str = "7100000000000000042";
const REDIRECT: &str = "https://app.pulsepoint.test/oauth/tiktok/callback";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

struct Harness {
    fx: Arc<TiktokFixture>,
    _running: Running,
    cfg: TiktokConfig,
    http: Http,
    client: TiktokClient,
}

async fn harness(days: u32) -> Harness {
    let data = sample_days(
        Platform::Tiktok,
        "USD",
        &[
            ("1790000000001", "UGC spring"),
            ("1790000000002", "Spark ads"),
        ],
        day("2026-01-01"),
        days,
    );
    let advertiser = Advertiser {
        id: ADVERTISER.into(),
        name: "Acme US".into(),
        currency: "USD".into(),
        timezone: "America/Los_Angeles".into(),
    };
    let fx = TiktokFixture::new(advertiser, data);
    let running = fx.start().await.expect("fixture starts");
    let cfg = fx.config(&running);
    let http = Http::new(RetryPolicy::fast());
    let client = TiktokClient::new(http.clone(), cfg.clone());
    Harness {
        fx,
        _running: running,
        cfg,
        http,
        client,
    }
}

fn connected(fx: &TiktokFixture) -> Credentials {
    Credentials {
        access_token: fx.issue_token(),
        refresh_token: None,
        expires_at: None,
        scopes: vec![],
    }
}

async fn fetch_window(
    h: &Harness,
    creds: &mut Credentials,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Vec<AdSpendDay>, usize), PlatformError> {
    let mut rows = Vec::new();
    let mut page = 1;
    let mut pages = 0;
    loop {
        let answer = h
            .client
            .report_page(creds, ADVERTISER, "USD", start, end, page)
            .await?;
        pages += 1;
        rows.extend(answer.items);
        match answer.next_cursor {
            Some(next) => page = next.parse().expect("page number"),
            None => return Ok((rows, pages)),
        }
    }
}

fn sorted(mut rows: Vec<AdSpendDay>) -> Vec<AdSpendDay> {
    rows.sort_by(|a, b| (&a.platform_campaign_id, a.date).cmp(&(&b.platform_campaign_id, b.date)));
    rows
}

fn expected(fx: &TiktokFixture, start: NaiveDate, end: NaiveDate) -> Vec<AdSpendDay> {
    sorted(
        fx.data()
            .iter()
            .filter(|d| d.date >= start && d.date <= end)
            .cloned()
            .collect(),
    )
}

#[tokio::test]
async fn auth_code_exchange_returns_the_token_and_advertisers() {
    let h = harness(5).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = browser
        .get(tiktok::authorize_url(&h.cfg, "nonce-7", REDIRECT))
        .send()
        .await
        .expect("portal");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = reqwest::Url::parse(
        response.headers()[reqwest::header::LOCATION]
            .to_str()
            .expect("location"),
    )
    .expect("redirect");
    assert!(location.as_str().starts_with(REDIRECT));
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("nonce-7"));
    let auth_code = param("auth_code").expect("auth_code");

    let (mut creds, advertisers) = tiktok::exchange_code(&h.http, &h.cfg, &auth_code)
        .await
        .expect("exchange");
    assert_eq!(advertisers, vec![ADVERTISER.to_owned()]);
    assert_eq!(
        (creds.refresh_token.as_deref(), creds.expires_at),
        (None, None),
        "long-term token"
    );
    assert_eq!(creds.scopes, ["4", "5", "8"]);

    let info = h
        .client
        .advertiser_info(&mut creds, &advertisers)
        .await
        .expect("advertiser info");
    assert_eq!(info, vec![h.fx.advertiser.clone()]);

    let again = tiktok::exchange_code(&h.http, &h.cfg, &auth_code)
        .await
        .expect_err("single use");
    assert!(matches!(again, PlatformError::Invalid { .. }), "{again:?}");
}

#[tokio::test]
async fn report_pages_add_up_to_the_fixture_data_exactly() {
    let h = harness(10).await;
    h.fx.set_page_size(6);
    let mut creds = connected(&h.fx);
    let (rows, pages) = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-10"))
        .await
        .expect("report");
    assert_eq!(pages, 4, "20 rows in pages of 6");
    // Spend, impressions, clicks, purchases and purchase value
    // (total_complete_payment_rate) per campaign per day, exactly.
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-01"), day("2026-01-10"))
    );
}

#[tokio::test]
async fn long_ranges_are_split_into_30_day_windows() {
    let h = harness(75).await;
    let mut creds = connected(&h.fx);
    let (start, end) = (day("2026-01-01"), day("2026-03-16"));
    let windows = date_windows(start, end, tiktok::MAX_DAYS_PER_REPORT);
    assert_eq!(
        windows,
        [
            (day("2026-01-01"), day("2026-01-30")),
            (day("2026-01-31"), day("2026-03-01")),
            (day("2026-03-02"), day("2026-03-16")),
        ]
    );
    let mut rows = Vec::new();
    for (from, to) in windows {
        rows.extend(
            fetch_window(&h, &mut creds, from, to)
                .await
                .expect("window")
                .0,
        );
    }
    assert_eq!(rows.len(), 150);
    assert_eq!(sorted(rows), expected(&h.fx, start, end));

    let before = h.fx.data_requests();
    let error = h
        .client
        .report_page(&mut creds, ADVERTISER, "USD", start, day("2026-01-31"), 1)
        .await;
    assert!(
        matches!(error, Err(PlatformError::Invalid { .. })),
        "31 days must be refused: {error:?}"
    );
    assert_eq!(h.fx.data_requests(), before, "refused before sending");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let h = harness(3).await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let (rows, _) = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-03"))
        .await
        .expect("after retry");
    assert_eq!(
        sorted(rows),
        expected(&h.fx, day("2026-01-01"), day("2026-01-03"))
    );
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn the_rate_limit_code_is_backed_off_then_succeeds() {
    let h = harness(3).await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::Throttled);
    h.fx.faults.at(2, Fault::Throttled);
    let (rows, _) = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-03"))
        .await
        .expect("after throttle");
    assert_eq!(rows.len(), 6);
    assert_eq!(h.fx.data_requests(), 3);
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_retry_budget_is_rate_limited() {
    let h = harness(3).await;
    let mut creds = connected(&h.fx);
    for n in 1..=10 {
        h.fx.faults.at(n, Fault::Throttled);
    }
    let error = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-03"))
        .await
        .expect_err("gives up");
    assert!(
        matches!(error, PlatformError::RateLimited { .. }),
        "{error:?}"
    );
    assert_eq!(
        h.fx.data_requests(),
        RetryPolicy::fast().max_attempts as usize
    );
}

#[tokio::test]
async fn a_500_is_retried() {
    let h = harness(3).await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::ServerError);
    let (rows, _) = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-03"))
        .await
        .expect("after retry");
    assert_eq!(rows.len(), 6);
    assert_eq!(h.fx.data_requests(), 2);
}

#[tokio::test]
async fn an_expired_token_asks_for_reconnection_since_tiktok_has_no_refresh() {
    let h = harness(3).await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::TokenExpired);
    let error = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-03"))
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
    assert_eq!(h.fx.token_requests(), 0);
}

#[tokio::test]
async fn a_revoked_token_is_reauth_with_a_safe_message() {
    let h = harness(3).await;
    let mut creds = connected(&h.fx);
    h.fx.faults.at(1, Fault::TokenRevoked);
    for _ in 0..2 {
        let error = fetch_window(&h, &mut creds, day("2026-01-01"), day("2026-01-03"))
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
            !message.contains(&creds.access_token) && message.contains("reconnect tiktok"),
            "{message}"
        );
    }
}
