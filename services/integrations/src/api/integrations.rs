//! ListIntegrations, GetIntegration, DisconnectIntegration, ConnectDemoStore.

use pp_auth::Principal;
use pp_commerce::Platform;
use pp_db::{PageRequest, TenantTx, idempotency};
use pp_error::ApiError;
use pp_proto::integrations as pb;
use pp_types::{Violations, parse_uuid};
use uuid::Uuid;

use super::convert;
use super::{IntegrationApi, READERS, WRITERS};
use crate::revoke::{self, ProviderRevocation};
use crate::store::integrations::{self as store, IntegrationRow, ListFilter, NewIntegration};
use crate::store::{SCHEMA, commerce, sync_runs};
use crate::sync::{demo, plan};

const MAX_DEMO_HISTORY_DAYS: i32 = 730;

/// The integration, if it exists in the tenant and the token may see its brand.
pub(super) async fn visible(
    tx: &mut TenantTx,
    principal: &Principal,
    integration_id: Uuid,
    for_update: bool,
) -> Result<IntegrationRow, ApiError> {
    let row = if for_update {
        store::get_for_update(tx, integration_id).await?
    } else {
        store::get(tx, integration_id).await?
    };
    row.filter(|r| principal.may_see_brand(r.brand_id))
        .ok_or(ApiError::NotFound("INTEGRATION_NOT_FOUND"))
}

/// The brand, if it exists in the tenant and the token may see it: (currency, zone).
pub(super) async fn visible_brand(
    tx: &mut TenantTx,
    principal: &Principal,
    brand_id: Uuid,
) -> Result<(String, String), ApiError> {
    if !principal.may_see_brand(brand_id) {
        return Err(ApiError::NotFound("BRAND_NOT_FOUND"));
    }
    store::brand(tx, brand_id)
        .await?
        .ok_or(ApiError::NotFound("BRAND_NOT_FOUND"))
}

/// `integration.disconnected` for a user's disconnect, with what the provider did.
async fn disconnected_event(
    tx: &mut TenantTx,
    principal: &Principal,
    row: &IntegrationRow,
    revocation: &ProviderRevocation,
) -> Result<(), ApiError> {
    let event = pp_events::EventEnvelope::new(
        principal.tenant_id.0,
        "integration.disconnected",
        serde_json::json!({
            "integration_id": row.integration_id,
            "platform": row.platform,
            "status": row.status,
            "demo": row.demo,
            "cause": "user",
            "provider_revocation": revocation.payload(),
        }),
    )
    .with_brand(row.brand_id)
    .with_user(principal.user_id.0)
    .with_current_request_id();
    Ok(pp_events::outbox::record(tx, SCHEMA, &event).await?)
}

pub(super) async fn integration_event(
    tx: &mut TenantTx,
    principal: &Principal,
    event_type: &str,
    row: &IntegrationRow,
) -> Result<(), ApiError> {
    let event = pp_events::EventEnvelope::new(
        principal.tenant_id.0,
        event_type,
        serde_json::json!({
            "integration_id": row.integration_id,
            "platform": row.platform,
            "status": row.status,
            "demo": row.demo,
        }),
    )
    .with_brand(row.brand_id)
    .with_user(principal.user_id.0)
    .with_current_request_id();
    Ok(pp_events::outbox::record(tx, SCHEMA, &event).await?)
}

impl IntegrationApi {
    pub(super) async fn list(
        &self,
        principal: Principal,
        request: pb::ListIntegrationsRequest,
    ) -> Result<pb::ListIntegrationsResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.optional_uuid("brand_id", &request.brand_id);
        let platform = convert::optional_filter(
            &mut violations,
            "platform",
            request.platform,
            convert::platform_from_wire,
            "platform",
        );
        let status = convert::optional_filter(
            &mut violations,
            "status",
            request.status,
            convert::status_from_wire,
            "status",
        );
        let page = violations.take(PageRequest::parse(request.page_size, &request.page_token));
        violations.finish()?;
        let Some(page) = page else {
            return Err(ApiError::invalid("page_token", "is not valid"));
        };
        if let Some(brand) = brand_id
            && !principal.may_see_brand(brand)
        {
            return Ok(pb::ListIntegrationsResponse::default());
        }
        let filter = ListFilter {
            brand_id,
            brand_scope: principal.brand_scope.clone(),
            platform: platform.map(Platform::as_str),
            status,
        };
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rows, next_page_token) = store::list(&mut tx, &filter, &page).await?;
        tx.commit().await?;
        Ok(pb::ListIntegrationsResponse {
            integrations: rows.iter().map(convert::integration).collect(),
            next_page_token,
        })
    }

    pub(super) async fn get(
        &self,
        principal: Principal,
        request: pb::GetIntegrationRequest,
    ) -> Result<pb::GetIntegrationResponse, ApiError> {
        principal.require(READERS)?;
        let integration_id = parse_uuid("integration_id", &request.integration_id)?;
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let row = visible(&mut tx, &principal, integration_id, false).await?;
        tx.commit().await?;
        Ok(pb::GetIntegrationResponse {
            integration: Some(convert::integration(&row)),
        })
    }

    /// Revokes the grant at the provider, then disconnects locally. The provider call
    /// happens with no transaction open (no row lock held across the network); its
    /// failure never blocks the local disconnect but is logged and recorded in the
    /// event and the response. A replay returns the first response without calling
    /// the provider. Two concurrent first calls with one request_id may both call it
    /// (the provider then answers the second "already revoked"); `once` still lets
    /// only one of them write.
    pub(super) async fn disconnect(
        &self,
        principal: Principal,
        request: pb::DisconnectIntegrationRequest,
    ) -> Result<pb::DisconnectIntegrationResponse, ApiError> {
        principal.require(WRITERS)?;
        let mut violations = Violations::new();
        let integration_id = violations.uuid("integration_id", &request.integration_id);
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let integration_id = integration_id.unwrap_or_default();
        let scope = idempotency::Scope {
            schema: SCHEMA,
            rpc: "DisconnectIntegration",
        };

        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        if let Some(first) = idempotency::committed(&mut tx, scope, &request.request_id).await? {
            tx.commit().await?;
            return Ok(first);
        }
        let before = visible(&mut tx, &principal, integration_id, false).await?;
        tx.commit().await?;

        let revocation = self.revoke_at_provider(&principal, &before).await;

        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let current = visible(&mut tx, &principal, integration_id, true).await?;
            let row = if current.status == "disconnected" {
                current
            } else {
                if current.credentials != before.credentials {
                    // A sync's token refresh (same grant: revoked with it) or a
                    // reconnect (a new grant, which was not revoked) raced this.
                    tracing::warn!(
                        %integration_id,
                        "the stored access changed while the provider was revoking it; after a reconnect, the newer grant is still live at the provider"
                    );
                }
                let row = disconnect_locked(&mut tx, integration_id).await?;
                disconnected_event(&mut tx, &principal, &row, &revocation).await?;
                row
            };
            if request.delete_synced_data {
                commerce::delete_synced(&mut tx, integration_id).await?;
            }
            let response = pb::DisconnectIntegrationResponse {
                integration: Some(convert::integration(&row)),
                provider_revocation: Some(convert::provider_revocation(&revocation)),
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }

    /// What the provider says to a revocation of the integration's grant, or why it
    /// was not asked: already disconnected, a demo, or no stored tokens.
    async fn revoke_at_provider(
        &self,
        principal: &Principal,
        row: &IntegrationRow,
    ) -> ProviderRevocation {
        if row.status == "disconnected" {
            return ProviderRevocation::not_applicable(
                "ALREADY_DISCONNECTED",
                "the integration was already disconnected; the provider was not contacted",
            );
        }
        if row.demo {
            return ProviderRevocation::not_applicable(
                "DEMO",
                "a demo integration holds no access at any provider",
            );
        }
        let (Some(sealed), Some(platform)) =
            (row.credentials.as_deref(), Platform::parse(&row.platform))
        else {
            return ProviderRevocation::not_applicable(
                "NO_STORED_ACCESS",
                "no provider access was stored for this integration",
            );
        };
        match crate::credentials::open(
            &self.state,
            principal.tenant_id,
            row.integration_id,
            Some(sealed),
        )
        .await
        {
            Ok(credentials) => {
                revoke::at_provider(
                    &self.state.platforms,
                    row.integration_id,
                    platform,
                    &row.external_account_id,
                    credentials,
                )
                .await
            }
            Err(_) => ProviderRevocation::unreadable(platform),
        }
    }

    pub(super) async fn connect_demo(
        &self,
        principal: Principal,
        request: pb::ConnectDemoStoreRequest,
    ) -> Result<pb::ConnectDemoStoreResponse, ApiError> {
        principal.require(WRITERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand_id", &request.brand_id);
        let mut platforms = Vec::new();
        for (i, value) in request.platforms.iter().enumerate() {
            match convert::platform_from_wire(*value) {
                Some(p) if !platforms.contains(&p) => platforms.push(p),
                Some(_) => {}
                None => violations.add(format!("platforms[{i}]"), "is not a known platform"),
            }
        }
        if platforms.is_empty() {
            platforms = Platform::ALL.to_vec();
        }
        let history_days = match request.history_days {
            0 => demo::DEFAULT_HISTORY_DAYS,
            d if (1..=MAX_DEMO_HISTORY_DAYS).contains(&d) => d,
            _ => {
                violations.add(
                    "history_days",
                    format!("must be between 1 and {MAX_DEMO_HISTORY_DAYS}"),
                );
                0
            }
        };
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let brand_id = brand_id.unwrap_or_default();
        let seed = match request.seed {
            0 => i64::from(rand::random::<u32>()) + 1,
            s => s,
        };
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = idempotency::Scope {
            schema: SCHEMA,
            rpc: "ConnectDemoStore",
        };
        let every = self.state.sync.every;
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let (currency, time_zone) = visible_brand(&mut tx, &principal, brand_id).await?;
            let mut response = pb::ConnectDemoStoreResponse::default();
            for platform in platforms {
                let new = NewIntegration {
                    integration_id: Uuid::new_v4(),
                    brand_id,
                    platform: platform.as_str(),
                    external_account_id: format!("demo-{}", platform.as_str()),
                    display_name: format!("Demo {}", display(platform)),
                    currency_code: Some(currency.clone()),
                    time_zone: Some(time_zone.clone()),
                    scopes: Vec::new(),
                    demo: Some((seed, history_days)),
                    credentials: None,
                    credentials_key_id: None,
                    token_expires_at: None,
                    connected_by: principal.user_id.0,
                };
                let row = store::connect(&mut tx, &new).await?;
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
                sync_runs::schedule(&mut tx, row.integration_id, every).await?;
                let row = store::get(&mut tx, row.integration_id)
                    .await?
                    .ok_or(ApiError::NotFound("INTEGRATION_NOT_FOUND"))?;
                response.integrations.push(convert::integration(&row));
                response.sync_runs.push(convert::sync_run(&run));
            }
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }
}

/// Disconnects a locked, connected integration: forgets its tokens, cancels its
/// active run and its schedule. Local only: the caller decides whether the provider
/// is told (DisconnectIntegration revokes first; the `app/uninstalled` webhook does
/// not, the app being gone already).
pub async fn disconnect_locked(
    tx: &mut TenantTx,
    integration_id: Uuid,
) -> Result<IntegrationRow, ApiError> {
    let row = store::disconnect(tx, integration_id).await?;
    if let Some(run) = sync_runs::active(tx, integration_id).await? {
        let ended = sync_runs::finish(
            tx,
            run.sync_run_id,
            "cancelled",
            None,
            Some((
                "INTEGRATION_DISCONNECTED",
                "the integration was disconnected",
            )),
        )
        .await?;
        crate::events::sync_ended(tx, &ended, "data.sync_failed").await?;
    }
    sync_runs::unschedule(tx, integration_id).await?;
    Ok(row)
}

pub(crate) fn display(platform: Platform) -> &'static str {
    match platform {
        Platform::Shopify => "Shopify store",
        Platform::Meta => "Meta Ads account",
        Platform::Tiktok => "TikTok Ads account",
        Platform::GoogleAds => "Google Ads account",
    }
}
