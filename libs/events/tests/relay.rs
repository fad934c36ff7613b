//! The outbox → Pub/Sub path against a real emulator and real PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pp_auth::TenantId;
use pp_db::TenantTx;
use pp_events::consumer::consume;
use pp_events::{
    EventEnvelope, OUTBOX_BATCH_MIGRATION, OUTBOX_MIGRATION, OUTBOX_TRACEPARENT_MIGRATION,
    PubSubConfig, Relay, RelayConfig,
};
use pp_testkit::{PubSubEmulator, TestDb};
use tokio::sync::oneshot;
use uuid::Uuid;

const SUBSCRIPTION: &str = "events-test";

type Seen = Arc<Mutex<HashMap<Uuid, usize>>>;

async fn setup() -> anyhow::Result<(PubSubEmulator, TestDb, PubSubConfig)> {
    let emulator = tokio::task::spawn_blocking(PubSubEmulator::start).await??;
    let db = TestDb::create().await?;
    db.migrate(
        "brands",
        &[
            OUTBOX_MIGRATION,
            OUTBOX_TRACEPARENT_MIGRATION,
            OUTBOX_BATCH_MIGRATION,
        ],
    )
    .await?;
    let config = PubSubConfig::emulator(emulator.host(), "pulsepoint-test");
    pp_events::pubsub::bootstrap(&config, &[SUBSCRIPTION])
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((emulator, db, config))
}

fn start_consumer(config: &PubSubConfig) -> (Seen, oneshot::Sender<()>) {
    let seen: Seen = Arc::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let sink = seen.clone();
    let config = config.clone();
    tokio::spawn(async move {
        consume(
            config,
            SUBSCRIPTION.to_owned(),
            move |events: Vec<pp_events::consumer::Delivery>| {
                let sink = sink.clone();
                async move {
                    let mut seen = sink.lock().map_err(|e| e.to_string())?;
                    for delivery in events {
                        *seen.entry(delivery.event.event_id).or_default() += 1;
                    }
                    Ok(())
                }
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await;
    });
    (seen, stop)
}

fn start_relay(relay: Relay) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(relay.run(async move {
        let _ = stopped.await;
    }));
    (stop, handle)
}

fn relay_config() -> RelayConfig {
    RelayConfig {
        lease: Duration::from_secs(2),
        max_backoff: Duration::from_millis(500),
        idle_poll: Duration::from_millis(20),
        subscriptions: vec![SUBSCRIPTION.to_owned()],
        ..RelayConfig::for_schema("brands")
    }
}

/// Writes one event per transaction, and in every seventh transaction also a bulk row
/// of three (as API events are recorded); every tenth transaction rolls back.
async fn write_events(
    pool: pp_db::PgPool,
    tenants: Vec<Uuid>,
    count: usize,
    committed: Arc<Mutex<Vec<Uuid>>>,
    rolled_back: Arc<Mutex<Vec<Uuid>>>,
) -> anyhow::Result<()> {
    for i in 0..count {
        let tenant = tenants[i % tenants.len()];
        let event = EventEnvelope::new(tenant, "brand.updated", serde_json::json!({ "n": i }));
        let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(tenant)).await?;
        pp_events::outbox::record(&mut tx, "brands", &event).await?;
        let mut ids = vec![event.event_id];
        if i % 7 == 3 {
            let bulk = (0..3)
                .map(|k| {
                    let event = EventEnvelope::new(
                        tenant,
                        if k == 2 { "api.error" } else { "api.request" },
                        serde_json::json!({ "n": i, "k": k }),
                    );
                    ids.push(event.event_id);
                    Ok(pp_events::outbox::SerializedEvent {
                        tenant_id: tenant,
                        event_id: event.event_id,
                        event_type: "api.request",
                        occurred_at: event.occurred_at,
                        envelope_json: serde_json::to_string(&event)?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            pp_events::outbox::record_batch(&mut tx, "brands", &bulk).await?;
        }
        let sink = if i % 10 == 9 {
            tx.rollback().await?;
            &rolled_back
        } else {
            tx.commit().await?;
            &committed
        };
        sink.lock().map_err(|e| anyhow::anyhow!("{e}"))?.extend(ids);
    }
    Ok(())
}

async fn published_count(db: &TestDb) -> anyhow::Result<i64> {
    let owner = db.owner_pool().await?;
    let mut tx = owner.begin().await?;
    sqlx::query("select set_config('app.outbox_relay', 'on', true)")
        .execute(&mut *tx)
        .await?;
    // Events, not rows: a bulk row holds several.
    let count: i64 = sqlx::query_scalar(
        "select coalesce(sum(events), 0)::bigint from brands.outbox where published_at is not null",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    owner.close().await;
    Ok(count)
}

fn distinct(seen: &Seen) -> usize {
    seen.lock().map(|s| s.len()).unwrap_or(0)
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_while_the_broker_restarts() -> anyhow::Result<()> {
    let (mut emulator, db, config) = setup().await?;
    let pool = db.pool_as("brands", 8).await?;
    let (seen, stop_consumer) = start_consumer(&config);
    let (mut stop_relay, mut relay) = start_relay(
        Relay::new(pool.clone(), config.clone(), relay_config())
            .await
            .map_err(anyhow::Error::msg)?,
    );

    let tenants: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let committed: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let rolled_back: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let writers: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(write_events(
                pool.clone(),
                tenants.clone(),
                1000,
                committed.clone(),
                rolled_back.clone(),
            ))
        })
        .collect();

    // Broker outages while requests keep writing. Before each stop the relay pauses
    // and the subscriber drains what Pub/Sub acknowledged: the emulator, unlike
    // Pub/Sub, loses undelivered messages when killed, and what is tested here is an
    // outage (publishes failing, events piling up in the outbox), not broker data loss.
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stop_relay.send(());
        relay.await?;
        let acknowledged = published_count(&db).await?;
        let caught_up = wait_until(Duration::from_secs(30), || {
            distinct(&seen) as i64 >= acknowledged
        })
        .await;
        assert!(
            caught_up,
            "round {round}: subscriber has {} of {acknowledged}",
            distinct(&seen)
        );
        tokio::task::block_in_place(|| emulator.stop());
        // The relay runs through the outage: its publishes fail and back off.
        (stop_relay, relay) = start_relay(
            Relay::new(pool.clone(), config.clone(), relay_config())
                .await
                .map_err(anyhow::Error::msg)?,
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        tokio::task::block_in_place(|| emulator.restart())?;
    }
    for writer in writers {
        writer.await??;
    }
    let committed: HashSet<Uuid> = committed
        .lock()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .iter()
        .copied()
        .collect();
    // Per writer: 1,000 transactions, 900 committed; 143 also wrote a bulk row of 3,
    // 14 of those rolled back: 900 + 129 × 3 = 1,287 events; 10 writers.
    assert_eq!(
        committed.len(),
        12_870,
        "10,000 single events + bulk rows written, every tenth transaction rolled back"
    );
    let all_in = wait_until(Duration::from_secs(60), || {
        distinct(&seen) >= committed.len()
    })
    .await;
    let received: HashMap<Uuid, usize> = seen.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    let missing = committed
        .iter()
        .filter(|id| !received.contains_key(id))
        .count();
    assert!(
        all_in && missing == 0,
        "{missing} committed events never arrived"
    );
    let rolled_back = rolled_back
        .lock()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .clone();
    assert!(
        rolled_back.iter().all(|id| !received.contains_key(id)),
        "a rolled-back event was published"
    );
    assert_eq!(
        received.len(),
        committed.len(),
        "nothing but committed events arrived"
    );

    let _ = stop_relay.send(());
    relay.await?;
    let _ = stop_consumer.send(());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_nothing() -> anyhow::Result<()> {
    let (_emulator, db, config) = setup().await?;
    let pool = db.pool_as("brands", 8).await?;
    let (seen, stop_consumer) = start_consumer(&config);
    let committed: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    write_events(
        pool.clone(),
        vec![Uuid::new_v4(), Uuid::new_v4()],
        1000,
        committed.clone(),
        Arc::default(),
    )
    .await?;

    // Kill relays at arbitrary points, several times; then let one finish.
    for kill_after_ms in [5u64, 30, 80, 15] {
        let relay = Relay::new(pool.clone(), config.clone(), relay_config())
            .await
            .map_err(anyhow::Error::msg)?;
        let (_stop, handle) = start_relay(relay);
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        handle.abort();
        let _ = handle.await;
    }
    let (stop_relay, relay) = start_relay(
        Relay::new(pool.clone(), config.clone(), relay_config())
            .await
            .map_err(anyhow::Error::msg)?,
    );
    let committed: HashSet<Uuid> = committed
        .lock()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .iter()
        .copied()
        .collect();
    let all_in = wait_until(Duration::from_secs(60), || {
        distinct(&seen) >= committed.len()
    })
    .await;
    let received = seen.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    assert!(
        all_in,
        "only {} of {} arrived",
        received.len(),
        committed.len()
    );
    assert!(committed.iter().all(|id| received.contains_key(id)));
    // Rows a killed relay published but never marked are re-sent after their lease:
    // eventually every row is marked, and the extra copies are duplicates the
    // consumer absorbs by event id.
    let mut marked = 0;
    for _ in 0..100 {
        marked = published_count(&db).await?;
        if marked == committed.len() as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(marked, committed.len() as i64, "every row marked sent");
    let duplicates: usize = received.values().filter(|n| **n > 1).count();
    eprintln!("duplicates absorbed by the consumer: {duplicates}");
    let _ = stop_relay.send(());
    relay.await?;
    let _ = stop_consumer.send(());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pass_publishes_and_marks() -> anyhow::Result<()> {
    let (_emulator, db, config) = setup().await?;
    let pool = db.pool_as("brands", 4).await?;
    write_events(
        pool.clone(),
        vec![Uuid::new_v4()],
        10,
        Arc::default(),
        Arc::default(),
    )
    .await?;
    let relay = Relay::new(pool.clone(), config.clone(), relay_config())
        .await
        .map_err(anyhow::Error::msg)?;
    let outcome = tokio::time::timeout(Duration::from_secs(20), relay.run_once()).await??;
    assert_eq!(
        outcome,
        pp_events::relay::PassOutcome {
            published: 12,
            failed: 0
        }
    );
    // 10 transactions, one rolled back; the fourth also wrote a bulk row of 3.
    assert_eq!(published_count(&db).await?, 12);
    let again = relay.run_once().await?;
    assert_eq!(again.published, 0, "nothing is sent twice");
    Ok(())
}

/// An event the handler can never store fails its batch; the others of that batch
/// are then stored one by one and acked, and only the poison one is redelivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_does_not_hold_back_its_batch() -> anyhow::Result<()> {
    let (_emulator, db, config) = setup().await?;
    let pool = db.pool_as("brands", 4).await?;
    let tenant = Uuid::new_v4();
    let mut ids = Vec::new();
    let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(tenant)).await?;
    for n in 0..50 {
        let event = EventEnvelope::new(
            tenant,
            "brand.updated",
            serde_json::json!({ "poison": n == 25 }),
        );
        pp_events::outbox::record(&mut tx, "brands", &event).await?;
        ids.push(event.event_id);
    }
    tx.commit().await?;
    let poison = ids[25];

    let stored: Seen = Arc::default();
    let poison_tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (stop, stopped) = oneshot::channel::<()>();
    {
        let (stored, poison_tries, config) = (stored.clone(), poison_tries.clone(), config.clone());
        tokio::spawn(async move {
            consume(
                config,
                SUBSCRIPTION.to_owned(),
                move |batch: Vec<pp_events::consumer::Delivery>| {
                    let (stored, poison_tries) = (stored.clone(), poison_tries.clone());
                    async move {
                        if batch.iter().any(|d| d.event.payload["poison"] == true) {
                            poison_tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            return Err("cannot store this one".to_owned());
                        }
                        let mut seen = stored.lock().map_err(|e| e.to_string())?;
                        for delivery in batch {
                            *seen.entry(delivery.event.event_id).or_default() += 1;
                        }
                        Ok(())
                    }
                },
                async move {
                    let _ = stopped.await;
                },
            )
            .await;
        });
    }
    let (stop_relay, relay) = start_relay(
        Relay::new(pool.clone(), config.clone(), relay_config())
            .await
            .map_err(anyhow::Error::msg)?,
    );
    let others: HashSet<Uuid> = ids.iter().copied().filter(|id| *id != poison).collect();
    let all_others = wait_until(Duration::from_secs(30), || {
        stored
            .lock()
            .map(|s| others.iter().all(|id| s.contains_key(id)))
            .unwrap_or(false)
    })
    .await;
    // The poison event comes back after its nack and fails again.
    let retried = wait_until(Duration::from_secs(30), || {
        poison_tries.load(std::sync::atomic::Ordering::Relaxed) >= 3
    })
    .await;
    let _ = stop.send(());
    let _ = stop_relay.send(());
    relay.await?;
    assert!(
        all_others,
        "the 49 good events were stored despite the poison one"
    );
    assert!(
        !stored
            .lock()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .contains_key(&poison),
        "the poison event never counts as stored"
    );
    assert!(retried, "the poison event is redelivered, not dropped");
    Ok(())
}

/// A bulk row belongs to one tenant: an event of another tenant in it is refused, and
/// nothing is written.
#[tokio::test]
async fn a_bulk_row_refuses_events_of_another_tenant() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    db.migrate(
        "brands",
        &[
            OUTBOX_MIGRATION,
            OUTBOX_TRACEPARENT_MIGRATION,
            OUTBOX_BATCH_MIGRATION,
        ],
    )
    .await?;
    let pool = db.pool_as("brands", 1).await?;
    let (ours, theirs) = (Uuid::now_v7(), Uuid::now_v7());
    let serialized = |tenant: Uuid| -> anyhow::Result<pp_events::outbox::SerializedEvent> {
        let event = EventEnvelope::new(tenant, "api.request", serde_json::json!({}));
        Ok(pp_events::outbox::SerializedEvent {
            tenant_id: tenant,
            event_id: event.event_id,
            event_type: "api.request",
            occurred_at: event.occurred_at,
            envelope_json: serde_json::to_string(&event)?,
        })
    };
    let mixed = [serialized(ours)?, serialized(theirs)?];
    let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(ours)).await?;
    let refused = pp_events::outbox::record_batch(&mut tx, "brands", &mixed).await;
    assert!(refused.is_err(), "a mixed bulk row is refused");
    let rows: i64 = sqlx::query_scalar("select count(*) from brands.outbox")
        .fetch_one(tx.conn())
        .await?;
    assert_eq!(rows, 0, "nothing written");
    tx.rollback().await?;
    Ok(())
}
