//! DisconnectIntegration revokes the grant at the provider, then forgets the tokens:
//! for each platform, connected through OAuth against its fixture, the fixture sees
//! exactly one revocation for the stored token and refuses it afterwards; a provider
//! that answers 500 does not stop the local disconnect and the failure is recorded;
//! a replay, an already disconnected integration and a demo store call no provider.

use pp_commerce::Platform;
use pp_platforms::fixtures::Fault;
use pp_platforms::fixtures::ads_data::sample_days;
use pp_platforms::fixtures::google_ads::GoogleAdsFixture;
use pp_platforms::fixtures::meta::MetaFixture;
use pp_platforms::fixtures::tiktok::TiktokFixture;
use pp_platforms::shopify::ShopifyClient;
use pp_platforms::{Credentials, Http, PlatformError, ReauthReason, RetryPolicy};
use pp_proto::common::Platform as WirePlatform;
use pp_proto::integrations::{
    DisconnectIntegrationRequest, DisconnectIntegrationResponse, IntegrationStatus,
    ProviderRevocationOutcome, SyncRunState,
};
use serde_json::Value;
use uuid::Uuid;

use crate::ads::connect_and_sync;
use crate::shopify::{
    SHOP, callback, complete, fixture_store, stack_for, start, stored_credentials,
};
use crate::support::*;

async fn disconnect(
    stack: &Stack,
    token: &str,
    integration_id: &str,
    request_id: &str,
) -> DisconnectIntegrationResponse {
    stack
        .integrations()
        .await
        .expect("client")
        .disconnect_integration(authed(
            token,
            DisconnectIntegrationRequest {
                integration_id: integration_id.into(),
                delete_synced_data: false,
                request_id: request_id.into(),
            },
        ))
        .await
        .expect("disconnect")
        .into_inner()
}

fn outcome(response: &DisconnectIntegrationResponse) -> ProviderRevocationOutcome {
    let revocation = response.provider_revocation.as_ref().expect("revocation");
    ProviderRevocationOutcome::try_from(revocation.outcome).expect("known outcome")
}

/// The `integration.disconnected` events recorded for an integration (the outbox,
/// read as the owner), oldest first, as JSON text.
async fn disconnected_events(stack: &Stack, integration_id: &str) -> Vec<String> {
    let db = stack.db.superuser_pool().await.expect("db");
    sqlx::query_scalar(
        "select envelope::text from integrations.outbox
         where event_type = 'integration.disconnected'
           and envelope -> 'payload' ->> 'integration_id' = $1
         order by occurred_at, event_id",
    )
    .bind(integration_id)
    .fetch_all(&db)
    .await
    .expect("outbox")
}

fn revocation_of(event: &str) -> Value {
    let envelope: Value = serde_json::from_str(event).expect("json");
    envelope["payload"]["provider_revocation"].clone()
}

/// Status and whether sealed credentials remain, as the database stores them.
async fn stored_state(stack: &Stack, integration_id: &str) -> (String, bool) {
    let db = stack.db.superuser_pool().await.expect("db");
    sqlx::query_as(
        "select status, credentials is not null from integrations.integrations
         where integration_id = $1",
    )
    .bind(integration_id.parse::<Uuid>().expect("uuid"))
    .fetch_one(&db)
    .await
    .expect("row")
}

fn assert_no_token(text: &str, credentials: &Credentials) {
    assert!(!text.contains(&credentials.access_token), "{text}");
    if let Some(refresh) = &credentials.refresh_token {
        assert!(!text.contains(refresh.as_str()), "{text}");
    }
}

fn assert_revoked(error: Result<impl std::fmt::Debug, PlatformError>) {
    assert!(
        matches!(
            error,
            Err(PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn shopify_disconnect_uninstalls_the_app_once_and_replays_call_no_provider() {
    let fixture = fixture_store(6).await;
    let stack = stack_for(&fixture, |_| {}).await;
    let tenant = sign_up(&stack, "Disconnect Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Disconnecting").await;
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    let code = fixture.data().auth_code.clone();
    let connected = complete(
        &stack,
        &tenant.admin_token,
        &state,
        callback(&fixture, &state, &code),
    )
    .await
    .expect("connect");
    let integration = connected.integration.expect("integration");
    let run = connected.initial_sync_run.expect("run");
    let done = wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(done.state, SyncRunState::Succeeded as i32, "{done:?}");
    let mut token = stored_credentials(&stack, &tenant, &integration.integration_id).await;

    let request_id = Uuid::new_v4().to_string();
    let first = disconnect(
        &stack,
        &tenant.admin_token,
        &integration.integration_id,
        &request_id,
    )
    .await;
    assert_eq!(outcome(&first), ProviderRevocationOutcome::Revoked);
    assert_eq!(
        first.integration.as_ref().expect("integration").status,
        IntegrationStatus::Disconnected as i32
    );
    assert_eq!(fixture.revocations().requests(), 1);
    assert_eq!(fixture.revoked_tokens(), vec![token.access_token.clone()]);
    assert_eq!(
        stored_state(&stack, &integration.integration_id).await,
        ("disconnected".to_owned(), false)
    );
    // Shopify now refuses the token (and its refresh token) for good.
    let client = ShopifyClient::new(
        Http::new(RetryPolicy::fast()),
        fixture.config(),
        fixture.shop(),
    );
    assert_revoked(client.shop_info(&mut token).await);

    // The same request again: the first answer, and Shopify is not called again.
    let replay = disconnect(
        &stack,
        &tenant.admin_token,
        &integration.integration_id,
        &request_id,
    )
    .await;
    assert_eq!(replay, first);
    // Another request for the disconnected integration: nothing to revoke.
    let again = disconnect(
        &stack,
        &tenant.admin_token,
        &integration.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&again), ProviderRevocationOutcome::NotApplicable);
    assert_eq!(
        again
            .provider_revocation
            .as_ref()
            .expect("revocation")
            .reason,
        "ALREADY_DISCONNECTED"
    );
    assert_eq!(fixture.revocations().requests(), 1);
    assert_eq!(fixture.revoked_tokens().len(), 1);

    // One event, saying what Shopify did, without a token in it.
    let events = disconnected_events(&stack, &integration.integration_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(revocation_of(&events[0])["outcome"], "revoked");
    assert_no_token(&events[0], &token);
    assert_no_token(&format!("{first:?}"), &token);

    // A demo store holds no provider access: nothing is sent anywhere.
    let (demo, _) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 1).await;
    let demo_out = disconnect(
        &stack,
        &tenant.admin_token,
        &demo.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&demo_out), ProviderRevocationOutcome::NotApplicable);
    assert_eq!(
        demo_out
            .provider_revocation
            .as_ref()
            .expect("revocation")
            .reason,
        "DEMO"
    );
    assert_eq!(fixture.revocations().requests(), 1);
    let demo_events = disconnected_events(&stack, &demo.integration_id).await;
    assert_eq!(demo_events.len(), 1);
    assert_eq!(revocation_of(&demo_events[0])["reason"], "DEMO");
}

#[tokio::test]
async fn shopify_disconnect_still_disconnects_when_the_uninstall_fails() {
    let fixture = fixture_store(3).await;
    let stack = stack_for(&fixture, |_| {}).await;
    let tenant = sign_up(&stack, "Failing Uninstall Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Failing").await;
    let state = start(&stack, &tenant.admin_token, &brand.brand_id, SHOP).await;
    let code = fixture.data().auth_code.clone();
    let connected = complete(
        &stack,
        &tenant.admin_token,
        &state,
        callback(&fixture, &state, &code),
    )
    .await
    .expect("connect");
    let integration = connected.integration.expect("integration");
    wait_for_run(
        &stack,
        &tenant.admin_token,
        &connected.initial_sync_run.expect("run").sync_run_id,
    )
    .await;
    let mut token = stored_credentials(&stack, &tenant, &integration.integration_id).await;

    fixture.revocations().always(Fault::ServerError);
    let out = disconnect(
        &stack,
        &tenant.admin_token,
        &integration.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&out), ProviderRevocationOutcome::Failed);
    let revocation = out.provider_revocation.as_ref().expect("revocation");
    assert_eq!(revocation.reason, "PLATFORM_UNAVAILABLE");
    assert!(
        revocation.message.contains("Shopify admin"),
        "{}",
        revocation.message
    );
    assert_eq!(
        out.integration.as_ref().expect("integration").status,
        IntegrationStatus::Disconnected as i32
    );
    assert_eq!(
        stored_state(&stack, &integration.integration_id).await,
        ("disconnected".to_owned(), false)
    );
    assert!(fixture.revocations().requests() >= 1);
    assert!(fixture.revoked_tokens().is_empty());
    let events = disconnected_events(&stack, &integration.integration_id).await;
    assert_eq!(events.len(), 1);
    let recorded = revocation_of(&events[0]);
    assert_eq!(recorded["outcome"], "failed");
    assert_eq!(recorded["reason"], "PLATFORM_UNAVAILABLE");
    assert_no_token(&events[0], &token);
    assert_no_token(&format!("{out:?}"), &token);
    // The app is still installed at Shopify: the failure is what the user is told.
    fixture.revocations().clear_always();
    let client = ShopifyClient::new(
        Http::new(RetryPolicy::fast()),
        fixture.config(),
        fixture.shop(),
    );
    client.shop_info(&mut token).await.expect("still installed");
}

#[tokio::test]
async fn ads_disconnect_revokes_meta_tiktok_and_google_grants_once_each() {
    let start_day = chrono::Utc::now().date_naive() - chrono::Duration::days(10);
    let meta = MetaFixture::new(
        pp_platforms::meta::AdAccount {
            id: "act_1010101".into(),
            name: "Acme Meta".into(),
            currency: "USD".into(),
            timezone_name: "America/New_York".into(),
        },
        sample_days(
            Platform::Meta,
            "USD",
            &[("120200001", "Prospecting")],
            start_day,
            5,
        ),
    );
    let meta_running = meta.start().await.expect("meta fixture");
    let tiktok = TiktokFixture::new(
        pp_platforms::tiktok::Advertiser {
            id: "7000000000001".into(),
            name: "Acme TikTok".into(),
            currency: "USD".into(),
            timezone: "America/New_York".into(),
        },
        sample_days(
            Platform::Tiktok,
            "USD",
            &[("1790000000001", "UGC")],
            start_day,
            5,
        ),
    );
    let tiktok_running = tiktok.start().await.expect("tiktok fixture");
    let google = GoogleAdsFixture::new(
        pp_platforms::google_ads::CustomerInfo {
            id: "1234567890".into(),
            name: "Acme Google".into(),
            currency: "USD".into(),
            time_zone: "America/New_York".into(),
        },
        None,
        sample_days(
            Platform::GoogleAds,
            "USD",
            &[("9000001", "Search brand")],
            start_day,
            5,
        ),
    );
    let google_running = google.start().await.expect("google fixture");
    let mut options = StackOptions::default();
    options.platforms.meta = Some(meta.config(&meta_running));
    options.platforms.tiktok = Some(tiktok.config(&tiktok_running));
    options.platforms.google_ads = Some(google.config(&google_running));
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Ads Disconnect Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Ads").await;
    let http = Http::new(RetryPolicy::fast());

    // Meta: the app is de-authorized with the long-lived token; it is refused after.
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::MetaAds,
        "code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "{run:?}");
    let mut creds = stored_credentials(&stack, &tenant, &run.integration_id).await;
    let out = disconnect(
        &stack,
        &tenant.admin_token,
        &run.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&out), ProviderRevocationOutcome::Revoked);
    assert_eq!(meta.revocations.requests(), 1);
    assert_eq!(meta.revoked_tokens(), vec![creds.access_token.clone()]);
    let client = pp_platforms::meta::MetaClient::new(http.clone(), meta.config(&meta_running));
    assert_revoked(client.ad_accounts(&mut creds).await);
    let events = disconnected_events(&stack, &run.integration_id).await;
    assert_eq!(revocation_of(&events[0])["outcome"], "revoked");
    assert_no_token(&events[0], &creds);

    // TikTok: the long-term token is revoked; it is refused after.
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::TiktokAds,
        "auth_code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "{run:?}");
    let mut creds = stored_credentials(&stack, &tenant, &run.integration_id).await;
    let out = disconnect(
        &stack,
        &tenant.admin_token,
        &run.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&out), ProviderRevocationOutcome::Revoked);
    assert_eq!(tiktok.revocations.requests(), 1);
    assert_eq!(tiktok.revoked_tokens(), vec![creds.access_token.clone()]);
    let client =
        pp_platforms::tiktok::TiktokClient::new(http.clone(), tiktok.config(&tiktok_running));
    assert_revoked(
        client
            .advertiser_info(&mut creds, &["7000000000001".to_owned()])
            .await,
    );
    assert_no_token(
        &disconnected_events(&stack, &run.integration_id).await[0],
        &creds,
    );

    // Google: the refresh token is revoked, which ends the grant; both tokens are
    // refused after.
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::GoogleAds,
        "code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "{run:?}");
    let mut creds = stored_credentials(&stack, &tenant, &run.integration_id).await;
    let refresh = creds.refresh_token.clone().expect("offline access");
    let out = disconnect(
        &stack,
        &tenant.admin_token,
        &run.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&out), ProviderRevocationOutcome::Revoked);
    assert_eq!(google.revocations.requests(), 1);
    assert_eq!(google.revoked_tokens(), vec![refresh]);
    let client = pp_platforms::google_ads::GoogleAdsClient::new(
        http.clone(),
        google.config(&google_running),
    );
    assert_revoked(client.accessible_customers(&mut creds).await);
    assert_no_token(
        &disconnected_events(&stack, &run.integration_id).await[0],
        &creds,
    );

    // Reconnected, then Google answers 500 to every revocation: the integration is
    // disconnected here anyway, and the failure is in the response and the event.
    let run = connect_and_sync(
        &stack,
        &tenant,
        &brand.brand_id,
        WirePlatform::GoogleAds,
        "code",
    )
    .await;
    assert_eq!(run.state, SyncRunState::Succeeded as i32, "{run:?}");
    let mut creds = stored_credentials(&stack, &tenant, &run.integration_id).await;
    google.revocations.always(Fault::ServerError);
    let before = google.revocations.requests();
    let out = disconnect(
        &stack,
        &tenant.admin_token,
        &run.integration_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(outcome(&out), ProviderRevocationOutcome::Failed);
    assert_eq!(
        out.provider_revocation.as_ref().expect("revocation").reason,
        "PLATFORM_UNAVAILABLE"
    );
    assert!(google.revocations.requests() > before);
    assert_eq!(google.revoked_tokens().len(), 1, "nothing more was revoked");
    assert_eq!(
        stored_state(&stack, &run.integration_id).await,
        ("disconnected".to_owned(), false)
    );
    let events = disconnected_events(&stack, &run.integration_id).await;
    assert_eq!(revocation_of(&events[0])["outcome"], "failed");
    assert_no_token(&events[0], &creds);
    assert_no_token(&format!("{out:?}"), &creds);
    google.revocations.clear_always();
    client
        .accessible_customers(&mut creds)
        .await
        .expect("the grant is still alive at google");
}
