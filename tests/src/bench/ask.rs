//! The answers rows: AskQuestion with the built-in planner, three ways, for
//! `loadgen load`. Each call takes the next of [`QUESTIONS`] (typical owner questions:
//! a metric, a comparison, a platform filter, a breakdown, a ranking, a stock question).
//!
//! - `--rpc ask-question`: the RPC through the insights server (token check, tenant
//!   transaction, the planner, the engine, storing the question and its events).
//! - `--rpc ask-sql`: in-process, what the RPC computes: a tenant transaction, the
//!   planner's context (brand names, first data day) and `answers::plan_and_answer`
//!   with its metric-engine SQL (the `ask_rpc` row's baseline).
//! - `--rpc ask-planner`: in-process, the planner's own work without SQL: parsing the
//!   question and writing the answer from figures computed once before timing (the
//!   service's time excluding the metric engine's SQL).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use pp_db::{PgPool, TenantTx};
use pp_types::TenantId;
use pulsepoint_insights::answers::{self, Context, Plan, Planned};
use pulsepoint_insights::engine::Figure;
use pulsepoint_insights::store::{self, BrandInfo};
use uuid::Uuid;

/// What the bench asks, in turn.
pub const QUESTIONS: &[&str] = &[
    "What was my net revenue last week?",
    "How many orders did we get yesterday?",
    "What was my ROAS on Meta in the last 30 days?",
    "AOV this month vs last month",
    "ad spend by platform last month",
    "top 5 products by revenue last month",
    "MER in the last 90 days compared to the previous period",
    "new vs returning customers last month",
    "worst campaign by ROAS last 30 days",
    "what will run out in the next 2 weeks?",
];

/// The in-process sides' state.
pub struct AskTarget {
    pool: PgPool,
    tenant: TenantId,
    brand: BrandInfo,
    ctx: Context,
    /// Each question's plan and figures (current period, comparison), computed once.
    planned: Vec<(Plan, Vec<Figure>, Vec<Figure>)>,
    next: AtomicUsize,
}

impl AskTarget {
    /// Connects as the insights role, loads the planner's context and answers every
    /// question once (each must be answerable: a refused question would time nothing).
    pub async fn connect(
        database_url: &str,
        pool_size: u32,
        tenant_id: Uuid,
        brand_id: Uuid,
    ) -> anyhow::Result<Arc<AskTarget>> {
        let pool = pp_db::connect(database_url, pool_size).await?;
        let tenant = TenantId(tenant_id);
        let mut tx = TenantTx::begin_for_tenant(&pool, tenant).await?;
        let brand = store::brand(&mut tx, brand_id)
            .await?
            .context("the brand is not in the tenant")?;
        let today = store::commerce::brand_today(&mut tx, &brand).await?;
        let ctx = answers::context(&mut tx, &brand, today, None, None, None).await?;
        let mut planned = Vec::new();
        for question in QUESTIONS {
            match answers::plan_and_answer(&mut tx, &brand, question, &ctx, None).await? {
                Planned::Answered { plan, answered } => {
                    let (current, previous) = answered.figures.split_at(answered.comparison_at);
                    planned.push((plan, current.to_vec(), previous.to_vec()));
                }
                Planned::Refused(refusal) => {
                    anyhow::bail!("bench question {question:?} refused: {}", refusal.reason)
                }
            }
        }
        tx.commit().await?;
        Ok(Arc::new(AskTarget {
            pool,
            tenant,
            brand,
            ctx,
            planned,
            next: AtomicUsize::new(0),
        }))
    }

    fn turn(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % QUESTIONS.len()
    }

    /// The RPC's computation in-process: context, planner and engine SQL.
    pub async fn sql(&self) -> anyhow::Result<()> {
        let question = QUESTIONS[self.turn()];
        let mut tx = TenantTx::begin_for_tenant(&self.pool, self.tenant).await?;
        let ctx = answers::context(&mut tx, &self.brand, self.ctx.today, None, None, None).await?;
        let planned = answers::plan_and_answer(&mut tx, &self.brand, question, &ctx, None).await?;
        tx.commit().await?;
        anyhow::ensure!(
            matches!(planned, Planned::Answered { .. }),
            "{question:?} refused"
        );
        Ok(())
    }

    /// The planner's own work: parse, then write the answer from the figures.
    pub fn planner(&self) -> anyhow::Result<usize> {
        let i = self.turn();
        let plan = answers::parse::plan(QUESTIONS[i], &self.ctx)
            .map_err(|refusal| anyhow::anyhow!("refused: {}", refusal.reason))?;
        let (_, current, previous) = &self.planned[i];
        let text = if plan.ask == answers::plan::Ask::Metrics {
            answers::execute::write(&plan, &self.ctx, current, previous)
        } else {
            format!("{plan:?}")
        };
        Ok(text.len())
    }
}

/// The question the RPC caller asks next.
pub fn question(turn: usize) -> &'static str {
    QUESTIONS[turn % QUESTIONS.len()]
}
