//! Seeded randomness that is the same on every machine.
//!
//! Sequential draws come from `ChaCha8Rng` (portable, documented value-stable), one
//! stream per purpose and per day so each part of the store can be regenerated alone.
//! Values that must be computed out of order (an order's time of day when a later
//! order looks up its customer's first purchase) come from a keyed SplitMix64 hash,
//! which gives random access by index. Only IEEE basic arithmetic is used on floats
//! (no `exp`/`ln`/`powf`, whose last bit differs between libms).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// ChaCha stream ids, one per purpose; per-day streams add the day index.
pub(super) mod streams {
    pub const CATALOG: u64 = 1;
    pub const MARKETING: u64 = 2;
    pub const CALENDAR: u64 = 3;
    pub const INVENTORY: u64 = 4;
    pub const ORDERS_DAY: u64 = 1 << 32;
    pub const AD_SPEND_DAY: u64 = 2 << 32;
}

/// Keys for [`hash`], so unrelated uses of the same index never share a value.
pub(super) mod domains {
    pub const ORDER_TIME: u64 = 1;
    pub const SLOT_PERMUTATION: u64 = 2;
}

pub(super) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(super) fn hash(seed: u64, domain: u64, value: u64) -> u64 {
    splitmix64(splitmix64(seed ^ splitmix64(domain)) ^ value)
}

/// A hash mapped to [0, 1).
pub(super) fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A multiplicative noise factor around 1 with standard deviation `sd`: the sum of three
/// uniforms (Irwin–Hall) is close to normal, bounded at ±3 sd, and needs no `ln`.
pub(super) fn noise(rng: &mut impl Rng, sd: f64) -> f64 {
    let sum = rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>();
    1.0 + sd * (sum - 1.5) / 0.5
}

/// Picks an index from cumulative weights (`cumulative[i]` = sum of weights 0..=i).
pub(super) fn pick_cumulative(rng: &mut impl Rng, cumulative: &[u64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0);
    if total == 0 {
        return 0;
    }
    let target = rng.random_range(0..total);
    cumulative.partition_point(|&c| c <= target)
}

pub(super) fn cumulative(weights: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut sum = 0u64;
    weights
        .into_iter()
        .map(|w| {
            sum += w;
            sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let draw = |seed, id| {
            let mut rng = stream(seed, id);
            (0..4).map(|_| rng.random::<u64>()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 1), draw(7, 1));
        assert_ne!(draw(7, 1), draw(7, 2));
        assert_ne!(draw(7, 1), draw(8, 1));
    }

    #[test]
    fn weighted_pick_respects_zero_weights() {
        let cumulative = cumulative([0, 5, 0, 5]);
        let mut rng = stream(1, 1);
        for _ in 0..1000 {
            let i = pick_cumulative(&mut rng, &cumulative);
            assert!(i == 1 || i == 3, "picked {i}");
        }
    }

    #[test]
    fn unit_is_in_range() {
        for v in 0..1000 {
            let u = unit(hash(3, domains::ORDER_TIME, v));
            assert!((0.0..1.0).contains(&u));
        }
    }
}
