//! gRPC adapters for IntegrationService: read the principal, validate, call the
//! domain, convert. One module per group of RPCs.

mod convert;
mod integrations;
mod oauth;
mod sync;
mod webhooks;

pub use integrations::disconnect_locked;
pub use webhooks::SERVICE_CREDENTIAL_HEADER;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use pp_auth::{Principal, Role};
use pp_proto::integrations as pb;
use pp_proto::integrations::integration_service_server::IntegrationService;
use tonic::{Request, Response, Status};

use crate::State;

/// Roles that connect, disconnect and sync; every role may read.
const WRITERS: &[Role] = &[Role::Admin, Role::Manager];
const READERS: &[Role] = &[Role::Admin, Role::Manager, Role::Analyst, Role::ApiClient];

pub struct IntegrationApi {
    state: Arc<State>,
}

impl IntegrationApi {
    pub fn new(state: Arc<State>) -> Self {
        IntegrationApi { state }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchSyncResponse, Status>> + Send>>;

#[tonic::async_trait]
impl IntegrationService for IntegrationApi {
    async fn start_o_auth(
        &self,
        request: Request<pb::StartOAuthRequest>,
    ) -> Result<Response<pb::StartOAuthResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.start_oauth(principal, request.into_inner()).await?,
        ))
    }

    async fn complete_o_auth(
        &self,
        request: Request<pb::CompleteOAuthRequest>,
    ) -> Result<Response<pb::CompleteOAuthResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.complete_oauth(principal, request.into_inner()).await?,
        ))
    }

    async fn connect_demo_store(
        &self,
        request: Request<pb::ConnectDemoStoreRequest>,
    ) -> Result<Response<pb::ConnectDemoStoreResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.connect_demo(principal, request.into_inner()).await?,
        ))
    }

    async fn list_integrations(
        &self,
        request: Request<pb::ListIntegrationsRequest>,
    ) -> Result<Response<pb::ListIntegrationsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.list(principal, request.into_inner()).await?,
        ))
    }

    async fn get_integration(
        &self,
        request: Request<pb::GetIntegrationRequest>,
    ) -> Result<Response<pb::GetIntegrationResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.get(principal, request.into_inner()).await?,
        ))
    }

    async fn disconnect_integration(
        &self,
        request: Request<pb::DisconnectIntegrationRequest>,
    ) -> Result<Response<pb::DisconnectIntegrationResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.disconnect(principal, request.into_inner()).await?,
        ))
    }

    async fn trigger_sync(
        &self,
        request: Request<pb::TriggerSyncRequest>,
    ) -> Result<Response<pb::TriggerSyncResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.trigger(principal, request.into_inner()).await?,
        ))
    }

    async fn get_sync_run(
        &self,
        request: Request<pb::GetSyncRunRequest>,
    ) -> Result<Response<pb::GetSyncRunResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.get_run(principal, request.into_inner()).await?,
        ))
    }

    async fn list_sync_runs(
        &self,
        request: Request<pb::ListSyncRunsRequest>,
    ) -> Result<Response<pb::ListSyncRunsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.list_runs(principal, request.into_inner()).await?,
        ))
    }

    type WatchSyncStream = WatchStream;

    async fn watch_sync(
        &self,
        request: Request<pb::WatchSyncRequest>,
    ) -> Result<Response<Self::WatchSyncStream>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(
            self.watch(principal, request.into_inner()).await?,
        ))
    }

    async fn ingest_shopify_webhook(
        &self,
        request: Request<pb::IngestShopifyWebhookRequest>,
    ) -> Result<Response<pb::IngestShopifyWebhookResponse>, Status> {
        self.check_service_credential(&request)?;
        Ok(Response::new(
            self.ingest_webhook(request.into_inner()).await?,
        ))
    }
}
