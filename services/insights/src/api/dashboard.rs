//! GetDashboard: KPIs with their comparison, daily series, per-platform results, data
//! freshness and definitions, all from the metric engine over the rollups.

use chrono::{Days, NaiveDate, Utc};
use pp_auth::Principal;
use pp_cache::TenantKey;
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_metrics::Metric;
use pp_proto::insights as pb;
use pp_types::Violations;
use pp_types::convert::{money, timestamp};
use prost::Message;

use super::{InsightsApi, READERS, convert, engine_error};
use crate::engine::{self, DashboardFigures, Dimension, Figure, KPIS, SERIES, Value};

/// The longest dashboard range (and comparison range): a year and a day.
pub const MAX_DASHBOARD_DAYS: i64 = 366;

/// The preceding period of equal length.
pub fn preceding(start: NaiveDate, end: NaiveDate) -> (NaiveDate, NaiveDate) {
    let days = (end - start).num_days() as u64 + 1;
    (start - Days::new(days), start - Days::new(1))
}

impl InsightsApi {
    pub(super) async fn dashboard(
        &self,
        principal: Principal,
        request: pb::GetDashboardRequest,
    ) -> Result<pb::GetDashboardResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand_id", &request.brand_id);
        let period = convert::range(
            &mut violations,
            "date_range",
            request.date_range.as_ref(),
            true,
            MAX_DASHBOARD_DAYS,
        );
        let comparison = convert::range(
            &mut violations,
            "comparison_range",
            request.comparison_range.as_ref(),
            false,
            MAX_DASHBOARD_DAYS,
        );
        violations.finish()?;
        let (Some(brand_id), Some((start, end))) = (brand_id, period) else {
            return Err(ApiError::internal("validated dashboard request incomplete"));
        };
        let (previous_start, previous_end) = comparison.unwrap_or_else(|| preceding(start, end));
        if !principal.may_see_brand(brand_id) {
            return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
        }

        let key = TenantKey::new(
            principal.tenant_id,
            format_args!("dashboard:{brand_id}:{start}:{end}:{previous_start}:{previous_end}"),
        );
        let ttl = self.state.settings.dashboard_cache_ttl;
        if !ttl.is_zero()
            && let Some(bytes) = self.state.cache.get(&key).await
            && let Ok(cached) = pb::GetDashboardResponse::decode(bytes.as_slice())
        {
            return Ok(cached);
        }

        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let brand = self.visible_brand(&mut tx, &principal, brand_id).await?;
        // The freshness call runs while the engine reads the rollups.
        let (figures, data_freshness) = tokio::join!(
            engine::dashboard(
                &mut tx,
                &brand,
                (start, end),
                (previous_start, previous_end)
            ),
            self.freshness(&principal, &request.brand_id),
        );
        let DashboardFigures {
            current,
            previous,
            series,
            channels,
        } = figures.map_err(engine_error)?;
        tx.commit().await?;

        let mut definitions_of: Vec<Metric> = KPIS.to_vec();
        definitions_of.extend([Metric::PlatformRevenue, Metric::PlatformRoas]);
        let response = pb::GetDashboardResponse {
            kpis: current
                .iter()
                .zip(previous.iter())
                .filter_map(|(now, before)| Some(kpi(now.first()?, before.first()?)))
                .collect(),
            series: SERIES
                .iter()
                .zip(series.iter())
                .map(|(metric, points)| time_series(*metric, points))
                .collect(),
            channels: channel_rows(&channels, &brand.currency_code),
            data_freshness,
            definitions: convert::definitions(&definitions_of),
            compute_time: Some(timestamp(Utc::now())),
        };
        if !ttl.is_zero() {
            self.state
                .cache
                .set(&key, &response.encode_to_vec(), ttl)
                .await;
        }
        Ok(response)
    }
}

fn kpi(current: &Figure, previous: &Figure) -> pb::Kpi {
    let before = match previous.value {
        Value::Money(micros) => micros as f64,
        other => other.as_f64(),
    };
    let now = match current.value {
        Value::Money(micros) => micros as f64,
        other => other.as_f64(),
    };
    pb::Kpi {
        current: Some(convert::figure(current)),
        previous: Some(convert::figure(previous)),
        change_ratio: (before != 0.0).then(|| (now - before) / before),
    }
}

fn time_series(metric: Metric, points: &[Figure]) -> pb::TimeSeries {
    pb::TimeSeries {
        metric: metric.id().to_owned(),
        unit: convert::unit(metric.unit()) as i32,
        points: points
            .iter()
            .map(|point| pb::TimeSeriesPoint {
                date: Some(convert::date(point.start)),
                value: point.value.as_f64(),
                money: point
                    .value
                    .micros()
                    .map(|micros| money(&point.currency_code, micros)),
            })
            .collect(),
    }
}

/// One row per platform with spend or platform revenue in the range.
fn channel_rows(figures: &[Vec<Figure>], currency: &str) -> Vec<pb::ChannelPerformance> {
    let (Some(spend), Some(revenue)) = (figures.first(), figures.get(1)) else {
        return Vec::new();
    };
    let total: i64 = spend.iter().filter_map(|f| f.value.micros()).sum();
    spend
        .iter()
        .zip(revenue.iter())
        .map(|(spend, revenue)| {
            let platform = spend
                .filters
                .iter()
                .find(|f| f.dimension == Dimension::Platform)
                .map(|f| f.value.as_str())
                .unwrap_or_default();
            let spend_micros = spend.value.micros().unwrap_or(0);
            let revenue_micros = revenue.value.micros().unwrap_or(0);
            pb::ChannelPerformance {
                platform: pp_proto::common::Platform::from_str_name(&format!("PLATFORM_{platform}"))
                    .unwrap_or(pp_proto::common::Platform::Unspecified)
                    as i32,
                spend: Some(money(currency, spend_micros)),
                platform_attributed_revenue: Some(money(currency, revenue_micros)),
                platform_roas: pp_metrics::ratio(revenue_micros, spend_micros),
                spend_share: pp_metrics::ratio(spend_micros, total),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preceding_period_has_equal_length() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).expect("date");
        assert_eq!(preceding(day(8), day(14)), (day(1), day(7)));
        assert_eq!(preceding(day(8), day(8)), (day(7), day(7)));
    }
}
