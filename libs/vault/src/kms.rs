//! Google Cloud KMS as the key-encryption key, over its REST API
//! (`POST {base}/v1/{key name}:encrypt` and `:decrypt`), with a bearer token from a
//! [`TokenSource`]: in production the GCE/Cloud Run metadata server.
//!
//! The key id stored with each record is the CryptoKey name; KMS encrypts with the
//! key's primary version and finds the right version itself on decrypt, so a KMS-side
//! version rotation needs no rewrap for records to keep opening.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pp_platforms::Http;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::envelope::is_valid_key_id;
use crate::{BoxFuture, KeyEncryptionKey, VaultError};

pub const KMS_BASE_URL: &str = "https://cloudkms.googleapis.com";
pub const METADATA_BASE_URL: &str = "http://metadata.google.internal";
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
/// A cached token is replaced this long before the server says it expires.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Where Cloud KMS calls get their OAuth access token.
pub trait TokenSource: Send + Sync {
    fn access_token(&self) -> BoxFuture<'_, Result<SecretString, VaultError>>;
}

/// A Cloud KMS CryptoKey used to wrap data keys. `Debug` shows the key name and base
/// URL only.
pub struct CloudKms {
    key_name: String,
    base_url: String,
    http: Http,
    tokens: Arc<dyn TokenSource>,
}

// === impl CloudKms ===

impl CloudKms {
    /// `key_name` is `projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}`.
    pub fn new(
        key_name: impl Into<String>,
        tokens: Arc<dyn TokenSource>,
        http: Http,
    ) -> Result<Self, VaultError> {
        let key_name = key_name.into();
        if !is_crypto_key_name(&key_name) {
            return Err(VaultError::InvalidKeyName { key_name });
        }
        Ok(Self {
            key_name,
            base_url: KMS_BASE_URL.to_owned(),
            http,
            tokens,
        })
    }

    /// Points the client at another endpoint (a regional one, or a test fixture).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        verb: &str,
        body: serde_json::Value,
    ) -> Result<T, VaultError> {
        let token = self.tokens.access_token().await?;
        let url = format!("{}/v1/{}:{verb}", self.base_url, self.key_name);
        let response = self
            .http
            .send(|client| {
                client
                    .post(&url)
                    .bearer_auth(token.expose_secret())
                    .json(&body)
            })
            .await
            .map_err(|_| VaultError::KmsUnavailable)?;
        let status = response.status();
        if status == StatusCode::BAD_REQUEST && verb == "decrypt" {
            // KMS answers INVALID_ARGUMENT for a ciphertext it cannot decrypt.
            return Err(VaultError::DecryptFailed);
        }
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), verb, key = %self.key_name, "cloud kms refused a request");
            return Err(VaultError::Kms {
                status: status.as_u16(),
            });
        }
        response
            .json::<T>()
            .await
            .map_err(|_| VaultError::KmsUnavailable)
    }
}

#[derive(Deserialize)]
struct EncryptResponse {
    ciphertext: String,
}

#[derive(Deserialize)]
struct DecryptResponse {
    plaintext: Zeroizing<String>,
}

impl KeyEncryptionKey for CloudKms {
    fn key_id(&self) -> &str {
        &self.key_name
    }

    fn wrap<'a>(&'a self, dek: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, VaultError>> {
        Box::pin(async move {
            let body = serde_json::json!({ "plaintext": STANDARD.encode(dek) });
            let answer: EncryptResponse = self.call("encrypt", body).await?;
            STANDARD
                .decode(answer.ciphertext)
                .map_err(|_| VaultError::KmsUnavailable)
        })
    }

    fn unwrap<'a>(
        &'a self,
        key_id: &'a str,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<Zeroizing<Vec<u8>>, VaultError>> {
        Box::pin(async move {
            if key_id != self.key_name {
                return Err(VaultError::UnknownKey {
                    key_id: key_id.to_owned(),
                });
            }
            let body = serde_json::json!({ "ciphertext": STANDARD.encode(wrapped) });
            let answer: DecryptResponse = self.call("decrypt", body).await?;
            STANDARD
                .decode(answer.plaintext.as_bytes())
                .map(Zeroizing::new)
                .map_err(|_| VaultError::KmsUnavailable)
        })
    }
}

impl fmt::Debug for CloudKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudKms")
            .field("key_name", &self.key_name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn is_crypto_key_name(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    is_valid_key_id(name)
        && segments.len() == 8
        && ["projects", "locations", "keyRings", "cryptoKeys"]
            .iter()
            .enumerate()
            .all(|(i, word)| segments[2 * i] == *word && !segments[2 * i + 1].is_empty())
}

/// Access tokens from the metadata server of the GCE VM / Cloud Run instance the
/// service runs on (its service account), cached until shortly before they expire.
#[derive(Debug)]
pub struct MetadataServer {
    base_url: String,
    http: Http,
    cached: Mutex<Option<CachedToken>>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct MetadataToken {
    access_token: SecretString,
    expires_in: u64,
}

// === impl MetadataServer ===

impl MetadataServer {
    pub fn new(http: Http) -> Self {
        Self {
            base_url: METADATA_BASE_URL.to_owned(),
            http,
            cached: Mutex::new(None),
        }
    }

    /// Points the client at another metadata server (a test fixture).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    fn cached(&self) -> Option<SecretString> {
        let cached = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cached
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    async fn fetch(&self) -> Result<SecretString, VaultError> {
        let url = format!("{}{METADATA_TOKEN_PATH}", self.base_url);
        let response = self
            .http
            .send(|client| client.get(&url).header("Metadata-Flavor", "Google"))
            .await
            .map_err(|_| VaultError::Token)?;
        if !response.status().is_success() {
            tracing::warn!(
                status = response.status().as_u16(),
                "the metadata server refused a token"
            );
            return Err(VaultError::Token);
        }
        let answer: MetadataToken = response.json().await.map_err(|_| VaultError::Token)?;
        let lifetime = Duration::from_secs(answer.expires_in).saturating_sub(TOKEN_EXPIRY_MARGIN);
        let fresh = CachedToken {
            token: answer.access_token,
            refresh_at: Instant::now() + lifetime,
        };
        let token = fresh.token.clone();
        *self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fresh);
        Ok(token)
    }
}

impl TokenSource for MetadataServer {
    fn access_token(&self) -> BoxFuture<'_, Result<SecretString, VaultError>> {
        Box::pin(async move {
            match self.cached() {
                Some(token) => Ok(token),
                None => self.fetch().await,
            }
        })
    }
}

/// A fixed token, e.g. from `gcloud auth print-access-token` when running against
/// real KMS from a workstation.
#[derive(Debug, Clone)]
pub struct StaticToken(pub SecretString);

impl TokenSource for StaticToken {
    fn access_token(&self) -> BoxFuture<'_, Result<SecretString, VaultError>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}
