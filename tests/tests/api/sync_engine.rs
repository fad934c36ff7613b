//! The sync engine over the demo store: exact totals, idempotent re-syncs, one
//! active run per integration, leases that never double-run and survive a crash.

use std::collections::HashSet;
use std::time::Duration;

use pp_commerce::Platform;
use pp_commerce::demo::DemoStore;
use pp_proto::integrations::{SyncRunState, TriggerSyncRequest};
use pulsepoint_integrations::store::sync_runs;
use uuid::Uuid;

use crate::support::*;

/// The demo store a connected integration generates, rebuilt from its stored row.
async fn demo_store_of(stack: &Stack, tenant: &Tenant, integration_id: &str) -> DemoStore {
    let mut tx = pp_db::TenantTx::begin_for_tenant(
        &stack.integrations.pool,
        pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("uuid"),
    )
    .await
    .expect("tx");
    let row = pulsepoint_integrations::store::integrations::get(
        &mut tx,
        integration_id.parse().expect("uuid"),
    )
    .await
    .expect("get")
    .expect("row");
    DemoStore::new(pulsepoint_integrations::sync::demo::config(
        &row,
        Platform::ALL.to_vec(),
    ))
    .expect("demo config")
}

#[derive(Debug, PartialEq, Eq)]
struct Totals {
    orders: i64,
    total_micros: i64,
    refunded_micros: i64,
    lines: i64,
    customers: i64,
}

/// Totals read straight from the tables (superuser: no RLS, no service code).
async fn stored_totals(stack: &Stack, brand_id: &str) -> Totals {
    let db = stack.db.superuser_pool().await.expect("superuser");
    let brand: Uuid = brand_id.parse().expect("uuid");
    let (orders, total_micros, refunded_micros): (i64, i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(total_micros), 0)::bigint,
                coalesce(sum(refunded_micros), 0)::bigint
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
    let customers: i64 =
        sqlx::query_scalar("select count(*) from commerce.customers where brand_id = $1")
            .bind(brand)
            .fetch_one(&db)
            .await
            .expect("customers");
    Totals {
        orders,
        total_micros,
        refunded_micros,
        lines,
        customers,
    }
}

fn generated_totals(store: &DemoStore) -> Totals {
    let mut totals = Totals {
        orders: 0,
        total_micros: 0,
        refunded_micros: 0,
        lines: 0,
        customers: 0,
    };
    let mut customers = HashSet::new();
    for order in store.orders() {
        totals.orders += 1;
        totals.total_micros += order.total_micros;
        totals.refunded_micros += order.refunds.iter().map(|r| r.amount_micros).sum::<i64>();
        totals.lines += order.lines.len() as i64;
        if !order.test
            && let Some(c) = &order.customer
        {
            customers.insert(c.platform_customer_id.clone());
        }
    }
    totals.customers = customers.len() as i64;
    totals
}

#[tokio::test]
async fn demo_store_sync_matches_the_generator_exactly_and_resyncs_without_duplicates() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Demo Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Demo brand").await;
    let (shopify, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 30).await;
    let done = wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(done.state, SyncRunState::Succeeded as i32, "{done:?}");
    assert!(done.data_as_of_time.is_some());

    let store = demo_store_of(&stack, &tenant, &shopify.integration_id).await;
    let expected = generated_totals(&store);
    assert!(
        expected.orders > 100,
        "a month of demo orders: {expected:?}"
    );
    assert_eq!(stored_totals(&stack, &brand.brand_id).await, expected);
    let orders = done
        .entities
        .iter()
        .find(|e| e.entity == pp_proto::integrations::SyncEntity::Orders as i32)
        .expect("orders progress");
    assert_eq!(orders.records_fetched, expected.orders);
    assert!(orders.done);

    // Ad spend per campaign per day equals the generator's Meta rows.
    let db = stack.db.superuser_pool().await.expect("superuser");
    let stored: Vec<(String, chrono::NaiveDate, i64, i64)> = sqlx::query_as(
        "select platform_campaign_id, spend_date, spend_micros, conversion_value_micros
         from commerce.ad_spend_daily where brand_id = $1 and platform = 'meta'
         order by 1, 2",
    )
    .bind(brand.brand_id.parse::<Uuid>().expect("uuid"))
    .fetch_all(&db)
    .await
    .expect("spend");
    let meta_run = wait_for_meta(&stack, &tenant, &brand.brand_id).await;
    assert_eq!(meta_run.state, SyncRunState::Succeeded as i32);
    let stored = if stored.is_empty() {
        sqlx::query_as(
            "select platform_campaign_id, spend_date, spend_micros, conversion_value_micros
             from commerce.ad_spend_daily where brand_id = $1 and platform = 'meta'
             order by 1, 2",
        )
        .bind(brand.brand_id.parse::<Uuid>().expect("uuid"))
        .fetch_all(&db)
        .await
        .expect("spend")
    } else {
        stored
    };
    let mut generated: Vec<(String, chrono::NaiveDate, i64, i64)> = store
        .ad_spend()
        .filter(|r| r.platform == Platform::Meta)
        .map(|r| {
            (
                r.platform_campaign_id,
                r.date,
                r.spend_micros,
                r.conversion_value_micros,
            )
        })
        .collect();
    generated.sort();
    assert!(!generated.is_empty());
    assert_eq!(stored, generated);

    // A full re-sync rewrites nothing new: same totals, no duplicate row.
    let mut client = stack.integrations().await.expect("client");
    let again = client
        .trigger_sync(authed(
            &tenant.admin_token,
            TriggerSyncRequest {
                integration_id: shopify.integration_id.clone(),
                mode: pp_proto::integrations::SyncMode::Full as i32,
                request_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect("trigger")
        .into_inner();
    let second = wait_for_run(
        &stack,
        &tenant.admin_token,
        &again.sync_run.expect("run").sync_run_id,
    )
    .await;
    assert_eq!(second.state, SyncRunState::Succeeded as i32);
    assert_eq!(stored_totals(&stack, &brand.brand_id).await, expected);
    let rewritten: i64 = second.entities.iter().map(|e| e.records_written).sum();
    let orders_written = second
        .entities
        .iter()
        .find(|e| e.entity == pp_proto::integrations::SyncEntity::Orders as i32)
        .expect("orders")
        .records_written;
    assert_eq!(orders_written, 0, "unchanged orders are not rewritten");
    assert!(rewritten >= 0);

    // GetPortfolio reads the synced orders (net of refunds, cancellations excluded).
    let portfolio_orders: i64 = sqlx::query_scalar(
        "select count(*) from commerce.orders where brand_id = $1 and cancelled_at is null and not test",
    )
    .bind(brand.brand_id.parse::<Uuid>().expect("uuid"))
    .fetch_one(&db)
    .await
    .expect("count");
    assert!(portfolio_orders > 0);
}

async fn wait_for_meta(
    stack: &Stack,
    tenant: &Tenant,
    brand_id: &str,
) -> pp_proto::integrations::SyncRun {
    let mut client = stack.integrations().await.expect("client");
    let listed = client
        .list_integrations(authed(
            &tenant.admin_token,
            pp_proto::integrations::ListIntegrationsRequest {
                brand_id: brand_id.into(),
                platform: pp_proto::common::Platform::MetaAds as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    let meta = listed.integrations.first().expect("meta integration");
    wait_for_run(stack, &tenant.admin_token, &meta.last_sync_run_id).await
}

#[tokio::test]
async fn trigger_sync_returns_the_active_run_instead_of_a_second() {
    let mut options = StackOptions::default();
    options.sync.workers = 0; // nothing runs: the first run stays queued
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Busy Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Busy").await;
    let (shopify, initial) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 7).await;
    assert_eq!(initial.state, SyncRunState::Queued as i32);
    let mut client = stack.integrations().await.expect("client");
    let request_id = Uuid::new_v4().to_string();
    let response = client
        .trigger_sync(authed(
            &tenant.admin_token,
            TriggerSyncRequest {
                integration_id: shopify.integration_id.clone(),
                request_id: request_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("trigger")
        .into_inner();
    assert!(response.already_running);
    assert_eq!(
        response.sync_run.expect("run").sync_run_id,
        initial.sync_run_id
    );
    // A backfill range needs FULL; a bad date names its field.
    let result = client
        .trigger_sync(authed(
            &tenant.admin_token,
            TriggerSyncRequest {
                integration_id: shopify.integration_id.clone(),
                backfill_range: Some(pp_proto::common::DateRange::default()),
                request_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
        ))
        .await;
    assert_invalid(result, "backfill_range");
}

#[tokio::test]
async fn two_workers_never_lease_the_same_run_and_a_dead_workers_run_is_taken_over() {
    let mut options = StackOptions::default();
    options.sync.workers = 0;
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Queue Co").await;
    let mut runs = HashSet::new();
    for i in 0..6 {
        let brand = create_brand(&stack, &tenant.admin_token, &format!("Brand {i}")).await;
        let (_, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 3).await;
        runs.insert(run.sync_run_id.parse::<Uuid>().expect("uuid"));
    }
    // 12 runs queued (Shopify + Meta per brand). Two workers lease concurrently.
    let pool = stack.integrations.pool.clone();
    let lease = Duration::from_secs(30);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let lease_all = |worker: Uuid| {
        let pool = pool.clone();
        async move {
            let mut got = Vec::new();
            while let Some(leased) = sync_runs::lease_next(&pool, worker, lease)
                .await
                .expect("lease")
            {
                got.push(leased.sync_run_id);
            }
            got
        }
    };
    let (got_a, got_b) = tokio::join!(lease_all(a), lease_all(b));
    let all: Vec<Uuid> = got_a.iter().chain(got_b.iter()).copied().collect();
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        12,
        "every queued run leased once: {got_a:?} {got_b:?}"
    );
    assert_eq!(unique.len(), 12, "no run leased twice");
    assert!(runs.is_subset(&unique));

    // Worker A "dies" holding a short lease; nobody else may take the run until it
    // expires, then worker B takes it over and finishes it.
    let stack2_tenant = sign_up(&stack, "Crash Co").await;
    let brand = create_brand(&stack, &stack2_tenant.admin_token, "Crashy").await;
    let mut client = stack.integrations().await.expect("client");
    let response = client
        .connect_demo_store(authed(
            &stack2_tenant.admin_token,
            pp_proto::integrations::ConnectDemoStoreRequest {
                brand_id: brand.brand_id.clone(),
                platforms: vec![pp_proto::common::Platform::Shopify as i32],
                history_days: 5,
                seed: 9,
                request_id: Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("demo")
        .into_inner();
    let run_id: Uuid = response.sync_runs[0].sync_run_id.parse().expect("uuid");
    let short = Duration::from_millis(600);
    let held = sync_runs::lease_next(&pool, a, short)
        .await
        .expect("lease")
        .expect("a run");
    assert_eq!(held.sync_run_id, run_id);
    assert!(
        sync_runs::lease_next(&pool, b, short)
            .await
            .expect("lease")
            .is_none(),
        "a live lease is not taken"
    );
    tokio::time::sleep(short + Duration::from_millis(300)).await;
    let taken = sync_runs::lease_next(&pool, b, lease)
        .await
        .expect("lease")
        .expect("expired lease is taken over");
    assert_eq!(taken.sync_run_id, run_id);
    pulsepoint_integrations::sync::run_leased(&stack.integrations, taken, b).await;
    let done = wait_for_run(&stack, &stack2_tenant.admin_token, &run_id.to_string()).await;
    assert_eq!(done.state, SyncRunState::Succeeded as i32, "{done:?}");
    // The dead worker's late write is refused: its lease is gone.
    let mut tx = pp_db::TenantTx::begin(
        &pool,
        pp_auth::TenantId::parse("tenant_id", &stack2_tenant.tenant_id).expect("uuid"),
    )
    .await
    .expect("tx");
    assert!(
        !sync_runs::renew(&mut tx, &held, a, lease)
            .await
            .expect("renew")
    );
}

#[tokio::test]
async fn watch_sync_streams_the_run_to_its_end_and_the_events_commit_with_it() {
    use futures::StreamExt;
    let mut options = StackOptions::default();
    options.sync.workers = 0; // the test starts the worker once the watch is open
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Watch Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Watched").await;
    let (_, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 10).await;
    let mut client = stack.integrations().await.expect("client");
    let mut stream = client
        .watch_sync(authed(
            &tenant.admin_token,
            pp_proto::integrations::WatchSyncRequest {
                sync_run_id: run.sync_run_id.clone(),
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let first = stream
        .next()
        .await
        .expect("the current state first")
        .expect("ok")
        .sync_run
        .expect("run");
    assert_eq!(first.state, SyncRunState::Queued as i32);

    let worker_state = stack.integrations.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(pulsepoint_integrations::sync::worker(
        worker_state,
        Uuid::new_v4(),
        stop.clone(),
    ));
    let mut states = vec![first.state];
    while let Some(message) = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("the stream moves")
    {
        let run = message.expect("ok").sync_run.expect("run");
        states.push(run.state);
    }
    stop.cancel();
    let _ = worker.await;
    assert_eq!(
        states.last().copied(),
        Some(SyncRunState::Succeeded as i32),
        "the stream ends after the terminal state: {states:?}"
    );
    assert!(states.contains(&(SyncRunState::Running as i32)) || states.len() >= 2);

    // data.sync_started and data.sync_completed, with counts, in the outbox.
    let db = stack.db.superuser_pool().await.expect("db");
    let events: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "select event_type, envelope from integrations.outbox
         where event_type like 'data.sync_%' and envelope::text like '%' || $1 || '%'
         order by occurred_at",
    )
    .bind(&run.sync_run_id)
    .fetch_all(&db)
    .await
    .expect("outbox");
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["data.sync_started", "data.sync_completed"],
        "{events:?}"
    );
    let completed = events[1].1.to_string();
    assert!(completed.contains("\"orders\""), "{completed}");
    assert!(completed.contains("data_as_of"), "{completed}");
}

#[tokio::test]
async fn a_disconnected_integration_forgets_its_data_when_asked_and_refuses_syncs() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Leaving Co").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Leaving").await;
    let (shopify, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 5).await;
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert!(stored_totals(&stack, &brand.brand_id).await.orders > 0);
    let mut client = stack.integrations().await.expect("client");
    let disconnected = client
        .disconnect_integration(authed(
            &tenant.admin_token,
            pp_proto::integrations::DisconnectIntegrationRequest {
                integration_id: shopify.integration_id.clone(),
                delete_synced_data: true,
                request_id: Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("disconnect")
        .into_inner()
        .integration
        .expect("integration");
    assert_eq!(
        disconnected.status,
        pp_proto::integrations::IntegrationStatus::Disconnected as i32
    );
    assert_eq!(stored_totals(&stack, &brand.brand_id).await.orders, 0);
    let status = client
        .trigger_sync(authed(
            &tenant.admin_token,
            TriggerSyncRequest {
                integration_id: shopify.integration_id.clone(),
                request_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("disconnected");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
}
