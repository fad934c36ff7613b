//! Rows to wire messages, and wire enums to the names stored in the database.

use pp_commerce::Platform;
use pp_proto::common::Platform as PbPlatform;
use pp_proto::integrations as pb;
use pp_types::convert::timestamp;

use crate::revoke::{Outcome, ProviderRevocation};
use crate::store::integrations::IntegrationRow;
use crate::store::sync_runs::SyncRunRow;

/// An optional enum filter: 0 (unspecified) is none; an unknown value is a field
/// violation.
pub fn optional_filter<T>(
    violations: &mut pp_types::Violations,
    field: &str,
    value: i32,
    parse: fn(i32) -> Option<T>,
    known: &str,
) -> Option<T> {
    if value == 0 {
        return None;
    }
    let parsed = parse(value);
    if parsed.is_none() {
        violations.add(field, format!("is not a known {known}"));
    }
    parsed
}

pub fn provider_revocation(revocation: &ProviderRevocation) -> pb::ProviderRevocation {
    let outcome = match revocation.outcome {
        Outcome::Revoked => pb::ProviderRevocationOutcome::Revoked,
        Outcome::AlreadyRevoked => pb::ProviderRevocationOutcome::AlreadyRevoked,
        Outcome::Failed => pb::ProviderRevocationOutcome::Failed,
        Outcome::NotApplicable => pb::ProviderRevocationOutcome::NotApplicable,
    };
    pb::ProviderRevocation {
        outcome: outcome as i32,
        reason: revocation.reason.to_owned(),
        message: revocation.message.clone(),
    }
}

pub fn platform_from_wire(value: i32) -> Option<Platform> {
    match PbPlatform::try_from(value).ok()? {
        PbPlatform::Shopify => Some(Platform::Shopify),
        PbPlatform::MetaAds => Some(Platform::Meta),
        PbPlatform::TiktokAds => Some(Platform::Tiktok),
        PbPlatform::GoogleAds => Some(Platform::GoogleAds),
        PbPlatform::Unspecified => None,
    }
}

pub fn platform_to_wire(name: &str) -> i32 {
    (match Platform::parse(name) {
        Some(Platform::Shopify) => PbPlatform::Shopify,
        Some(Platform::Meta) => PbPlatform::MetaAds,
        Some(Platform::Tiktok) => PbPlatform::TiktokAds,
        Some(Platform::GoogleAds) => PbPlatform::GoogleAds,
        None => PbPlatform::Unspecified,
    }) as i32
}

pub fn status_to_wire(name: &str) -> i32 {
    (match name {
        "pending" => pb::IntegrationStatus::Pending,
        "connected" => pb::IntegrationStatus::Connected,
        "error" => pb::IntegrationStatus::Error,
        "reauth_required" => pb::IntegrationStatus::ReauthRequired,
        "disconnected" => pb::IntegrationStatus::Disconnected,
        _ => pb::IntegrationStatus::Unspecified,
    }) as i32
}

pub fn status_from_wire(value: i32) -> Option<&'static str> {
    match pb::IntegrationStatus::try_from(value).ok()? {
        pb::IntegrationStatus::Pending => Some("pending"),
        pb::IntegrationStatus::Connected => Some("connected"),
        pb::IntegrationStatus::Error => Some("error"),
        pb::IntegrationStatus::ReauthRequired => Some("reauth_required"),
        pb::IntegrationStatus::Disconnected => Some("disconnected"),
        pb::IntegrationStatus::Unspecified => None,
    }
}

pub fn run_state_to_wire(name: &str) -> i32 {
    (match name {
        "queued" => pb::SyncRunState::Queued,
        "running" => pb::SyncRunState::Running,
        "succeeded" => pb::SyncRunState::Succeeded,
        "partial" => pb::SyncRunState::Partial,
        "failed" => pb::SyncRunState::Failed,
        "cancelled" => pb::SyncRunState::Cancelled,
        _ => pb::SyncRunState::Unspecified,
    }) as i32
}

pub fn run_state_from_wire(value: i32) -> Option<&'static str> {
    match pb::SyncRunState::try_from(value).ok()? {
        pb::SyncRunState::Queued => Some("queued"),
        pb::SyncRunState::Running => Some("running"),
        pb::SyncRunState::Succeeded => Some("succeeded"),
        pb::SyncRunState::Partial => Some("partial"),
        pb::SyncRunState::Failed => Some("failed"),
        pb::SyncRunState::Cancelled => Some("cancelled"),
        pb::SyncRunState::Unspecified => None,
    }
}

fn entity_to_wire(name: &str) -> i32 {
    (match name {
        "orders" => pb::SyncEntity::Orders,
        "products" => pb::SyncEntity::Products,
        "inventory_levels" => pb::SyncEntity::InventoryLevels,
        "ad_spend" => pb::SyncEntity::AdSpend,
        "campaigns" => pb::SyncEntity::Campaigns,
        "touchpoints" => pb::SyncEntity::Touchpoints,
        _ => pb::SyncEntity::Unspecified,
    }) as i32
}

fn date(d: chrono::NaiveDate) -> pp_proto::common::Date {
    use chrono::Datelike;
    pp_proto::common::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

pub fn integration(row: &IntegrationRow) -> pb::Integration {
    pb::Integration {
        integration_id: row.integration_id.to_string(),
        brand_id: row.brand_id.to_string(),
        platform: platform_to_wire(&row.platform),
        status: status_to_wire(&row.status),
        external_account_id: row.external_account_id.clone(),
        display_name: row.display_name.clone(),
        scopes: row.scopes.clone(),
        demo: row.demo,
        token_expire_time: row.token_expires_at.map(timestamp),
        last_sync_time: row.last_sync_at.map(timestamp),
        last_sync_run_id: row
            .last_sync_run_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        error_reason: row.error_reason.clone().unwrap_or_default(),
        error_message: row.error_message.clone().unwrap_or_default(),
        connected_by_user_id: row
            .connected_by
            .map(|id| id.to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        disconnect_time: row.disconnected_at.map(timestamp),
    }
}

pub fn sync_run(row: &SyncRunRow) -> pb::SyncRun {
    pb::SyncRun {
        sync_run_id: row.sync_run_id.to_string(),
        integration_id: row.integration_id.to_string(),
        brand_id: row.brand_id.to_string(),
        platform: platform_to_wire(&row.platform),
        mode: (match row.mode.as_str() {
            "full" => pb::SyncMode::Full,
            _ => pb::SyncMode::Incremental,
        }) as i32,
        trigger: (match row.trigger.as_str() {
            "initial" => pb::SyncTrigger::Initial,
            "manual" => pb::SyncTrigger::Manual,
            "scheduled" => pb::SyncTrigger::Scheduled,
            "webhook" => pb::SyncTrigger::Webhook,
            _ => pb::SyncTrigger::Unspecified,
        }) as i32,
        state: run_state_to_wire(&row.state),
        entities: row
            .entities
            .0
            .iter()
            .map(|e| pb::SyncEntityProgress {
                entity: entity_to_wire(&e.entity),
                records_fetched: e.fetched,
                records_written: e.written,
                done: e.done,
            })
            .collect(),
        percent_complete: row.percent_complete,
        data_as_of_time: row.data_as_of.map(timestamp),
        error_reason: row.error_reason.clone().unwrap_or_default(),
        error_message: row.error_message.clone().unwrap_or_default(),
        triggered_by_user_id: row
            .triggered_by
            .map(|id| id.to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(row.created_at)),
        start_time: row.started_at.map(timestamp),
        end_time: row.ended_at.map(timestamp),
        backfill_range: match (row.backfill_start, row.backfill_end) {
            (Some(start), Some(end)) => Some(pp_proto::common::DateRange {
                start_date: Some(date(start)),
                end_date: Some(date(end)),
            }),
            _ => None,
        },
    }
}
