//! What a question asks, as the planner understood it: metric × period × filters ×
//! breakdown × ranking, or a stock question. Stored with the question (JSON) so a
//! follow-up starts from its parent's plan.

use pp_metrics::Metric;
use serde::{Deserialize, Serialize};

use super::period::Period;
use crate::engine::{Dimension, Filter};

/// A planned question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub ask: Ask,
    /// Catalogue ids, in the order the answer states them.
    pub metrics: Vec<String>,
    pub period: Period,
    /// The period compared with, when the question compares.
    pub comparison: Option<Period>,
    /// `(dimension, value)` pairs, e.g. `("platform", "META_ADS")`.
    pub filters: Vec<(String, String)>,
    pub breakdown: Option<Breakdown>,
    pub rank: Option<Rank>,
    /// The answer's category: revenue, marketing, inventory, products, customers.
    pub category: String,
}

/// The kind of question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ask {
    /// Metrics over a period.
    Metrics,
    /// Which variants run out within the horizon, at the velocity window's pace.
    StockOut { horizon_days: u32 },
    /// Stock of the brand, a product or a variant now (period: the velocity window).
    Stock,
}

/// How the figures are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Breakdown {
    /// One figure per key of an engine dimension (platform, campaign, product, …).
    Key(Key),
    /// One figure per day, week (Monday–Sunday) or calendar month of the period.
    Day,
    Week,
    Month,
    /// New and returning customers' figures side by side.
    NewVsReturning,
}

/// The engine dimensions a breakdown can be by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Key {
    Platform,
    Campaign,
    Product,
    Variant,
    SalesChannel,
}

impl Key {
    pub fn dimension(self) -> Dimension {
        match self {
            Key::Platform => Dimension::Platform,
            Key::Campaign => Dimension::CampaignId,
            Key::Product => Dimension::ProductId,
            Key::Variant => Dimension::VariantId,
            Key::SalesChannel => Dimension::SalesChannel,
        }
    }

    /// The plural owners read in an answer: "platforms", "campaigns", …
    pub fn plural(self) -> &'static str {
        match self {
            Key::Platform => "platforms",
            Key::Campaign => "campaigns",
            Key::Product => "products",
            Key::Variant => "SKUs",
            Key::SalesChannel => "sales channels",
        }
    }
}

/// The first `n` keys, highest first (`highest`) or lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rank {
    pub n: u32,
    pub highest: bool,
}

impl Plan {
    /// The plan's metrics (ids the planner wrote; unknown ids are skipped).
    pub fn metrics(&self) -> Vec<Metric> {
        self.metrics
            .iter()
            .filter_map(|id| Metric::from_id(id))
            .collect()
    }

    /// The plan's filters as engine filters (unknown dimensions are skipped).
    pub fn engine_filters(&self) -> Vec<Filter> {
        self.filters
            .iter()
            .filter_map(|(dimension, value)| {
                Some(Filter {
                    dimension: Dimension::from_name(dimension)?,
                    value: value.clone(),
                })
            })
            .collect()
    }

    /// The value of the filter on `dimension`, if any.
    pub fn filter(&self, dimension: Dimension) -> Option<&str> {
        self.filters
            .iter()
            .find(|(d, _)| d == dimension.name())
            .map(|(_, v)| v.as_str())
    }

    /// Sets (or replaces) the filter on `dimension`.
    pub fn set_filter(&mut self, dimension: Dimension, value: String) {
        self.filters.retain(|(d, _)| d != dimension.name());
        self.filters.push((dimension.name().to_owned(), value));
    }
}

/// Why a question gets `answerable = false`: one line, and a suggestion when one helps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub suggestion: Option<String>,
}

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            suggestion: None,
        }
    }

    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }
}
