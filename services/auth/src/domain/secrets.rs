//! Opaque secrets (refresh tokens, API keys): `<prefix>_<id>.<random>`, stored as
//! SHA-256 of the random part. The random part has 256 bits of entropy, so a fast hash
//! is enough; comparison is constant-time.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const REFRESH_PREFIX: &str = "rt";
pub const API_KEY_PREFIX: &str = "ppk";

/// A freshly minted secret: what the client gets, and what is stored.
pub struct Minted {
    pub id: Uuid,
    pub text: String,
    pub hash: Vec<u8>,
}

pub fn mint(prefix: &str, id: Uuid) -> Result<Minted, String> {
    let mut random = [0u8; 32];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| "rng failure".to_owned())?;
    let secret = URL_SAFE_NO_PAD.encode(random);
    Ok(Minted {
        id,
        text: format!("{prefix}_{}.{secret}", id.simple()),
        hash: hash(&secret),
    })
}

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits `<prefix>_<id>.<secret>`; `None` for anything else.
pub fn parse<'a>(prefix: &str, text: &'a str) -> Option<(Uuid, &'a str)> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('.')?;
    let id = Uuid::try_parse(id).ok()?;
    (!secret.is_empty()).then_some((id, secret))
}

pub fn matches(secret: &str, stored_hash: &[u8]) -> bool {
    let computed = hash(secret);
    computed.len() == stored_hash.len()
        && computed
            .iter()
            .zip(stored_hash)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_parse_match() {
        let id = Uuid::new_v4();
        let minted = mint(API_KEY_PREFIX, id).expect("mint");
        let (parsed, secret) = parse(API_KEY_PREFIX, &minted.text).expect("parse");
        assert_eq!(parsed, id);
        assert!(matches(secret, &minted.hash));
        assert!(!matches("other", &minted.hash));
        assert!(parse(REFRESH_PREFIX, &minted.text).is_none());
        assert!(parse(API_KEY_PREFIX, "ppk_nope.x").is_none());
    }
}
