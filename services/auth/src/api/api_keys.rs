//! CreateApiKey, ListApiKeys, RevokeApiKey, ExchangeApiKey.

use pp_auth::{Principal, Role, TenantId};
use pp_db::idempotency::{self, Scope};
use pp_db::{Lookup, PageRequest, TenantTx};
use pp_error::ApiError;
use pp_proto::auth as pb;
use pp_types::Violations;
use pp_types::convert::unix_timestamp;
use uuid::Uuid;

use super::{AuthApi, convert};
use crate::domain::secrets::{self, API_KEY_PREFIX};
use crate::domain::sessions::record_event;
use crate::domain::{tokens, validate};
use crate::store::{self, NewUser, SCHEMA, SessionKind, TenantStatus, UserStatus};

impl AuthApi {
    pub(super) async fn create_api_key(
        &self,
        principal: Principal,
        request: pb::CreateApiKeyRequest,
    ) -> Result<pb::CreateApiKeyResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let mut violations = Violations::new();
        validate::name("name", &request.name, 100, violations.list());
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let name = request.name.trim();
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = Scope {
            schema: SCHEMA,
            rpc: "CreateApiKey",
        };
        // The secret is shown once: a replay answers with the key, never the secret.
        let without_secret = |response: &pb::CreateApiKeyResponse| pb::CreateApiKeyResponse {
            secret: String::new(),
            ..response.clone()
        };
        idempotency::once_stored_as(
            tx,
            scope,
            &request.request_id,
            without_secret,
            |mut tx| async move {
                {
                    let tenant_id = principal.tenant_id.0;
                    let api_key_id = Uuid::new_v4();
                    let minted =
                        secrets::mint(API_KEY_PREFIX, api_key_id).map_err(ApiError::internal)?;
                    let prefix: String = minted.text.chars().take(14).collect();
                    let email = format!("api-key+{}@keys.pulsepoint.invalid", api_key_id.simple());
                    let user = store::insert_user(
                        &mut tx,
                        tenant_id,
                        NewUser {
                            user_id: Uuid::new_v4(),
                            email: &email,
                            display_name: name,
                            role: Role::ApiClient.as_str(),
                            password_hash: None,
                        },
                    )
                    .await?;
                    store::insert_session(
                        &mut tx,
                        tenant_id,
                        api_key_id,
                        user.user_id,
                        SessionKind::ApiKey,
                    )
                    .await?;
                    let row = store::insert_api_key(
                        &mut tx,
                        tenant_id,
                        api_key_id,
                        user.user_id,
                        name,
                        &prefix,
                        &minted.hash,
                    )
                    .await?;
                    record_event(
                        &mut tx,
                        tenant_id,
                        Some(principal.user_id.0),
                        "api_key.created",
                        serde_json::json!({ "api_key_id": api_key_id, "name": row.name }),
                    )
                    .await?;
                    let response = pb::CreateApiKeyResponse {
                        api_key: Some(convert::api_key(&row)),
                        secret: minted.text,
                    };
                    Ok::<_, ApiError>((tx, response))
                }
            },
        )
        .await
    }

    pub(super) async fn list_api_keys(
        &self,
        principal: Principal,
        request: pb::ListApiKeysRequest,
    ) -> Result<pb::ListApiKeysResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rows, next_page_token) = store::list_api_keys(&mut tx, &page).await?;
        tx.commit().await?;
        Ok(pb::ListApiKeysResponse {
            api_keys: rows.iter().map(convert::api_key).collect(),
            next_page_token,
        })
    }

    pub(super) async fn revoke_api_key(
        &self,
        principal: Principal,
        request: pb::RevokeApiKeyRequest,
    ) -> Result<pb::RevokeApiKeyResponse, ApiError> {
        principal.require(&[Role::Admin])?;
        let api_key_id = pp_types::parse_uuid("api_key_id", &request.api_key_id)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let row = store::revoke_api_key(&mut tx, api_key_id)
            .await?
            .ok_or(ApiError::NotFound("API_KEY_NOT_FOUND"))?;
        store::revoke_session(&mut tx, api_key_id).await?;
        store::deactivate_user(&mut tx, row.user_id).await?;
        record_event(
            &mut tx,
            principal.tenant_id.0,
            Some(principal.user_id.0),
            "api_key.revoked",
            serde_json::json!({ "api_key_id": api_key_id }),
        )
        .await?;
        tx.commit().await?;
        Ok(pb::RevokeApiKeyResponse {
            api_key: Some(convert::api_key(&row)),
        })
    }

    pub(super) async fn exchange_api_key(
        &self,
        request: pb::ExchangeApiKeyRequest,
    ) -> Result<pb::ExchangeApiKeyResponse, ApiError> {
        if request.secret.is_empty() {
            return Err(ApiError::invalid("secret", "is required"));
        }
        let refused = || ApiError::Unauthenticated("INVALID_API_KEY");
        let Some((api_key_id, secret)) = secrets::parse(API_KEY_PREFIX, &request.secret) else {
            return Err(refused());
        };
        let mut tx =
            TenantTx::begin_lookup(&self.state.pool, Lookup::ApiKeyId, &api_key_id.to_string())
                .await?;
        let Some(row) = store::get_api_key(&mut tx, api_key_id).await? else {
            return Err(refused());
        };
        if !secrets::matches(secret, &row.secret_hash) || row.revoked_at.is_some() {
            return Err(refused());
        }
        tx.enter_tenant(TenantId(row.tenant_id)).await?;
        let tenant_active = store::get_tenant(&mut tx, row.tenant_id)
            .await?
            .is_some_and(|t| t.status == TenantStatus::Active);
        let user_active = store::get_user(&mut tx, row.user_id)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active);
        // A Logout with one of the key's tokens revokes the key's session: the key
        // then mints nothing more.
        let session_revoked = store::session_revoked(&mut tx, api_key_id).await?;
        if !tenant_active || !user_active || session_revoked {
            return Err(refused());
        }
        store::touch_api_key(&mut tx, api_key_id).await?;
        tx.commit().await?;
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
