//! AES-256-GCM with a random 96-bit nonce: the one primitive both the records and the
//! local key-encryption keys use.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::VaultError;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;

/// A fresh random 256-bit key from the thread-local CSPRNG (ChaCha, seeded by the OS).
pub(crate) fn random_key() -> Zeroizing<[u8; KEY_LEN]> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(key.as_mut());
    key
}

pub(crate) fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

/// A cipher for a key of exactly 32 bytes; any other length is a failed decryption
/// (the key came out of an unwrap that returned something else).
pub(crate) fn aes(key: &[u8]) -> Result<Aes256Gcm, VaultError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| VaultError::DecryptFailed)
}

/// Ciphertext with the 16-byte tag appended.
pub(crate) fn encrypt(
    cipher: &Aes256Gcm,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, VaultError> {
    cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| VaultError::EncryptFailed)
}

/// Any failure (wrong key, wrong associated data, a changed byte) is the same
/// [`VaultError::DecryptFailed`].
pub(crate) fn decrypt(
    cipher: &Aes256Gcm,
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if nonce.len() != NONCE_LEN {
        return Err(VaultError::DecryptFailed);
    }
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::DecryptFailed)
}
