//! SetCostBudget, GetCostBudget and the internal CheckBudget.

use chrono::Utc;
use pp_auth::{Principal, Role};
use pp_db::TenantTx;
use pp_db::idempotency::{self, Scope};
use pp_error::ApiError;
use pp_proto::observability as pb;
use pp_types::Violations;
use pp_types::convert::{micros, money, timestamp};

use super::SUMMARY_READERS;
use crate::State;
use crate::budget::{self, Enforcement, Period};
use crate::store::{self, BudgetRow, SCHEMA};

fn budget_proto(row: &BudgetRow, spent: i64) -> pb::CostBudget {
    let (start, end) = row.period.bounds(Utc::now());
    pb::CostBudget {
        brand_id: String::new(),
        period: match row.period {
            Period::Daily => pb::BudgetPeriod::Daily,
            Period::Monthly => pb::BudgetPeriod::Monthly,
        } as i32,
        limit: Some(money(&row.currency_code, row.limit_micros)),
        warning_ratio: row.warning_ratio,
        enforcement: match row.enforcement {
            Enforcement::Block => pb::BudgetEnforcement::Block,
            Enforcement::WarnOnly => pb::BudgetEnforcement::WarnOnly,
        } as i32,
        spent: Some(money(&row.currency_code, spent)),
        period_start_time: Some(timestamp(start)),
        period_end_time: Some(timestamp(end)),
        updated_by_user_id: row.updated_by.map(|u| u.to_string()).unwrap_or_default(),
        update_time: Some(timestamp(row.updated_at)),
    }
}

pub(super) async fn set(
    state: &State,
    principal: Principal,
    request: pb::SetCostBudgetRequest,
) -> Result<pb::SetCostBudgetResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let budget = request
        .budget
        .ok_or_else(|| ApiError::invalid("budget", "is required"))?;
    let mut violations = Violations::new();
    if !budget.brand_id.is_empty() {
        violations.add(
            "budget.brand_id",
            "per-brand budgets are not supported yet; leave empty for the tenant",
        );
    }
    let period = match pb::BudgetPeriod::try_from(budget.period) {
        Ok(pb::BudgetPeriod::Daily) => Period::Daily,
        Ok(pb::BudgetPeriod::Monthly) => Period::Monthly,
        _ => {
            violations.add("budget.period", "must be daily or monthly");
            Period::Monthly
        }
    };
    let limit = budget.limit.as_ref().map(micros).unwrap_or_default();
    if limit <= 0 {
        violations.add("budget.limit", "must be positive");
    }
    let currency = budget
        .limit
        .as_ref()
        .map(|m| m.currency_code.clone())
        .unwrap_or_default();
    if currency != state.cost_currency {
        violations.add(
            "budget.limit.currency_code",
            format!("must be {}", state.cost_currency),
        );
    }
    let warning_ratio = if budget.warning_ratio == 0.0 {
        0.8
    } else {
        budget.warning_ratio
    };
    if !(warning_ratio > 0.0 && warning_ratio < 1.0) {
        violations.add("budget.warning_ratio", "must be between 0 and 1");
    }
    let enforcement = match pb::BudgetEnforcement::try_from(budget.enforcement) {
        Ok(pb::BudgetEnforcement::Block) => Enforcement::Block,
        Ok(pb::BudgetEnforcement::WarnOnly | pb::BudgetEnforcement::Unspecified) => {
            Enforcement::WarnOnly
        }
        Err(_) => {
            violations.add("budget.enforcement", "unknown enforcement");
            Enforcement::WarnOnly
        }
    };
    violations.request_id("request_id", &request.request_id);
    violations.finish()?;
    let tx = TenantTx::begin(&state.pool, &principal).await?;
    let scope = Scope {
        schema: SCHEMA,
        rpc: "SetCostBudget",
    };
    idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
        let row = store::upsert_budget(
            &mut tx,
            &BudgetRow {
                period,
                limit_micros: limit,
                currency_code: currency,
                warning_ratio,
                enforcement,
                updated_by: Some(principal.user_id.0),
                updated_at: Utc::now(),
            },
        )
        .await?;
        let spent = store::spent_since(&mut tx, period.bounds(Utc::now()).0).await?;
        let response = pb::SetCostBudgetResponse {
            budget: Some(budget_proto(&row, spent)),
        };
        Ok::<_, ApiError>((tx, response))
    })
    .await
}

pub(super) async fn get(
    state: &State,
    principal: Principal,
    request: pb::GetCostBudgetRequest,
) -> Result<pb::GetCostBudgetResponse, ApiError> {
    principal.require(&[Role::Admin, Role::Manager])?;
    if !request.brand_id.is_empty() {
        pp_types::parse_uuid("brand_id", &request.brand_id)?;
        return Err(ApiError::NotFound("BUDGET_NOT_FOUND"));
    }
    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
    let row = store::get_budget(&mut tx)
        .await?
        .ok_or(ApiError::NotFound("BUDGET_NOT_FOUND"))?;
    let spent = store::spent_since(&mut tx, row.period.bounds(Utc::now()).0).await?;
    tx.commit().await?;
    Ok(pb::GetCostBudgetResponse {
        budget: Some(budget_proto(&row, spent)),
    })
}

pub(super) async fn check(
    state: &State,
    principal: Principal,
    request: pb::CheckBudgetRequest,
) -> Result<pb::CheckBudgetResponse, ApiError> {
    principal.require(SUMMARY_READERS)?;
    let mut violations = Violations::new();
    let _ = violations.optional_uuid("brand_id", &request.brand_id);
    let estimated = request
        .estimated_cost
        .as_ref()
        .map(micros)
        .unwrap_or_default();
    if estimated < 0 {
        violations.add("estimated_cost", "must not be negative");
    }
    violations.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
    let Some(row) = store::get_budget(&mut tx).await? else {
        tx.commit().await?;
        return Ok(pb::CheckBudgetResponse {
            allowed: true,
            ..Default::default()
        });
    };
    let (start, end) = row.period.bounds(Utc::now());
    let spent = store::spent_since(&mut tx, start).await?;
    tx.commit().await?;
    let allowed = budget::allowed(spent, estimated, row.limit_micros, row.enforcement);
    Ok(pb::CheckBudgetResponse {
        allowed,
        remaining: Some(money(&row.currency_code, (row.limit_micros - spent).max(0))),
        warning: !budget::reached(spent + estimated, row.limit_micros, row.warning_ratio)
            .is_empty(),
        retry_time: (!allowed).then(|| timestamp(end)),
        deciding_budget_brand_id: String::new(),
    })
}
