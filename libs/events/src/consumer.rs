//! A subscriber loop that survives broker restarts and hands events over in batches.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;
use google_cloud_pubsub::subscriber::handler::Handler;

use crate::envelope::EventEnvelope;
use crate::pubsub::{self, PubSubConfig};

/// Events handed to the handler at once (at most).
const MAX_BATCH: usize = 500;
/// How long a batch waits for more events after its first one.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Batches being handled at the same time.
const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// Streaming pulls opened on the subscription at once (merged): one stream's delivery
/// rate, not the store, was what capped throughput (≈ 2k messages/s on the emulator).
const STREAMS: usize = 4;
/// Messages the broker may have outstanding (unacked) per stream.
const MAX_OUTSTANDING: i64 = 1_000;

/// One delivered event, the trace context it was recorded in (the `traceparent`
/// attribute, see [`crate::relay::TRACEPARENT`]) and the tenant the message was
/// published for (the `tenant_id` attribute, see [`crate::relay::TENANT_ID`]), which a
/// consumer compares with the envelope's before trusting either.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: EventEnvelope,
    pub traceparent: Option<String>,
    pub tenant_attribute: Option<String>,
}

/// Delivers every message of `subscription` to `handle` in batches (all acked on
/// `Ok`, all nacked on `Err` so they are redelivered) until `shutdown`. On any stream
/// failure it waits, makes sure its subscription exists and subscribes again.
/// Delivery is at least once and unordered across batches: `handle` must be idempotent
/// by `event_id` and must not depend on order.
pub async fn consume<F, Fut>(
    config: PubSubConfig,
    subscription: String,
    handle: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(Vec<Delivery>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    tokio::pin!(shutdown);
    let mut failures: u32 = 0;
    loop {
        if failures > 0 {
            let pause = (Duration::from_millis(100) * 2u32.pow(failures.min(6)))
                .min(Duration::from_secs(5));
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
        // The subscription only: the topic is the relay's (see `pubsub::bootstrap`).
        if let Err(err) = pubsub::ensure_subscriptions(&config, &[subscription.as_str()]).await {
            tracing::warn!(%err, "subscription not ready; retrying");
            failures += 1;
            continue;
        }
        let client = match pubsub::subscriber(&config).await {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(%err, "subscriber client failed; retrying");
                failures += 1;
                continue;
            }
        };
        let mut stream = Streams::open(&client, &config.subscription_path(&subscription));
        // A batch is cut at MAX_BATCH events or BATCH_WINDOW after its first one; up to
        // MAX_BATCHES_IN_FLIGHT are handled at once (one database transaction per
        // tenant and batch instead of one per event).
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut events: Vec<Delivery> = Vec::with_capacity(MAX_BATCH);
        let mut handlers: Vec<Handler> = Vec::with_capacity(MAX_BATCH);
        let mut batch_deadline: Option<tokio::time::Instant> = None;
        loop {
            let due = batch_deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
            if (due || events.len() >= MAX_BATCH) && in_flight.len() < MAX_BATCHES_IN_FLIGHT {
                let batch = std::mem::replace(&mut events, Vec::with_capacity(MAX_BATCH));
                let acks = std::mem::replace(&mut handlers, Vec::with_capacity(MAX_BATCH));
                in_flight.push(settle(&handle, batch, acks));
                batch_deadline = None;
                continue;
            }
            let window = batch_deadline.filter(|_| !due);
            let next = tokio::select! {
                () = &mut shutdown => return,
                Some(()) = in_flight.next(), if !in_flight.is_empty() => continue,
                () = sleep_until(window), if window.is_some() => continue,
                next = stream.next(), if events.len() < MAX_BATCH => next,
            };
            match next {
                Some(Ok((message, handler))) => {
                    failures = 0;
                    match serde_json::from_slice::<EventEnvelope>(&message.data) {
                        Ok(event) => {
                            if events.is_empty() {
                                batch_deadline = Some(tokio::time::Instant::now() + BATCH_WINDOW);
                            }
                            let traceparent =
                                message.attributes.get(crate::relay::TRACEPARENT).cloned();
                            let tenant_attribute =
                                message.attributes.get(crate::relay::TENANT_ID).cloned();
                            events.push(Delivery {
                                event,
                                traceparent,
                                tenant_attribute,
                            });
                            handlers.push(handler);
                        }
                        Err(err) => {
                            // A malformed message can never succeed: ack it away, loudly.
                            tracing::error!(%err, message_id = %message.message_id, "undecodable event dropped");
                            handler.ack();
                        }
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(%err, "subscription stream failed; resubscribing");
                    failures += 1;
                    break;
                }
                None => {
                    failures += 1;
                    break;
                }
            }
        }
        // The batch being gathered is handled too; the handlers already started finish
        // (their acks may still land; what does not is redelivered).
        if !events.is_empty() {
            in_flight.push(settle(
                &handle,
                std::mem::take(&mut events),
                std::mem::take(&mut handlers),
            ));
        }
        while in_flight.next().await.is_some() {}
    }
}

type Item = Result<(google_cloud_pubsub::model::Message, Handler), String>;

/// STREAMS streaming pulls on one subscription, merged into one sequence. Dropping it
/// stops them (unacked messages are redelivered).
struct Streams {
    rx: tokio::sync::mpsc::Receiver<Option<Item>>,
    _pulls: tokio::task::JoinSet<()>,
}

impl Streams {
    fn open(client: &google_cloud_pubsub::client::Subscriber, subscription: &str) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(MAX_BATCH);
        let mut pulls = tokio::task::JoinSet::new();
        for _ in 0..STREAMS {
            let mut stream = client
                .subscribe(subscription.to_owned())
                .set_max_outstanding_messages(MAX_OUTSTANDING)
                .build();
            let tx = tx.clone();
            pulls.spawn(async move {
                loop {
                    let item = stream
                        .next()
                        .await
                        .map(|result| result.map_err(|err| err.to_string()));
                    let ended = !matches!(item, Some(Ok(_)));
                    if tx.send(item).await.is_err() || ended {
                        return;
                    }
                }
            });
        }
        Streams { rx, _pulls: pulls }
    }

    /// The next message; `None` once any stream has ended (the caller resubscribes).
    async fn next(&mut self) -> Option<Item> {
        self.rx.recv().await.flatten()
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Hands `batch` to `handle` and acks it all on success. When the batch fails, its
/// events are tried one by one, so one event that cannot be stored (nacked, and in
/// production dead-lettered after its tries) does not hold back the rest.
async fn settle<F, Fut>(handle: &F, batch: Vec<Delivery>, handlers: Vec<Handler>)
where
    F: Fn(Vec<Delivery>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let single = batch.len() == 1;
    let retry = (!single).then(|| batch.clone());
    let err = match handle(batch).await {
        Ok(()) => return handlers.into_iter().for_each(Handler::ack),
        Err(err) => err,
    };
    let Some(retry) = retry else {
        tracing::warn!(%err, "event failed; nack");
        return handlers.into_iter().for_each(Handler::nack);
    };
    tracing::warn!(%err, count = handlers.len(), "event batch failed; retrying its events one by one");
    let mut failed = 0;
    for (delivery, handler) in retry.into_iter().zip(handlers) {
        let event_id = delivery.event.event_id;
        match handle(vec![delivery]).await {
            Ok(()) => handler.ack(),
            Err(err) => {
                failed += 1;
                tracing::warn!(%err, %event_id, "event failed; nack");
                handler.nack();
            }
        }
    }
    if failed > 0 {
        tracing::warn!(failed, "events nacked for redelivery");
    }
}
