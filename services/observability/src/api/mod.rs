//! gRPC adapters for ObservabilityService.

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::Stream;
use pp_auth::principal::parse_uuid;
use pp_auth::{Principal, Role, TenantId};
use pp_db::timestamp;
use pp_db::{PageRequest, TenantTx};
use pp_error::{ApiError, FieldViolation};
use pp_proto::common::{Money, TimeRange};
use pp_proto::observability as pb;
use pp_proto::observability::observability_service_server::ObservabilityService;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::State;
use crate::budget::{self, Period};
use crate::store::{self, BudgetRow, Dimension, EventFilter, EventRow, UsageFilter};

const EVENT_READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst];
const SUMMARY_READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst, Role::ApiClient];

pub struct ObservabilityApi {
    state: Arc<State>,
}

impl ObservabilityApi {
    pub fn new(state: Arc<State>) -> Self {
        ObservabilityApi { state }
    }
}

fn money(currency: &str, micros: i64) -> Money {
    Money {
        currency_code: currency.to_owned(),
        units: micros / 1_000_000,
        nanos: ((micros % 1_000_000) * 1_000) as i32,
    }
}

fn micros(value: &Money) -> i64 {
    value
        .units
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(value.nanos) / 1_000)
}

fn duration_ms(ms: f64) -> prost_types::Duration {
    let nanos = (ms * 1_000_000.0).round() as i64;
    prost_types::Duration {
        seconds: nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

fn optional_uuid(field: &str, value: &str, violations: &mut Vec<FieldViolation>) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    match parse_uuid(field, value) {
        Ok(id) => Some(id),
        Err(_) => {
            violations.push(FieldViolation::new(field, "must be a UUID"));
            None
        }
    }
}

fn time_range(
    field: &str,
    range: Option<&TimeRange>,
    violations: &mut Vec<FieldViolation>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Some(range) = range else {
        return (None, None);
    };
    let convert = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
    };
    let (start, end) = (convert(&range.start_time), convert(&range.end_time));
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        violations.push(FieldViolation::new(
            format!("{field}.end_time"),
            "must be after start_time",
        ));
    }
    (start, end)
}

fn status_filter(
    value: i32,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<&'static str> {
    match pb::EventStatus::try_from(value) {
        Ok(pb::EventStatus::Unspecified) => None,
        Ok(pb::EventStatus::Success) => Some("ok"),
        Ok(pb::EventStatus::Failure) => Some("error"),
        Ok(pb::EventStatus::Partial) => Some("partial"),
        Err(_) => {
            violations.push(FieldViolation::new(field, "unknown status"));
            None
        }
    }
}

fn json_to_prost(value: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_prost).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_prost(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn event_proto(row: &EventRow) -> pb::Event {
    let text = |key: &str| {
        row.payload
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let payload = match row.event_type.as_str() {
        "api.request" | "api.error" => {
            Some(pb::event::Payload::ApiRequest(pb::ApiRequestPayload {
                method: text("method"),
                grpc_code: text("grpc_code"),
                role: text("role")
                    .parse::<Role>()
                    .map(|r| r.to_proto() as i32)
                    .unwrap_or_default(),
                api_key_id: text("api_key_id"),
            }))
        }
        _ => None,
    };
    let attributes = match json_to_prost(&row.payload).kind {
        Some(prost_types::value::Kind::StructValue(fields)) => Some(fields),
        _ => None,
    };
    pb::Event {
        event_id: row.event_id.to_string(),
        tenant_id: row.tenant_id.to_string(),
        event_type: row.event_type.clone(),
        occurred_at: Some(timestamp(row.occurred_at)),
        brand_id: row.brand_id.map(|id| id.to_string()).unwrap_or_default(),
        user_id: row.user_id.map(|id| id.to_string()).unwrap_or_default(),
        request_id: row.request_id.clone().unwrap_or_default(),
        status: match row.status.as_str() {
            "ok" => pb::EventStatus::Success,
            "partial" => pb::EventStatus::Partial,
            _ => pb::EventStatus::Failure,
        } as i32,
        duration: row
            .payload
            .get("duration_ms")
            .and_then(|v| v.as_f64())
            .map(duration_ms),
        error_reason: if row.status == "ok" {
            String::new()
        } else {
            text("grpc_code")
        },
        payload,
        attributes,
        ..Default::default()
    }
}

fn event_filter(
    types: Vec<String>,
    brand: &str,
    user: &str,
    status: i32,
    range: Option<&TimeRange>,
) -> Result<EventFilter, ApiError> {
    let mut violations = Vec::new();
    let brand_id = optional_uuid("brand_id", brand, &mut violations);
    let user_id = optional_uuid("user_id", user, &mut violations);
    let status = status_filter(status, "status", &mut violations);
    let (start, end) = time_range("time_range", range, &mut violations);
    if types.len() > 50 || types.iter().any(|t| t.is_empty() || t.len() > 100) {
        violations.push(FieldViolation::new(
            "event_types",
            "at most 50 non-empty types",
        ));
    }
    ApiError::check(violations)?;
    Ok(EventFilter {
        event_types: types,
        brand_id,
        user_id,
        start,
        end,
        status,
    })
}

fn budget_proto(row: &BudgetRow, spent: i64) -> pb::CostBudget {
    let period = Period::parse(&row.period).unwrap_or(Period::Monthly);
    let (start, end) = period.bounds(Utc::now());
    pb::CostBudget {
        brand_id: String::new(),
        period: match period {
            Period::Daily => pb::BudgetPeriod::Daily,
            Period::Monthly => pb::BudgetPeriod::Monthly,
        } as i32,
        limit: Some(money(&row.currency_code, row.limit_micros)),
        warning_ratio: row.warning_ratio,
        enforcement: if row.enforcement == "block" {
            pb::BudgetEnforcement::Block
        } else {
            pb::BudgetEnforcement::WarnOnly
        } as i32,
        spent: Some(money(&row.currency_code, spent)),
        period_start_time: Some(timestamp(start)),
        period_end_time: Some(timestamp(end)),
        updated_by_user_id: row.updated_by.map(|u| u.to_string()).unwrap_or_default(),
        update_time: Some(timestamp(row.updated_at)),
    }
}

impl ObservabilityApi {
    async fn list_events(
        &self,
        principal: Principal,
        request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, ApiError> {
        principal.require(EVENT_READERS)?;
        let filter = event_filter(
            request.event_types,
            &request.brand_id,
            &request.user_id,
            request.status,
            request.time_range.as_ref(),
        )?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rows, next_page_token) = store::list_events(&mut tx, &filter, &page).await?;
        tx.commit().await?;
        Ok(pb::ListEventsResponse {
            events: rows.iter().map(event_proto).collect(),
            next_page_token,
        })
    }

    async fn usage(
        &self,
        principal: Principal,
        request: pb::GetUsageSummaryRequest,
    ) -> Result<pb::GetUsageSummaryResponse, ApiError> {
        principal.require(SUMMARY_READERS)?;
        let mut violations = Vec::new();
        let (start, end) = time_range("time_range", request.time_range.as_ref(), &mut violations);
        let brand_id = optional_uuid("brand_id", &request.brand_id, &mut violations);
        let user_id = optional_uuid("user_id", &request.user_id, &mut violations);
        let mut dims = Vec::new();
        for value in &request.group_by {
            match pb::UsageDimension::try_from(*value) {
                Ok(pb::UsageDimension::Model) => dims.push(Dimension::Model),
                Ok(pb::UsageDimension::Operation) => dims.push(Dimension::Operation),
                Ok(pb::UsageDimension::Brand) => dims.push(Dimension::Brand),
                Ok(pb::UsageDimension::User) => dims.push(Dimension::User),
                Ok(pb::UsageDimension::Day) => dims.push(Dimension::Day),
                _ => violations.push(FieldViolation::new("group_by", "unknown dimension")),
            }
        }
        if !request.time_zone.is_empty() && request.time_zone != "UTC" {
            violations.push(FieldViolation::new(
                "time_zone",
                "only UTC days are supported so far",
            ));
        }
        if !request.page_token.is_empty() {
            violations.push(FieldViolation::new(
                "page_token",
                "usage summaries fit in one page",
            ));
        }
        ApiError::check(violations)?;
        let filter = UsageFilter {
            start,
            end,
            brand_id,
            user_id,
            model: Some(request.model).filter(|m| !m.is_empty()),
            operation: Some(request.operation).filter(|o| !o.is_empty()),
        };
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let totals = store::usage(&mut tx, &filter, &[]).await?;
        let groups = if dims.is_empty() {
            Vec::new()
        } else {
            store::usage(&mut tx, &filter, &dims).await?
        };
        tx.commit().await?;
        let currency = self.state.cost_currency.as_str();
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
                        day: row.day.map(|d| {
                            use chrono::Datelike;
                            pp_proto::common::Date {
                                year: d.year(),
                                month: d.month() as i32,
                                day: d.day() as i32,
                            }
                        }),
                    }),
                    totals: Some(to_totals(row)),
                })
                .collect(),
            next_page_token: String::new(),
        })
    }

    async fn accuracy(
        &self,
        principal: Principal,
        request: pb::GetAccuracySummaryRequest,
    ) -> Result<pb::GetAccuracySummaryResponse, ApiError> {
        principal.require(SUMMARY_READERS)?;
        let mut violations = Vec::new();
        let (start, end) = time_range("time_range", request.time_range.as_ref(), &mut violations);
        let brand_id = optional_uuid("brand_id", &request.brand_id, &mut violations);
        let trend = match pb::TrendInterval::try_from(request.trend_interval) {
            Ok(pb::TrendInterval::Unspecified) => None,
            Ok(pb::TrendInterval::Day) => {
                Some("to_char(date_trunc('day', occurred_at at time zone 'UTC'), 'YYYY-MM-DD')")
            }
            Ok(pb::TrendInterval::Week) => {
                Some("to_char(date_trunc('week', occurred_at at time zone 'UTC'), 'YYYY-MM-DD')")
            }
            Ok(pb::TrendInterval::Month) => {
                Some("to_char(date_trunc('month', occurred_at at time zone 'UTC'), 'YYYY-MM-DD')")
            }
            Err(_) => {
                violations.push(FieldViolation::new("trend_interval", "unknown interval"));
                None
            }
        };
        ApiError::check(violations)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let overall = store::accuracy(&mut tx, start, end, brand_id, "null::text").await?;
        let by_category =
            store::accuracy(&mut tx, start, end, brand_id, "payload->>'category'").await?;
        let trend_rows = match trend {
            Some(bucket) => store::accuracy(&mut tx, start, end, brand_id, bucket).await?,
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
                    let date =
                        chrono::NaiveDate::parse_from_str(row.bucket.as_deref()?, "%Y-%m-%d")
                            .ok()?;
                    use chrono::Datelike;
                    Some(pb::AccuracyTrendPoint {
                        period_start_date: Some(pp_proto::common::Date {
                            year: date.year(),
                            month: date.month() as i32,
                            day: date.day() as i32,
                        }),
                        stats: Some(stats(row)),
                    })
                })
                .collect(),
        })
    }

    async fn latency(
        &self,
        principal: Principal,
        request: pb::GetLatencySummaryRequest,
    ) -> Result<pb::GetLatencySummaryResponse, ApiError> {
        principal.require(SUMMARY_READERS)?;
        let mut violations = Vec::new();
        let (start, end) = time_range("time_range", request.time_range.as_ref(), &mut violations);
        let brand_id = optional_uuid("brand_id", &request.brand_id, &mut violations);
        ApiError::check(violations)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rpcs, ai) =
            store::latency(&mut tx, start, end, brand_id, &request.method_prefix).await?;
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

    async fn set_budget(
        &self,
        principal: Principal,
        request: pb::SetCostBudgetRequest,
    ) -> Result<pb::SetCostBudgetResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let budget = request
            .budget
            .ok_or_else(|| ApiError::invalid("budget", "is required"))?;
        let mut violations = Vec::new();
        if !budget.brand_id.is_empty() {
            violations.push(FieldViolation::new(
                "budget.brand_id",
                "per-brand budgets are not supported yet; leave empty for the tenant",
            ));
        }
        let period = match pb::BudgetPeriod::try_from(budget.period) {
            Ok(pb::BudgetPeriod::Daily) => Period::Daily,
            Ok(pb::BudgetPeriod::Monthly) => Period::Monthly,
            _ => {
                violations.push(FieldViolation::new(
                    "budget.period",
                    "must be daily or monthly",
                ));
                Period::Monthly
            }
        };
        let limit = budget.limit.as_ref().map(micros).unwrap_or_default();
        if limit <= 0 {
            violations.push(FieldViolation::new("budget.limit", "must be positive"));
        }
        let currency = budget
            .limit
            .as_ref()
            .map(|m| m.currency_code.clone())
            .unwrap_or_default();
        if currency != self.state.cost_currency {
            violations.push(FieldViolation::new(
                "budget.limit.currency_code",
                format!("must be {}", self.state.cost_currency),
            ));
        }
        let warning_ratio = if budget.warning_ratio == 0.0 {
            0.8
        } else {
            budget.warning_ratio
        };
        if !(warning_ratio > 0.0 && warning_ratio < 1.0) {
            violations.push(FieldViolation::new(
                "budget.warning_ratio",
                "must be between 0 and 1",
            ));
        }
        let enforcement = match pb::BudgetEnforcement::try_from(budget.enforcement) {
            Ok(pb::BudgetEnforcement::Block) => "block",
            Ok(pb::BudgetEnforcement::WarnOnly | pb::BudgetEnforcement::Unspecified) => "warn_only",
            Err(_) => {
                violations.push(FieldViolation::new(
                    "budget.enforcement",
                    "unknown enforcement",
                ));
                "warn_only"
            }
        };
        ApiError::check(violations)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let row = store::upsert_budget(
            &mut tx,
            &BudgetRow {
                period: period.as_str().to_owned(),
                limit_micros: limit,
                currency_code: currency,
                warning_ratio,
                enforcement: enforcement.to_owned(),
                updated_by: Some(principal.user_id.0),
                updated_at: Utc::now(),
            },
        )
        .await?;
        let spent = store::spent_since(&mut tx, period.bounds(Utc::now()).0).await?;
        tx.commit().await?;
        Ok(pb::SetCostBudgetResponse {
            budget: Some(budget_proto(&row, spent)),
        })
    }

    async fn get_budget(
        &self,
        principal: Principal,
        request: pb::GetCostBudgetRequest,
    ) -> Result<pb::GetCostBudgetResponse, ApiError> {
        principal.require(&[Role::Admin, Role::Manager])?;
        if !request.brand_id.is_empty() {
            parse_uuid("brand_id", &request.brand_id)?;
            return Err(ApiError::NotFound("BUDGET_NOT_FOUND"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let row = store::get_budget(&mut tx)
            .await?
            .ok_or(ApiError::NotFound("BUDGET_NOT_FOUND"))?;
        let period = Period::parse(&row.period).unwrap_or(Period::Monthly);
        let spent = store::spent_since(&mut tx, period.bounds(Utc::now()).0).await?;
        tx.commit().await?;
        Ok(pb::GetCostBudgetResponse {
            budget: Some(budget_proto(&row, spent)),
        })
    }

    async fn check_budget(
        &self,
        principal: Principal,
        request: pb::CheckBudgetRequest,
    ) -> Result<pb::CheckBudgetResponse, ApiError> {
        principal.require(SUMMARY_READERS)?;
        let mut violations = Vec::new();
        optional_uuid("brand_id", &request.brand_id, &mut violations);
        let estimated = request
            .estimated_cost
            .as_ref()
            .map(micros)
            .unwrap_or_default();
        if estimated < 0 {
            violations.push(FieldViolation::new(
                "estimated_cost",
                "must not be negative",
            ));
        }
        ApiError::check(violations)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let Some(row) = store::get_budget(&mut tx).await? else {
            tx.commit().await?;
            return Ok(pb::CheckBudgetResponse {
                allowed: true,
                ..Default::default()
            });
        };
        let period = Period::parse(&row.period).unwrap_or(Period::Monthly);
        let (start, end) = period.bounds(Utc::now());
        let spent = store::spent_since(&mut tx, start).await?;
        tx.commit().await?;
        let allowed = budget::allowed(
            spent,
            estimated,
            row.limit_micros,
            row.enforcement == "block",
        );
        Ok(pb::CheckBudgetResponse {
            allowed,
            remaining: Some(money(&row.currency_code, (row.limit_micros - spent).max(0))),
            warning: !budget::reached(spent + estimated, row.limit_micros, row.warning_ratio)
                .is_empty(),
            retry_time: (!allowed).then(|| timestamp(end)),
            deciding_budget_brand_id: String::new(),
        })
    }
}

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::from_request(request).map_err(Status::from)
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::StreamEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ObservabilityService for ObservabilityApi {
    type StreamEventsStream = EventStream;

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.list_events(principal, request.into_inner()).await?,
        ))
    }

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let principal = principal(&request)?;
        principal.require(EVENT_READERS).map_err(Status::from)?;
        let request = request.into_inner();
        let filter = event_filter(
            request.event_types,
            &request.brand_id,
            &request.user_id,
            request.status,
            None,
        )
        .map_err(Status::from)?;
        let tenant: TenantId = principal.tenant_id;
        let live = tokio_stream::wrappers::BroadcastStream::new(self.state.live.subscribe());
        // Only this tenant's events, after the tenant check, ever leave here.
        let stream = live.filter_map(move |item| match item {
            Ok(row) if row.tenant_id == tenant.0 && filter.matches(&row) => {
                Some(Ok(pb::StreamEventsResponse {
                    event: Some(event_proto(&row)),
                }))
            }
            _ => None,
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_usage_summary(
        &self,
        request: Request<pb::GetUsageSummaryRequest>,
    ) -> Result<Response<pb::GetUsageSummaryResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.usage(principal, request.into_inner()).await?,
        ))
    }

    async fn get_accuracy_summary(
        &self,
        request: Request<pb::GetAccuracySummaryRequest>,
    ) -> Result<Response<pb::GetAccuracySummaryResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.accuracy(principal, request.into_inner()).await?,
        ))
    }

    async fn get_latency_summary(
        &self,
        request: Request<pb::GetLatencySummaryRequest>,
    ) -> Result<Response<pb::GetLatencySummaryResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.latency(principal, request.into_inner()).await?,
        ))
    }

    async fn set_cost_budget(
        &self,
        request: Request<pb::SetCostBudgetRequest>,
    ) -> Result<Response<pb::SetCostBudgetResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.set_budget(principal, request.into_inner()).await?,
        ))
    }

    async fn get_cost_budget(
        &self,
        request: Request<pb::GetCostBudgetRequest>,
    ) -> Result<Response<pb::GetCostBudgetResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.get_budget(principal, request.into_inner()).await?,
        ))
    }

    async fn check_budget(
        &self,
        request: Request<pb::CheckBudgetRequest>,
    ) -> Result<Response<pb::CheckBudgetResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.check_budget(principal, request.into_inner()).await?,
        ))
    }
}
