//! The tools the model may call: the metric engine and the brand's catalogue.
//!
//! [`ToolBox`] is what the tool-use loop needs (the tools' JSON schemas and a way to
//! run one); [`EngineTools`] is the real one, reading the brand's data as the caller
//! (each call opens its own `TenantTx` with the caller's principal). A tool's bad
//! input is not a failure of the answer: its text goes back to the model as an
//! `is_error` tool result, and the model may correct itself.

use chrono::{Days, NaiveDate};
use futures::future::BoxFuture;
use pp_auth::Principal;
use pp_db::{PgPool, TenantTx};
use pp_metrics::{Metric, Unit};
use serde_json::{Value, json};

use crate::engine::{self, Dimension, EngineError, Figure, Filter, Query, QueryError};
use crate::forecast;
use crate::store::{self, BrandInfo};

/// One tool as the Messages API declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
}

impl ToolSpec {
    /// The `tools[]` entry of a Messages API request.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        })
    }
}

/// What a tool returned: the content sent back to the model, the figures it computed,
/// and what else the answer's text may repeat from it (see `grounding`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    pub content: Value,
    pub figures: Vec<Figure>,
    /// Numbers the content states that are not figures (units on hand, reorder
    /// quantities, a forecast's horizon and window).
    pub numbers: Vec<f64>,
    /// Dates the content states (stock-out and reorder dates).
    pub dates: Vec<NaiveDate>,
    /// Names the content states (campaigns, products, SKUs); digits in them are not
    /// stated numbers.
    pub names: Vec<String>,
}

/// The tools of one answer.
pub trait ToolBox: Send + Sync {
    /// Every tool, in the order the model is told of them.
    fn specs(&self) -> Vec<ToolSpec>;

    /// Runs tool `name` with the model's `input`; `Err` is the text of an `is_error`
    /// tool result (bad input, unknown tool, data that could not be read).
    fn call<'a>(
        &'a self,
        name: &'a str,
        input: &'a Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>>;

    /// What the call does, for people ("Computing net_revenue, 2026-10-01 to
    /// 2026-10-31").
    fn describe(&self, name: &str, input: &Value) -> String {
        describe(name, input)
    }
}

/// The dimension names the engine knows (filters and breakdowns).
pub const DIMENSIONS: [&str; 6] = [
    "day",
    "sales_channel",
    "platform",
    "campaign_id",
    "variant_id",
    "product_id",
];

/// The most figures one tool result carries (a breakdown is cut after them).
pub const MAX_FIGURES: usize = 100;
/// The velocity window of the forecast tool, as GetInventoryForecast's.
pub const FORECAST_WINDOW_DAYS: u32 = 28;

/// The tool specs of the engine tools (also what a test double may declare).
pub fn engine_specs() -> Vec<ToolSpec> {
    let metric_ids: Vec<&str> = Metric::ALL.iter().map(|m| m.id()).collect();
    vec![
        ToolSpec {
            name: "compute_metric",
            description: "Computes one catalogue metric for the brand over an inclusive date \
                range (brand-local dates, YYYY-MM-DD, ending no later than today), optionally \
                filtered and broken down by a dimension. Returns each figure's value, its \
                display form, period and filters. Call list_metrics for the metrics and the \
                dimensions each one has; list_campaigns / list_products for ids to filter by.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "metric": {"type": "string", "enum": metric_ids},
                    "start": {"type": "string", "format": "date", "description": "first day, YYYY-MM-DD"},
                    "end": {"type": "string", "format": "date", "description": "last day, YYYY-MM-DD"},
                    "filters": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "dimension": {"type": "string", "enum": DIMENSIONS},
                                "value": {"type": "string", "description": "platform: META_ADS, TIKTOK_ADS or GOOGLE_ADS; ids as the list tools return them"}
                            },
                            "required": ["dimension", "value"]
                        }
                    },
                    "breakdown": {"type": "string", "enum": DIMENSIONS, "description": "one figure per key of this dimension"},
                    "order": {"type": "string", "enum": ["desc", "asc"], "description": "sort a breakdown by value (rankings); default: by key"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FIGURES, "description": "at most this many figures of a breakdown (default 50)"}
                },
                "required": ["metric", "start", "end"]
            }),
        },
        ToolSpec {
            name: "list_metrics",
            description: "Lists the metric catalogue: id, name, definition, unit and the \
                dimensions each metric can be filtered or broken down by.",
            input_schema: json!({"type": "object", "properties": {}}),
        },
        ToolSpec {
            name: "list_campaigns",
            description: "Lists the brand's ad campaigns: platform, campaign_id (to filter \
                by) and name.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "search": {"type": "string", "description": "only campaigns whose name contains this (any case)"}
                }
            }),
        },
        ToolSpec {
            name: "list_products",
            description: "Lists the brand's products with their variants: product_id, title, \
                and per variant variant_id (to filter by), SKU and title.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "search": {"type": "string", "description": "only products whose title or a SKU contains this (any case)"}
                }
            }),
        },
        ToolSpec {
            name: "forecast",
            description: "Forecasts stock per variant from the daily velocity of the 28 \
                complete days before today and the units on hand now: days of cover, \
                stock-out date within the horizon, last day to reorder, units to reorder, \
                risk (low, medium, high).",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "horizon_days": {"type": "integer", "minimum": 1, "maximum": 365, "description": "default 14"},
                    "product_id": {"type": "string", "description": "only this product's variants"},
                    "at_risk_only": {"type": "boolean", "description": "only variants that run out within the horizon (default true)"}
                }
            }),
        },
    ]
}

/// "Computing net_revenue, 2026-10-01 to 2026-10-31, by platform".
pub fn describe(name: &str, input: &Value) -> String {
    let text = |key: &str| input.get(key).and_then(Value::as_str).unwrap_or("");
    match name {
        "compute_metric" => {
            let mut out = format!(
                "Computing {}, {} to {}",
                text("metric"),
                text("start"),
                text("end")
            );
            for filter in input
                .get("filters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let part = |key: &str| filter.get(key).and_then(Value::as_str).unwrap_or("");
                out.push_str(&format!(", {} = {}", part("dimension"), part("value")));
            }
            if !text("breakdown").is_empty() {
                out.push_str(&format!(", by {}", text("breakdown")));
            }
            out
        }
        "list_metrics" => "Reading the metric catalogue".to_owned(),
        "list_campaigns" => "Listing campaigns".to_owned(),
        "list_products" => "Listing products".to_owned(),
        "forecast" => format!(
            "Forecasting stock over {} days",
            input
                .get("horizon_days")
                .and_then(Value::as_u64)
                .unwrap_or(14)
        ),
        other => format!("Calling {other}"),
    }
}

/// The engine tools for one caller and brand.
#[derive(Debug, Clone)]
pub struct EngineTools {
    pub pool: PgPool,
    pub principal: Principal,
    pub brand: BrandInfo,
    /// The brand's today (no period may end after it).
    pub today: NaiveDate,
}

impl ToolBox for EngineTools {
    fn specs(&self) -> Vec<ToolSpec> {
        engine_specs()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        input: &'a Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            match name {
                "compute_metric" => self.compute_metric(input).await,
                "list_metrics" => Ok(list_metrics()),
                "list_campaigns" => self.list_campaigns(input).await,
                "list_products" => self.list_products(input).await,
                "forecast" => self.forecast(input).await,
                other => Err(format!("unknown tool {other:?}")),
            }
        })
    }
}

/// A tool input read from the model's JSON.
#[derive(Debug, Clone)]
pub struct MetricCall {
    pub query: Query,
    pub order: Option<Order>,
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Desc,
    Asc,
}

/// Reads and checks a `compute_metric` input as `engine::check` would, against
/// `today`; the error is the text sent back to the model.
pub fn metric_call(input: &Value, today: NaiveDate) -> Result<MetricCall, String> {
    let text = |key: &str| input.get(key).and_then(Value::as_str);
    let metric_id = text("metric").ok_or("metric is required")?;
    let metric = Metric::from_id(metric_id)
        .ok_or_else(|| format!("unknown metric {metric_id:?}; call list_metrics"))?;
    let date = |key: &'static str| -> Result<NaiveDate, String> {
        let value = text(key).ok_or(format!("{key} is required"))?;
        value
            .parse()
            .map_err(|_| format!("{key}: {value:?} is not a date (YYYY-MM-DD)"))
    };
    let (start, end) = (date("start")?, date("end")?);
    if end > today {
        return Err(format!(
            "end: {end} is after today ({today}); there is no data yet"
        ));
    }
    let mut filters = Vec::new();
    for filter in input
        .get("filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = filter
            .get("dimension")
            .and_then(Value::as_str)
            .unwrap_or("");
        let dimension = Dimension::from_name(name)
            .ok_or_else(|| format!("filters: unknown dimension {name:?}"))?;
        let value = filter
            .get("value")
            .and_then(Value::as_str)
            .ok_or("filters: each filter needs a string value")?;
        filters.push(Filter {
            dimension,
            value: value.to_owned(),
        });
    }
    let breakdown = match text("breakdown") {
        None | Some("") => None,
        Some(name) => Some(
            Dimension::from_name(name)
                .ok_or_else(|| format!("breakdown: unknown dimension {name:?}"))?,
        ),
    };
    let order = match text("order") {
        None | Some("") => None,
        Some("desc") => Some(Order::Desc),
        Some("asc") => Some(Order::Asc),
        Some(other) => return Err(format!("order: {other:?} is not desc or asc")),
    };
    let limit = match input.get("limit").and_then(Value::as_u64) {
        None => 50,
        Some(n) => usize::try_from(n)
            .unwrap_or(MAX_FIGURES)
            .clamp(1, MAX_FIGURES),
    };
    let query = Query {
        metric,
        start,
        end,
        filters,
        breakdown,
    };
    engine::check(&query).map_err(|err| query_error(metric, &err))?;
    Ok(MetricCall {
        query,
        order,
        limit,
    })
}

fn query_error(metric: Metric, err: &QueryError) -> String {
    let allowed: Vec<&str> = engine::dimensions(metric)
        .iter()
        .map(|d| d.name())
        .collect();
    match err {
        QueryError::Period(reason) => format!("period: {reason}"),
        QueryError::Dimension { field, dimension } => format!(
            "{field}: {} has no dimension {}; it has: {}",
            metric.id(),
            dimension.name(),
            allowed.join(", ")
        ),
        QueryError::FilterValue(dimension) => format!(
            "filters: not a value of {} (platforms are META_ADS, TIKTOK_ADS, GOOGLE_ADS)",
            dimension.name()
        ),
    }
}

fn engine_error(err: EngineError) -> String {
    match err {
        EngineError::Query(err) => format!("query: {err:?}"),
        EngineError::Db(err) => {
            tracing::warn!(error = %err, "answer tool could not read data");
            "the data could not be read just now".to_owned()
        }
    }
}

fn db_error(err: pp_db::DbError) -> String {
    tracing::warn!(error = %err, "answer tool could not read data");
    "the data could not be read just now".to_owned()
}

pub fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Currency => "currency",
        Unit::Count => "count",
        Unit::Ratio => "ratio",
        Unit::Percent => "percent",
        Unit::Days => "days",
    }
}

/// The value for people, exactly as the dashboard and the planner show it.
pub fn display(figure: &Figure) -> String {
    crate::api::display(figure.value, figure.metric.unit(), &figure.currency_code)
}

/// A figure as the model reads it.
pub fn figure_json(figure: &Figure) -> Value {
    let value = match figure.value {
        engine::Value::Unset => Value::Null,
        engine::Value::Count(count) => json!(count),
        engine::Value::Money(micros) => json!((micros as f64 / 10_000.0).round() / 100.0),
        engine::Value::Number(number) => json!((number * 10_000.0).round() / 10_000.0),
    };
    json!({
        "metric": figure.metric.id(),
        "value": value,
        "display": display(figure),
        "start": figure.start.to_string(),
        "end": figure.end.to_string(),
        "filters": figure.filters.iter().map(|f| json!({"dimension": f.dimension.name(), "value": f.value})).collect::<Vec<_>>(),
    })
}

/// The figures of one `compute_metric` call, ordered and cut as asked.
pub fn metric_output(call: &MetricCall, mut figures: Vec<Figure>, currency: &str) -> ToolOutput {
    if let Some(order) = call.order {
        figures.sort_by(|a, b| {
            let (x, y) = (a.value.as_f64(), b.value.as_f64());
            match order {
                Order::Desc => y.total_cmp(&x),
                Order::Asc => x.total_cmp(&y),
            }
        });
    }
    let total = figures.len();
    let limit = if call.query.breakdown.is_some() {
        call.limit
    } else {
        MAX_FIGURES
    };
    figures.truncate(limit);
    let metric = call.query.metric;
    let content = json!({
        "metric": metric.id(),
        "unit": unit_name(metric.unit()),
        "currency": currency,
        "start": call.query.start.to_string(),
        "end": call.query.end.to_string(),
        "figures": figures.iter().map(figure_json).collect::<Vec<_>>(),
        "figures_total": total,
        "truncated": total > figures.len(),
    });
    ToolOutput {
        content,
        figures,
        ..Default::default()
    }
}

/// The catalogue, as `list_metrics` returns it.
pub fn list_metrics() -> ToolOutput {
    let metrics: Vec<Value> = Metric::ALL
        .iter()
        .map(|metric| {
            let definition = metric.definition();
            json!({
                "id": definition.id,
                "name": definition.display_name,
                "description": definition.description,
                "formula": definition.formula,
                "unit": unit_name(definition.unit),
                "dimensions": engine::dimensions(*metric).iter().map(|d| d.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    ToolOutput {
        content: json!({"metrics": metrics}),
        ..Default::default()
    }
}

fn matches_search(search: Option<&str>, texts: &[&str]) -> bool {
    let Some(search) = search.map(str::to_lowercase).filter(|s| !s.is_empty()) else {
        return true;
    };
    texts.iter().any(|t| t.to_lowercase().contains(&search))
}

/// At most this many campaigns or products in one list.
const MAX_LISTED: usize = 200;

impl EngineTools {
    async fn tx(&self) -> Result<TenantTx, String> {
        TenantTx::begin(&self.pool, &self.principal)
            .await
            .map_err(db_error)
    }

    async fn compute_metric(&self, input: &Value) -> Result<ToolOutput, String> {
        let call = metric_call(input, self.today)?;
        let mut tx = self.tx().await?;
        let figures = engine::compute(&mut tx, &self.brand, &call.query)
            .await
            .map_err(engine_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(metric_output(&call, figures, &self.brand.currency_code))
    }

    async fn list_campaigns(&self, input: &Value) -> Result<ToolOutput, String> {
        let search = input.get("search").and_then(Value::as_str);
        let mut tx = self.tx().await?;
        let campaigns = store::catalog::campaigns(&mut tx, self.brand.brand_id)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let mut output = ToolOutput::default();
        let mut listed = Vec::new();
        let mut total = 0;
        for campaign in campaigns
            .iter()
            .filter(|c| matches_search(search, &[&c.name, &c.campaign_id]))
        {
            total += 1;
            if listed.len() < MAX_LISTED {
                listed.push(json!({
                    "platform": campaign.platform,
                    "campaign_id": campaign.campaign_id,
                    "name": campaign.name,
                }));
                output.names.push(campaign.name.clone());
                output.names.push(campaign.campaign_id.clone());
            }
        }
        output.content =
            json!({"campaigns": listed, "total": total, "truncated": total > listed.len()});
        Ok(output)
    }

    async fn list_products(&self, input: &Value) -> Result<ToolOutput, String> {
        let search = input.get("search").and_then(Value::as_str);
        let mut tx = self.tx().await?;
        let products = store::catalog::products(&mut tx, self.brand.brand_id)
            .await
            .map_err(db_error)?;
        let variants = store::commerce::variants(&mut tx, self.brand.brand_id, None)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let mut output = ToolOutput::default();
        let mut listed = Vec::new();
        let mut total = 0;
        for product in &products {
            let own: Vec<_> = variants
                .iter()
                .filter(|v| v.product_id == product.product_id)
                .collect();
            let mut texts = vec![product.title.as_str()];
            texts.extend(own.iter().map(|v| v.sku.as_str()));
            if !matches_search(search, &texts) {
                continue;
            }
            total += 1;
            if listed.len() >= MAX_LISTED {
                continue;
            }
            output.names.push(product.title.clone());
            output.names.push(product.product_id.clone());
            for variant in &own {
                output.names.extend([
                    variant.variant_id.clone(),
                    variant.sku.clone(),
                    variant.title.clone(),
                ]);
            }
            listed.push(json!({
                "product_id": product.product_id,
                "title": product.title,
                "variants": own.iter().map(|v| json!({
                    "variant_id": v.variant_id,
                    "sku": v.sku,
                    "title": v.title,
                })).collect::<Vec<_>>(),
            }));
        }
        output.content =
            json!({"products": listed, "total": total, "truncated": total > listed.len()});
        Ok(output)
    }

    async fn forecast(&self, input: &Value) -> Result<ToolOutput, String> {
        let horizon = match input.get("horizon_days") {
            None | Some(Value::Null) => 14,
            Some(value) => value
                .as_u64()
                .filter(|h| (1..=365).contains(h))
                .and_then(|h| u32::try_from(h).ok())
                .ok_or("horizon_days: a whole number of days, 1 to 365")?,
        };
        let product_id = input.get("product_id").and_then(Value::as_str);
        let at_risk_only = input
            .get("at_risk_only")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let mut tx = self.tx().await?;
        let forecasts = forecast::for_brand(
            &mut tx,
            &self.brand,
            self.today,
            FORECAST_WINDOW_DAYS,
            horizon,
            product_id,
        )
        .await
        .map_err(engine_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(forecast_output(
            &forecasts,
            self.today,
            horizon,
            at_risk_only,
            &self.brand.currency_code,
        ))
    }
}

/// The forecast tool's result: per variant its days of cover and velocity as figures
/// (period: the velocity window), on hand, stock-out and reorder dates and units.
pub fn forecast_output(
    forecasts: &[forecast::VariantForecast],
    today: NaiveDate,
    horizon: u32,
    at_risk_only: bool,
    currency: &str,
) -> ToolOutput {
    let window_start = today - Days::new(u64::from(FORECAST_WINDOW_DAYS));
    let window_end = today - Days::new(1);
    let mut output = ToolOutput {
        numbers: vec![f64::from(horizon), f64::from(FORECAST_WINDOW_DAYS)],
        dates: vec![today, window_start, window_end],
        ..Default::default()
    };
    let mut rows = Vec::new();
    let mut selected: Vec<&forecast::VariantForecast> = forecasts
        .iter()
        .filter(|f| !at_risk_only || f.forecast.stockout_date.is_some())
        .collect();
    selected.sort_by(|a, b| {
        let cover = |f: &forecast::VariantForecast| f.days_of_cover.unwrap_or(f64::INFINITY);
        cover(a).total_cmp(&cover(b))
    });
    let total = selected.len();
    for variant in selected.into_iter().take(MAX_FIGURES / 2) {
        let filters = vec![Filter {
            dimension: Dimension::VariantId,
            value: variant.variant.variant_id.clone(),
        }];
        let figure = |metric: Metric, value: engine::Value| Figure {
            metric,
            value,
            start: window_start,
            end: window_end,
            filters: filters.clone(),
            currency_code: currency.to_owned(),
        };
        let cover = figure(
            Metric::DaysOfCover,
            variant
                .days_of_cover
                .map_or(engine::Value::Unset, engine::Value::Number),
        );
        let velocity = figure(
            Metric::DailyVelocity,
            engine::Value::Number(variant.daily_velocity),
        );
        let f = &variant.forecast;
        rows.push(json!({
            "variant_id": variant.variant.variant_id,
            "product_id": variant.variant.product_id,
            "sku": variant.variant.sku,
            "title": variant.variant.title,
            "on_hand_units": variant.on_hand_units,
            "days_of_cover": figure_json(&cover),
            "daily_velocity": figure_json(&velocity),
            "stockout_date": f.stockout_date.map(|d| d.to_string()),
            "reorder_date": f.reorder_date.map(|d| d.to_string()),
            "reorder_units": f.reorder_units,
            "lead_time_days": f.lead_time_days,
            "risk": format!("{:?}", f.risk).to_lowercase(),
        }));
        output.numbers.extend([
            variant.on_hand_units as f64,
            f.reorder_units as f64,
            f64::from(f.lead_time_days),
        ]);
        output
            .dates
            .extend(f.stockout_date.into_iter().chain(f.reorder_date));
        output.names.extend([
            variant.variant.variant_id.clone(),
            variant.variant.sku.clone(),
            variant.variant.title.clone(),
        ]);
        output.figures.push(cover);
        output.figures.push(velocity);
    }
    output.content = json!({
        "as_of": today.to_string(),
        "horizon_days": horizon,
        "velocity_window": {"start": window_start.to_string(), "end": window_end.to_string()},
        "variants": rows,
        "total": total,
        "truncated": total > MAX_FIGURES / 2,
    });
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 15).expect("date")
    }

    #[test]
    fn tools_metric_call_reads_and_checks_the_input() {
        let call = metric_call(
            &json!({
                "metric": "ad_spend", "start": "2026-10-01", "end": "2026-10-31",
                "filters": [{"dimension": "platform", "value": "META_ADS"}],
                "breakdown": "campaign_id", "order": "desc", "limit": 5
            }),
            today(),
        )
        .expect("valid");
        assert_eq!(call.query.metric, Metric::AdSpend);
        assert_eq!(call.query.breakdown, Some(Dimension::CampaignId));
        assert_eq!(call.order, Some(Order::Desc));
        assert_eq!(call.limit, 5);
        for (input, error) in [
            (
                json!({"start": "2026-10-01", "end": "2026-10-31"}),
                "metric is required",
            ),
            (
                json!({"metric": "sessions", "start": "2026-10-01", "end": "2026-10-31"}),
                "unknown metric",
            ),
            (
                json!({"metric": "orders", "start": "Oct 1", "end": "2026-10-31"}),
                "start: \"Oct 1\" is not a date",
            ),
            (
                json!({"metric": "orders", "start": "2026-11-01", "end": "2026-12-01"}),
                "end: 2026-12-01 is after today",
            ),
            (
                json!({"metric": "orders", "start": "2026-10-31", "end": "2026-10-01"}),
                "period: must not end before it starts",
            ),
            (
                json!({"metric": "orders", "start": "2026-10-01", "end": "2026-10-31",
                    "filters": [{"dimension": "platform", "value": "META_ADS"}]}),
                "filters: orders has no dimension platform; it has: day, sales_channel",
            ),
            (
                json!({"metric": "ad_spend", "start": "2026-10-01", "end": "2026-10-31",
                    "filters": [{"dimension": "platform", "value": "MYSPACE"}]}),
                "filters: not a value of platform",
            ),
            (
                json!({"metric": "orders", "start": "2026-10-01", "end": "2026-10-31", "breakdown": "galaxy"}),
                "breakdown: unknown dimension",
            ),
        ] {
            let err = metric_call(&input, today()).expect_err("invalid");
            assert!(err.starts_with(error), "{err} (expected {error})");
        }
    }

    #[test]
    fn tools_metric_output_orders_and_cuts_a_breakdown() {
        let call = metric_call(
            &json!({"metric": "net_revenue", "start": "2026-10-01", "end": "2026-10-03",
                    "breakdown": "day", "order": "desc", "limit": 2}),
            today(),
        )
        .expect("valid");
        let figures: Vec<Figure> = [5, 9, 7]
            .iter()
            .enumerate()
            .map(|(i, dollars)| {
                let day = call.query.start + Days::new(i as u64);
                Figure {
                    metric: Metric::NetRevenue,
                    value: engine::Value::Money(dollars * 1_000_000),
                    start: day,
                    end: day,
                    filters: Vec::new(),
                    currency_code: "USD".into(),
                }
            })
            .collect();
        let output = metric_output(&call, figures, "USD");
        assert_eq!(output.figures.len(), 2);
        assert_eq!(output.figures[0].value, engine::Value::Money(9_000_000));
        assert_eq!(output.content["figures"][0]["display"], "$9.00");
        assert_eq!(output.content["figures"][0]["value"], 9.0);
        assert_eq!(output.content["figures"][0]["start"], "2026-10-02");
        assert_eq!(output.content["figures_total"], 3);
        assert_eq!(output.content["truncated"], true);
    }

    #[test]
    fn tools_list_metrics_names_every_metric_with_its_dimensions() {
        let output = list_metrics();
        let metrics = output.content["metrics"].as_array().expect("list");
        assert_eq!(metrics.len(), Metric::ALL.len());
        let spend = metrics
            .iter()
            .find(|m| m["id"] == "ad_spend")
            .expect("ad_spend");
        assert_eq!(spend["unit"], "currency");
        assert_eq!(
            spend["dimensions"],
            json!(["day", "platform", "campaign_id"])
        );
        assert!(output.figures.is_empty());
    }

    #[test]
    fn tools_specs_are_valid_tool_declarations() {
        let specs = engine_specs();
        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "compute_metric",
                "list_metrics",
                "list_campaigns",
                "list_products",
                "forecast"
            ]
        );
        for spec in specs {
            let json = spec.to_json();
            assert_eq!(json["input_schema"]["type"], "object");
            assert!(!spec.description.is_empty());
        }
        assert_eq!(
            describe(
                "compute_metric",
                &json!({"metric": "orders", "start": "2026-10-01", "end": "2026-10-31", "breakdown": "day"})
            ),
            "Computing orders, 2026-10-01 to 2026-10-31, by day"
        );
    }
}
