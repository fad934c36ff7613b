//! SignUp, Login, RefreshToken, Logout, WhoAmI.

use std::net::IpAddr;

use chrono::{TimeZone, Utc};
use pp_auth::Principal;
use pp_db::TenantTx;
use pp_error::{ApiError, FieldViolation};
use pp_proto::auth as pb;
use pp_types::Violations;
use pp_types::convert::unix_timestamp;
use uuid::Uuid;

use super::{AuthApi, convert};
use crate::domain::secrets::{self, REFRESH_PREFIX};
use crate::domain::sessions::{self, LoginAttempt, NewTenant};
use crate::domain::validate;
use crate::store;

impl AuthApi {
    pub(super) async fn sign_up(
        &self,
        request: pb::SignUpRequest,
    ) -> Result<pb::SignUpResponse, ApiError> {
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
        let email = validate::normalize_email(&request.email);
        let (tenant, user, tokens) = sessions::sign_up(
            &self.state,
            NewTenant {
                tenant_name: request.tenant_name.trim(),
                email: &email,
                display_name: request.display_name.trim(),
                password: request.password,
            },
        )
        .await?;
        Ok(pb::SignUpResponse {
            tenant: Some(convert::tenant(&tenant)),
            user: Some(convert::user(&user)),
            tokens: Some(convert::tokens(tokens)),
        })
    }

    pub(super) async fn login(
        &self,
        request: pb::LoginRequest,
        client: Option<IpAddr>,
    ) -> Result<pb::LoginResponse, ApiError> {
        let mut violations = Violations::new();
        if request.email.trim().is_empty() {
            violations.add("email", "is required");
        }
        if request.password.is_empty() {
            violations.add("password", "is required");
        }
        let tenant_id = violations.optional_uuid("tenant_id", &request.tenant_id);
        violations.finish()?;
        let (user, tokens) = sessions::login(
            &self.state,
            LoginAttempt {
                email: validate::normalize_email(&request.email),
                password: request.password,
                tenant_id,
                client,
            },
        )
        .await?;
        Ok(pb::LoginResponse {
            user: Some(convert::user(&user)),
            tokens: Some(convert::tokens(tokens)),
        })
    }

    pub(super) async fn refresh(
        &self,
        request: pb::RefreshTokenRequest,
    ) -> Result<pb::RefreshTokenResponse, ApiError> {
        if request.refresh_token.is_empty() {
            return Err(ApiError::invalid("refresh_token", "is required"));
        }
        let tokens = sessions::refresh(&self.state, &request.refresh_token).await?;
        Ok(pb::RefreshTokenResponse {
            tokens: Some(convert::tokens(tokens)),
        })
    }

    pub(super) async fn logout(
        &self,
        principal: Principal,
        request: pb::LogoutRequest,
    ) -> Result<pb::LogoutResponse, ApiError> {
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let expires = Utc
            .timestamp_opt(principal.expires_at, 0)
            .single()
            .unwrap_or_else(Utc::now);
        store::revoke_token(&mut tx, principal.tenant_id.0, principal.token_id, expires).await?;
        if let Some(session_id) = principal.session_id {
            store::revoke_session(&mut tx, session_id).await?;
        }
        if let Some((token_id, secret)) = secrets::parse(REFRESH_PREFIX, &request.refresh_token)
            // Only this tenant's tokens are visible here, and only the holder of the
            // whole token (its secret, not just its id) may end its session.
            && let Some(row) = store::refresh_for_update(&mut tx, token_id).await?
            && secrets::matches(secret, &row.secret_hash)
        {
            store::revoke_session(&mut tx, row.session_id).await?;
        }
        tx.commit().await?;
        self.state
            .cache
            .delete(&pp_server::PgRedisTokenStatus::key(&principal))
            .await;
        Ok(pb::LogoutResponse {})
    }

    pub(super) async fn who_am_i(
        &self,
        principal: Principal,
    ) -> Result<pb::WhoAmIResponse, ApiError> {
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let user = store::get_user(&mut tx, principal.user_id.0).await?;
        let tenant = store::get_tenant(&mut tx, principal.tenant_id.0).await?;
        tx.commit().await?;
        let (Some(user), Some(tenant)) = (user, tenant) else {
            return Err(ApiError::Unauthenticated("UNKNOWN_PRINCIPAL"));
        };
        Ok(pb::WhoAmIResponse {
            user: Some(convert::user(&user)),
            tenant: Some(convert::tenant(&tenant)),
            brand_ids: principal
                .brand_scope
                .unwrap_or_default()
                .iter()
                .map(Uuid::to_string)
                .collect(),
            access_token_expire_time: Some(unix_timestamp(principal.expires_at)),
        })
    }
}
