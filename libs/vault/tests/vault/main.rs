//! The vault driven through its public API: local key files, rotation, Cloud KMS
//! against a local fixture that really encrypts.

mod key_file;
mod kms;
mod local;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pp_vault::LocalKeyring;

/// A base64 key made of one repeated byte, so a test can look for it in output.
pub fn key_b64(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

/// Writes a key file with `keys` (id, byte) in order and loads it.
pub fn keyring(dir: &Path, name: &str, keys: &[(&str, u8)]) -> LocalKeyring {
    let path = write_key_file(dir, name, keys);
    match LocalKeyring::from_file(&path) {
        Ok(keyring) => keyring,
        Err(error) => panic!("key file should load: {error}"),
    }
}

pub fn write_key_file(dir: &Path, name: &str, keys: &[(&str, u8)]) -> PathBuf {
    let text: String = keys
        .iter()
        .map(|(id, byte)| format!("{id} {}\n", key_b64(*byte)))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write key file");
    path
}
