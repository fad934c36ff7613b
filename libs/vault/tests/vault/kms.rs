//! `CloudKms` and `MetadataServer` against a local fixture that speaks the Cloud KMS
//! REST format, encrypts with a real AES key and checks the bearer token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pp_platforms::fixtures::serve;
use pp_platforms::{Http, RetryPolicy};
use pp_vault::{CloudKms, MetadataServer, StaticToken, TokenSource, Vault, VaultError, aad_for};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::keyring;

const KEY_NAME: &str =
    "projects/pp-test/locations/europe-west1/keyRings/pulsepoint/cryptoKeys/tokens";
const GOOD_TOKEN: &str = "ya29.fixture-token";

struct Fixture {
    key: Aes256Gcm,
    token_requests: AtomicUsize,
    kms_requests: AtomicUsize,
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": status.as_u16(), "message": message } })),
    )
        .into_response()
}

/// `POST /v1/{name}:encrypt|decrypt`, as Cloud KMS serves it.
async fn kms(
    State(fixture): State<Arc<Fixture>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    fixture.kms_requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {GOOD_TOKEN}"))
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials.",
        );
    }
    let Some((name, verb)) = rest.rsplit_once(':') else {
        return error(StatusCode::NOT_FOUND, "no such method");
    };
    if name != KEY_NAME {
        return error(StatusCode::NOT_FOUND, "CryptoKey not found.");
    }
    let field = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .and_then(|b64| STANDARD.decode(b64).ok())
    };
    match verb {
        "encrypt" => {
            let Some(plaintext) = field("plaintext") else {
                return error(StatusCode::BAD_REQUEST, "plaintext is required");
            };
            let nonce = [5u8; 12]; // a fixture: determinism is fine here, the DEK is fresh
            let Ok(sealed) = fixture
                .key
                .encrypt(Nonce::from_slice(&nonce), plaintext.as_slice())
            else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "encrypt failed");
            };
            let ciphertext = STANDARD.encode([&nonce[..], &sealed].concat());
            Json(json!({ "name": format!("{KEY_NAME}/cryptoKeyVersions/1"), "ciphertext": ciphertext })).into_response()
        }
        "decrypt" => {
            let opened = field("ciphertext").filter(|c| c.len() > 12).and_then(|c| {
                let (nonce, sealed) = c.split_at(12);
                fixture.key.decrypt(Nonce::from_slice(nonce), sealed).ok()
            });
            match opened {
                Some(plaintext) => {
                    Json(json!({ "plaintext": STANDARD.encode(plaintext), "usedPrimary": true }))
                        .into_response()
                }
                None => error(
                    StatusCode::BAD_REQUEST,
                    "Decryption failed: the ciphertext is invalid.",
                ),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "no such method"),
    }
}

/// The GCE metadata token endpoint; insists on `Metadata-Flavor: Google`.
async fn metadata_token(State(fixture): State<Arc<Fixture>>, headers: HeaderMap) -> Response {
    fixture.token_requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return error(
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        );
    }
    Json(json!({ "access_token": GOOD_TOKEN, "expires_in": 3599, "token_type": "Bearer" }))
        .into_response()
}

async fn start() -> (String, Arc<Fixture>) {
    let fixture = Arc::new(Fixture {
        key: Aes256Gcm::new_from_slice(&[42u8; 32]).expect("key"),
        token_requests: AtomicUsize::new(0),
        kms_requests: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route("/v1/{*rest}", post(kms))
        .route(
            "/computeMetadata/v1/instance/service-accounts/default/token",
            get(metadata_token),
        )
        .with_state(fixture.clone());
    let running = serve(router).await.expect("serve fixture");
    (running.base_url(), fixture)
}

fn cloud_kms(base_url: &str, tokens: Arc<dyn TokenSource>) -> CloudKms {
    CloudKms::new(KEY_NAME, tokens, Http::new(RetryPolicy::fast()))
        .expect("valid key name")
        .with_base_url(base_url)
}

fn metadata(base_url: &str) -> Arc<dyn TokenSource> {
    Arc::new(MetadataServer::new(Http::new(RetryPolicy::fast())).with_base_url(base_url))
}

#[tokio::test]
async fn kms_round_trip_with_a_cached_metadata_token() {
    let (base_url, fixture) = start().await;
    let vault = Vault::kms(cloud_kms(&base_url, metadata(&base_url)), None);
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());

    let blob = vault.seal(b"shpat_secret", &aad).await.expect("seal");
    assert_eq!(Vault::key_id_of(&blob).expect("key id"), KEY_NAME);
    assert_eq!(
        vault.open(&blob, &aad).await.expect("open").as_slice(),
        b"shpat_secret"
    );
    assert_eq!(
        vault
            .open(&blob, &aad)
            .await
            .expect("open again")
            .as_slice(),
        b"shpat_secret"
    );

    assert_eq!(
        fixture.kms_requests.load(Ordering::SeqCst),
        3,
        "one encrypt, two decrypts"
    );
    assert_eq!(
        fixture.token_requests.load(Ordering::SeqCst),
        1,
        "the token is cached"
    );
    assert_eq!(
        vault.rewrap(&blob, &aad).await.expect("rewrap"),
        None,
        "already under the kms key"
    );
    assert!(
        vault
            .open(&blob, &aad_for(Uuid::new_v4(), Uuid::new_v4()))
            .await
            .is_err(),
        "another row"
    );
}

#[tokio::test]
async fn a_wrapped_key_kms_cannot_decrypt_is_decrypt_failed() {
    let (base_url, _fixture) = start().await;
    let vault = Vault::kms(cloud_kms(&base_url, metadata(&base_url)), None);
    let aad = [9u8; 32];
    let mut blob = vault.seal(b"tokens", &aad).await.expect("seal");

    // The wrapped DEK starts right after version, key id length, key id, wrapped length.
    let wrapped_start = 1 + 2 + KEY_NAME.len() + 2;
    blob[wrapped_start + 20] ^= 0x80;

    let result = vault.open(&blob, &aad).await;
    assert!(
        matches!(result, Err(VaultError::DecryptFailed)),
        "{result:?}"
    );
}

#[tokio::test]
async fn kms_rejecting_the_bearer_token_is_a_kms_error_without_the_token() {
    let (base_url, fixture) = start().await;
    let wrong = Arc::new(StaticToken(SecretString::from("ya29.wrong-token")));
    let vault = Vault::kms(cloud_kms(&base_url, wrong), None);

    let error = vault
        .seal(b"tokens", &[0u8; 32])
        .await
        .expect_err("unauthorized");

    assert!(
        matches!(error, VaultError::Kms { status: 401 }),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?} {vault:?}").contains("wrong-token"));
    assert_eq!(
        fixture.kms_requests.load(Ordering::SeqCst),
        1,
        "a 401 is not retried"
    );
}

#[tokio::test]
async fn a_metadata_server_that_refuses_is_a_token_error() {
    // Nothing serves the token path on this fixture: a 404.
    let (base_url, _fixture) = start().await;
    let tokens = Arc::new(
        MetadataServer::new(Http::new(RetryPolicy::fast()))
            .with_base_url(format!("{base_url}/elsewhere")),
    );

    let result = tokens.access_token().await;

    assert!(matches!(result, Err(VaultError::Token)), "{result:?}");
}

#[tokio::test]
async fn switching_to_kms_still_opens_local_blobs_and_rewraps_them_into_kms() {
    let (base_url, _fixture) = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());
    let local_blob = Vault::local(keyring(dir.path(), "dev.keys", &[("dev-1", 1)]))
        .seal(b"tokens", &aad)
        .await
        .expect("seal locally");

    let fallback = keyring(dir.path(), "dev.keys", &[("dev-1", 1)]);
    let vault = Vault::kms(cloud_kms(&base_url, metadata(&base_url)), Some(fallback));
    assert_eq!(vault.active_key_id(), KEY_NAME);
    assert_eq!(
        vault
            .open(&local_blob, &aad)
            .await
            .expect("open local")
            .as_slice(),
        b"tokens"
    );

    let kms_blob = vault
        .rewrap(&local_blob, &aad)
        .await
        .expect("rewrap")
        .expect("moved to kms");
    assert_eq!(Vault::key_id_of(&kms_blob).expect("key id"), KEY_NAME);
    let kms_only = Vault::kms(cloud_kms(&base_url, metadata(&base_url)), None);
    assert_eq!(
        kms_only
            .open(&kms_blob, &aad)
            .await
            .expect("open")
            .as_slice(),
        b"tokens"
    );
}

#[test]
fn a_key_name_that_is_not_a_crypto_key_is_rejected() {
    for name in [
        "tokens",
        "projects/p/locations/l/keyRings/r",
        "projects/p/locations/l/keyRings/r/cryptoKeys/",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
    ] {
        let result = CloudKms::new(
            name,
            Arc::new(StaticToken(SecretString::from("t"))),
            Http::new(RetryPolicy::fast()),
        );
        assert!(
            matches!(result, Err(VaultError::InvalidKeyName { .. })),
            "{name} accepted"
        );
    }
}
