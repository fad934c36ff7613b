//! The inventory forecast of one variant: velocity and days of cover from the metric
//! engine, then stock-out date, reorder date and quantity, and risk. Plain arithmetic,
//! no I/O (the API gathers the inputs).

use chrono::{Days, NaiveDate};

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
