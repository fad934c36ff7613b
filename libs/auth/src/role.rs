//! Roles within a tenant. `docs/rbac.md` is the matrix of what each may do.

use std::fmt;
use std::str::FromStr;

use pp_proto::common::Role as ProtoRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Manager,
    Analyst,
    ApiClient,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Analyst, Role::ApiClient];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
            Role::ApiClient => "api_client",
        }
    }

    /// The role from its wire enum; `ROLE_UNSPECIFIED` and unknown numbers are `None`.
    pub fn from_proto(value: i32) -> Option<Role> {
        match ProtoRole::try_from(value).ok()? {
            ProtoRole::Admin => Some(Role::Admin),
            ProtoRole::Manager => Some(Role::Manager),
            ProtoRole::Analyst => Some(Role::Analyst),
            ProtoRole::ApiClient => Some(Role::ApiClient),
            ProtoRole::Unspecified => None,
        }
    }

    pub fn to_proto(self) -> ProtoRole {
        match self {
            Role::Admin => ProtoRole::Admin,
            Role::Manager => ProtoRole::Manager,
            Role::Analyst => ProtoRole::Analyst,
            Role::ApiClient => ProtoRole::ApiClient,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(Role::from_proto(role.to_proto() as i32), Some(role));
        }
        assert_eq!(Role::from_proto(0), None);
        assert_eq!(Role::from_proto(99), None);
    }
}
