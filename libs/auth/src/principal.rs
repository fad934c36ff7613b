//! Who is calling: the verified identity handlers read from request extensions.

use pp_error::ApiError;
use uuid::Uuid;

use crate::role::Role;

pub use pp_types::{TenantId, UserId, parse_uuid};

/// The verified caller of an RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    /// Brands the token is limited to; `None` means every brand of the tenant.
    pub brand_scope: Option<Vec<Uuid>>,
    /// The token's `jti`.
    pub token_id: Uuid,
    /// The session (refresh-token family or API key) the token was issued under.
    pub session_id: Option<Uuid>,
    /// Unix seconds at which the token expires.
    pub expires_at: i64,
}

impl From<&Principal> for TenantId {
    fn from(principal: &Principal) -> TenantId {
        principal.tenant_id
    }
}

impl Principal {
    /// `PERMISSION_DENIED` unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied)
        }
    }

    /// Whether the token's brand scope admits `brand_id`.
    pub fn may_see_brand(&self, brand_id: Uuid) -> bool {
        self.brand_scope
            .as_ref()
            .is_none_or(|scope| scope.contains(&brand_id))
    }

    /// The principal of a request, put there by [`crate::AuthLayer`].
    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<Principal, ApiError> {
        request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthenticated("UNAUTHENTICATED"))
    }
}
