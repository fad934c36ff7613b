//! Which recommendations the data calls for, in plain arithmetic (no I/O): restocks
//! from the inventory forecast, budget moves from campaigns' marginal ROAS, and what an
//! accepted budget move did. docs/metrics.md ("Recommendations") states every rule.

use chrono::{Days, NaiveDate};

use crate::forecast::{Risk, VariantForecast};

/// Days of ad data a budget move is judged on.
pub const BUDGET_WINDOW_DAYS: u32 = 14;
/// A campaign needs spend on at least this many of the window's days to take part.
pub const MIN_ACTIVE_DAYS: usize = 7;
/// Below this coefficient of variation of daily spend, the slope of revenue on spend is
/// noise: the marginal ROAS falls back to the average ROAS.
pub const MIN_SPEND_VARIATION: f64 = 0.10;
/// The destination's marginal ROAS must be at least this multiple of the source's…
pub const MIN_ROAS_RATIO: f64 = 1.25;
/// …and at least this much higher in absolute terms.
pub const MIN_ROAS_GAP: f64 = 0.5;
/// The share of the source's average daily spend a move shifts.
pub const MOVE_SHARE: f64 = 0.20;
/// At most this many budget moves are open per brand.
pub const MAX_MOVES: usize = 3;
/// A product making up at least this share of a campaign's units ties the campaign to
/// its stock…
pub const CAMPAIGN_PRODUCT_SHARE: f64 = 0.20;
/// …and the campaign gets no budget while that product runs out within this many days.
pub const STOCKOUT_GUARD_DAYS: u64 = 14;
/// Expected impact is estimated over this many days.
pub const IMPACT_DAYS: i64 = 30;
/// A budget move stays open this many days before it expires.
pub const BUDGET_EXPIRY_DAYS: u64 = 7;

const MICROS: f64 = 1_000_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Low,
    Medium,
    High,
}

/// A campaign at its platform (`platform` as the commerce schema names it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CampaignKey {
    pub platform: String,
    pub campaign_id: String,
}

/// One campaign's days in the budget window.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDays {
    pub key: CampaignKey,
    pub name: String,
    /// (spend, platform-reported conversion value) in micros per day of the window,
    /// zeros for days without a row.
    pub days: Vec<(i64, i64)>,
    /// Whether a product it sells runs out within [`STOCKOUT_GUARD_DAYS`].
    pub stock_constrained: bool,
}

/// What the window says about a campaign's returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Returns {
    pub spend_micros: i64,
    pub value_micros: i64,
    pub active_days: usize,
    /// Conversion value ÷ spend over the window.
    pub average_roas: f64,
    /// The slope of daily conversion value on daily spend (never below zero), or the
    /// average ROAS when spend hardly varied.
    pub marginal_roas: f64,
    /// Whether `marginal_roas` is a fitted slope (else the average stood in).
    pub fitted: bool,
    /// R² of the fit; 0 when not fitted.
    pub fit: f64,
}

/// The returns of one campaign's window.
pub fn returns(days: &[(i64, i64)]) -> Returns {
    let spend_micros: i64 = days.iter().map(|d| d.0).sum();
    let value_micros: i64 = days.iter().map(|d| d.1).sum();
    let active_days = days.iter().filter(|d| d.0 > 0).count();
    let average_roas = if spend_micros > 0 {
        value_micros as f64 / spend_micros as f64
    } else {
        0.0
    };
    let n = days.len() as f64;
    let xs: Vec<f64> = days.iter().map(|d| d.0 as f64 / MICROS).collect();
    let ys: Vec<f64> = days.iter().map(|d| d.1 as f64 / MICROS).collect();
    let mean_x = xs.iter().sum::<f64>() / n.max(1.0);
    let mean_y = ys.iter().sum::<f64>() / n.max(1.0);
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    let syy: f64 = ys.iter().map(|y| (y - mean_y).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let variation = if mean_x > 0.0 && n > 1.0 {
        (sxx / (n - 1.0)).sqrt() / mean_x
    } else {
        0.0
    };
    if variation < MIN_SPEND_VARIATION || sxx <= 0.0 {
        return Returns {
            spend_micros,
            value_micros,
            active_days,
            average_roas,
            marginal_roas: average_roas,
            fitted: false,
            fit: 0.0,
        };
    }
    let slope = sxy / sxx;
    let fit = if syy > 0.0 {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Returns {
        spend_micros,
        value_micros,
        active_days,
        average_roas,
        marginal_roas: slope.max(0.0),
        fitted: true,
        fit,
    }
}

/// A proposed budget move.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub from: CampaignKey,
    pub from_name: String,
    pub from_returns: Returns,
    pub to: CampaignKey,
    pub to_name: String,
    pub to_returns: Returns,
    /// Whole currency units per day, in micros.
    pub daily_amount_micros: i64,
    /// Conversion value gained over [`IMPACT_DAYS`] at the marginal ROAS gap.
    pub expected_impact_micros: i64,
    pub confidence: f64,
    pub priority: Priority,
}

/// Budget moves: campaigns active on at least [`MIN_ACTIVE_DAYS`] days, the lowest
/// marginal ROAS paired with the highest (each campaign in one move at most), while the
/// destination beats the source by [`MIN_ROAS_RATIO`] and [`MIN_ROAS_GAP`]; never
/// towards a stock-constrained campaign. At most [`MAX_MOVES`], biggest gap first.
pub fn budget_moves(campaigns: &[CampaignDays]) -> Vec<Move> {
    let mut active: Vec<(&CampaignDays, Returns)> = campaigns
        .iter()
        .map(|c| (c, returns(&c.days)))
        .filter(|(_, r)| r.active_days >= MIN_ACTIVE_DAYS && r.spend_micros > 0)
        .collect();
    // Lowest marginal ROAS first; ties by key, so the result is deterministic.
    active.sort_by(|(a, ra), (b, rb)| {
        ra.marginal_roas
            .total_cmp(&rb.marginal_roas)
            .then_with(|| a.key.cmp(&b.key))
    });
    let mut used = vec![false; active.len()];
    let mut moves = Vec::new();
    for from in 0..active.len() {
        if moves.len() == MAX_MOVES {
            break;
        }
        if used[from] {
            continue;
        }
        let Some(to) = (from + 1..active.len())
            .rev()
            .find(|&to| !used[to] && !active[to].0.stock_constrained)
        else {
            break;
        };
        let (source, source_returns) = &active[from];
        let (destination, destination_returns) = &active[to];
        let gap = destination_returns.marginal_roas - source_returns.marginal_roas;
        if destination_returns.marginal_roas < source_returns.marginal_roas * MIN_ROAS_RATIO
            || gap < MIN_ROAS_GAP
        {
            // Sources only get better from here on; the best destination is taken.
            break;
        }
        used[from] = true;
        used[to] = true;
        let average_daily = source_returns.spend_micros as f64 / source_returns.active_days as f64;
        let units = (average_daily * MOVE_SHARE / MICROS).floor().max(1.0);
        let daily_amount_micros = (units * MICROS) as i64;
        let expected_impact_micros = (daily_amount_micros as f64 * gap * IMPACT_DAYS as f64) as i64;
        let confidence = move_confidence(source_returns, destination_returns);
        let priority = if destination_returns.marginal_roas >= 2.0 * source_returns.marginal_roas
            && confidence >= 0.5
        {
            Priority::High
        } else {
            Priority::Medium
        };
        moves.push(Move {
            from: source.key.clone(),
            from_name: source.name.clone(),
            from_returns: source_returns.clone(),
            to: destination.key.clone(),
            to_name: destination.name.clone(),
            to_returns: destination_returns.clone(),
            daily_amount_micros,
            expected_impact_micros,
            confidence,
            priority,
        });
    }
    moves
}

/// 0.3 when neither slope could be fitted; up to 0.9 with two good fits.
fn move_confidence(a: &Returns, b: &Returns) -> f64 {
    let one = |r: &Returns| if r.fitted { 0.45 + 0.45 * r.fit } else { 0.3 };
    ((one(a) + one(b)) / 2.0 * 100.0).round() / 100.0
}

/// A proposed restock.
#[derive(Debug, Clone, PartialEq)]
pub struct Restock {
    pub variant_id: String,
    pub units: i64,
    pub order_by: NaiveDate,
    pub stockout: NaiveDate,
    /// Sales the stock-out would lose within [`IMPACT_DAYS`], at the variant's price.
    pub expected_impact_micros: i64,
    pub confidence: f64,
    pub priority: Priority,
    /// Open until the day after the projected stock-out.
    pub expires: NaiveDate,
}

/// A restock for a variant the forecast puts at MEDIUM or HIGH risk that sells and has
/// something to order. `price_micros` is the variant's price; `window_days` the
/// velocity window.
pub fn restock(
    f: &VariantForecast,
    price_micros: i64,
    today: NaiveDate,
    window_days: u32,
) -> Option<Restock> {
    if f.forecast.risk == Risk::Low || f.daily_velocity <= 0.0 || f.forecast.reorder_units <= 0 {
        return None;
    }
    let stockout = f.forecast.stockout_date?;
    let order_by = f.forecast.reorder_date.unwrap_or(today);
    let days_out = (IMPACT_DAYS - (stockout - today).num_days()).max(0);
    let lost_units = f.daily_velocity * days_out as f64;
    let expected_impact_micros = (lost_units * price_micros as f64).round() as i64;
    // More sales in the window, steadier velocity: 0.5 with none, 0.9 from one a day.
    let sold = f.daily_velocity * f64::from(window_days);
    let confidence =
        ((0.5 + 0.4 * (sold / f64::from(window_days.max(1))).min(1.0)) * 100.0).round() / 100.0;
    Some(Restock {
        variant_id: f.variant.variant_id.clone(),
        units: f.forecast.reorder_units,
        order_by,
        stockout,
        expected_impact_micros,
        confidence,
        priority: match f.forecast.risk {
            Risk::High => Priority::High,
            _ => Priority::Medium,
        },
        expires: stockout.max(today) + Days::new(1),
    })
}

/// The day ranges an accepted budget move is measured over: the 7 days before the
/// decision day and the 7 days after it.
pub fn outcome_windows(decide_day: NaiveDate) -> ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)) {
    (
        (decide_day - Days::new(7), decide_day - Days::new(1)),
        (decide_day + Days::new(1), decide_day + Days::new(7)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::{Forecast, VariantForecast};
    use crate::store::commerce::VariantRow;

    const M: i64 = 1_000_000;

    fn campaign(id: &str, days: Vec<(i64, i64)>, constrained: bool) -> CampaignDays {
        CampaignDays {
            key: CampaignKey {
                platform: "meta".into(),
                campaign_id: id.into(),
            },
            name: format!("Campaign {id}"),
            days,
            stock_constrained: constrained,
        }
    }

    /// Spend alternating 80 / 120 a day, value = roas × spend.
    fn steady_roas(roas: f64) -> Vec<(i64, i64)> {
        (0..14)
            .map(|i| {
                let spend = if i % 2 == 0 { 80 * M } else { 120 * M };
                (spend, (spend as f64 * roas) as i64)
            })
            .collect()
    }

    #[test]
    fn the_slope_is_the_marginal_roas_and_flat_spend_falls_back_to_the_average() {
        // value = 100 + 1.5 × spend: average 2.5, marginal 1.5, perfect fit.
        let days: Vec<(i64, i64)> = (0..14)
            .map(|i| {
                let spend = (50 + 10 * i) * M;
                (spend, 100 * M + spend * 3 / 2)
            })
            .collect();
        let r = returns(&days);
        assert!(r.fitted);
        assert!((r.marginal_roas - 1.5).abs() < 1e-9, "{r:?}");
        assert!((r.fit - 1.0).abs() < 1e-9);
        assert_eq!(r.active_days, 14);
        let flat = returns(&vec![(100 * M, 250 * M); 14]);
        assert!(!flat.fitted);
        assert!((flat.marginal_roas - 2.5).abs() < 1e-9);
    }

    #[test]
    fn budget_moves_from_the_lowest_to_the_highest_marginal_roas() {
        let moves = budget_moves(&[
            campaign("low", steady_roas(1.0), false),
            campaign("mid", steady_roas(2.0), false),
            campaign("high", steady_roas(4.0), false),
        ]);
        assert_eq!(moves.len(), 1, "mid has no partner left: {moves:?}");
        let m = &moves[0];
        assert_eq!(
            (m.from.campaign_id.as_str(), m.to.campaign_id.as_str()),
            ("low", "high")
        );
        // 20 % of the average 100 a day.
        assert_eq!(m.daily_amount_micros, 20 * M);
        // 20 a day × 30 days × (4 − 1).
        assert_eq!(m.expected_impact_micros, 1_800 * M);
        assert_eq!(m.priority, Priority::High);
    }

    #[test]
    fn never_towards_a_campaign_about_to_stock_out() {
        let moves = budget_moves(&[
            campaign("low", steady_roas(1.0), false),
            campaign("mid", steady_roas(2.0), false),
            campaign("high", steady_roas(4.0), true),
        ]);
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].to.campaign_id, "mid");
        let none = budget_moves(&[
            campaign("low", steady_roas(1.0), false),
            campaign("high", steady_roas(4.0), true),
        ]);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn similar_returns_or_too_few_active_days_move_nothing() {
        assert!(
            budget_moves(&[
                campaign("a", steady_roas(2.0), false),
                campaign("b", steady_roas(2.3), false),
            ])
            .is_empty()
        );
        let mut sparse = steady_roas(8.0);
        for day in sparse.iter_mut().skip(6) {
            *day = (0, 0);
        }
        assert!(
            budget_moves(&[
                campaign("a", steady_roas(1.0), false),
                campaign("b", sparse, false),
            ])
            .is_empty()
        );
    }

    fn forecast(risk: Risk, velocity: f64, stockout: Option<u64>) -> VariantForecast {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        VariantForecast {
            variant: VariantRow {
                variant_id: "v1".into(),
                product_id: "p1".into(),
                sku: "SKU-1".into(),
                title: "Shirt / M".into(),
                lead_time_days: Some(7),
            },
            on_hand_units: 10,
            daily_velocity: velocity,
            days_of_cover: Some(5.0),
            forecast: Forecast {
                lead_time_days: 7,
                stockout_date: stockout.map(|d| today + Days::new(d)),
                reorder_date: Some(today),
                reorder_units: 64,
                risk,
            },
        }
    }

    #[test]
    fn restock_for_a_variant_at_risk_with_the_sales_it_protects() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        let r = restock(&forecast(Risk::High, 2.0, Some(5)), 25 * M, today, 28).expect("restock");
        assert_eq!(r.units, 64);
        assert_eq!(r.order_by, today);
        assert_eq!(r.stockout, today + Days::new(5));
        // 25 days out of stock in the next 30 × 2 a day × 25.
        assert_eq!(r.expected_impact_micros, 1_250 * M);
        assert_eq!(r.priority, Priority::High);
        assert_eq!(r.expires, today + Days::new(6));
        assert!(restock(&forecast(Risk::Low, 2.0, None), 25 * M, today, 28).is_none());
        assert!(restock(&forecast(Risk::Medium, 0.0, Some(0)), 25 * M, today, 28).is_none());
    }
}
