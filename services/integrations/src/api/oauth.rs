//! StartOAuth and CompleteOAuth.

use std::collections::BTreeMap;

use chrono::Utc;
use pp_auth::Principal;
use pp_commerce::Platform;
use pp_db::{TenantTx, idempotency};
use pp_error::ApiError;
use pp_platforms::PlatformError;
use pp_platforms::shopify::{self, ShopDomain};
use pp_proto::integrations as pb;
use pp_types::Violations;
use pp_types::convert::timestamp;
use uuid::Uuid;

use super::integrations::{integration_event, visible_brand};
use super::{IntegrationApi, WRITERS, convert};
use crate::oauth;
use crate::store::integrations::{self as store, NewIntegration};
use crate::store::{SCHEMA, sync_runs};
use crate::sync::plan;

/// The same answer for a state that is unknown, expired, used, or minted for
/// someone else: nothing tells a guesser which.
fn bad_state() -> ApiError {
    ApiError::invalid("state", "is not a valid, unused OAuth state for this user")
}

fn platform_error(err: PlatformError) -> ApiError {
    match err {
        PlatformError::Reauth { .. } => ApiError::FailedPrecondition("SCOPES_MISSING"),
        PlatformError::RateLimited { .. } | PlatformError::Unavailable { .. } => {
            ApiError::Unavailable("PLATFORM_UNAVAILABLE")
        }
        PlatformError::Invalid { .. } => ApiError::invalid(
            "code",
            "was not accepted by the platform; start connecting again",
        ),
    }
}

impl IntegrationApi {
    pub(super) async fn start_oauth(
        &self,
        principal: Principal,
        request: pb::StartOAuthRequest,
    ) -> Result<pb::StartOAuthResponse, ApiError> {
        principal.require(WRITERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand_id", &request.brand_id);
        let platform = convert::platform_from_wire(request.platform);
        if platform.is_none() {
            violations.add("platform", "must be a platform to connect");
        }
        if !self
            .state
            .oauth
            .redirect_uris
            .contains(&request.redirect_uri)
        {
            violations.add("redirect_uri", "is not on the allowed redirect list");
        }
        let shop = match platform {
            Some(Platform::Shopify) => match shopify::validate_shop_domain(&request.shop_domain) {
                Ok(shop) => Some(shop),
                Err(_) => {
                    violations.add("shop_domain", "must be <name>.myshopify.com");
                    None
                }
            },
            _ if !request.shop_domain.is_empty() => {
                violations.add("shop_domain", "is only for Shopify");
                None
            }
            _ => None,
        };
        violations.finish()?;
        let (Some(brand_id), Some(platform)) = (brand_id, platform) else {
            return Err(ApiError::invalid("platform", "is required"));
        };
        // Existence before anything else: another tenant's brand is NOT_FOUND,
        // whatever the platform's configuration.
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        visible_brand(&mut tx, &principal, brand_id).await?;
        let (state, hash) = oauth::new_state();
        let (verifier, challenge) = if platform == Platform::GoogleAds {
            let (verifier, challenge) = pp_platforms::google_ads::pkce_pair();
            (Some(verifier), Some(challenge))
        } else {
            (None, None)
        };
        let url = oauth::authorization_url(
            &self.state.platforms,
            platform,
            &state,
            &request.redirect_uri,
            shop.as_ref(),
            challenge.as_deref(),
        )?;
        let sealed_verifier =
            match &verifier {
                Some(v) => Some(self.state.vault.seal(v.as_bytes(), &hash).await.map_err(
                    |err| ApiError::Internal(format!("pkce verifier could not be sealed: {err}")),
                )?),
                None => None,
            };
        let expires_at =
            Utc::now() + chrono::Duration::from_std(self.state.oauth.state_ttl).unwrap_or_default();
        store::prune_states(&mut tx).await?;
        store::insert_state(
            &mut tx,
            &hash,
            principal.user_id.0,
            brand_id,
            platform.as_str(),
            &request.redirect_uri,
            shop.as_ref().map(ShopDomain::as_str),
            sealed_verifier.as_deref(),
            expires_at,
        )
        .await?;
        tx.commit().await?;
        Ok(pb::StartOAuthResponse {
            authorization_url: url,
            state,
            state_expire_time: Some(timestamp(expires_at)),
        })
    }

    pub(super) async fn complete_oauth(
        &self,
        principal: Principal,
        request: pb::CompleteOAuthRequest,
    ) -> Result<pb::CompleteOAuthResponse, ApiError> {
        principal.require(WRITERS)?;
        let mut violations = Violations::new();
        if request.state.is_empty() {
            violations.add("state", "is required");
        }
        if request.code.is_empty() {
            violations.add("code", "is required");
        }
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let hash = oauth::hash_state(&request.state);
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = idempotency::Scope {
            schema: SCHEMA,
            rpc: "CompleteOAuth",
        };
        let state = self.state.clone();
        let request_id = request.request_id.clone();
        idempotency::once(tx, scope, &request_id, |mut tx| async move {
            // Taken (marked used) in this transaction: if anything below fails, the
            // transaction rolls back and the state stays usable until it expires.
            let saved = store::take_state(&mut tx, &hash)
                .await?
                .ok_or_else(bad_state)?;
            if saved.used_at.is_some()
                || saved.expires_at <= Utc::now()
                || saved.user_id != principal.user_id.0
            {
                return Err(bad_state());
            }
            let platform = Platform::parse(&saved.platform).ok_or_else(bad_state)?;
            let shop = if platform == Platform::Shopify {
                Some(check_shopify_callback(
                    &state,
                    &request,
                    saved.shop_domain.as_deref(),
                )?)
            } else {
                None
            };
            let (currency, time_zone) = visible_brand(&mut tx, &principal, saved.brand_id).await?;
            let verifier = match &saved.pkce_verifier {
                Some(sealed) => {
                    let opened = state
                        .vault
                        .open(sealed, &hash)
                        .await
                        .map_err(|_| bad_state())?;
                    Some(String::from_utf8(opened.to_vec()).map_err(|_| bad_state())?)
                }
                None => None,
            };
            let connected = oauth::exchange(
                &state.platforms,
                platform,
                &request.code,
                &saved.redirect_uri,
                shop.as_ref(),
                verifier.as_deref(),
            )
            .await
            .map_err(platform_error)?;
            let integration_id = Uuid::new_v4();
            let tenant = principal.tenant_id;
            let mut new = NewIntegration {
                integration_id,
                brand_id: saved.brand_id,
                platform: platform.as_str(),
                external_account_id: connected.external_account_id,
                display_name: connected.display_name,
                currency_code: connected.currency_code.or(Some(currency)),
                time_zone: connected.time_zone.or(Some(time_zone)),
                scopes: connected.credentials.scopes.clone(),
                demo: None,
                credentials: None,
                credentials_key_id: Some(state.vault.active_key_id().to_owned()),
                token_expires_at: connected.credentials.expires_at,
                connected_by: principal.user_id.0,
            };
            new.credentials = Some(
                crate::credentials::seal(&state, tenant, integration_id, &connected.credentials)
                    .await
                    .map_err(|err| ApiError::Internal(format!("credentials not sealed: {err}")))?,
            );
            let mut row = store::connect(&mut tx, &new).await?;
            if row.integration_id != integration_id {
                // A reconnect of a live integration: its row keeps its id, so the
                // tokens are sealed again for that row.
                crate::credentials::store(
                    &state,
                    &mut tx,
                    tenant,
                    row.integration_id,
                    &connected.credentials,
                )
                .await?;
            }
            integration_event(&mut tx, &principal, "integration.connected", &row).await?;
            let (run, _) = plan::queue(
                &mut tx,
                &row,
                "full",
                "initial",
                Some(principal.user_id.0),
                None,
            )
            .await?;
            sync_runs::schedule(&mut tx, row.integration_id, state.sync.every).await?;
            if let Some(current) = store::get(&mut tx, row.integration_id).await? {
                row = current;
            }
            let response = pb::CompleteOAuthResponse {
                integration: Some(convert::integration(&row)),
                initial_sync_run: Some(convert::sync_run(&run)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }
}

/// Shopify's callback: the shop is the one the state was minted for, a valid shop
/// domain, and the parameters carry Shopify's HMAC under our app secret.
fn check_shopify_callback(
    state: &crate::State,
    request: &pb::CompleteOAuthRequest,
    minted_for: Option<&str>,
) -> Result<ShopDomain, ApiError> {
    let cfg = state
        .platforms
        .shopify
        .as_ref()
        .ok_or(ApiError::FailedPrecondition("PLATFORM_NOT_CONFIGURED"))?;
    let shop = shopify::validate_shop_domain(&request.shop_domain)
        .map_err(|_| ApiError::invalid("shop_domain", "must be <name>.myshopify.com"))?;
    if minted_for != Some(shop.as_str()) {
        return Err(ApiError::invalid(
            "shop_domain",
            "is not the shop this connection was started for",
        ));
    }
    let params: BTreeMap<String, String> = request
        .callback_params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let echoed = |key: &str, expected: &str| params.get(key).is_some_and(|v| v == expected);
    if !shopify::verify_callback_hmac(&cfg.api_secret, &params)
        || !echoed("shop", shop.as_str())
        || !echoed("state", &request.state)
        || !echoed("code", &request.code)
    {
        return Err(ApiError::invalid(
            "callback_params",
            "do not carry a valid Shopify signature",
        ));
    }
    Ok(shop)
}
