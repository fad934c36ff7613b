//! Cost budgets, the running daily AI spend, and the alerts already raised.

use chrono::{DateTime, Utc};
use pp_db::TenantTx;
use uuid::Uuid;

use crate::budget::{Enforcement, Period, Threshold};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BudgetRow {
    pub period: Period,
    pub limit_micros: i64,
    pub currency_code: String,
    pub warning_ratio: f64,
    pub enforcement: Enforcement,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

pub async fn upsert_budget(tx: &mut TenantTx, budget: &BudgetRow) -> pp_db::Result<BudgetRow> {
    sqlx::query_as(
        "insert into observability.cost_budgets (tenant_id, period, limit_micros, currency_code, warning_ratio, enforcement, updated_by)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3, $4, $5, $6)
         on conflict (tenant_id) do update set period = excluded.period, limit_micros = excluded.limit_micros,
            currency_code = excluded.currency_code, warning_ratio = excluded.warning_ratio,
            enforcement = excluded.enforcement, updated_by = excluded.updated_by, updated_at = now()
         returning period, limit_micros, currency_code, warning_ratio, enforcement, updated_by, updated_at",
    )
    .bind(budget.period)
    .bind(budget.limit_micros)
    .bind(&budget.currency_code)
    .bind(budget.warning_ratio)
    .bind(budget.enforcement)
    .bind(budget.updated_by)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn get_budget(tx: &mut TenantTx) -> pp_db::Result<Option<BudgetRow>> {
    sqlx::query_as(
        "select period, limit_micros, currency_code, warning_ratio, enforcement, updated_by, updated_at
         from observability.cost_budgets",
    )
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// Adds AI spend to the tenant's running total of `day` (UTC).
pub async fn add_spend(
    tx: &mut TenantTx,
    day: chrono::NaiveDate,
    cost_micros: i64,
    calls: i64,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into observability.ai_spend_daily (tenant_id, day, cost_micros, calls)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3)
         on conflict (tenant_id, day) do update
         set cost_micros = ai_spend_daily.cost_micros + excluded.cost_micros,
             calls = ai_spend_daily.calls + excluded.calls",
    )
    .bind(day)
    .bind(cost_micros)
    .bind(calls)
    .execute(tx.conn())
    .await
    .map(drop)
    .map_err(Into::into)
}

/// AI spend since `since` (a UTC midnight: periods start at one), in micros, from
/// the running daily totals.
pub async fn spent_since(tx: &mut TenantTx, since: DateTime<Utc>) -> pp_db::Result<i64> {
    sqlx::query_scalar(
        "select coalesce(sum(cost_micros), 0)::bigint from observability.ai_spend_daily
         where day >= $1",
    )
    .bind(since.date_naive())
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

/// Records that `threshold` was crossed in the period; false if already recorded.
pub async fn claim_alert(
    tx: &mut TenantTx,
    period_start: DateTime<Utc>,
    threshold: Threshold,
) -> pp_db::Result<bool> {
    let result = sqlx::query(
        "insert into observability.budget_alerts (tenant_id, period_start, threshold)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2) on conflict do nothing",
    )
    .bind(period_start)
    .bind(threshold)
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}
