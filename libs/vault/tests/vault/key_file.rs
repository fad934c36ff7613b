use pp_vault::{KeyEncryptionKey, LocalKeyring, Vault, VaultError};

use crate::key_b64;

/// Loads `text` as a key file and returns the error; the error must not echo any key.
fn load_error(text: &str) -> VaultError {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.keys");
    std::fs::write(&path, text).expect("write");
    let error = LocalKeyring::from_file(&path).expect_err("the file should be rejected");
    let shown = format!("{error} {error:?}");
    for fragment in ["AQEBAQEB", "AgICAgIC", "not-base64!!"] {
        assert!(!shown.contains(fragment), "key material in {shown}");
    }
    error
}

fn line_of(error: &VaultError) -> usize {
    match error {
        VaultError::KeyFile { line, .. } => *line,
        other => panic!("expected a line error, got {other}"),
    }
}

#[test]
fn parse_errors_name_the_line_without_echoing_it() {
    let good = format!("# comment\n\nk1 {}\n", key_b64(1));

    let missing_key = load_error(&format!("{good}k2\n"));
    assert_eq!(line_of(&missing_key), 4);
    assert!(missing_key.to_string().contains("line 4"), "{missing_key}");

    assert_eq!(
        line_of(&load_error(&format!("{good}k2 {} extra\n", key_b64(2)))),
        4
    );
    assert_eq!(line_of(&load_error(&format!("{good}k2 not-base64!!\n"))), 4);
    assert_eq!(
        line_of(&load_error(&format!("{good}k2 {}\n", &key_b64(2)[..20]))),
        4,
        "short key"
    );
    assert_eq!(
        line_of(&load_error(&format!("{good}k1 {}\n", key_b64(2)))),
        4,
        "duplicate id"
    );
    assert_eq!(
        line_of(&load_error(&format!("{good}k/2 {}\n", key_b64(2)))),
        4,
        "bad id"
    );
    assert!(matches!(
        load_error("# only a comment\n"),
        VaultError::KeyFileRejected { .. }
    ));
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let error = LocalKeyring::from_file("/nonexistent/pulsepoint.keys").expect_err("missing");
    assert!(
        matches!(
            &error,
            VaultError::KeyFileIo {
                kind: std::io::ErrorKind::NotFound,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("/nonexistent/pulsepoint.keys"),
        "{error}"
    );
}

#[test]
fn the_first_key_is_active_and_every_key_can_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crate::write_key_file(dir.path(), "k.keys", &[("new", 2), ("old", 1)]);
    let keyring = LocalKeyring::from_file(&path).expect("load");
    assert_eq!(keyring.key_id(), "new");
    assert_eq!(keyring.key_ids(), ["new", "old"]);
}

#[tokio::test]
async fn generate_file_makes_a_private_file_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.keys");

    let generated = LocalKeyring::generate_file(&path, "dev-1").expect("generate");
    assert_eq!(generated.key_ids(), ["dev-1"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // What was written is what loads: a blob sealed by one opens with the other.
    let aad = [1u8; 32];
    let blob = Vault::local(generated)
        .seal(b"tokens", &aad)
        .await
        .expect("seal");
    let reloaded = Vault::local(LocalKeyring::from_file(&path).expect("reload"));
    assert_eq!(
        reloaded.open(&blob, &aad).await.expect("open").as_slice(),
        b"tokens"
    );

    let before = std::fs::read(&path).expect("read");
    let again = LocalKeyring::generate_file(&path, "dev-2").expect_err("must not overwrite");
    assert!(matches!(
        again,
        VaultError::KeyFileIo {
            kind: std::io::ErrorKind::AlreadyExists,
            ..
        }
    ));
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[tokio::test]
async fn rotate_file_puts_a_new_active_key_first_and_keeps_the_old_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.keys");
    let aad = [3u8; 32];
    let old_blob = Vault::local(LocalKeyring::generate_file(&path, "dev-1").expect("generate"))
        .seal(b"tokens", &aad)
        .await
        .expect("seal");

    let rotated = LocalKeyring::rotate_file(&path, "dev-2").expect("rotate");
    assert_eq!(rotated.key_ids(), ["dev-2", "dev-1"]);
    assert_eq!(
        LocalKeyring::from_file(&path).expect("reload").key_ids(),
        ["dev-2", "dev-1"]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let vault = Vault::local(rotated);
    let new_blob = vault
        .rewrap(&old_blob, &aad)
        .await
        .expect("rewrap")
        .expect("moved");
    assert_eq!(Vault::key_id_of(&new_blob).expect("key id"), "dev-2");

    let duplicate = LocalKeyring::rotate_file(&path, "dev-1").expect_err("id already present");
    assert!(
        matches!(duplicate, VaultError::KeyFileRejected { .. }),
        "{duplicate}"
    );
}
