//! GetUsageSummary, GetAccuracySummary, GetLatencySummary: each over a time range
//! defaulted and capped by `crate::range`, in the caller's brand scope.

use chrono::Datelike;
use pp_auth::Principal;
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_proto::common::{Date, TimeRange};
use pp_proto::observability as pb;
use pp_types::Violations;
use pp_types::convert::{duration_ms, money};
use uuid::Uuid;

use super::{SUMMARY_READERS, time_range};
use crate::State;
use crate::range::{self, RangeRule};
use crate::store::{self, AccuracyBucket, Dimension, SummaryScope, UsageFilter};

/// The range, brand filter and brand scope every summary takes.
fn scope(
    violations: &mut Violations,
    principal: &Principal,
    range: Option<&TimeRange>,
    rule: RangeRule,
    brand: &str,
) -> Option<SummaryScope> {
    let range = time_range(violations, "time_range", range, rule);
    let brand_id: Option<Uuid> = violations.optional_uuid("brand_id", brand);
    let (start, end) = range?;
    Some(SummaryScope {
        start,
        end,
        brand_id,
        brand_scope: principal.brand_scope.clone(),
    })
}

fn validated(
    violations: Violations,
    scope: Option<SummaryScope>,
) -> Result<SummaryScope, ApiError> {
    violations.finish()?;
    scope.ok_or_else(|| ApiError::internal("validated request without a scope"))
}

fn date(day: chrono::NaiveDate) -> Date {
    Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

pub(super) async fn usage(
    state: &State,
    principal: Principal,
    request: pb::GetUsageSummaryRequest,
) -> Result<pb::GetUsageSummaryResponse, ApiError> {
    principal.require(SUMMARY_READERS)?;
    let mut violations = Violations::new();
    let scope = scope(
        &mut violations,
        &principal,
        request.time_range.as_ref(),
        range::SUMMARIES,
        &request.brand_id,
    );
    let user_id = violations.optional_uuid("user_id", &request.user_id);
    let mut dims = Vec::new();
    for value in &request.group_by {
        match pb::UsageDimension::try_from(*value) {
            Ok(pb::UsageDimension::Model) => dims.push(Dimension::Model),
            Ok(pb::UsageDimension::Operation) => dims.push(Dimension::Operation),
            Ok(pb::UsageDimension::Brand) => dims.push(Dimension::Brand),
            Ok(pb::UsageDimension::User) => dims.push(Dimension::User),
            Ok(pb::UsageDimension::Day) => dims.push(Dimension::Day),
            _ => violations.add("group_by", "unknown dimension"),
        }
    }
    if !request.time_zone.is_empty() && request.time_zone != "UTC" {
        violations.add("time_zone", "only UTC days are supported so far");
    }
    if !request.page_token.is_empty() {
        violations.add("page_token", "usage summaries fit in one page");
    }
    let filter = UsageFilter {
        scope: validated(violations, scope)?,
        user_id,
        model: Some(request.model).filter(|m| !m.is_empty()),
        operation: Some(request.operation).filter(|o| !o.is_empty()),
    };
    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
    let totals = store::usage(&mut tx, &filter, &[]).await?;
    let groups = if dims.is_empty() {
        Vec::new()
    } else {
        store::usage(&mut tx, &filter, &dims).await?
    };
    tx.commit().await?;
    let currency = state.cost_currency.as_str();
    let to_totals = |row: &store::UsageRow| pb::UsageTotals {
        input_tokens: row.input_tokens,
        output_tokens: row.output_tokens,
        total_tokens: row.input_tokens + row.output_tokens,
        cost: Some(money(currency, row.cost_micros)),
        request_count: row.request_count,
        error_count: row.error_count,
    };
    Ok(pb::GetUsageSummaryResponse {
        totals: Some(
            totals
                .first()
                .map(to_totals)
                .unwrap_or_else(|| to_totals(&store::UsageRow::default())),
        ),
        groups: groups
            .iter()
            .map(|row| pb::UsageGroup {
                key: Some(pb::UsageGroupKey {
                    model: row.model.clone().unwrap_or_default(),
                    operation: row.operation.clone().unwrap_or_default(),
                    brand_id: row.brand_id.map(|b| b.to_string()).unwrap_or_default(),
                    user_id: row.user_id.map(|u| u.to_string()).unwrap_or_default(),
                    day: row.day.map(date),
                }),
                totals: Some(to_totals(row)),
            })
            .collect(),
        next_page_token: String::new(),
    })
}

pub(super) async fn accuracy(
    state: &State,
    principal: Principal,
    request: pb::GetAccuracySummaryRequest,
) -> Result<pb::GetAccuracySummaryResponse, ApiError> {
    principal.require(SUMMARY_READERS)?;
    let mut violations = Violations::new();
    let scope = scope(
        &mut violations,
        &principal,
        request.time_range.as_ref(),
        range::SUMMARIES,
        &request.brand_id,
    );
    let trend = match pb::TrendInterval::try_from(request.trend_interval) {
        Ok(pb::TrendInterval::Unspecified) => None,
        Ok(pb::TrendInterval::Day) => Some(AccuracyBucket::Day),
        Ok(pb::TrendInterval::Week) => Some(AccuracyBucket::Week),
        Ok(pb::TrendInterval::Month) => Some(AccuracyBucket::Month),
        Err(_) => {
            violations.add("trend_interval", "unknown interval");
            None
        }
    };
    let scope = validated(violations, scope)?;
    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
    let overall = store::accuracy(&mut tx, &scope, AccuracyBucket::Overall).await?;
    let by_category = store::accuracy(&mut tx, &scope, AccuracyBucket::Category).await?;
    let trend_rows = match trend {
        Some(bucket) => store::accuracy(&mut tx, &scope, bucket).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let stats = |row: &store::AccuracyRow| pb::AccuracyStats {
        feedback_count: row.feedback_count,
        average_rating: row.average_rating,
        distribution: [row.r1, row.r2, row.r3, row.r4, row.r5]
            .iter()
            .enumerate()
            .map(|(i, count)| pb::RatingCount {
                rating: i as i32 + 1,
                count: *count,
            })
            .collect(),
        actionable_ratio: if row.feedback_count == 0 {
            0.0
        } else {
            row.actionable_count as f64 / row.feedback_count as f64
        },
        answer_count: row.answer_count,
        unanswerable_ratio: if row.answer_count == 0 {
            0.0
        } else {
            row.unanswerable_count as f64 / row.answer_count as f64
        },
    };
    Ok(pb::GetAccuracySummaryResponse {
        overall: Some(
            overall
                .first()
                .map(stats)
                .unwrap_or_else(|| stats(&store::AccuracyRow::default())),
        ),
        by_category: by_category
            .iter()
            .map(|row| pb::CategoryAccuracy {
                category: row.bucket.clone().unwrap_or_else(|| "other".into()),
                stats: Some(stats(row)),
            })
            .collect(),
        trend: trend_rows
            .iter()
            .filter_map(|row| {
                let day =
                    chrono::NaiveDate::parse_from_str(row.bucket.as_deref()?, "%Y-%m-%d").ok()?;
                Some(pb::AccuracyTrendPoint {
                    period_start_date: Some(date(day)),
                    stats: Some(stats(row)),
                })
            })
            .collect(),
    })
}

pub(super) async fn latency(
    state: &State,
    principal: Principal,
    request: pb::GetLatencySummaryRequest,
) -> Result<pb::GetLatencySummaryResponse, ApiError> {
    principal.require(SUMMARY_READERS)?;
    let mut violations = Violations::new();
    let scope = scope(
        &mut violations,
        &principal,
        request.time_range.as_ref(),
        range::LATENCY,
        &request.brand_id,
    );
    let scope = validated(violations, scope)?;
    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
    let (rpcs, ai) = store::latency(&mut tx, &scope, &request.method_prefix).await?;
    tx.commit().await?;
    let stats = |row: &store::LatencyRow| pb::LatencyStats {
        name: row.name.clone(),
        model: row.model.clone().unwrap_or_default(),
        count: row.count,
        error_count: row.error_count,
        p50: Some(duration_ms(row.p50)),
        p95: Some(duration_ms(row.p95)),
        p99: Some(duration_ms(row.p99)),
        max: Some(duration_ms(row.max)),
    };
    Ok(pb::GetLatencySummaryResponse {
        rpcs: rpcs.iter().map(stats).collect(),
        ai_operations: ai.iter().map(stats).collect(),
    })
}
