//! Recommendations: restocks from the inventory forecast and budget moves from the
//! campaigns' marginal ROAS ([`rules`]), regenerated for a brand after each sync and by
//! the sweep ([`regenerate`]) without duplicating an open one, and the outcome of the
//! accepted ones measured once their window has passed ([`measure`]).

pub mod rules;

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use pp_auth::TenantId;
use pp_db::{PgPool, TenantTx};
use pp_metrics::{Metric, Unit};
use pp_proto::insights as pb;
use prost::Message;
use uuid::Uuid;

use crate::engine::{self, EngineError, Figure, Filter, Totals, Value};
use crate::forecast::{self, VariantForecast};
use crate::store::recommendations::{self as store, NewRecommendation, RecommendationRow};
use crate::store::{self as stores, BrandInfo};
use rules::{CampaignDays, CampaignKey, Priority};

/// The forecast restocks are judged on: velocity over 28 days, 30 days ahead (the
/// GetInventoryForecast defaults).
pub const FORECAST_WINDOW_DAYS: u32 = 28;
pub const FORECAST_HORIZON_DAYS: u32 = 30;

pub const RESTOCK: &str = "restock";
pub const SHIFT_BUDGET: &str = "shift_budget";

/// What one regeneration did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regenerated {
    /// Restocks and budget moves written (new, or an open one refreshed).
    pub restocks: usize,
    pub budget_moves: usize,
    /// Open ones expired (past their expiry, or the data no longer calls for them).
    pub expired: u64,
    /// Accepted ones whose outcome was measured now.
    pub measured: usize,
}

/// Regenerates the brand's recommendations in its own transaction, as of the brand's
/// today; failures are logged (the next sync or sweep tries again).
pub async fn refresh(pool: &PgPool, tenant: TenantId, brand_id: Uuid) {
    let result = async {
        let mut tx = TenantTx::begin_for_tenant(pool, tenant).await?;
        let Some(brand) = stores::brand(&mut tx, brand_id).await? else {
            return Ok(None);
        };
        let today = stores::commerce::brand_today(&mut tx, &brand).await?;
        let done = regenerate(&mut tx, &brand, today).await?;
        tx.commit().await?;
        Ok::<_, EngineError>(Some(done))
    }
    .await;
    match result {
        Ok(Some(done)) => {
            tracing::info!(brand.id = %brand_id, ?done, "recommendations regenerated")
        }
        Ok(None) => {}
        Err(err) => tracing::warn!(brand.id = %brand_id, %err, "recommendations not regenerated"),
    }
}

/// Regenerates the recommendations of `brand` as of `today`: open ones past their
/// expiry expire; every restock and budget move the rules produce is written (an open
/// one of the same subject is refreshed in place, a decided one that has not expired
/// keeps it from coming back); open ones the rules no longer produce expire; accepted
/// ones whose window has passed are measured.
pub async fn regenerate(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
) -> Result<Regenerated, EngineError> {
    stores::lock_brand(tx, brand.brand_id, stores::BrandLock::Recommendations).await?;
    let mut done = Regenerated {
        expired: store::expire_overdue(tx, brand.brand_id).await?,
        ..Regenerated::default()
    };
    let forecasts = forecast::for_brand(
        tx,
        brand,
        today,
        FORECAST_WINDOW_DAYS,
        FORECAST_HORIZON_DAYS,
        None,
    )
    .await?;

    let prices: HashMap<String, i64> = store::variant_prices(tx, brand.brand_id)
        .await?
        .into_iter()
        .collect();
    let mut subjects = Vec::new();
    for f in &forecasts {
        let price = prices.get(&f.variant.variant_id).copied().unwrap_or(0);
        let Some(restock) = rules::restock(f, price, today, FORECAST_WINDOW_DAYS) else {
            continue;
        };
        let rec = restock_recommendation(brand, today, f, &restock);
        subjects.push(rec.subject.clone());
        if store::upsert_open(tx, &rec).await? {
            done.restocks += 1;
        }
    }
    done.expired += store::expire_unsupported(tx, brand.brand_id, RESTOCK, &subjects).await?;

    let campaigns = campaign_days(tx, brand, today, &forecasts).await?;
    let mut subjects = Vec::new();
    for m in rules::budget_moves(&campaigns) {
        let rec = budget_recommendation(brand, today, &m);
        subjects.push(rec.subject.clone());
        if store::upsert_open(tx, &rec).await? {
            done.budget_moves += 1;
        }
    }
    done.expired += store::expire_unsupported(tx, brand.brand_id, SHIFT_BUDGET, &subjects).await?;
    done.measured = measure(tx, brand, today).await?;
    Ok(done)
}

/// The campaigns of the budget window (the 14 complete days before `today`), each
/// marked stock-constrained when a variant making up at least 20 % of the units of the
/// orders it touched runs out within 14 days.
async fn campaign_days(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
    forecasts: &[VariantForecast],
) -> Result<Vec<CampaignDays>, EngineError> {
    let start = today - Days::new(u64::from(rules::BUDGET_WINDOW_DAYS));
    let end = today - Days::new(1);
    let guard = today + Days::new(rules::STOCKOUT_GUARD_DAYS);
    let running_out: HashSet<&str> = forecasts
        .iter()
        .filter(|f| f.forecast.stockout_date.is_some_and(|d| d <= guard))
        .map(|f| f.variant.variant_id.as_str())
        .collect();
    let constrained: HashSet<CampaignKey> =
        store::campaign_variant_shares(tx, brand.brand_id, &brand.time_zone, start, end)
            .await?
            .into_iter()
            .filter(|(_, _, variant, share)| {
                *share >= rules::CAMPAIGN_PRODUCT_SHARE && running_out.contains(variant.as_str())
            })
            .map(|(platform, campaign_id, _, _)| CampaignKey {
                platform,
                campaign_id,
            })
            .collect();
    let mut by_key: Vec<CampaignDays> = Vec::new();
    for row in store::campaign_days(tx, brand.brand_id, start, end).await? {
        let key = CampaignKey {
            platform: row.platform,
            campaign_id: row.campaign_id,
        };
        if by_key.last().is_none_or(|c| c.key != key) {
            by_key.push(CampaignDays {
                stock_constrained: constrained.contains(&key),
                key,
                name: row.name,
                days: vec![(0, 0); rules::BUDGET_WINDOW_DAYS as usize],
            });
        }
        let index = usize::try_from((row.day - start).num_days()).unwrap_or(0);
        if let Some(campaign) = by_key.last_mut()
            && let Some(day) = campaign.days.get_mut(index)
        {
            *day = (row.spend_micros, row.conversion_value_micros);
        }
    }
    Ok(by_key)
}

fn priority(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

fn encode(figures: &[Figure]) -> Vec<Vec<u8>> {
    figures
        .iter()
        .map(|f| crate::api::figure(f).encode_to_vec())
        .collect()
}

fn money(brand: &BrandInfo, micros: i64) -> String {
    crate::api::display(Value::Money(micros), Unit::Currency, &brand.currency_code)
}

fn restock_recommendation(
    brand: &BrandInfo,
    today: NaiveDate,
    f: &VariantForecast,
    restock: &rules::Restock,
) -> NewRecommendation {
    let window = (
        today - Days::new(u64::from(FORECAST_WINDOW_DAYS)),
        today - Days::new(1),
    );
    let variant = vec![Filter {
        dimension: engine::Dimension::VariantId,
        value: f.variant.variant_id.clone(),
    }];
    let figure = |metric, value| Figure {
        metric,
        value,
        start: window.0,
        end: window.1,
        filters: variant.clone(),
        currency_code: brand.currency_code.clone(),
    };
    let cover = f.days_of_cover.map_or(Value::Unset, Value::Number);
    let evidence = [
        figure(Metric::DailyVelocity, Value::Number(f.daily_velocity)),
        figure(Metric::DaysOfCover, cover),
    ];
    let title = if f.on_hand_units <= 0 {
        format!("Restock {}: out of stock", f.variant.title)
    } else {
        format!(
            "Restock {}: {:.1} days of cover left",
            f.variant.title,
            f.days_of_cover.unwrap_or(0.0)
        )
    };
    let rationale = format!(
        "{} sells {:.2} units a day and has {:.1} days of cover: it runs out on {}. With a \
         {}-day lead time, order {} units by {} to cover the next {} days plus {} days of \
         safety stock.",
        f.variant.title,
        f.daily_velocity,
        f.days_of_cover.unwrap_or(0.0),
        restock.stockout,
        f.forecast.lead_time_days,
        restock.units,
        restock.order_by,
        FORECAST_HORIZON_DAYS,
        forecast::SAFETY_STOCK_DAYS,
    );
    NewRecommendation {
        brand_id: brand.brand_id,
        kind: RESTOCK,
        subject: f.variant.variant_id.clone(),
        priority: priority(restock.priority),
        title,
        rationale,
        evidence: encode(&evidence),
        currency_code: brand.currency_code.clone(),
        expected_impact_micros: restock.expected_impact_micros,
        confidence: restock.confidence,
        product_id: Some(f.variant.product_id.clone()),
        variant_id: Some(f.variant.variant_id.clone()),
        sku: Some(f.variant.sku.clone()),
        units: Some(restock.units),
        order_by_date: Some(restock.order_by),
        stockout_date: Some(restock.stockout),
        expire_day: restock.expires,
        time_zone: brand.time_zone.clone(),
        ..NewRecommendation::default()
    }
}

/// The figures of one campaign over a period: its spend and platform ROAS.
fn campaign_figures(
    brand: &BrandInfo,
    key: &CampaignKey,
    (start, end): (NaiveDate, NaiveDate),
    spend_micros: i64,
    value_micros: i64,
) -> [Figure; 2] {
    let filters = vec![
        Filter {
            dimension: engine::Dimension::Platform,
            value: engine::platform_wire(&key.platform).to_owned(),
        },
        Filter {
            dimension: engine::Dimension::CampaignId,
            value: key.campaign_id.clone(),
        },
    ];
    let totals = Totals {
        spend: spend_micros,
        platform_revenue: value_micros,
        ..Totals::default()
    };
    let days = (end - start).num_days() + 1;
    [Metric::AdSpend, Metric::PlatformRoas].map(|metric| Figure {
        metric,
        value: engine::value(metric, &totals, days),
        start,
        end,
        filters: filters.clone(),
        currency_code: brand.currency_code.clone(),
    })
}

fn budget_recommendation(
    brand: &BrandInfo,
    today: NaiveDate,
    m: &rules::Move,
) -> NewRecommendation {
    let window = (
        today - Days::new(u64::from(rules::BUDGET_WINDOW_DAYS)),
        today - Days::new(1),
    );
    let mut evidence = Vec::new();
    evidence.extend(campaign_figures(
        brand,
        &m.from,
        window,
        m.from_returns.spend_micros,
        m.from_returns.value_micros,
    ));
    evidence.extend(campaign_figures(
        brand,
        &m.to,
        window,
        m.to_returns.spend_micros,
        m.to_returns.value_micros,
    ));
    let amount = money(brand, m.daily_amount_micros);
    let title = format!("Move {amount} a day from {} to {}", m.from_name, m.to_name);
    let rationale = format!(
        "Over the last {} days {} returned {:.2}× on {} of spend, and about {:.2}× on its \
         last dollars; {} returned {:.2}× on {}, and about {:.2}× at the margin. Moving \
         {amount} a day is expected to add about {} of platform-reported revenue in {} days.",
        rules::BUDGET_WINDOW_DAYS,
        m.from_name,
        m.from_returns.average_roas,
        money(brand, m.from_returns.spend_micros),
        m.from_returns.marginal_roas,
        m.to_name,
        m.to_returns.average_roas,
        money(brand, m.to_returns.spend_micros),
        m.to_returns.marginal_roas,
        money(brand, m.expected_impact_micros),
        rules::IMPACT_DAYS,
    );
    NewRecommendation {
        brand_id: brand.brand_id,
        kind: SHIFT_BUDGET,
        subject: format!(
            "{}:{}>{}:{}",
            m.from.platform, m.from.campaign_id, m.to.platform, m.to.campaign_id
        ),
        priority: priority(m.priority),
        title,
        rationale,
        evidence: encode(&evidence),
        currency_code: brand.currency_code.clone(),
        expected_impact_micros: m.expected_impact_micros,
        confidence: m.confidence,
        from_platform: Some(m.from.platform.clone()),
        from_campaign_id: Some(m.from.campaign_id.clone()),
        to_platform: Some(m.to.platform.clone()),
        to_campaign_id: Some(m.to.campaign_id.clone()),
        daily_amount_micros: Some(m.daily_amount_micros),
        expire_day: today + Days::new(rules::BUDGET_EXPIRY_DAYS),
        time_zone: brand.time_zone.clone(),
        ..NewRecommendation::default()
    }
}

/// Measures every accepted recommendation of `brand` whose window has passed by
/// `today`: a budget move 8 days after its decision day (7 days before vs 7 after); a
/// restock the day after its projected stock-out date (in stock then or not). Returns
/// how many were measured.
pub async fn measure(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
) -> Result<usize, EngineError> {
    let mut measured = 0;
    for row in store::unmeasured(tx, brand.brand_id).await? {
        let Some(date) = measure_date(&row) else {
            continue;
        };
        if today < date {
            continue;
        }
        let outcome = match row.kind.as_str() {
            SHIFT_BUDGET => measure_move(tx, brand, &row).await?,
            RESTOCK => measure_restock(tx, brand, &row, today).await?,
            _ => None,
        };
        if let Some((succeeded, summary, figures)) = outcome {
            store::set_outcome(
                tx,
                row.recommendation_id,
                succeeded,
                &summary,
                &encode(&figures),
            )
            .await?;
            measured += 1;
        }
    }
    Ok(measured)
}

/// The first brand day an accepted recommendation can be measured on.
pub fn measure_date(row: &RecommendationRow) -> Option<NaiveDate> {
    match row.kind.as_str() {
        SHIFT_BUDGET => Some(rules::outcome_windows(row.decide_day?).1.1 + Days::new(1)),
        RESTOCK => Some(row.stockout_date?.max(row.decide_day?) + Days::new(1)),
        _ => None,
    }
}

type Outcome = Option<(bool, String, Vec<Figure>)>;

async fn measure_move(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    row: &RecommendationRow,
) -> Result<Outcome, EngineError> {
    let (Some(day), Some(fp), Some(fc), Some(tp), Some(tc)) = (
        row.decide_day,
        row.from_platform.clone(),
        row.from_campaign_id.clone(),
        row.to_platform.clone(),
        row.to_campaign_id.clone(),
    ) else {
        return Ok(None);
    };
    let (before, after) = rules::outcome_windows(day);
    let from = CampaignKey {
        platform: fp,
        campaign_id: fc,
    };
    let to = CampaignKey {
        platform: tp,
        campaign_id: tc,
    };
    let mut figures = Vec::new();
    // (spend, value) per (campaign, period), in the order from-before, from-after,
    // to-before, to-after.
    let mut sums = Vec::new();
    for key in [&from, &to] {
        for period in [before, after] {
            let rows = stores::rollups::ad_spend(
                tx,
                brand.brand_id,
                period.0,
                period.1,
                Some(&key.platform),
                Some(&key.campaign_id),
                None,
            )
            .await?;
            let spend: i64 = rows.iter().map(|r| r.spend_micros).sum();
            let value: i64 = rows.iter().map(|r| r.conversion_value_micros).sum();
            figures.extend(campaign_figures(brand, key, period, spend, value));
            sums.push((spend, value));
        }
    }
    let roas = |(spend, value): (i64, i64)| {
        engine::value(
            Metric::PlatformRoas,
            &Totals {
                spend,
                platform_revenue: value,
                ..Totals::default()
            },
            7,
        )
        .as_f64()
    };
    let add = |a: (i64, i64), b: (i64, i64)| (a.0 + b.0, a.1 + b.1);
    let together_before = roas(add(sums[0], sums[2]));
    let together_after = roas(add(sums[1], sums[3]));
    let summary = format!(
        "Platform ROAS in the 7 days after the move vs the 7 before: {} {:.2}× → {:.2}×, \
         {} {:.2}× → {:.2}×; together {:.2}× → {:.2}×.",
        from.campaign_id,
        roas(sums[0]),
        roas(sums[1]),
        to.campaign_id,
        roas(sums[2]),
        roas(sums[3]),
        together_before,
        together_after,
    );
    Ok(Some((together_after >= together_before, summary, figures)))
}

async fn measure_restock(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    row: &RecommendationRow,
    today: NaiveDate,
) -> Result<Outcome, EngineError> {
    let (Some(variant_id), Some(stockout)) = (row.variant_id.as_deref(), row.stockout_date) else {
        return Ok(None);
    };
    let on_hand: i64 = stores::commerce::on_hand(tx, brand.brand_id, Some(variant_id), None)
        .await?
        .into_iter()
        .map(|row| row.units)
        .sum();
    let query = engine::Query {
        metric: Metric::DaysOfCover,
        start: today - Days::new(u64::from(FORECAST_WINDOW_DAYS)),
        end: today - Days::new(1),
        filters: vec![Filter {
            dimension: engine::Dimension::VariantId,
            value: variant_id.to_owned(),
        }],
        breakdown: None,
    };
    let figures = engine::compute(tx, brand, &query).await?;
    let summary = if on_hand > 0 {
        format!(
            "Stock-out avoided: {on_hand} units on hand after {stockout}, the projected stock-out date."
        )
    } else {
        format!("Not avoided: out of stock after {stockout}, the projected stock-out date.")
    };
    Ok(Some((on_hand > 0, summary, figures)))
}

/// The stored figures, decoded (a row that cannot be decoded is skipped).
pub fn decode(figures: &[Vec<u8>]) -> Vec<pb::Figure> {
    figures
        .iter()
        .filter_map(|bytes| pb::Figure::decode(bytes.as_slice()).ok())
        .collect()
}
