//! The checks an evaluation runs, each reading through the metric engine (and the
//! forecast) and yielding one [`Outcome`] per condition it could judge.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use pp_db::TenantTx;
use pp_metrics::{Metric, Unit};
use prost::Message;

use super::Outcome;
use super::anomaly::{self, Anomaly, Detection, Direction};
use super::rules::{self, Condition, Severity};
use crate::api::{display, figure};
use crate::engine::{self, Dimension, EngineError, Figure, Filter, Query, Value};
use crate::forecast::{self, Risk};
use crate::store::BrandInfo;
use crate::store::alerts::{self as store, NewAlert, RuleRow};

/// The metrics watched for anomalies.
pub const ANOMALY_METRICS: [Metric; 4] = [
    Metric::NetRevenue,
    Metric::Orders,
    Metric::AdSpend,
    Metric::BlendedRoas,
];
/// The forecast the stock-out check uses (GetInventoryForecast's defaults).
const STOCKOUT_HORIZON_DAYS: u32 = 30;
const STOCKOUT_WINDOW_DAYS: u32 = 28;

/// Engine figures, or `None` (logged) for a query the engine refuses: a rule stored
/// before the catalogue changed should not stop the other checks.
fn engine_result<T>(result: Result<T, EngineError>, what: &str) -> pp_db::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(EngineError::Db(err)) => Err(err),
        Err(EngineError::Query(err)) => {
            tracing::warn!(
                ?err,
                what,
                "alert check skipped: the engine refused its query"
            );
            Ok(None)
        }
    }
}

/// A figure as stored on an alert (the wire `Figure`, encoded).
fn encoded(value: &Figure) -> Vec<u8> {
    figure(value).encode_to_vec()
}

/// The weekday's English name ("Saturday").
fn weekday_name(day: NaiveDate) -> &'static str {
    match day.weekday() {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// A value for people, in the metric's unit and the brand's currency.
fn shown(metric: Metric, value: f64, currency: &str) -> String {
    let value = match metric.unit() {
        Unit::Currency => Value::Money((value * 1_000_000.0).round() as i64),
        Unit::Count if value.fract() == 0.0 => Value::Count(value as i64),
        _ => Value::Number(value),
    };
    display(value, metric.unit(), currency)
}

/// One outcome per enabled rule of the brand.
pub async fn threshold_rules(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
) -> pp_db::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for rule in store::enabled_rules(tx, brand.brand_id).await? {
        if let Some(outcome) = threshold_rule(tx, brand, today, &rule).await? {
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

/// The outcome of one rule; `None` when it cannot be judged (a stored rule the
/// catalogue no longer knows).
async fn threshold_rule(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
    rule: &RuleRow,
) -> pp_db::Result<Option<Outcome>> {
    let (Some(metric), Some(condition)) = (
        Metric::from_id(&rule.metric),
        Condition::parse(&rule.condition),
    ) else {
        return Ok(None);
    };
    let filters: Option<Vec<Filter>> = rule
        .filters
        .0
        .iter()
        .map(|f| {
            Some(Filter {
                dimension: Dimension::from_name(&f.dimension)?,
                value: f.value.clone(),
            })
        })
        .collect();
    let Some(filters) = filters else {
        return Ok(None);
    };
    let days = rules::window_days(rule.window_seconds);
    let ((start, end), (previous_start, previous_end)) = rules::windows(today, days);
    let query = |start, end| Query {
        metric,
        start,
        end,
        filters: filters.clone(),
        breakdown: None,
    };
    let Some(current) = engine_result(
        engine::compute(tx, brand, &query(start, end)).await,
        "threshold rule",
    )?
    .and_then(|figures| figures.into_iter().next()) else {
        return Ok(None);
    };
    if current.value == Value::Unset {
        return Ok(None);
    }
    let previous = if condition.is_change() {
        engine_result(
            engine::compute(tx, brand, &query(previous_start, previous_end)).await,
            "threshold rule",
        )?
        .and_then(|figures| figures.into_iter().next())
        .filter(|f| f.value != Value::Unset)
        .map(|f| f.value.as_f64())
    } else {
        None
    };
    let now = current.value.as_f64();
    let key = super::rule_key(rule.alert_rule_id);
    if !rules::fires(condition, rule.threshold, now, previous) {
        return Ok(Some(Outcome::Clear(key)));
    }
    let currency = &brand.currency_code;
    let name = metric.definition().display_name;
    let span = if days == 1 {
        format!("on {end}")
    } else {
        format!("over the {days} days to {end}")
    };
    let detail = match (condition, previous) {
        (Condition::Above, _) => format!("above {}", shown(metric, rule.threshold, currency)),
        (Condition::Below, _) => format!("below {}", shown(metric, rule.threshold, currency)),
        (_, Some(before)) => format!(
            "{} {:.1} % from {} in the {days} days before (threshold {:.1} %)",
            if condition == Condition::ChangeUp {
                "up"
            } else {
                "down"
            },
            rules::change(now, before).unwrap_or_default().abs() * 100.0,
            shown(metric, before, currency),
            rule.threshold * 100.0
        ),
        (_, None) => String::new(),
    };
    Ok(Some(Outcome::Firing(NewAlert {
        brand_id: brand.brand_id,
        alert_rule_id: Some(rule.alert_rule_id),
        kind: "threshold",
        condition_key: key,
        day: today,
        severity: Severity::parse(&rule.severity)
            .unwrap_or(Severity::Warning)
            .as_str(),
        title: rule.display_name.clone(),
        message: format!("{name} {span}: {}, {detail}.", shown(metric, now, currency)),
        observed: Some(encoded(&current)),
        threshold: rule.threshold,
    })))
}

/// One outcome per anomaly metric that can be judged for the last complete day.
pub async fn anomalies(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
) -> pp_db::Result<Vec<Outcome>> {
    let day = today - Days::new(1);
    // Just after midnight the rollups may not hold the whole of yesterday yet: a
    // half-counted day would look like a collapse.
    if !store::rolled_up_past(tx, brand, day).await? {
        return Ok(Vec::new());
    }
    let (first_sales, first_ads) = store::first_data_days(tx, brand.brand_id).await?;
    let first = day - Days::new(7 * anomaly::BASELINE_WEEKS);
    let query = Query {
        metric: Metric::NetRevenue,
        start: first,
        end: day,
        filters: Vec::new(),
        breakdown: Some(Dimension::Day),
    };
    let Some(series) = engine_result(
        engine::compute_many(tx, brand, &ANOMALY_METRICS, &query).await,
        "anomalies",
    )?
    else {
        return Ok(Vec::new());
    };
    // Daily figures by day, per metric; spend tells which days have a ROAS.
    let by_day = |index: usize| -> HashMap<NaiveDate, &Figure> {
        series
            .get(index)
            .map(|figures| figures.iter().map(|f| (f.start, f)).collect())
            .unwrap_or_default()
    };
    let spend = by_day(2);
    let spent = |d: NaiveDate| spend.get(&d).is_some_and(|f| f.value.as_f64() > 0.0);
    let mut outcomes = Vec::new();
    for (index, metric) in ANOMALY_METRICS.iter().enumerate() {
        // The first day a metric's figures mean anything: before it, zeros are "no data".
        let since = match metric {
            Metric::NetRevenue | Metric::Orders => first_sales,
            Metric::AdSpend => first_ads,
            _ => match (first_sales, first_ads) {
                (Some(sales), Some(ads)) => Some(sales.max(ads)),
                _ => None,
            },
        };
        let Some(since) = since else { continue };
        let usable = |d: NaiveDate| d >= since && (*metric != Metric::BlendedRoas || spent(d));
        let figures = by_day(index);
        let Some(observed) = figures.get(&day).filter(|_| usable(day)) else {
            continue;
        };
        let baseline: Vec<f64> = (1..=anomaly::BASELINE_WEEKS)
            .map(|week| day - Days::new(7 * week))
            .filter(|d| usable(*d))
            .filter_map(|d| figures.get(&d).map(|f| f.value.as_f64()))
            .collect();
        let key = format!("anomaly:{}", metric.id());
        match anomaly::detect(observed.value.as_f64(), &baseline) {
            Detection::NotJudged => {}
            Detection::Normal { .. } => outcomes.push(Outcome::Clear(key)),
            Detection::Anomalous(found) => outcomes.push(Outcome::Firing(anomaly_alert(
                brand,
                today,
                (*metric, observed),
                key,
                &found,
                baseline.len(),
            ))),
        }
    }
    Ok(outcomes)
}

/// The alert of an anomalous day: `observed` is the metric's figure of that day,
/// compared with `weeks` baseline weeks.
fn anomaly_alert(
    brand: &BrandInfo,
    today: NaiveDate,
    (metric, observed): (Metric, &Figure),
    key: String,
    found: &Anomaly,
    weeks: usize,
) -> NewAlert {
    let Anomaly {
        median,
        sigma,
        score,
        direction,
    } = *found;
    let currency = &brand.currency_code;
    let name = metric.definition().display_name;
    let (word, edge) = match direction {
        Direction::High => ("high", median + anomaly::K * sigma),
        Direction::Low => ("low", median - anomaly::K * sigma),
    };
    let day = observed.start;
    NewAlert {
        brand_id: brand.brand_id,
        alert_rule_id: None,
        kind: "anomaly",
        condition_key: key,
        day: today,
        severity: Severity::Warning.as_str(),
        title: format!("{name} unusually {word} on {day}"),
        message: format!(
            "{name} on {day} ({weekday}) was {value}, against a median of {median} on the \
             previous {weeks} {weekday}s ({score:+.1} robust standard deviations; the usual \
             range ends at {edge}).",
            weekday = weekday_name(day),
            value = shown(metric, observed.value.as_f64(), currency),
            median = shown(metric, median, currency),
            edge = shown(metric, edge, currency),
        ),
        observed: Some(encoded(observed)),
        threshold: edge,
    }
}

/// One outcome per variant: firing when the forecast rates it HIGH, clear otherwise.
pub async fn stockout_risk(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
) -> pp_db::Result<Vec<Outcome>> {
    let window = (
        today - Days::new(u64::from(STOCKOUT_WINDOW_DAYS)),
        today - Days::new(1),
    );
    let Some(forecasts) = engine_result(
        forecast::for_brand(
            tx,
            brand,
            today,
            STOCKOUT_WINDOW_DAYS,
            STOCKOUT_HORIZON_DAYS,
            None,
        )
        .await,
        "stock-out risk",
    )?
    else {
        return Ok(Vec::new());
    };
    let mut outcomes = Vec::new();
    for f in forecasts {
        let variant = &f.variant;
        let key = format!("stockout:{}", variant.variant_id);
        let units = f.on_hand_units;
        let days_of_cover = f.days_of_cover;
        let daily_velocity = f.daily_velocity;
        let result = &f.forecast;
        let cover_figure = Figure {
            metric: Metric::DaysOfCover,
            value: days_of_cover.map_or(Value::Unset, Value::Number),
            start: window.0,
            end: window.1,
            filters: vec![engine::Filter {
                dimension: Dimension::VariantId,
                value: variant.variant_id.clone(),
            }],
            currency_code: brand.currency_code.clone(),
        };
        // A variant that never sold and has none left is not a stock-out risk worth
        // waking anyone for: nothing is being lost.
        if result.risk != Risk::High || daily_velocity == 0.0 {
            outcomes.push(Outcome::Clear(key));
            continue;
        }
        let label = if variant.sku.is_empty() {
            variant.title.clone()
        } else {
            format!("{} ({})", variant.title, variant.sku)
        };
        let (severity, title, message) = if units <= 0 {
            (
                Severity::Critical,
                format!("{label} is out of stock"),
                format!(
                    "{label} has no stock left and sold {daily_velocity:.1} a day over the \
                     last {STOCKOUT_WINDOW_DAYS} days; reorder {} units.",
                    result.reorder_units
                ),
            )
        } else {
            (
                Severity::Warning,
                format!("{label} will run out within its lead time"),
                format!(
                    "{label}: {units} on hand cover {:.1} days at {daily_velocity:.1} a day, \
                     within the {}-day lead time; reorder {} units by {}.",
                    days_of_cover.unwrap_or_default(),
                    result.lead_time_days,
                    result.reorder_units,
                    result.reorder_date.unwrap_or(today)
                ),
            )
        };
        outcomes.push(Outcome::Firing(NewAlert {
            brand_id: brand.brand_id,
            alert_rule_id: None,
            kind: "stockout_risk",
            condition_key: key,
            day: today,
            severity: severity.as_str(),
            title,
            message,
            observed: Some(encoded(&cover_figure)),
            threshold: f64::from(result.lead_time_days),
        }));
    }
    Ok(outcomes)
}
