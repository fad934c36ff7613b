//! The background writer: wakes when calls wait, lets them pile up for
//! [`FLUSH_EVERY`], then writes each tenant's calls as one batch, retrying a failed
//! batch with back-off (0.2, 0.4, 0.8, 1.6 s) before dropping and counting it.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use pp_auth::TenantId;
use pp_db::{PgPool, TenantTx};
use uuid::Uuid;

use super::ApiCall;
use super::buffer::PendingCalls;

pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Tries per tenant batch.
const WRITE_ATTEMPTS: u32 = 5;

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a tenant's batch of calls goes: the service's outbox, or a test's recorder.
pub(super) trait CallSink: Send + Sync + 'static {
    fn write<'a>(
        &'a self,
        tenant_id: Uuid,
        calls: &'a [ApiCall],
    ) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// Writes a batch as one bulk outbox row (see `pp_events::outbox::record_batch`).
pub(super) struct OutboxSink {
    pub pool: PgPool,
    pub schema: &'static str,
}

impl CallSink for OutboxSink {
    fn write<'a>(
        &'a self,
        tenant_id: Uuid,
        calls: &'a [ApiCall],
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let events = calls
                .iter()
                .map(ApiCall::serialized)
                .collect::<Result<Vec<_>, _>>()?;
            let mut tx = TenantTx::begin_for_tenant(&self.pool, TenantId(tenant_id)).await?;
            pp_events::outbox::record_batch(&mut tx, self.schema, &events).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

/// Writes until the senders are gone and nothing is left.
pub(super) async fn run(pending: Arc<PendingCalls>, sink: impl CallSink) {
    let mut behind = false;
    let mut dropped_reported = 0;
    loop {
        // Wait for a first call, then let calls pile up for FLUSH_EVERY without waking
        // this task for each one. A writer that had to refuse calls flushes again at
        // once.
        pending.wait().await;
        if !behind && !pending.is_closed() {
            tokio::time::sleep(FLUSH_EVERY).await;
        }
        let drained = pending.drain();
        if drained.batches.is_empty() && pending.is_closed() {
            return;
        }
        behind = drained.behind;
        for (tenant_id, calls) in &drained.batches {
            write_with_retry(&sink, &pending, *tenant_id, calls).await;
        }
        // Drops happen on the request path, silently there: say so here, once per flush.
        let dropped_now = pending.dropped();
        if dropped_now > dropped_reported {
            tracing::warn!(
                dropped = dropped_now - dropped_reported,
                total = dropped_now,
                "api events dropped: the writer fell behind"
            );
            dropped_reported = dropped_now;
        }
    }
}

/// The database may be briefly away: retry with back-off (the buffer keeps taking
/// calls meanwhile, and drops what does not fit). Event ids are fixed per call, so a
/// retry after a commit whose answer was lost only publishes duplicates, which the
/// store absorbs.
async fn write_with_retry(
    sink: &impl CallSink,
    pending: &PendingCalls,
    tenant_id: Uuid,
    calls: &[ApiCall],
) {
    let mut attempt = 0;
    while let Err(err) = sink.write(tenant_id, calls).await {
        attempt += 1;
        if attempt >= WRITE_ATTEMPTS {
            pending.count_dropped(calls.len());
            tracing::error!(%err, count = calls.len(), "api events not recorded; dropped");
            return;
        }
        tracing::warn!(%err, attempt, "api events not recorded yet; retrying");
        tokio::time::sleep(retry_delay(attempt)).await;
    }
}

/// The pause after the `attempt`-th failure: 0.2, 0.4, 0.8, 1.6 s.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(100) * 2u32.pow(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_events::buffer::Limits;
    use crate::api_events::tests::call_of;
    use std::sync::Mutex;
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    /// One write the sink saw: when, for whom, how many calls, and whether it took it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Write {
        at: Duration,
        tenant_id: Uuid,
        calls: usize,
        ok: bool,
    }

    /// Records every write; fails the first `failures` of them.
    struct Recorder {
        start: Instant,
        failures: Mutex<usize>,
        writes: mpsc::UnboundedSender<Write>,
    }

    impl CallSink for Recorder {
        fn write<'a>(
            &'a self,
            tenant_id: Uuid,
            calls: &'a [ApiCall],
        ) -> BoxFuture<'a, Result<(), BoxError>> {
            let ok = {
                let mut failures = self.failures.lock().expect("lock");
                let ok = *failures == 0;
                *failures = failures.saturating_sub(1);
                ok
            };
            let _ = self.writes.send(Write {
                at: self.start.elapsed(),
                tenant_id,
                calls: calls.len(),
                ok,
            });
            Box::pin(async move {
                if ok {
                    Ok(())
                } else {
                    Err("database away".into())
                }
            })
        }
    }

    /// A writer over `limits` whose sink fails its first `failures` writes.
    fn writer(
        limits: Limits,
        failures: usize,
    ) -> (Arc<PendingCalls>, mpsc::UnboundedReceiver<Write>) {
        let pending = Arc::new(PendingCalls::new(limits));
        let (writes, written) = mpsc::unbounded_channel();
        let sink = Recorder {
            start: Instant::now(),
            failures: Mutex::new(failures),
            writes,
        };
        tokio::spawn(run(pending.clone(), sink));
        (pending, written)
    }

    /// The sink's next write; a writer that never writes fails the test (paused time
    /// jumps to the deadline) instead of hanging it.
    async fn next_write(written: &mut mpsc::UnboundedReceiver<Write>) -> Write {
        tokio::time::timeout(Duration::from_secs(3600), written.recv())
            .await
            .expect("a write within the hour")
            .expect("the sink is alive")
    }

    /// Lets the writer task run up to its next await.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn flushes_a_tenant_batch_once_the_flush_interval_has_passed() {
        let (pending, mut written) = writer(Limits::DEFAULT, 0);
        let tenant = Uuid::new_v4();
        for _ in 0..3 {
            pending.push(call_of(tenant));
        }
        settle().await;
        // More calls inside the interval join the same batch.
        tokio::time::advance(Duration::from_millis(150)).await;
        pending.push(call_of(tenant));
        assert!(written.try_recv().is_err(), "nothing written early");
        let write = next_write(&mut written).await;
        assert_eq!(
            write,
            Write {
                at: FLUSH_EVERY,
                tenant_id: tenant,
                calls: 4,
                ok: true
            }
        );
        assert_eq!(pending.dropped(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_with_back_off_then_drops_and_counts() {
        let (pending, mut written) = writer(Limits::DEFAULT, WRITE_ATTEMPTS as usize);
        let tenant = Uuid::new_v4();
        for _ in 0..7 {
            pending.push(call_of(tenant));
        }
        let mut attempts = Vec::new();
        for _ in 0..WRITE_ATTEMPTS {
            let write = next_write(&mut written).await;
            assert_eq!((write.tenant_id, write.calls, write.ok), (tenant, 7, false));
            attempts.push(write.at.as_millis());
        }
        // Flush at 200 ms, then 0.2, 0.4, 0.8 and 1.6 s between the tries.
        assert_eq!(attempts, vec![200, 400, 800, 1600, 3200]);
        // Given up: the batch is counted as dropped and not tried again.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(written.try_recv().is_err(), "no sixth try");
        assert_eq!(pending.dropped(), 7);

        // The next calls are written as usual.
        pending.push(call_of(tenant));
        let write = next_write(&mut written).await;
        assert_eq!((write.calls, write.ok), (1, true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flooding_tenant_does_not_crowd_out_a_quiet_one() {
        let limits = Limits {
            per_tenant: 50,
            total: 100,
            quiet_below: 10,
            quiet_reserve: 20,
        };
        let (pending, mut written) = writer(limits, 0);
        let (flooder, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        for _ in 0..5_000 {
            pending.push(call_of(flooder));
        }
        for _ in 0..5 {
            pending.push(call_of(quiet));
        }
        let mut by_tenant = std::collections::HashMap::new();
        for _ in 0..2 {
            let write = next_write(&mut written).await;
            assert!(write.ok);
            *by_tenant.entry(write.tenant_id).or_insert(0) += write.calls;
        }
        assert_eq!(by_tenant.get(&quiet), Some(&5), "every quiet call written");
        assert_eq!(by_tenant.get(&flooder), Some(&50));
        assert_eq!(pending.dropped(), 5_000 - 50, "only the flooder's excess");
    }

    #[tokio::test(start_paused = true)]
    async fn stops_after_flushing_what_is_left_once_the_senders_are_gone() {
        let pending = Arc::new(PendingCalls::new(Limits::DEFAULT));
        let (writes, mut written) = mpsc::unbounded_channel();
        let sink = Recorder {
            start: Instant::now(),
            failures: Mutex::new(0),
            writes,
        };
        let task = tokio::spawn(run(pending.clone(), sink));
        pending.push(call_of(Uuid::new_v4()));
        pending.close();
        task.await.expect("the writer stops");
        assert_eq!(next_write(&mut written).await.calls, 1);
    }
}
