//! GetInventoryForecast: per variant, velocity and days of cover from the metric engine
//! (rollups of the velocity window, inventory on hand now), then the forecast.

use pp_auth::Principal;
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_metrics::Metric;
use pp_proto::insights as pb;
use pp_types::Violations;

use super::paging::{fingerprint, page_token, parse_page_token};
use super::{InsightsApi, READERS, convert, engine_error};
use crate::forecast::{self, Risk};
use crate::store;

pub const DEFAULT_HORIZON_DAYS: i32 = crate::recommendations::FORECAST_HORIZON_DAYS as i32;
pub const MAX_HORIZON_DAYS: i32 = 180;
pub const DEFAULT_WINDOW_DAYS: i32 = crate::recommendations::FORECAST_WINDOW_DAYS as i32;
pub const MAX_WINDOW_DAYS: i32 = 365;
const DEFAULT_PAGE_SIZE: i32 = 100;
const MAX_PAGE_SIZE: i32 = 500;

/// A number field: 0 means `default`, else `1..=max`.
pub(super) fn bounded(
    violations: &mut Violations,
    field: &str,
    value: i32,
    default: i32,
    max: i32,
) -> u32 {
    if value == 0 {
        return default.unsigned_abs();
    }
    if !(1..=max).contains(&value) {
        violations.add(
            field,
            format!("must be between 1 and {max} (0 for {default})"),
        );
    }
    value.clamp(1, max).unsigned_abs()
}

fn risk(risk: Risk) -> pb::StockoutRisk {
    match risk {
        Risk::Low => pb::StockoutRisk::Low,
        Risk::Medium => pb::StockoutRisk::Medium,
        Risk::High => pb::StockoutRisk::High,
    }
}

impl InsightsApi {
    pub(super) async fn inventory_forecast(
        &self,
        principal: Principal,
        request: pb::GetInventoryForecastRequest,
    ) -> Result<pb::GetInventoryForecastResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand_id", &request.brand_id);
        let horizon = bounded(
            &mut violations,
            "horizon_days",
            request.horizon_days,
            DEFAULT_HORIZON_DAYS,
            MAX_HORIZON_DAYS,
        );
        let window = bounded(
            &mut violations,
            "velocity_window_days",
            request.velocity_window_days,
            DEFAULT_WINDOW_DAYS,
            MAX_WINDOW_DAYS,
        );
        if request.page_size < 0 {
            violations.add("page_size", "must not be negative");
        }
        if request.product_id.chars().count() > 255 {
            violations.add("product_id", "must have at most 255 characters");
        }
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.clamp(1, MAX_PAGE_SIZE),
        }
        .unsigned_abs() as usize;
        let bound = fingerprint(&[
            &request.brand_id,
            &horizon.to_string(),
            &window.to_string(),
            if request.at_risk_only { "risk" } else { "all" },
            &request.product_id,
        ]);
        let offset = parse_page_token(&request.page_token, bound);
        if offset.is_none() {
            violations.add("page_token", "is not a token of this query");
        }
        violations.finish()?;
        let (Some(brand_id), Some(offset)) = (brand_id, offset) else {
            return Err(ApiError::internal("validated forecast request incomplete"));
        };

        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let brand = self.visible_brand(&mut tx, &principal, brand_id).await?;
        let today = store::commerce::brand_today(&mut tx, &brand).await?;
        let product = (!request.product_id.is_empty()).then_some(request.product_id.as_str());
        let forecasts = forecast::for_brand(&mut tx, &brand, today, window, horizon, product)
            .await
            .map_err(engine_error)?;
        tx.commit().await?;

        let mut items: Vec<(Option<f64>, pb::InventoryForecastItem)> = forecasts
            .into_iter()
            .map(|f| {
                let sort_key = f
                    .forecast
                    .stockout_date
                    .map(|d| (d - today).num_days() as f64)
                    .or(f.days_of_cover);
                let item = pb::InventoryForecastItem {
                    product_id: f.variant.product_id,
                    variant_id: f.variant.variant_id,
                    sku: f.variant.sku,
                    title: f.variant.title,
                    on_hand_units: f.on_hand_units,
                    daily_velocity: f.daily_velocity,
                    days_of_cover: f.days_of_cover,
                    stockout_date: f.forecast.stockout_date.map(convert::date),
                    reorder_units: f.forecast.reorder_units,
                    risk: risk(f.forecast.risk) as i32,
                    reorder_date: f.forecast.reorder_date.map(convert::date),
                    lead_time_days: i32::try_from(f.forecast.lead_time_days).unwrap_or(i32::MAX),
                };
                (sort_key, item)
            })
            .filter(|(_, item)| !request.at_risk_only || item.risk != pb::StockoutRisk::Low as i32)
            .collect();
        // Soonest stock-out first; variants that do not run out (or sell nothing) last.
        items.sort_by(|(a, x), (b, y)| {
            let key = |k: &Option<f64>| k.unwrap_or(f64::INFINITY);
            key(a)
                .total_cmp(&key(b))
                .then_with(|| x.variant_id.cmp(&y.variant_id))
        });
        let total = items.len();
        let page: Vec<pb::InventoryForecastItem> = items
            .into_iter()
            .skip(offset)
            .take(page_size)
            .map(|(_, item)| item)
            .collect();
        let next = offset + page.len();
        let data_freshness = self.freshness(&principal, &request.brand_id).await;
        Ok(pb::GetInventoryForecastResponse {
            items: page,
            next_page_token: if next < total {
                page_token(next, bound)
            } else {
                String::new()
            },
            data_freshness,
            definitions: convert::definitions(&[Metric::DailyVelocity, Metric::DaysOfCover]),
        })
    }
}
