//! The metric catalogue, defined once for every service that reports a figure.
//!
//! - [`catalogue`]: one [`Definition`] per metric (id, name, exact description,
//!   formula, unit, sources) and the arithmetic that combines components (net revenue,
//!   AOV, ratios), so no service re-derives a formula.
//! - [`daily`]: the SQL of the daily components (sales per day and channel, ad spend per
//!   day and campaign, units per day and SKU) over the `commerce` schema. The insights
//!   service stores its rows as rollups; brands' GetPortfolio sums the same rows.

pub mod catalogue;
pub mod daily;

pub use catalogue::{
    COUNTED_ORDERS, Definition, Metric, Source, Unit, average_order_value, net_revenue, per_count,
    ratio,
};
pub use daily::{SalesTotals, sales_totals};
