//! Data freshness, asked of the integrations service (ListIntegrations), never read
//! from its tables. The client forwards the caller's identity, request id and trace
//! (`pp_auth::context::ForwardLayer`): integrations applies the caller's own tenant,
//! role and brand scope, and a call made outside a request carries no identity and is
//! refused. [`Recent`] keeps each brand's answer for a few seconds: "data as of" moves
//! when a sync ends, not per request, and the dashboard should not pay a second RPC on
//! every call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pp_auth::context::{Forward, ForwardLayer};
use pp_proto::common::Platform;
use pp_proto::insights::DataFreshness;
use pp_proto::integrations::integration_service_client::IntegrationServiceClient;
use pp_proto::integrations::{IntegrationStatus, ListIntegrationsRequest};
use tonic::transport::Channel;

/// The integrations client every internal call goes through.
pub type IntegrationsClient = IntegrationServiceClient<Forward<Channel>>;

/// A lazily connected client for `url` (`http://host:port`); `None` when `url` is not
/// a valid URI.
pub fn client(url: &str) -> Option<IntegrationsClient> {
    let channel = Channel::from_shared(url.to_owned()).ok()?.connect_lazy();
    Some(IntegrationServiceClient::new(
        tower::ServiceBuilder::new()
            .layer(ForwardLayer)
            .service(channel),
    ))
}

/// How fresh each connected source of `brand_id` is, as the caller may see it.
pub async fn for_brand(
    client: &IntegrationsClient,
    brand_id: &str,
) -> Result<Vec<DataFreshness>, tonic::Status> {
    let mut client = client.clone();
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_integrations(ListIntegrationsRequest {
                brand_id: brand_id.to_owned(),
                page_size: 100,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        for integration in page.integrations {
            let status = IntegrationStatus::try_from(integration.status)
                .unwrap_or(IntegrationStatus::Unspecified);
            if status == IntegrationStatus::Disconnected || status == IntegrationStatus::Pending {
                continue;
            }
            let stale = integration.last_sync_time.is_none()
                || matches!(
                    status,
                    IntegrationStatus::Error | IntegrationStatus::ReauthRequired
                );
            out.push(DataFreshness {
                platform: Platform::try_from(integration.platform).unwrap_or(Platform::Unspecified)
                    as i32,
                integration_id: integration.integration_id,
                data_as_of_time: integration.last_sync_time,
                stale,
            });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(out)
}

/// Recent freshness answers per tenant and brand, reused for `ttl` (zero: never). The
/// caller has been checked to see the brand before; every role may list integrations,
/// so one caller's answer is every such caller's.
#[derive(Debug, Default)]
pub struct Recent {
    ttl: Duration,
    entries: Mutex<HashMap<BrandKey, (Instant, Vec<DataFreshness>)>>,
}

/// A tenant and one of its brand ids.
type BrandKey = (uuid::Uuid, String);

/// At most this many brands are remembered; past it the map starts over.
const MAX_RECENT: usize = 10_000;

impl Recent {
    pub fn new(ttl: Duration) -> Self {
        Recent {
            ttl,
            entries: Mutex::default(),
        }
    }

    /// The brand's freshness: a recent answer, or a new one from the integrations
    /// service (remembered when the call succeeded).
    pub async fn for_brand(
        &self,
        client: &IntegrationsClient,
        tenant: uuid::Uuid,
        brand_id: &str,
    ) -> Result<Vec<DataFreshness>, tonic::Status> {
        let key = (tenant, brand_id.to_owned());
        if !self.ttl.is_zero()
            && let Ok(entries) = self.entries.lock()
            && let Some((at, sources)) = entries.get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(sources.clone());
        }
        let sources = for_brand(client, brand_id).await?;
        if !self.ttl.is_zero()
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= MAX_RECENT {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), sources.clone()));
        }
        Ok(sources)
    }
}
