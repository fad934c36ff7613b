//! Meta, TikTok and Google Ads through the service: OAuth with each fixture's consent
//! screen, the initial sync through the real client (pages, windows, a 429 and a 500
//! on the way), and spend per campaign per day equal to the platform's, by SQL.

use bytes::Bytes;
use chrono::{Duration as ChronoDuration, NaiveDate, Utc};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pp_commerce::{AdSpendDay, Platform};
use pp_platforms::fixtures::Fault;
use pp_platforms::fixtures::ads_data::sample_days;
use pp_platforms::fixtures::google_ads::GoogleAdsFixture;
use pp_platforms::fixtures::meta::MetaFixture;
use pp_platforms::fixtures::tiktok::TiktokFixture;
use pp_proto::common::Platform as WirePlatform;
use pp_proto::integrations::{CompleteOAuthRequest, StartOAuthRequest, SyncRunState};
use uuid::Uuid;

use crate::support::*;

/// Follows the provider's consent screen (a redirect to our callback) and returns the
/// callback's query parameters.
async fn consent(url: &str) -> Vec<(String, String)> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(http::Request::get(url).body(Empty::new()).expect("request"))
        .await
        .expect("consent screen");
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()[http::header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let _ = response.into_body().collect().await;
    assert!(
        location.starts_with(pulsepoint_e2e::OAUTH_REDIRECT_URI),
        "{location}"
    );
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Connects `platform` through StartOAuth → consent → CompleteOAuth and waits for the
/// initial sync; returns its final state.
pub(crate) async fn connect_and_sync(
    stack: &Stack,
    tenant: &Tenant,
    brand_id: &str,
    platform: WirePlatform,
    code_param: &str,
) -> pp_proto::integrations::SyncRun {
    let run = connect(stack, tenant, brand_id, platform, code_param).await;
    wait_for_run(stack, &tenant.admin_token, &run.sync_run_id).await
}

/// StartOAuth → consent → CompleteOAuth; returns the queued initial run.
pub(crate) async fn connect(
    stack: &Stack,
    tenant: &Tenant,
    brand_id: &str,
    platform: WirePlatform,
    code_param: &str,
) -> pp_proto::integrations::SyncRun {
    let mut client = stack.integrations().await.expect("client");
    let started = client
        .start_o_auth(authed(
            &tenant.admin_token,
            StartOAuthRequest {
                brand_id: brand_id.into(),
                platform: platform as i32,
                redirect_uri: pulsepoint_e2e::OAUTH_REDIRECT_URI.into(),
                shop_domain: String::new(),
            },
        ))
        .await
        .expect("start oauth")
        .into_inner();
    let params = consent(&started.authorization_url).await;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("state"), started.state, "the provider echoes our state");
    let completed = client
        .complete_o_auth(authed(
            &tenant.admin_token,
            CompleteOAuthRequest {
                state: started.state.clone(),
                code: get(code_param),
                callback_params: params.iter().cloned().collect(),
                request_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect("complete oauth")
        .into_inner();
    completed.initial_sync_run.expect("initial run")
}

type SpendRow = (String, NaiveDate, i64, i64, i64, i64);

async fn stored_spend(stack: &Stack, brand_id: &str, platform: Platform) -> Vec<SpendRow> {
    let db = stack.db.superuser_pool().await.expect("db");
    sqlx::query_as(
        "select platform_campaign_id, spend_date, spend_micros, impressions, clicks,
                conversion_value_micros
         from commerce.ad_spend_daily where brand_id = $1 and platform = $2 order by 1, 2",
    )
    .bind(brand_id.parse::<Uuid>().expect("uuid"))
    .bind(platform.as_str())
    .fetch_all(&db)
    .await
    .expect("spend")
}

fn expected_spend(days: &[AdSpendDay]) -> Vec<SpendRow> {
    let mut rows: Vec<SpendRow> = days
        .iter()
        .map(|d| {
            (
                d.platform_campaign_id.clone(),
                d.date,
                d.spend_micros,
                d.impressions,
                d.clicks,
                d.conversion_value_micros,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn meta_tiktok_and_google_ads_sync_spend_exactly_through_the_service() {
    let start = Utc::now().date_naive() - ChronoDuration::days(40);
    let meta_days = sample_days(
        Platform::Meta,
        "USD",
        &[("120200001", "Prospecting"), ("120200002", "Retargeting")],
        start,
        35,
    );
    let meta = MetaFixture::new(
        pp_platforms::meta::AdAccount {
            id: "act_1010101".into(),
            name: "Acme Meta".into(),
            currency: "USD".into(),
            timezone_name: "America/New_York".into(),
        },
        meta_days,
    );
    let meta_running = meta.start().await.expect("meta fixture");
    meta.set_page_size(9);
    let tiktok_days = sample_days(
        Platform::Tiktok,
        "USD",
        &[("1790000000001", "UGC"), ("1790000000002", "Spark")],
        start,
        35,
    );
    let tiktok = TiktokFixture::new(
        pp_platforms::tiktok::Advertiser {
            id: "7000000000001".into(),
            name: "Acme TikTok".into(),
            currency: "USD".into(),
            timezone: "America/New_York".into(),
        },
        tiktok_days,
    );
    let tiktok_running = tiktok.start().await.expect("tiktok fixture");
    tiktok.set_page_size(8);
    let google_days = sample_days(
        Platform::GoogleAds,
        "USD",
        &[("9000001", "Search brand"), ("9000002", "Shopping")],
        start,
        35,
    );
    let google = GoogleAdsFixture::new(
        pp_platforms::google_ads::CustomerInfo {
            id: "1234567890".into(),
            name: "Acme Google".into(),
            currency: "USD".into(),
            time_zone: "America/New_York".into(),
        },
        Some("9999999999".into()),
        google_days,
    );
    let google_running = google.start().await.expect("google fixture");
    google.set_batch_size(10);

    let mut options = StackOptions::default();
    options.platforms.meta = Some(meta.config(&meta_running));
    options.platforms.tiktok = Some(tiktok.config(&tiktok_running));
    options.platforms.google_ads = Some(google.config(&google_running));
    options.platforms.google_ads_login_customer_id = Some("9999999999".into());
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Ads Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Ads brand").await;

    // A 429 and a 500 on the way: retried, nothing lost or doubled.
    meta.faults.at(
        2,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    meta.faults.at(4, Fault::ServerError);
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::MetaAds,
        "code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "meta: {run:?}");
    assert_eq!(
        stored_spend(&stack, &brand.brand_id, Platform::Meta).await,
        expected_spend(meta.data())
    );

    tiktok.faults.at(3, Fault::ServerError);
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::TiktokAds,
        "auth_code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "tiktok: {run:?}");
    assert_eq!(
        stored_spend(&stack, &brand.brand_id, Platform::Tiktok).await,
        expected_spend(tiktok.data())
    );

    google.faults.at(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::GoogleAds,
        "code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "google: {run:?}");
    assert_eq!(
        stored_spend(&stack, &brand.brand_id, Platform::GoogleAds).await,
        expected_spend(google.data())
    );
}

#[tokio::test]
async fn a_tiktok_sync_killed_mid_run_resumes_from_its_window_and_page() {
    // The initial (full) run reads 365 days in 30-day windows, oldest first; the data
    // starts in the first window so the crash lands mid-data.
    let today = Utc::now().date_naive();
    let since = today - ChronoDuration::days(365);
    let start = since + ChronoDuration::days(1);
    let days = sample_days(
        Platform::Tiktok,
        "USD",
        &[("1790000000001", "UGC"), ("1790000000002", "Spark")],
        start,
        65,
    );
    let tiktok = TiktokFixture::new(
        pp_platforms::tiktok::Advertiser {
            id: "7000000000001".into(),
            name: "Acme TikTok".into(),
            currency: "USD".into(),
            timezone: "America/New_York".into(),
        },
        days,
    );
    let running = tiktok.start().await.expect("tiktok fixture");
    tiktok.set_page_size(10);
    let mut options = StackOptions::default();
    options.platforms.tiktok = Some(tiktok.config(&running));
    options.sync.workers = 0;
    options.sync.lease = std::time::Duration::from_millis(800);
    // A write per page, so the crash lands between two known writes.
    options.sync.write_batch = 1;
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Crash Ads Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Crashing ads").await;
    let run = connect(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::TiktokAds,
        "auth_code",
    )
    .await;

    // The dead worker writes pages 1-3 of the first 30-day window, then hangs on the 4th.
    let before = tiktok.data_requests();
    tiktok.faults.at(4, Fault::Hang);
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
        if tiktok.data_requests() >= before + 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // The third page's write runs beside the hung fetch of the fourth: let it land.
    for _ in 0..200 {
        if stored_spend(&stack, &brand.brand_id, Platform::Tiktok)
            .await
            .len()
            >= 30
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    worker.abort();
    let _ = worker.await;
    assert_eq!(
        stored_spend(&stack, &brand.brand_id, Platform::Tiktok)
            .await
            .len(),
        30
    );

    let survivor = Uuid::new_v4();
    let taken = loop {
        if let Some(taken) =
            pulsepoint_integrations::store::sync_runs::lease_next(&pool, survivor, lease)
                .await
                .expect("lease")
        {
            break taken;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(taken.sync_run_id.to_string(), run.sync_run_id);
    pulsepoint_integrations::sync::run_leased(&stack.integrations, taken, survivor).await;
    let done = wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(done.state, SyncRunState::Succeeded as i32, "{done:?}");
    assert_eq!(
        stored_spend(&stack, &brand.brand_id, Platform::Tiktok).await,
        expected_spend(tiktok.data())
    );
    // Every window's pages once, plus the hung request asked again by the survivor:
    // had it restarted, the first three pages would have been read twice.
    let mut expected_requests = 1;
    let mut window = since;
    while window <= today {
        let end = (window + ChronoDuration::days(29)).min(today);
        let rows = tiktok
            .data()
            .iter()
            .filter(|d| d.date >= window && d.date <= end)
            .count();
        expected_requests += rows.div_ceil(10).max(1);
        window = end + ChronoDuration::days(1);
    }
    assert_eq!(tiktok.data_requests() - before, expected_requests);
}
