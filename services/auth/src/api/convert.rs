//! Rows and domain outcomes as protobuf messages, and the role rule for people.

use pp_auth::Role;
use pp_error::FieldViolation;
use pp_proto::auth as pb;
use pp_types::convert::{timestamp, unix_timestamp};

use crate::domain::sessions::IssuedTokens;
use crate::store::{ApiKeyRow, TenantRow, TenantStatus, UserRow, UserStatus};

pub fn tenant(row: &TenantRow) -> pb::Tenant {
    pb::Tenant {
        tenant_id: row.tenant_id.to_string(),
        name: row.name.clone(),
        status: match row.status {
            TenantStatus::Active => pb::TenantStatus::Active,
            TenantStatus::Suspended => pb::TenantStatus::Suspended,
        } as i32,
        create_time: Some(timestamp(row.created_at)),
    }
}

pub fn user(row: &UserRow) -> pb::User {
    let role = row
        .role
        .parse::<Role>()
        .map(|r| r.to_proto() as i32)
        .unwrap_or_default();
    pb::User {
        user_id: row.user_id.to_string(),
        tenant_id: row.tenant_id.to_string(),
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        role,
        status: match row.status {
            UserStatus::Active => pb::UserStatus::Active,
            UserStatus::Deactivated => pb::UserStatus::Deactivated,
        } as i32,
        create_time: Some(timestamp(row.created_at)),
    }
}

pub fn api_key(row: &ApiKeyRow) -> pb::ApiKey {
    pb::ApiKey {
        api_key_id: row.api_key_id.to_string(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        create_time: Some(timestamp(row.created_at)),
        revoke_time: row.revoked_at.map(timestamp),
        last_use_time: row.last_used_at.map(timestamp),
    }
}

pub fn tokens(issued: IssuedTokens) -> pb::TokenPair {
    pb::TokenPair {
        access_token: issued.access_token,
        access_token_expire_time: Some(unix_timestamp(issued.access_expires_at)),
        refresh_token: issued.refresh_token,
        refresh_token_expire_time: Some(timestamp(issued.refresh_expires_at)),
    }
}

/// A role a person may be given (api_client belongs to API keys only).
pub fn person_role(field: &str, value: i32, violations: &mut Vec<FieldViolation>) -> Option<Role> {
    match Role::from_proto(value) {
        Some(Role::ApiClient) => {
            violations.push(FieldViolation::new(
                field,
                "api_client is reserved for API keys",
            ));
            None
        }
        Some(role) => Some(role),
        None => {
            violations.push(FieldViolation::new(
                field,
                "must be admin, manager or analyst",
            ));
            None
        }
    }
}
