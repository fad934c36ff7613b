//! The outbox relay: outbox rows → Pub/Sub, at least once, never lost.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use pp_db::{Lookup, PgPool, TenantTx};
use uuid::Uuid;

use crate::pubsub::{self, PubSubConfig};

mod pacing;

use pacing::{Pacing, backoff, run_paced};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The service schema whose `outbox` is relayed.
    pub schema: &'static str,
    /// Rows leased per pass (at most).
    pub batch_size: i64,
    /// Events leased per pass (at most, but always at least one row): bulk rows carry
    /// many.
    pub max_events: i64,
    /// How long a leased row is left alone; a relay that dies mid-batch releases its
    /// rows when the lease ends.
    pub lease: Duration,
    /// Sleep when there is nothing to send.
    pub idle_poll: Duration,
    /// Upper bound of the per-row retry backoff.
    pub max_backoff: Duration,
    /// Subscriptions the bootstrap creates with the topic.
    pub subscriptions: Vec<String>,
}

impl RelayConfig {
    pub fn for_schema(schema: &'static str) -> Self {
        RelayConfig {
            schema,
            batch_size: 1_000,
            max_events: 10_000,
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            subscriptions: Vec::new(),
        }
    }
}

pub struct Relay {
    pool: PgPool,
    publisher: Publisher,
    pubsub: PubSubConfig,
    config: RelayConfig,
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    tenant_id: Uuid,
    event_id: Uuid,
    event_type: String,
    envelope: Option<serde_json::Value>,
    /// A bulk row's newline-delimited envelopes (then `envelope` is null).
    batch: Option<String>,
    attempts: i32,
    traceparent: Option<String>,
}

/// What the relay needs of a bulk row's line: its type, for the attribute.
#[derive(serde::Deserialize)]
struct EnvelopeHead<'a> {
    #[serde(borrow)]
    event_type: std::borrow::Cow<'a, str>,
}

impl PendingRow {
    /// The row's messages: one, or one per line of a bulk row.
    fn messages(&self) -> Vec<Message> {
        let tenant = self.tenant_id.to_string();
        let message = |data: Vec<u8>, event_type: &str| {
            let mut attributes = vec![
                ("event_type".to_owned(), event_type.to_owned()),
                (TENANT_ID.to_owned(), tenant.clone()),
            ];
            if let Some(traceparent) = &self.traceparent {
                attributes.push((TRACEPARENT.to_owned(), traceparent.clone()));
            }
            Message::new()
                .set_data(data)
                .set_ordering_key(tenant.clone())
                .set_attributes(attributes)
        };
        match (&self.envelope, &self.batch) {
            (Some(envelope), _) => vec![message(
                serde_json::to_vec(envelope).unwrap_or_default(),
                &self.event_type,
            )],
            (None, Some(batch)) => batch
                .lines()
                .filter(|line| !line.is_empty())
                .map(|line| {
                    let event_type = serde_json::from_str::<EnvelopeHead>(line)
                        .map(|head| head.event_type.into_owned())
                        .unwrap_or_default();
                    message(line.as_bytes().to_vec(), &event_type)
                })
                .collect(),
            (None, None) => Vec::new(),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassOutcome {
    /// Events (messages) published; a bulk row counts its events.
    pub published: usize,
    /// Rows that failed (retried after their backoff).
    pub failed: usize,
}

/// The message attribute carrying the W3C trace context of the recording change.
pub const TRACEPARENT: &str = "traceparent";

/// The message attribute naming the tenant of the outbox row the message came from
/// (also its ordering key); consumers check the envelope against it.
pub const TENANT_ID: &str = "tenant_id";

/// Starts the relay of `schema`'s outbox in the background (see [`run_until`]).
pub fn spawn(
    pool: PgPool,
    pubsub: PubSubConfig,
    schema: &'static str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(run_until(pool, pubsub, schema, shutdown));
}

/// Relays `schema`'s outbox until `shutdown`: bootstraps the topic, then relays.
/// Failures to reach the broker are retried forever; events wait in the outbox
/// meanwhile.
pub async fn run_until(
    pool: PgPool,
    pubsub: PubSubConfig,
    schema: &'static str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let config = RelayConfig {
        subscriptions: pubsub.subscriptions.clone(),
        ..RelayConfig::for_schema(schema)
    };
    let subscriptions: Vec<&str> = pubsub.subscriptions.iter().map(String::as_str).collect();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut attempt: i32 = 0;
    let relay = loop {
        match pubsub::bootstrap(&pubsub, &subscriptions).await {
            Ok(()) => match Relay::new(pool.clone(), pubsub.clone(), config.clone()).await {
                Ok(relay) => break relay,
                Err(err) => tracing::warn!(%err, "outbox relay: publisher unavailable"),
            },
            Err(err) => tracing::warn!(%err, "outbox relay: broker unavailable"),
        }
        attempt += 1;
        tokio::select! {
            () = tokio::time::sleep(backoff(attempt, Duration::from_secs(10))) => {}
            () = &mut shutdown => return,
        }
    };
    tracing::info!(schema, topic = %pubsub.topic_path(), "outbox relay running");
    relay.run(shutdown).await;
}

impl Relay {
    pub async fn new(
        pool: PgPool,
        pubsub: PubSubConfig,
        config: RelayConfig,
    ) -> Result<Self, String> {
        let publisher = pubsub::publisher(&pubsub).await?;
        Ok(Relay {
            pool,
            publisher,
            pubsub,
            config,
        })
    }

    /// Leases, publishes and marks one batch.
    pub async fn run_once(&self) -> pp_db::Result<PassOutcome> {
        let schema = self.config.schema;
        // Lease: pick unsent rows nobody else holds, push their availability past the
        // lease, commit. Other replicas skip the locked rows, then the leased ones.
        let mut tx = TenantTx::begin_lookup(&self.pool, Lookup::OutboxRelay, "on").await?;
        // Up to `batch_size` rows, cut once they hold `max_events` events (bulk rows
        // carry many); locked rows that are cut are released at commit.
        let rows: Vec<PendingRow> = sqlx::query_as(&format!(
            "select tenant_id, event_id, event_type, envelope, batch, attempts, traceparent
             from (select *, sum(events) over (order by occurred_at, event_id) as running
                   from (select tenant_id, event_id, event_type, envelope, batch, events,
                                attempts, traceparent, occurred_at
                         from {schema}.outbox
                         where published_at is null and available_at <= now()
                         order by occurred_at, event_id
                         limit $1
                         for update skip locked) leased) counted
             where running - events < $2
             order by occurred_at, event_id"
        ))
        .bind(self.config.batch_size)
        .bind(self.config.max_events)
        .fetch_all(tx.conn())
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(PassOutcome::default());
        }
        let tenants: Vec<Uuid> = rows.iter().map(|r| r.tenant_id).collect();
        let events: Vec<Uuid> = rows.iter().map(|r| r.event_id).collect();
        sqlx::query(&format!(
            "update {schema}.outbox set available_at = now() + make_interval(secs => $3)
             where (tenant_id, event_id) in (select * from unnest($1::uuid[], $2::uuid[]))"
        ))
        .bind(&tenants)
        .bind(&events)
        .bind(self.config.lease.as_secs_f64())
        .execute(tx.conn())
        .await?;
        tx.commit().await?;

        // Publish the rows' messages; the client batches and orders per tenant. A row
        // is sent when all its messages are (a bulk row that fails in part is
        // published again whole: consumers absorb the duplicates).
        let mut owners = Vec::new();
        let mut futures = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            for message in row.messages() {
                owners.push(index);
                futures.push(self.publisher.publish(message));
            }
        }
        let results = futures::future::join_all(futures).await;
        let mut errors: Vec<Option<String>> = vec![None; rows.len()];
        let mut topic_gone = false;
        for (&index, result) in owners.iter().zip(results) {
            if let Err(err) = result {
                if let google_cloud_pubsub::error::PublishError::Rpc(rpc) = &err {
                    topic_gone |= rpc
                        .status()
                        .is_some_and(|s| s.code == google_cloud_gax::error::rpc::Code::NotFound);
                }
                errors[index].get_or_insert_with(|| err.to_string());
            }
        }
        let mut sent = (Vec::new(), Vec::new());
        let mut failed: Vec<(&PendingRow, String)> = Vec::new();
        let published = owners
            .iter()
            .filter(|&&index| errors[index].is_none())
            .count();
        for (row, error) in rows.iter().zip(errors) {
            match error {
                None => {
                    sent.0.push(row.tenant_id);
                    sent.1.push(row.event_id);
                }
                Some(error) => failed.push((row, error)),
            }
        }

        let mut tx = TenantTx::begin_lookup(&self.pool, Lookup::OutboxRelay, "on").await?;
        if !sent.0.is_empty() {
            sqlx::query(&format!(
                "update {schema}.outbox set published_at = now(), last_error = null
                 where (tenant_id, event_id) in (select * from unnest($1::uuid[], $2::uuid[]))"
            ))
            .bind(&sent.0)
            .bind(&sent.1)
            .execute(tx.conn())
            .await?;
        }
        for (row, error) in &failed {
            sqlx::query(&format!(
                "update {schema}.outbox
                 set attempts = attempts + 1, last_error = $3,
                     available_at = now() + make_interval(secs => $4)
                 where tenant_id = $1 and event_id = $2"
            ))
            .bind(row.tenant_id)
            .bind(row.event_id)
            .bind(error)
            .bind(backoff(row.attempts, self.config.max_backoff).as_secs_f64())
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;

        if !failed.is_empty() {
            let paused: HashSet<Uuid> = failed.iter().map(|(row, _)| row.tenant_id).collect();
            for tenant in paused {
                self.publisher.resume_publish(tenant.to_string());
            }
            tracing::warn!(failed = failed.len(), first_error = %failed[0].1, "publish failed; will retry");
            if topic_gone {
                let subscriptions: Vec<&str> = self
                    .config
                    .subscriptions
                    .iter()
                    .map(String::as_str)
                    .collect();
                if let Err(err) = pubsub::bootstrap(&self.pubsub, &subscriptions).await {
                    tracing::warn!(%err, "pubsub bootstrap failed");
                }
            }
        }
        Ok(PassOutcome {
            published,
            failed: failed.len(),
        })
    }

    /// Relays until `shutdown` completes, paced as `relay/pacing.rs` describes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let pacing = Pacing::new(self.config.idle_poll, self.config.max_backoff);
        run_paced(|| self.run_once(), pacing, shutdown).await;
        self.publisher.flush().await;
    }
}
