//! The one error type of the vault. Messages are lowercase and safe to log or show:
//! never key material, a token, a plaintext or a provider's response body.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Wrong key, wrong associated data (the blob belongs to another row) or a changed
    /// byte: deliberately not told apart.
    #[error("the sealed record could not be decrypted")]
    DecryptFailed,
    #[error("the record could not be encrypted")]
    EncryptFailed,
    /// The blob was sealed under a key this vault is not configured with.
    #[error("no key with id {key_id} is configured")]
    UnknownKey { key_id: String },
    /// Not a blob this version of the vault wrote (or its header was damaged).
    #[error("the sealed record is not in a known format")]
    Format,
    /// Cloud KMS answered with an error status (401/403: the service account may not
    /// use the key; 404: no such key).
    #[error("cloud kms answered with status {status}")]
    Kms { status: u16 },
    /// Cloud KMS could not be reached, kept failing, or sent an unreadable answer.
    #[error("cloud kms is unavailable")]
    KmsUnavailable,
    /// No access token for Cloud KMS could be obtained.
    #[error("could not obtain an access token for cloud kms")]
    Token,
    #[error(
        "{key_name:?} is not a cloud kms key name (projects/…/locations/…/keyRings/…/cryptoKeys/…)"
    )]
    InvalidKeyName { key_name: String },
    #[error("could not use key file {path}: {kind}")]
    KeyFileIo { path: String, kind: io::ErrorKind },
    /// A line of the key file is wrong; `problem` never quotes the line.
    #[error("key file {path} line {line}: {problem}")]
    KeyFile {
        path: String,
        line: usize,
        problem: &'static str,
    },
    /// The key file as a whole, or a key to add to it, is not acceptable.
    #[error("key file {path}: {problem}")]
    KeyFileRejected { path: String, problem: &'static str },
}
