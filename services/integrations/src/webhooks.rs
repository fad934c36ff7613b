//! Shopify webhooks, as the gateway forwards them: verified over the raw body,
//! de-duplicated by webhook id, routed to the tenant that owns the shop, and
//! applied through the same upsert path as a sync.

use pp_db::{Lookup, TenantTx};
use pp_error::ApiError;
use pp_platforms::shopify;
use pp_proto::integrations as pb;
use pp_types::TenantId;

use crate::State;
use crate::store::commerce::{self, Target};
use crate::store::{SCHEMA, integrations as store};

/// Applies one delivery. A bad signature is UNAUTHENTICATED (the gateway answers
/// 401); everything verified is answered 200 with what was done.
pub async fn ingest(
    state: &State,
    delivery: &pb::IngestShopifyWebhookRequest,
) -> Result<pb::WebhookDisposition, ApiError> {
    let cfg = state
        .platforms
        .shopify
        .as_ref()
        .ok_or(ApiError::FailedPrecondition("PLATFORM_NOT_CONFIGURED"))?;
    if !shopify::verify_webhook_hmac(&cfg.api_secret, &delivery.body, &delivery.hmac_sha256) {
        return Err(ApiError::Unauthenticated("WEBHOOK_SIGNATURE_INVALID"));
    }
    if delivery.webhook_id.is_empty() || delivery.webhook_id.len() > 200 {
        return Err(ApiError::invalid(
            "webhook_id",
            "is required (X-Shopify-Webhook-Id)",
        ));
    }
    let Ok(shop) = shopify::validate_shop_domain(&delivery.shop_domain) else {
        return Ok(pb::WebhookDisposition::Ignored);
    };
    let mut tx = TenantTx::begin_lookup(&state.pool, Lookup::ShopDomain, shop.as_str()).await?;
    let Some((tenant, integration_id, status)) = store::by_shop(&mut tx, shop.as_str()).await?
    else {
        tx.rollback().await?;
        return Ok(pb::WebhookDisposition::Ignored);
    };
    tx.enter_tenant(TenantId(tenant)).await?;
    let event_id = (!delivery.event_id.is_empty()).then_some(delivery.event_id.as_str());
    if !store::record_delivery(&mut tx, &delivery.webhook_id, &delivery.topic, event_id).await? {
        tx.commit().await?;
        return Ok(pb::WebhookDisposition::Duplicate);
    }
    if status == "disconnected" {
        tx.commit().await?;
        return Ok(pb::WebhookDisposition::Ignored);
    }
    let Some(integration) = store::get_for_update(&mut tx, integration_id).await? else {
        tx.commit().await?;
        return Ok(pb::WebhookDisposition::Ignored);
    };
    let disposition = match delivery.topic.as_str() {
        "orders/create" | "orders/updated" | "orders/cancelled" | "orders/paid" => {
            let order = shopify::parse_order_webhook(&delivery.body)
                .map_err(|_| ApiError::invalid("body", "is not a Shopify order payload"))?;
            let target = Target {
                brand_id: integration.brand_id,
                integration_id,
            };
            commerce::upsert_orders(&mut tx, target, std::slice::from_ref(&order)).await?;
            pb::WebhookDisposition::Accepted
        }
        "app/uninstalled" => {
            let row = crate::api::disconnect_locked(&mut tx, integration_id).await?;
            let event = pp_events::EventEnvelope::new(
                tenant,
                "integration.disconnected",
                serde_json::json!({
                    "integration_id": row.integration_id,
                    "platform": row.platform,
                    "status": row.status,
                    "cause": "app_uninstalled",
                    // Shopify removed the app itself: nothing to revoke, and Shopify
                    // is not called.
                    "provider_revocation": crate::revoke::ProviderRevocation::not_applicable(
                        "APP_UNINSTALLED",
                        "the app was uninstalled in Shopify; nothing was left to revoke",
                    )
                    .payload(),
                }),
            )
            .with_brand(row.brand_id)
            .with_current_request_id();
            pp_events::outbox::record(&mut tx, SCHEMA, &event).await?;
            pb::WebhookDisposition::Accepted
        }
        _ => pb::WebhookDisposition::Ignored,
    };
    tx.commit().await?;
    Ok(disposition)
}
