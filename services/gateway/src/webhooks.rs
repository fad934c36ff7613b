//! `POST /webhooks/shopify`: Shopify's deliveries, forwarded byte for byte to the
//! integrations service's IngestShopifyWebhook with the gateway's own service
//! credential (no user token exists for a webhook). The HMAC is checked there,
//! against the raw body this route keeps intact.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pp_config::{ExposeSecret, SecretString};
use pp_proto::integrations::IngestShopifyWebhookRequest;
use pp_proto::integrations::integration_service_client::IntegrationServiceClient;
use tonic::transport::Channel;

/// The metadata key the integrations service reads the credential from.
pub const SERVICE_CREDENTIAL_HEADER: &str = "x-pulsepoint-service-credential";

/// Shopify gives up on a delivery after 5 s; answer well before.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Clone)]
pub struct WebhookRoute {
    client: IntegrationServiceClient<Channel>,
    credential: Option<Arc<SecretString>>,
}

impl WebhookRoute {
    pub fn new(
        integrations_url: &str,
        credential: Option<SecretString>,
        max_message_bytes: usize,
    ) -> Result<Self, http::uri::InvalidUri> {
        let channel = Channel::from_shared(integrations_url.to_owned())?.connect_lazy();
        Ok(WebhookRoute {
            client: IntegrationServiceClient::new(channel)
                .max_encoding_message_size(max_message_bytes),
            credential: credential.map(Arc::new),
        })
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Forwards one delivery; 200 for every verified delivery (accepted, duplicate or
/// ignored), 401 for a bad signature, 400 for a malformed one, 503 otherwise so
/// Shopify retries.
pub async fn shopify(
    State(route): State<WebhookRoute>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(credential) = &route.credential else {
        tracing::warn!("shopify webhook refused: PULSEPOINT_WEBHOOK_CREDENTIAL is not set");
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let trigger_time = chrono_like_timestamp(&header(&headers, "x-shopify-triggered-at"));
    let message = IngestShopifyWebhookRequest {
        body: body.to_vec(),
        shop_domain: header(&headers, "x-shopify-shop-domain"),
        topic: header(&headers, "x-shopify-topic"),
        hmac_sha256: header(&headers, "x-shopify-hmac-sha256"),
        webhook_id: header(&headers, "x-shopify-webhook-id"),
        api_version: header(&headers, "x-shopify-api-version"),
        trigger_time,
        event_id: header(&headers, "x-shopify-event-id"),
    };
    let mut request = tonic::Request::new(message);
    request.set_timeout(FORWARD_TIMEOUT);
    if let Ok(value) = credential.expose_secret().parse() {
        request
            .metadata_mut()
            .insert(SERVICE_CREDENTIAL_HEADER, value);
    }
    for name in ["x-request-id", "x-forwarded-for", "traceparent"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok())
            && let Ok(value) = value.parse()
        {
            request.metadata_mut().insert(name, value);
        }
    }
    let mut client = route.client.clone();
    match tokio::time::timeout(FORWARD_TIMEOUT, client.ingest_shopify_webhook(request)).await {
        Ok(Ok(_)) => StatusCode::OK,
        Ok(Err(status)) => match status.code() {
            tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
            code => {
                tracing::warn!(?code, "shopify webhook not applied");
                StatusCode::SERVICE_UNAVAILABLE
            }
        },
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// `X-Shopify-Triggered-At` (RFC 3339) as a protobuf timestamp.
fn chrono_like_timestamp(value: &str) -> Option<prost_types::Timestamp> {
    let parsed = chrono::DateTime::parse_from_rfc3339(value).ok()?;
    Some(pp_types::convert::timestamp(
        parsed.with_timezone(&chrono::Utc),
    ))
}
