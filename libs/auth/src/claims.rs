//! The claims of a Pulsepoint access token.

use serde::{Deserialize, Serialize};

/// The `typ` claim of access tokens; anything else (a refresh token, an id token
/// from elsewhere) is refused where an access token is expected.
pub const TOKEN_TYPE_ACCESS: &str = "access";

/// Access token lifetime.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brands: Option<Vec<String>>,
    /// Token id, for revocation.
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    /// Refresh family (session) the token belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub typ: String,
}
