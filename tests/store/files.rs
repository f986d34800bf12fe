//! The local-mode file stores and the in-memory secret and blob stores.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use apuntador::store::files::{
    CA_CERTIFICATE_FILE, CA_PREVIOUS_CERTIFICATE_FILE, CA_PRIVATE_KEY_FILE, LocalBlobStore,
    LocalSecretStore,
};
use apuntador::store::memory::{MemoryBlobStore, MemorySecretStore};
use apuntador::store::{BlobStore, CaMaterial, SecretStore, StoreError};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n";
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\ncurrent\n-----END CERTIFICATE-----\n";
const PREVIOUS_PEM: &str = "-----BEGIN CERTIFICATE-----\nprevious\n-----END CERTIFICATE-----\n";

fn material(previous: Option<&str>) -> CaMaterial {
    CaMaterial {
        key_pem: SecretString::from(KEY_PEM.to_owned()),
        cert_pem: CERT_PEM.to_owned(),
        previous_cert_pem: previous.map(str::to_owned),
    }
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn load_ca_returns_none_when_no_ca_was_initialised() {
    let root = TempDir::new().expect("temporary directory");
    let store = LocalSecretStore::new(root.path().join("missing"));

    assert!(store.load_ca().await.expect("load").is_none());
}

#[tokio::test]
async fn store_ca_writes_the_files_with_their_modes_and_load_ca_reads_them_back() {
    let root = TempDir::new().expect("temporary directory");
    let data_dir = root.path().join("data");
    let store = LocalSecretStore::new(&data_dir);

    store
        .store_ca(&material(Some(PREVIOUS_PEM)))
        .await
        .expect("store");
    let loaded = store.load_ca().await.expect("load").expect("present");

    assert_eq!(loaded.key_pem.expose_secret(), KEY_PEM);
    assert_eq!(loaded.cert_pem, CERT_PEM);
    assert_eq!(loaded.previous_cert_pem.as_deref(), Some(PREVIOUS_PEM));
    assert_eq!(mode_of(&data_dir), 0o700);
    assert_eq!(mode_of(&data_dir.join(CA_PRIVATE_KEY_FILE)), 0o600);
    assert_eq!(mode_of(&data_dir.join(CA_CERTIFICATE_FILE)), 0o644);
    assert_eq!(mode_of(&data_dir.join(CA_PREVIOUS_CERTIFICATE_FILE)), 0o644);
    assert_eq!(
        entries(&data_dir),
        [
            CA_CERTIFICATE_FILE,
            CA_PREVIOUS_CERTIFICATE_FILE,
            CA_PRIVATE_KEY_FILE
        ],
        "no temporary file is left behind"
    );
}

#[tokio::test]
async fn store_ca_without_a_previous_certificate_removes_a_stale_one() {
    let root = TempDir::new().expect("temporary directory");
    let store = LocalSecretStore::new(root.path());
    store
        .store_ca(&material(Some(PREVIOUS_PEM)))
        .await
        .expect("store");

    store.store_ca(&material(None)).await.expect("store again");

    let loaded = store.load_ca().await.expect("load").expect("present");
    assert_eq!(loaded.previous_cert_pem, None);
    assert!(!root.path().join(CA_PREVIOUS_CERTIFICATE_FILE).exists());
}

#[tokio::test]
async fn store_ca_tightens_a_key_file_that_was_world_readable() {
    let root = TempDir::new().expect("temporary directory");
    let key_file = root.path().join(CA_PRIVATE_KEY_FILE);
    std::fs::write(&key_file, "old").expect("write");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    LocalSecretStore::new(root.path())
        .store_ca(&material(None))
        .await
        .expect("store");

    assert_eq!(mode_of(&key_file), 0o600);
    assert_eq!(std::fs::read_to_string(&key_file).expect("read"), KEY_PEM);
}

#[tokio::test]
async fn load_ca_reads_files_copied_from_the_previous_service() {
    let root = TempDir::new().expect("temporary directory");
    std::fs::write(root.path().join("ca_private_key.pem"), KEY_PEM).expect("write");
    std::fs::write(root.path().join("ca_certificate.pem"), CERT_PEM).expect("write");

    let loaded = LocalSecretStore::new(root.path())
        .load_ca()
        .await
        .expect("load")
        .expect("present");

    assert_eq!(loaded.key_pem.expose_secret(), KEY_PEM);
    assert_eq!(loaded.cert_pem, CERT_PEM);
    assert_eq!(loaded.previous_cert_pem, None);
}

#[tokio::test]
async fn load_ca_fails_when_only_the_key_is_present() {
    let root = TempDir::new().expect("temporary directory");
    std::fs::write(root.path().join(CA_PRIVATE_KEY_FILE), KEY_PEM).expect("write");

    let result = LocalSecretStore::new(root.path()).load_ca().await;

    match result {
        Err(StoreError::Internal(message)) => assert!(message.contains(CA_CERTIFICATE_FILE)),
        other => panic!("expected an internal error, got {other:?}"),
    }
}

#[tokio::test]
async fn local_resolve_reports_that_references_need_secrets_manager() {
    let store = LocalSecretStore::new("unused");

    let result = store
        .resolve(&["arn:aws:secretsmanager:eu-west-1:1:secret:x".to_owned()])
        .await;

    match result {
        Err(StoreError::Unavailable(message)) => {
            assert_eq!(
                message,
                "secret references are resolved through AWS Secrets Manager"
            );
        }
        other => panic!(
            "expected unavailable, got {:?}",
            other.map(|values| values.len())
        ),
    }
    assert!(
        store
            .resolve(&[])
            .await
            .expect("nothing to resolve")
            .is_empty()
    );
}

#[tokio::test]
async fn local_blob_put_writes_a_file_and_returns_the_sha256_of_the_bytes() {
    let root = TempDir::new().expect("temporary directory");
    let store = LocalBlobStore::new(root.path());
    let bytes = CERT_PEM.as_bytes();

    let version = store
        .put("truststore/ca-bundle.pem", bytes, "application/x-pem-file")
        .await
        .expect("put");

    assert_eq!(version, hex::encode(Sha256::digest(bytes)));
    assert_eq!(
        std::fs::read(root.path().join("truststore/ca-bundle.pem")).expect("read"),
        bytes
    );
    assert_eq!(
        store
            .get("truststore/ca-bundle.pem")
            .await
            .expect("get")
            .as_deref(),
        Some(bytes)
    );
    assert!(
        store
            .exists("truststore/ca-bundle.pem")
            .await
            .expect("exists")
    );
    assert_eq!(entries(&root.path().join("truststore")), ["ca-bundle.pem"]);
}

#[tokio::test]
async fn local_blob_put_replaces_the_previous_content() {
    let root = TempDir::new().expect("temporary directory");
    let store = LocalBlobStore::new(root.path());
    store
        .put("truststore/ca-bundle.pem", b"old", "application/x-pem-file")
        .await
        .expect("put");

    let version = store
        .put("truststore/ca-bundle.pem", b"new", "application/x-pem-file")
        .await
        .expect("put");

    assert_eq!(version, hex::encode(Sha256::digest(b"new")));
    assert_eq!(
        store
            .get("truststore/ca-bundle.pem")
            .await
            .expect("get")
            .as_deref(),
        Some(&b"new"[..])
    );
}

#[tokio::test]
async fn local_blob_get_and_exists_report_a_missing_object() {
    let root = TempDir::new().expect("temporary directory");
    let store = LocalBlobStore::new(root.path());

    assert_eq!(
        store.get("truststore/ca-bundle.pem").await.expect("get"),
        None
    );
    assert!(
        !store
            .exists("truststore/ca-bundle.pem")
            .await
            .expect("exists")
    );
}

#[tokio::test]
async fn local_blob_store_rejects_keys_that_leave_the_data_dir() {
    let root = TempDir::new().expect("temporary directory");
    let store = LocalBlobStore::new(root.path().join("data"));

    for key in [
        "../escape.pem",
        "truststore/../../escape.pem",
        "/etc/passwd",
        "",
        "a//b",
        "a/./b",
    ] {
        assert!(
            matches!(
                store.put(key, b"x", "text/plain").await,
                Err(StoreError::Internal(_))
            ),
            "{key:?} is refused"
        );
        assert!(store.get(key).await.is_err(), "{key:?} is refused");
        assert!(store.exists(key).await.is_err(), "{key:?} is refused");
    }
    assert!(!root.path().join("escape.pem").exists());
}

#[tokio::test]
async fn memory_secret_store_keeps_the_ca_and_resolves_references_in_order() {
    let store = MemorySecretStore::new()
        .with_secret("arn:one", "first")
        .with_secret("arn:two", "second");
    assert!(store.load_ca().await.expect("load").is_none());

    store.store_ca(&material(None)).await.expect("store");
    let values = store
        .resolve(&["arn:two".to_owned(), "arn:one".to_owned()])
        .await
        .expect("resolve");

    assert_eq!(
        store
            .load_ca()
            .await
            .expect("load")
            .expect("present")
            .cert_pem,
        CERT_PEM
    );
    let values: Vec<&str> = values.iter().map(|value| value.expose_secret()).collect();
    assert_eq!(values, ["second", "first"]);
    assert!(store.resolve(&["arn:unknown".to_owned()]).await.is_err());
}

#[tokio::test]
async fn memory_secret_store_with_ca_starts_initialised() {
    let store = MemorySecretStore::with_ca(material(Some(PREVIOUS_PEM)));

    let loaded = store.load_ca().await.expect("load").expect("present");

    assert_eq!(loaded.previous_cert_pem.as_deref(), Some(PREVIOUS_PEM));
}

#[tokio::test]
async fn memory_blob_store_versions_by_sha256_and_keeps_the_content_type() {
    let store = MemoryBlobStore::new();

    let version = store
        .put(
            "truststore/ca-bundle.pem",
            b"bundle",
            "application/x-pem-file",
        )
        .await
        .expect("put");

    assert_eq!(version, hex::encode(Sha256::digest(b"bundle")));
    assert_eq!(
        store
            .get("truststore/ca-bundle.pem")
            .await
            .expect("get")
            .as_deref(),
        Some(&b"bundle"[..])
    );
    assert!(
        store
            .exists("truststore/ca-bundle.pem")
            .await
            .expect("exists")
    );
    assert!(!store.exists("other").await.expect("exists"));
    assert_eq!(
        store.content_type("truststore/ca-bundle.pem").as_deref(),
        Some("application/x-pem-file")
    );
}
