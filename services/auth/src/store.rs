//! SQL for the auth schema. Every function that touches tenant data takes a `TenantTx`.

use chrono::{DateTime, Utc};
use pp_db::{Cursor, PageRequest, PgPool, TenantTx};
use uuid::Uuid;

pub const SCHEMA: &str = "auth";

/// `auth.tenants.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

/// `auth.users.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Deactivated,
}

/// `auth.sessions.kind`: a refresh-token family or an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SessionKind {
    Login,
    ApiKey,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub tenant_id: Uuid,
    pub name: String,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub tenant_id: Uuid,
    pub api_key_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub tenant_id: Uuid,
    pub token_id: Uuid,
    pub session_id: Uuid,
    pub secret_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str =
    "tenant_id, user_id, email, display_name, role, status, password_hash, created_at";

pub async fn insert_tenant(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    name: &str,
) -> pp_db::Result<TenantRow> {
    sqlx::query_as("insert into auth.tenants (tenant_id, name) values ($1, $2) returning tenant_id, name, status, created_at")
        .bind(tenant_id)
        .bind(name)
        .fetch_one(tx.conn())
        .await
    .map_err(Into::into)
}

pub async fn get_tenant(tx: &mut TenantTx, tenant_id: Uuid) -> pp_db::Result<Option<TenantRow>> {
    sqlx::query_as(
        "select tenant_id, name, status, created_at from auth.tenants where tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub struct NewUser<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub password_hash: Option<&'a str>,
}

pub async fn insert_user(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    user: NewUser<'_>,
) -> pp_db::Result<UserRow> {
    sqlx::query_as(&format!(
        "insert into auth.users (tenant_id, user_id, email, display_name, role, password_hash)
         values ($1, $2, $3, $4, $5, $6) returning {USER_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(user.user_id)
    .bind(user.email)
    .bind(user.display_name)
    .bind(user.role)
    .bind(user.password_hash)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn get_user(tx: &mut TenantTx, user_id: Uuid) -> pp_db::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "select {USER_COLUMNS} from auth.users where user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// The active users with this email (any tenant, or only `tenant_id`), newest first,
/// at most `limit`: visible through the login lookup policy.
pub async fn login_candidates(
    tx: &mut TenantTx,
    email: &str,
    tenant_id: Option<Uuid>,
    limit: i64,
) -> pp_db::Result<Vec<UserRow>> {
    Ok(sqlx::query_as(&format!(
        "select {USER_COLUMNS} from auth.users
         where lower(email) = $1 and status = 'active' and ($2::uuid is null or tenant_id = $2)
         order by created_at desc limit $3"
    ))
    .bind(email)
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

pub async fn list_users(
    tx: &mut TenantTx,
    page: &PageRequest,
) -> pp_db::Result<(Vec<UserRow>, String)> {
    let (after_time, after_id) = page.after_parts();
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "select {USER_COLUMNS} from auth.users
         where role <> 'api_client' and (created_at, user_id) > ($1, $2)
         order by created_at, user_id limit $3"
    ))
    .bind(after_time)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |u| Cursor {
        created_at: u.created_at,
        id: u.user_id,
    }))
}

pub async fn set_user_role(
    tx: &mut TenantTx,
    user_id: Uuid,
    role: &str,
) -> pp_db::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "update auth.users set role = $2 where user_id = $1 and role <> 'api_client' returning {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(role)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn deactivate_user(tx: &mut TenantTx, user_id: Uuid) -> pp_db::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "update auth.users set status = 'deactivated' where user_id = $1 returning {USER_COLUMNS}"
    ))
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn insert_session(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
    kind: SessionKind,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into auth.sessions (tenant_id, session_id, user_id, kind) values ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(session_id)
    .bind(user_id)
    .bind(kind)
    .execute(tx.conn())
    .await
    .map(drop)
    .map_err(Into::into)
}

pub async fn revoke_session(tx: &mut TenantTx, session_id: Uuid) -> pp_db::Result<()> {
    sqlx::query(
        "update auth.sessions set revoked_at = coalesce(revoked_at, now()) where session_id = $1",
    )
    .bind(session_id)
    .execute(tx.conn())
    .await
    .map(drop)
    .map_err(Into::into)
}

pub async fn session_revoked(tx: &mut TenantTx, session_id: Uuid) -> pp_db::Result<bool> {
    let revoked: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("select revoked_at from auth.sessions where session_id = $1")
            .bind(session_id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(!matches!(revoked, Some(None)))
}

pub async fn revoke_sessions_of_user(tx: &mut TenantTx, user_id: Uuid) -> pp_db::Result<()> {
    sqlx::query(
        "update auth.sessions set revoked_at = coalesce(revoked_at, now()) where user_id = $1",
    )
    .bind(user_id)
    .execute(tx.conn())
    .await
    .map(drop)
    .map_err(Into::into)
}

pub async fn revoke_token(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    jti: Uuid,
    expires_at: DateTime<Utc>,
) -> pp_db::Result<()> {
    sqlx::query("insert into auth.revoked_tokens (tenant_id, jti, expires_at) values ($1, $2, $3) on conflict do nothing")
        .bind(tenant_id)
        .bind(jti)
        .bind(expires_at)
        .execute(tx.conn())
        .await
        .map(drop)
    .map_err(Into::into)
}

pub async fn insert_refresh(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    token_id: Uuid,
    session_id: Uuid,
    secret_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> pp_db::Result<()> {
    sqlx::query(
        "insert into auth.refresh_tokens (tenant_id, token_id, session_id, secret_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(token_id)
    .bind(session_id)
    .bind(secret_hash)
    .bind(expires_at)
    .execute(tx.conn())
    .await
    .map(drop)
    .map_err(Into::into)
}

/// The refresh token by id, locked for the rotation.
pub async fn refresh_for_update(
    tx: &mut TenantTx,
    token_id: Uuid,
) -> pp_db::Result<Option<RefreshRow>> {
    sqlx::query_as(
        "select tenant_id, token_id, session_id, secret_hash, expires_at, used_at
         from auth.refresh_tokens where token_id = $1 for update",
    )
    .bind(token_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn mark_refresh_used(tx: &mut TenantTx, token_id: Uuid) -> pp_db::Result<()> {
    sqlx::query("update auth.refresh_tokens set used_at = now() where token_id = $1")
        .bind(token_id)
        .execute(tx.conn())
        .await
        .map(drop)
        .map_err(Into::into)
}

pub async fn session_user(tx: &mut TenantTx, session_id: Uuid) -> pp_db::Result<Option<Uuid>> {
    sqlx::query_scalar("select user_id from auth.sessions where session_id = $1")
        .bind(session_id)
        .fetch_optional(tx.conn())
        .await
        .map_err(Into::into)
}

const API_KEY_COLUMNS: &str = "tenant_id, api_key_id, user_id, name, prefix, secret_hash, created_at, revoked_at, last_used_at";

pub async fn insert_api_key(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    api_key_id: Uuid,
    user_id: Uuid,
    name: &str,
    prefix: &str,
    secret_hash: &[u8],
) -> pp_db::Result<ApiKeyRow> {
    sqlx::query_as(&format!(
        "insert into auth.api_keys (tenant_id, api_key_id, user_id, name, prefix, secret_hash)
         values ($1, $2, $3, $4, $5, $6) returning {API_KEY_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(api_key_id)
    .bind(user_id)
    .bind(name)
    .bind(prefix)
    .bind(secret_hash)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn get_api_key(tx: &mut TenantTx, api_key_id: Uuid) -> pp_db::Result<Option<ApiKeyRow>> {
    sqlx::query_as(&format!(
        "select {API_KEY_COLUMNS} from auth.api_keys where api_key_id = $1"
    ))
    .bind(api_key_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn list_api_keys(
    tx: &mut TenantTx,
    page: &PageRequest,
) -> pp_db::Result<(Vec<ApiKeyRow>, String)> {
    let (after_time, after_id) = page.after_parts();
    let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
        "select {API_KEY_COLUMNS} from auth.api_keys where (created_at, api_key_id) > ($1, $2)
         order by created_at, api_key_id limit $3"
    ))
    .bind(after_time)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |k| Cursor {
        created_at: k.created_at,
        id: k.api_key_id,
    }))
}

pub async fn revoke_api_key(
    tx: &mut TenantTx,
    api_key_id: Uuid,
) -> pp_db::Result<Option<ApiKeyRow>> {
    sqlx::query_as(&format!(
        "update auth.api_keys set revoked_at = coalesce(revoked_at, now()) where api_key_id = $1 returning {API_KEY_COLUMNS}"
    ))
    .bind(api_key_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

pub async fn touch_api_key(tx: &mut TenantTx, api_key_id: Uuid) -> pp_db::Result<()> {
    sqlx::query("update auth.api_keys set last_used_at = now() where api_key_id = $1")
        .bind(api_key_id)
        .execute(tx.conn())
        .await
        .map(drop)
        .map_err(Into::into)
}

/// Charges one login attempt to each counter `keys[i]` (limit `limits[i]` per window)
/// unless one of them is already at its limit: then nothing changes and the end of
/// the earliest-ending full window is returned. The counter rows are locked for the
/// read and the bump, so concurrent attempts are counted one by one.
pub async fn charge_login_attempt(
    pool: &PgPool,
    keys: &[String],
    limits: &[i32],
    window_secs: i64,
) -> pp_db::Result<Option<DateTime<Utc>>> {
    let mut tx = pool.begin().await?;
    // Counters are not tenant data: they are keyed by the email and address tried.
    // Three statements, not one: each sees what committed before it started, so a
    // counter another attempt is creating is waited for, then locked.
    sqlx::query(
        "insert into auth.login_throttle (key, window_start, failures)
         select key, now(), 0 from unnest($1::text[]) as key
         on conflict (key) do nothing",
    )
    .bind(keys)
    .execute(&mut *tx)
    .await?;
    let refused_until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "with current as (
             select t.key, w.lim, t.window_start,
                    case when t.window_start > now() - make_interval(secs => $3)
                         then t.failures else 0 end as failures
             from auth.login_throttle t
             join unnest($1::text[], $2::int[]) as w(key, lim) using (key)
             order by t.key
             for update of t
         )
         select min(window_start + make_interval(secs => $3)) from current where failures >= lim",
    )
    .bind(keys)
    .bind(limits)
    .bind(window_secs as f64)
    .fetch_one(&mut *tx)
    .await?;
    if refused_until.is_none() {
        sqlx::query(
            "update auth.login_throttle set
                 failures = case when window_start > now() - make_interval(secs => $2) then failures + 1 else 1 end,
                 window_start = case when window_start > now() - make_interval(secs => $2) then window_start else now() end
             where key = any($1)",
        )
        .bind(keys)
        .bind(window_secs as f64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(refused_until)
}

/// Gives back one attempt's charge (the login succeeded).
pub async fn refund_login_attempt(pool: &PgPool, keys: &[String]) -> pp_db::Result<()> {
    sqlx::query(
        "update auth.login_throttle set failures = greatest(failures - 1, 0) where key = any($1)",
    )
    .bind(keys)
    .execute(pool)
    .await?;
    Ok(())
}

/// Drops counters whose window ended long ago.
pub async fn prune_login_throttle(pool: &PgPool, older_than_secs: i64) -> pp_db::Result<u64> {
    Ok(sqlx::query(
        "delete from auth.login_throttle where window_start < now() - make_interval(secs => $1)",
    )
    .bind(older_than_secs as f64)
    .execute(pool)
    .await?
    .rows_affected())
}
