//! Minting access tokens.

use pp_auth::claims::ACCESS_TOKEN_TTL_SECS;
use pp_auth::{AccessClaims, Role, SigningKey, TOKEN_TYPE_ACCESS};
use pp_config::JwtConfig;
use uuid::Uuid;

pub struct IssuedAccess {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: i64,
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn issue_access(
    key: &SigningKey,
    jwt: &JwtConfig,
    tenant_id: Uuid,
    user_id: Uuid,
    role: Role,
    session_id: Uuid,
) -> Result<IssuedAccess, String> {
    let now = now_unix();
    let jti = Uuid::new_v4();
    let claims = AccessClaims {
        sub: user_id.to_string(),
        tid: tenant_id.to_string(),
        role: role.as_str().to_owned(),
        brands: None,
        jti: jti.to_string(),
        iss: jwt.issuer.clone(),
        aud: jwt.audience.clone(),
        exp: now + ACCESS_TOKEN_TTL_SECS,
        iat: now,
        nbf: now,
        sid: Some(session_id.to_string()),
        typ: TOKEN_TYPE_ACCESS.to_owned(),
    };
    let token = key.sign(&claims).map_err(|err| err.to_string())?;
    Ok(IssuedAccess {
        token,
        jti,
        expires_at: claims.exp,
    })
}
