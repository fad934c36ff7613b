//! Daily delivery per campaign, as the ad platforms would report it.
//!
//! Conversions and conversion value are what each platform claims of the generated
//! orders (see the engine's claims), so they follow the store's real sales and add up
//! to more than the store sold. Spend follows the store's order volume and what a
//! campaign has been bringing in (an exponential average, the way a budget-optimising
//! platform behaves), aimed at the campaign's target ROAS; clicks and impressions come
//! from the campaign's cost per click and click-through rate.

use std::vec;

use super::DemoStore;
use super::engine::{Engine, OrderPlan};
use super::rng::{self, streams};
use crate::AdSpendDay;

/// Weight of the newest day in a campaign's average value per order (≈ 10-day memory).
const NEWEST_DAY_WEIGHT: f64 = 0.1;
/// A running campaign always spends something (two currency units a day).
const MIN_DAILY_SPEND_MICROS: i64 = 2_000_000;

/// One row per campaign per day, oldest day first, generated as it is read.
pub struct AdSpend<'s> {
    store: &'s DemoStore,
    engine: Option<Engine<'s>>,
    pending: Option<OrderPlan>,
    day: u32,
    rows: vec::IntoIter<AdSpendDay>,
    average_value: Vec<f64>,
    average_orders: f64,
}

impl<'s> AdSpend<'s> {
    pub(super) fn new(store: &'s DemoStore) -> Self {
        let campaigns = store.marketing.campaigns.len();
        Self {
            store,
            // Without campaigns there is nothing to report: skip the pass over orders.
            engine: (campaigns > 0).then(|| Engine::new(store)),
            pending: None,
            day: 0,
            rows: Vec::new().into_iter(),
            average_value: vec![0.0; campaigns],
            average_orders: 0.0,
        }
    }

    fn next_plan_of_day(&mut self, day: u32) -> Option<OrderPlan> {
        let plan = match self.pending.take() {
            Some(plan) => plan,
            None => self.engine.as_mut()?.next_plan()?,
        };
        if plan.day == day {
            Some(plan)
        } else {
            self.pending = Some(plan);
            None
        }
    }

    fn report_day(&mut self, day: u32) -> Vec<AdSpendDay> {
        let store = self.store;
        let campaigns = &store.marketing.campaigns;
        let mut conversions = vec![0.0f64; campaigns.len()];
        let mut value = vec![0i64; campaigns.len()];
        let mut orders = 0u64;
        while let Some(plan) = self.next_plan_of_day(day) {
            if plan.test {
                continue;
            }
            orders += 1;
            for claim in plan.claims.iter().flatten() {
                let c = claim.campaign as usize;
                conversions[c] += claim.credit;
                value[c] += (plan.total_micros as f64 * claim.credit).round() as i64;
            }
        }

        let first_day = day == 0;
        let blend = |average: f64, today: f64| {
            if first_day {
                today
            } else {
                average * (1.0 - NEWEST_DAY_WEIGHT) + today * NEWEST_DAY_WEIGHT
            }
        };
        self.average_orders = blend(self.average_orders, orders as f64);
        let expected_orders = store.calendar.smooth_orders[day as usize];
        let date = store.calendar.date(day);
        let mut rng = rng::stream(store.config.seed, streams::AD_SPEND_DAY + u64::from(day));

        campaigns
            .iter()
            .enumerate()
            .map(|(c, plan)| {
                self.average_value[c] = blend(self.average_value[c], value[c] as f64);
                let value_per_order = if self.average_orders > 0.0 {
                    self.average_value[c] / self.average_orders
                } else {
                    0.0
                };
                let spend = expected_orders * value_per_order / plan.target_roas
                    * rng::noise(&mut rng, 0.1);
                let spend_micros =
                    (((spend / 10_000.0).round() as i64) * 10_000).max(MIN_DAILY_SPEND_MICROS);
                let clicks = (spend_micros as f64 / plan.cpc_micros as f64
                    * rng::noise(&mut rng, 0.05))
                .round()
                .max(0.0);
                let impressions = (clicks / plan.click_through_rate * rng::noise(&mut rng, 0.05))
                    .round()
                    .max(clicks);
                AdSpendDay {
                    platform: plan.campaign.platform,
                    platform_campaign_id: plan.campaign.platform_campaign_id.clone(),
                    campaign_name: plan.campaign.name.clone(),
                    date,
                    currency: store.config.currency.clone(),
                    spend_micros,
                    impressions: impressions as i64,
                    clicks: clicks as i64,
                    conversions: (conversions[c] * 100.0).round() / 100.0,
                    conversion_value_micros: value[c],
                }
            })
            .collect()
    }
}

impl Iterator for AdSpend<'_> {
    type Item = AdSpendDay;

    fn next(&mut self) -> Option<AdSpendDay> {
        loop {
            if let Some(row) = self.rows.next() {
                return Some(row);
            }
            if self.engine.is_none() || self.day >= self.store.calendar.days {
                return None;
            }
            let day = self.day;
            self.rows = self.report_day(day).into_iter();
            self.day += 1;
        }
    }
}
