use pp_platforms::Credentials;
use pp_vault::{Vault, VaultError, aad_for};
use uuid::Uuid;

use crate::{key_b64, keyring};

const TOKENS: &[u8] = br#"{"access_token":"shpat_secret","refresh_token":null}"#;

fn vault_k1(dir: &tempfile::TempDir) -> Vault {
    Vault::local(keyring(dir.path(), "k1.keys", &[("k1", 1)]))
}

#[tokio::test]
async fn a_sealed_record_opens_with_the_same_aad_and_hides_the_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = vault_k1(&dir);
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());

    let blob = vault.seal(TOKENS, &aad).await.expect("seal");

    assert!(
        !blob.windows(12).any(|w| w == b"shpat_secret"),
        "plaintext leaked into the blob"
    );
    assert_eq!(Vault::key_id_of(&blob).expect("key id"), "k1");
    assert_eq!(
        vault.open(&blob, &aad).await.expect("open").as_slice(),
        TOKENS
    );
}

#[tokio::test]
async fn a_blob_moved_to_another_row_does_not_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = vault_k1(&dir);
    let tenant = Uuid::new_v4();
    let blob = vault
        .seal(TOKENS, &aad_for(tenant, Uuid::new_v4()))
        .await
        .expect("seal");

    let other_integration = vault.open(&blob, &aad_for(tenant, Uuid::new_v4())).await;
    let other_tenant = vault
        .open(&blob, &aad_for(Uuid::new_v4(), Uuid::new_v4()))
        .await;

    assert!(
        matches!(other_integration, Err(VaultError::DecryptFailed)),
        "{other_integration:?}"
    );
    assert!(
        matches!(other_tenant, Err(VaultError::DecryptFailed)),
        "{other_tenant:?}"
    );
}

#[tokio::test]
async fn changing_any_byte_of_a_blob_makes_it_fail_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = vault_k1(&dir);
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());
    let blob = vault.seal(TOKENS, &aad).await.expect("seal");

    for position in 0..blob.len() {
        let mut tampered = blob.clone();
        tampered[position] ^= 0x01;
        assert!(
            vault.open(&tampered, &aad).await.is_err(),
            "flipping byte {position} went unnoticed"
        );
    }
    assert!(
        vault.open(&blob[..blob.len() - 1], &aad).await.is_err(),
        "a truncated blob opened"
    );
    assert!(matches!(
        vault.open(&[], &aad).await,
        Err(VaultError::Format)
    ));
}

#[tokio::test]
async fn two_seals_of_the_same_plaintext_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = vault_k1(&dir);
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());

    let first = vault.seal(TOKENS, &aad).await.expect("seal");
    let second = vault.seal(TOKENS, &aad).await.expect("seal");

    let sealed_part = |blob: &[u8]| blob[blob.len() - TOKENS.len() - 16..].to_vec();
    assert_ne!(first, second);
    assert_ne!(
        sealed_part(&first),
        sealed_part(&second),
        "same ciphertext: nonce or key reused"
    );
    assert_eq!(
        vault.open(&second, &aad).await.expect("open").as_slice(),
        TOKENS
    );
}

#[tokio::test]
async fn rotation_opens_old_blobs_and_rewraps_them_under_the_new_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());
    let old_blob = vault_k1(&dir)
        .seal(TOKENS, &aad)
        .await
        .expect("seal under k1");

    let rotated = Vault::local(keyring(dir.path(), "k2k1.keys", &[("k2", 2), ("k1", 1)]));
    assert_eq!(rotated.active_key_id(), "k2");
    assert_eq!(
        rotated
            .open(&old_blob, &aad)
            .await
            .expect("old blob opens")
            .as_slice(),
        TOKENS
    );

    let new_blob = rotated
        .rewrap(&old_blob, &aad)
        .await
        .expect("rewrap")
        .expect("a new blob");
    assert_eq!(Vault::key_id_of(&new_blob).expect("key id"), "k2");
    assert_eq!(
        rotated.rewrap(&new_blob, &aad).await.expect("rewrap"),
        None,
        "already current"
    );

    let k2_only = Vault::local(keyring(dir.path(), "k2.keys", &[("k2", 2)]));
    assert_eq!(
        k2_only
            .open(&new_blob, &aad)
            .await
            .expect("opens with k2 alone")
            .as_slice(),
        TOKENS
    );
    assert!(matches!(
        k2_only.open(&old_blob, &aad).await,
        Err(VaultError::UnknownKey { key_id }) if key_id == "k1"
    ));
}

#[tokio::test]
async fn rewrap_of_a_blob_for_another_row_fails_and_produces_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());
    let old_blob = vault_k1(&dir)
        .seal(TOKENS, &aad)
        .await
        .expect("seal under k1");
    let rotated = Vault::local(keyring(dir.path(), "k2k1.keys", &[("k2", 2), ("k1", 1)]));

    let wrong_row = rotated
        .rewrap(&old_blob, &aad_for(Uuid::new_v4(), Uuid::new_v4()))
        .await;

    assert!(
        matches!(wrong_row, Err(VaultError::DecryptFailed)),
        "{wrong_row:?}"
    );
}

#[tokio::test]
async fn a_key_the_vault_does_not_have_is_unknown_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let aad = [7u8; 32];
    let blob = Vault::local(keyring(dir.path(), "a.keys", &[("other", 9)]))
        .seal(TOKENS, &aad)
        .await
        .expect("seal");

    let result = vault_k1(&dir).open(&blob, &aad).await;

    assert!(
        matches!(&result, Err(VaultError::UnknownKey { key_id }) if key_id == "other"),
        "{result:?}"
    );
}

#[tokio::test]
async fn credentials_round_trip_as_json_and_a_bad_parse_quotes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = vault_k1(&dir);
    let aad = aad_for(Uuid::new_v4(), Uuid::new_v4());
    let credentials = Credentials {
        access_token: "shpat_secret".into(),
        refresh_token: Some("refresh_secret".into()),
        expires_at: None,
        scopes: vec!["read_orders".into()],
    };

    let blob = vault.seal_json(&credentials, &aad).await.expect("seal");
    let opened: Credentials = vault.open_json(&blob, &aad).await.expect("open");
    assert_eq!(opened, credentials);

    // The wrong shape: serde's own message would quote the token.
    let wrong = vault
        .open_json::<Vec<u32>>(&blob, &aad)
        .await
        .expect_err("not a list");
    assert!(matches!(wrong, VaultError::Format));
    assert!(!format!("{wrong} {wrong:?}").contains("secret"));
}

#[test]
fn debug_output_shows_key_ids_but_no_key_material() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keyring(dir.path(), "k.keys", &[("k2", 0xab), ("k1", 0xcd)]);
    let keyring_debug = format!("{keys:?}");
    let vault_debug = format!("{:?}", Vault::local(keys));

    for output in [&keyring_debug, &vault_debug] {
        assert!(output.contains("k2") && output.contains("k1"), "{output}");
        assert!(
            !output.contains(&key_b64(0xab)) && !output.contains(&key_b64(0xcd)),
            "{output}"
        );
        assert!(
            !output.contains("171") && !output.contains("205"),
            "key bytes as numbers: {output}"
        );
    }
}
