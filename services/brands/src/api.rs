//! gRPC adapters for BrandService.

use std::sync::Arc;
use std::time::Duration;

use pp_auth::{Principal, Role};
use pp_cache::TenantKey;
use pp_db::{PageRequest, TenantTx, idempotency};
use pp_error::ApiError;
use pp_proto::brands as pb;
use pp_proto::brands::brand_service_server::BrandService;
use pp_types::Violations;
use pp_types::convert::{money, timestamp};
use pp_types::parse_uuid;
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::State;
use crate::domain::brand::{self, BrandFields};
use crate::store::{self, BrandRow, SCHEMA};

/// Roles that may change brands; every role may read.
const WRITERS: &[Role] = &[Role::Admin, Role::Manager];
const READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst, Role::ApiClient];
const CACHE_TTL: Duration = Duration::from_secs(300);
const MAX_PORTFOLIO_DAYS: i64 = 731;

pub struct BrandApi {
    state: Arc<State>,
}

impl BrandApi {
    pub fn new(state: Arc<State>) -> Self {
        BrandApi { state }
    }
}

fn brand_proto(row: &BrandRow) -> pb::Brand {
    pb::Brand {
        brand_id: row.brand_id.to_string(),
        name: row.name.clone(),
        domain: row.domain.clone(),
        currency_code: row.currency_code.clone(),
        time_zone: row.time_zone.clone(),
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    }
}

/// The event of a brand change, written in the change's transaction.
async fn record_event(
    tx: &mut TenantTx,
    principal: &Principal,
    event_type: &str,
    brand_id: Uuid,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    let event = pp_events::EventEnvelope::new(principal.tenant_id.0, event_type, payload)
        .with_brand(brand_id)
        .with_user(principal.user_id.0)
        .with_current_request_id();
    Ok(pp_events::outbox::record(tx, SCHEMA, &event).await?)
}

fn cache_key(principal: &Principal, brand_id: Uuid) -> TenantKey {
    TenantKey::new(principal.tenant_id, format_args!("brand:{brand_id}"))
}

impl BrandApi {
    /// A time zone Postgres does not know is a field violation, checked before writing.
    async fn check_time_zone(
        &self,
        tx: &mut TenantTx,
        fields: &BrandFields,
        field: &str,
    ) -> Result<(), ApiError> {
        if store::is_time_zone(tx, &fields.time_zone).await? {
            Ok(())
        } else {
            Err(ApiError::invalid(field, "is not a known IANA time zone"))
        }
    }

    async fn create(
        &self,
        principal: Principal,
        request: pb::CreateBrandRequest,
    ) -> Result<pb::CreateBrandResponse, ApiError> {
        principal.require(WRITERS)?;
        let input = request
            .brand
            .ok_or_else(|| ApiError::invalid("brand", "is required"))?;
        let fields = BrandFields::for_create(
            &input.name,
            &input.domain,
            &input.currency_code,
            &input.time_zone,
        );
        let mut violations = Violations::new();
        fields.validate(None, "brand.", violations.list());
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = idempotency::Scope {
            schema: SCHEMA,
            rpc: "CreateBrand",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            self.check_time_zone(&mut tx, &fields, "brand.time_zone")
                .await?;
            let row = store::insert(&mut tx, Uuid::new_v4(), &fields)
                .await
                .map_err(|err| err.unique_as(ApiError::AlreadyExists("BRAND_NAME_TAKEN")))?;
            record_event(
                &mut tx,
                &principal,
                "brand.created",
                row.brand_id,
                serde_json::json!({ "name": row.name }),
            )
            .await?;
            let response = pb::CreateBrandResponse {
                brand: Some(brand_proto(&row)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }

    async fn get(
        &self,
        principal: Principal,
        request: pb::GetBrandRequest,
    ) -> Result<pb::GetBrandResponse, ApiError> {
        principal.require(READERS)?;
        let brand_id = parse_uuid("brand_id", &request.brand_id)?;
        if !principal.may_see_brand(brand_id) {
            return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
        }
        let key = cache_key(&principal, brand_id);
        if let Some(bytes) = self.state.cache.get(&key).await
            && let Ok(brand) = pb::Brand::decode(bytes.as_slice())
        {
            return Ok(pb::GetBrandResponse { brand: Some(brand) });
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let row = store::get(&mut tx, brand_id)
            .await?
            .ok_or(ApiError::NotFound("BRAND_NOT_FOUND"))?;
        tx.commit().await?;
        let brand = brand_proto(&row);
        self.state
            .cache
            .set(&key, &brand.encode_to_vec(), CACHE_TTL)
            .await;
        Ok(pb::GetBrandResponse { brand: Some(brand) })
    }

    async fn list(
        &self,
        principal: Principal,
        request: pb::ListBrandsRequest,
    ) -> Result<pb::ListBrandsResponse, ApiError> {
        principal.require(READERS)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rows, next_page_token) = store::list(&mut tx, &page).await?;
        tx.commit().await?;
        let brands = rows
            .iter()
            .filter(|b| principal.may_see_brand(b.brand_id))
            .map(brand_proto)
            .collect();
        Ok(pb::ListBrandsResponse {
            brands,
            next_page_token,
        })
    }

    async fn update(
        &self,
        principal: Principal,
        request: pb::UpdateBrandRequest,
    ) -> Result<pb::UpdateBrandResponse, ApiError> {
        principal.require(WRITERS)?;
        let input = request
            .brand
            .ok_or_else(|| ApiError::invalid("brand", "is required"))?;
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand.brand_id", &input.brand_id);
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        brand::validate_mask(&paths, violations.list());
        let fields = BrandFields {
            name: input.name.trim().to_owned(),
            domain: input.domain.trim().to_lowercase(),
            currency_code: input.currency_code.trim().to_owned(),
            time_zone: input.time_zone.trim().to_owned(),
        };
        fields.validate(Some(&paths), "brand.", violations.list());
        violations.finish()?;
        let brand_id = brand_id.ok_or_else(|| ApiError::internal("validated id missing"))?;
        if !principal.may_see_brand(brand_id) {
            return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        if paths.iter().any(|p| p == "time_zone") {
            self.check_time_zone(&mut tx, &fields, "brand.time_zone")
                .await?;
        }
        let row = store::update(&mut tx, brand_id, &fields, &paths)
            .await
            .map_err(|err| err.unique_as(ApiError::AlreadyExists("BRAND_NAME_TAKEN")))?
            .ok_or(ApiError::NotFound("BRAND_NOT_FOUND"))?;
        record_event(
            &mut tx,
            &principal,
            "brand.updated",
            brand_id,
            serde_json::json!({ "fields": paths }),
        )
        .await?;
        tx.commit().await?;
        self.state
            .cache
            .delete(&cache_key(&principal, brand_id))
            .await;
        Ok(pb::UpdateBrandResponse {
            brand: Some(brand_proto(&row)),
        })
    }

    async fn delete(
        &self,
        principal: Principal,
        request: pb::DeleteBrandRequest,
    ) -> Result<pb::DeleteBrandResponse, ApiError> {
        principal.require(WRITERS)?;
        let brand_id = parse_uuid("brand_id", &request.brand_id)?;
        if !principal.may_see_brand(brand_id) {
            return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        if !store::delete(&mut tx, brand_id).await? {
            return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
        }
        record_event(
            &mut tx,
            &principal,
            "brand.deleted",
            brand_id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        self.state
            .cache
            .delete(&cache_key(&principal, brand_id))
            .await;
        Ok(pb::DeleteBrandResponse {})
    }

    async fn portfolio(
        &self,
        principal: Principal,
        request: pb::GetPortfolioRequest,
    ) -> Result<pb::GetPortfolioResponse, ApiError> {
        principal.require(READERS)?;
        let Some(range) = request.date_range else {
            return Err(ApiError::invalid("date_range", "is required"));
        };
        let mut violations = Violations::new();
        let start = violations.date("date_range.start_date", range.start_date.as_ref());
        let end = violations.date("date_range.end_date", range.end_date.as_ref());
        violations.finish()?;
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ApiError::invalid("date_range", "is required"));
        };
        if end < start {
            return Err(ApiError::invalid(
                "date_range.end_date",
                "must not be before start_date",
            ));
        }
        if (end - start).num_days() >= MAX_PORTFOLIO_DAYS {
            return Err(ApiError::invalid(
                "date_range",
                format!("must span at most {MAX_PORTFOLIO_DAYS} days"),
            ));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let rows = store::portfolio(&mut tx, start, end).await?;
        tx.commit().await?;

        let mut totals: Vec<pb::CurrencyTotals> = Vec::new();
        let mut per_currency: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        let brands = rows
            .iter()
            .filter(|row| principal.may_see_brand(row.brand_id))
            .map(|row| {
                let net_revenue = row.sales.net_revenue_micros();
                let entry = per_currency.entry(row.currency_code.clone()).or_default();
                entry.0 += net_revenue;
                entry.1 += row.sales.orders;
                let average = row.sales.average_order_value_micros();
                pb::BrandTotals {
                    brand_id: row.brand_id.to_string(),
                    brand_name: row.name.clone(),
                    net_revenue: Some(money(&row.currency_code, net_revenue)),
                    order_count: row.sales.orders,
                    average_order_value: Some(money(&row.currency_code, average)),
                }
            })
            .collect();
        for (currency, (micros, orders)) in per_currency {
            totals.push(pb::CurrencyTotals {
                net_revenue: Some(money(&currency, micros)),
                currency_code: currency,
                order_count: orders,
            });
        }
        Ok(pb::GetPortfolioResponse { brands, totals })
    }
}

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::from_request(request).map_err(Status::from)
}

#[tonic::async_trait]
impl BrandService for BrandApi {
    async fn create_brand(
        &self,
        request: Request<pb::CreateBrandRequest>,
    ) -> Result<Response<pb::CreateBrandResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.create(principal, request.into_inner()).await?,
        ))
    }

    async fn get_brand(
        &self,
        request: Request<pb::GetBrandRequest>,
    ) -> Result<Response<pb::GetBrandResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.get(principal, request.into_inner()).await?,
        ))
    }

    async fn list_brands(
        &self,
        request: Request<pb::ListBrandsRequest>,
    ) -> Result<Response<pb::ListBrandsResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.list(principal, request.into_inner()).await?,
        ))
    }

    async fn update_brand(
        &self,
        request: Request<pb::UpdateBrandRequest>,
    ) -> Result<Response<pb::UpdateBrandResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.update(principal, request.into_inner()).await?,
        ))
    }

    async fn delete_brand(
        &self,
        request: Request<pb::DeleteBrandRequest>,
    ) -> Result<Response<pb::DeleteBrandResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.delete(principal, request.into_inner()).await?,
        ))
    }

    async fn get_portfolio(
        &self,
        request: Request<pb::GetPortfolioRequest>,
    ) -> Result<Response<pb::GetPortfolioResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.portfolio(principal, request.into_inner()).await?,
        ))
    }
}
