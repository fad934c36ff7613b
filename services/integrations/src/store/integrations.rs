//! SQL for `integrations.integrations`, `oauth_states` and `webhook_deliveries`.

use chrono::{DateTime, Utc};
use pp_db::{PageRequest, TenantTx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntegrationRow {
    pub integration_id: Uuid,
    pub brand_id: Uuid,
    pub platform: String,
    pub status: String,
    pub external_account_id: String,
    pub display_name: String,
    pub currency_code: Option<String>,
    pub time_zone: Option<String>,
    pub scopes: Vec<String>,
    pub demo: bool,
    pub demo_seed: Option<i64>,
    pub demo_history_days: Option<i32>,
    pub credentials: Option<Vec<u8>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub sync_state: serde_json::Value,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_run_id: Option<Uuid>,
    pub error_reason: Option<String>,
    pub error_message: Option<String>,
    pub connected_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disconnected_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "integration_id, brand_id, platform, status, external_account_id, \
    display_name, currency_code, time_zone, scopes, demo, demo_seed, demo_history_days, \
    credentials, token_expires_at, sync_state, last_sync_at, last_sync_run_id, error_reason, \
    error_message, connected_by, created_at, updated_at, disconnected_at";

/// What a new connection is.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub integration_id: Uuid,
    pub brand_id: Uuid,
    pub platform: &'static str,
    pub external_account_id: String,
    pub display_name: String,
    pub currency_code: Option<String>,
    pub time_zone: Option<String>,
    pub scopes: Vec<String>,
    pub demo: Option<(i64, i32)>,
    pub credentials: Option<Vec<u8>>,
    pub credentials_key_id: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub connected_by: Uuid,
}

/// The brand's currency and time zone, if the brand exists in the caller's tenant.
pub async fn brand(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("select currency_code, time_zone from brands.brands where brand_id = $1")
            .bind(brand_id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Inserts a connected integration, or reconnects the live one for the same account
/// (a second OAuth for the same shop replaces its tokens rather than duplicating it).
pub async fn connect(tx: &mut TenantTx, new: &NewIntegration) -> pp_db::Result<IntegrationRow> {
    let (demo, seed, days) = match new.demo {
        Some((seed, days)) => (true, Some(seed), Some(days)),
        None => (false, None, None),
    };
    Ok(sqlx::query_as(&format!(
        "insert into integrations.integrations (tenant_id, integration_id, brand_id, platform,
             status, external_account_id, display_name, currency_code, time_zone, scopes, demo,
             demo_seed, demo_history_days, credentials, credentials_key_id, token_expires_at,
             connected_by)
         values (integrations.current_tenant(), $1, $2, $3, 'connected', $4, $5, $6, $7, $8, $9,
                 $10, $11, $12, $13, $14, $15)
         on conflict (tenant_id, brand_id, platform, external_account_id)
             where status <> 'disconnected'
         do update set status = 'connected', display_name = excluded.display_name,
             currency_code = excluded.currency_code, time_zone = excluded.time_zone,
             scopes = excluded.scopes, credentials = excluded.credentials,
             credentials_key_id = excluded.credentials_key_id,
             token_expires_at = excluded.token_expires_at, connected_by = excluded.connected_by,
             error_reason = null, error_message = null, updated_at = now()
         returning {COLUMNS}"
    ))
    .bind(new.integration_id)
    .bind(new.brand_id)
    .bind(new.platform)
    .bind(&new.external_account_id)
    .bind(&new.display_name)
    .bind(&new.currency_code)
    .bind(&new.time_zone)
    .bind(&new.scopes)
    .bind(demo)
    .bind(seed)
    .bind(days)
    .bind(&new.credentials)
    .bind(&new.credentials_key_id)
    .bind(new.token_expires_at)
    .bind(new.connected_by)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, integration_id: Uuid) -> pp_db::Result<Option<IntegrationRow>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from integrations.integrations where integration_id = $1"
    ))
    .bind(integration_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Locks the row for a state change.
pub async fn get_for_update(
    tx: &mut TenantTx,
    integration_id: Uuid,
) -> pp_db::Result<Option<IntegrationRow>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from integrations.integrations where integration_id = $1 for update"
    ))
    .bind(integration_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Filters for a list.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub brand_id: Option<Uuid>,
    /// Brands the caller may see; None = all.
    pub brand_scope: Option<Vec<Uuid>>,
    pub platform: Option<&'static str>,
    pub status: Option<&'static str>,
}

pub async fn list(
    tx: &mut TenantTx,
    filter: &ListFilter,
    page: &PageRequest,
) -> pp_db::Result<(Vec<IntegrationRow>, String)> {
    let (after_time, after_id) = page.after_parts();
    let rows: Vec<IntegrationRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from integrations.integrations
         where ($1::uuid is null or brand_id = $1)
           and ($2::uuid[] is null or brand_id = any($2))
           and ($3::text is null or platform = $3)
           and (case when $4::text is null then status <> 'disconnected' else status = $4 end)
           and ($5 or (created_at, integration_id) < ($6, $7))
         order by created_at desc, integration_id desc
         limit $8"
    ))
    .bind(filter.brand_id)
    .bind(&filter.brand_scope)
    .bind(filter.platform)
    .bind(filter.status)
    .bind(page.after.is_none())
    .bind(after_time)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |r| pp_db::Cursor {
        created_at: r.created_at,
        id: r.integration_id,
    }))
}

/// Marks the integration disconnected and forgets its tokens.
pub async fn disconnect(tx: &mut TenantTx, integration_id: Uuid) -> pp_db::Result<IntegrationRow> {
    Ok(sqlx::query_as(&format!(
        "update integrations.integrations
         set status = 'disconnected', credentials = null, credentials_key_id = null,
             token_expires_at = null, disconnected_at = coalesce(disconnected_at, now()),
             updated_at = now()
         where integration_id = $1
         returning {COLUMNS}"
    ))
    .bind(integration_id)
    .fetch_one(tx.conn())
    .await?)
}

/// Records a health change (error, reauth, back to connected).
pub async fn set_status(
    tx: &mut TenantTx,
    integration_id: Uuid,
    status: &str,
    error: Option<(&str, &str)>,
) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.integrations
         set status = $2, error_reason = $3, error_message = $4, updated_at = now()
         where integration_id = $1 and status <> 'disconnected'",
    )
    .bind(integration_id)
    .bind(status)
    .bind(error.map(|e| e.0))
    .bind(error.map(|e| e.1))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Stores refreshed credentials.
pub async fn store_credentials(
    tx: &mut TenantTx,
    integration_id: Uuid,
    sealed: &[u8],
    key_id: &str,
    expires_at: Option<DateTime<Utc>>,
) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.integrations
         set credentials = $2, credentials_key_id = $3, token_expires_at = $4, updated_at = now()
         where integration_id = $1 and status <> 'disconnected'",
    )
    .bind(integration_id)
    .bind(sealed)
    .bind(key_id)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records a successful run: high-water marks advance, the integration is healthy.
pub async fn record_success(
    tx: &mut TenantTx,
    integration_id: Uuid,
    sync_run_id: Uuid,
    sync_state: &serde_json::Value,
) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.integrations
         set sync_state = $3, last_sync_at = now(), last_sync_run_id = $2,
             status = case when status in ('error', 'connected') then 'connected' else status end,
             error_reason = case when status = 'error' then null else error_reason end,
             error_message = case when status = 'error' then null else error_message end,
             updated_at = now()
         where integration_id = $1",
    )
    .bind(integration_id)
    .bind(sync_run_id)
    .bind(sync_state)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_last_run(tx: &mut TenantTx, integration_id: Uuid, run: Uuid) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.integrations set last_sync_run_id = $2, updated_at = now()
         where integration_id = $1",
    )
    .bind(integration_id)
    .bind(run)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The Shopify integration (tenant, id, status) of a shop, through the shop lookup.
pub async fn by_shop(tx: &mut TenantTx, shop: &str) -> pp_db::Result<Option<(Uuid, Uuid, String)>> {
    Ok(sqlx::query_as(
        "select tenant_id, integration_id, status from integrations.integrations
         where platform = 'shopify' and external_account_id = $1
         order by (status = 'disconnected'), updated_at desc
         limit 1",
    )
    .bind(shop)
    .fetch_optional(tx.conn())
    .await?)
}

/// Every integration's sealed credentials, locked (`reencrypt`; a transaction opened
/// with the key-rotation lookup): (tenant, integration, blob).
pub async fn sealed_for_rotation(tx: &mut TenantTx) -> pp_db::Result<Vec<(Uuid, Uuid, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "select tenant_id, integration_id, credentials from integrations.integrations
         where credentials is not null for update",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Replaces one integration's sealed credentials (`reencrypt`).
pub async fn replace_sealed(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    integration_id: Uuid,
    sealed: &[u8],
    key_id: &str,
) -> pp_db::Result<()> {
    sqlx::query(
        "update integrations.integrations set credentials = $3, credentials_key_id = $4
         where tenant_id = $1 and integration_id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(sealed)
    .bind(key_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

// === OAuth states ===

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OAuthStateRow {
    pub user_id: Uuid,
    pub brand_id: Uuid,
    pub platform: String,
    pub redirect_uri: String,
    pub shop_domain: Option<String>,
    pub pkce_verifier: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_state(
    tx: &mut TenantTx,
    state_hash: &[u8],
    user_id: Uuid,
    brand_id: Uuid,
    platform: &str,
    redirect_uri: &str,
    shop_domain: Option<&str>,
    pkce_verifier: Option<&[u8]>,
    expires_at: DateTime<Utc>,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into integrations.oauth_states (tenant_id, state_hash, user_id, brand_id,
             platform, redirect_uri, shop_domain, pkce_verifier, expires_at)
         values (integrations.current_tenant(), $1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(state_hash)
    .bind(user_id)
    .bind(brand_id)
    .bind(platform)
    .bind(redirect_uri)
    .bind(shop_domain)
    .bind(pkce_verifier)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks the state used and returns it as it was (used_at shows a replay).
pub async fn take_state(
    tx: &mut TenantTx,
    state_hash: &[u8],
) -> pp_db::Result<Option<OAuthStateRow>> {
    Ok(sqlx::query_as(
        "update integrations.oauth_states s set used_at = coalesce(s.used_at, now())
         from (select state_hash, used_at from integrations.oauth_states
               where state_hash = $1 for update) old
         where s.state_hash = old.state_hash and s.tenant_id = integrations.current_tenant()
         returning s.user_id, s.brand_id, s.platform, s.redirect_uri, s.shop_domain,
                   s.pkce_verifier, s.expires_at, old.used_at",
    )
    .bind(state_hash)
    .fetch_optional(tx.conn())
    .await?)
}

/// Drops states that can no longer be used.
pub async fn prune_states(tx: &mut TenantTx) -> pp_db::Result<()> {
    sqlx::query(
        "delete from integrations.oauth_states where expires_at < now() - interval '1 day'",
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

// === Webhooks ===

/// Records a delivery; false when this webhook id was already received.
pub async fn record_delivery(
    tx: &mut TenantTx,
    webhook_id: &str,
    topic: &str,
    event_id: Option<&str>,
) -> pp_db::Result<bool> {
    let inserted = sqlx::query(
        "insert into integrations.webhook_deliveries (tenant_id, webhook_id, topic, event_id)
         values (integrations.current_tenant(), $1, $2, $3)
         on conflict do nothing",
    )
    .bind(webhook_id)
    .bind(topic)
    .bind(event_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
