//! Access-token verification: EdDSA only, every claim checked, verified tokens cached.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use jsonwebtoken::{Algorithm, Validation};
use uuid::Uuid;

use crate::claims::{ACCESS_TOKEN_TTL_SECS, AccessClaims, TOKEN_TYPE_ACCESS};
use crate::keys::KeyStore;
use crate::principal::{Principal, TenantId, UserId};
use crate::role::Role;

/// Why a token was refused. Logged; the client only ever sees `UNAUTHENTICATED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("unknown key id")]
    UnknownKey,
    #[error("invalid signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer or audience")]
    WrongIssuerOrAudience,
    #[error("required claim missing or invalid")]
    Claims,
    #[error("not an access token")]
    WrongType,
    #[error("token lives longer than an access token may")]
    Lifetime,
}

/// Verified tokens kept at most this many; the cache is cleared when it grows past it.
const MAX_CACHED_TOKENS: usize = 100_000;

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// A verified token: who it names, and the key that signed it. The key is checked
/// again on every hit, so a key withdrawn from the JWKS stops its tokens at once.
#[derive(Debug, Clone)]
struct Verified {
    principal: Principal,
    kid: Box<str>,
}

pub struct TokenVerifier {
    keys: Arc<KeyStore>,
    validation: Validation,
    /// Longest `exp - iat` accepted (plus the leeway): a token minted with a longer
    /// life (a leaked signing key, a bug in the issuer) is refused.
    max_lifetime_secs: i64,
    /// Full token text → verification. Keyed on the whole token (not the signature) so
    /// a tampered header or payload can never hit the cache.
    verified: DashMap<Box<str>, Verified>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl TokenVerifier {
    /// A verifier accepting tokens that live at most [`ACCESS_TOKEN_TTL_SECS`].
    pub fn new(keys: Arc<KeyStore>, issuer: &str, audience: &str) -> Self {
        Self::with_max_lifetime(keys, issuer, audience, ACCESS_TOKEN_TTL_SECS)
    }

    /// A verifier accepting tokens whose `exp - iat` is at most `max_lifetime_secs`
    /// (plus the leeway).
    pub fn with_max_lifetime(
        keys: Arc<KeyStore>,
        issuer: &str,
        audience: &str,
        max_lifetime_secs: i64,
    ) -> Self {
        // The algorithm is pinned: `alg: none`, HS256 (even "signed" with the public
        // key) and anything else is refused before a key is looked at.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        TokenVerifier {
            keys,
            validation,
            max_lifetime_secs,
            verified: DashMap::new(),
        }
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// Checks a bearer token and returns the principal it names.
    pub fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        let now = now_unix();
        if let Some(cached) = self.verified.get(token) {
            let refused = if cached.principal.expires_at <= now {
                VerifyError::Expired
            } else if !self.keys.contains(&cached.kid) {
                VerifyError::UnknownKey
            } else {
                return Ok(cached.principal.clone());
            };
            drop(cached);
            self.verified.remove(token);
            return Err(refused);
        }
        let verified = self.verify_uncached(token, now)?;
        if self.verified.len() >= MAX_CACHED_TOKENS {
            self.verified.clear();
        }
        let principal = verified.principal.clone();
        self.verified.insert(token.into(), verified);
        Ok(principal)
    }

    fn verify_uncached(&self, token: &str, now: i64) -> Result<Verified, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Algorithm);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = self.keys.get(&kid).ok_or(VerifyError::UnknownKey)?;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation).map_err(|err| {
                use jsonwebtoken::errors::ErrorKind;
                match err.kind() {
                    ErrorKind::ExpiredSignature => VerifyError::Expired,
                    ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
                    ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                        VerifyError::WrongIssuerOrAudience
                    }
                    ErrorKind::InvalidSignature => VerifyError::Signature,
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        VerifyError::Algorithm
                    }
                    ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => VerifyError::Claims,
                    _ => VerifyError::Malformed,
                }
            })?;
        let claims = data.claims;
        let leeway = LEEWAY_SECS as i64;
        if claims.iat > now + leeway {
            return Err(VerifyError::NotYetValid);
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime_secs + leeway {
            return Err(VerifyError::Lifetime);
        }
        Ok(Verified {
            principal: principal_from_claims(claims)?,
            kid: kid.into(),
        })
    }
}

fn principal_from_claims(claims: AccessClaims) -> Result<Principal, VerifyError> {
    if claims.typ != TOKEN_TYPE_ACCESS {
        return Err(VerifyError::WrongType);
    }
    let uuid = |s: &str| Uuid::parse_str(s).map_err(|_| VerifyError::Claims);
    let brand_scope = match claims.brands {
        None => None,
        Some(ids) => Some(
            ids.iter()
                .map(|id| uuid(id))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Principal {
        tenant_id: TenantId(uuid(&claims.tid)?),
        user_id: UserId(uuid(&claims.sub)?),
        role: claims
            .role
            .parse::<Role>()
            .map_err(|_| VerifyError::Claims)?,
        brand_scope,
        token_id: uuid(&claims.jti)?,
        // Every access token the auth service issues names its session (a login's
        // refresh family, or the API key it was exchanged for): revoking the session
        // must reach the token, so a token without one is refused.
        session_id: Some(uuid(claims.sid.as_deref().ok_or(VerifyError::Claims)?)?),
        expires_at: claims.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{JwkSet, SigningKey};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ISS: &str = "https://auth.test";
    const AUD: &str = "pulsepoint";

    fn claims(now: i64) -> AccessClaims {
        AccessClaims {
            sub: Uuid::new_v4().to_string(),
            tid: Uuid::new_v4().to_string(),
            role: "analyst".into(),
            brands: None,
            jti: Uuid::new_v4().to_string(),
            iss: ISS.into(),
            aud: AUD.into(),
            exp: now + 900,
            iat: now,
            nbf: now,
            sid: Some(Uuid::new_v4().to_string()),
            typ: TOKEN_TYPE_ACCESS.into(),
        }
    }

    fn setup() -> (SigningKey, TokenVerifier) {
        let key = SigningKey::generate().expect("key");
        let store = KeyStore::from_jwks(&JwkSet {
            keys: vec![key.public_jwk()],
        })
        .expect("store");
        (key, TokenVerifier::new(Arc::new(store), ISS, AUD))
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
    }

    #[test]
    fn accepts_a_good_token_and_caches_it() {
        let (key, verifier) = setup();
        let c = claims(now_unix());
        let token = key.sign(&c).expect("sign");
        let principal = verifier.verify(&token).expect("valid");
        assert_eq!(principal.role, Role::Analyst);
        assert_eq!(verifier.verify(&token).expect("cached"), principal);
    }

    #[test]
    fn refuses_alg_none_and_tampering() {
        let (key, verifier) = setup();
        let c = claims(now_unix());
        let payload = b64(&serde_json::to_value(&c).expect("value"));
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg":"none","typ":"JWT"})),
            payload
        );
        assert!(verifier.verify(&none).is_err());

        let token = key.sign(&c).expect("sign");
        // Warm the cache, then tamper: the tampered token must not hit it.
        verifier.verify(&token).expect("valid");
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut admin = c.clone();
        admin.role = "admin".into();
        let forged = b64(&serde_json::to_value(&admin).expect("value"));
        parts[1] = &forged;
        assert_eq!(
            verifier.verify(&parts.join(".")),
            Err(VerifyError::Signature)
        );
    }

    #[test]
    fn refuses_bad_claims() {
        let (key, verifier) = setup();
        let now = now_unix();
        let mut expired = claims(now);
        expired.exp = now - 60;
        assert_eq!(
            verifier.verify(&key.sign(&expired).expect("sign")),
            Err(VerifyError::Expired)
        );
        let mut early = claims(now);
        early.nbf = now + 600;
        assert_eq!(
            verifier.verify(&key.sign(&early).expect("sign")),
            Err(VerifyError::NotYetValid)
        );
        let mut aud = claims(now);
        aud.aud = "someone-else".into();
        assert_eq!(
            verifier.verify(&key.sign(&aud).expect("sign")),
            Err(VerifyError::WrongIssuerOrAudience)
        );
        let mut typ = claims(now);
        typ.typ = "refresh".into();
        assert_eq!(
            verifier.verify(&key.sign(&typ).expect("sign")),
            Err(VerifyError::WrongType)
        );
    }

    #[test]
    fn refuses_unknown_kid() {
        let (_, verifier) = setup();
        let other = SigningKey::generate().expect("key");
        let token = other.sign(&claims(now_unix())).expect("sign");
        assert_eq!(verifier.verify(&token), Err(VerifyError::UnknownKey));
    }

    #[test]
    fn a_cached_token_is_refused_once_its_key_leaves_the_key_set() {
        let (key, verifier) = setup();
        let token = key.sign(&claims(now_unix())).expect("sign");
        verifier.verify(&token).expect("valid, and now cached");

        // The JWKS refresh withdraws the key (a rotation that retires it, or a leak).
        let successor = SigningKey::generate().expect("key");
        verifier
            .keys()
            .replace(&JwkSet {
                keys: vec![successor.public_jwk()],
            })
            .expect("replace");
        assert_eq!(verifier.verify(&token), Err(VerifyError::UnknownKey));
        // And it stays refused (the entry is gone, the uncached path says the same).
        assert_eq!(verifier.verify(&token), Err(VerifyError::UnknownKey));
    }

    #[test]
    fn refuses_a_token_living_longer_than_an_access_token() {
        let (key, verifier) = setup();
        let now = now_unix();
        let leeway = LEEWAY_SECS as i64;
        let mut longest = claims(now);
        longest.exp = now + ACCESS_TOKEN_TTL_SECS + leeway;
        assert!(verifier.verify(&key.sign(&longest).expect("sign")).is_ok());

        let mut too_long = claims(now);
        too_long.exp = now + ACCESS_TOKEN_TTL_SECS + leeway + 1;
        assert_eq!(
            verifier.verify(&key.sign(&too_long).expect("sign")),
            Err(VerifyError::Lifetime)
        );
        // A year-long token backdated so that it looks fresh is no better.
        let mut backdated = claims(now);
        backdated.iat = now - 365 * 24 * 3600;
        backdated.nbf = backdated.iat;
        backdated.exp = now + 60;
        assert_eq!(
            verifier.verify(&key.sign(&backdated).expect("sign")),
            Err(VerifyError::Lifetime)
        );
    }

    #[test]
    fn the_max_lifetime_is_configurable() {
        let key = SigningKey::generate().expect("key");
        let store = KeyStore::from_jwks(&JwkSet {
            keys: vec![key.public_jwk()],
        })
        .expect("store");
        let verifier = TokenVerifier::with_max_lifetime(Arc::new(store), ISS, AUD, 60);
        let now = now_unix();
        let mut short = claims(now);
        short.exp = now + 60;
        assert!(verifier.verify(&key.sign(&short).expect("sign")).is_ok());
        // The default lifetime is too long for this verifier.
        assert_eq!(
            verifier.verify(&key.sign(&claims(now)).expect("sign")),
            Err(VerifyError::Lifetime)
        );
    }

    #[test]
    fn refuses_a_missing_or_future_iat() {
        let (key, verifier) = setup();
        let now = now_unix();
        let mut no_iat = serde_json::to_value(claims(now)).expect("value");
        no_iat.as_object_mut().expect("object").remove("iat");
        assert_eq!(
            verifier.verify(&key.sign(&no_iat).expect("sign")),
            Err(VerifyError::Claims)
        );
        let mut future = claims(now);
        future.iat = now + 600;
        assert_eq!(
            verifier.verify(&key.sign(&future).expect("sign")),
            Err(VerifyError::NotYetValid)
        );
    }

    #[test]
    fn refuses_an_access_token_without_a_session() {
        let (key, verifier) = setup();
        let mut no_sid = claims(now_unix());
        no_sid.sid = None;
        assert_eq!(
            verifier.verify(&key.sign(&no_sid).expect("sign")),
            Err(VerifyError::Claims)
        );
        let mut bad_sid = claims(now_unix());
        bad_sid.sid = Some("not-a-uuid".into());
        assert_eq!(
            verifier.verify(&key.sign(&bad_sid).expect("sign")),
            Err(VerifyError::Claims)
        );
        let good = claims(now_unix());
        let principal = verifier
            .verify(&key.sign(&good).expect("sign"))
            .expect("valid");
        assert_eq!(
            principal.session_id.map(|s| s.to_string()),
            good.sid,
            "the session reaches the principal"
        );
    }
}
