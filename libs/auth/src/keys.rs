//! Signing keys (auth service only) and the public key set every service verifies with.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 PKCS#8 key")]
    NotEd25519,
    #[error("malformed PEM")]
    Pem,
    #[error("malformed JWKS: {0}")]
    Jwks(String),
    #[error("signing failed")]
    Sign,
}

/// An Ed25519 private key with its key id. Only the auth service holds one.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public_key: Vec<u8>,
    pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| KeyError::NotEd25519)?;
        Self::from_pkcs8_der(document.as_ref())
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::NotEd25519)?;
        let public_key = pair.public_key().as_ref().to_vec();
        // The key id is a thumbprint of the public key: stable, and new for a new key.
        let kid = hex::encode(&Sha256::digest(&public_key)[..8]);
        Ok(SigningKey {
            kid,
            encoding: EncodingKey::from_ed_der(der),
            public_key,
            pkcs8_der: der.to_vec(),
        })
    }

    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with("-----") && !line.is_empty())
            .collect();
        let der = STANDARD.decode(body).map_err(|_| KeyError::Pem)?;
        Self::from_pkcs8_der(&der)
    }

    pub fn to_pkcs8_pem(&self) -> String {
        let body = STANDARD.encode(&self.pkcs8_der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(&self.public_key),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            key_use: "sig".into(),
        }
    }

    /// Signs `claims` as a compact JWS with `alg: EdDSA` and this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|_| KeyError::Sign)
    }
}

/// One public key of a JWK Set (RFC 7517 / RFC 8037).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(default)]
    pub alg: String,
    #[serde(rename = "use", default)]
    pub key_use: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

impl JwkSet {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"keys\":[]}".to_owned())
    }

    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        serde_json::from_str(json).map_err(|err| KeyError::Jwks(err.to_string()))
    }
}

/// The public keys tokens are verified with, by `kid`. Only Ed25519 keys are accepted.
#[derive(Default)]
pub struct KeyStore {
    keys: RwLock<HashMap<String, DecodingKey>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self
            .keys
            .read()
            .map(|k| k.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("KeyStore").field("kids", &kids).finish()
    }
}

impl KeyStore {
    pub fn from_jwks(set: &JwkSet) -> Result<Self, KeyError> {
        let store = KeyStore::default();
        store.replace(set)?;
        Ok(store)
    }

    /// Replaces the whole set (on rotation, the old key stays in the set for a while).
    pub fn replace(&self, set: &JwkSet) -> Result<(), KeyError> {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(KeyError::Jwks(format!("key {} is not Ed25519", jwk.kid)));
            }
            let raw = URL_SAFE_NO_PAD
                .decode(&jwk.x)
                .map_err(|_| KeyError::Jwks(format!("key {} has a malformed x", jwk.kid)))?;
            if raw.len() != 32 {
                return Err(KeyError::Jwks(format!("key {} is not 32 bytes", jwk.kid)));
            }
            keys.insert(jwk.kid.clone(), DecodingKey::from_ed_der(&raw));
        }
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(())
    }

    pub fn get(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    /// Whether `kid` is (still) in the set.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.read().is_ok_and(|k| k.contains_key(kid))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.read().map(|k| k.is_empty()).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_kid() {
        let key = SigningKey::generate().expect("generate");
        let again = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem()).expect("parse");
        assert_eq!(key.kid(), again.kid());
    }

    #[test]
    fn jwks_round_trip() {
        let key = SigningKey::generate().expect("generate");
        let set = JwkSet {
            keys: vec![key.public_jwk()],
        };
        let parsed = JwkSet::from_json(&set.to_json()).expect("parse");
        let store = KeyStore::from_jwks(&parsed).expect("store");
        assert!(store.get(key.kid()).is_some());
        assert!(store.get("other").is_none());
    }
}
