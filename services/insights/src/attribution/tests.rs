//! Hand-computed cases for each model, and properties over random journeys.

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

/// The order of every hand-computed case: 12:00 UTC on 10 March 2026.
fn placed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0)
        .single()
        .expect("time")
}

/// A touch `hours_before` the order.
fn touch(
    hours_before: i64,
    channel: Channel,
    platform: Option<AdPlatform>,
    campaign: &str,
) -> Touch {
    Touch {
        occurred_at: placed_at() - Duration::hours(hours_before),
        position: 0,
        channel,
        platform,
        campaign_id: (!campaign.is_empty()).then(|| campaign.to_owned()),
    }
}

fn meta(hours_before: i64) -> Touch {
    touch(
        hours_before,
        Channel::PaidSocial,
        Some(AdPlatform::Meta),
        "m1",
    )
}

fn google(hours_before: i64) -> Touch {
    touch(
        hours_before,
        Channel::PaidSearch,
        Some(AdPlatform::GoogleAds),
        "g1",
    )
}

fn email(hours_before: i64) -> Touch {
    touch(hours_before, Channel::Email, None, "")
}

fn direct(hours_before: i64) -> Touch {
    touch(hours_before, Channel::Direct, None, "")
}

fn order(amount_micros: i64, touches: Vec<Touch>) -> Order {
    let touches = touches
        .into_iter()
        .enumerate()
        .map(|(position, touch)| Touch {
            position: position as i32,
            ..touch
        })
        .collect();
    Order {
        placed_at: placed_at(),
        amount_micros,
        placed_in_period: true,
        first_order: false,
        touches,
    }
}

/// (touch index, micros) of each credit, and the unassigned micros.
fn split_of(model: Model, order: &Order, lookback_days: i32) -> (Vec<(usize, i64)>, i64) {
    let allocation = attribute(model, order, lookback_days);
    (
        allocation
            .credits
            .iter()
            .map(|c| (c.touch, c.micros))
            .collect(),
        allocation.unassigned_micros,
    )
}

const ALL_MODELS: [Model; 6] = [
    Model::LastClick,
    Model::FirstClick,
    Model::Linear,
    Model::LastNonDirectClick,
    Model::TimeDecay { half_life_days: 7 },
    Model::PositionBased,
];

/// meta 5 days before, google 3 days, email 1 day, direct 2 hours: a direct last touch.
fn journey() -> Order {
    order(
        100_000_000,
        vec![meta(120), google(72), email(24), direct(2)],
    )
}

#[test]
fn last_click_credits_the_last_ad_touch_not_the_direct_visit() {
    assert_eq!(
        split_of(Model::LastClick, &journey(), 7),
        (vec![(1, 100_000_000)], 0)
    );
}

#[test]
fn first_click_credits_the_first_ad_touch_in_the_window() {
    assert_eq!(
        split_of(Model::FirstClick, &journey(), 7),
        (vec![(0, 100_000_000)], 0)
    );
    // With a 4-day window the meta touch (5 days before) is out: google is first.
    assert_eq!(
        split_of(Model::FirstClick, &journey(), 4),
        (vec![(1, 100_000_000)], 0)
    );
}

#[test]
fn last_non_direct_click_skips_the_direct_last_touch() {
    // The email before the direct visit gets it all (and email is no ad platform).
    assert_eq!(
        split_of(Model::LastNonDirectClick, &journey(), 7),
        (vec![(2, 100_000_000)], 0)
    );
    let paid_then_direct = order(50, vec![meta(30), direct(1)]);
    assert_eq!(
        split_of(Model::LastNonDirectClick, &paid_then_direct, 7),
        (vec![(0, 50)], 0)
    );
    // Only direct visits: nothing to credit.
    let only_direct = order(50, vec![direct(30), direct(1)]);
    assert_eq!(
        split_of(Model::LastNonDirectClick, &only_direct, 7),
        (vec![], 50)
    );
    // LAST_CLICK ignores the email as well as the direct visit.
    let email_only = order(50, vec![email(3), direct(1)]);
    assert_eq!(split_of(Model::LastClick, &email_only, 7), (vec![], 50));
}

#[test]
fn linear_splits_equally_and_gives_leftover_micros_to_the_later_touch() {
    assert_eq!(
        split_of(Model::Linear, &journey(), 7),
        (
            vec![
                (0, 25_000_000),
                (1, 25_000_000),
                (2, 25_000_000),
                (3, 25_000_000)
            ],
            0
        )
    );
    let three = order(100, vec![meta(50), google(40), email(30)]);
    assert_eq!(
        split_of(Model::Linear, &three, 7),
        (vec![(0, 33), (1, 33), (2, 34)], 0)
    );
    // A refund-only amount splits the same way, negated.
    let refund = order(-100, vec![meta(50), google(40), email(30)]);
    assert_eq!(
        split_of(Model::Linear, &refund, 7),
        (vec![(0, -33), (1, -33), (2, -34)], 0)
    );
}

#[test]
fn a_single_touch_gets_everything_under_every_model() {
    let single = order(123_456_789, vec![google(5)]);
    for model in ALL_MODELS {
        assert_eq!(
            split_of(model, &single, 7),
            (vec![(0, 123_456_789)], 0),
            "{model:?}"
        );
    }
}

#[test]
fn touches_outside_the_window_or_after_the_order_count_for_nothing() {
    // 8 days before with a 7-day window, and one hour after the order.
    let late = order(1_000, vec![meta(8 * 24), google(-1)]);
    for model in ALL_MODELS {
        assert_eq!(split_of(model, &late, 7), (vec![], 1_000), "{model:?}");
    }
    // Exactly 7 × 24 h before is inside; a 8-day window takes the older touch too.
    let edge = order(1_000, vec![meta(7 * 24)]);
    assert_eq!(split_of(Model::LastClick, &edge, 7), (vec![(0, 1_000)], 0));
    assert_eq!(split_of(Model::LastClick, &late, 8), (vec![(0, 1_000)], 0));
}

#[test]
fn time_decay_halves_the_weight_every_half_life() {
    // Ages 14, 7 and 0 days with a 7-day half-life: weights ¼, ½, 1 of 1¾.
    let three = order(700, vec![meta(14 * 24), google(7 * 24), email(0)]);
    let model = Model::TimeDecay { half_life_days: 7 };
    assert_eq!(
        split_of(model, &three, 30),
        (vec![(0, 100), (1, 200), (2, 400)], 0)
    );
    // A 14-day half-life: 2^-1, 2^-0.5, 1 of 2.2071…: 158.58…, 224.25…, 317.16… → the
    // micro left over goes to the largest remainder (the first).
    let model = Model::TimeDecay { half_life_days: 14 };
    assert_eq!(
        split_of(model, &three, 30),
        (vec![(0, 159), (1, 224), (2, 317)], 0)
    );
    let shares: Vec<f64> = attribute(Model::TimeDecay { half_life_days: 7 }, &three, 30)
        .credits
        .iter()
        .map(|c| c.share)
        .collect();
    assert_eq!(shares, [0.25 / 1.75, 0.5 / 1.75, 1.0 / 1.75]);
}

#[test]
fn position_based_is_40_20_40_with_one_two_and_many_touches() {
    let one = order(1_000, vec![meta(5)]);
    assert_eq!(
        split_of(Model::PositionBased, &one, 7),
        (vec![(0, 1_000)], 0)
    );
    let two = order(1_001, vec![meta(5), google(3)]);
    assert_eq!(
        split_of(Model::PositionBased, &two, 7),
        (vec![(0, 500), (1, 501)], 0)
    );
    let three = order(1_000, vec![meta(5), email(4), google(3)]);
    assert_eq!(
        split_of(Model::PositionBased, &three, 7),
        (vec![(0, 400), (1, 200), (2, 400)], 0)
    );
    // Five touches: 400, 200/3 each for the three between, 400; the two micros left
    // over go to the later middle touches.
    let five = order(
        1_000,
        vec![meta(9), email(8), direct(7), google(6), meta(5)],
    );
    assert_eq!(
        split_of(Model::PositionBased, &five, 7),
        (vec![(0, 400), (1, 66), (2, 67), (3, 67), (4, 400)], 0)
    );
}

#[test]
fn touches_are_ordered_by_time_not_by_input_order() {
    let shuffled = order(100, vec![google(2), meta(50)]);
    assert_eq!(
        split_of(Model::FirstClick, &shuffled, 7),
        (vec![(1, 100)], 0)
    );
    assert_eq!(
        split_of(Model::LastClick, &shuffled, 7),
        (vec![(0, 100)], 0)
    );
}

#[test]
fn tally_groups_ad_credit_and_keeps_the_rest_unattributed() {
    let mut first = journey();
    first.first_order = true;
    // Placed before the period, refunded in it: revenue is credited, no order.
    let mut refund = order(-30_000_000, vec![meta(10)]);
    refund.placed_in_period = false;
    let untouched = order(5_000_000, vec![]);
    let mut by_platform = Tally::default();
    let mut by_campaign = Tally::default();
    for o in [&first, &refund, &untouched] {
        by_platform.add(Model::Linear, Grouping::Platform, 7, o);
        by_campaign.add(Model::Linear, Grouping::Campaign, 7, o);
    }
    let key = |platform, campaign: &str| RowKey {
        platform,
        campaign_id: campaign.to_owned(),
    };
    assert_eq!(by_platform.total_micros, 75_000_000);
    // Email and direct quarters of the journey, and the untouched order.
    assert_eq!(by_platform.unattributed_micros, 55_000_000);
    let meta_row = by_platform.rows[&key(AdPlatform::Meta, "")];
    assert_eq!(meta_row.revenue_micros, 25_000_000 - 30_000_000);
    assert_eq!(meta_row.orders, 0.25);
    assert_eq!(meta_row.new_customers, 0.25);
    assert_eq!(
        by_platform.rows[&key(AdPlatform::GoogleAds, "")].revenue_micros,
        25_000_000
    );
    assert_eq!(
        by_campaign.rows.keys().cloned().collect::<Vec<_>>(),
        [
            key(AdPlatform::Meta, "m1"),
            key(AdPlatform::GoogleAds, "g1")
        ]
    );
    assert_eq!(by_campaign.unattributed_micros, 55_000_000);
}

// === properties over random journeys ===

fn arb_channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::PaidSocial),
        Just(Channel::PaidSearch),
        Just(Channel::Email),
        Just(Channel::Organic),
        Just(Channel::Referral),
        Just(Channel::Direct),
    ]
}

fn arb_platform() -> impl Strategy<Value = Option<AdPlatform>> {
    prop_oneof![
        Just(None),
        Just(Some(AdPlatform::Meta)),
        Just(Some(AdPlatform::Tiktok)),
        Just(Some(AdPlatform::GoogleAds)),
    ]
}

/// Touches from 2 hours after the order to 100 days before it, some at equal times.
fn arb_touch() -> impl Strategy<Value = Touch> {
    (
        -7_200i64..100 * 86_400,
        prop_oneof![Just(0i64), Just(3_600i64)],
        arb_channel(),
        arb_platform(),
        prop::option::of("[a-c]"),
    )
        .prop_map(|(seconds, snap, channel, platform, campaign_id)| Touch {
            occurred_at: placed_at()
                - Duration::seconds(if snap == 0 {
                    seconds
                } else {
                    seconds - seconds % snap
                }),
            position: 0,
            channel,
            platform,
            campaign_id,
        })
}

fn arb_order() -> impl Strategy<Value = Order> {
    (
        prop_oneof![
            -1_000_000_000_000i64..10_000_000_000_000,
            Just(0i64),
            -10i64..10,
            Just(i64::MAX / 2),
        ],
        prop::collection::vec(arb_touch(), 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(amount_micros, touches, placed_in_period, first_order)| {
            let mut o = order(amount_micros, touches);
            o.placed_in_period = placed_in_period;
            o.first_order = first_order;
            o
        })
}

fn arb_model() -> impl Strategy<Value = Model> {
    prop_oneof![
        Just(Model::LastClick),
        Just(Model::FirstClick),
        Just(Model::Linear),
        Just(Model::LastNonDirectClick),
        (1..=MAX_HALF_LIFE_DAYS).prop_map(|half_life_days| Model::TimeDecay { half_life_days }),
        Just(Model::PositionBased),
    ]
}

proptest! {
    #[test]
    fn credits_sum_exactly_to_the_amount(
        o in arb_order(),
        model in arb_model(),
        lookback in 1..=MAX_LOOKBACK_DAYS,
    ) {
        let allocation = attribute(model, &o, lookback);
        let credited: i128 = allocation.credits.iter().map(|c| i128::from(c.micros)).sum();
        prop_assert_eq!(credited + i128::from(allocation.unassigned_micros), i128::from(o.amount_micros));
        for credit in &allocation.credits {
            // Same sign as the amount: never negative for a sale.
            prop_assert!(credit.micros.signum() * o.amount_micros.signum() >= 0, "{:?}", credit);
            prop_assert!(credit.share > 0.0 && credit.share <= 1.0);
        }
        if !allocation.credits.is_empty() {
            let shares: f64 = allocation.credits.iter().map(|c| c.share).sum();
            prop_assert!((shares - 1.0).abs() < 1e-9);
            prop_assert_eq!(allocation.unassigned_micros, 0);
        }
        // Only touches inside the window are credited.
        let window = in_window(&o, lookback);
        for credit in &allocation.credits {
            prop_assert!(window.contains(&credit.touch));
        }
    }

    #[test]
    fn the_split_is_deterministic_and_ignores_input_order(
        o in arb_order(),
        model in arb_model(),
        lookback in 1..=MAX_LOOKBACK_DAYS,
    ) {
        let once = attribute(model, &o, lookback);
        prop_assert_eq!(&once, &attribute(model, &o, lookback));
        // The same journey listed backwards credits each touch the same micros.
        let mut reversed = o.clone();
        reversed.touches.reverse();
        let n = o.touches.len();
        let mut again: Vec<(usize, i64)> = attribute(model, &reversed, lookback)
            .credits
            .iter()
            .map(|c| (n - 1 - c.touch, c.micros))
            .collect();
        again.sort_unstable();
        let mut first: Vec<(usize, i64)> = once.credits.iter().map(|c| (c.touch, c.micros)).collect();
        first.sort_unstable();
        prop_assert_eq!(first, again);
    }

    #[test]
    fn rows_and_unattributed_add_up_to_every_amount(
        orders in prop::collection::vec(arb_order(), 0..20),
        model in arb_model(),
        lookback in 1..=MAX_LOOKBACK_DAYS,
        by_campaign in any::<bool>(),
    ) {
        let grouping = if by_campaign { Grouping::Campaign } else { Grouping::Platform };
        let orders: Vec<Order> = orders
            .into_iter()
            .map(|mut o| { o.amount_micros /= 1_000; o })
            .collect();
        let mut tally = Tally::default();
        for o in &orders {
            tally.add(model, grouping, lookback, o);
        }
        let rows: i64 = tally.rows.values().map(|r| r.revenue_micros).sum();
        prop_assert_eq!(rows + tally.unattributed_micros, orders.iter().map(|o| o.amount_micros).sum::<i64>());
        prop_assert_eq!(tally.total_micros, orders.iter().map(|o| o.amount_micros).sum::<i64>());
        let placed = orders.iter().filter(|o| o.placed_in_period).count() as f64;
        let credited: f64 = tally.rows.values().map(|r| r.orders).sum();
        prop_assert!(credited <= placed + 1e-9);
    }
}
