//! The order engine: one pass over the period that decides every order as a plain,
//! allocation-free plan (customer, lines, money, refund, touches, what each ad platform
//! claims) while the stock simulation runs alongside. Orders, ad spend and inventory
//! are all read from this one pass, so they agree with each other by construction.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::DemoStore;
use super::inventory::StockSim;
use super::marketing::{CLICK_WINDOW_SECONDS, VIEW_THROUGH_RATE};
use super::rng::{self, streams};

pub(super) const MAX_LINES: usize = 4;
pub(super) const MAX_TOUCHES: usize = 4;

/// Orders with 1, 2, 3, 4 lines, in percent.
const LINE_COUNTS: [u64; MAX_LINES] = [55, 28, 12, 5];
/// Lines with quantity 1, 2, 3, in percent.
const QUANTITIES: [u64; 3] = [80, 15, 5];
/// Journeys of 1–4 touches, for first orders and for repeat orders.
const NEW_CUSTOMER_TOUCHES: [u64; MAX_TOUCHES] = [30, 30, 22, 18];
const RETURNING_CUSTOMER_TOUCHES: [u64; MAX_TOUCHES] = [45, 30, 17, 8];
/// (rate in basis points, weight): a few no-tax regions, most 6–8.875 %.
const TAX_RATES: [(i64, u64); 5] = [(0, 10), (600, 20), (725, 25), (825, 25), (887, 20)];

const FREE_SHIPPING_FROM_MICROS: i64 = 75_000_000;
const STANDARD_SHIPPING_MICROS: i64 = 6_950_000;
const EXPRESS_SHIPPING_MICROS: i64 = 14_950_000;
const DAY_SECONDS: i64 = 86_400;

fn expected(weights: &[u64]) -> f64 {
    let total: u64 = weights.iter().sum();
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| (i as f64 + 1.0) * w as f64)
        .sum::<f64>()
        / total as f64
}

pub(super) fn expected_lines() -> f64 {
    expected(&LINE_COUNTS)
}

pub(super) fn expected_quantity() -> f64 {
    expected(&QUANTITIES)
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LinePlan {
    pub(super) variant: u32,
    pub(super) quantity: i32,
    pub(super) discount_micros: i64,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TouchPlan {
    pub(super) at: i64,
    pub(super) source: u32,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct RefundPlan {
    pub(super) at: i64,
    /// The refunded line and quantity; `None` refunds the whole order.
    pub(super) line: Option<(u8, i32)>,
    /// Refunded line amounts before tax (the line's subtotal for a partial refund).
    pub(super) subtotal_micros: i64,
    pub(super) amount_micros: i64,
}

/// An ad platform's claim on an order: the campaign it credits and how much of the
/// conversion (Google Ads' data-driven attribution gives fractions; Meta and TikTok 1).
#[derive(Debug, Clone, Copy)]
pub(super) struct Claim {
    pub(super) campaign: u32,
    pub(super) credit: f64,
}

#[derive(Debug, Clone)]
pub(super) struct OrderPlan {
    pub(super) index: u64,
    pub(super) day: u32,
    pub(super) processed_at: i64,
    pub(super) customer: u64,
    pub(super) customer_created_at: i64,
    pub(super) test: bool,
    pub(super) cancelled_at: Option<i64>,
    pub(super) lines: [LinePlan; MAX_LINES],
    pub(super) line_count: usize,
    pub(super) subtotal_micros: i64,
    pub(super) discounts_micros: i64,
    pub(super) shipping_micros: i64,
    pub(super) tax_micros: i64,
    pub(super) total_micros: i64,
    pub(super) refund: Option<RefundPlan>,
    pub(super) touches: [TouchPlan; MAX_TOUCHES],
    pub(super) touch_count: usize,
    /// Per ad-platform slot (Meta, TikTok, Google Ads).
    pub(super) claims: [Option<Claim>; 3],
}

impl OrderPlan {
    pub(super) fn lines(&self) -> &[LinePlan] {
        &self.lines[..self.line_count]
    }

    pub(super) fn touches(&self) -> &[TouchPlan] {
        &self.touches[..self.touch_count]
    }

    pub(super) fn updated_at(&self) -> i64 {
        let refunded = self.refund.map_or(self.processed_at, |r| r.at);
        self.processed_at
            .max(refunded)
            .max(self.cancelled_at.unwrap_or(self.processed_at))
    }
}

pub(super) struct Engine<'s> {
    store: &'s DemoStore,
    day: u32,
    slot: u32,
    rng: ChaCha8Rng,
    stock: StockSim,
    line_counts: [u64; MAX_LINES],
    quantities: [u64; 3],
    new_touches: [u64; MAX_TOUCHES],
    returning_touches: [u64; MAX_TOUCHES],
    tax_rates: [u64; TAX_RATES.len()],
    best_seller: usize,
}

fn cumulative_array<const N: usize>(weights: [u64; N]) -> [u64; N] {
    let mut sum = 0;
    weights.map(|w| {
        sum += w;
        sum
    })
}

impl<'s> Engine<'s> {
    pub(super) fn new(store: &'s DemoStore) -> Self {
        let mut stock = StockSim::new(&store.stock);
        if store.calendar.days > 0 {
            stock.open_day(0, &store.stock, &store.catalog, &store.calendar);
        }
        let best_seller = (0..store.catalog.variants.len())
            .max_by_key(|&v| (store.catalog.variants[v].weight, std::cmp::Reverse(v)))
            .unwrap_or(0);
        Self {
            store,
            day: 0,
            slot: 0,
            rng: rng::stream(store.config.seed, streams::ORDERS_DAY),
            stock,
            line_counts: cumulative_array(LINE_COUNTS),
            quantities: cumulative_array(QUANTITIES),
            new_touches: cumulative_array(NEW_CUSTOMER_TOUCHES),
            returning_touches: cumulative_array(RETURNING_CUSTOMER_TOUCHES),
            tax_rates: cumulative_array(TAX_RATES.map(|(_, w)| w)),
            best_seller,
        }
    }

    /// The next order, chronologically; `None` after the last day.
    pub(super) fn next_plan(&mut self) -> Option<OrderPlan> {
        let store = self.store;
        let calendar = &store.calendar;
        loop {
            if self.day >= calendar.days {
                return None;
            }
            if self.slot < calendar.orders[self.day as usize] {
                let plan = self.plan();
                self.slot += 1;
                return Some(plan);
            }
            self.stock
                .close_day(self.day, &store.stock, &store.catalog, calendar);
            self.day += 1;
            self.slot = 0;
            if self.day < calendar.days {
                self.stock
                    .open_day(self.day, &store.stock, &store.catalog, calendar);
                self.rng =
                    rng::stream(store.config.seed, streams::ORDERS_DAY + u64::from(self.day));
            }
        }
    }

    /// Runs the rest of the period and returns the stock at the end.
    pub(super) fn finish(mut self) -> StockSim {
        while self.next_plan().is_some() {}
        self.stock
    }

    fn plan(&mut self) -> OrderPlan {
        let store = self.store;
        let calendar = &store.calendar;
        let (day, slot) = (self.day, self.slot);
        let last_instant = calendar.last_instant();
        let processed_at = calendar.order_time(day, slot);

        let (customer, customer_created_at, first_order) = match calendar.new_customer_at(day, slot)
        {
            Some(customer) => (customer, processed_at, true),
            None => {
                // Repeat buyers lean towards recent customers (u² piles up near 0).
                let known = calendar.customer_offset[day as usize].max(1);
                let u: f64 = self.rng.random();
                let back = ((known as f64 * u * u) as u64).min(known - 1);
                let customer = known - 1 - back;
                (customer, calendar.customer_created_at(customer), false)
            }
        };

        let test = self.rng.random_ratio(3, 1_000);
        let cancelled_at = (!test && processed_at < last_instant && self.rng.random_ratio(2, 100))
            .then(|| (processed_at + self.rng.random_range(600..=172_800)).min(last_instant));
        let counted = !test && cancelled_at.is_none();

        let (lines, line_count) = self.pick_lines(counted, day);
        let mut plan = OrderPlan {
            index: calendar.order_offset[day as usize] + u64::from(slot),
            day,
            processed_at,
            customer,
            customer_created_at,
            test,
            cancelled_at,
            lines,
            line_count,
            subtotal_micros: 0,
            discounts_micros: 0,
            shipping_micros: 0,
            tax_micros: 0,
            total_micros: 0,
            refund: None,
            touches: [TouchPlan::default(); MAX_TOUCHES],
            touch_count: 0,
            claims: [None; 3],
        };
        self.price(&mut plan, first_order, calendar.sale_day[day as usize]);
        if counted && last_instant - processed_at >= DAY_SECONDS && self.rng.random_ratio(4, 100) {
            plan.refund = Some(self.refund(&plan, last_instant));
        }
        self.journey(&mut plan, first_order);
        if !test {
            self.claims(&mut plan);
        }
        plan
    }

    /// 1–4 distinct variants by popularity. Orders that count take stock; a sold-out
    /// pick is redrawn, and the quantity shrinks to what is left.
    fn pick_lines(&mut self, counted: bool, day: u32) -> ([LinePlan; MAX_LINES], usize) {
        let catalog = &self.store.catalog;
        let wanted_lines = 1 + rng::pick_cumulative(&mut self.rng, &self.line_counts);
        let preferred_location =
            usize::from(self.stock.location_count() > 1 && self.rng.random_ratio(35, 100));
        let mut lines = [LinePlan::default(); MAX_LINES];
        let mut count = 0;
        for _ in 0..wanted_lines {
            for _attempt in 0..4 {
                let variant = rng::pick_cumulative(&mut self.rng, &catalog.cumulative_weight);
                if lines[..count].iter().any(|l| l.variant as usize == variant) {
                    continue;
                }
                let quantity = 1 + rng::pick_cumulative(&mut self.rng, &self.quantities) as i32;
                let got = if counted {
                    self.stock.take(variant, quantity, preferred_location, day)
                } else {
                    quantity.min(self.stock.available(variant).clamp(0, i64::from(i32::MAX)) as i32)
                };
                if got > 0 {
                    lines[count] = LinePlan {
                        variant: variant as u32,
                        quantity: got,
                        discount_micros: 0,
                    };
                    count += 1;
                    break;
                }
            }
        }
        if count == 0 {
            let variant = self.stock.best_stocked(self.best_seller);
            if counted {
                self.stock.take(variant, 1, preferred_location, day);
            }
            lines[0] = LinePlan {
                variant: variant as u32,
                quantity: 1,
                discount_micros: 0,
            };
            count = 1;
        }
        (lines, count)
    }

    /// Subtotal, discounts (order-level codes allocated over the lines, or a line-level
    /// promotion), shipping, tax on (subtotal − discounts), and the total, all in
    /// whole cents: total = subtotal − discounts + shipping + tax exactly.
    fn price(&mut self, plan: &mut OrderPlan, first_order: bool, sale_day: bool) {
        let catalog = &self.store.catalog;
        let rng = &mut self.rng;
        let gross = |line: &LinePlan| {
            catalog.variants[line.variant as usize].price_micros * i64::from(line.quantity)
        };
        let subtotal: i64 = plan.lines().iter().map(gross).sum();

        let discount_percent = if sale_day {
            55
        } else if first_order {
            30
        } else {
            20
        };
        if rng.random_ratio(discount_percent, 100) {
            let roll = rng.random_range(0..100u32);
            // SALE25 on sale days; WELCOME10 / SAVE15 for first orders; SAVE15 / VIP20
            // for repeat buyers; otherwise a 20 % promotion on one product.
            let order_level_basis_points = match (sale_day, first_order, roll) {
                (true, _, _) => Some(2_500),
                (false, true, 0..60) => Some(1_000),
                (false, true, 60..85) => Some(1_500),
                (false, false, 0..40) => Some(1_500),
                (false, false, 40..65) => Some(2_000),
                _ => None,
            };
            let count = plan.line_count;
            match order_level_basis_points {
                Some(basis_points) => {
                    let total = round_cents(subtotal * basis_points / 10_000);
                    let mut allocated = 0;
                    for line in &mut plan.lines[..count - 1] {
                        line.discount_micros = floor_cents(total * gross(line) / subtotal.max(1));
                        allocated += line.discount_micros;
                    }
                    plan.lines[count - 1].discount_micros = total - allocated;
                }
                None => {
                    let line = &mut plan.lines[rng.random_range(0..count)];
                    line.discount_micros = round_cents(gross(line) * 2_000 / 10_000);
                }
            }
        }
        let discounts: i64 = plan.lines().iter().map(|l| l.discount_micros).sum();
        let net = subtotal - discounts;
        let shipping = if net >= FREE_SHIPPING_FROM_MICROS {
            0
        } else if rng.random_ratio(1, 5) {
            EXPRESS_SHIPPING_MICROS
        } else {
            STANDARD_SHIPPING_MICROS
        };
        let tax_rate = TAX_RATES[rng::pick_cumulative(rng, &self.tax_rates)].0;
        let tax = round_cents(net * tax_rate / 10_000);

        plan.subtotal_micros = subtotal;
        plan.discounts_micros = discounts;
        plan.shipping_micros = shipping;
        plan.tax_micros = tax;
        plan.total_micros = net + shipping + tax;
    }

    /// A full refund (everything, shipping included) or part of one line with its share
    /// of tax, 1–30 days after the order and never after the end of the period.
    fn refund(&mut self, plan: &OrderPlan, last_instant: i64) -> RefundPlan {
        let rng = &mut self.rng;
        let latest = (last_instant - plan.processed_at).min(30 * DAY_SECONDS);
        let at = plan.processed_at + rng.random_range(DAY_SECONDS..=latest);
        let catalog = &self.store.catalog;
        if rng.random_ratio(45, 100) {
            return RefundPlan {
                at,
                line: None,
                subtotal_micros: plan.subtotal_micros - plan.discounts_micros,
                amount_micros: plan.total_micros,
            };
        }
        let index = rng.random_range(0..plan.line_count);
        let line = plan.lines[index];
        let quantity = rng.random_range(1..=line.quantity);
        let line_net = catalog.variants[line.variant as usize].price_micros
            * i64::from(line.quantity)
            - line.discount_micros;
        let subtotal = floor_cents(line_net * i64::from(quantity) / i64::from(line.quantity));
        let net = plan.subtotal_micros - plan.discounts_micros;
        let tax = if net > 0 {
            floor_cents(plan.tax_micros * subtotal / net)
        } else {
            0
        };
        RefundPlan {
            at,
            line: Some((index as u8, quantity)),
            subtotal_micros: subtotal,
            amount_micros: subtotal + tax,
        }
    }

    /// 1–4 touches, walking back from the order: the last minutes to hours before, the
    /// earlier ones days apart, all inside Shopify's 30-day journey window.
    fn journey(&mut self, plan: &mut OrderPlan, first_order: bool) {
        let marketing = &self.store.marketing;
        let weights = if first_order {
            &self.new_touches
        } else {
            &self.returning_touches
        };
        let count = 1 + rng::pick_cumulative(&mut self.rng, weights);
        let earliest = plan.processed_at - 30 * DAY_SECONDS;
        let mut at = plan.processed_at - self.rng.random_range(120..=10_800);
        for k in (0..count).rev() {
            let source = marketing.pick_source(&mut self.rng, first_order && k == 0);
            plan.touches[k] = TouchPlan {
                at,
                source: source as u32,
            };
            at = (at - self.rng.random_range(1_200..=518_400)).max(earliest);
        }
        plan.touch_count = count;
    }

    /// What each configured ad platform reports for this order: its last click in its
    /// window (Google Ads with a fractional data-driven credit when other channels
    /// helped), or for Meta and TikTok sometimes a view-through. Several platforms
    /// claim the same order, as they do in reality.
    fn claims(&mut self, plan: &mut OrderPlan) {
        let marketing = &self.store.marketing;
        for slot in 0..3 {
            if !marketing.configured[slot] {
                continue;
            }
            let window_start = plan.processed_at - CLICK_WINDOW_SECONDS[slot];
            let on_platform =
                |t: &TouchPlan| marketing.sources[t.source as usize].slot == Some(slot);
            let clicked = plan
                .touches()
                .iter()
                .rev()
                .find(|t| t.at >= window_start && on_platform(t));
            plan.claims[slot] = match clicked {
                Some(touch) => {
                    let only_this_platform = plan.touches().iter().all(on_platform);
                    let credit = if slot == 2 && !only_this_platform {
                        f64::from(self.rng.random_range(35..=100u32)) / 100.0
                    } else {
                        1.0
                    };
                    marketing.sources[touch.source as usize]
                        .campaign
                        .map(|campaign| Claim {
                            campaign: campaign as u32,
                            credit,
                        })
                }
                None if VIEW_THROUGH_RATE[slot] > 0.0
                    && self.rng.random_bool(VIEW_THROUGH_RATE[slot]) =>
                {
                    marketing
                        .pick_prospecting(&mut self.rng, slot)
                        .map(|campaign| Claim {
                            campaign: campaign as u32,
                            credit: 1.0,
                        })
                }
                None => None,
            };
        }
    }
}

fn round_cents(micros: i64) -> i64 {
    (micros + 5_000).div_euclid(10_000) * 10_000
}

fn floor_cents(micros: i64) -> i64 {
    micros.div_euclid(10_000) * 10_000
}
