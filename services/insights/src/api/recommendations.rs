//! ListRecommendations, AcceptRecommendation, DismissRecommendation.

use pp_auth::Principal;
use pp_db::{TenantTx, idempotency};
use pp_error::ApiError;
use pp_proto::insights as pb;
use pp_types::Violations;
use pp_types::convert::{money, timestamp};
use uuid::Uuid;

use super::paging::{fingerprint, page_token, parse_page_token};
use super::{ACTORS, InsightsApi, READERS, convert, record_event};
use crate::recommendations::{self, RESTOCK, SHIFT_BUDGET};
use crate::store::recommendations::RecommendationRow;
use crate::store::{self, SCHEMA, recommendations as rows};

const DEFAULT_PAGE_SIZE: i32 = 50;
const MAX_PAGE_SIZE: i32 = 100;
/// The longest note or comment a decision takes, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

fn state_name(state: pb::RecommendationState) -> &'static str {
    match state {
        pb::RecommendationState::Unspecified | pb::RecommendationState::Open => "open",
        pb::RecommendationState::Accepted => "accepted",
        pb::RecommendationState::Dismissed => "dismissed",
        pb::RecommendationState::Expired => "expired",
    }
}

fn state_wire(state: &str) -> pb::RecommendationState {
    match state {
        "open" => pb::RecommendationState::Open,
        "accepted" => pb::RecommendationState::Accepted,
        "dismissed" => pb::RecommendationState::Dismissed,
        "expired" => pb::RecommendationState::Expired,
        _ => pb::RecommendationState::Unspecified,
    }
}

/// The stored kinds a type filter selects (none are stored for INCREASE/DECREASE).
fn kinds(kind: pb::RecommendationType) -> Option<Vec<&'static str>> {
    match kind {
        pb::RecommendationType::Unspecified => None,
        pb::RecommendationType::Restock => Some(vec![RESTOCK]),
        pb::RecommendationType::ShiftBudget => Some(vec![SHIFT_BUDGET]),
        pb::RecommendationType::IncreaseBudget | pb::RecommendationType::DecreaseBudget => {
            Some(Vec::new())
        }
    }
}

fn priority_wire(priority: &str) -> pb::RecommendationPriority {
    match priority {
        "high" => pb::RecommendationPriority::High,
        "medium" => pb::RecommendationPriority::Medium,
        "low" => pb::RecommendationPriority::Low,
        _ => pb::RecommendationPriority::Unspecified,
    }
}

fn reason_name(reason: pb::DismissReason) -> Option<&'static str> {
    match reason {
        pb::DismissReason::Unspecified => None,
        pb::DismissReason::NotRelevant => Some("not_relevant"),
        pb::DismissReason::AlreadyDone => Some("already_done"),
        pb::DismissReason::Disagree => Some("disagree"),
        pb::DismissReason::Other => Some("other"),
    }
}

fn reason_wire(reason: Option<&str>) -> pb::DismissReason {
    match reason {
        Some("not_relevant") => pb::DismissReason::NotRelevant,
        Some("already_done") => pb::DismissReason::AlreadyDone,
        Some("disagree") => pb::DismissReason::Disagree,
        Some("other") => pb::DismissReason::Other,
        _ => pb::DismissReason::Unspecified,
    }
}

fn platform_wire(platform: Option<&str>) -> i32 {
    let name = platform.map_or("PLATFORM_UNSPECIFIED", crate::engine::platform_wire);
    pp_proto::common::Platform::from_str_name(name).map_or(0, |p| p as i32)
}

/// A stored recommendation as the contract shows it.
pub fn recommendation(row: &RecommendationRow) -> pb::Recommendation {
    let action = match row.kind.as_str() {
        RESTOCK => Some(pb::recommendation::Action::Restock(pb::RestockAction {
            product_id: row.product_id.clone().unwrap_or_default(),
            variant_id: row.variant_id.clone().unwrap_or_default(),
            sku: row.sku.clone().unwrap_or_default(),
            units: row.units.unwrap_or(0),
            order_by_date: row.order_by_date.map(convert::date),
        })),
        SHIFT_BUDGET => Some(pb::recommendation::Action::Budget(pb::BudgetAction {
            from_platform: platform_wire(row.from_platform.as_deref()),
            from_campaign_id: row.from_campaign_id.clone().unwrap_or_default(),
            to_platform: platform_wire(row.to_platform.as_deref()),
            to_campaign_id: row.to_campaign_id.clone().unwrap_or_default(),
            daily_amount: Some(money(
                &row.currency_code,
                row.daily_amount_micros.unwrap_or(0),
            )),
        })),
        _ => None,
    };
    let kind = match row.kind.as_str() {
        RESTOCK => pb::RecommendationType::Restock,
        SHIFT_BUDGET => pb::RecommendationType::ShiftBudget,
        _ => pb::RecommendationType::Unspecified,
    };
    let outcome = (row.state == "accepted").then(|| pb::RecommendationOutcome {
        measured: row.outcome_time.is_some(),
        succeeded: row.outcome_succeeded.unwrap_or(false),
        summary: row.outcome_summary.clone().unwrap_or_default(),
        figures: recommendations::decode(row.outcome_figures.as_deref().unwrap_or_default()),
        measure_time: row.outcome_time.map(timestamp),
        measure_date: recommendations::measure_date(row).map(convert::date),
    });
    pb::Recommendation {
        recommendation_id: row.recommendation_id.to_string(),
        brand_id: row.brand_id.to_string(),
        r#type: kind as i32,
        state: state_wire(&row.state) as i32,
        priority: priority_wire(&row.priority) as i32,
        title: row.title.clone(),
        rationale: row.rationale.clone(),
        evidence: recommendations::decode(&row.evidence),
        expected_impact: Some(money(&row.currency_code, row.expected_impact_micros)),
        confidence: row.confidence,
        action,
        create_time: Some(timestamp(row.create_time)),
        expire_time: Some(timestamp(row.expire_time)),
        decide_time: row.decide_time.map(timestamp),
        decided_by_user_id: row
            .decided_by_user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        dismiss_reason: reason_wire(row.dismiss_reason.as_deref()) as i32,
        decision_note: row.decision_note.clone(),
        outcome,
    }
}

/// A decision's request, validated.
struct Decide<'a> {
    rpc: &'static str,
    recommendation_id: Uuid,
    state: &'static str,
    dismiss_reason: Option<&'static str>,
    note: &'a str,
    request_id: &'a str,
}

impl InsightsApi {
    pub(super) async fn list_recommendations(
        &self,
        principal: Principal,
        request: pb::ListRecommendationsRequest,
    ) -> Result<pb::ListRecommendationsResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.optional_uuid("brand_id", &request.brand_id);
        let state = pb::RecommendationState::try_from(request.state).ok();
        if state.is_none() {
            violations.add("state", "is not a recommendation state");
        }
        let kind = pb::RecommendationType::try_from(request.r#type).ok();
        if kind.is_none() {
            violations.add("type", "is not a recommendation type");
        }
        if request.page_size < 0 {
            violations.add("page_size", "must not be negative");
        }
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.clamp(1, MAX_PAGE_SIZE),
        };
        let bound = fingerprint(&[
            &request.brand_id,
            &request.state.to_string(),
            &request.r#type.to_string(),
            &page_size.to_string(),
        ]);
        let offset = parse_page_token(&request.page_token, bound);
        if offset.is_none() {
            violations.add("page_token", "is not a token of this query");
        }
        violations.finish()?;
        let (Some(state), Some(kind), Some(offset)) = (state, kind, offset) else {
            return Err(ApiError::internal("validated list request incomplete"));
        };

        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let brands = self.listed_brands(&mut tx, &principal, brand_id).await?;
        let limit = i64::from(page_size);
        let mut page = rows::list(
            &mut tx,
            &rows::ListFilter {
                brands,
                state: state_name(state),
                kinds: kinds(kind),
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
                limit: limit + 1,
            },
        )
        .await?;
        tx.commit().await?;
        let more = page.len() > page_size.unsigned_abs() as usize;
        page.truncate(page_size.unsigned_abs() as usize);
        Ok(pb::ListRecommendationsResponse {
            next_page_token: if more {
                page_token(offset + page.len(), bound)
            } else {
                String::new()
            },
            recommendations: page.iter().map(recommendation).collect(),
        })
    }

    pub(super) async fn accept_recommendation(
        &self,
        principal: Principal,
        request: pb::AcceptRecommendationRequest,
    ) -> Result<pb::AcceptRecommendationResponse, ApiError> {
        principal.require(ACTORS)?;
        let mut violations = Violations::new();
        let id = violations.uuid("recommendation_id", &request.recommendation_id);
        note(&mut violations, "note", &request.note);
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let Some(recommendation_id) = id else {
            return Err(ApiError::internal("validated accept request incomplete"));
        };
        let decided = self
            .decide(
                &principal,
                Decide {
                    rpc: "AcceptRecommendation",
                    recommendation_id,
                    state: "accepted",
                    dismiss_reason: None,
                    note: &request.note,
                    request_id: &request.request_id,
                },
            )
            .await?;
        Ok(pb::AcceptRecommendationResponse {
            recommendation: Some(decided),
        })
    }

    pub(super) async fn dismiss_recommendation(
        &self,
        principal: Principal,
        request: pb::DismissRecommendationRequest,
    ) -> Result<pb::DismissRecommendationResponse, ApiError> {
        principal.require(ACTORS)?;
        let mut violations = Violations::new();
        let id = violations.uuid("recommendation_id", &request.recommendation_id);
        let reason = pb::DismissReason::try_from(request.reason)
            .ok()
            .and_then(reason_name);
        if reason.is_none() {
            violations.add("reason", "is required: why the recommendation is dismissed");
        }
        note(&mut violations, "comment", &request.comment);
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let Some(recommendation_id) = id else {
            return Err(ApiError::internal("validated dismiss request incomplete"));
        };
        let decided = self
            .decide(
                &principal,
                Decide {
                    rpc: "DismissRecommendation",
                    recommendation_id,
                    state: "dismissed",
                    dismiss_reason: reason,
                    note: &request.comment,
                    request_id: &request.request_id,
                },
            )
            .await?;
        Ok(pb::DismissRecommendationResponse {
            recommendation: Some(decided),
        })
    }

    /// Accepts or dismisses an open recommendation once per request id: another
    /// tenant's (or a brand outside the caller's scope) is NOT_FOUND, a decided or
    /// expired one FAILED_PRECONDITION; the decision and its event commit together.
    async fn decide(
        &self,
        principal: &Principal,
        decide: Decide<'_>,
    ) -> Result<pb::Recommendation, ApiError> {
        let tx = TenantTx::begin(&self.state.pool, principal).await?;
        let scope = idempotency::Scope {
            schema: SCHEMA,
            rpc: decide.rpc,
        };
        idempotency::once(tx, scope, decide.request_id, |mut tx| async move {
            let row = rows::get_for_update(&mut tx, decide.recommendation_id)
                .await?
                .filter(|row| principal.may_see_brand(row.brand_id))
                .ok_or(ApiError::NotFound("RECOMMENDATION_NOT_FOUND"))?;
            if row.state != "open" {
                return Err(ApiError::FailedPrecondition("RECOMMENDATION_NOT_OPEN"));
            }
            let brand = store::brand(&mut tx, row.brand_id)
                .await?
                .ok_or(ApiError::NotFound("RECOMMENDATION_NOT_FOUND"))?;
            let today = store::commerce::brand_today(&mut tx, &brand).await?;
            let user_id = principal.user_id.0;
            let decided = rows::decide(
                &mut tx,
                decide.recommendation_id,
                &rows::Decision {
                    state: decide.state,
                    user_id,
                    decide_day: today,
                    dismiss_reason: decide.dismiss_reason,
                    note: decide.note,
                },
            )
            .await?;
            record_event(
                &mut tx,
                principal,
                &format!("recommendation.{}", decide.state),
                row.brand_id,
                serde_json::json!({
                    "recommendation_id": row.recommendation_id,
                    "kind": row.kind,
                    "dismiss_reason": decide.dismiss_reason,
                }),
            )
            .await?;
            Ok::<_, ApiError>((tx, recommendation(&decided)))
        })
        .await
    }
}

/// An optional note: at most [`MAX_NOTE_CHARS`] characters.
fn note(violations: &mut Violations, field: &str, value: &str) {
    if value.chars().count() > MAX_NOTE_CHARS {
        violations.add(
            field,
            format!("must have at most {MAX_NOTE_CHARS} characters"),
        );
    }
}
