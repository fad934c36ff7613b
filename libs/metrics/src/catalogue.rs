//! The metric catalogue: every metric Pulsepoint reports, defined once.
//!
//! `docs/metrics.md` states the same definitions in prose; a test keeps the two in
//! step (every id here has its section there).

/// The unit a metric is measured in (mirrors `pulsepoint.insights.v1.MetricUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Currency,
    Count,
    Ratio,
    Percent,
    Days,
}

/// A platform whose data feeds a metric (mirrors `pulsepoint.common.v1.Platform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Shopify,
    Meta,
    Tiktok,
    GoogleAds,
}

const STORE: &[Source] = &[Source::Shopify];
const ADS: &[Source] = &[Source::Meta, Source::Tiktok, Source::GoogleAds];
const ALL: &[Source] = &[
    Source::Shopify,
    Source::Meta,
    Source::Tiktok,
    Source::GoogleAds,
];

/// Every metric of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    GrossSales,
    Discounts,
    Refunds,
    NetRevenue,
    Orders,
    Units,
    AverageOrderValue,
    NewCustomers,
    NewCustomerRevenue,
    ReturningCustomers,
    ReturningCustomerRevenue,
    AdSpend,
    PlatformRevenue,
    PlatformRoas,
    BlendedRoas,
    Cac,
    Cogs,
    GrossMargin,
    ContributionMargin,
    DailyVelocity,
    DaysOfCover,
    OnHand,
}

/// How a metric is computed, for people: shown next to every figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    pub metric: Metric,
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub formula: &'static str,
    pub unit: Unit,
    pub sources: &'static [Source],
}

/// Which orders count, said once for every sales metric.
pub const COUNTED_ORDERS: &str = "Orders count when they are not test orders, not cancelled, \
     and in the brand's currency; an order counts on the day it was processed (processed_at) \
     in the brand's time zone.";

impl Metric {
    pub const ALL: [Metric; 22] = [
        Metric::GrossSales,
        Metric::Discounts,
        Metric::Refunds,
        Metric::NetRevenue,
        Metric::Orders,
        Metric::Units,
        Metric::AverageOrderValue,
        Metric::NewCustomers,
        Metric::NewCustomerRevenue,
        Metric::ReturningCustomers,
        Metric::ReturningCustomerRevenue,
        Metric::AdSpend,
        Metric::PlatformRevenue,
        Metric::PlatformRoas,
        Metric::BlendedRoas,
        Metric::Cac,
        Metric::Cogs,
        Metric::GrossMargin,
        Metric::ContributionMargin,
        Metric::DailyVelocity,
        Metric::DaysOfCover,
        Metric::OnHand,
    ];

    /// The metric with catalogue id `id` (`"net_revenue"`), if any.
    pub fn from_id(id: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.definition().id == id)
    }

    pub fn id(self) -> &'static str {
        self.definition().id
    }

    pub fn unit(self) -> Unit {
        self.definition().unit
    }

    pub fn definition(self) -> Definition {
        let (id, display_name, description, formula, unit, sources) = match self {
            Metric::GrossSales => (
                "gross_sales",
                "Gross sales",
                "Line items at their original unit price times quantity (the order subtotal), \
                 before discounts, refunds, shipping and taxes, of the orders that count, on the \
                 day each order was processed.",
                "sum(order subtotal)",
                Unit::Currency,
                STORE,
            ),
            Metric::Discounts => (
                "discounts",
                "Discounts",
                "The order discounts (line-item and order-level) of the orders that count, on \
                 the day each order was processed.",
                "sum(order total discounts)",
                Unit::Currency,
                STORE,
            ),
            Metric::Refunds => (
                "refunds",
                "Refunds",
                "The value of refunded line items (their subtotal after discounts; refunded \
                 shipping and taxes are not included) of orders that count, on the day each \
                 refund was made, not the order's day.",
                "sum(refund line subtotal)",
                Unit::Currency,
                STORE,
            ),
            Metric::NetRevenue => (
                "net_revenue",
                "Net revenue",
                "Shopify's net sales: gross sales minus discounts minus refunds, each on its own \
                 day. Shipping and taxes are not revenue.",
                "gross_sales - discounts - refunds",
                Unit::Currency,
                STORE,
            ),
            Metric::Orders => (
                "orders",
                "Orders",
                "The number of orders that count, on the day each was processed.",
                "count(orders)",
                Unit::Count,
                STORE,
            ),
            Metric::Units => (
                "units",
                "Units sold",
                "Units on the line items of the orders that count, on the order's day (refunded \
                 units are not subtracted).",
                "sum(line quantity)",
                Unit::Count,
                STORE,
            ),
            Metric::AverageOrderValue => (
                "aov",
                "Average order value",
                "Shopify's AOV: gross sales minus discounts, divided by orders (refunds, shipping \
                 and taxes left out), truncated to the micro; zero without orders.",
                "(gross_sales - discounts) / orders",
                Unit::Currency,
                STORE,
            ),
            Metric::NewCustomers => (
                "new_customers",
                "New customers",
                "Customers whose first order ever (the earliest non-test order synced) is an \
                 order that counts in the period.",
                "count(first orders)",
                Unit::Count,
                STORE,
            ),
            Metric::NewCustomerRevenue => (
                "new_customer_revenue",
                "New-customer revenue",
                "Gross sales minus discounts of the orders that are their customer's first order.",
                "sum(first orders: subtotal - discounts)",
                Unit::Currency,
                STORE,
            ),
            Metric::ReturningCustomers => (
                "returning_customers",
                "Returning customers",
                "Distinct customers with an order that counts in the period whose first order \
                 was before that order.",
                "count(distinct customers with an earlier first order)",
                Unit::Count,
                STORE,
            ),
            Metric::ReturningCustomerRevenue => (
                "returning_customer_revenue",
                "Returning-customer revenue",
                "Gross sales minus discounts of the orders whose customer had ordered before.",
                "sum(repeat orders: subtotal - discounts)",
                Unit::Currency,
                STORE,
            ),
            Metric::AdSpend => (
                "ad_spend",
                "Ad spend",
                "What the ad platforms report as spent, per campaign and day of the ad account, \
                 in rows of the brand's currency (no currency conversion is made).",
                "sum(spend)",
                Unit::Currency,
                ADS,
            ),
            Metric::PlatformRevenue => (
                "platform_revenue",
                "Platform-reported revenue",
                "The purchase value the ad platforms attribute to themselves; platforms claim \
                 the same orders, so this is not additive across platforms.",
                "sum(platform conversion value)",
                Unit::Currency,
                ADS,
            ),
            Metric::PlatformRoas => (
                "platform_roas",
                "Platform ROAS",
                "Platform-reported revenue divided by ad spend; zero without spend.",
                "platform_revenue / ad_spend",
                Unit::Ratio,
                ADS,
            ),
            Metric::BlendedRoas => (
                "blended_roas",
                "Blended ROAS (MER)",
                "Net revenue divided by total ad spend across every platform; zero without spend.",
                "net_revenue / ad_spend",
                Unit::Ratio,
                ALL,
            ),
            Metric::Cac => (
                "cac",
                "Customer acquisition cost",
                "Total ad spend divided by new customers, truncated to the micro; zero without \
                 new customers.",
                "ad_spend / new_customers",
                Unit::Currency,
                ALL,
            ),
            Metric::Cogs => (
                "cogs",
                "Cost of goods sold",
                "Units sold times the variant's current unit cost on the order's day, minus \
                 refunded units times that cost on the refund's day; units without a recorded \
                 cost count zero.",
                "sum(units x unit cost) - sum(refunded units x unit cost)",
                Unit::Currency,
                STORE,
            ),
            Metric::GrossMargin => (
                "gross_margin",
                "Gross margin",
                "Net revenue minus COGS, as a fraction of net revenue; zero without net revenue.",
                "(net_revenue - cogs) / net_revenue",
                Unit::Percent,
                STORE,
            ),
            Metric::ContributionMargin => (
                "contribution_margin",
                "Contribution margin",
                "Net revenue minus COGS minus ad spend.",
                "net_revenue - cogs - ad_spend",
                Unit::Currency,
                ALL,
            ),
            Metric::DailyVelocity => (
                "daily_velocity",
                "Daily velocity",
                "Units sold in the period divided by its number of days.",
                "units / days",
                Unit::Count,
                STORE,
            ),
            Metric::DaysOfCover => (
                "days_of_cover",
                "Days of cover",
                "Units available now (all locations) divided by the daily velocity over the \
                 period; zero when nothing is available, unset when nothing sold.",
                "on_hand_units / daily_velocity",
                Unit::Days,
                STORE,
            ),
            Metric::OnHand => (
                "on_hand",
                "Units on hand",
                "Units available now across every location (the inventory levels' available \
                 quantity, a negative level counted as zero); a point-in-time figure with no \
                 period.",
                "sum(available)",
                Unit::Count,
                STORE,
            ),
        };
        Definition {
            metric: self,
            id,
            display_name,
            description,
            formula,
            unit,
            sources,
        }
    }
}

/// Net revenue from its parts (micros).
pub fn net_revenue(gross_sales: i64, discounts: i64, refunds: i64) -> i64 {
    gross_sales - discounts - refunds
}

/// Average order value (micros): `(gross − discounts) ÷ orders`, truncated; 0 without
/// orders.
pub fn average_order_value(gross_sales: i64, discounts: i64, orders: i64) -> i64 {
    if orders == 0 {
        0
    } else {
        (gross_sales - discounts) / orders
    }
}

/// A money ratio per count, truncated (CAC).
pub fn per_count(micros: i64, count: i64) -> i64 {
    if count == 0 { 0 } else { micros / count }
}

/// A ratio of two amounts; 0 when the divisor is 0.
pub fn ratio(numerator: i64, denominator: i64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut ids: Vec<&str> = Metric::ALL.iter().map(|m| m.id()).collect();
        for metric in Metric::ALL {
            assert_eq!(Metric::from_id(metric.id()), Some(metric));
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Metric::ALL.len());
        assert_eq!(Metric::from_id("nope"), None);
    }

    #[test]
    fn docs_define_every_metric() {
        let docs = include_str!("../../../docs/metrics.md");
        for metric in Metric::ALL {
            let heading = format!("### `{}`", metric.id());
            assert!(docs.contains(&heading), "docs/metrics.md lacks {heading}");
        }
    }

    #[test]
    fn arithmetic() {
        assert_eq!(net_revenue(100, 10, 5), 85);
        assert_eq!(average_order_value(100, 10, 0), 0);
        assert_eq!(average_order_value(100, 10, 4), 22);
        assert_eq!(per_count(10, 3), 3);
        assert!((ratio(3, 2) - 1.5).abs() < f64::EPSILON);
        assert_eq!(ratio(3, 0), 0.0);
    }
}
