//! The stored blob. Version 1, integers big-endian:
//!
//! | bytes | field                                                              |
//! |-------|--------------------------------------------------------------------|
//! | 1     | version, `0x01`                                                    |
//! | 2     | key id length `k` (1..=512)                                        |
//! | k     | key id: printable ASCII; the key that wrapped the DEK              |
//! | 2     | wrapped DEK length `w` (≥ 1)                                       |
//! | w     | wrapped DEK, as the key-encryption key returned it                 |
//! | 12    | nonce                                                              |
//! | rest  | AES-256-GCM ciphertext of the record under the DEK, 16-byte tag last |
//!
//! The header (everything before the nonce) is authenticated together with the
//! caller's associated data, so no byte of the blob can change undetected.
//! A local key file wraps a DEK as `nonce (12) ‖ AES-256-GCM(dek) ‖ tag (16)` with the
//! key id as associated data; Cloud KMS returns its own opaque ciphertext.

use crate::VaultError;
use crate::cipher::{NONCE_LEN, TAG_LEN};

pub const VERSION: u8 = 1;
/// Long enough for any Cloud KMS key name; short enough that an error quoting a key id
/// stays readable.
pub const MAX_KEY_ID_LEN: usize = 512;

/// A parsed blob, borrowing from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub key_id: &'a str,
    pub wrapped_dek: &'a [u8],
    /// Version, key id and wrapped DEK exactly as stored: part of the associated data.
    pub header: &'a [u8],
    pub nonce: &'a [u8],
    pub ciphertext: &'a [u8],
}

/// Whether `key_id` can be stored in a blob.
pub(crate) fn is_valid_key_id(key_id: &str) -> bool {
    !key_id.is_empty()
        && key_id.len() <= MAX_KEY_ID_LEN
        && key_id.bytes().all(|b| b.is_ascii_graphic())
}

/// The header of a new blob; the nonce and ciphertext are appended to it.
pub(crate) fn header(key_id: &str, wrapped_dek: &[u8]) -> Result<Vec<u8>, VaultError> {
    let key_id_len = u16::try_from(key_id.len()).map_err(|_| VaultError::EncryptFailed)?;
    let wrapped_len = u16::try_from(wrapped_dek.len()).map_err(|_| VaultError::EncryptFailed)?;
    if !is_valid_key_id(key_id) || wrapped_dek.is_empty() {
        return Err(VaultError::EncryptFailed);
    }
    let mut header = Vec::with_capacity(5 + key_id.len() + wrapped_dek.len());
    header.push(VERSION);
    header.extend_from_slice(&key_id_len.to_be_bytes());
    header.extend_from_slice(key_id.as_bytes());
    header.extend_from_slice(&wrapped_len.to_be_bytes());
    header.extend_from_slice(wrapped_dek);
    Ok(header)
}

impl<'a> Envelope<'a> {
    pub(crate) fn parse(blob: &'a [u8]) -> Result<Self, VaultError> {
        let mut reader = Reader { rest: blob };
        if reader.take(1)? != [VERSION] {
            return Err(VaultError::Format);
        }
        let key_id_len = reader.take_len()?;
        let key_id = std::str::from_utf8(reader.take(key_id_len)?)
            .ok()
            .filter(|key_id| is_valid_key_id(key_id))
            .ok_or(VaultError::Format)?;
        let wrapped_len = reader.take_len()?;
        if wrapped_len == 0 {
            return Err(VaultError::Format);
        }
        let wrapped_dek = reader.take(wrapped_len)?;
        let header = &blob[..blob.len() - reader.rest.len()];
        let nonce = reader.take(NONCE_LEN)?;
        if reader.rest.len() < TAG_LEN {
            return Err(VaultError::Format);
        }
        Ok(Self {
            key_id,
            wrapped_dek,
            header,
            nonce,
            ciphertext: reader.rest,
        })
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], VaultError> {
        if self.rest.len() < n {
            return Err(VaultError::Format);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take_len(&mut self) -> Result<usize, VaultError> {
        let bytes = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
    }
}
