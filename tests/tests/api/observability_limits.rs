//! The bounds of the observability service: live tails that end with their
//! credentials and are capped, summaries over bounded ranges, brand scopes, and the
//! ingest refusing what it must not store.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pp_events::EventEnvelope;
use pp_events::consumer::Delivery;
use pp_proto::auth::{DeactivateUserRequest, LoginRequest, LogoutRequest};
use pp_proto::common::{Role as ProtoRole, TimeRange};
use pp_proto::observability::observability_service_client::ObservabilityServiceClient;
use pp_proto::observability::*;
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::codec::Streaming;
use uuid::Uuid;

use crate::support::*;

type Tail = Streaming<StreamEventsResponse>;

async fn open_tail(stack: &Stack, token: &str) -> Result<Tail, tonic::Status> {
    let mut client = stack.observability().await.expect("client");
    client
        .stream_events(authed(token, StreamEventsRequest::default()))
        .await
        .map(tonic::Response::into_inner)
}

/// Ingests an event of `tenant` and waits until `tail` delivers it: the tail is live.
async fn assert_live(stack: &Stack, tenant: &str, tail: &mut Tail) {
    let event = EventEnvelope::new(tenant.parse().expect("uuid"), "probe.sent", json!({}));
    pulsepoint_observability::ingest(&stack.observability, &event)
        .await
        .expect("ingest");
    let got = tokio::time::timeout(Duration::from_secs(5), tail.next())
        .await
        .expect("the tail delivers")
        .expect("open")
        .expect("an event");
    assert_eq!(
        got.event.expect("event").event_id,
        event.event_id.to_string()
    );
}

/// The status a tail ends with, waiting at most `within`.
async fn end_of(tail: &mut Tail, within: Duration) -> tonic::Status {
    let ended = tokio::time::timeout(within, async {
        loop {
            match tail.next().await {
                Some(Ok(_)) => continue,
                Some(Err(status)) => return Some(status),
                None => return None,
            }
        }
    })
    .await
    .expect("the stream ended in time");
    ended.expect("the stream ended with a status, not silently")
}

/// An access token of `token`'s user with its claims edited, signed by the stack's key.
fn resigned(stack: &Stack, token: &str, edit: impl Fn(&mut Value)) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
    edit(&mut claims);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(stack.signing_key.kid().to_owned());
    let key = EncodingKey::from_ed_pem(stack.signing_key.to_pkcs8_pem().as_bytes()).expect("pem");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

#[tokio::test]
async fn a_stream_ends_unauthenticated_after_logout() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let tokens = stack
        .auth()
        .await
        .expect("auth")
        .login(LoginRequest {
            email: tenant.admin_email.clone(),
            password: PASSWORD.into(),
            tenant_id: String::new(),
        })
        .await
        .expect("login")
        .into_inner()
        .tokens
        .expect("tokens");
    let mut tail = open_tail(&stack, &tokens.access_token).await.expect("open");
    assert_live(&stack, &tenant.tenant_id, &mut tail).await;
    stack
        .auth()
        .await
        .expect("auth")
        .logout(authed(
            &tokens.access_token,
            LogoutRequest {
                refresh_token: tokens.refresh_token,
            },
        ))
        .await
        .expect("logout");
    // Re-checked every second through caches of 0.5 s each: ~2 s, with slack.
    let status = end_of(&mut tail, Duration::from_secs(4)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        pp_error::error_reason(&status).as_deref(),
        Some("TOKEN_REVOKED")
    );
}

#[tokio::test]
async fn a_stream_ends_unauthenticated_after_its_user_is_deactivated() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let (analyst, token) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let mut tail = open_tail(&stack, &token).await.expect("open");
    assert_live(&stack, &tenant.tenant_id, &mut tail).await;
    stack
        .auth()
        .await
        .expect("auth")
        .deactivate_user(authed(
            &tenant.admin_token,
            DeactivateUserRequest { user_id: analyst },
        ))
        .await
        .expect("deactivate");
    let status = end_of(&mut tail, Duration::from_secs(4)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let now = chrono::Utc::now().timestamp();
    let short = resigned(&stack, &tenant.admin_token, |claims| {
        claims["exp"] = json!(now + 2);
    });
    let mut tail = open_tail(&stack, &short).await.expect("open");
    let status = end_of(&mut tail, Duration::from_secs(6)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        pp_error::error_reason(&status).as_deref(),
        Some("TOKEN_EXPIRED")
    );
}

#[tokio::test]
async fn streams_per_user_are_capped_and_a_dropped_stream_frees_its_slot() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let cap = pulsepoint_observability::StreamLimits::default().per_user;
    let mut open = Vec::new();
    for _ in 0..cap {
        open.push(open_tail(&stack, &tenant.admin_token).await.expect("open"));
    }
    let refused = open_tail(&stack, &tenant.admin_token).await;
    let status = assert_code(refused, Code::ResourceExhausted);
    assert!(
        pp_error::retry_delay(&status).is_some(),
        "RetryInfo: {status:?}"
    );
    // Another user of the tenant has slots of their own.
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    open_tail(&stack, &analyst).await.expect("another user");

    // The server frees the slot once it sees the stream gone.
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(tail) = open_tail(&stack, &tenant.admin_token).await {
            reopened = Some(tail);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a dropped stream frees its slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_told_how_many_events_it_missed() {
    let stack = spawn_stack(StackOptions {
        observability_streams: pulsepoint_observability::StreamLimits {
            buffer: 64,
            ..Default::default()
        },
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    // Small HTTP/2 windows, so the reader's not reading holds the server back.
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", stack.observability_addr))
            .expect("endpoint")
            .initial_stream_window_size(Some(65_535))
            .initial_connection_window_size(Some(65_535))
            .connect()
            .await
            .expect("channel");
    let mut tail = ObservabilityServiceClient::new(channel)
        .stream_events(authed(&tenant.admin_token, StreamEventsRequest::default()))
        .await
        .expect("open")
        .into_inner();
    let tenant_id: Uuid = tenant.tenant_id.parse().expect("uuid");
    const SENT: usize = 20_000;
    for _ in 0..SENT / 500 {
        let batch: Vec<EventEnvelope> = (0..500)
            .map(|i| EventEnvelope::new(tenant_id, "load.tick", json!({ "i": i })))
            .collect();
        pulsepoint_observability::ingest::ingest_batch(&stack.observability, &batch)
            .await
            .expect("ingest");
    }
    let mut received = 0;
    let status = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match tail.next().await {
                Some(Ok(_)) => received += 1,
                Some(Err(status)) => return status,
                None => panic!("the stream ended silently after {received} events"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no end after {received} of {SENT} events: a silent gap"));
    assert_eq!(status.code(), Code::DataLoss, "{status:?}");
    assert!(status.message().contains("missed"), "{status:?}");
    assert!(received < SENT, "some events were missed: {received}");
}

fn range_of(days_ago: i64, days: i64) -> TimeRange {
    let end = chrono::Utc::now() - chrono::Duration::days(days_ago);
    let start = end - chrono::Duration::days(days);
    TimeRange {
        start_time: Some(pp_types::convert::timestamp(start)),
        end_time: Some(pp_types::convert::timestamp(end)),
    }
}

#[tokio::test]
async fn summaries_default_to_the_last_30_days_and_refuse_longer_ranges_than_the_cap() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let tenant_id: Uuid = tenant.tenant_id.parse().expect("uuid");
    let mut old = EventEnvelope::new(
        tenant_id,
        "ai.model_called",
        json!({"model": "m", "operation": "o", "cost_micros": 7, "duration_ms": 3.0}),
    );
    old.occurred_at = chrono::Utc::now() - chrono::Duration::days(45);
    let recent = EventEnvelope::new(
        tenant_id,
        "ai.model_called",
        json!({"model": "m", "operation": "o", "cost_micros": 5, "duration_ms": 3.0}),
    );
    for event in [&old, &recent] {
        pulsepoint_observability::ingest(&stack.observability, event)
            .await
            .expect("ingest");
    }
    let mut client = stack.observability().await.expect("client");
    let usage = |range: Option<TimeRange>| GetUsageSummaryRequest {
        time_range: range,
        ..Default::default()
    };
    let default = client
        .get_usage_summary(authed(&tenant.admin_token, usage(None)))
        .await
        .expect("usage")
        .into_inner()
        .totals
        .expect("totals");
    assert_eq!(default.request_count, 1, "only the last 30 days by default");
    let wide = client
        .get_usage_summary(authed(&tenant.admin_token, usage(Some(range_of(0, 60)))))
        .await
        .expect("usage")
        .into_inner()
        .totals
        .expect("totals");
    assert_eq!(wide.request_count, 2);

    let too_long = client
        .get_usage_summary(authed(&tenant.admin_token, usage(Some(range_of(0, 401)))))
        .await;
    assert_invalid(too_long, "time_range");
    let too_long = client
        .get_accuracy_summary(authed(
            &tenant.admin_token,
            GetAccuracySummaryRequest {
                time_range: Some(range_of(0, 401)),
                ..Default::default()
            },
        ))
        .await;
    assert_invalid(too_long, "time_range");
    let too_long = client
        .get_latency_summary(authed(
            &tenant.admin_token,
            GetLatencySummaryRequest {
                time_range: Some(range_of(0, 32)),
                ..Default::default()
            },
        ))
        .await;
    assert_invalid(too_long, "time_range");
    let latency = client
        .get_latency_summary(authed(
            &tenant.admin_token,
            GetLatencySummaryRequest::default(),
        ))
        .await
        .expect("latency")
        .into_inner();
    assert_eq!(
        latency.ai_operations.iter().map(|s| s.count).sum::<i64>(),
        1
    );
}

/// 1M events; 20 summaries cancelled by their 1 s deadline; 2 s later none of their
/// queries is still running (the pools' statement_timeout of 1 s is the bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_summaries_over_a_million_events_leave_no_query_running() {
    let stack = spawn_stack(StackOptions {
        database_statement_timeout: Duration::from_secs(1),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let owner = stack.db.owner_pool().await.expect("owner");
    let mut tx = owner.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(&tenant.tenant_id)
        .execute(&mut *tx)
        .await
        .expect("tenant");
    let started = std::time::Instant::now();
    sqlx::query(
        "insert into observability.events (tenant_id, event_id, event_type, occurred_at, status, payload)
         select $1::uuid, gen_random_uuid(), 'ai.model_called',
                now() - (i % 365) * interval '1 day' - (i % 86400) * interval '1 second',
                case when i % 50 = 0 then 'error' else 'ok' end,
                jsonb_build_object('model', 'model-' || (i % 7), 'operation', 'op-' || (i % 13),
                                   'input_tokens', i % 1000, 'output_tokens', i % 300,
                                   'cost_micros', i % 5000, 'duration_ms', (i % 2000)::float8)
         from generate_series(1, 1000000) as i",
    )
    .bind(&tenant.tenant_id)
    .execute(&mut *tx)
    .await
    .expect("1M events");
    tx.commit().await.expect("commit");
    sqlx::query("analyze observability.events")
        .execute(&owner)
        .await
        .expect("analyze");
    eprintln!("inserted 1M events in {:?}", started.elapsed());

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..20 {
        let mut client = stack.observability().await.expect("client");
        let token = tenant.admin_token.clone();
        calls.spawn(async move {
            let started = std::time::Instant::now();
            let code = if i % 2 == 0 {
                let mut request = authed(
                    &token,
                    GetUsageSummaryRequest {
                        time_range: Some(range_of(0, 400)),
                        group_by: vec![
                            UsageDimension::Day as i32,
                            UsageDimension::Model as i32,
                            UsageDimension::Operation as i32,
                        ],
                        ..Default::default()
                    },
                );
                request.set_timeout(Duration::from_secs(1));
                client.get_usage_summary(request).await.map(drop)
            } else {
                let mut request = authed(
                    &token,
                    GetLatencySummaryRequest {
                        time_range: Some(range_of(0, 31)),
                        ..Default::default()
                    },
                );
                request.set_timeout(Duration::from_secs(1));
                client.get_latency_summary(request).await.map(drop)
            };
            (code.map_err(|s| s.code()), started.elapsed())
        });
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = calls.join_next().await {
        outcomes.push(outcome.expect("join"));
    }
    let admin = pp_db::connect(&pp_testkit::admin_url(), 1)
        .await
        .expect("admin");
    let running = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity
             where datname = $1 and usename = 'pp_observability' and state = 'active'
               and query like '%observability.events%'",
        )
        .bind(&stack.db.name)
        .fetch_one(&admin)
        .await
        .expect("pg_stat_activity")
    };
    // What is left running after the callers gave up (printed: a measurement, not a
    // check; run with --no-capture to see it).
    let gave_up = std::time::Instant::now();
    let mut samples = Vec::new();
    while gave_up.elapsed() < Duration::from_secs(2) {
        samples.push((gave_up.elapsed().as_millis(), running().await));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("outcomes: {outcomes:?}");
    eprintln!("summary queries still running (ms after the calls returned, count): {samples:?}");
    let later = running().await;
    assert_eq!(
        later, 0,
        "summary queries still running 2 s after their callers gave up"
    );
}

#[tokio::test]
async fn a_brand_scoped_token_sees_only_its_brands() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let tenant_id: Uuid = tenant.tenant_id.parse().expect("uuid");
    let mine = create_brand(&stack, &tenant.admin_token, "Mine")
        .await
        .brand_id;
    let other = create_brand(&stack, &tenant.admin_token, "Other")
        .await
        .brand_id;
    let scoped = resigned(&stack, &tenant.admin_token, |claims| {
        claims["brands"] = json!([mine]);
    });
    let call = |brand: Option<&str>, cost: i64| {
        let event = EventEnvelope::new(
            tenant_id,
            "ai.model_called",
            json!({"model": "m", "operation": "o", "cost_micros": cost, "duration_ms": 1.0}),
        );
        match brand {
            Some(brand) => event.with_brand(brand.parse().expect("uuid")),
            None => event,
        }
    };
    let mut tail = open_tail(&stack, &scoped).await.expect("open");
    // Tenant-level (no brand) and the other brand's events are outside the scope.
    for event in [
        call(None, 400),
        call(Some(&other), 200),
        call(Some(&mine), 100),
    ] {
        pulsepoint_observability::ingest(&stack.observability, &event)
            .await
            .expect("ingest");
    }
    let first = tokio::time::timeout(Duration::from_secs(5), tail.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("ok")
        .event
        .expect("event");
    assert_eq!(
        first.brand_id, mine,
        "the first event the scoped tail sees is its brand's"
    );

    let listed = events_of(&stack, &scoped, &["ai.model_called"]).await;
    assert_eq!(
        listed
            .iter()
            .map(|e| e.brand_id.as_str())
            .collect::<Vec<_>>(),
        vec![mine.as_str()]
    );
    assert_eq!(
        events_of(&stack, &tenant.admin_token, &["ai.model_called"])
            .await
            .len(),
        3,
        "an unscoped token sees the whole tenant"
    );
    let mut client = stack.observability().await.expect("client");
    let totals = client
        .get_usage_summary(authed(&scoped, GetUsageSummaryRequest::default()))
        .await
        .expect("usage")
        .into_inner()
        .totals
        .expect("totals");
    assert_eq!(
        (totals.request_count, totals.cost.expect("cost").nanos),
        (1, 100_000)
    );
    let asked_for_other = client
        .list_events(authed(
            &scoped,
            ListEventsRequest {
                brand_id: other.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(
        asked_for_other.events.is_empty(),
        "another brand is simply absent"
    );
    let latency = client
        .get_latency_summary(authed(&scoped, GetLatencySummaryRequest::default()))
        .await
        .expect("latency")
        .into_inner();
    assert_eq!(
        latency.ai_operations.iter().map(|s| s.count).sum::<i64>(),
        1
    );
}

#[tokio::test]
async fn an_ai_call_with_a_negative_cost_is_refused_and_counted() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let tenant_id: Uuid = tenant.tenant_id.parse().expect("uuid");
    let mut client = stack.observability().await.expect("client");
    set_budget_of_one_dollar(&mut client, &tenant.admin_token).await;
    let paid = EventEnvelope::new(tenant_id, "ai.model_called", json!({"cost_micros": 1_000}));
    let refund = EventEnvelope::new(tenant_id, "ai.model_called", json!({"cost_micros": -500}));
    assert!(
        pulsepoint_observability::ingest(&stack.observability, &paid)
            .await
            .expect("ingest")
    );
    assert!(
        !pulsepoint_observability::ingest(&stack.observability, &refund)
            .await
            .expect("a refused event is not an error (it is acked away)"),
        "a negative cost is not stored"
    );
    assert_eq!(stack.observability.refusals.malformed(), 1);
    let spent = client
        .get_cost_budget(authed(&tenant.admin_token, GetCostBudgetRequest::default()))
        .await
        .expect("budget")
        .into_inner()
        .budget
        .expect("budget")
        .spent
        .expect("spent");
    assert_eq!(
        (spent.units, spent.nanos),
        (0, 1_000_000),
        "spend never goes down"
    );
    let listed = events_of(&stack, &tenant.admin_token, &["ai.model_called"]).await;
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_delivery_whose_envelope_names_another_tenant_than_its_attribute_is_refused() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let a = sign_up(&stack, "A").await;
    let b = sign_up(&stack, "B").await;
    let forged = EventEnvelope::new(
        b.tenant_id.parse().expect("uuid"),
        "data.sync_completed",
        json!({}),
    );
    let honest = EventEnvelope::new(
        a.tenant_id.parse().expect("uuid"),
        "data.sync_completed",
        json!({}),
    );
    let deliveries = vec![
        Delivery {
            event: forged.clone(),
            traceparent: None,
            tenant_attribute: Some(a.tenant_id.clone()),
        },
        Delivery {
            event: honest.clone(),
            traceparent: None,
            tenant_attribute: Some(a.tenant_id.clone()),
        },
    ];
    let stored = pulsepoint_observability::store_deliveries(&stack.observability, deliveries)
        .await
        .expect("the batch is handled (the forged message is acked away)");
    assert_eq!(stored, 1, "only the honest event");
    assert_eq!(stack.observability.refusals.tenant_mismatch(), 1);
    let in_b = events_of(&stack, &b.admin_token, &["data.sync_completed"]).await;
    assert!(in_b.is_empty(), "{in_b:?}");
    let in_a = events_of(&stack, &a.admin_token, &["data.sync_completed"]).await;
    assert_eq!(
        in_a.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>(),
        vec![honest.event_id.to_string()]
    );
}

#[tokio::test]
async fn an_event_type_ending_in_a_dot_filters_by_prefix() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let tenant_id: Uuid = tenant.tenant_id.parse().expect("uuid");
    let ai = EventEnvelope::new(tenant_id, "ai.model_called", json!({}));
    let other = EventEnvelope::new(tenant_id, "aix.other", json!({}));
    for event in [&ai, &other] {
        pulsepoint_observability::ingest(&stack.observability, event)
            .await
            .expect("ingest");
    }
    let listed = events_of(&stack, &tenant.admin_token, &["ai."]).await;
    assert_eq!(
        listed
            .iter()
            .map(|e| e.event_id.clone())
            .collect::<Vec<_>>(),
        vec![ai.event_id.to_string()]
    );
    let mut client = stack.observability().await.expect("client");
    let mut tail = client
        .stream_events(authed(
            &tenant.admin_token,
            StreamEventsRequest {
                event_types: vec!["ai.".into()],
                ..Default::default()
            },
        ))
        .await
        .expect("open")
        .into_inner();
    let later_other = EventEnvelope::new(tenant_id, "aix.other", json!({}));
    let later_ai = EventEnvelope::new(tenant_id, "ai.answer_generated", json!({}));
    for event in [&later_other, &later_ai] {
        pulsepoint_observability::ingest(&stack.observability, event)
            .await
            .expect("ingest");
    }
    let first = tokio::time::timeout(Duration::from_secs(5), tail.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("ok");
    assert_eq!(
        first.event.expect("event").event_id,
        later_ai.event_id.to_string()
    );
}

#[tokio::test]
async fn a_producers_own_failure_word_is_stored_and_filtered_as_a_failure() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut failed = EventEnvelope::new(
        tenant.tenant_id.parse().expect("uuid"),
        "data.sync_failed",
        json!({}),
    );
    failed.status = "failed".into();
    pulsepoint_observability::ingest(&stack.observability, &failed)
        .await
        .expect("ingest");
    let listed = stack
        .observability()
        .await
        .expect("client")
        .list_events(authed(
            &tenant.admin_token,
            ListEventsRequest {
                status: EventStatus::Failure as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .events;
    assert_eq!(
        listed
            .iter()
            .map(|e| e.event_id.clone())
            .collect::<Vec<_>>(),
        vec![failed.event_id.to_string()]
    );
}
