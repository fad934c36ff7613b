//! SQL for the observability schema, one module per resource. Every function takes a
//! [`pp_db::TenantTx`]: the tenant reaches SQL only through it.

pub mod budgets;
pub mod events;
pub mod summaries;

pub use budgets::{BudgetRow, add_spend, claim_alert, get_budget, spent_since, upsert_budget};
pub use events::{EventFilter, EventRow, EventStatus, insert_events, list_events};
pub use summaries::{
    AccuracyBucket, AccuracyRow, Dimension, LatencyRow, SummaryScope, UsageFilter, UsageRow,
    accuracy, latency, usage,
};

pub const SCHEMA: &str = "observability";
