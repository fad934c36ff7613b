//! Shopify's cost-based leaky bucket, as the client tracks it from each answer's
//! `extensions.cost`: it waits before a query the bucket cannot afford yet, and
//! after a `THROTTLED` answer for the points it was short.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `extensions.cost` of a GraphQL answer.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Cost {
    pub requested_query_cost: f64,
    /// Null on a throttled answer.
    pub actual_query_cost: Option<f64>,
    pub throttle_status: ThrottleStatus,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

/// The longest the client sleeps for the bucket in one go; a longer wait fails
/// the call with `RateLimited` and the sync is rescheduled.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);

/// The last bucket status seen and the last requested cost of each operation.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    last_status: Option<(ThrottleStatus, Instant)>,
    expected_cost: HashMap<&'static str, f64>,
}

impl Bucket {
    /// Remembers what an answer said about the bucket and the operation's cost.
    pub fn record(&mut self, operation: &'static str, cost: &Cost, now: Instant) {
        self.last_status = Some((cost.throttle_status, now));
        self.expected_cost
            .insert(operation, cost.requested_query_cost);
    }

    /// How long to wait before sending `operation` so the bucket, refilling at
    /// its restore rate since it was last seen, holds the operation's last
    /// requested cost. Zero when nothing is known yet.
    pub fn wait_before(&self, operation: &str, now: Instant) -> Duration {
        let (Some(expected), Some((status, seen))) =
            (self.expected_cost.get(operation), self.last_status)
        else {
            return Duration::ZERO;
        };
        if status.restore_rate <= 0.0 {
            return Duration::ZERO;
        }
        let refilled = status.restore_rate * now.saturating_duration_since(seen).as_secs_f64();
        let available = (status.currently_available + refilled).min(status.maximum_available);
        // A query costing more than the whole bucket can never be afforded by
        // waiting; send it and let Shopify say so.
        let expected = expected.min(status.maximum_available);
        shortfall_wait(expected - available, status.restore_rate)
    }
}

/// After `THROTTLED`: `(requested − currentlyAvailable) / restoreRate`.
pub(crate) fn throttled_wait(cost: &Cost) -> Duration {
    let status = cost.throttle_status;
    shortfall_wait(
        cost.requested_query_cost - status.currently_available,
        status.restore_rate,
    )
}

fn shortfall_wait(points: f64, restore_rate: f64) -> Duration {
    if points <= 0.0 || restore_rate <= 0.0 || !points.is_finite() {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(points / restore_rate).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(requested: f64, available: f64) -> Cost {
        Cost {
            requested_query_cost: requested,
            actual_query_cost: Some(requested / 2.0),
            throttle_status: ThrottleStatus {
                maximum_available: 1000.0,
                currently_available: available,
                restore_rate: 50.0,
            },
        }
    }

    #[test]
    fn waits_for_the_points_it_is_short() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        assert_eq!(
            bucket.wait_before("orders", start),
            Duration::ZERO,
            "nothing known yet"
        );

        bucket.record("orders", &cost(300.0, 200.0), start);
        // 100 points short at 50/s.
        assert_eq!(bucket.wait_before("orders", start), Duration::from_secs(2));
        // One second later the bucket has refilled 50 points.
        assert_eq!(
            bucket.wait_before("orders", start + Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            bucket.wait_before("orders", start + Duration::from_secs(5)),
            Duration::ZERO
        );
        // Another operation's cost is unknown until it has run once.
        assert_eq!(bucket.wait_before("products", start), Duration::ZERO);
    }

    #[test]
    fn the_refill_is_capped_by_the_bucket_size() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        bucket.record("orders", &cost(5000.0, 0.0), start);
        // The query costs more than the bucket holds: wait for a full bucket only.
        assert_eq!(bucket.wait_before("orders", start), Duration::from_secs(20));
        assert_eq!(
            bucket.wait_before("orders", start + Duration::from_secs(60)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_throttled_answer_waits_for_the_shortfall() {
        assert_eq!(throttled_wait(&cost(152.0, 52.0)), Duration::from_secs(2));
        assert_eq!(throttled_wait(&cost(10.0, 52.0)), Duration::ZERO);
        let mut no_refill = cost(100.0, 0.0);
        no_refill.throttle_status.restore_rate = 0.0;
        assert_eq!(throttled_wait(&no_refill), Duration::ZERO);
    }
}
