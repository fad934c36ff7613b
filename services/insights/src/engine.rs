//! The metric engine: metric × period × filters × breakdown → figures, each with its
//! catalogue definition. Every RPC of this service computes its numbers here.
//!
//! Sales, ad and SKU figures are read from the daily rollups (`store::rollups`), never
//! from raw orders; returning customers (a distinct count, which daily rows cannot
//! add up) and on-hand inventory (a point-in-time figure) are read from `commerce`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pp_db::TenantTx;
use pp_metrics::{Metric, Unit, per_count, ratio};

use crate::store::{self, BrandInfo};

/// The longest period one query may cover (two years and a day).
pub const MAX_PERIOD_DAYS: i64 = 731;

/// A dimension a metric can be filtered or broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    /// The brand-local day (breakdown only).
    Day,
    /// The order's sales channel (`web`, `pos`, …).
    SalesChannel,
    /// The ad platform: `META_ADS`, `TIKTOK_ADS`, `GOOGLE_ADS`.
    Platform,
    /// The campaign id at its platform.
    CampaignId,
    /// The product variant id at the store.
    VariantId,
    /// The product id at the store.
    ProductId,
}

impl Dimension {
    pub fn from_name(name: &str) -> Option<Dimension> {
        Some(match name {
            "day" => Dimension::Day,
            "sales_channel" => Dimension::SalesChannel,
            "platform" => Dimension::Platform,
            "campaign_id" => Dimension::CampaignId,
            "variant_id" => Dimension::VariantId,
            "product_id" => Dimension::ProductId,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Day => "day",
            Dimension::SalesChannel => "sales_channel",
            Dimension::Platform => "platform",
            Dimension::CampaignId => "campaign_id",
            Dimension::VariantId => "variant_id",
            Dimension::ProductId => "product_id",
        }
    }
}

/// A filter: the dimension equals the value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Filter {
    pub dimension: Dimension,
    pub value: String,
}

/// One question to the engine.
#[derive(Debug, Clone)]
pub struct Query {
    pub metric: Metric,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub filters: Vec<Filter>,
    pub breakdown: Option<Dimension>,
}

/// Where a metric's components come from, which decides the dimensions it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Sales,
    Ads,
    Blended,
    Sku,
    Customers,
}

fn family(metric: Metric) -> Family {
    match metric {
        Metric::GrossSales
        | Metric::Discounts
        | Metric::Refunds
        | Metric::NetRevenue
        | Metric::Orders
        | Metric::Units
        | Metric::AverageOrderValue
        | Metric::NewCustomers
        | Metric::NewCustomerRevenue
        | Metric::ReturningCustomerRevenue
        | Metric::Cogs
        | Metric::GrossMargin => Family::Sales,
        Metric::AdSpend | Metric::PlatformRevenue | Metric::PlatformRoas => Family::Ads,
        Metric::BlendedRoas | Metric::Cac | Metric::ContributionMargin => Family::Blended,
        Metric::DailyVelocity | Metric::DaysOfCover | Metric::OnHand => Family::Sku,
        Metric::ReturningCustomers => Family::Customers,
    }
}

/// The dimensions `metric` may be filtered or broken down by.
pub fn dimensions(metric: Metric) -> &'static [Dimension] {
    match family(metric) {
        Family::Sales if line_level(metric) => &[
            Dimension::Day,
            Dimension::SalesChannel,
            Dimension::VariantId,
            Dimension::ProductId,
        ],
        Family::Sales => &[Dimension::Day, Dimension::SalesChannel],
        Family::Ads => &[Dimension::Day, Dimension::Platform, Dimension::CampaignId],
        Family::Blended => &[Dimension::Day],
        Family::Sku => &[Dimension::VariantId, Dimension::ProductId],
        Family::Customers => &[Dimension::SalesChannel],
    }
}

/// Whether `metric` has a line-level value per product and variant (`docs/metrics.md`,
/// "Per product and per variant").
pub fn line_level(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::GrossSales
            | Metric::Discounts
            | Metric::Refunds
            | Metric::NetRevenue
            | Metric::Units
            | Metric::Cogs
    )
}

/// Whether `query` reads products or variants (a filter or the breakdown on one).
fn by_product(query: &Query) -> bool {
    let sku = |d: Dimension| matches!(d, Dimension::VariantId | Dimension::ProductId);
    query.filters.iter().any(|f| sku(f.dimension)) || query.breakdown.is_some_and(sku)
}

/// Why a query cannot be answered; each names the part of the query at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The period ends before it starts, or is longer than [`MAX_PERIOD_DAYS`].
    Period(&'static str),
    /// The metric has no such dimension (`filters` or `breakdown`).
    Dimension {
        field: &'static str,
        dimension: Dimension,
    },
    /// The filter value is not one the dimension takes.
    FilterValue(Dimension),
}

/// The components every metric is computed from, for one breakdown key.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub gross_sales: i64,
    pub discounts: i64,
    pub refunds: i64,
    pub orders: i64,
    pub units: i64,
    pub cogs: i64,
    pub refunded_cogs: i64,
    pub new_customers: i64,
    pub new_customer_revenue: i64,
    pub returning_customer_revenue: i64,
    pub returning_customers: i64,
    pub spend: i64,
    pub platform_revenue: i64,
    pub on_hand: i64,
}

/// A computed value: exact micros for money, a number otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Money(i64),
    Count(i64),
    Number(f64),
    /// No value (days of cover when nothing sold).
    Unset,
}

impl Value {
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Money(micros) => micros as f64 / 1_000_000.0,
            Value::Count(count) => count as f64,
            Value::Number(number) => number,
            Value::Unset => 0.0,
        }
    }

    pub fn micros(self) -> Option<i64> {
        match self {
            Value::Money(micros) => Some(micros),
            _ => None,
        }
    }
}

/// One number the engine computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub metric: Metric,
    pub value: Value,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The query's filters, plus the breakdown's key when there is one.
    pub filters: Vec<Filter>,
    /// The brand's currency (money figures are in it).
    pub currency_code: String,
}

/// The value of `metric` from its components over `days` days.
pub fn value(metric: Metric, t: &Totals, days: i64) -> Value {
    let net = pp_metrics::net_revenue(t.gross_sales, t.discounts, t.refunds);
    let cogs = t.cogs - t.refunded_cogs;
    match metric {
        Metric::GrossSales => Value::Money(t.gross_sales),
        Metric::Discounts => Value::Money(t.discounts),
        Metric::Refunds => Value::Money(t.refunds),
        Metric::NetRevenue => Value::Money(net),
        Metric::Orders => Value::Count(t.orders),
        Metric::Units => Value::Count(t.units),
        Metric::AverageOrderValue => Value::Money(pp_metrics::average_order_value(
            t.gross_sales,
            t.discounts,
            t.orders,
        )),
        Metric::NewCustomers => Value::Count(t.new_customers),
        Metric::NewCustomerRevenue => Value::Money(t.new_customer_revenue),
        Metric::ReturningCustomers => Value::Count(t.returning_customers),
        Metric::ReturningCustomerRevenue => Value::Money(t.returning_customer_revenue),
        Metric::AdSpend => Value::Money(t.spend),
        Metric::PlatformRevenue => Value::Money(t.platform_revenue),
        Metric::PlatformRoas => Value::Number(ratio(t.platform_revenue, t.spend)),
        Metric::BlendedRoas => Value::Number(ratio(net, t.spend)),
        Metric::Cac => Value::Money(per_count(t.spend, t.new_customers)),
        Metric::Cogs => Value::Money(cogs),
        Metric::GrossMargin => Value::Number(ratio(net - cogs, net)),
        Metric::ContributionMargin => Value::Money(net - cogs - t.spend),
        Metric::DailyVelocity => Value::Number(velocity(t.units, days)),
        Metric::DaysOfCover => {
            let velocity = velocity(t.units, days);
            if velocity == 0.0 {
                Value::Unset
            } else {
                Value::Number(t.on_hand as f64 / velocity)
            }
        }
        Metric::OnHand => Value::Count(t.on_hand),
    }
}

fn velocity(units: i64, days: i64) -> f64 {
    if days <= 0 {
        0.0
    } else {
        units as f64 / days as f64
    }
}

/// The platform's name in the commerce schema for its wire name.
pub fn platform_column(wire: &str) -> Option<&'static str> {
    Some(match wire {
        "META_ADS" => "meta",
        "TIKTOK_ADS" => "tiktok",
        "GOOGLE_ADS" => "google_ads",
        _ => return None,
    })
}

/// The wire name of a commerce-schema platform.
pub fn platform_wire(column: &str) -> &'static str {
    match column {
        "meta" => "META_ADS",
        "tiktok" => "TIKTOK_ADS",
        "google_ads" => "GOOGLE_ADS",
        _ => "PLATFORM_UNSPECIFIED",
    }
}

/// Checks a query against the catalogue before anything is read.
pub fn check(query: &Query) -> Result<(), QueryError> {
    if query.end < query.start {
        return Err(QueryError::Period("must not end before it starts"));
    }
    if (query.end - query.start).num_days() >= MAX_PERIOD_DAYS {
        return Err(QueryError::Period("must span at most 731 days"));
    }
    let allowed = dimensions(query.metric);
    for filter in &query.filters {
        if filter.dimension == Dimension::Day || !allowed.contains(&filter.dimension) {
            return Err(QueryError::Dimension {
                field: "filters",
                dimension: filter.dimension,
            });
        }
        if filter.dimension == Dimension::Platform && platform_column(&filter.value).is_none() {
            return Err(QueryError::FilterValue(filter.dimension));
        }
    }
    if let Some(breakdown) = query.breakdown
        && !allowed.contains(&breakdown)
    {
        return Err(QueryError::Dimension {
            field: "breakdown",
            dimension: breakdown,
        });
    }
    // Line-level figures have no sales channel.
    if by_product(query) {
        if let Some(filter) = query
            .filters
            .iter()
            .find(|f| f.dimension == Dimension::SalesChannel)
        {
            return Err(QueryError::Dimension {
                field: "filters",
                dimension: filter.dimension,
            });
        }
        if query.breakdown == Some(Dimension::SalesChannel) {
            return Err(QueryError::Dimension {
                field: "breakdown",
                dimension: Dimension::SalesChannel,
            });
        }
    }
    Ok(())
}

/// The filter on `dimension`, if any.
fn filter_on(query: &Query, dimension: Dimension) -> Option<&str> {
    query
        .filters
        .iter()
        .find(|f| f.dimension == dimension)
        .map(|f| f.value.as_str())
}

/// Computes `query` for `brand`: one figure, or one per breakdown key (every day of
/// the period for a daily breakdown, zeros included; keys in order otherwise).
pub async fn compute(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    query: &Query,
) -> Result<Vec<Figure>, EngineError> {
    let mut all = compute_many(tx, brand, &[query.metric], query).await?;
    Ok(all.pop().unwrap_or_default())
}

/// Computes several metrics over the same period, filters and breakdown, reading each
/// rollup once (`query.metric` is ignored): one list of figures per metric, in order.
pub async fn compute_many(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    metrics: &[Metric],
    query: &Query,
) -> Result<Vec<Vec<Figure>>, EngineError> {
    for metric in metrics {
        let one = Query {
            metric: *metric,
            ..query.clone()
        };
        check(&one).map_err(EngineError::Query)?;
    }
    let by_key = totals(tx, brand, query, metrics).await?;
    let days = (query.end - query.start).num_days() + 1;
    let figure = |metric: Metric, key: Option<&str>, totals: &Totals| {
        let mut filters = query.filters.clone();
        let (mut start, mut end, mut days) = (query.start, query.end, days);
        if let (Some(dimension), Some(key)) = (query.breakdown, key) {
            if dimension == Dimension::Day {
                if let Ok(day) = key.parse::<NaiveDate>() {
                    (start, end, days) = (day, day, 1);
                }
            } else {
                filters.push(Filter {
                    dimension,
                    value: key.to_owned(),
                });
            }
        }
        Figure {
            metric,
            value: value(metric, totals, days),
            start,
            end,
            filters,
            currency_code: brand.currency_code.clone(),
        }
    };
    Ok(metrics
        .iter()
        .map(|metric| match query.breakdown {
            None => vec![figure(
                *metric,
                None,
                &by_key.get("").copied().unwrap_or_default(),
            )],
            Some(Dimension::Day) => query
                .start
                .iter_days()
                .take_while(|day| *day <= query.end)
                .map(|day| {
                    let key = day.to_string();
                    figure(
                        *metric,
                        Some(&key),
                        &by_key.get(&key).copied().unwrap_or_default(),
                    )
                })
                .collect(),
            Some(_) => by_key
                .iter()
                .map(|(key, totals)| figure(*metric, Some(key), totals))
                .collect(),
        })
        .collect())
}

/// The headline KPIs of the dashboard, in order.
pub const KPIS: [Metric; 7] = [
    Metric::NetRevenue,
    Metric::Orders,
    Metric::AverageOrderValue,
    Metric::AdSpend,
    Metric::BlendedRoas,
    Metric::Cac,
    Metric::ContributionMargin,
];
/// The dashboard's daily series.
pub const SERIES: [Metric; 3] = [Metric::NetRevenue, Metric::AdSpend, Metric::Orders];
/// The dashboard's figures per ad platform.
pub const CHANNELS: [Metric; 2] = [Metric::AdSpend, Metric::PlatformRevenue];

/// Every figure GetDashboard shows, one list per metric as [`compute_many`] returns.
#[derive(Debug, Clone, Default)]
pub struct DashboardFigures {
    /// [`KPIS`] over the period and over the comparison period.
    pub current: Vec<Vec<Figure>>,
    pub previous: Vec<Vec<Figure>>,
    /// [`SERIES`] per day of the period.
    pub series: Vec<Vec<Figure>>,
    /// [`CHANNELS`] per platform over the period.
    pub channels: Vec<Vec<Figure>>,
}

/// The dashboard's figures for `period` against `previous` (all the SQL GetDashboard
/// runs besides finding the brand).
pub async fn dashboard(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    period: (NaiveDate, NaiveDate),
    previous: (NaiveDate, NaiveDate),
) -> Result<DashboardFigures, EngineError> {
    let query = |(start, end): (NaiveDate, NaiveDate), breakdown| Query {
        metric: Metric::NetRevenue,
        start,
        end,
        filters: Vec::new(),
        breakdown,
    };
    Ok(DashboardFigures {
        current: compute_many(tx, brand, &KPIS, &query(period, None)).await?,
        previous: compute_many(tx, brand, &KPIS, &query(previous, None)).await?,
        series: compute_many(tx, brand, &SERIES, &query(period, Some(Dimension::Day))).await?,
        channels: compute_many(
            tx,
            brand,
            &CHANNELS,
            &query(period, Some(Dimension::Platform)),
        )
        .await?,
    })
}

/// Failures of [`compute`].
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("query: {0:?}")]
    Query(QueryError),
    #[error(transparent)]
    Db(#[from] pp_db::DbError),
}

/// The components of `query`'s metric per breakdown key (`""` without a breakdown).
async fn totals(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    query: &Query,
    metrics: &[Metric],
) -> Result<BTreeMap<String, Totals>, pp_db::DbError> {
    let mut by_key: BTreeMap<String, Totals> = BTreeMap::new();
    let families: Vec<Family> = metrics.iter().map(|m| family(*m)).collect();
    let has = |f: Family| families.contains(&f);
    let key_of = |dimension: Dimension| query.breakdown.filter(|b| *b == dimension);
    let by_product = by_product(query);
    if (has(Family::Sales) || has(Family::Blended)) && !by_product {
        let breakdown = key_of(Dimension::Day).or(key_of(Dimension::SalesChannel));
        let rows = store::rollups::sales(
            tx,
            brand.brand_id,
            query.start,
            query.end,
            filter_on(query, Dimension::SalesChannel),
            breakdown,
        )
        .await?;
        for row in rows {
            let t = by_key.entry(row.key).or_default();
            t.gross_sales += row.gross_sales_micros;
            t.discounts += row.discounts_micros;
            t.refunds += row.refunds_micros;
            t.orders += row.orders;
            t.units += row.units;
            t.cogs += row.cogs_micros;
            t.refunded_cogs += row.refunded_cogs_micros;
            t.new_customers += row.new_customers;
            t.new_customer_revenue += row.new_customer_revenue_micros;
            t.returning_customer_revenue += row.returning_customer_revenue_micros;
        }
    }
    if has(Family::Ads) || has(Family::Blended) {
        let breakdown = key_of(Dimension::Day)
            .or(key_of(Dimension::Platform))
            .or(key_of(Dimension::CampaignId));
        let platform = filter_on(query, Dimension::Platform).and_then(platform_column);
        let rows = store::rollups::ad_spend(
            tx,
            brand.brand_id,
            query.start,
            query.end,
            platform,
            filter_on(query, Dimension::CampaignId),
            breakdown,
        )
        .await?;
        for row in rows {
            let key = if query.breakdown == Some(Dimension::Platform) {
                platform_wire(&row.key).to_owned()
            } else {
                row.key
            };
            let t = by_key.entry(key).or_default();
            t.spend += row.spend_micros;
            t.platform_revenue += row.conversion_value_micros;
        }
    }
    if has(Family::Sku) || (has(Family::Sales) && by_product) {
        let rows = store::rollups::sku_sales(
            tx,
            brand.brand_id,
            query.start,
            query.end,
            store::rollups::SkuFilter {
                variant_id: filter_on(query, Dimension::VariantId),
                product_id: filter_on(query, Dimension::ProductId),
            },
            key_of(Dimension::VariantId)
                .or(key_of(Dimension::ProductId))
                .or(key_of(Dimension::Day)),
        )
        .await?;
        for row in rows {
            let t = by_key.entry(row.key).or_default();
            t.gross_sales += row.gross_sales_micros;
            t.discounts += row.discounts_micros;
            t.refunds += row.refunds_micros;
            t.units += row.units;
            t.cogs += row.cogs_micros;
        }
        if metrics.contains(&Metric::DaysOfCover) || metrics.contains(&Metric::OnHand) {
            let on_hand = store::commerce::on_hand(
                tx,
                brand.brand_id,
                filter_on(query, Dimension::VariantId),
                filter_on(query, Dimension::ProductId),
            )
            .await?;
            for row in on_hand {
                let key = match query.breakdown {
                    Some(Dimension::VariantId) => row.variant_id,
                    Some(Dimension::ProductId) => row.product_id,
                    _ => String::new(),
                };
                by_key.entry(key).or_default().on_hand += row.units;
            }
        }
    }
    if has(Family::Customers) {
        let rows = store::commerce::returning_customers(
            tx,
            brand,
            query.start,
            query.end,
            filter_on(query, Dimension::SalesChannel),
            key_of(Dimension::SalesChannel).is_some(),
        )
        .await?;
        for (key, count) in rows {
            by_key.entry(key).or_default().returning_customers += count;
        }
    }
    Ok(by_key)
}

/// Whether `unit` is money (figures carry exact micros).
pub fn is_money(unit: Unit) -> bool {
    unit == Unit::Currency
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(metric: Metric) -> Query {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        Query {
            metric,
            start: day,
            end: day,
            filters: Vec::new(),
            breakdown: None,
        }
    }

    #[test]
    fn checks_periods_and_dimensions() {
        let mut q = query(Metric::NetRevenue);
        assert_eq!(check(&q), Ok(()));
        q.end = q.start.pred_opt().expect("date");
        assert!(matches!(check(&q), Err(QueryError::Period(_))));
        q.end = q.start + chrono::Days::new(731);
        assert!(matches!(check(&q), Err(QueryError::Period(_))));
        let mut q = query(Metric::NetRevenue);
        q.filters.push(Filter {
            dimension: Dimension::Platform,
            value: "META_ADS".into(),
        });
        assert!(matches!(
            check(&q),
            Err(QueryError::Dimension {
                field: "filters",
                ..
            })
        ));
        let mut q = query(Metric::AdSpend);
        q.filters.push(Filter {
            dimension: Dimension::Platform,
            value: "MYSPACE".into(),
        });
        assert_eq!(check(&q), Err(QueryError::FilterValue(Dimension::Platform)));
        let mut q = query(Metric::BlendedRoas);
        q.breakdown = Some(Dimension::Platform);
        assert!(matches!(
            check(&q),
            Err(QueryError::Dimension {
                field: "breakdown",
                ..
            })
        ));
    }

    #[test]
    fn values_from_components() {
        let t = Totals {
            gross_sales: 1_000,
            discounts: 100,
            refunds: 50,
            orders: 3,
            units: 14,
            cogs: 300,
            refunded_cogs: 20,
            new_customers: 2,
            spend: 425,
            platform_revenue: 850,
            on_hand: 70,
            ..Default::default()
        };
        assert_eq!(value(Metric::NetRevenue, &t, 7), Value::Money(850));
        assert_eq!(value(Metric::AverageOrderValue, &t, 7), Value::Money(300));
        assert_eq!(value(Metric::Cogs, &t, 7), Value::Money(280));
        assert_eq!(value(Metric::ContributionMargin, &t, 7), Value::Money(145));
        assert_eq!(value(Metric::BlendedRoas, &t, 7), Value::Number(2.0));
        assert_eq!(value(Metric::PlatformRoas, &t, 7), Value::Number(2.0));
        assert_eq!(value(Metric::Cac, &t, 7), Value::Money(212));
        assert_eq!(value(Metric::DailyVelocity, &t, 7), Value::Number(2.0));
        assert_eq!(value(Metric::DaysOfCover, &t, 7), Value::Number(35.0));
        let none = Totals::default();
        assert_eq!(value(Metric::DaysOfCover, &none, 7), Value::Unset);
        assert_eq!(value(Metric::BlendedRoas, &none, 7), Value::Number(0.0));
    }
}
