//! A subscriber loop that survives broker restarts.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;

use crate::envelope::EventEnvelope;

const MAX_IN_FLIGHT: usize = 64;
use crate::pubsub::{self, PubSubConfig};

/// Delivers every message of `subscription` to `handle` (acked on `Ok`, nacked on
/// `Err` so it is redelivered) until `shutdown`. On any stream failure it waits,
/// makes sure its subscription exists and subscribes again. Delivery is at least once:
/// `handle` must be idempotent by `event_id`.
pub async fn consume<F, Fut>(
    config: PubSubConfig,
    subscription: String,
    handle: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(EventEnvelope) -> Fut,
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
        let mut stream = client
            .subscribe(config.subscription_path(&subscription))
            .build();
        // Up to MAX_IN_FLIGHT messages are handled at once: the store is idempotent
        // and order-insensitive, and one database round trip per message in series
        // would cap throughput at the latency of one insert.
        let mut in_flight = futures::stream::FuturesUnordered::new();
        loop {
            let next = tokio::select! {
                () = &mut shutdown => return,
                Some(()) = in_flight.next(), if !in_flight.is_empty() => continue,
                next = stream.next(), if in_flight.len() < MAX_IN_FLIGHT => next,
            };
            match next {
                Some(Ok((message, handler))) => {
                    failures = 0;
                    match serde_json::from_slice::<EventEnvelope>(&message.data) {
                        Ok(event) => {
                            let done = handle(event);
                            in_flight.push(async move {
                                match done.await {
                                    Ok(()) => handler.ack(),
                                    Err(err) => {
                                        tracing::warn!(%err, "event handler failed; nack");
                                        handler.nack();
                                    }
                                }
                            });
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
        // Let the handlers already started finish (their acks may still land).
        while in_flight.next().await.is_some() {}
    }
}
