//! CreateUser, ListUsers, UpdateUserRole, DeactivateUser.

use pp_auth::{Principal, Role};
use pp_db::idempotency::{self, Scope};
use pp_db::{PageRequest, TenantTx};
use pp_error::ApiError;
use pp_proto::auth as pb;
use pp_types::Violations;
use uuid::Uuid;

use super::{AuthApi, convert};
use crate::domain::sessions::record_event;
use crate::domain::validate;
use crate::store::{self, NewUser, SCHEMA};

impl AuthApi {
    pub(super) async fn create_user(
        &self,
        principal: Principal,
        request: pb::CreateUserRequest,
    ) -> Result<pb::CreateUserResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let mut violations = Violations::new();
        validate::email("email", &request.email, violations.list());
        validate::name(
            "display_name",
            &request.display_name,
            200,
            violations.list(),
        );
        let role = convert::person_role("role", request.role, violations.list());
        validate::password("password", &request.password, violations.list());
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let role = role.ok_or_else(|| ApiError::internal("validated role missing"))?;
        // Hashed before the transaction: no pool connection waits on argon2id.
        let password_hash = self.state.hasher.hash(request.password).await?;
        let email = validate::normalize_email(&request.email);
        let display_name = request.display_name.trim();
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = Scope {
            schema: SCHEMA,
            rpc: "CreateUser",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let user = store::insert_user(
                &mut tx,
                principal.tenant_id.0,
                NewUser {
                    user_id: Uuid::new_v4(),
                    email: &email,
                    display_name,
                    role: role.as_str(),
                    password_hash: Some(&password_hash),
                },
            )
            .await
            .map_err(|err| err.unique_as(ApiError::AlreadyExists("EMAIL_TAKEN")))?;
            record_event(
                &mut tx,
                principal.tenant_id.0,
                Some(principal.user_id.0),
                "user.created",
                serde_json::json!({ "user_id": user.user_id, "role": user.role }),
            )
            .await?;
            let response = pb::CreateUserResponse {
                user: Some(convert::user(&user)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }

    pub(super) async fn list_users(
        &self,
        principal: Principal,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, ApiError> {
        principal.require(&[Role::Admin, Role::Manager])?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rows, next_page_token) = store::list_users(&mut tx, &page).await?;
        tx.commit().await?;
        Ok(pb::ListUsersResponse {
            users: rows.iter().map(convert::user).collect(),
            next_page_token,
        })
    }

    pub(super) async fn update_user_role(
        &self,
        principal: Principal,
        request: pb::UpdateUserRoleRequest,
    ) -> Result<pb::UpdateUserRoleResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let mut violations = Violations::new();
        let user_id = violations.uuid("user_id", &request.user_id);
        let role = convert::person_role("role", request.role, violations.list());
        violations.finish()?;
        // Both are present once validation passed.
        let (Some(user_id), Some(role)) = (user_id, role) else {
            return Err(ApiError::internal("validated fields missing"));
        };
        if user_id == principal.user_id.0 && role != Role::Admin {
            return Err(ApiError::FailedPrecondition("CANNOT_DEMOTE_SELF"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let user = store::set_user_role(&mut tx, user_id, role.as_str())
            .await?
            .ok_or(ApiError::NotFound("USER_NOT_FOUND"))?;
        // Tokens carry the role: end the user's sessions so the new role applies now.
        if user_id != principal.user_id.0 {
            store::revoke_sessions_of_user(&mut tx, user_id).await?;
        }
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "user.role_changed",
            serde_json::json!({ "user_id": user_id, "role": role.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(pb::UpdateUserRoleResponse {
            user: Some(convert::user(&user)),
        })
    }

    pub(super) async fn deactivate_user(
        &self,
        principal: Principal,
        request: pb::DeactivateUserRequest,
    ) -> Result<pb::DeactivateUserResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let user_id = pp_types::parse_uuid("user_id", &request.user_id)?;
        if user_id == principal.user_id.0 {
            return Err(ApiError::FailedPrecondition("CANNOT_DEACTIVATE_SELF"));
        }
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let user = store::deactivate_user(&mut tx, user_id)
            .await?
            .ok_or(ApiError::NotFound("USER_NOT_FOUND"))?;
        store::revoke_sessions_of_user(&mut tx, user_id).await?;
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "user.deactivated",
            serde_json::json!({ "user_id": user_id }),
        )
        .await?;
        tx.commit().await?;
        Ok(pb::DeactivateUserResponse {
            user: Some(convert::user(&user)),
        })
    }
}
