//! The event store and what it answers: per tenant, exactly, once per event.

use std::time::Duration;

use pp_events::EventEnvelope;
use pp_proto::common::Money;
use pp_proto::observability::observability_service_client::ObservabilityServiceClient;
use pp_proto::observability::*;
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::Code;
use uuid::Uuid;

use crate::support::*;

// One row of a fixture table per call reads better than a builder here.
#[allow(clippy::too_many_arguments)]
fn ai_call(
    tenant: &str,
    user: &str,
    model: &str,
    operation: &str,
    input: i64,
    output: i64,
    cost_micros: i64,
    latency_ms: f64,
) -> EventEnvelope {
    EventEnvelope::new(
        tenant.parse().expect("tenant"),
        "ai.model_called",
        json!({
            "provider": "anthropic", "model": model, "operation": operation,
            "input_tokens": input, "output_tokens": output, "cost_micros": cost_micros,
            "duration_ms": latency_ms,
        }),
    )
    .with_user(user.parse().expect("user"))
}

#[tokio::test]
async fn events_are_stored_once_and_listed_only_to_their_tenant() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let a = sign_up(&stack, "A").await;
    let b = sign_up(&stack, "B").await;
    let event = EventEnvelope::new(
        a.tenant_id.parse().expect("uuid"),
        "data.sync_completed",
        json!({ "records_written": 42 }),
    );
    assert!(
        pulsepoint_observability::ingest(&stack.observability, &event)
            .await
            .expect("ingest")
    );
    assert!(
        !pulsepoint_observability::ingest(&stack.observability, &event)
            .await
            .expect("redelivery"),
        "a redelivered event is stored once"
    );
    let mut failed = EventEnvelope::new(
        a.tenant_id.parse().expect("uuid"),
        "data.sync_failed",
        json!({}),
    );
    failed.status = "error".into();
    pulsepoint_observability::ingest(&stack.observability, &failed)
        .await
        .expect("ingest");
    let theirs = EventEnvelope::new(
        b.tenant_id.parse().expect("uuid"),
        "data.sync_completed",
        json!({}),
    );
    pulsepoint_observability::ingest(&stack.observability, &theirs)
        .await
        .expect("ingest");

    let mut client = stack.observability().await.expect("client");
    let types = vec![
        "data.sync_completed".to_owned(),
        "data.sync_failed".to_owned(),
    ];
    let listed = client
        .list_events(authed(
            &a.admin_token,
            ListEventsRequest {
                event_types: types.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.events.len(), 2);
    assert!(listed.events.iter().all(|e| e.tenant_id == a.tenant_id));
    assert_eq!(
        listed.events[0].event_type, "data.sync_failed",
        "newest first"
    );
    let failures = client
        .list_events(authed(
            &a.admin_token,
            ListEventsRequest {
                event_types: types.clone(),
                status: EventStatus::Failure as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(failures.events.len(), 1);
    let page = client
        .list_events(authed(
            &a.admin_token,
            ListEventsRequest {
                event_types: types.clone(),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("page")
        .into_inner();
    let next = client
        .list_events(authed(
            &a.admin_token,
            ListEventsRequest {
                event_types: types,
                page_size: 1,
                page_token: page.next_page_token,
                ..Default::default()
            },
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(next.events[0].event_id, event.event_id.to_string());
    let for_b = client
        .list_events(authed(&b.admin_token, ListEventsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(for_b.events.iter().all(|e| e.tenant_id == b.tenant_id));
    assert_invalid(
        client
            .list_events(authed(
                &a.admin_token,
                ListEventsRequest {
                    brand_id: "nope".into(),
                    ..Default::default()
                },
            ))
            .await,
        "brand_id",
    );
}

/// Writes `events` into the observability schema's outbox, each in its tenant's
/// transaction, and waits until the subscriber has stored every one of them.
async fn publish_through_outbox(stack: &Stack, events: &[EventEnvelope]) {
    use pp_auth::TenantId;
    use pp_db::TenantTx;
    let pool = stack.db.pool_as("observability", 2).await.expect("pool");
    for event in events {
        let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(event.tenant_id))
            .await
            .expect("tx");
        pp_events::outbox::record(&mut tx, "observability", event)
            .await
            .expect("record");
        tx.commit().await.expect("commit");
    }
    for _ in 0..200 {
        let mut stored = 0;
        for event in events {
            let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(event.tenant_id))
                .await
                .expect("tx");
            let found: i64 =
                sqlx::query_scalar("select count(*) from observability.events where event_id = $1")
                    .bind(event.event_id)
                    .fetch_one(tx.conn())
                    .await
                    .expect("count");
            tx.commit().await.expect("commit");
            stored += found;
        }
        if stored == events.len() as i64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not every event reached the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_latency_and_accuracy_match_the_ai_events_exactly() {
    // The events travel as the insights service's will: outbox → relay → Pub/Sub →
    // subscriber → store.
    let emulator = tokio::task::spawn_blocking(pp_testkit::PubSubEmulator::start)
        .await
        .expect("join")
        .expect("emulator");
    let options = StackOptions {
        pubsub_emulator: Some(emulator.host()),
        ..StackOptions::default()
    };
    let stack = spawn_stack(options).await.expect("stack");
    let a = sign_up(&stack, "A").await;
    let b = sign_up(&stack, "B").await;
    let mut events = vec![
        ai_call(
            &a.tenant_id,
            &a.admin_id,
            "claude-sonnet",
            "answer",
            1200,
            300,
            8_100,
            900.0,
        ),
        ai_call(
            &a.tenant_id,
            &a.admin_id,
            "claude-sonnet",
            "answer",
            800,
            200,
            5_400,
            1100.0,
        ),
        ai_call(
            &a.tenant_id,
            &a.admin_id,
            "claude-haiku",
            "classify",
            100,
            10,
            150,
            100.0,
        ),
        ai_call(
            &b.tenant_id,
            &b.admin_id,
            "claude-sonnet",
            "answer",
            99_999,
            99_999,
            9_999_999,
            5.0,
        ),
    ];
    let tenant: Uuid = a.tenant_id.parse().expect("uuid");
    for (rating, actionable, category) in [
        (5, true, "revenue"),
        (4, false, "revenue"),
        (2, true, "inventory"),
    ] {
        let feedback = EventEnvelope::new(
            tenant,
            "ai.feedback_provided",
            json!({ "rating": rating, "actionable": actionable, "category": category }),
        );
        events.push(feedback);
    }
    for answerable in [true, true, false] {
        let answer = EventEnvelope::new(
            tenant,
            "ai.answer_generated",
            json!({ "answerable": answerable, "category": "revenue" }),
        );
        events.push(answer);
    }

    publish_through_outbox(&stack, &events).await;
    let mut client = stack.observability().await.expect("client");
    let usage = client
        .get_usage_summary(authed(
            &a.admin_token,
            GetUsageSummaryRequest {
                group_by: vec![UsageDimension::Model as i32],
                ..Default::default()
            },
        ))
        .await
        .expect("usage")
        .into_inner();
    let totals = usage.totals.expect("totals");
    assert_eq!(
        (
            totals.input_tokens,
            totals.output_tokens,
            totals.request_count
        ),
        (2100, 510, 3)
    );
    let cost = totals.cost.expect("cost");
    assert_eq!(
        (cost.units, cost.nanos),
        (0, 13_650_000),
        "0.01365 USD, exactly"
    );
    let by_model: Vec<(String, i64)> = usage
        .groups
        .iter()
        .map(|g| {
            (
                g.key.clone().expect("key").model,
                g.totals.clone().expect("t").input_tokens,
            )
        })
        .collect();
    assert_eq!(
        by_model,
        vec![
            ("claude-haiku".to_owned(), 100),
            ("claude-sonnet".to_owned(), 2000)
        ]
    );

    let latency = client
        .get_latency_summary(authed(&a.admin_token, GetLatencySummaryRequest::default()))
        .await
        .expect("latency")
        .into_inner();
    let answer = latency
        .ai_operations
        .iter()
        .find(|s| s.name == "answer")
        .expect("answer op");
    assert_eq!(answer.count, 2);
    assert_eq!(answer.max.expect("max").seconds, 1, "1100 ms");
    assert_eq!(
        answer.p50.expect("p50").seconds,
        1,
        "median of 900 and 1100 is 1000 ms"
    );

    let accuracy = client
        .get_accuracy_summary(authed(
            &a.admin_token,
            GetAccuracySummaryRequest {
                trend_interval: TrendInterval::Day as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("accuracy")
        .into_inner();
    let overall = accuracy.overall.expect("overall");
    assert_eq!(overall.feedback_count, 3);
    assert!((overall.average_rating - 11.0 / 3.0).abs() < 1e-9);
    assert!((overall.actionable_ratio - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(overall.answer_count, 3);
    assert!((overall.unanswerable_ratio - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        overall
            .distribution
            .iter()
            .map(|r| r.count)
            .collect::<Vec<_>>(),
        vec![0, 1, 0, 1, 1]
    );
    let revenue = accuracy
        .by_category
        .iter()
        .find(|c| c.category == "revenue")
        .expect("revenue");
    assert_eq!(revenue.stats.clone().expect("stats").feedback_count, 2);
    assert_eq!(accuracy.trend.len(), 1);

    // B's enormous call is B's alone.
    let b_usage = client
        .get_usage_summary(authed(&b.admin_token, GetUsageSummaryRequest::default()))
        .await
        .expect("usage")
        .into_inner();
    assert_eq!(b_usage.totals.expect("totals").input_tokens, 99_999);
}

#[tokio::test]
async fn budgets_alert_once_per_threshold_and_block_only_their_tenant() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let a = sign_up(&stack, "A").await;
    let b = sign_up(&stack, "B").await;
    let mut client = stack.observability().await.expect("client");
    let set = set_budget_of_one_dollar(&mut client, &a.admin_token).await;
    assert!(
        (set.warning_ratio - 0.8).abs() < 1e-9,
        "default warning at 80%"
    );

    // 0.50 + 0.35 = 85% (warning), + 0.10 = 95%, + 0.20 = 115% (limit), + 0.05.
    for cost in [500_000, 350_000, 100_000, 200_000, 50_000] {
        let call = ai_call(
            &a.tenant_id,
            &a.admin_id,
            "claude-sonnet",
            "answer",
            10,
            10,
            cost,
            10.0,
        );
        pulsepoint_observability::ingest(&stack.observability, &call)
            .await
            .expect("ingest");
    }
    let alerts = events_of(
        &stack,
        &a.admin_token,
        &["budget.warning", "budget.limit_reached"],
    )
    .await;
    let mut kinds: Vec<String> = alerts.iter().map(|e| e.event_type.clone()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec!["budget.limit_reached", "budget.warning"],
        "one alert per threshold, not one per call"
    );

    let over = check_budget(&mut client, &a.admin_token, 0, 10_000_000).await;
    assert!(!over.allowed, "past the hard cap the answer is no");
    assert!(over.retry_time.is_some());
    assert!(
        check_budget(&mut client, &b.admin_token, 0, 10_000_000)
            .await
            .allowed,
        "another tenant is not affected"
    );
    let got = client
        .get_cost_budget(authed(&a.admin_token, GetCostBudgetRequest::default()))
        .await
        .expect("get")
        .into_inner()
        .budget
        .expect("budget");
    let spent = got.spent.expect("spent");
    assert_eq!((spent.units, spent.nanos), (1, 200_000_000));
    assert_code(
        client
            .get_cost_budget(authed(&b.admin_token, GetCostBudgetRequest::default()))
            .await,
        Code::NotFound,
    );
}

/// CheckBudget for an estimated cost of `units` + `nanos` USD.
async fn check_budget(
    client: &mut ObservabilityServiceClient<tonic::transport::Channel>,
    token: &str,
    units: i64,
    nanos: i32,
) -> CheckBudgetResponse {
    client
        .check_budget(authed(
            token,
            CheckBudgetRequest {
                estimated_cost: Some(Money {
                    currency_code: "USD".into(),
                    units,
                    nanos,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("check")
        .into_inner()
}

async fn spent_micros(
    client: &mut ObservabilityServiceClient<tonic::transport::Channel>,
    token: &str,
) -> i64 {
    let spent = client
        .get_cost_budget(authed(token, GetCostBudgetRequest::default()))
        .await
        .expect("get budget")
        .into_inner()
        .budget
        .expect("budget")
        .spent
        .expect("spent");
    spent.units * 1_000_000 + i64::from(spent.nanos) / 1_000
}

#[tokio::test]
async fn batches_with_redeliveries_count_each_ai_call_once_toward_spend() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let a = sign_up(&stack, "A").await;
    let b = sign_up(&stack, "B").await;
    let mut client = stack.observability().await.expect("client");
    set_budget_of_one_dollar(&mut client, &a.admin_token).await;
    set_budget_of_one_dollar(&mut client, &b.admin_token).await;
    let call = |tenant: &str, user: &str, cost| {
        ai_call(tenant, user, "claude-haiku", "answer", 1, 1, cost, 5.0)
    };
    let (c1, c2, c3) = (
        call(&a.tenant_id, &a.admin_id, 100_000),
        call(&a.tenant_id, &a.admin_id, 20_000),
        call(&a.tenant_id, &a.admin_id, 3_000),
    );
    let theirs = call(&b.tenant_id, &b.admin_id, 400_000);

    // One delivered batch: two tenants, an event twice.
    let first = [c1.clone(), theirs.clone(), c2.clone(), c1.clone()];
    let new = pulsepoint_observability::ingest::ingest_batch(&stack.observability, &first)
        .await
        .expect("batch");
    assert_eq!(new, 3, "c1, c2 and theirs are new; the second c1 is not");
    // A redelivery overlapping the first batch, with one new call.
    let second = [c2.clone(), c3.clone(), theirs.clone()];
    let new = pulsepoint_observability::ingest::ingest_batch(&stack.observability, &second)
        .await
        .expect("batch");
    assert_eq!(new, 1, "only c3 is new");

    assert_eq!(spent_micros(&mut client, &a.admin_token).await, 123_000);
    assert_eq!(spent_micros(&mut client, &b.admin_token).await, 400_000);
    let listed = events_of(&stack, &a.admin_token, &["ai.model_called"]).await;
    assert_eq!(listed.len(), 3, "each call stored once");

    // The running total is what CheckBudget decides on: 0.877 left of 1.00.
    assert!(
        check_budget(&mut client, &a.admin_token, 0, 877_000_000)
            .await
            .allowed,
        "exactly the remainder fits"
    );
    assert!(
        !check_budget(&mut client, &a.admin_token, 0, 877_001_000)
            .await
            .allowed,
        "a micro more does not"
    );
}

#[tokio::test]
async fn the_spend_migration_backfills_ai_calls_stored_before_it() {
    let db = pp_testkit::TestDb::create().await.expect("db");
    let migrations = pulsepoint_observability::MIGRATIONS;
    let before: Vec<_> = migrations
        .iter()
        .filter(|m| m.version < 2)
        .cloned()
        .collect();
    db.migrate("observability", &before)
        .await
        .expect("migrate v1");
    let pool = db.pool_as("observability", 1).await.expect("pool");
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for (tenant, cost) in [(a, 700), (a, 50), (b, 9)] {
        let mut tx = pp_db::TenantTx::begin_for_tenant(&pool, pp_auth::TenantId(tenant))
            .await
            .expect("tx");
        sqlx::query(
            "insert into observability.events (tenant_id, event_id, event_type, occurred_at, payload)
             values ($1, $2, 'ai.model_called', now(), $3)",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(json!({ "cost_micros": cost }))
        .execute(tx.conn())
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
    }
    db.migrate("observability", migrations)
        .await
        .expect("migrate all");
    for (tenant, want) in [(a, 750_i64), (b, 9)] {
        let mut tx = pp_db::TenantTx::begin_for_tenant(&pool, pp_auth::TenantId(tenant))
            .await
            .expect("tx");
        let (cost, calls): (i64, i64) = sqlx::query_as(
            "select coalesce(sum(cost_micros), 0)::bigint, coalesce(sum(calls), 0)::bigint
             from observability.ai_spend_daily",
        )
        .fetch_one(tx.conn())
        .await
        .expect("spend");
        assert_eq!((cost, calls), (want, if tenant == a { 2 } else { 1 }));
        tx.commit().await.expect("commit");
    }
    // RLS is forced again after the backfill: the owner sees nothing without a tenant.
    let owner = db.owner_pool().await.expect("owner");
    let visible: i64 = sqlx::query_scalar("select count(*) from observability.ai_spend_daily")
        .fetch_one(&owner)
        .await
        .expect("count");
    assert_eq!(visible, 0, "forced RLS restored on ai_spend_daily");
    let visible: i64 = sqlx::query_scalar("select count(*) from observability.events")
        .fetch_one(&owner)
        .await
        .expect("count");
    assert_eq!(visible, 0, "forced RLS restored on events");
}

#[tokio::test]
async fn live_tail_shows_only_the_callers_tenant() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let a = sign_up(&stack, "A").await;
    let b = sign_up(&stack, "B").await;
    let mut client = stack.observability().await.expect("client");
    let mut stream = client
        .stream_events(authed(
            &a.admin_token,
            StreamEventsRequest {
                event_types: vec!["data.sync_started".into()],
                ..Default::default()
            },
        ))
        .await
        .expect("stream")
        .into_inner();
    let theirs = EventEnvelope::new(
        b.tenant_id.parse().expect("uuid"),
        "data.sync_started",
        json!({}),
    );
    let ours = EventEnvelope::new(
        a.tenant_id.parse().expect("uuid"),
        "data.sync_started",
        json!({}),
    );
    pulsepoint_observability::ingest(&stack.observability, &theirs)
        .await
        .expect("ingest");
    pulsepoint_observability::ingest(&stack.observability, &ours)
        .await
        .expect("ingest");
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("ok");
    assert_eq!(
        first.event.expect("event").event_id,
        ours.event_id.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_change_reaches_the_store_through_pubsub() {
    let emulator = tokio::task::spawn_blocking(pp_testkit::PubSubEmulator::start)
        .await
        .expect("join")
        .expect("emulator");
    let options = StackOptions {
        pubsub_emulator: Some(emulator.host()),
        ..StackOptions::default()
    };
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Piped").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Through the broker").await;
    let found = wait_for_events(
        &stack,
        &tenant.admin_token,
        &["brand.created", "tenant.created", "api.request"],
        |events| {
            ["brand.created", "tenant.created", "api.request"]
                .iter()
                .all(|t| events.iter().any(|e| e.event_type == *t))
        },
    )
    .await;
    let created = found
        .iter()
        .find(|e| e.event_type == "brand.created")
        .expect("brand.created stored");
    assert_eq!(created.brand_id, brand.brand_id);
    assert!(
        found.iter().any(|e| e.event_type == "tenant.created"),
        "auth's events too"
    );
    assert!(
        found.iter().any(|e| e.event_type == "api.request"),
        "API request events too"
    );
}

/// 10,000 events written by concurrent transactions while the broker is stopped and
/// restarted 5 times: afterwards the store holds every committed event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_survive_five_broker_restarts_into_the_store() {
    use pp_auth::TenantId;
    use pp_db::TenantTx;
    use pp_events::{PubSubConfig, Relay, RelayConfig};

    let mut emulator = tokio::task::spawn_blocking(pp_testkit::PubSubEmulator::start)
        .await
        .expect("join")
        .expect("emulator");
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let pubsub = PubSubConfig::emulator(emulator.host(), "pulsepoint-test");
    let subscription = pulsepoint_observability::SUBSCRIPTION;
    pp_events::pubsub::bootstrap(&pubsub, &[subscription])
        .await
        .expect("bootstrap");
    let (stop_subscriber, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(pulsepoint_observability::run_subscriber(
        stack.observability.clone(),
        pubsub.clone(),
        subscription.to_owned(),
        async move {
            let _ = stopped.await;
        },
    ));
    let relay_config = RelayConfig {
        lease: Duration::from_secs(2),
        max_backoff: Duration::from_millis(500),
        idle_poll: Duration::from_millis(20),
        subscriptions: vec![subscription.to_owned()],
        ..RelayConfig::for_schema("brands")
    };
    let pool = stack.db.pool_as("brands", 8).await.expect("pool");
    let start_relay = || async {
        let relay = Relay::new(pool.clone(), pubsub.clone(), relay_config.clone())
            .await
            .expect("relay");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(relay.run(async move {
            let _ = stopped.await;
        }));
        (stop, handle)
    };
    let store_count = |tenants: Vec<Uuid>| {
        let observability = stack.db.pool_as("observability", 1);
        async move {
            let pool = observability.await.expect("pool");
            let mut total = 0i64;
            for tenant in tenants {
                let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(tenant))
                    .await
                    .expect("tx");
                let n: i64 = sqlx::query_scalar(
                    "select count(*) from observability.events where event_type = 'load.test'",
                )
                .fetch_one(tx.conn())
                .await
                .expect("count");
                tx.commit().await.expect("commit");
                total += n;
            }
            total
        }
    };
    let published = || {
        let pool = pool.clone();
        async move {
            let mut tx = TenantTx::begin_lookup(&pool, pp_db::Lookup::OutboxRelay, "on")
                .await
                .expect("tx");
            let n: i64 = sqlx::query_scalar("select count(*) from brands.outbox where published_at is not null and event_type = 'load.test'")
                .fetch_one(tx.conn())
                .await
                .expect("count");
            tx.commit().await.expect("commit");
            n
        }
    };

    let tenants: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let writers: Vec<_> = (0..10)
        .map(|writer| {
            let pool = pool.clone();
            let tenants = tenants.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    let tenant = tenants[(writer + i) % tenants.len()];
                    let event = EventEnvelope::new(
                        tenant,
                        "load.test",
                        json!({ "writer": writer, "i": i }),
                    );
                    let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(tenant))
                        .await
                        .expect("tx");
                    pp_events::outbox::record(&mut tx, "brands", &event)
                        .await
                        .expect("record");
                    tx.commit().await.expect("commit");
                }
            })
        })
        .collect();

    let (mut stop_relay, mut relay) = start_relay().await;
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Pause the relay and let the store catch up with what the broker acknowledged
        // (the emulator, unlike Pub/Sub, drops undelivered messages when killed).
        let _ = stop_relay.send(());
        relay.await.expect("relay");
        let acknowledged = published().await;
        let mut stored = 0;
        for _ in 0..300 {
            stored = store_count(tenants.clone()).await;
            if stored >= acknowledged {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            stored >= acknowledged,
            "round {round}: stored {stored} of {acknowledged}"
        );
        tokio::task::block_in_place(|| emulator.stop());
        (stop_relay, relay) = start_relay().await; // runs through the outage, backing off
        tokio::time::sleep(Duration::from_millis(600)).await;
        tokio::task::block_in_place(|| emulator.restart()).expect("restart");
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let mut stored = 0;
    for _ in 0..600 {
        stored = store_count(tenants.clone()).await;
        if stored >= 10_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The primary key (tenant_id, event_id) makes "exactly once" a count.
    assert_eq!(stored, 10_000, "every event stored exactly once");
    let _ = stop_relay.send(());
    let _ = relay.await;
    let _ = stop_subscriber.send(());
}
