//! Sealing and opening records under the configured keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::cipher::{self, KEY_LEN};
use crate::envelope::{self, Envelope};
use crate::{CloudKms, KeyEncryptionKey, LocalKeyring, VaultError};

/// Seals records under the active key-encryption key and opens records sealed under
/// any configured one. `Debug` prints key ids only.
pub struct Vault {
    active: Arc<dyn KeyEncryptionKey>,
    by_id: HashMap<String, Arc<dyn KeyEncryptionKey>>,
}

/// The associated data for a connection's credentials: the tenant id then the
/// integration id (16 bytes each), so a blob copied to another row does not open.
pub fn aad_for(tenant: Uuid, integration: Uuid) -> [u8; 32] {
    let mut aad = [0u8; 32];
    aad[..16].copy_from_slice(tenant.as_bytes());
    aad[16..].copy_from_slice(integration.as_bytes());
    aad
}

// === impl Vault ===

impl Vault {
    /// Seals under `active`; opens blobs under `active` or any of `others`.
    pub fn new(
        active: Arc<dyn KeyEncryptionKey>,
        others: impl IntoIterator<Item = Arc<dyn KeyEncryptionKey>>,
    ) -> Self {
        let mut by_id = HashMap::new();
        for kek in others.into_iter().chain([active.clone()]) {
            // The active key goes in last, so it answers for an id that two keys share.
            for key_id in kek.known_key_ids() {
                by_id.insert(key_id, kek.clone());
            }
        }
        Self { active, by_id }
    }

    /// Development: every key in the file can open, the first one seals.
    pub fn local(keyring: LocalKeyring) -> Self {
        Self::new(Arc::new(keyring), [])
    }

    /// Production: seals with Cloud KMS; a local keyring, when given, still opens the
    /// records sealed before the switch (until they are rewrapped).
    pub fn kms(kms: CloudKms, fallback_local: Option<LocalKeyring>) -> Self {
        let others = fallback_local.map(|keyring| Arc::new(keyring) as Arc<dyn KeyEncryptionKey>);
        Self::new(Arc::new(kms), others)
    }

    /// The id new records are sealed under.
    pub fn active_key_id(&self) -> &str {
        self.active.key_id()
    }

    /// Encrypts `plaintext` under a fresh data key, bound to `aad` (see
    /// [`aad_for`]). Two seals of the same input differ.
    pub async fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let dek = cipher::random_key();
        let wrapped = self.active.wrap(dek.as_ref()).await?;
        let mut blob = envelope::header(self.active.key_id(), &wrapped)?;
        let nonce = cipher::random_nonce();
        let ciphertext = cipher::encrypt(
            &cipher::aes(dek.as_ref())?,
            &nonce,
            plaintext,
            &[blob.as_slice(), aad].concat(),
        )?;
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    /// Decrypts a blob from [`seal`](Self::seal) given the same `aad`.
    pub async fn open(&self, blob: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let envelope = Envelope::parse(blob)?;
        let kek = self
            .by_id
            .get(envelope.key_id)
            .ok_or_else(|| VaultError::UnknownKey {
                key_id: envelope.key_id.to_owned(),
            })?;
        let dek = kek.unwrap(envelope.key_id, envelope.wrapped_dek).await?;
        if dek.len() != KEY_LEN {
            return Err(VaultError::DecryptFailed);
        }
        let aad = [envelope.header, aad].concat();
        cipher::decrypt(
            &cipher::aes(&dek)?,
            envelope.nonce,
            envelope.ciphertext,
            &aad,
        )
    }

    /// The id of the key a blob was sealed under, without decrypting it.
    pub fn key_id_of(blob: &[u8]) -> Result<&str, VaultError> {
        Envelope::parse(blob).map(|envelope| envelope.key_id)
    }

    /// For key rotation: the blob sealed anew under the active key, or `None` when it
    /// already is. Fails like [`open`](Self::open) when the blob does not open.
    pub async fn rewrap(&self, blob: &[u8], aad: &[u8]) -> Result<Option<Vec<u8>>, VaultError> {
        if Self::key_id_of(blob)? == self.active.key_id() {
            return Ok(None);
        }
        let plaintext = self.open(blob, aad).await?;
        self.seal(&plaintext, aad).await.map(Some)
    }

    /// [`seal`](Self::seal) of the JSON form of `value` (e.g. `pp_platforms::Credentials`).
    pub async fn seal_json<T: Serialize>(
        &self,
        value: &T,
        aad: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let json =
            Zeroizing::new(serde_json::to_vec(value).map_err(|_| VaultError::EncryptFailed)?);
        self.seal(&json, aad).await
    }

    /// [`open`](Self::open) then parse JSON. A parse failure is [`VaultError::Format`]
    /// and drops serde's message, which can quote the (secret) input.
    pub async fn open_json<T: DeserializeOwned>(
        &self,
        blob: &[u8],
        aad: &[u8],
    ) -> Result<T, VaultError> {
        let json = self.open(blob, aad).await?;
        serde_json::from_slice(&json).map_err(|_| VaultError::Format)
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut known: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
        known.sort_unstable();
        f.debug_struct("Vault")
            .field("active_key_id", &self.active.key_id())
            .field("known_key_ids", &known)
            .finish()
    }
}
