//! The inventory forecast: [`forecast`] is one variant's stock-out date, reorder date
//! and quantity, and risk, in plain arithmetic; [`for_brand`] gathers its inputs for
//! every variant of a brand (velocity and days of cover from the metric engine, stock
//! on hand now) and forecasts each. GetInventoryForecast and the restock
//! recommendations both read it.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use pp_db::TenantTx;
use pp_metrics::Metric;

use crate::engine::{self, Dimension, EngineError, Query, Value};
use crate::store::{self, BrandInfo, commerce::VariantRow};

/// Lead time assumed for a variant without `pulsepoint.lead_time_days`.
pub const DEFAULT_LEAD_TIME_DAYS: u32 = 14;
/// Safety stock, in days of velocity, on top of the horizon's demand.
pub const SAFETY_STOCK_DAYS: u32 = 7;

/// How soon a variant runs out (the contract's `StockoutRisk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// What the forecast of one variant starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// Units available now (a negative level counts zero).
    pub on_hand: i64,
    /// The catalogue's `daily_velocity` over the window.
    pub daily_velocity: f64,
    /// The catalogue's `days_of_cover`; `None` when nothing sold.
    pub days_of_cover: Option<f64>,
    /// The supplier lead time, when recorded.
    pub lead_time_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub lead_time_days: u32,
    /// The day stock runs out: today when none is left, else today + the whole days of
    /// cover; `None` when that is not within the horizon (or nothing sells).
    pub stockout_date: Option<NaiveDate>,
    /// The last day to order so the stock arrives before the stock-out (never before
    /// today); `None` without a stock-out date.
    pub reorder_date: Option<NaiveDate>,
    /// Units to order: the horizon's demand plus the safety stock, less what is on hand
    /// (rounded up; never negative).
    pub reorder_units: i64,
    pub risk: Risk,
}

/// The forecast of one variant as of `today` over `horizon_days`.
pub fn forecast(input: &Input, today: NaiveDate, horizon_days: u32) -> Forecast {
    let lead_time_days = input.lead_time_days.unwrap_or(DEFAULT_LEAD_TIME_DAYS);
    let on_hand = input.on_hand.max(0);
    let stockout_in_days: Option<u64> = if on_hand == 0 {
        Some(0)
    } else {
        input
            .days_of_cover
            .filter(|cover| *cover < f64::from(horizon_days))
            .map(|cover| cover.floor() as u64)
    };
    let stockout_date = stockout_in_days.map(|days| today + Days::new(days));
    let reorder_date = stockout_in_days
        .map(|days| today + Days::new(days.saturating_sub(u64::from(lead_time_days))));
    let demand = input.daily_velocity * f64::from(horizon_days + SAFETY_STOCK_DAYS);
    let reorder_units = ((demand.ceil() as i64) - on_hand).max(0);
    let risk = match (on_hand, input.days_of_cover) {
        (0, _) => Risk::High,
        (_, Some(cover)) if cover <= f64::from(lead_time_days) => Risk::High,
        (_, Some(cover)) if cover < f64::from(horizon_days) => Risk::Medium,
        _ => Risk::Low,
    };
    Forecast {
        lead_time_days,
        stockout_date,
        reorder_date,
        reorder_units,
        risk,
    }
}

/// One variant's forecast with the figures it came from.
#[derive(Debug, Clone)]
pub struct VariantForecast {
    pub variant: VariantRow,
    pub on_hand_units: i64,
    pub daily_velocity: f64,
    pub days_of_cover: Option<f64>,
    pub forecast: Forecast,
}

/// The forecast of every variant of `brand` (only `product_id`'s when given) as of
/// `today`: velocity over the `window` complete days before today, stock on hand now,
/// over `horizon` days. In variant id order.
pub async fn for_brand(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
    window: u32,
    horizon: u32,
    product_id: Option<&str>,
) -> Result<Vec<VariantForecast>, EngineError> {
    let variants = store::commerce::variants(tx, brand.brand_id, product_id).await?;
    let query = Query {
        metric: Metric::DailyVelocity,
        start: today - Days::new(u64::from(window)),
        end: today - Days::new(1),
        filters: Vec::new(),
        breakdown: Some(Dimension::VariantId),
    };
    let figures = engine::compute_many(
        tx,
        brand,
        &[Metric::DailyVelocity, Metric::DaysOfCover],
        &query,
    )
    .await?;
    let on_hand: HashMap<String, i64> = store::commerce::on_hand(tx, brand.brand_id, None, None)
        .await?
        .into_iter()
        .map(|row| (row.variant_id, row.units))
        .collect();
    let by_variant = |metric: usize| -> HashMap<String, Value> {
        figures
            .get(metric)
            .map(|list| {
                list.iter()
                    .filter_map(|f| Some((f.filters.last()?.value.clone(), f.value)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let velocity = by_variant(0);
    let cover = by_variant(1);
    Ok(variants
        .into_iter()
        .map(|variant| {
            let daily_velocity = velocity
                .get(&variant.variant_id)
                .map_or(0.0, |v| v.as_f64());
            let days_of_cover = match cover.get(&variant.variant_id) {
                Some(Value::Number(days)) => Some(*days),
                _ => None,
            };
            let on_hand_units = on_hand.get(&variant.variant_id).copied().unwrap_or(0);
            let forecast = forecast(
                &Input {
                    on_hand: on_hand_units,
                    daily_velocity,
                    days_of_cover,
                    lead_time_days: variant.lead_time_days.and_then(|d| u32::try_from(d).ok()),
                },
                today,
                horizon,
            );
            VariantForecast {
                variant,
                on_hand_units,
                daily_velocity,
                days_of_cover,
                forecast,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).expect("date")
    }

    #[test]
    fn a_selling_variant_within_its_lead_time_is_high_risk() {
        // 56 units over 28 days = 2/day; 10 on hand = 5 days; lead time 7.
        let f = forecast(
            &Input {
                on_hand: 10,
                daily_velocity: 2.0,
                days_of_cover: Some(5.0),
                lead_time_days: Some(7),
            },
            day(1),
            30,
        );
        assert_eq!(f.stockout_date, Some(day(6)));
        assert_eq!(f.reorder_date, Some(day(1)), "already late: order today");
        assert_eq!(f.reorder_units, 2 * 37 - 10);
        assert_eq!(f.risk, Risk::High);
    }

    #[test]
    fn medium_low_and_no_sales() {
        let medium = forecast(
            &Input {
                on_hand: 40,
                daily_velocity: 2.0,
                days_of_cover: Some(20.0),
                lead_time_days: None,
            },
            day(1),
            30,
        );
        assert_eq!(medium.risk, Risk::Medium);
        assert_eq!(medium.lead_time_days, DEFAULT_LEAD_TIME_DAYS);
        assert_eq!(medium.reorder_date, Some(day(7)));
        let none_sold = forecast(
            &Input {
                on_hand: 4,
                daily_velocity: 0.0,
                days_of_cover: None,
                lead_time_days: Some(3),
            },
            day(1),
            30,
        );
        assert_eq!(none_sold.risk, Risk::Low);
        assert_eq!(none_sold.stockout_date, None);
        assert_eq!(none_sold.reorder_units, 0);
        let out = forecast(
            &Input {
                on_hand: -3,
                daily_velocity: 0.5,
                days_of_cover: Some(0.0),
                lead_time_days: Some(3),
            },
            day(1),
            30,
        );
        assert_eq!((out.risk, out.stockout_date), (Risk::High, Some(day(1))));
        assert_eq!(out.reorder_units, 19);
    }
}
