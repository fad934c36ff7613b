//! Encryption of provider tokens at rest.
//!
//! Envelope encryption: every record gets a fresh random 256-bit data key (DEK); the
//! record is sealed with AES-256-GCM under that DEK, and the DEK is wrapped by a
//! key-encryption key ([`KeyEncryptionKey`]): a [`LocalKeyring`] file in dev, a
//! [`CloudKms`] key in production. The stored blob names the key that wrapped its DEK
//! (see [`envelope`] for the byte layout), so rotating keys is: make a new key active,
//! keep the old one for decryption, and [`Vault::rewrap`] every record.
//!
//! The caller's associated data (for credentials, [`aad_for`] a tenant and an
//! integration) is authenticated with the record, so a blob copied into another row
//! does not decrypt. Errors, logs and `Debug` output never contain a key or plaintext.
//!
//! Wiring, in the service:
//!
//! ```text
//! start-up   dev:  Vault::local(LocalKeyring::from_file(key_file)?)
//!            prod: Vault::kms(CloudKms::new(key_name, Arc::new(MetadataServer::new(http.clone())), http)?,
//!                             old_key_file.map(LocalKeyring::from_file).transpose()?)
//! write      vault.seal_json(&credentials, &aad_for(tenant_id, integration_id)).await?   -> bytea
//! read       vault.open_json::<Credentials>(&blob, &aad_for(tenant_id, integration_id)).await?
//! reencrypt  for each row: if let Some(new_blob) = vault.rewrap(&blob, &aad).await? { UPDATE … }
//! ```

mod cipher;
pub mod envelope;
mod error;
mod keyring;
mod kms;
mod vault;

use std::future::Future;
use std::pin::Pin;

use zeroize::Zeroizing;

pub use error::VaultError;
pub use keyring::LocalKeyring;
pub use kms::{
    CloudKms, KMS_BASE_URL, METADATA_BASE_URL, MetadataServer, StaticToken, TokenSource,
};
pub use vault::{Vault, aad_for};

/// A boxed future, so that key-encryption keys and token sources can be used as
/// `Arc<dyn …>` (the vault picks one at start-up from configuration).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A key that wraps and unwraps data keys. Implementations must not log or put into
/// an error the DEK, their own key material, or a credential they use.
pub trait KeyEncryptionKey: Send + Sync {
    /// The id recorded in every blob whose DEK this key wraps.
    fn key_id(&self) -> &str;

    /// Every key id this key can unwrap; a keyring also answers for its older keys.
    fn known_key_ids(&self) -> Vec<String> {
        vec![self.key_id().to_owned()]
    }

    /// Wraps a data key under [`key_id`](Self::key_id).
    fn wrap<'a>(&'a self, dek: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, VaultError>>;

    /// Recovers a data key that was wrapped under `key_id`.
    fn unwrap<'a>(
        &'a self,
        key_id: &'a str,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<Zeroizing<Vec<u8>>, VaultError>>;
}
