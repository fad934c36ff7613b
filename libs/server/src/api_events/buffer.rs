//! The calls waiting to be written, queued per tenant so that a tenant flooding the
//! buffer drops only its own calls.
//!
//! A call is admitted when its tenant has fewer than `per_tenant` calls waiting and
//! the buffer holds fewer than `total`. Beyond `total`, a quiet tenant (fewer than
//! `quiet_below` waiting) may still use a small reserve: a handful of flooding
//! tenants cannot fill the buffer for everyone else. Pushing never waits: a short
//! critical section on the tenant's shard, no await, no I/O.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use tokio::sync::Notify;
use uuid::Uuid;

use super::ApiCall;

/// How many calls may wait.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Per tenant: beyond this, the tenant's calls are dropped.
    pub per_tenant: usize,
    /// In all, for tenants that already have `quiet_below` calls waiting.
    pub total: usize,
    /// A tenant with fewer calls waiting than this is quiet…
    pub quiet_below: usize,
    /// …and may still add calls while the buffer holds fewer than `total + quiet_reserve`.
    pub quiet_reserve: usize,
}

impl Limits {
    /// 20,000 calls in all (what the writer takes in one flush), at most 2,000 from
    /// one tenant, and 5,000 more for tenants with fewer than 100 waiting.
    pub const DEFAULT: Limits = Limits {
        per_tenant: 2_000,
        total: 20_000,
        quiet_below: 100,
        quiet_reserve: 5_000,
    };
}

#[derive(Debug)]
pub(super) struct PendingCalls {
    queues: DashMap<Uuid, Vec<ApiCall>>,
    /// Calls in `queues`, reserved before a call is queued.
    waiting: AtomicUsize,
    limits: Limits,
    /// A call was refused since the last drain: the writer is behind.
    refused: AtomicBool,
    dropped: AtomicU64,
    wake: Notify,
    closed: AtomicBool,
}

/// What the writer takes in one flush.
#[derive(Debug, Default)]
pub(super) struct Drained {
    /// Each tenant's calls, in the order they were pushed.
    pub batches: Vec<(Uuid, Vec<ApiCall>)>,
    /// Calls were refused since the previous drain.
    pub behind: bool,
}

impl PendingCalls {
    pub fn new(limits: Limits) -> Self {
        PendingCalls {
            queues: DashMap::new(),
            waiting: AtomicUsize::new(0),
            limits,
            refused: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Queues `call`, or drops and counts it when its tenant (or the buffer) is full.
    pub fn push(&self, call: ApiCall) -> bool {
        let mut queue = self.queues.entry(call.tenant_id).or_default();
        let ceiling = if queue.len() < self.limits.quiet_below {
            self.limits.total + self.limits.quiet_reserve
        } else {
            self.limits.total
        };
        if queue.len() >= self.limits.per_tenant {
            drop(queue);
            self.refuse();
            return false;
        }
        // Reserved before queueing, so concurrent pushes cannot all pass the check.
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        if before >= ceiling {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            drop(queue);
            self.refuse();
            return false;
        }
        queue.push(call);
        drop(queue);
        if before == 0 {
            self.wake.notify_one();
        }
        true
    }

    fn refuse(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.refused.store(true, Ordering::Relaxed);
    }

    /// Counts calls dropped after they were taken (the writer gave up on them).
    pub fn count_dropped(&self, calls: usize) {
        self.dropped.fetch_add(calls as u64, Ordering::Relaxed);
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Resolves once calls are waiting, or the senders are gone.
    pub async fn wait(&self) {
        // `notify_one` keeps a permit when nobody waits, so a push between the check
        // and the `await` is not missed.
        while self.waiting.load(Ordering::Acquire) == 0 && !self.is_closed() {
            self.wake.notified().await;
        }
    }

    /// Takes every waiting call, grouped by tenant.
    pub fn drain(&self) -> Drained {
        let mut batches = Vec::new();
        let mut taken = 0;
        // Empty queues go too, so the map only holds tenants with calls waiting.
        self.queues.retain(|tenant_id, queue| {
            if !queue.is_empty() {
                taken += queue.len();
                batches.push((*tenant_id, std::mem::take(queue)));
            }
            false
        });
        self.waiting.fetch_sub(taken, Ordering::AcqRel);
        Drained {
            batches,
            behind: self.refused.swap(false, Ordering::Relaxed),
        }
    }

    /// No more calls will come: the writer flushes what is left and stops.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_events::tests::call_of;

    const SMALL: Limits = Limits {
        per_tenant: 10,
        total: 20,
        quiet_below: 3,
        quiet_reserve: 5,
    };

    fn counts(drained: &Drained) -> Vec<(Uuid, usize)> {
        let mut counts: Vec<_> = drained
            .batches
            .iter()
            .map(|(tenant, calls)| (*tenant, calls.len()))
            .collect();
        counts.sort();
        counts
    }

    #[test]
    fn a_flooding_tenant_drops_only_its_own_calls() {
        let pending = PendingCalls::new(SMALL);
        let (flooder, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        let admitted = (0..1_000)
            .filter(|_| pending.push(call_of(flooder)))
            .count();
        assert_eq!(admitted, SMALL.per_tenant);
        assert!((0..3).all(|_| pending.push(call_of(quiet))));
        assert_eq!(pending.dropped(), 1_000 - SMALL.per_tenant as u64);

        let drained = pending.drain();
        assert!(drained.behind, "refusals tell the writer it is behind");
        let mut expected = vec![(flooder, SMALL.per_tenant), (quiet, 3)];
        expected.sort();
        assert_eq!(counts(&drained), expected);
        // Drained means room again, and no longer behind.
        assert!(pending.push(call_of(flooder)));
        assert!(!pending.drain().behind);
    }

    #[test]
    fn many_flooding_tenants_leave_a_reserve_for_quiet_ones() {
        let pending = PendingCalls::new(SMALL);
        // Two tenants at their cap fill the buffer's `total`.
        for _ in 0..2 {
            let flooder = Uuid::new_v4();
            for _ in 0..100 {
                pending.push(call_of(flooder));
            }
        }
        let late = Uuid::new_v4();
        assert!(pending.push(call_of(late)), "a quiet tenant still gets in");
        assert!(pending.push(call_of(late)));
        assert!(pending.push(call_of(late)));
        assert!(
            !pending.push(call_of(late)),
            "past quiet_below, the buffer is full for it too"
        );
        let all: usize = counts(&pending.drain()).iter().map(|(_, n)| n).sum();
        assert_eq!(all, 23);
    }
}
