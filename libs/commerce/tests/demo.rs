//! The demo store's promises, checked on its output: determinism, money that adds
//! up, refunds and cancellations in order, a believable calendar and customer base,
//! touchpoints and ad spend that refer to the generated campaigns, and stock that
//! can be reconciled with the order lines.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use pp_commerce::demo::{DemoConfig, DemoConfigError, DemoStore, OrderVolume};
use pp_commerce::{Channel, Order, Platform};

fn end_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 9, 30).expect("valid date")
}

fn config(seed: u64) -> DemoConfig {
    let mut config = DemoConfig::new(seed, end_date());
    config.history_days = 365;
    config.orders = OrderVolume::PerDay(30.0);
    config
}

fn store(seed: u64) -> DemoStore {
    DemoStore::new(config(seed)).expect("valid config")
}

fn orders(store: &DemoStore) -> Vec<Order> {
    store.orders().collect()
}

/// Orders that sell: not cancelled and not a test.
fn counted(order: &Order) -> bool {
    !order.test && order.cancelled_at.is_none()
}

fn end_of_period() -> DateTime<Utc> {
    (end_date() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

#[test]
fn the_same_seed_gives_the_same_store_and_another_seed_another() {
    let (a, b, c) = (store(7), store(7), store(8));
    assert_eq!(a.products(), b.products());
    assert_eq!(a.campaigns(), b.campaigns());
    assert!(a.orders().eq(b.orders()));
    assert!(a.ad_spend().eq(b.ad_spend()));
    assert_eq!(a.inventory_levels(), b.inventory_levels());

    assert_ne!(a.products(), c.products());
    let first = |s: &DemoStore| s.orders().take(50).collect::<Vec<_>>();
    assert_ne!(first(&a), first(&c));
}

/// A fingerprint of the output for one seed. It pins the generator across machines,
/// compilers and dependency updates: if it changes, every demo store changes. Update
/// the value only when the generator is changed on purpose.
#[test]
fn the_output_for_a_seed_is_pinned() {
    let mut config = config(2024);
    config.history_days = 30;
    config.orders = OrderVolume::Total(300);
    let store = DemoStore::new(config).expect("valid config");
    let mut hash = Fnv::default();
    for product in store.products() {
        hash.write(&format!("{product:?}"));
    }
    for order in store.orders() {
        hash.write(&format!("{order:?}"));
    }
    for row in store.ad_spend() {
        hash.write(&format!("{row:?}"));
    }
    for level in store.inventory_levels() {
        hash.write(&format!("{level:?}"));
    }
    assert_eq!(hash.0, PINNED_FINGERPRINT, "got {:#x}", hash.0);
}

const PINNED_FINGERPRINT: u64 = 0x2180_36eb_350c_63ad;

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, text: &str) {
        for byte in text.bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[test]
fn every_order_adds_up_in_whole_cents() {
    let store = store(11);
    let mut discounted = 0;
    let all = orders(&store);
    for order in &all {
        let subtotal: i64 = order
            .lines
            .iter()
            .map(|l| l.unit_price_micros * i64::from(l.quantity))
            .sum();
        let discounts: i64 = order.lines.iter().map(|l| l.discount_micros).sum();
        assert_eq!(order.subtotal_micros, subtotal, "{}", order.name);
        assert_eq!(order.discounts_micros, discounts, "{}", order.name);
        assert_eq!(
            order.total_micros,
            order.subtotal_micros - order.discounts_micros
                + order.shipping_micros
                + order.tax_micros,
            "{}",
            order.name
        );
        assert!((1..=4).contains(&order.lines.len()));
        for line in &order.lines {
            assert!(line.quantity >= 1);
            assert!(line.discount_micros >= 0);
            assert!(line.discount_micros < line.unit_price_micros * i64::from(line.quantity));
        }
        for amount in [
            order.subtotal_micros,
            order.discounts_micros,
            order.shipping_micros,
            order.tax_micros,
        ] {
            assert!(
                amount >= 0 && amount % 10_000 == 0,
                "{} has {amount}",
                order.name
            );
        }
        if order.discounts_micros > 0 {
            discounted += 1;
        }
    }
    let share = f64::from(discounted) / all.len() as f64;
    assert!((0.2..=0.32).contains(&share), "discounted share {share}");
}

#[test]
fn refunds_come_later_and_never_exceed_the_order() {
    let store = store(12);
    let all = orders(&store);
    let (mut refunded, mut full, mut cancelled, mut tests) = (0usize, 0usize, 0usize, 0usize);
    for order in &all {
        if let Some(cancelled_at) = order.cancelled_at {
            cancelled += 1;
            assert!(cancelled_at > order.processed_at);
            assert!(cancelled_at < end_of_period());
        }
        if order.test {
            tests += 1;
        }
        let mut refunded_amount = 0;
        for refund in &order.refunds {
            let delay = refund.created_at - order.processed_at;
            assert!(
                delay >= Duration::days(1) && delay <= Duration::days(30),
                "{}",
                order.name
            );
            assert!(refund.created_at < end_of_period());
            assert!(refund.amount_micros > 0);
            refunded_amount += refund.amount_micros;
            for line in &refund.lines {
                let sold = order
                    .lines
                    .iter()
                    .find(|l| l.platform_line_id == line.platform_line_id)
                    .expect("refund line refers to an order line");
                assert!(line.quantity >= 1 && line.quantity <= sold.quantity);
                assert!(line.subtotal_micros <= sold.unit_price_micros * i64::from(sold.quantity));
            }
            assert!(order.updated_at >= refund.created_at);
        }
        assert!(refunded_amount <= order.total_micros, "{}", order.name);
        if refunded_amount > 0 {
            refunded += 1;
            assert!(counted(order), "cancelled and test orders are not refunded");
            if refunded_amount == order.total_micros {
                full += 1;
            }
        }
    }
    let share = |n: usize| n as f64 / all.len() as f64;
    assert!(
        (0.02..=0.07).contains(&share(refunded)),
        "refunded {}",
        share(refunded)
    );
    assert!(full > 0 && full < refunded, "both full and partial refunds");
    assert!(
        (0.01..=0.04).contains(&share(cancelled)),
        "cancelled {}",
        share(cancelled)
    );
    assert!(tests > 0 && share(tests) < 0.01, "tests {}", share(tests));
}

#[test]
fn orders_are_chronological_with_stable_ids() {
    let store = store(13);
    let (start, end) = store.period();
    assert_eq!(end, end_date());
    assert_eq!(start, end_date() - Duration::days(364));
    let mut previous = None;
    let mut hours = [0u32; 24];
    for (n, order) in store.orders().enumerate() {
        assert_eq!(order.platform_order_id, format!("demo-order-{}", n + 1));
        assert_eq!(order.name, format!("#{}", 1001 + n));
        assert!(
            previous.is_none_or(|p| p <= order.processed_at),
            "{}",
            order.name
        );
        previous = Some(order.processed_at);
        let date = order.processed_at.date_naive();
        assert!(date >= start && date <= end);
        assert_eq!(order.created_at, order.processed_at);
        assert_eq!(order.currency, "USD");
        hours[order.processed_at.hour() as usize] += 1;
    }
    // An evening peak: 19:00–22:00 sells more than 03:00–06:00 many times over.
    let evening: u32 = hours[19..22].iter().sum();
    let night: u32 = hours[3..6].iter().sum();
    assert!(evening > 5 * night, "evening {evening}, night {night}");
}

fn daily_counts(all: &[Order]) -> HashMap<NaiveDate, u32> {
    let mut days = HashMap::new();
    for order in all {
        *days.entry(order.processed_at.date_naive()).or_insert(0) += 1;
    }
    days
}

#[test]
fn weekends_differ_from_weekdays_and_sales_grow() {
    let store = store(14);
    let (start, end) = store.period();
    let days = daily_counts(&orders(&store));
    let count = |date: NaiveDate| f64::from(days.get(&date).copied().unwrap_or(0));
    let (mut weekend, mut weekend_days, mut weekday, mut weekday_days) = (0.0, 0.0, 0.0, 0.0);
    let mut date = start;
    while date <= end {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            weekend += count(date);
            weekend_days += 1.0;
        } else {
            weekday += count(date);
            weekday_days += 1.0;
        }
        date += Duration::days(1);
    }
    let ratio = (weekend / weekend_days) / (weekday / weekday_days);
    assert!(ratio > 1.1, "weekend/weekday {ratio}");

    let four_weeks = |from: NaiveDate| {
        (0..28)
            .map(|d| count(from + Duration::days(d)))
            .sum::<f64>()
    };
    let growth = four_weeks(end - Duration::days(27)) / four_weeks(start);
    assert!(growth > 1.2, "last four weeks / first four weeks {growth}");
}

#[test]
fn first_time_customers_dominate_early_and_returning_ones_grow() {
    let store = store(15);
    let (start, end) = store.period();
    let mut first_seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    let (mut early, mut early_new, mut late, mut late_new) = (0.0, 0.0, 0.0, 0.0);
    for order in store.orders() {
        let customer = order.customer.as_ref().expect("every order has a customer");
        let created_at = customer.created_at.expect("customers have a creation time");
        let first = *first_seen
            .entry(customer.platform_customer_id.clone())
            .or_insert(order.processed_at);
        // Customer.created_at is the first order's time, on every order of the customer.
        assert_eq!(created_at, first, "{}", customer.platform_customer_id);
        let is_new = first == order.processed_at;
        let date = order.processed_at.date_naive();
        if (7..35).contains(&(date - start).num_days()) {
            early += 1.0;
            early_new += f64::from(u8::from(is_new));
        }
        if (end - date).num_days() < 28 {
            late += 1.0;
            late_new += f64::from(u8::from(is_new));
        }
    }
    let (early_share, late_share) = (early_new / early, late_new / late);
    assert!(
        (0.6..=0.75).contains(&early_share),
        "early new share {early_share}"
    );
    assert!(
        late_share < early_share - 0.08,
        "late new share {late_share}"
    );
    assert!(late_share > 0.4, "late new share {late_share}");
}

#[test]
fn touchpoints_lead_to_the_order_and_paid_ones_name_a_campaign() {
    let store = store(16);
    let campaigns: HashMap<String, Platform> = store
        .campaigns()
        .into_iter()
        .map(|c| (c.platform_campaign_id, c.platform))
        .collect();
    for platform in Platform::ADS {
        let n = campaigns.values().filter(|&&p| p == platform).count();
        assert!((3..=6).contains(&n), "{platform:?} has {n} campaigns");
    }
    let mut paid = 0;
    let all = orders(&store);
    for order in &all {
        assert!((1..=4).contains(&order.touchpoints.len()));
        let mut previous = order.processed_at - Duration::days(30);
        for touch in &order.touchpoints {
            assert!(touch.occurred_at >= previous && touch.occurred_at < order.processed_at);
            previous = touch.occurred_at;
            match touch.platform {
                Some(platform) => {
                    paid += 1;
                    let id = touch
                        .platform_campaign_id
                        .as_ref()
                        .expect("paid touches name a campaign");
                    assert_eq!(campaigns.get(id), Some(&platform), "{id}");
                    assert_eq!(touch.utm.campaign.as_ref(), Some(id));
                    let (channel, sources, medium): (_, &[&str], _) = match platform {
                        Platform::Meta => (
                            Channel::PaidSocial,
                            &["facebook", "instagram"],
                            "paid_social",
                        ),
                        Platform::Tiktok => (Channel::PaidSocial, &["tiktok"], "paid_social"),
                        Platform::GoogleAds => (Channel::PaidSearch, &["google"], "cpc"),
                        Platform::Shopify => panic!("shopify is not an ad platform"),
                    };
                    assert_eq!(touch.channel, channel);
                    assert!(sources.contains(&touch.utm.source.as_deref().unwrap_or_default()));
                    assert_eq!(touch.utm.medium.as_deref(), Some(medium));
                }
                None => assert!(touch.platform_campaign_id.is_none()),
            }
        }
        // The order's UTM and landing page are its last touch's.
        let last = order.touchpoints.last().expect("at least one touch");
        assert_eq!(order.utm, last.utm);
        let landing = order.landing_site.as_deref().expect("landing site");
        if let Some(source) = &order.utm.source {
            assert!(
                landing.contains(&format!("utm_source={source}")),
                "{landing}"
            );
        }
    }
    assert!(paid > all.len() / 2, "most journeys include an ad");
}

#[test]
fn only_configured_ad_platforms_appear() {
    let mut config = config(17);
    config.history_days = 60;
    config.platforms = vec![Platform::Shopify, Platform::Meta];
    let store = DemoStore::new(config).expect("valid config");
    assert!(
        store
            .campaigns()
            .iter()
            .all(|c| c.platform == Platform::Meta)
    );
    assert!(store.ad_spend().all(|row| row.platform == Platform::Meta));
    for order in store.orders() {
        assert!(
            order
                .touchpoints
                .iter()
                .all(|t| t.platform.is_none_or(|p| p == Platform::Meta))
        );
    }

    let mut config = self::config(17);
    config.history_days = 30;
    config.platforms = vec![Platform::Shopify];
    let store = DemoStore::new(config).expect("valid config");
    assert!(store.campaigns().is_empty());
    assert_eq!(store.ad_spend().count(), 0);
    assert!(
        store.orders().count() > 0,
        "the store itself is always generated"
    );
}

#[test]
fn ad_platforms_report_plausible_delivery_and_claim_too_much() {
    let store = store(18);
    let (start, end) = store.period();
    let campaigns = store.campaigns();
    let rows: Vec<_> = store.ad_spend().collect();
    assert_eq!(rows.len(), campaigns.len() * 365);
    let unique: HashSet<_> = rows
        .iter()
        .map(|r| (r.platform_campaign_id.clone(), r.date))
        .collect();
    assert_eq!(unique.len(), rows.len(), "one row per campaign per day");

    let mut by_platform: HashMap<Platform, (i64, i64, i64, i64)> = HashMap::new();
    let (mut claimed, mut spend_first, mut spend_last) = (0.0, 0, 0);
    for row in &rows {
        assert!(row.date >= start && row.date <= end);
        assert!(row.spend_micros > 0 && row.clicks >= 0 && row.impressions >= row.clicks);
        assert!(row.conversions >= 0.0 && row.conversion_value_micros >= 0);
        assert!(
            campaigns
                .iter()
                .any(|c| c.platform_campaign_id == row.platform_campaign_id)
        );
        let totals = by_platform.entry(row.platform).or_default();
        totals.0 += row.spend_micros;
        totals.1 += row.conversion_value_micros;
        totals.2 += row.clicks;
        totals.3 += row.impressions;
        claimed += row.conversions;
        if (row.date - start).num_days() < 28 {
            spend_first += row.spend_micros;
        }
        if (end - row.date).num_days() < 28 {
            spend_last += row.spend_micros;
        }
    }
    for (platform, (spend, value, clicks, impressions)) in &by_platform {
        let roas = *value as f64 / *spend as f64;
        assert!((1.0..=6.0).contains(&roas), "{platform:?} roas {roas}");
        let ctr = *clicks as f64 / *impressions as f64;
        assert!((0.005..=0.03).contains(&ctr), "{platform:?} ctr {ctr}");
        let cpc = *spend as f64 / *clicks as f64 / 1e6;
        assert!((0.1..=3.0).contains(&cpc), "{platform:?} cpc {cpc}");
    }
    let real_orders = store.orders().filter(|o| !o.test).count() as f64;
    assert!(
        claimed > real_orders,
        "platforms claim {claimed} of {real_orders} orders"
    );
    // Spend follows the store's growth.
    assert!(spend_last as f64 > 1.15 * spend_first as f64);
}

#[test]
fn the_catalog_is_plausible() {
    let store = store(19);
    let products = store.products();
    assert!((20..=40).contains(&products.len()));
    let mut skus = HashSet::new();
    for product in products {
        assert!(
            (1..=4).contains(&product.variants.len()),
            "{}",
            product.title
        );
        for variant in &product.variants {
            assert!(
                skus.insert(variant.sku.clone().expect("sku")),
                "unique skus"
            );
            let cost = variant.unit_cost_micros.expect("unit cost");
            let margin = 1.0 - cost as f64 / variant.price_micros as f64;
            assert!(
                (0.29..=0.76).contains(&margin),
                "{} margin {margin}",
                product.title
            );
            assert!((5..=45).contains(&variant.lead_time_days.expect("lead time")));
        }
    }
}

#[test]
fn stock_reconciles_with_the_order_lines_and_a_few_skus_run_low() {
    let store = store(20);
    let (_, end) = store.period();
    let mut sold: HashMap<String, i64> = HashMap::new();
    let mut sold_last_28_days: HashMap<String, i64> = HashMap::new();
    for order in store.orders().filter(counted) {
        let recent = (end - order.processed_at.date_naive()).num_days() < 28;
        for line in &order.lines {
            let variant = line.platform_variant_id.clone().expect("variant id");
            *sold.entry(variant.clone()).or_default() += i64::from(line.quantity);
            if recent {
                *sold_last_28_days.entry(variant).or_default() += i64::from(line.quantity);
            }
        }
    }

    let ledger = store.inventory_ledger();
    let levels = store.inventory_levels();
    assert_eq!(ledger.len(), levels.len());
    let locations: HashSet<_> = ledger
        .iter()
        .map(|r| r.platform_location_id.clone())
        .collect();
    assert!((1..=2).contains(&locations.len()));
    let variants: usize = store.products().iter().map(|p| p.variants.len()).sum();
    assert_eq!(ledger.len(), variants * locations.len());

    let mut per_variant: HashMap<String, (i64, i64, i64, i32)> = HashMap::new();
    for (row, level) in ledger.iter().zip(&levels) {
        assert_eq!(
            row.available,
            row.starting + row.restocked - row.sold,
            "{}",
            row.sku
        );
        assert!(row.available >= 0 && row.starting >= 0 && row.restocked >= 0);
        assert_eq!(level.available, row.available);
        assert_eq!(
            level.platform_inventory_item_id,
            row.platform_inventory_item_id
        );
        let totals = per_variant
            .entry(row.platform_variant_id.clone())
            .or_default();
        totals.0 += row.available;
        totals.1 += row.sold;
        totals.2 += row.sold_last_28_days;
        totals.3 = row.lead_time_days;
    }
    let mut near_stock_out = 0;
    for (variant, (available, sold_total, recent, lead_time_days)) in &per_variant {
        // The ledger's sales are exactly the units on the orders that count.
        assert_eq!(
            *sold_total,
            sold.get(variant).copied().unwrap_or(0),
            "{variant}"
        );
        assert_eq!(
            *recent,
            sold_last_28_days.get(variant).copied().unwrap_or(0),
            "{variant}"
        );
        let days_of_cover = if *recent == 0 {
            f64::INFINITY
        } else {
            *available as f64 / (*recent as f64 / 28.0)
        };
        if days_of_cover < f64::from(*lead_time_days) {
            near_stock_out += 1;
        }
    }
    assert!(
        (2..=4).contains(&near_stock_out),
        "{near_stock_out} skus near stock-out"
    );
}

#[test]
fn a_total_gives_exactly_that_many_orders() {
    for total in [0, 1, 1_234] {
        let mut config = config(21);
        config.history_days = 90;
        config.orders = OrderVolume::Total(total);
        let store = DemoStore::new(config).expect("valid config");
        assert_eq!(store.order_count(), total);
        assert_eq!(store.orders().len() as u64, total);
        assert_eq!(store.orders().count() as u64, total);
    }
}

#[test]
fn a_million_orders_stream_lazily() {
    let mut config = config(22);
    config.history_days = 730;
    config.orders = OrderVolume::Total(1_000_000);
    let store = DemoStore::new(config).expect("valid config");
    let mut orders = store.orders();
    assert_eq!(orders.len(), 1_000_000);
    let first: Vec<Order> = orders.by_ref().take(10).collect();
    assert_eq!(first.len(), 10);
    assert_eq!(first[9].platform_order_id, "demo-order-10");
    // Only ten were generated: the iterator still has the rest to produce.
    assert_eq!(orders.len(), 999_990);
}

#[test]
fn days_follow_the_configured_utc_offset() {
    let mut config = config(23);
    config.history_days = 14;
    config.utc_offset_minutes = -300;
    let store = DemoStore::new(config).expect("valid config");
    let (start, end) = store.period();
    let offset = Duration::minutes(-300);
    for order in store.orders() {
        let local_date = (order.processed_at + offset).date_naive();
        assert!(
            local_date >= start && local_date <= end,
            "{}",
            order.processed_at
        );
    }
    let dates: HashSet<_> = store.ad_spend().map(|row| row.date).collect();
    assert_eq!(dates.len(), 14);
}

#[test]
fn invalid_configs_are_refused_with_the_field_named() {
    let max = DemoConfig::MAX_ORDERS;
    type Breakage = fn(&mut DemoConfig);
    let cases: [(Breakage, DemoConfigError); 6] = [
        (
            |c| c.history_days = 0,
            DemoConfigError::HistoryDays { max: 730 },
        ),
        (
            |c| c.history_days = 731,
            DemoConfigError::HistoryDays { max: 730 },
        ),
        (|c| c.currency = "usd".to_owned(), DemoConfigError::Currency),
        (|c| c.utc_offset_minutes = 900, DemoConfigError::UtcOffset),
        (
            |c| c.orders = OrderVolume::PerDay(f64::NAN),
            DemoConfigError::Orders { max },
        ),
        (
            |c| c.orders = OrderVolume::Total(DemoConfig::MAX_ORDERS + 1),
            DemoConfigError::Orders { max },
        ),
    ];
    for (break_it, expected) in cases {
        let mut config = config(1);
        break_it(&mut config);
        let error = DemoStore::new(config).expect_err("invalid config");
        assert_eq!(error, expected);
        let message = error.to_string();
        assert_eq!(message, message.to_lowercase());
    }
}
