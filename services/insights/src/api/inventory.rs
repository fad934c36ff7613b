//! GetInventoryForecast: per variant, velocity and days of cover from the metric engine
//! (rollups of the velocity window, inventory on hand now), then the forecast.

use std::collections::HashMap;

use chrono::Days;
use pp_auth::Principal;
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_metrics::Metric;
use pp_proto::insights as pb;
use pp_types::Violations;

use super::{InsightsApi, READERS, convert};
use crate::engine::{self, Dimension, Query, Value};
use crate::forecast::{self, Risk};
use crate::{freshness, store};

pub const DEFAULT_HORIZON_DAYS: i32 = 30;
pub const MAX_HORIZON_DAYS: i32 = 180;
pub const DEFAULT_WINDOW_DAYS: i32 = 28;
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

/// The page token: an offset bound to the query it came from (FNV-1a of the query).
fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn page_token(offset: usize, fingerprint: u64) -> String {
    format!("{offset}.{fingerprint:016x}")
}

fn parse_page_token(token: &str, fingerprint: u64) -> Option<usize> {
    if token.is_empty() {
        return Some(0);
    }
    let (offset, bound) = token.split_once('.')?;
    (u64::from_str_radix(bound, 16).ok()? == fingerprint).then_some(())?;
    offset.parse().ok()
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
        let variants = store::commerce::variants(&mut tx, brand_id, product).await?;
        // Velocity over the last `window` complete days, cover from the stock now.
        let query = Query {
            metric: Metric::DailyVelocity,
            start: today - Days::new(u64::from(window)),
            end: today - Days::new(1),
            filters: Vec::new(),
            breakdown: Some(Dimension::VariantId),
        };
        let figures = engine::compute_many(
            &mut tx,
            &brand,
            &[Metric::DailyVelocity, Metric::DaysOfCover],
            &query,
        )
        .await
        .map_err(|err| match err {
            engine::EngineError::Db(err) => err.into(),
            engine::EngineError::Query(err) => {
                ApiError::internal(format!("forecast query: {err:?}"))
            }
        })?;
        let on_hand: HashMap<String, i64> = store::commerce::on_hand(&mut tx, brand_id, None)
            .await?
            .into_iter()
            .collect();
        tx.commit().await?;

        let by_variant = |metric: usize| -> HashMap<String, Value> {
            figures
                .get(metric)
                .map(|list| {
                    list.iter()
                        .filter_map(|f| Some((f.filters.last()?.value.clone(), f.value)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let velocity = by_variant(0);
        let cover = by_variant(1);
        let mut items: Vec<(Option<f64>, pb::InventoryForecastItem)> = variants
            .into_iter()
            .map(|variant| {
                let daily_velocity = velocity
                    .get(&variant.variant_id)
                    .map_or(0.0, |v| v.as_f64());
                let days_of_cover = match cover.get(&variant.variant_id) {
                    Some(Value::Number(days)) => Some(*days),
                    _ => None,
                };
                let on_hand_units = on_hand.get(&variant.variant_id).copied().unwrap_or(0);
                let forecast = forecast::forecast(
                    &forecast::Input {
                        on_hand: on_hand_units,
                        daily_velocity,
                        days_of_cover,
                        lead_time_days: variant.lead_time_days.and_then(|d| u32::try_from(d).ok()),
                    },
                    today,
                    horizon,
                );
                let sort_key = forecast
                    .stockout_date
                    .map(|d| (d - today).num_days() as f64)
                    .or(days_of_cover);
                let item = pb::InventoryForecastItem {
                    product_id: variant.product_id,
                    variant_id: variant.variant_id,
                    sku: variant.sku,
                    title: variant.title,
                    on_hand_units,
                    daily_velocity,
                    days_of_cover,
                    stockout_date: forecast.stockout_date.map(convert::date),
                    reorder_units: forecast.reorder_units,
                    risk: risk(forecast.risk) as i32,
                    reorder_date: forecast.reorder_date.map(convert::date),
                    lead_time_days: i32::try_from(forecast.lead_time_days).unwrap_or(i32::MAX),
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
        let data_freshness =
            match freshness::for_brand(&self.state.integrations, &request.brand_id).await {
                Ok(sources) => sources,
                Err(status) => {
                    tracing::warn!(code = ?status.code(), "data freshness unavailable");
                    Vec::new()
                }
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_belong_to_their_query() {
        let a = fingerprint(&["brand", "30", "28", "all", ""]);
        let b = fingerprint(&["brand", "31", "28", "all", ""]);
        assert_ne!(a, b);
        let token = page_token(100, a);
        assert_eq!(parse_page_token(&token, a), Some(100));
        assert_eq!(parse_page_token(&token, b), None);
        assert_eq!(parse_page_token("garbage", a), None);
        assert_eq!(parse_page_token("", a), Some(0));
    }
}
