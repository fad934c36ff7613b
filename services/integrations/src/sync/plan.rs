//! What a run reads: the entities per platform, in order, and the range of each.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use pp_commerce::Platform;
use pp_db::TenantTx;
use uuid::Uuid;

use crate::State;
use crate::store::integrations::IntegrationRow;
use crate::store::sync_runs::{self, EntityProgress, EntityQuery, NewRun, SyncRunRow};

/// Entities a platform's run syncs, in order (products before the inventory and
/// orders that refer to their variants).
pub fn entities(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Shopify => &["products", "orders", "inventory_levels"],
        Platform::Meta | Platform::Tiktok | Platform::GoogleAds => &["ad_spend"],
    }
}

/// Days every incremental ad-spend run re-reads, because the platforms keep revising
/// past days as late conversions arrive (docs/integrations.md has the sources).
pub fn reread_days(platform: Platform) -> i64 {
    match platform {
        Platform::Meta => 28,
        Platform::Tiktok => 3,
        Platform::GoogleAds => 14,
        Platform::Shopify => 0,
    }
}

/// Days a full ad-spend run reads when no backfill range is given.
pub const FULL_AD_HISTORY_DAYS: i64 = 365;

/// Queues a run for the integration, or returns the one already queued or running
/// (`bool` = it was already running).
pub async fn queue(
    tx: &mut TenantTx,
    integration: &IntegrationRow,
    mode: &'static str,
    trigger: &'static str,
    triggered_by: Option<Uuid>,
    backfill: Option<(NaiveDate, NaiveDate)>,
) -> pp_db::Result<(SyncRunRow, bool)> {
    let platform = Platform::parse(&integration.platform).unwrap_or(Platform::Shopify);
    let new = NewRun {
        integration_id: integration.integration_id,
        brand_id: integration.brand_id,
        platform: integration.platform.clone(),
        mode,
        trigger,
        triggered_by,
        backfill,
        entities: entities(platform)
            .iter()
            .map(|e| EntityProgress::new(e))
            .collect(),
    };
    if let Some(run) = sync_runs::enqueue(tx, &new).await? {
        crate::store::integrations::set_last_run(tx, integration.integration_id, run.sync_run_id)
            .await?;
        return Ok((run, false));
    }
    match sync_runs::active(tx, integration.integration_id).await? {
        Some(run) => Ok((run, true)),
        // The active run ended between the two statements: try once more.
        None => {
            let run = sync_runs::enqueue(tx, &new)
                .await?
                .ok_or_else(|| pp_db::DbError::Corrupt("sync run could not be queued".into()))?;
            Ok((run, false))
        }
    }
}

/// The range an entity reads in this run, fixed when it starts.
pub fn query_for(
    state: &State,
    integration: &IntegrationRow,
    run: &SyncRunRow,
    entity: &str,
) -> EntityQuery {
    let platform = Platform::parse(&integration.platform).unwrap_or(Platform::Shopify);
    let today = Utc::now().date_naive();
    match (platform, entity) {
        (Platform::Shopify, "orders" | "products") => {
            let high_water = integration
                .sync_state
                .get(format!("{entity}_updated_at"))
                .and_then(|v| v.as_str())
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            let lookback =
                ChronoDuration::from_std(state.sync.shopify_lookback).unwrap_or_default();
            EntityQuery {
                updated_since: match run.mode.as_str() {
                    "incremental" => high_water.map(|t| t - lookback),
                    _ => None,
                },
                ..EntityQuery::default()
            }
        }
        (Platform::Shopify, _) => EntityQuery::default(),
        (_, _) => {
            let (since, until) = match (run.mode.as_str(), run.backfill_start, run.backfill_end) {
                ("full", Some(start), Some(end)) => (start, end),
                ("full", _, _) => (today - ChronoDuration::days(FULL_AD_HISTORY_DAYS), today),
                _ if integration.last_sync_at.is_none() => {
                    (today - ChronoDuration::days(FULL_AD_HISTORY_DAYS), today)
                }
                _ => (today - ChronoDuration::days(reread_days(platform)), today),
            };
            EntityQuery {
                updated_since: None,
                since: Some(since),
                until: Some(until),
            }
        }
    }
}
