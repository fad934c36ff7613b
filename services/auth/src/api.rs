//! gRPC adapters: principal → authorize → validate → domain/store → response.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use pp_auth::{Principal, Role, TenantId};
use pp_db::timestamp;
use pp_db::{Lookup, PageRequest, TenantTx, idempotency};
use pp_error::{ApiError, FieldViolation};
use pp_proto::auth as pb;
use pp_proto::auth::auth_service_server::AuthService;
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::State;
use crate::domain::secrets::{self, API_KEY_PREFIX, REFRESH_PREFIX};
use crate::domain::{tokens, validate};
use crate::store::{self, ApiKeyRow, NewUser, SCHEMA, TenantRow, UserRow};

const REFRESH_TTL_DAYS: i64 = 30;

pub struct AuthApi {
    state: Arc<State>,
}

impl AuthApi {
    pub fn new(state: Arc<State>) -> Self {
        AuthApi { state }
    }
}

type ApiResult<T> = Result<Response<T>, Status>;

fn db(error: sqlx::Error) -> ApiError {
    ApiError::internal(error)
}

fn unix_timestamp(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

fn tenant_proto(row: &TenantRow) -> pb::Tenant {
    pb::Tenant {
        tenant_id: row.tenant_id.to_string(),
        name: row.name.clone(),
        status: match row.status.as_str() {
            "active" => pb::TenantStatus::Active,
            _ => pb::TenantStatus::Suspended,
        } as i32,
        create_time: Some(timestamp(row.created_at)),
    }
}

fn user_proto(row: &UserRow) -> pb::User {
    let role = row
        .role
        .parse::<Role>()
        .map(|r| r.to_proto() as i32)
        .unwrap_or_default();
    pb::User {
        user_id: row.user_id.to_string(),
        tenant_id: row.tenant_id.to_string(),
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        role,
        status: match row.status.as_str() {
            "active" => pb::UserStatus::Active,
            _ => pb::UserStatus::Deactivated,
        } as i32,
        create_time: Some(timestamp(row.created_at)),
    }
}

fn api_key_proto(row: &ApiKeyRow) -> pb::ApiKey {
    pb::ApiKey {
        api_key_id: row.api_key_id.to_string(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        create_time: Some(timestamp(row.created_at)),
        revoke_time: row.revoked_at.map(timestamp),
        last_use_time: row.last_used_at.map(timestamp),
    }
}

/// The event of an identity change, written in the change's transaction.
async fn record_event(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    actor: Option<Uuid>,
    event_type: &str,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    let mut event =
        pp_events::EventEnvelope::new(tenant_id, event_type, payload).with_current_request_id();
    event.user_id = actor;
    pp_events::outbox::record(tx, SCHEMA, &event)
        .await
        .map_err(db)
}

/// A role a person may be given (api_client belongs to API keys only).
fn person_role(field: &str, value: i32, violations: &mut Vec<FieldViolation>) -> Option<Role> {
    match Role::from_proto(value) {
        Some(Role::ApiClient) => {
            violations.push(FieldViolation::new(
                field,
                "api_client is reserved for API keys",
            ));
            None
        }
        Some(role) => Some(role),
        None => {
            violations.push(FieldViolation::new(
                field,
                "must be admin, manager or analyst",
            ));
            None
        }
    }
}

/// The client address: the gateway's `x-forwarded-for`, else the peer.
fn client_ip<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .or_else(|| request.remote_addr().map(|addr| addr.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_owned())
}

impl AuthApi {
    async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        let policy = self.state.passwords;
        tokio::task::spawn_blocking(move || policy.hash(&password))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    /// Mints a refresh token (stored in `tx`) and an access token for the session.
    async fn issue_pair(
        &self,
        tx: &mut TenantTx,
        tenant_id: Uuid,
        user_id: Uuid,
        role: Role,
        session_id: Uuid,
    ) -> Result<pb::TokenPair, ApiError> {
        let refresh = secrets::mint(REFRESH_PREFIX, Uuid::new_v4()).map_err(ApiError::internal)?;
        let refresh_expires = Utc::now() + chrono::Duration::days(REFRESH_TTL_DAYS);
        store::insert_refresh(
            tx,
            tenant_id,
            refresh.id,
            session_id,
            &refresh.hash,
            refresh_expires,
        )
        .await
        .map_err(db)?;
        let access = tokens::issue_access(
            &self.state.signing_key,
            &self.state.jwt,
            tenant_id,
            user_id,
            role,
            session_id,
        )
        .map_err(ApiError::internal)?;
        Ok(pb::TokenPair {
            access_token: access.token,
            access_token_expire_time: Some(unix_timestamp(access.expires_at)),
            refresh_token: refresh.text,
            refresh_token_expire_time: Some(timestamp(refresh_expires)),
        })
    }

    async fn throttle(&self, email: &str, ip: &str) -> Result<(), ApiError> {
        let limits = self.state.throttle;
        let (by_account, by_ip, oldest) =
            store::recent_failures(&self.state.pool, email, ip, limits.window_secs)
                .await
                .map_err(db)?;
        if by_account >= limits.max_failures_per_account {
            let retry_at =
                oldest.unwrap_or_else(Utc::now) + chrono::Duration::seconds(limits.window_secs);
            let retry_after = (retry_at - Utc::now())
                .to_std()
                .unwrap_or_default()
                .max(std::time::Duration::from_secs(1));
            return Err(ApiError::ResourceExhausted {
                reason: "LOGIN_THROTTLED",
                retry_after,
            });
        }
        if by_ip >= limits.max_failures_per_ip {
            return Err(ApiError::ResourceExhausted {
                reason: "LOGIN_THROTTLED",
                retry_after: std::time::Duration::from_secs(60),
            });
        }
        Ok(())
    }

    async fn sign_up(&self, request: pb::SignUpRequest) -> Result<pb::SignUpResponse, ApiError> {
        let mut violations = Vec::new();
        validate::name("tenant_name", &request.tenant_name, 200, &mut violations);
        validate::email("email", &request.email, &mut violations);
        validate::password("password", &request.password, &mut violations);
        if request.display_name.chars().count() > 200 {
            violations.push(FieldViolation::new(
                "display_name",
                "must have at most 200 characters",
            ));
        }
        ApiError::check(violations)?;
        let password_hash = self.hash_password(request.password).await?;
        let tenant_id = Uuid::new_v4();
        let user_id = Uuid::new_v4();
        let session_id = Uuid::new_v4();
        let email = validate::normalize_email(&request.email);
        let mut tx = TenantTx::begin_for_tenant(&self.state.pool, TenantId(tenant_id))
            .await
            .map_err(db)?;
        let tenant = store::insert_tenant(&mut tx, tenant_id, request.tenant_name.trim())
            .await
            .map_err(db)?;
        let user = store::insert_user(
            &mut tx,
            tenant_id,
            NewUser {
                user_id,
                email: &email,
                display_name: request.display_name.trim(),
                role: Role::Admin.as_str(),
                password_hash: Some(&password_hash),
            },
        )
        .await
        .map_err(db)?;
        store::insert_session(&mut tx, tenant_id, session_id, user_id, "login")
            .await
            .map_err(db)?;
        let tokens = self
            .issue_pair(&mut tx, tenant_id, user_id, Role::Admin, session_id)
            .await?;
        record_event(
            &mut tx,
            tenant_id,
            Some(user_id),
            "tenant.created",
            serde_json::json!({ "name": tenant.name }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        tracing::info!(%tenant_id, %user_id, "tenant signed up");
        Ok(pb::SignUpResponse {
            tenant: Some(tenant_proto(&tenant)),
            user: Some(user_proto(&user)),
            tokens: Some(tokens),
        })
    }

    async fn login(
        &self,
        request: pb::LoginRequest,
        ip: String,
    ) -> Result<pb::LoginResponse, ApiError> {
        let mut violations = Vec::new();
        if request.email.trim().is_empty() {
            violations.push(FieldViolation::new("email", "is required"));
        }
        if request.password.is_empty() {
            violations.push(FieldViolation::new("password", "is required"));
        }
        let wanted_tenant = if request.tenant_id.is_empty() {
            None
        } else {
            match Uuid::parse_str(&request.tenant_id) {
                Ok(id) => Some(id),
                Err(_) => {
                    violations.push(FieldViolation::new("tenant_id", "must be a UUID"));
                    None
                }
            }
        };
        ApiError::check(violations)?;
        let email = validate::normalize_email(&request.email);
        self.throttle(&email, &ip).await?;

        let mut tx = TenantTx::begin_lookup(&self.state.pool, Lookup::LoginEmail, &email)
            .await
            .map_err(db)?;
        let candidates: Vec<UserRow> = store::users_by_email(&mut tx, &email)
            .await
            .map_err(db)?
            .into_iter()
            .filter(|u| u.status == "active" && wanted_tenant.is_none_or(|t| t == u.tenant_id))
            .collect();
        let policy = self.state.passwords;
        let password = request.password;
        let matched: Vec<UserRow> = tokio::task::spawn_blocking(move || {
            if candidates.is_empty() {
                policy.burn(&password);
            }
            candidates
                .into_iter()
                .filter(|u| {
                    u.password_hash
                        .as_deref()
                        .is_some_and(|h| policy.verify(&password, h))
                })
                .collect()
        })
        .await
        .map_err(ApiError::internal)?;

        let user = match matched.as_slice() {
            [user] => user.clone(),
            [] => {
                drop(tx);
                store::record_attempt(&self.state.pool, &email, &ip, false)
                    .await
                    .map_err(db)?;
                return Err(ApiError::Unauthenticated("INVALID_CREDENTIALS"));
            }
            _ => return Err(ApiError::FailedPrecondition("TENANT_ID_REQUIRED")),
        };
        tx.enter_tenant(TenantId(user.tenant_id))
            .await
            .map_err(db)?;
        let tenant = store::get_tenant(&mut tx, user.tenant_id)
            .await
            .map_err(db)?;
        if tenant.is_none_or(|t| t.status != "active") {
            return Err(ApiError::Unauthenticated("TENANT_INACTIVE"));
        }
        let role = user.role.parse::<Role>().map_err(ApiError::internal)?;
        let session_id = Uuid::new_v4();
        store::insert_session(&mut tx, user.tenant_id, session_id, user.user_id, "login")
            .await
            .map_err(db)?;
        let tokens = self
            .issue_pair(&mut tx, user.tenant_id, user.user_id, role, session_id)
            .await?;
        tx.commit().await.map_err(db)?;
        store::record_attempt(&self.state.pool, &email, &ip, true)
            .await
            .map_err(db)?;
        Ok(pb::LoginResponse {
            user: Some(user_proto(&user)),
            tokens: Some(tokens),
        })
    }

    async fn refresh(
        &self,
        request: pb::RefreshTokenRequest,
    ) -> Result<pb::RefreshTokenResponse, ApiError> {
        if request.refresh_token.is_empty() {
            return Err(ApiError::invalid("refresh_token", "is required"));
        }
        let refused = ApiError::Unauthenticated("INVALID_REFRESH_TOKEN");
        let Some((token_id, secret)) = secrets::parse(REFRESH_PREFIX, &request.refresh_token)
        else {
            return Err(refused);
        };
        let mut tx = TenantTx::begin_lookup(
            &self.state.pool,
            Lookup::RefreshTokenId,
            &token_id.to_string(),
        )
        .await
        .map_err(db)?;
        let Some(row) = store::refresh_for_update(&mut tx, token_id)
            .await
            .map_err(db)?
        else {
            return Err(refused);
        };
        if !secrets::matches(secret, &row.secret_hash) {
            return Err(refused);
        }
        tx.enter_tenant(TenantId(row.tenant_id)).await.map_err(db)?;
        if row.used_at.is_some() {
            // Reuse of a rotated token: someone else has a copy. Revoke the family.
            store::revoke_session(&mut tx, row.session_id)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            tracing::warn!(tenant_id = %row.tenant_id, session_id = %row.session_id, "refresh token reuse; session revoked");
            return Err(ApiError::Unauthenticated("REFRESH_TOKEN_REUSED"));
        }
        if row.expires_at <= Utc::now()
            || store::session_revoked(&mut tx, row.session_id)
                .await
                .map_err(db)?
        {
            return Err(refused);
        }
        let user_id = store::session_user(&mut tx, row.session_id)
            .await
            .map_err(db)?
            .ok_or(ApiError::Unauthenticated("INVALID_REFRESH_TOKEN"))?;
        let user = store::get_user(&mut tx, user_id).await.map_err(db)?;
        let tenant = store::get_tenant(&mut tx, row.tenant_id)
            .await
            .map_err(db)?;
        let (Some(user), Some(tenant)) = (user, tenant) else {
            return Err(refused);
        };
        if user.status != "active" || tenant.status != "active" {
            return Err(refused);
        }
        store::mark_refresh_used(&mut tx, token_id)
            .await
            .map_err(db)?;
        let role = user.role.parse::<Role>().map_err(ApiError::internal)?;
        let tokens = self
            .issue_pair(&mut tx, row.tenant_id, user_id, role, row.session_id)
            .await?;
        tx.commit().await.map_err(db)?;
        Ok(pb::RefreshTokenResponse {
            tokens: Some(tokens),
        })
    }

    async fn logout(
        &self,
        principal: Principal,
        request: pb::LogoutRequest,
    ) -> Result<pb::LogoutResponse, ApiError> {
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let expires = Utc
            .timestamp_opt(principal.expires_at, 0)
            .single()
            .unwrap_or_else(Utc::now);
        store::revoke_token(&mut tx, principal.tenant_id.0, principal.token_id, expires)
            .await
            .map_err(db)?;
        if let Some(session_id) = principal.session_id {
            store::revoke_session(&mut tx, session_id)
                .await
                .map_err(db)?;
        }
        if let Some((token_id, _)) = secrets::parse(REFRESH_PREFIX, &request.refresh_token) {
            // Only this tenant's tokens are visible here (no lookup context is set).
            if let Some(row) = store::refresh_for_update(&mut tx, token_id)
                .await
                .map_err(db)?
            {
                store::revoke_session(&mut tx, row.session_id)
                    .await
                    .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)?;
        self.state
            .cache
            .delete(&pp_server::PgRedisTokenStatus::key(&principal))
            .await;
        Ok(pb::LogoutResponse {})
    }

    async fn who_am_i(&self, principal: Principal) -> Result<pb::WhoAmIResponse, ApiError> {
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let user = store::get_user(&mut tx, principal.user_id.0)
            .await
            .map_err(db)?;
        let tenant = store::get_tenant(&mut tx, principal.tenant_id.0)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let (Some(user), Some(tenant)) = (user, tenant) else {
            return Err(ApiError::Unauthenticated("UNKNOWN_PRINCIPAL"));
        };
        Ok(pb::WhoAmIResponse {
            user: Some(user_proto(&user)),
            tenant: Some(tenant_proto(&tenant)),
            brand_ids: principal
                .brand_scope
                .unwrap_or_default()
                .iter()
                .map(Uuid::to_string)
                .collect(),
            access_token_expire_time: Some(unix_timestamp(principal.expires_at)),
        })
    }

    async fn create_user(
        &self,
        principal: Principal,
        request: pb::CreateUserRequest,
    ) -> Result<pb::CreateUserResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let mut violations = Vec::new();
        validate::email("email", &request.email, &mut violations);
        validate::name("display_name", &request.display_name, 200, &mut violations);
        let role = person_role("role", request.role, &mut violations);
        validate::password("password", &request.password, &mut violations);
        validate::request_id("request_id", &request.request_id, &mut violations);
        ApiError::check(violations)?;
        let role = role.ok_or_else(|| ApiError::invalid("role", "is required"))?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        if !request.request_id.is_empty()
            && let Some(bytes) =
                idempotency::replay(&mut tx, SCHEMA, "CreateUser", &request.request_id)
                    .await
                    .map_err(db)?
        {
            return pb::CreateUserResponse::decode(bytes.as_slice()).map_err(ApiError::internal);
        }
        let password_hash = self.hash_password(request.password).await?;
        let email = validate::normalize_email(&request.email);
        let user = store::insert_user(
            &mut tx,
            principal.tenant_id.0,
            NewUser {
                user_id: Uuid::new_v4(),
                email: &email,
                display_name: request.display_name.trim(),
                role: role.as_str(),
                password_hash: Some(&password_hash),
            },
        )
        .await
        .map_err(|err| {
            if pp_db::is_unique_violation(&err) {
                ApiError::AlreadyExists("EMAIL_TAKEN")
            } else {
                db(err)
            }
        })?;
        let response = pb::CreateUserResponse {
            user: Some(user_proto(&user)),
        };
        if !request.request_id.is_empty() {
            idempotency::record(
                &mut tx,
                SCHEMA,
                "CreateUser",
                &request.request_id,
                &response.encode_to_vec(),
            )
            .await
            .map_err(db)?;
        }
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "user.created",
            serde_json::json!({ "user_id": user.user_id, "role": user.role }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(response)
    }

    async fn list_users(
        &self,
        principal: Principal,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, ApiError> {
        principal.require(&[Role::Admin, Role::Manager])?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let (rows, next_page_token) = store::list_users(&mut tx, &page).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(pb::ListUsersResponse {
            users: rows.iter().map(user_proto).collect(),
            next_page_token,
        })
    }

    async fn update_user_role(
        &self,
        principal: Principal,
        request: pb::UpdateUserRoleRequest,
    ) -> Result<pb::UpdateUserRoleResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let mut violations = Vec::new();
        let user_id = pp_auth::principal::parse_uuid("user_id", &request.user_id)
            .map_err(|e| {
                violations.extend(match e {
                    ApiError::InvalidArgument(v) => v,
                    _ => vec![],
                })
            })
            .ok();
        let role = person_role("role", request.role, &mut violations);
        ApiError::check(violations)?;
        let (Some(user_id), Some(role)) = (user_id, role) else {
            return Err(ApiError::invalid("role", "is required"));
        };
        if user_id == principal.user_id.0 && role != Role::Admin {
            return Err(ApiError::FailedPrecondition("CANNOT_DEMOTE_SELF"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let user = store::set_user_role(&mut tx, user_id, role.as_str())
            .await
            .map_err(db)?
            .ok_or(ApiError::NotFound("USER_NOT_FOUND"))?;
        // Tokens carry the role: end the user's sessions so the new role applies now.
        if user_id != principal.user_id.0 {
            store::revoke_sessions_of_user(&mut tx, user_id)
                .await
                .map_err(db)?;
        }
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "user.role_changed",
            serde_json::json!({ "user_id": user_id, "role": role.as_str() }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(pb::UpdateUserRoleResponse {
            user: Some(user_proto(&user)),
        })
    }

    async fn deactivate_user(
        &self,
        principal: Principal,
        request: pb::DeactivateUserRequest,
    ) -> Result<pb::DeactivateUserResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let user_id = pp_auth::principal::parse_uuid("user_id", &request.user_id)?;
        if user_id == principal.user_id.0 {
            return Err(ApiError::FailedPrecondition("CANNOT_DEACTIVATE_SELF"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let user = store::deactivate_user(&mut tx, user_id)
            .await
            .map_err(db)?
            .ok_or(ApiError::NotFound("USER_NOT_FOUND"))?;
        store::revoke_sessions_of_user(&mut tx, user_id)
            .await
            .map_err(db)?;
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "user.deactivated",
            serde_json::json!({ "user_id": user_id }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(pb::DeactivateUserResponse {
            user: Some(user_proto(&user)),
        })
    }

    async fn create_api_key(
        &self,
        principal: Principal,
        request: pb::CreateApiKeyRequest,
    ) -> Result<pb::CreateApiKeyResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let mut violations = Vec::new();
        validate::name("name", &request.name, 100, &mut violations);
        validate::request_id("request_id", &request.request_id, &mut violations);
        ApiError::check(violations)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        if !request.request_id.is_empty()
            && let Some(bytes) =
                idempotency::replay(&mut tx, SCHEMA, "CreateApiKey", &request.request_id)
                    .await
                    .map_err(db)?
        {
            return pb::CreateApiKeyResponse::decode(bytes.as_slice()).map_err(ApiError::internal);
        }
        let tenant_id = principal.tenant_id.0;
        let api_key_id = Uuid::new_v4();
        let minted = secrets::mint(API_KEY_PREFIX, api_key_id).map_err(ApiError::internal)?;
        let prefix: String = minted.text.chars().take(14).collect();
        let email = format!("api-key+{}@keys.pulsepoint.invalid", api_key_id.simple());
        let user = store::insert_user(
            &mut tx,
            tenant_id,
            NewUser {
                user_id: Uuid::new_v4(),
                email: &email,
                display_name: request.name.trim(),
                role: Role::ApiClient.as_str(),
                password_hash: None,
            },
        )
        .await
        .map_err(db)?;
        store::insert_session(&mut tx, tenant_id, api_key_id, user.user_id, "api_key")
            .await
            .map_err(db)?;
        let row = store::insert_api_key(
            &mut tx,
            tenant_id,
            api_key_id,
            user.user_id,
            request.name.trim(),
            &prefix,
            &minted.hash,
        )
        .await
        .map_err(db)?;
        let stored = pb::CreateApiKeyResponse {
            api_key: Some(api_key_proto(&row)),
            secret: String::new(),
        };
        if !request.request_id.is_empty() {
            idempotency::record(
                &mut tx,
                SCHEMA,
                "CreateApiKey",
                &request.request_id,
                &stored.encode_to_vec(),
            )
            .await
            .map_err(db)?;
        }
        record_event(
            &mut tx,
            tenant_id,
            Some(principal.user_id.0),
            "api_key.created",
            serde_json::json!({ "api_key_id": api_key_id, "name": row.name }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(pb::CreateApiKeyResponse {
            secret: minted.text,
            ..stored
        })
    }

    async fn list_api_keys(
        &self,
        principal: Principal,
        request: pb::ListApiKeysRequest,
    ) -> Result<pb::ListApiKeysResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let (rows, next_page_token) = store::list_api_keys(&mut tx, &page).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(pb::ListApiKeysResponse {
            api_keys: rows.iter().map(api_key_proto).collect(),
            next_page_token,
        })
    }

    async fn revoke_api_key(
        &self,
        principal: Principal,
        request: pb::RevokeApiKeyRequest,
    ) -> Result<pb::RevokeApiKeyResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let api_key_id = pp_auth::principal::parse_uuid("api_key_id", &request.api_key_id)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal)
            .await
            .map_err(db)?;
        let row = store::revoke_api_key(&mut tx, api_key_id)
            .await
            .map_err(db)?
            .ok_or(ApiError::NotFound("API_KEY_NOT_FOUND"))?;
        store::revoke_session(&mut tx, api_key_id)
            .await
            .map_err(db)?;
        store::deactivate_user(&mut tx, row.user_id)
            .await
            .map_err(db)?;
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "api_key.revoked",
            serde_json::json!({ "api_key_id": api_key_id }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(pb::RevokeApiKeyResponse {
            api_key: Some(api_key_proto(&row)),
        })
    }

    async fn exchange_api_key(
        &self,
        request: pb::ExchangeApiKeyRequest,
    ) -> Result<pb::ExchangeApiKeyResponse, ApiError> {
        if request.secret.is_empty() {
            return Err(ApiError::invalid("secret", "is required"));
        }
        let refused = ApiError::Unauthenticated("INVALID_API_KEY");
        let Some((api_key_id, secret)) = secrets::parse(API_KEY_PREFIX, &request.secret) else {
            return Err(refused);
        };
        let mut tx =
            TenantTx::begin_lookup(&self.state.pool, Lookup::ApiKeyId, &api_key_id.to_string())
                .await
                .map_err(db)?;
        let Some(row) = store::get_api_key(&mut tx, api_key_id).await.map_err(db)? else {
            return Err(refused);
        };
        if !secrets::matches(secret, &row.secret_hash) || row.revoked_at.is_some() {
            return Err(refused);
        }
        tx.enter_tenant(TenantId(row.tenant_id)).await.map_err(db)?;
        if store::get_tenant(&mut tx, row.tenant_id)
            .await
            .map_err(db)?
            .is_none_or(|t| t.status != "active")
        {
            return Err(refused);
        }
        store::touch_api_key(&mut tx, api_key_id)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let access = tokens::issue_access(
            &self.state.signing_key,
            &self.state.jwt,
            row.tenant_id,
            row.user_id,
            Role::ApiClient,
            api_key_id,
        )
        .map_err(ApiError::internal)?;
        Ok(pb::ExchangeApiKeyResponse {
            access_token: access.token,
            access_token_expire_time: Some(unix_timestamp(access.expires_at)),
        })
    }
}

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::from_request(request).map_err(Status::from)
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(&self, request: Request<pb::SignUpRequest>) -> ApiResult<pb::SignUpResponse> {
        Ok(Response::new(self.sign_up(request.into_inner()).await?))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> ApiResult<pb::LoginResponse> {
        let ip = client_ip(&request);
        Ok(Response::new(self.login(request.into_inner(), ip).await?))
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> ApiResult<pb::RefreshTokenResponse> {
        Ok(Response::new(self.refresh(request.into_inner()).await?))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> ApiResult<pb::LogoutResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.logout(principal, request.into_inner()).await?,
        ))
    }

    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> ApiResult<pb::WhoAmIResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(self.who_am_i(principal).await?))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> ApiResult<pb::CreateUserResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.create_user(principal, request.into_inner()).await?,
        ))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> ApiResult<pb::ListUsersResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.list_users(principal, request.into_inner()).await?,
        ))
    }

    async fn update_user_role(
        &self,
        request: Request<pb::UpdateUserRoleRequest>,
    ) -> ApiResult<pb::UpdateUserRoleResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.update_user_role(principal, request.into_inner())
                .await?,
        ))
    }

    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> ApiResult<pb::DeactivateUserResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.deactivate_user(principal, request.into_inner())
                .await?,
        ))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> ApiResult<pb::CreateApiKeyResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.create_api_key(principal, request.into_inner()).await?,
        ))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> ApiResult<pb::ListApiKeysResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.list_api_keys(principal, request.into_inner()).await?,
        ))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> ApiResult<pb::RevokeApiKeyResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.revoke_api_key(principal, request.into_inner()).await?,
        ))
    }

    async fn exchange_api_key(
        &self,
        request: Request<pb::ExchangeApiKeyRequest>,
    ) -> ApiResult<pb::ExchangeApiKeyResponse> {
        Ok(Response::new(
            self.exchange_api_key(request.into_inner()).await?,
        ))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> ApiResult<pb::GetJwksResponse> {
        Ok(Response::new(pb::GetJwksResponse {
            jwks_json: self.state.jwks.to_json(),
        }))
    }
}
