//! gRPC adapters: principal → authorize → validate → domain/store → response, one
//! module per resource (sessions, users, API keys); this file maps the trait onto
//! them.

mod api_keys;
mod convert;
mod sessions;
mod users;

use std::sync::Arc;

use pp_auth::Principal;
use pp_proto::auth as pb;
use pp_proto::auth::auth_service_server::AuthService;
use tonic::{Request, Response, Status};

use crate::State;

pub struct AuthApi {
    state: Arc<State>,
}

impl AuthApi {
    pub fn new(state: Arc<State>) -> Self {
        AuthApi { state }
    }
}

type ApiResult<T> = Result<Response<T>, Status>;

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::from_request(request).map_err(Status::from)
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(&self, request: Request<pb::SignUpRequest>) -> ApiResult<pb::SignUpResponse> {
        Ok(Response::new(self.sign_up(request.into_inner()).await?))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> ApiResult<pb::LoginResponse> {
        let client = pp_server::ClientAddr::of(&request);
        Ok(Response::new(
            self.login(request.into_inner(), client).await?,
        ))
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> ApiResult<pb::RefreshTokenResponse> {
        Ok(Response::new(self.refresh(request.into_inner()).await?))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> ApiResult<pb::LogoutResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.logout(principal, request.into_inner()).await?,
        ))
    }

    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> ApiResult<pb::WhoAmIResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(self.who_am_i(principal).await?))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> ApiResult<pb::CreateUserResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.create_user(principal, request.into_inner()).await?,
        ))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> ApiResult<pb::ListUsersResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.list_users(principal, request.into_inner()).await?,
        ))
    }

    async fn update_user_role(
        &self,
        request: Request<pb::UpdateUserRoleRequest>,
    ) -> ApiResult<pb::UpdateUserRoleResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.update_user_role(principal, request.into_inner())
                .await?,
        ))
    }

    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> ApiResult<pb::DeactivateUserResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.deactivate_user(principal, request.into_inner())
                .await?,
        ))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> ApiResult<pb::CreateApiKeyResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.create_api_key(principal, request.into_inner()).await?,
        ))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> ApiResult<pb::ListApiKeysResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.list_api_keys(principal, request.into_inner()).await?,
        ))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> ApiResult<pb::RevokeApiKeyResponse> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.revoke_api_key(principal, request.into_inner()).await?,
        ))
    }

    async fn exchange_api_key(
        &self,
        request: Request<pb::ExchangeApiKeyRequest>,
    ) -> ApiResult<pb::ExchangeApiKeyResponse> {
        Ok(Response::new(
            self.exchange_api_key(request.into_inner()).await?,
        ))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> ApiResult<pb::GetJwksResponse> {
        Ok(Response::new(pb::GetJwksResponse {
            jwks_json: self.state.jwks.to_json(),
        }))
    }
}
