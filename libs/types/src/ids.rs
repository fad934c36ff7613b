//! Newtypes for the ids that cross crate boundaries, parsed once at the edge.

use std::fmt;

use pp_error::ApiError;
use uuid::Uuid;

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
