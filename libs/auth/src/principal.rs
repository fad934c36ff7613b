//! Who is calling: the verified identity handlers read from request extensions.

use std::fmt;

use pp_error::ApiError;
use uuid::Uuid;

use crate::role::Role;

macro_rules! id_newtype {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses a wire id; anything but a UUID is `INVALID_ARGUMENT` naming `field`.
            pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
                parse_uuid(field, value).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_newtype!(TenantId);
id_newtype!(UserId);

/// Parses a UUID sent by a client; the error names the field.
pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_name_the_field() {
        let err = TenantId::parse("tenant_id", "not-a-uuid").expect_err("invalid");
        let status = tonic::Status::from(err);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(pp_error::field_violations(&status), vec!["tenant_id"]);
        assert!(UserId::parse("user_id", "").is_err());
    }
}
