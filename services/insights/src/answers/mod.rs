//! Answers to questions in plain language (`docs/answers.md`).
//!
//! - [`parse`]: the built-in planner's parser, question → [`plan::Plan`] or a refusal.
//! - [`period`]: the periods owners name, resolved against "today".
//! - [`execute`]: a plan → metric-engine figures → the answer's text.
//! - [`model`]: the model path: Claude through the Messages API with tool use over
//!   the engine, every stated number checked against the figures the tools returned.

pub mod execute;
pub mod model;
pub mod parse;
pub mod period;
pub mod plan;

use chrono::NaiveDate;
use pp_db::TenantTx;
use tokio::sync::mpsc;

use crate::engine::EngineError;
use crate::store::{self, BrandInfo};
pub use execute::{Answered, Step};
pub use parse::Context;
pub use plan::{Plan, Refusal};

/// What the planner needs to know about the brand besides the question.
pub async fn context(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    today: NaiveDate,
    default_period: Option<(NaiveDate, NaiveDate)>,
    parent: Option<Plan>,
    connected: Option<Vec<String>>,
) -> pp_db::Result<Context> {
    let campaigns = store::catalog::campaigns(tx, brand.brand_id).await?;
    let products = store::catalog::products(tx, brand.brand_id).await?;
    let variants = store::commerce::variants(tx, brand.brand_id, None).await?;
    let (brand_name, data_start) = store::questions::brand_facts(tx, brand.brand_id).await?;
    Ok(Context {
        today,
        default_period,
        parent,
        brand_name,
        campaigns,
        products,
        variants,
        connected,
        data_start,
    })
}

/// The planner's answer: the plan and its figures, or the refusal.
#[derive(Debug, Clone)]
pub enum Planned {
    Answered { plan: Plan, answered: Answered },
    Refused(Refusal),
}

impl Planned {
    pub fn category(&self) -> &str {
        match self {
            Planned::Answered { plan, .. } => &plan.category,
            Planned::Refused(_) => "other",
        }
    }

    /// The answer's text: the figures' sentences, or the refusal and its suggestion.
    pub fn text(&self) -> String {
        match self {
            Planned::Answered { answered, .. } => answered.text.clone(),
            Planned::Refused(refusal) => match &refusal.suggestion {
                Some(suggestion) => format!("{} {suggestion}", refusal.reason),
                None => refusal.reason.clone(),
            },
        }
    }
}

/// Answers `question` with the built-in planner.
pub async fn plan_and_answer(
    tx: &mut TenantTx,
    brand: &BrandInfo,
    question: &str,
    ctx: &Context,
    steps: Option<&mpsc::Sender<Step>>,
) -> Result<Planned, EngineError> {
    match parse::plan(question, ctx) {
        Err(refusal) => Ok(Planned::Refused(refusal)),
        Ok(plan) => match execute::run(tx, brand, &plan, ctx, steps).await {
            Ok(answered) => Ok(Planned::Answered { plan, answered }),
            // A combination the parser let through but the engine has no figure for.
            Err(EngineError::Query(err)) => {
                tracing::warn!(?err, ?plan, "planner: the engine refused a plan");
                Ok(Planned::Refused(
                    Refusal::new(
                        "I can't compute that combination of figure, filters and breakdown.",
                    )
                    .suggest("Ask for the figure on its own, or split by another dimension."),
                ))
            }
            Err(err) => Err(err),
        },
    }
}
