//! End to end through the event pipeline: outbox → relay → Pub/Sub (emulator) →
//! observability store.
//!
//! The bench starts the emulator, a brands process whose relay publishes to it and
//! the observability service subscribed to it. This command then writes `--count`
//! events into `brands.outbox` as fast as it can (as `pp_brands`, in tenant
//! transactions of `--batch` events, `--writers` at a time, exactly as a service
//! records events), waits until all of them are in `observability.events`, and prints
//! one JSON line: events/s written, events/s stored (count / (last `received_at` −
//! first `occurred_at`)), and the lag `received_at − occurred_at` per event (p50, p99,
//! max, from `percentile_cont` in SQL).
//!
//! A probe event goes first and must arrive within `--ready-timeout`: the relay has
//! bootstrapped the topic and subscription, and the subscriber is attached, before
//! anything is measured.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use pp_auth::TenantId;
use pp_db::{PgPool, TenantTx};
use uuid::Uuid;

use super::cpu;

const EVENT_TYPE: &str = "bench.e2e";

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// The outbox writer: a `pp_brands` URL (RLS applies, as in the service).
    #[arg(long)]
    pub database_url: String,
    /// Where `observability.events` is read (the bench uses the superuser: the
    /// observability role sees one tenant at a time).
    #[arg(long)]
    pub store_url: String,
    #[arg(long)]
    pub tenant_id: Uuid,
    #[arg(long, default_value_t = 20_000)]
    pub count: usize,
    /// Events per outbox transaction.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Concurrent writer transactions.
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Seconds to wait for all events to be stored (what is stored by then is reported).
    #[arg(long, default_value_t = 180.0)]
    pub timeout: f64,
    /// Seconds to wait for the probe event (emulator, relay bootstrap, subscriber).
    #[arg(long, default_value_t = 90.0)]
    pub ready_timeout: f64,
    /// Pipeline processes (relay, observability) whose CPU is charged to the events.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// The emulator's process, reported apart.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    #[arg(long)]
    pub db_comm: Option<String>,
    #[arg(long, default_value = "")]
    pub label: String,
}

fn event(tenant: Uuid, run: &str, seq: usize) -> pp_events::EventEnvelope {
    pp_events::EventEnvelope::new(tenant, EVENT_TYPE, serde_json::json!({ "seq": seq }))
        .with_request_id(Some(run.to_owned()))
}

async fn write_batch(
    pool: &PgPool,
    tenant: Uuid,
    run: &str,
    seqs: std::ops::Range<usize>,
) -> pp_db::Result<()> {
    let mut tx = TenantTx::begin_for_tenant(pool, TenantId(tenant)).await?;
    for seq in seqs {
        pp_events::outbox::record(&mut tx, "brands", &event(tenant, run, seq)).await?;
    }
    tx.commit().await
}

async fn stored(store: &PgPool, tenant: Uuid, run: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from observability.events
         where tenant_id = $1 and event_type = $2 and request_id = $3",
    )
    .bind(tenant)
    .bind(EVENT_TYPE)
    .bind(run)
    .fetch_one(store)
    .await
}

/// Waits until `want` events of `run` are stored or `timeout` passes; returns the count.
async fn wait_stored(
    store: &PgPool,
    tenant: Uuid,
    run: &str,
    want: i64,
    timeout: Duration,
) -> Result<i64, sqlx::Error> {
    let started = Instant::now();
    loop {
        let n = stored(store, tenant, run).await?;
        if n >= want || started.elapsed() > timeout {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(sqlx::FromRow)]
struct Lag {
    first_occurred: Option<DateTime<Utc>>,
    last_received: Option<DateTime<Utc>>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let pool = pp_db::connect(&args.database_url, args.writers.max(1) as u32).await?;
    let store = pp_db::connect(&args.store_url, 2).await?;
    let tenant = args.tenant_id;

    // Probe: the whole pipeline is up (topic, subscription, subscriber).
    let probe = format!("bench-probe-{}", Uuid::now_v7());
    write_batch(&pool, tenant, &probe, 0..1).await?;
    let ready = Instant::now();
    if wait_stored(
        &store,
        tenant,
        &probe,
        1,
        Duration::from_secs_f64(args.ready_timeout),
    )
    .await?
        < 1
    {
        anyhow::bail!(
            "the probe event was not stored within {} s (emulator, relay or subscriber not up)",
            args.ready_timeout
        );
    }
    let probe_seconds = ready.elapsed().as_secs_f64();

    let run = format!("bench-{}", Uuid::now_v7());
    let ticks = cpu::clock_ticks_per_sec();
    let broker = |pid: Option<u32>| pid.and_then(cpu::process_ticks).unwrap_or(0);
    let before = cpu::sample(&args.server_pids, args.db_comm.as_deref());
    let broker_before = broker(args.broker_pid);
    let started = Instant::now();

    // Writers: `writers` transactions at a time, `batch` events each.
    let batch = args.batch.max(1);
    let batches: Vec<std::ops::Range<usize>> = (0..args.count)
        .step_by(batch)
        .map(|start| start..(start + batch).min(args.count))
        .collect();
    let mut writes = futures::stream::iter(batches.into_iter().map(|seqs| {
        let (pool, run) = (&pool, &run);
        async move { write_batch(pool, tenant, run, seqs).await }
    }))
    .buffer_unordered(args.writers.max(1));
    while let Some(result) = writes.next().await {
        result?;
    }
    drop(writes);
    let write_seconds = started.elapsed().as_secs_f64();

    let want = i64::try_from(args.count)?;
    let got = wait_stored(
        &store,
        tenant,
        &run,
        want,
        Duration::from_secs_f64(args.timeout),
    )
    .await?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let after = cpu::sample(&args.server_pids, args.db_comm.as_deref());
    let broker_after = broker(args.broker_pid);

    let lag: Lag = sqlx::query_as(
        "select min(occurred_at) as first_occurred, max(received_at) as last_received,
                percentile_cont(0.5) within group (order by lag_ms) as p50_ms,
                percentile_cont(0.99) within group (order by lag_ms) as p99_ms,
                max(lag_ms) as max_ms
         from (select occurred_at, received_at,
                      extract(epoch from received_at - occurred_at)::float8 * 1000 as lag_ms
               from observability.events
               where tenant_id = $1 and event_type = $2 and request_id = $3) e",
    )
    .bind(tenant)
    .bind(EVENT_TYPE)
    .bind(&run)
    .fetch_one(&store)
    .await?;
    let span = match (lag.first_occurred, lag.last_received) {
        (Some(first), Some(last)) => Some((last - first).as_seconds_f64()),
        _ => None,
    };
    let per_event =
        |ticks_used: u64| (got > 0).then(|| ticks_used as f64 / ticks * 1e6 / got as f64);
    let server_ticks = after.server.saturating_sub(before.server);
    println!(
        "{}",
        serde_json::json!({
            "label": args.label,
            "rpc": "outbox → relay → Pub/Sub emulator → observability store",
            "events": args.count,
            "stored": got,
            "complete": got >= want,
            "batch": batch,
            "writers": args.writers,
            "probe_seconds": probe_seconds,
            "write_seconds": write_seconds,
            "written_per_sec": args.count as f64 / write_seconds,
            "stored_span_seconds": span,
            // What the row is about: stored events over first occurred_at → last received_at.
            "rps": span.filter(|s| *s > 0.0).map(|s| got as f64 / s),
            "lag_p50_ms": lag.p50_ms,
            "lag_p99_ms": lag.p99_ms,
            "lag_max_ms": lag.max_ms,
            "seconds": wall_seconds,
            "server_cpu_us_per_req": per_event(server_ticks),
            "server_cpu_util": server_ticks as f64 / ticks / wall_seconds,
            "broker_cpu_us_per_req": per_event(broker_after.saturating_sub(broker_before)),
            "db_cpu_us_per_req": per_event(after.db.saturating_sub(before.db)),
        })
    );
    if got < want {
        eprintln!(
            "only {got} of {want} events stored within {} s",
            args.timeout
        );
    }
    Ok(())
}
