//! Runs a [`Plan`] on the metric engine and writes the answer from the figures: every
//! number in the text is a figure's display value (or the change between two figures
//! of the same metric).

use std::collections::HashMap;

use chrono::{Datelike, Days, Months};
use pp_db::TenantTx;
use pp_metrics::Metric;
use tokio::sync::mpsc;

use super::parse::{Context, platform_name};
use super::period::{Grain, Period};
use super::plan::{Ask, Breakdown, Key, Plan};
use crate::api::display;
use crate::engine::{self, Dimension, EngineError, Figure, Query, Value};
use crate::store::BrandInfo;

/// A step of producing an answer, for StreamAnswer.
#[derive(Debug, Clone)]
pub enum Step {
    /// A metric-engine call about to be made.
    Progress { description: String, metric: String },
    /// A figure the answer states, as soon as it is computed.
    Figure(Figure),
    /// The next piece of the answer's text, as the model writes it.
    TextDelta(String),
}

/// What the planner answers.
#[derive(Debug, Clone)]
pub struct Answered {
    pub text: String,
    /// The period's figures, then the comparison period's.
    pub figures: Vec<Figure>,
    /// Where the comparison period's figures start in `figures` (its length when none).
    pub comparison_at: usize,
    pub metrics: Vec<Metric>,
}

/// Sends `step` when someone listens; a closed channel is not an error here (the RPC
/// notices the disconnect and drops the work).
async fn emit(steps: Option<&mpsc::Sender<Step>>, step: Step) {
    if let Some(steps) = steps {
        let _ = steps.send(step).await;
    }
}

/// Computes the plan's figures and writes the answer.
pub async fn run(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    plan: &Plan,
    ctx: &Context,
    steps: Option<&mpsc::Sender<Step>>,
) -> Result<Answered, EngineError> {
    let metrics = plan.metrics();
    let names = Labels::new(ctx);
    let (figures, text, comparison_at) = match plan.ask {
        Ask::StockOut { horizon_days } => {
            let (figures, text) = stock_out(tx, brand, plan, horizon_days, &names, steps).await?;
            let at = figures.len();
            (figures, text, at)
        }
        Ask::Stock => {
            let (figures, text) = stock(tx, brand, plan, &metrics, &names, steps).await?;
            let at = figures.len();
            (figures, text, at)
        }
        Ask::Metrics => over_periods(tx, brand, plan, &metrics, &names, steps).await?,
    };
    for figure in &figures {
        emit(steps, Step::Figure(figure.clone())).await;
    }
    Ok(Answered {
        text,
        figures,
        comparison_at,
        metrics,
    })
}

fn query(plan: &Plan, period: Period, breakdown: Option<Dimension>) -> Query {
    Query {
        metric: Metric::NetRevenue,
        start: period.start,
        end: period.end,
        filters: plan.engine_filters(),
        breakdown,
    }
}

async fn progress(steps: Option<&mpsc::Sender<Step>>, metrics: &[Metric], period: Period) {
    for metric in metrics {
        emit(
            steps,
            Step::Progress {
                description: format!(
                    "Computing {} for {}",
                    metric.definition().display_name.to_lowercase(),
                    period.label()
                ),
                metric: metric.id().to_owned(),
            },
        )
        .await;
    }
}

/// Figures of every metric over the period (and the comparison period), split as the
/// plan says.
async fn over_periods(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    plan: &Plan,
    metrics: &[Metric],
    names: &Labels<'_>,
    steps: Option<&mpsc::Sender<Step>>,
) -> Result<(Vec<Figure>, String, usize), EngineError> {
    let mut current = compute(tx, brand, plan, metrics, plan.period, steps).await?;
    let mut keys: Option<Vec<String>> = None;
    if let (Some(rank), Some(Breakdown::Key(key))) = (plan.rank, plan.breakdown) {
        let dimension = key.dimension();
        let first = metrics.first().copied().unwrap_or(Metric::NetRevenue);
        let mut ranked: Vec<(String, f64)> = current
            .iter()
            .filter(|f| f.metric == first)
            .filter(|f| !matches!(f.value, Value::Unset))
            .filter_map(|f| Some((key_of(f, dimension)?.to_owned(), f.value.as_f64())))
            .collect();
        if matches!(first.unit(), pp_metrics::Unit::Ratio) {
            // A ratio ranks only keys that spent.
            let spend = compute(tx, brand, plan, &[Metric::AdSpend], plan.period, None).await?;
            let spent: Vec<&str> = spend
                .iter()
                .filter(|f| f.value.micros().unwrap_or(0) > 0)
                .filter_map(|f| key_of(f, dimension))
                .collect();
            ranked.retain(|(k, _)| spent.contains(&k.as_str()));
        }
        ranked.sort_by(|a, b| {
            let order = a.1.total_cmp(&b.1);
            let order = if rank.highest { order.reverse() } else { order };
            order.then_with(|| a.0.cmp(&b.0))
        });
        ranked.truncate(rank.n as usize);
        let chosen: Vec<String> = ranked.into_iter().map(|(k, _)| k).collect();
        current.retain(|f| key_of(f, dimension).is_some_and(|k| chosen.iter().any(|c| c == k)));
        sort_by_keys(&mut current, dimension, &chosen);
        keys = Some(chosen);
    }
    let mut previous = Vec::new();
    if let Some(comparison) = plan.comparison {
        previous = compute(tx, brand, plan, metrics, comparison, steps).await?;
        if let (Some(keys), Some(Breakdown::Key(key))) = (&keys, plan.breakdown) {
            previous.retain(|f| {
                key_of(f, key.dimension()).is_some_and(|k| keys.iter().any(|c| c == k))
            });
        }
    }
    let text = write_metrics(plan, metrics, &current, &previous, names);
    let at = current.len();
    current.extend(previous);
    Ok((current, text, at))
}

/// The figures of `metrics` over `period`, one per breakdown key or sub-period.
async fn compute(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    plan: &Plan,
    metrics: &[Metric],
    period: Period,
    steps: Option<&mpsc::Sender<Step>>,
) -> Result<Vec<Figure>, EngineError> {
    progress(steps, metrics, period).await;
    let lists = match plan.breakdown {
        None | Some(Breakdown::NewVsReturning) => {
            engine::compute_many(tx, brand, metrics, &query(plan, period, None)).await?
        }
        Some(Breakdown::Key(key)) => {
            engine::compute_many(
                tx,
                brand,
                metrics,
                &query(plan, period, Some(key.dimension())),
            )
            .await?
        }
        Some(Breakdown::Day) => {
            engine::compute_many(
                tx,
                brand,
                metrics,
                &query(plan, period, Some(Dimension::Day)),
            )
            .await?
        }
        Some(grain @ (Breakdown::Week | Breakdown::Month)) => {
            let mut lists: Vec<Vec<Figure>> = vec![Vec::new(); metrics.len()];
            for part in split(period, grain == Breakdown::Week) {
                let one =
                    engine::compute_many(tx, brand, metrics, &query(plan, part, None)).await?;
                for (list, mut figures) in lists.iter_mut().zip(one) {
                    list.append(&mut figures);
                }
            }
            lists
        }
    };
    // Figures metric by metric, each in key (or date) order.
    Ok(lists.into_iter().flatten().collect())
}

/// Monday–Sunday weeks or calendar months of `period`, cut to it.
pub fn split(period: Period, weeks: bool) -> Vec<Period> {
    let mut parts = Vec::new();
    let mut start = period.start;
    while start <= period.end {
        let unit_end = if weeks {
            start + Days::new(u64::from(6 - start.weekday().num_days_from_monday()))
        } else {
            start
                .with_day(1)
                .map_or(start, |first| first + Months::new(1) - Days::new(1))
        };
        let end = unit_end.min(period.end);
        parts.push(Period::new(
            start,
            end,
            if weeks { Grain::Week } else { Grain::Month },
        ));
        start = end + Days::new(1);
    }
    parts
}

fn key_of(figure: &Figure, dimension: Dimension) -> Option<&str> {
    figure
        .filters
        .iter()
        .rev()
        .find(|f| f.dimension == dimension)
        .map(|f| f.value.as_str())
}

fn sort_by_keys(figures: &mut [Figure], dimension: Dimension, keys: &[String]) {
    figures.sort_by_key(|f| {
        (
            f.metric,
            key_of(f, dimension)
                .and_then(|k| keys.iter().position(|c| c == k))
                .unwrap_or(usize::MAX),
        )
    });
}

async fn stock_out(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    plan: &Plan,
    horizon_days: u32,
    names: &Labels<'_>,
    steps: Option<&mpsc::Sender<Step>>,
) -> Result<(Vec<Figure>, String), EngineError> {
    progress(steps, &[Metric::DaysOfCover], plan.period).await;
    let mut figures = engine::compute_many(
        tx,
        brand,
        &[Metric::DaysOfCover],
        &query(plan, plan.period, Some(Dimension::VariantId)),
    )
    .await?
    .into_iter()
    .flatten()
    .filter(|f| matches!(f.value, Value::Number(days) if days < f64::from(horizon_days)))
    .collect::<Vec<_>>();
    figures.sort_by(|a, b| {
        a.value
            .as_f64()
            .total_cmp(&b.value.as_f64())
            .then_with(|| a.filters.cmp(&b.filters))
    });
    let window = plan.period.label();
    let text = if figures.is_empty() {
        format!("No SKU is expected to run out within {horizon_days} days at the pace of {window}.")
    } else {
        let mut text = format!(
            "{} may run out within {horizon_days} days at the pace of {window} (days of cover = units on hand now ÷ units sold per day):\n",
            plural(figures.len(), "SKU", "SKUs"),
        );
        for figure in &figures {
            let variant = key_of(figure, Dimension::VariantId).unwrap_or_default();
            text.push_str(&format!(
                "- {}: {} of cover\n",
                names.variant(variant),
                shown(figure, &brand.currency_code)
            ));
        }
        text.trim_end().to_owned()
    };
    Ok((figures, text))
}

async fn stock(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    plan: &Plan,
    metrics: &[Metric],
    names: &Labels<'_>,
    steps: Option<&mpsc::Sender<Step>>,
) -> Result<(Vec<Figure>, String), EngineError> {
    progress(steps, metrics, plan.period).await;
    let breakdown = match plan.breakdown {
        Some(Breakdown::Key(key)) => Some(key.dimension()),
        _ => None,
    };
    let figures: Vec<Figure> =
        engine::compute_many(tx, brand, metrics, &query(plan, plan.period, breakdown))
            .await?
            .into_iter()
            .flatten()
            .collect();
    let subject = names.subject(plan);
    let subject = if subject.is_empty() {
        "All products".to_owned()
    } else {
        capitalise(subject.trim_start_matches(" for "))
    };
    let mut text = String::new();
    if breakdown.is_some() {
        text.push_str(&format!(
            "Units on hand now by {}:\n",
            match plan.breakdown {
                Some(Breakdown::Key(Key::Product)) => "product",
                _ => "SKU",
            }
        ));
        for figure in figures.iter().filter(|f| f.metric == Metric::OnHand) {
            let label = match breakdown {
                Some(Dimension::ProductId) => {
                    names.product(key_of(figure, Dimension::ProductId).unwrap_or_default())
                }
                _ => names.variant(key_of(figure, Dimension::VariantId).unwrap_or_default()),
            };
            text.push_str(&format!(
                "- {label}: {}\n",
                shown(figure, &brand.currency_code)
            ));
        }
        return Ok((figures, text.trim_end().to_owned()));
    }
    let get = |metric: Metric| figures.iter().find(|f| f.metric == metric);
    if let Some(on_hand) = get(Metric::OnHand) {
        text.push_str(&format!(
            "{subject}: {} units on hand now",
            shown(on_hand, &brand.currency_code)
        ));
    }
    if let Some(velocity) = get(Metric::DailyVelocity) {
        text.push_str(&format!(
            ", selling {} a day over {}",
            shown(velocity, &brand.currency_code),
            plan.period.label()
        ));
    }
    if let Some(cover) = get(Metric::DaysOfCover) {
        match cover.value {
            Value::Unset => {
                text.push_str(": none sold in that time, so days of cover has no value")
            }
            _ => text.push_str(&format!(
                ": {} of cover",
                shown(cover, &brand.currency_code)
            )),
        }
    }
    text.push('.');
    Ok((figures, text))
}

/// A figure's display value.
fn shown(figure: &Figure, currency: &str) -> String {
    display(figure.value, figure.metric.unit(), currency)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "up 12.3% from $1,000.00", "down from …", "the same as …".
fn change(current: &Figure, previous: &Figure, currency: &str) -> String {
    let (now, before) = (current.value.as_f64(), previous.value.as_f64());
    let was = shown(previous, currency);
    if matches!(current.value, Value::Unset) || matches!(previous.value, Value::Unset) {
        return format!("against {was}");
    }
    if (now - before).abs() < 1e-12 {
        return format!("the same as {was}");
    }
    let direction = if now > before { "up" } else { "down" };
    if before == 0.0 {
        format!("{direction} from {was}")
    } else {
        let ratio = (now - before).abs() / before.abs() * 100.0;
        format!("{direction} {ratio:.1}% from {was}")
    }
}

fn write_metrics(
    plan: &Plan,
    metrics: &[Metric],
    current: &[Figure],
    previous: &[Figure],
    names: &Labels<'_>,
) -> String {
    let currency = current
        .first()
        .map(|f| f.currency_code.clone())
        .unwrap_or_default();
    let subject = names.subject(plan);
    let period = plan.period.label();
    let comparison = plan.comparison.map(|p| p.label());
    let mut text = String::new();
    match plan.breakdown {
        None | Some(Breakdown::NewVsReturning) => {
            for metric in metrics {
                let Some(now) = current.iter().find(|f| f.metric == *metric) else {
                    continue;
                };
                text.push_str(&format!(
                    "{}{subject} for {period} was {}",
                    metric.definition().display_name,
                    shown(now, &currency)
                ));
                if let (Some(before), Some(label)) = (
                    previous.iter().find(|f| f.metric == *metric),
                    comparison.as_deref(),
                ) {
                    text.push_str(&format!(", {} for {label}", change(now, before, &currency)));
                }
                text.push_str(".\n");
            }
        }
        Some(breakdown) => {
            let dimension = match breakdown {
                Breakdown::Key(key) => Some(key.dimension()),
                _ => None,
            };
            for metric in metrics {
                let heading = match (plan.rank, breakdown) {
                    (Some(rank), Breakdown::Key(key)) => format!(
                        "{} {} {} by {}{subject} for {period}",
                        if rank.highest { "Top" } else { "Bottom" },
                        rank.n,
                        key.plural(),
                        metric.definition().display_name.to_lowercase()
                    ),
                    (_, Breakdown::Key(key)) => format!(
                        "{}{subject} by {} for {period}",
                        metric.definition().display_name,
                        key.plural().trim_end_matches('s')
                    ),
                    (_, Breakdown::Day) => format!(
                        "{}{subject} by day, {period}",
                        metric.definition().display_name
                    ),
                    (_, Breakdown::Week) => format!(
                        "{}{subject} by week, {period}",
                        metric.definition().display_name
                    ),
                    (_, _) => format!(
                        "{}{subject} by month, {period}",
                        metric.definition().display_name
                    ),
                };
                text.push_str(&heading);
                text.push_str(":\n");
                let rows: Vec<&Figure> = current.iter().filter(|f| f.metric == *metric).collect();
                if rows.is_empty() {
                    text.push_str("- no data in that period\n");
                }
                for (i, figure) in rows.iter().enumerate() {
                    let label = match dimension {
                        Some(d) => names.key(d, key_of(figure, d).unwrap_or_default()),
                        None => Period::new(figure.start, figure.end, Grain::Span).label(),
                    };
                    let bullet = if plan.rank.is_some() {
                        format!("{}.", i + 1)
                    } else {
                        "-".to_owned()
                    };
                    text.push_str(&format!("{bullet} {label}: {}", shown(figure, &currency)));
                    if let (Some(d), Some(label)) = (dimension, comparison.as_deref())
                        && let Some(before) = previous
                            .iter()
                            .find(|f| f.metric == *metric && key_of(f, d) == key_of(figure, d))
                    {
                        text.push_str(&format!(
                            " ({} for {label})",
                            change(figure, before, &currency)
                        ));
                    }
                    text.push('\n');
                }
                if dimension.is_none()
                    && let Some(label) = comparison.as_deref()
                {
                    text.push_str(&format!("Compared with {label}:\n"));
                    for figure in previous.iter().filter(|f| f.metric == *metric) {
                        text.push_str(&format!(
                            "- {}: {}\n",
                            Period::new(figure.start, figure.end, Grain::Span).label(),
                            shown(figure, &currency)
                        ));
                    }
                }
            }
        }
    }
    text.trim_end().to_owned()
}

/// The brand's names for the keys of figures.
struct Labels<'a> {
    campaigns: HashMap<&'a str, &'a str>,
    products: HashMap<&'a str, &'a str>,
    variants: HashMap<&'a str, (&'a str, &'a str)>,
}

impl<'a> Labels<'a> {
    fn new(ctx: &'a Context) -> Self {
        Labels {
            campaigns: ctx
                .campaigns
                .iter()
                .map(|c| (c.campaign_id.as_str(), c.name.as_str()))
                .collect(),
            products: ctx
                .products
                .iter()
                .map(|p| (p.product_id.as_str(), p.title.as_str()))
                .collect(),
            variants: ctx
                .variants
                .iter()
                .map(|v| (v.variant_id.as_str(), (v.title.as_str(), v.sku.as_str())))
                .collect(),
        }
    }

    fn key(&self, dimension: Dimension, key: &str) -> String {
        match dimension {
            Dimension::Platform => platform_name(key).to_owned(),
            Dimension::CampaignId => self.campaign(key),
            Dimension::ProductId => self.product(key),
            Dimension::VariantId => self.variant(key),
            Dimension::SalesChannel | Dimension::Day => key.to_owned(),
        }
    }

    fn campaign(&self, id: &str) -> String {
        self.campaigns
            .get(id)
            .map_or_else(|| format!("campaign {id}"), |name| format!("\"{name}\""))
    }

    fn product(&self, id: &str) -> String {
        self.products
            .get(id)
            .map_or_else(|| format!("product {id}"), |title| (*title).to_owned())
    }

    fn variant(&self, id: &str) -> String {
        match self.variants.get(id) {
            Some((title, sku)) if !sku.is_empty() => format!("{title} ({sku})"),
            Some((title, _)) => (*title).to_owned(),
            None => format!("variant {id}"),
        }
    }

    /// " on Meta Ads", " for campaign \"…\"", " for Merino Tee", " in the web channel".
    fn subject(&self, plan: &Plan) -> String {
        let mut out = String::new();
        if let Some(campaign) = plan.filter(Dimension::CampaignId) {
            out.push_str(&format!(" for campaign {}", self.campaign(campaign)));
        } else if let Some(platform) = plan.filter(Dimension::Platform) {
            out.push_str(&format!(" on {}", platform_name(platform)));
        }
        if let Some(variant) = plan.filter(Dimension::VariantId) {
            out.push_str(&format!(" for {}", self.variant(variant)));
        } else if let Some(product) = plan.filter(Dimension::ProductId) {
            out.push_str(&format!(" for {}", self.product(product)));
        }
        if let Some(channel) = plan.filter(Dimension::SalesChannel) {
            out.push_str(&format!(" in the {channel} sales channel"));
        }
        out
    }
}

/// The text of a metrics plan's answer from its figures (the current period's, then
/// the comparison's): what `run` writes, without the engine (for the benchmark of the
/// planner's own time).
pub fn write(plan: &Plan, ctx: &Context, current: &[Figure], previous: &[Figure]) -> String {
    write_metrics(plan, &plan.metrics(), current, previous, &Labels::new(ctx))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).expect("date")
    }

    #[test]
    fn splits_into_weeks_and_months() {
        let weeks = split(Period::new(d(11, 4), d(11, 18), Grain::Span), true);
        let bounds: Vec<(NaiveDate, NaiveDate)> = weeks.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(
            bounds,
            vec![
                (d(11, 4), d(11, 8)),
                (d(11, 9), d(11, 15)),
                (d(11, 16), d(11, 18))
            ]
        );
        let months = split(Period::new(d(9, 15), d(11, 18), Grain::Span), false);
        let bounds: Vec<(NaiveDate, NaiveDate)> = months.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(
            bounds,
            vec![
                (d(9, 15), d(9, 30)),
                (d(10, 1), d(10, 31)),
                (d(11, 1), d(11, 18))
            ]
        );
    }
}
