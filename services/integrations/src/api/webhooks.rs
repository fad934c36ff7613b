//! IngestShopifyWebhook: only the gateway, with its service credential, may call it.

use pp_auth::Principal;
use pp_config::ExposeSecret;
use pp_error::ApiError;
use pp_proto::integrations as pb;
use subtle::ConstantTimeEq;

use super::IntegrationApi;

/// The metadata key carrying the gateway's service credential.
pub const SERVICE_CREDENTIAL_HEADER: &str = "x-pulsepoint-service-credential";

impl IntegrationApi {
    /// Refuses every caller but the gateway: a caller presenting a bearer token (a
    /// user or API key; the auth layer does not verify tokens on this public path) is
    /// PERMISSION_DENIED, anything else UNAUTHENTICATED.
    pub(super) fn check_service_credential<T>(
        &self,
        request: &tonic::Request<T>,
    ) -> Result<(), ApiError> {
        let presented = request
            .metadata()
            .get(SERVICE_CREDENTIAL_HEADER)
            .map(|v| v.as_bytes());
        let accepted = match (&self.state.webhook_credential, presented) {
            (Some(expected), Some(given)) => {
                bool::from(expected.expose_secret().as_bytes().ct_eq(given))
            }
            _ => false,
        };
        if accepted {
            return Ok(());
        }
        let presents_token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().trim_start_matches("Bearer").trim().is_empty());
        if Principal::from_request(request).is_ok() || presents_token {
            Err(ApiError::PermissionDenied)
        } else {
            Err(ApiError::Unauthenticated("SERVICE_CREDENTIAL_REQUIRED"))
        }
    }

    pub(super) async fn ingest_webhook(
        &self,
        request: pb::IngestShopifyWebhookRequest,
    ) -> Result<pb::IngestShopifyWebhookResponse, ApiError> {
        let disposition = crate::webhooks::ingest(&self.state, &request).await?;
        Ok(pb::IngestShopifyWebhookResponse {
            disposition: disposition as i32,
        })
    }
}
