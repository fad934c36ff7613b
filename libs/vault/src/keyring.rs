//! Key-encryption keys from a local file, for development and tests.
//!
//! The file is text, one key per line:
//!
//! ```text
//! # comments and blank lines are ignored
//! k2 3q2+7w0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
//! k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
//! ```
//!
//! `<key id> <standard base64 of 32 bytes>`. The key id is 1–64 characters of
//! `A–Z a–z 0–9 . _ -`. The **first** key encrypts new records; every key listed can
//! decrypt. Rotating = putting a new key first ([`LocalKeyring::rotate_file`]), then
//! rewrapping the records, then removing the old line.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use aes_gcm::Aes256Gcm;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::cipher::{self, KEY_LEN, NONCE_LEN};
use crate::{BoxFuture, KeyEncryptionKey, VaultError};

const FILE_HEADER: &str = "\
# Pulsepoint key-encryption keys: `<key id> <base64 of 32 random bytes>`, one per line.
# The first key encrypts new records; every key listed can decrypt. Never commit this file.
";

/// Keys loaded from a key file. `Debug` prints the key ids only.
pub struct LocalKeyring {
    /// Never empty; the first key is active.
    keys: Vec<LocalKey>,
}

struct LocalKey {
    id: String,
    cipher: Aes256Gcm,
}

// === impl LocalKeyring ===

impl LocalKeyring {
    /// Loads a key file (format in the module docs).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, VaultError> {
        let path = path.as_ref();
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| io_error(path, &e))?);
        Self::parse(&text, &path.display().to_string())
    }

    /// Creates a key file holding one fresh random key, readable by its owner only
    /// (0600). Refuses to overwrite an existing file: losing a key loses every record
    /// sealed under it.
    pub fn generate_file(path: impl AsRef<Path>, key_id: &str) -> Result<Self, VaultError> {
        let path = path.as_ref();
        let line = new_key_line(path, key_id)?;
        let text = Zeroizing::new(format!("{FILE_HEADER}{}", line.as_str()));
        write_private(path, &text)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Puts a fresh random key `key_id` first in an existing key file, making it the
    /// active key; the old keys stay for decryption. The file is replaced atomically.
    pub fn rotate_file(path: impl AsRef<Path>, key_id: &str) -> Result<Self, VaultError> {
        let path = path.as_ref();
        let current = Self::from_file(path)?;
        if current.keys.iter().any(|key| key.id == key_id) {
            return Err(rejected(path, "the new key id is already in the file"));
        }
        let old = Zeroizing::new(fs::read_to_string(path).map_err(|e| io_error(path, &e))?);
        let line = new_key_line(path, key_id)?;
        let text = Zeroizing::new(format!("{}{}", line.as_str(), old.as_str()));
        let temporary = path.with_extension("rotating");
        // Left over from an interrupted rotation; it held a copy of the same keys.
        let _ = fs::remove_file(&temporary);
        write_private(&temporary, &text)?;
        fs::rename(&temporary, path).map_err(|e| io_error(path, &e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Key ids, the active one first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|key| key.id.clone()).collect()
    }

    fn parse(text: &str, path: &str) -> Result<Self, VaultError> {
        let mut keys: Vec<LocalKey> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let fail = |problem| VaultError::KeyFile {
                path: path.to_owned(),
                line: line_number,
                problem,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(id), Some(encoded), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(fail("expected `<key id> <base64 key>`"));
            };
            if !is_valid_local_key_id(id) {
                return Err(fail(
                    "the key id must be 1-64 characters of a-z A-Z 0-9 . _ -",
                ));
            }
            if keys.iter().any(|key| key.id == id) {
                return Err(fail("the key id appears twice"));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(encoded)
                    .map_err(|_| fail("the key is not valid base64"))?,
            );
            if bytes.len() != KEY_LEN {
                return Err(fail("the key must be 32 bytes"));
            }
            keys.push(LocalKey {
                id: id.to_owned(),
                cipher: cipher::aes(&bytes)?,
            });
        }
        if keys.is_empty() {
            return Err(VaultError::KeyFileRejected {
                path: path.to_owned(),
                problem: "it holds no key",
            });
        }
        Ok(Self { keys })
    }

    fn active(&self) -> &LocalKey {
        // `parse` never builds an empty keyring.
        &self.keys[0]
    }

    fn wrap_now(&self, dek: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.active();
        let nonce = cipher::random_nonce();
        let sealed = cipher::encrypt(&key.cipher, &nonce, dek, key.id.as_bytes())?;
        Ok([&nonce[..], &sealed].concat())
    }

    fn unwrap_now(&self, key_id: &str, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| VaultError::UnknownKey {
                key_id: key_id.to_owned(),
            })?;
        if wrapped.len() < NONCE_LEN {
            return Err(VaultError::DecryptFailed);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        cipher::decrypt(&key.cipher, nonce, sealed, key.id.as_bytes())
    }
}

impl KeyEncryptionKey for LocalKeyring {
    fn key_id(&self) -> &str {
        &self.active().id
    }

    fn known_key_ids(&self) -> Vec<String> {
        self.key_ids()
    }

    fn wrap<'a>(&'a self, dek: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, VaultError>> {
        Box::pin(std::future::ready(self.wrap_now(dek)))
    }

    fn unwrap<'a>(
        &'a self,
        key_id: &'a str,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<Zeroizing<Vec<u8>>, VaultError>> {
        Box::pin(std::future::ready(self.unwrap_now(key_id, wrapped)))
    }
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

// === helpers ===

fn is_valid_local_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn new_key_line(path: &Path, key_id: &str) -> Result<Zeroizing<String>, VaultError> {
    if !is_valid_local_key_id(key_id) {
        return Err(rejected(
            path,
            "the new key id must be 1-64 characters of a-z A-Z 0-9 . _ -",
        ));
    }
    let key = cipher::random_key();
    Ok(Zeroizing::new(format!(
        "{key_id} {}\n",
        STANDARD.encode(key.as_ref())
    )))
}

/// Writes `text` to a new file that only its owner can read or write.
fn write_private(path: &Path, text: &str) -> Result<(), VaultError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io_error(path, &e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, error: &std::io::Error) -> VaultError {
    VaultError::KeyFileIo {
        path: path.display().to_string(),
        kind: error.kind(),
    }
}

fn rejected(path: &Path, problem: &'static str) -> VaultError {
    VaultError::KeyFileRejected {
        path: path.display().to_string(),
        problem,
    }
}
