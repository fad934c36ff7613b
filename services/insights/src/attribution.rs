//! Attribution: how each order's net revenue is credited to the marketing touches
//! before it, and how the credits add up per ad platform or campaign. Pure Rust: no
//! SQL, no tonic; `store::attribution` reads the journeys, `api::attribution` serves
//! GetAttribution.
//!
//! The rules (also stated in `docs/metrics.md`, "Attribution"):
//!
//! - **Window.** A touch counts for an order when it happened at or before the
//!   order's `processed_at` and at most `lookback_days` × 24 h before it. Touches are
//!   ordered by time, then by their position in the journey.
//! - **Channels.** `paid_social` and `paid_search` are *paid*; a paid touch with an ad
//!   platform (`meta`, `tiktok`, `google_ads`) is an *ad touch*, the only kind a row
//!   of the response can receive. `direct` is *direct*; every other channel (`email`,
//!   `organic`, `referral`, and paid ones) is *non-direct*.
//! - **Models.** LAST_CLICK: all to the last ad touch. FIRST_CLICK: all to the first
//!   ad touch. LINEAR: equal weights over every touch. LAST_NON_DIRECT_CLICK: all to
//!   the last non-direct touch. TIME_DECAY: weight `2^(−age / half_life)`, age = order
//!   time − touch time. POSITION_BASED: 40 % first, 40 % last, 20 % split over the
//!   ones between; one touch 100 %, two 50/50.
//! - **Exact split.** Each order's amount is split in integer micros by largest
//!   remainder: every touch gets `floor(amount × weight ÷ total)`, and the micros left
//!   over go one each to the largest remainders, ties to the heavier weight, then to
//!   the later touch. So the credits of an order always sum to its amount exactly.
//! - **Unattributed.** Credit landing on a touch that is not an ad touch (email,
//!   organic, referral, direct, a paid touch without an ad platform), and the whole
//!   amount of an order with no touch the model picks, is *unattributed revenue*:
//!   nothing is lost, rows + unattributed = the amounts of the orders.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

/// Lookback window when the request says 0, and its maximum (days).
pub const DEFAULT_LOOKBACK_DAYS: i32 = 7;
pub const MAX_LOOKBACK_DAYS: i32 = 90;
/// TIME_DECAY half-life when the request says 0, and its maximum (days).
pub const DEFAULT_HALF_LIFE_DAYS: i32 = 7;
pub const MAX_HALF_LIFE_DAYS: i32 = 90;

/// The weight of the most recent touch under TIME_DECAY (older touches get a fraction
/// of it, rounded to an integer): 2^40 keeps ~12 significant digits per weight.
const DECAY_SCALE: f64 = (1u64 << 40) as f64;

/// How a touch reached the shopper (`commerce.touchpoints.channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    PaidSocial,
    PaidSearch,
    Email,
    Organic,
    Referral,
    Direct,
}

impl Channel {
    /// The channel of a `commerce.touchpoints.channel` value.
    pub fn from_column(value: &str) -> Option<Channel> {
        Some(match value {
            "paid_social" => Channel::PaidSocial,
            "paid_search" => Channel::PaidSearch,
            "email" => Channel::Email,
            "organic" => Channel::Organic,
            "referral" => Channel::Referral,
            "direct" => Channel::Direct,
            _ => return None,
        })
    }

    /// Paid advertising (social or search).
    pub fn is_paid(self) -> bool {
        matches!(self, Channel::PaidSocial | Channel::PaidSearch)
    }

    /// A direct visit (typed URL, bookmark, no referrer).
    pub fn is_direct(self) -> bool {
        self == Channel::Direct
    }
}

/// An ad platform a row of the response can be credited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdPlatform {
    Meta,
    Tiktok,
    GoogleAds,
}

impl AdPlatform {
    /// The platform of a `commerce` `platform` value; `None` for `shopify` and others.
    pub fn from_column(value: &str) -> Option<AdPlatform> {
        Some(match value {
            "meta" => AdPlatform::Meta,
            "tiktok" => AdPlatform::Tiktok,
            "google_ads" => AdPlatform::GoogleAds,
            _ => return None,
        })
    }
}

/// One marketing touch of an order's journey.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    pub occurred_at: DateTime<Utc>,
    /// Its place in the journey as synced (breaks ties of equal times).
    pub position: i32,
    pub channel: Channel,
    /// The platform the touch came from, when it is an ad platform.
    pub platform: Option<AdPlatform>,
    /// The campaign id at the platform, when the touch carried one.
    pub campaign_id: Option<String>,
}

impl Touch {
    /// The ad platform when this is an ad touch (a paid channel with an ad platform).
    pub fn ad_platform(&self) -> Option<AdPlatform> {
        self.platform.filter(|_| self.channel.is_paid())
    }
}

/// A model that credits orders to their touches (PLATFORM_REPORTED is not one: it
/// takes the platforms' own figures and is served from ad spend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    LastClick,
    FirstClick,
    Linear,
    LastNonDirectClick,
    TimeDecay { half_life_days: i32 },
    PositionBased,
}

impl Model {
    /// How the model splits an order, in a sentence (for the response's definitions).
    pub fn description(self) -> String {
        match self {
            Model::LastClick => "all to the last paid ad touch (last click).".to_owned(),
            Model::FirstClick => "all to the first paid ad touch (first click).".to_owned(),
            Model::Linear => "equal shares over every touch (linear).".to_owned(),
            Model::LastNonDirectClick => {
                "all to the last touch that is not a direct visit (last non-direct click)."
                    .to_owned()
            }
            Model::TimeDecay { half_life_days } => format!(
                "shares weighted 2^(-age / {half_life_days} days), age being the order time \
                 minus the touch time (time decay)."
            ),
            Model::PositionBased => "40 % to the first touch, 40 % to the last, 20 % split \
                 over the ones between; one touch gets all, two half each (position based)."
                .to_owned(),
        }
    }
}

/// One order and what it brings to the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// `processed_at`: the lookback window ends here.
    pub placed_at: DateTime<Utc>,
    /// The amount to credit, in micros of the brand's currency (may be negative when
    /// only a refund falls in the period).
    pub amount_micros: i64,
    /// The order itself was placed in the period (it adds to attributed orders).
    pub placed_in_period: bool,
    /// ... and it was its customer's first order (it adds to new customers credited).
    pub first_order: bool,
    /// Its journey, in any order.
    pub touches: Vec<Touch>,
}

/// What one touch receives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Credit {
    /// Index into `Order::touches`.
    pub touch: usize,
    /// Exact micros.
    pub micros: i64,
    /// The touch's fraction of the order (weight ÷ total), for fractional orders.
    pub share: f64,
}

/// One order's split: `credits` (touches with a non-zero weight) plus `unassigned`
/// (the whole amount when the model picks no touch) sum to the order's amount.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Allocation {
    pub credits: Vec<Credit>,
    pub unassigned_micros: i64,
}

/// The indices of the touches inside the lookback window, oldest first.
pub fn in_window(order: &Order, lookback_days: i32) -> Vec<usize> {
    let earliest = order.placed_at - Duration::days(i64::from(lookback_days));
    let mut window: Vec<usize> = (0..order.touches.len())
        .filter(|&i| {
            let at = order.touches[i].occurred_at;
            at <= order.placed_at && at >= earliest
        })
        .collect();
    window.sort_by_key(|&i| (order.touches[i].occurred_at, order.touches[i].position, i));
    window
}

/// The model's integer weight of each touch of `window` (oldest first); touches the
/// model does not credit are left out.
fn weights(model: Model, order: &Order, window: &[usize]) -> Vec<(usize, u64)> {
    let touch = |i: usize| &order.touches[i];
    let only = |picked: Option<&usize>| picked.map(|&i| vec![(i, 1)]).unwrap_or_default();
    match model {
        Model::LastClick => only(
            window
                .iter()
                .rev()
                .find(|&&i| touch(i).ad_platform().is_some()),
        ),
        Model::FirstClick => only(window.iter().find(|&&i| touch(i).ad_platform().is_some())),
        Model::LastNonDirectClick => only(
            window
                .iter()
                .rev()
                .find(|&&i| !touch(i).channel.is_direct()),
        ),
        Model::Linear => window.iter().map(|&i| (i, 1)).collect(),
        Model::TimeDecay { half_life_days } => decay_weights(order, window, half_life_days),
        Model::PositionBased => position_weights(window),
    }
}

/// `2^(−age / half_life)` relative to the most recent touch (which weighs 2^40), so the
/// weights stay integers whatever the ages.
fn decay_weights(order: &Order, window: &[usize], half_life_days: i32) -> Vec<(usize, u64)> {
    let half_life_seconds = f64::from(half_life_days.max(1)) * 86_400.0;
    let age = |i: usize| (order.placed_at - order.touches[i].occurred_at).num_seconds() as f64;
    let youngest = window.iter().map(|&i| age(i)).fold(f64::INFINITY, f64::min);
    window
        .iter()
        .map(|&i| {
            let halvings = (age(i) - youngest) / half_life_seconds;
            (i, (DECAY_SCALE * (-halvings).exp2()).round() as u64)
        })
        .collect()
}

/// 40/20/40 as integers: with n ≥ 3 touches the ends weigh 2(n−2) each and every
/// middle touch 1, of 5(n−2) in all; one touch weighs 1; two weigh 1 each.
fn position_weights(window: &[usize]) -> Vec<(usize, u64)> {
    let n = window.len();
    if n <= 2 {
        return window.iter().map(|&i| (i, 1)).collect();
    }
    let end = 2 * (n as u64 - 2);
    window
        .iter()
        .enumerate()
        .map(|(k, &i)| (i, if k == 0 || k == n - 1 { end } else { 1 }))
        .collect()
}

/// Splits `amount` over `weights` by largest remainder: exact, and the same every time.
/// Ties among remainders go to the heavier weight, then to the later entry (the later
/// touch, as `weights` is oldest first). A negative amount is split as its magnitude
/// and negated.
fn split(amount: i64, weights: &[(usize, u64)]) -> Vec<i64> {
    let total: u128 = weights.iter().map(|&(_, w)| u128::from(w)).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let magnitude = u128::from(amount.unsigned_abs());
    let mut parts: Vec<u128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, u64, usize)> = Vec::with_capacity(weights.len());
    for (k, &(_, weight)) in weights.iter().enumerate() {
        let product = magnitude * u128::from(weight);
        parts.push(product / total);
        remainders.push((product % total, weight, k));
    }
    let assigned: u128 = parts.iter().sum();
    let leftover = usize::try_from(magnitude - assigned).unwrap_or(usize::MAX);
    remainders.sort_by(|a, b| b.cmp(a));
    for &(_, _, k) in remainders.iter().take(leftover) {
        parts[k] += 1;
    }
    let sign: i128 = if amount < 0 { -1 } else { 1 };
    parts
        .into_iter()
        .map(|part| i64::try_from(sign * part as i128).unwrap_or(0))
        .collect()
}

/// Splits `order.amount_micros` over its touches under `model`.
pub fn attribute(model: Model, order: &Order, lookback_days: i32) -> Allocation {
    let window = in_window(order, lookback_days);
    let weights = weights(model, order, &window);
    let total: u64 = weights.iter().map(|&(_, w)| w).sum();
    if total == 0 {
        return Allocation {
            credits: Vec::new(),
            unassigned_micros: order.amount_micros,
        };
    }
    let credits = weights
        .iter()
        .zip(split(order.amount_micros, &weights))
        .filter(|((_, weight), _)| *weight > 0)
        .map(|(&(touch, weight), micros)| Credit {
            touch,
            micros,
            share: weight as f64 / total as f64,
        })
        .collect();
    Allocation {
        credits,
        unassigned_micros: 0,
    }
}

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Platform,
    Campaign,
}

/// A row of the response: a platform, or a campaign at a platform (`campaign_id` is
/// empty when grouped by platform, and for ad touches that carried no campaign id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    pub platform: AdPlatform,
    pub campaign_id: String,
}

/// What a row was credited.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Credited {
    pub revenue_micros: i64,
    /// Orders placed in the period, by share.
    pub orders: f64,
    /// Orders placed in the period that were their customer's first, by share.
    pub new_customers: f64,
}

/// The credits of many orders, per row, with what no row received.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tally {
    pub rows: BTreeMap<RowKey, Credited>,
    pub unattributed_micros: i64,
    /// The sum of every order's amount (= rows + unattributed).
    pub total_micros: i64,
}

impl Tally {
    /// Adds one order's credits under `model`.
    pub fn add(&mut self, model: Model, grouping: Grouping, lookback_days: i32, order: &Order) {
        let allocation = attribute(model, order, lookback_days);
        self.total_micros += order.amount_micros;
        self.unattributed_micros += allocation.unassigned_micros;
        for credit in allocation.credits {
            let touch = &order.touches[credit.touch];
            let Some(platform) = touch.ad_platform() else {
                self.unattributed_micros += credit.micros;
                continue;
            };
            let campaign_id = match grouping {
                Grouping::Platform => String::new(),
                Grouping::Campaign => touch.campaign_id.clone().unwrap_or_default(),
            };
            let row = self.rows.entry(RowKey {
                platform,
                campaign_id,
            });
            let row = row.or_default();
            row.revenue_micros += credit.micros;
            if order.placed_in_period {
                row.orders += credit.share;
                if order.first_order {
                    row.new_customers += credit.share;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
