//! The session flows: sign-up, login, refresh. Plain Rust over the store: the API
//! module validates the request and converts the outcome.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use pp_auth::{Role, TenantId};
use pp_db::{Lookup, TenantTx};
use pp_error::ApiError;
use uuid::Uuid;

use crate::State;
use crate::domain::secrets::{self, REFRESH_PREFIX};
use crate::domain::tokens;
use crate::store::{
    self, NewUser, SCHEMA, SessionKind, TenantRow, TenantStatus, UserRow, UserStatus,
};

const REFRESH_TTL_DAYS: i64 = 30;

/// Candidates checked when a login names no tenant (each costs one argon2id).
pub const MAX_LOGIN_CANDIDATES: i64 = 10;

/// An access token and the refresh token of its session.
pub struct IssuedTokens {
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

/// The event of an identity change, written in the change's transaction.
pub async fn record_event(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    actor: Option<Uuid>,
    event_type: &str,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    let mut event =
        pp_events::EventEnvelope::new(tenant_id, event_type, payload).with_current_request_id();
    event.user_id = actor;
    Ok(pp_events::outbox::record(tx, SCHEMA, &event).await?)
}

/// Mints a refresh token (stored in `tx`) and an access token for the session.
pub async fn issue_tokens(
    state: &State,
    tx: &mut TenantTx,
    user: &UserRow,
    session_id: Uuid,
) -> Result<IssuedTokens, ApiError> {
    let role = user.role.parse::<Role>().map_err(ApiError::internal)?;
    let refresh = secrets::mint(REFRESH_PREFIX, Uuid::new_v4()).map_err(ApiError::internal)?;
    let refresh_expires_at = Utc::now() + chrono::Duration::days(REFRESH_TTL_DAYS);
    store::insert_refresh(
        tx,
        user.tenant_id,
        refresh.id,
        session_id,
        &refresh.hash,
        refresh_expires_at,
    )
    .await?;
    let access = tokens::issue_access(
        &state.signing_key,
        &state.jwt,
        user.tenant_id,
        user.user_id,
        role,
        session_id,
    )
    .map_err(ApiError::internal)?;
    Ok(IssuedTokens {
        access_token: access.token,
        access_expires_at: access.expires_at,
        refresh_token: refresh.text,
        refresh_expires_at,
    })
}

pub struct NewTenant<'a> {
    pub tenant_name: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: String,
}

/// A new tenant with its first admin, signed in.
pub async fn sign_up(
    state: &State,
    input: NewTenant<'_>,
) -> Result<(TenantRow, UserRow, IssuedTokens), ApiError> {
    // The hash is computed before any transaction: no pool connection waits on it.
    let password_hash = state.hasher.hash(input.password).await?;
    let tenant_id = Uuid::new_v4();
    let user_id = Uuid::new_v4();
    let session_id = Uuid::new_v4();
    let mut tx = TenantTx::begin_for_tenant(&state.pool, TenantId(tenant_id)).await?;
    let tenant = store::insert_tenant(&mut tx, tenant_id, input.tenant_name).await?;
    let user = store::insert_user(
        &mut tx,
        tenant_id,
        NewUser {
            user_id,
            email: input.email,
            display_name: input.display_name,
            role: Role::Admin.as_str(),
            password_hash: Some(&password_hash),
        },
    )
    .await?;
    store::insert_session(&mut tx, tenant_id, session_id, user_id, SessionKind::Login).await?;
    let tokens = issue_tokens(state, &mut tx, &user, session_id).await?;
    record_event(
        &mut tx,
        tenant_id,
        Some(user_id),
        "tenant.created",
        serde_json::json!({ "name": tenant.name }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%tenant_id, %user_id, "tenant signed up");
    Ok((tenant, user, tokens))
}

pub struct LoginAttempt {
    /// Normalized (trimmed, lowercase).
    pub email: String,
    pub password: String,
    pub tenant_id: Option<Uuid>,
    pub client: Option<IpAddr>,
}

/// Checks the password and opens a session.
///
/// The attempt is charged to the throttle before anything is hashed; candidates are
/// read in a short lookup transaction that is over before hashing starts, so no pool
/// connection waits on argon2id.
pub async fn login(
    state: &State,
    attempt: LoginAttempt,
) -> Result<(UserRow, IssuedTokens), ApiError> {
    let charge = state
        .throttle
        .charge(&state.pool, &attempt.email, attempt.client)
        .await?;
    let candidates = {
        let mut tx =
            TenantTx::begin_lookup(&state.pool, Lookup::LoginEmail, &attempt.email).await?;
        let rows = store::login_candidates(
            &mut tx,
            &attempt.email,
            attempt.tenant_id,
            MAX_LOGIN_CANDIDATES,
        )
        .await?;
        tx.commit().await?;
        rows
    };
    let candidates = candidates
        .into_iter()
        .map(|user| {
            let hash = user.password_hash.clone();
            (user, hash)
        })
        .collect();
    let matched = state.hasher.matching(attempt.password, candidates).await?;
    let user = match <[UserRow; 1]>::try_from(matched) {
        Ok([user]) => user,
        Err(matched) if matched.is_empty() => {
            return Err(ApiError::Unauthenticated("INVALID_CREDENTIALS"));
        }
        // The password opens accounts in several tenants: the caller must choose. The
        // attempt stays charged, so this cannot be used to test passwords for free.
        Err(_) => return Err(ApiError::FailedPrecondition("TENANT_ID_REQUIRED")),
    };
    let mut tx = TenantTx::begin_for_tenant(&state.pool, TenantId(user.tenant_id)).await?;
    // Re-read in the tenant: the user or tenant may have changed while hashing.
    let current = store::get_user(&mut tx, user.user_id).await?;
    let tenant = store::get_tenant(&mut tx, user.tenant_id).await?;
    let Some(user) = current.filter(|u| u.status == UserStatus::Active) else {
        return Err(ApiError::Unauthenticated("INVALID_CREDENTIALS"));
    };
    if tenant.is_none_or(|t| t.status != TenantStatus::Active) {
        return Err(ApiError::Unauthenticated("TENANT_INACTIVE"));
    }
    let session_id = Uuid::new_v4();
    store::insert_session(
        &mut tx,
        user.tenant_id,
        session_id,
        user.user_id,
        SessionKind::Login,
    )
    .await?;
    let tokens = issue_tokens(state, &mut tx, &user, session_id).await?;
    tx.commit().await?;
    state.throttle.refund(&state.pool, charge).await?;
    Ok((user, tokens))
}

/// Rotates a refresh token: the old one is spent, a new pair is issued. Presenting a
/// spent token again means a copy exists elsewhere: the whole session is revoked.
pub async fn refresh(state: &State, refresh_token: &str) -> Result<IssuedTokens, ApiError> {
    let refused = || ApiError::Unauthenticated("INVALID_REFRESH_TOKEN");
    let Some((token_id, secret)) = secrets::parse(REFRESH_PREFIX, refresh_token) else {
        return Err(refused());
    };
    let mut tx =
        TenantTx::begin_lookup(&state.pool, Lookup::RefreshTokenId, &token_id.to_string()).await?;
    let Some(row) = store::refresh_for_update(&mut tx, token_id).await? else {
        return Err(refused());
    };
    if !secrets::matches(secret, &row.secret_hash) {
        return Err(refused());
    }
    tx.enter_tenant(TenantId(row.tenant_id)).await?;
    if row.used_at.is_some() {
        store::revoke_session(&mut tx, row.session_id).await?;
        tx.commit().await?;
        tracing::warn!(tenant_id = %row.tenant_id, session_id = %row.session_id, "refresh token reuse; session revoked");
        return Err(ApiError::Unauthenticated("REFRESH_TOKEN_REUSED"));
    }
    if row.expires_at <= Utc::now() || store::session_revoked(&mut tx, row.session_id).await? {
        return Err(refused());
    }
    let user_id = store::session_user(&mut tx, row.session_id)
        .await?
        .ok_or_else(refused)?;
    let user = store::get_user(&mut tx, user_id).await?;
    let tenant = store::get_tenant(&mut tx, row.tenant_id).await?;
    let (Some(user), Some(tenant)) = (user, tenant) else {
        return Err(refused());
    };
    if user.status != UserStatus::Active || tenant.status != TenantStatus::Active {
        return Err(refused());
    }
    store::mark_refresh_used(&mut tx, token_id).await?;
    let tokens = issue_tokens(state, &mut tx, &user, row.session_id).await?;
    tx.commit().await?;
    Ok(tokens)
}
