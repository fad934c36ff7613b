//! Live tails (StreamEvents): a broadcast channel per tenant, created for its first
//! subscriber and removed with its last, so a stored event is offered only to its own
//! tenant's streams; a cap on the streams one user and one tenant may hold; and the
//! tail itself, which ends when the token expires or is revoked, or when the reader
//! fell so far behind that events were lost. No tonic here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::Stream;
use pp_auth::{CachedTokenStatus, Principal, TokenState};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::store::EventRow;

/// How many live tails may be open, and how far one may fall behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Streams one user may hold at once (`PULSEPOINT_OBSERVABILITY_STREAMS_PER_USER`).
    pub per_user: usize,
    /// Streams one tenant may hold at once (`PULSEPOINT_OBSERVABILITY_STREAMS_PER_TENANT`).
    pub per_tenant: usize,
    /// Events a tenant's channel keeps for its slowest reader
    /// (`PULSEPOINT_OBSERVABILITY_STREAM_BUFFER`); a reader further behind is told.
    pub buffer: usize,
    /// How often an open stream re-checks its token (revoked, user or tenant deactivated).
    pub recheck: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_user: 5,
            per_tenant: 100,
            buffer: 1024,
            recheck: Duration::from_secs(1),
        }
    }
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    UserLimit,
    TenantLimit,
}

/// Why an open stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailEnd {
    /// The token reached its `exp`.
    Expired,
    /// The token was revoked, or its user or tenant deactivated.
    Revoked,
    /// The token's state could not be read (fail closed, like the auth layer).
    StatusUnavailable,
    /// The reader fell behind by more than the buffer: this many events were missed.
    Lagged(u64),
}

#[derive(Default)]
struct TenantChannel {
    sender: Option<broadcast::Sender<Arc<EventRow>>>,
    streams: usize,
    per_user: HashMap<Uuid, usize>,
}

type Channels = Mutex<HashMap<Uuid, TenantChannel>>;

/// The per-tenant fan-out and the stream slots.
pub struct Hub {
    limits: StreamLimits,
    channels: Arc<Channels>,
}

/// An open stream's receiver and its slot (freed when dropped).
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<EventRow>>,
    _slot: Slot,
}

/// One stream's place in the caps; dropping it frees the place, and the tenant's
/// channel with the last one.
struct Slot {
    channels: Arc<Channels>,
    tenant: Uuid,
    user: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(channel) = channels.get_mut(&self.tenant) else {
            return;
        };
        channel.streams = channel.streams.saturating_sub(1);
        if let Some(count) = channel.per_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                channel.per_user.remove(&self.user);
            }
        }
        if channel.streams == 0 {
            channels.remove(&self.tenant);
        }
    }
}

impl Hub {
    pub fn new(limits: StreamLimits) -> Self {
        Hub {
            limits,
            channels: Arc::default(),
        }
    }

    pub fn limits(&self) -> StreamLimits {
        self.limits
    }

    /// Opens a stream for `user` of `tenant`, unless either holds its cap already.
    pub fn subscribe(&self, tenant: Uuid, user: Uuid) -> Result<Subscription, Refused> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let channel = channels.entry(tenant).or_default();
        if channel.streams >= self.limits.per_tenant {
            return Err(Refused::TenantLimit);
        }
        let held = channel.per_user.get(&user).copied().unwrap_or(0);
        if held >= self.limits.per_user {
            return Err(Refused::UserLimit);
        }
        let buffer = self.limits.buffer.max(1);
        let receiver = channel
            .sender
            .get_or_insert_with(|| broadcast::channel(buffer).0)
            .subscribe();
        channel.streams += 1;
        *channel.per_user.entry(user).or_default() += 1;
        Ok(Subscription {
            receiver,
            _slot: Slot {
                channels: self.channels.clone(),
                tenant,
                user,
            },
        })
    }

    /// Offers a stored event to its tenant's open streams (none: nothing to do).
    pub fn publish(&self, row: Arc<EventRow>) {
        let sender = {
            let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            channels
                .get(&row.tenant_id)
                .and_then(|channel| channel.sender.clone())
        };
        if let Some(sender) = sender {
            // No receiver left is not an error: the last stream just closed.
            let _ = sender.send(row);
        }
    }

    /// Tenants with at least one open stream.
    pub fn open_tenants(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The events of `subscription` that `keep` admits, until the principal's token
/// expires or stops being active (checked every `recheck` through the same status the
/// auth layer asks), or the reader lags: then one `Err` saying why, and the end.
pub fn tail<F>(
    subscription: Subscription,
    principal: Principal,
    status: Arc<CachedTokenStatus>,
    recheck: Duration,
    keep: F,
) -> impl Stream<Item = Result<Arc<EventRow>, TailEnd>> + Send + 'static
where
    F: Fn(&EventRow) -> bool + Send + 'static,
{
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let left = Duration::from_secs(principal.expires_at.saturating_sub(now_unix).max(0) as u64);
    let expires = tokio::time::Instant::now() + left;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + recheck, recheck);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Tail {
        subscription,
        principal,
        status,
        ticker,
        expires,
        keep,
    };
    futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match state.next().await {
            Some(Ok(row)) => Some((Ok(row), Some(state))),
            Some(Err(end)) => Some((Err(end), None)),
            None => None,
        }
    })
}

struct Tail<F> {
    subscription: Subscription,
    principal: Principal,
    status: Arc<CachedTokenStatus>,
    ticker: tokio::time::Interval,
    expires: tokio::time::Instant,
    keep: F,
}

impl<F: Fn(&EventRow) -> bool> Tail<F> {
    async fn next(&mut self) -> Option<Result<Arc<EventRow>, TailEnd>> {
        loop {
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(self.expires) => return Some(Err(TailEnd::Expired)),
                _ = self.ticker.tick() => match self.status.state(&self.principal).await {
                    Ok(TokenState::Active) => {}
                    Ok(refused) => {
                        tracing::info!(reason = refused.as_str(), "live tail ended: token no longer valid");
                        return Some(Err(TailEnd::Revoked));
                    }
                    Err(cause) => {
                        tracing::warn!(%cause, "live tail ended: token status unavailable");
                        return Some(Err(TailEnd::StatusUnavailable));
                    }
                },
                received = self.subscription.receiver.recv() => match received {
                    Ok(row) if (self.keep)(&row) => return Some(Ok(row)),
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "live tail ended: reader too slow");
                        return Some(Err(TailEnd::Lagged(missed)));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tenant: Uuid) -> Arc<EventRow> {
        Arc::new(EventRow::from(&pp_events::EventEnvelope::new(
            tenant,
            "x.y",
            serde_json::json!({}),
        )))
    }

    fn hub(per_user: usize, per_tenant: usize) -> Hub {
        Hub::new(StreamLimits {
            per_user,
            per_tenant,
            buffer: 4,
            ..StreamLimits::default()
        })
    }

    #[test]
    fn caps_per_user_and_tenant_and_frees_a_slot_on_drop() {
        let hub = hub(2, 3);
        let (tenant, alice, bob) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let first = hub.subscribe(tenant, alice).expect("first");
        let _second = hub.subscribe(tenant, alice).expect("second");
        assert_eq!(hub.subscribe(tenant, alice).err(), Some(Refused::UserLimit));
        let _bobs = hub.subscribe(tenant, bob).expect("bob");
        assert_eq!(hub.subscribe(tenant, bob).err(), Some(Refused::TenantLimit));
        drop(first);
        hub.subscribe(tenant, alice)
            .expect("a dropped stream frees its slot");
        hub.subscribe(Uuid::new_v4(), alice)
            .expect("another tenant has its own caps");
    }

    #[test]
    fn events_reach_only_their_tenant_and_the_channel_goes_with_its_last_stream() {
        let hub = hub(5, 5);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut on_a = hub.subscribe(a, Uuid::new_v4()).expect("a");
        hub.publish(row(b));
        hub.publish(row(a));
        let got = on_a.receiver.try_recv().expect("a's event");
        assert_eq!(got.tenant_id, a);
        assert!(on_a.receiver.try_recv().is_err(), "b's event never offered");
        assert_eq!(hub.open_tenants(), 1, "no channel for b: nobody listens");
        drop(on_a);
        assert_eq!(hub.open_tenants(), 0);
    }
}
