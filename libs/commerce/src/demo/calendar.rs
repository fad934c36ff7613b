//! When orders happen: how many on each day (weekly rhythm, growth trend, sales
//! events, noise), at what second, and which of them are first purchases.
//!
//! Everything an order needs from here is a pure function of (day, slot), so a later
//! order can find when its returning customer first bought without anything being
//! remembered per customer: memory stays at a few numbers per day.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::Rng;

use super::DemoConfig;
use super::rng::{self, domains, streams};

/// How likely an order is at each local hour: quiet at night, an evening peak.
const HOUR_WEIGHTS: [u32; 24] = [
    3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 6, 6, 6, 7, 8, 10, 11, 10, 7, 5,
];

const SECONDS_PER_DAY: i64 = 86_400;

pub(super) struct Calendar {
    seed: u64,
    pub(super) start: NaiveDate,
    pub(super) days: u32,
    /// Unix time of local midnight on the first day.
    start_utc: i64,
    pub(super) orders: Vec<u32>,
    /// Orders before each day; `days + 1` entries, the last is the total.
    pub(super) order_offset: Vec<u64>,
    new_customers: Vec<u32>,
    /// Customers created before each day; `days + 1` entries.
    pub(super) customer_offset: Vec<u64>,
    slot_permutations: Vec<SlotPermutation>,
    /// Trailing 7-day mean of orders per day: what a planner or an ad budget follows.
    pub(super) smooth_orders: Vec<f64>,
    pub(super) sale_day: Vec<bool>,
}

impl Calendar {
    pub(super) fn new(config: &DemoConfig, total_orders: u64) -> Self {
        let days = config.history_days;
        let start = config.end_date - Duration::days(i64::from(days) - 1);
        let start_utc = start
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp())
            - i64::from(config.utc_offset_minutes) * 60;
        let mut rng = rng::stream(config.seed, streams::CALENDAR);

        // Growth of 2.5–5 % a month, compounded daily by multiplication only.
        let monthly_growth: f64 = rng.random_range(0.025..0.05);
        let daily_growth = 1.0 + monthly_growth / 30.0;
        let mut trend = 1.0;
        let mut sale_day = Vec::with_capacity(days as usize);
        let weights: Vec<u64> = (0..days)
            .map(|d| {
                let date = start + Duration::days(i64::from(d));
                let (event, is_sale) = event_factor(date);
                sale_day.push(is_sale);
                let weight =
                    weekday_factor(date.weekday()) * trend * event * rng::noise(&mut rng, 0.08);
                trend *= daily_growth;
                ((weight * 1_000_000.0).round() as u64).max(1)
            })
            .collect();

        let orders = spread_exactly(total_orders, &weights);
        let order_offset = offsets(&orders);
        let smooth_orders = (0..orders.len())
            .map(|d| {
                let window = &orders[d.saturating_sub(6)..=d];
                window.iter().map(|&n| f64::from(n)).sum::<f64>() / window.len() as f64
            })
            .collect();

        let mut known_customers = 0u64;
        let new_customers: Vec<u32> = orders
            .iter()
            .enumerate()
            .map(|(d, &n)| {
                let new = if known_customers == 0 {
                    n
                } else {
                    let expected = f64::from(n) * new_customer_share(d as u32);
                    ((expected + rng.random::<f64>()).floor() as u32).min(n)
                };
                known_customers += u64::from(new);
                new
            })
            .collect();
        let customer_offset = offsets(&new_customers);
        let slot_permutations = orders
            .iter()
            .enumerate()
            .map(|(d, &n)| {
                SlotPermutation::new(
                    n,
                    rng::hash(config.seed, domains::SLOT_PERMUTATION, d as u64),
                )
            })
            .collect();

        Self {
            seed: config.seed,
            start,
            days,
            start_utc,
            orders,
            order_offset,
            new_customers,
            customer_offset,
            slot_permutations,
            smooth_orders,
            sale_day,
        }
    }

    /// Unix time of local midnight at the start of `day`.
    pub(super) fn day_start(&self, day: u32) -> i64 {
        self.start_utc + i64::from(day) * SECONDS_PER_DAY
    }

    pub(super) fn date(&self, day: u32) -> NaiveDate {
        self.start + Duration::days(i64::from(day))
    }

    /// The last second of the period (23:59:59 local on the end date).
    pub(super) fn last_instant(&self) -> i64 {
        self.start_utc + i64::from(self.days) * SECONDS_PER_DAY - 1
    }

    /// When the order in `slot` of `day` is processed. Slots are stratified over the
    /// day's distribution of order times, so times rise with the slot (the stream is
    /// chronological without sorting) and each slot's time can be computed alone.
    pub(super) fn order_time(&self, day: u32, slot: u32) -> i64 {
        let d = day as usize;
        let global = self.order_offset[d] + u64::from(slot);
        let jitter = rng::unit(rng::hash(self.seed, domains::ORDER_TIME, global));
        let quantile = (f64::from(slot) + jitter) / f64::from(self.orders[d].max(1));
        self.start_utc + i64::from(day) * SECONDS_PER_DAY + seconds_into_day(quantile)
    }

    /// The customer number when the order in `slot` of `day` is a customer's first.
    pub(super) fn new_customer_at(&self, day: u32, slot: u32) -> Option<u64> {
        let d = day as usize;
        let rank = self.slot_permutations[d].apply(u64::from(slot));
        (rank < u64::from(self.new_customers[d])).then(|| self.customer_offset[d] + rank)
    }

    /// When customer `customer` placed their first order (`Customer.created_at`).
    pub(super) fn customer_created_at(&self, customer: u64) -> i64 {
        let day = self.customer_offset.partition_point(|&c| c <= customer) - 1;
        let rank = customer - self.customer_offset[day];
        let slot = self.slot_permutations[day].invert(rank);
        self.order_time(day as u32, slot as u32)
    }
}

/// Share of a day's orders from first-time customers: about 70 % at the start, falling
/// towards 45 % as the customer base grows (a rational curve, no `exp`).
fn new_customer_share(day: u32) -> f64 {
    0.45 + 0.27 * 240.0 / (240.0 + f64::from(day))
}

/// Weekends sell about a fifth more than weekdays.
fn weekday_factor(weekday: Weekday) -> f64 {
    match weekday {
        Weekday::Mon => 0.94,
        Weekday::Tue => 0.91,
        Weekday::Wed => 0.92,
        Weekday::Thu => 0.95,
        Weekday::Fri => 0.98,
        Weekday::Sat => 1.14,
        Weekday::Sun => 1.19,
    }
}

/// Black Friday to Cyber Monday (a sale, with more discounts), December gifting, and the
/// quiet days around Christmas. Returns the demand factor and whether it is a sale day.
fn event_factor(date: NaiveDate) -> (f64, bool) {
    if let Some(thanksgiving) =
        NaiveDate::from_weekday_of_month_opt(date.year(), 11, Weekday::Thu, 4)
    {
        match (date - thanksgiving).num_days() {
            1 => return (2.3, true),
            2 => return (1.7, true),
            3 => return (1.6, true),
            4 => return (2.0, true),
            _ => {}
        }
    }
    match (date.month(), date.day()) {
        (12, 1..=18) => (1.2, false),
        (12, 24..=26) => (0.7, false),
        _ => (1.0, false),
    }
}

fn seconds_into_day(quantile: f64) -> i64 {
    let total: u32 = HOUR_WEIGHTS.iter().sum();
    let target = quantile.clamp(0.0, 1.0) * f64::from(total);
    let mut below = 0.0;
    for (hour, &weight) in HOUR_WEIGHTS.iter().enumerate() {
        let weight = f64::from(weight);
        if target < below + weight || hour == HOUR_WEIGHTS.len() - 1 {
            let within = ((target - below) / weight).clamp(0.0, 1.0);
            return hour as i64 * 3600 + ((within * 3600.0) as i64).min(3599);
        }
        below += weight;
    }
    SECONDS_PER_DAY - 1
}

/// Splits `total` over days in proportion to `weights`, summing to exactly `total`
/// (cumulative rounding in integers).
fn spread_exactly(total: u64, weights: &[u64]) -> Vec<u32> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut cumulative: u128 = 0;
    let mut assigned: u64 = 0;
    weights
        .iter()
        .map(|&w| {
            cumulative += u128::from(w);
            let target = (u128::from(total) * cumulative / sum.max(1)) as u64;
            let count = target - assigned;
            assigned = target;
            count as u32
        })
        .collect()
}

fn offsets(counts: &[u32]) -> Vec<u64> {
    let mut sum = 0u64;
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    offsets.push(0);
    for &n in counts {
        sum += u64::from(n);
        offsets.push(sum);
    }
    offsets
}

/// A bijection of a day's slots, `slot -> (a·slot + b) mod n`, that scatters the
/// first-purchase slots over the day and can be inverted in O(1).
struct SlotPermutation {
    n: u64,
    a: u64,
    a_inverse: u64,
    b: u64,
}

impl SlotPermutation {
    fn new(n: u32, hash: u64) -> Self {
        let n = u64::from(n);
        if n <= 1 {
            return Self {
                n,
                a: 1,
                a_inverse: 1,
                b: 0,
            };
        }
        let mut a = 1 + hash % (n - 1);
        while gcd(a, n) != 1 {
            a = if a + 1 >= n { 1 } else { a + 1 };
        }
        Self {
            n,
            a,
            a_inverse: modular_inverse(a, n),
            b: (hash >> 32) % n,
        }
    }

    fn apply(&self, slot: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        ((u128::from(self.a) * u128::from(slot) + u128::from(self.b)) % u128::from(self.n)) as u64
    }

    fn invert(&self, rank: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let shifted = (rank + self.n - self.b) % self.n;
        ((u128::from(self.a_inverse) * u128::from(shifted)) % u128::from(self.n)) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn modular_inverse(a: u64, n: u64) -> u64 {
    let (mut old_r, mut r) = (i128::from(a), i128::from(n));
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(i128::from(n)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreading_is_exact_and_proportional() {
        let counts = spread_exactly(1_000, &[1, 2, 3, 4]);
        assert_eq!(counts.iter().map(|&c| u64::from(c)).sum::<u64>(), 1_000);
        assert_eq!(counts, vec![100, 200, 300, 400]);
        let odd = spread_exactly(7, &[5, 5, 5]);
        assert_eq!(odd.iter().sum::<u32>(), 7);
    }

    #[test]
    fn slot_permutations_are_bijections() {
        for n in [1u32, 2, 3, 10, 97, 360] {
            let p = SlotPermutation::new(n, 0xDEAD_BEEF_1234_5678);
            let mut seen = vec![false; n as usize];
            for slot in 0..u64::from(n) {
                let rank = p.apply(slot);
                assert!(!seen[rank as usize]);
                seen[rank as usize] = true;
                assert_eq!(p.invert(rank), slot);
            }
        }
    }

    #[test]
    fn times_rise_within_the_day_and_peak_in_the_evening() {
        let mut previous = -1;
        let mut evening = 0;
        for i in 0..1_000 {
            let s = seconds_into_day(f64::from(i) / 1_000.0);
            assert!(s >= previous && s < SECONDS_PER_DAY);
            previous = s;
            if (18 * 3600..22 * 3600).contains(&s) {
                evening += 1;
            }
        }
        // 4 of 24 hours hold well over a sixth of the orders.
        assert!(evening > 250, "{evening}");
    }
}
