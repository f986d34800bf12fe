//! Device PKI test support: the `openssl` command line as an independent implementation, apps with a
//! known CA, certificate crafting, request helpers per client-certificate source, and a certificate
//! store that counts its calls.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apuntador::AppState;
use apuntador::config::{Config, Platform};
use apuntador::pki::ca::CertificateAuthority;
use apuntador::pki::profile::{self, IssuedCertificate, LeafSpec};
use apuntador::store::memory::{MemoryBlobStore, MemorySecretStore, MemoryStore};
use apuntador::store::{CaMaterial, CertificateRecord, CertificateStore, StoreResult};
use async_trait::async_trait;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::helpers::{Answer, config, dev_ca, send};

/// Key kinds the tests create with openssl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RSA 2048.
    Rsa2048,
    /// RSA 1024 (unsupported).
    Rsa1024,
    /// EC P-256.
    P256,
    /// EC P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

/// A scratch directory where `openssl` runs.
pub struct Openssl {
    dir: tempfile::TempDir,
    counter: AtomicUsize,
}

impl Openssl {
    /// A fresh scratch directory.
    pub fn new() -> Openssl {
        Openssl {
            dir: tempfile::tempdir().expect("tempdir"),
            counter: AtomicUsize::new(0),
        }
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn fresh(&self, stem: &str) -> String {
        format!("{stem}-{}", self.counter.fetch_add(1, Ordering::SeqCst))
    }

    /// Writes `content` to `name` and returns the path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write");
        path
    }

    /// Runs openssl with `args` (paths relative to the scratch directory); returns stdout bytes.
    pub fn run_bytes(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs openssl; returns stdout as text.
    pub fn run(&self, args: &[&str]) -> String {
        String::from_utf8(self.run_bytes(args)).expect("utf-8")
    }

    /// Whether openssl succeeds with `args`, and its combined output.
    pub fn try_run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// A new private key file of `kind`; returns its file name.
    pub fn key(&self, kind: Kind) -> String {
        let name = format!("{}.pem", self.fresh("key"));
        let args: Vec<&str> = match kind {
            Kind::Rsa2048 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            Kind::Rsa1024 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
            Kind::P256 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Kind::P384 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            Kind::Ed25519 => vec!["-algorithm", "ED25519"],
        };
        let mut full = vec!["genpkey"];
        full.extend(args);
        full.extend(["-out", &name]);
        self.run(&full);
        name
    }

    /// A CSR for a new key of `kind`, PEM.
    pub fn csr(&self, kind: Kind) -> String {
        let key = self.key(kind);
        self.csr_for(&key)
    }

    /// A CSR for the key file `key`, PEM.
    pub fn csr_for(&self, key: &str) -> String {
        self.run(&["req", "-new", "-key", key, "-subj", "/CN=ignored/O=Client"])
    }

    /// A CSR for a DSA key (unsupported).
    pub fn dsa_csr(&self) -> String {
        let params = format!("{}.pem", self.fresh("dsaparams"));
        self.run(&[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:2048",
            "-out",
            &params,
        ]);
        let key = format!("{}.pem", self.fresh("dsakey"));
        self.run(&["genpkey", "-paramfile", &params, "-out", &key]);
        self.csr_for(&key)
    }
}

/// Development CA material plus the loaded CA, for crafting certificates directly.
pub struct KnownCa {
    /// The material (as stored).
    pub material: CaMaterial,
}

impl KnownCa {
    /// A fresh development CA.
    pub fn new() -> KnownCa {
        KnownCa { material: dev_ca() }
    }

    /// The CA loaded from its material.
    pub fn load(&self) -> CertificateAuthority {
        CertificateAuthority::load(
            self.material.key_pem.expose_secret(),
            &self.material.cert_pem,
            self.material.previous_cert_pem.as_deref(),
            Utc::now(),
        )
        .expect("CA loads")
        .ca
    }
}

/// A state on memory stores whose CA is `material`.
pub fn state_with_ca(config: Config, material: CaMaterial) -> AppState {
    let mem = Arc::new(MemoryStore::new());
    AppState::from_parts(
        config,
        mem.clone(),
        mem.clone(),
        mem,
        Arc::new(MemorySecretStore::with_ca(material)),
        Arc::new(MemoryBlobStore::new()),
    )
}

/// An in-memory app with default configuration, plus its state.
pub fn app() -> (Router, AppState) {
    let state = AppState::in_memory(config(&[]));
    (apuntador::router(state.clone()), state)
}

/// `POST /device/enroll`.
pub async fn enroll(app: &Router, device_id: &str, platform: &str, csr: &str) -> Answer {
    let body = json!({"csr": csr, "device_id": device_id, "platform": platform}).to_string();
    send(
        app,
        "POST",
        "/device/enroll",
        &[("content-type", "application/json")],
        Some(&body),
    )
    .await
}

/// The percent-encoded PEM for `X-Client-Cert` (the form nginx's `$ssl_client_escaped_cert` uses).
pub fn escaped(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The `X-Client-Cert` header carrying `pem`.
pub fn cert_header(pem: &str) -> (&'static str, String) {
    ("x-client-cert", escaped(pem))
}

/// `GET /device/status/{device}` presenting `pem` in `X-Client-Cert`.
pub async fn status(app: &Router, device_id: &str, pem: &str) -> Answer {
    let (name, value) = cert_header(pem);
    send(
        app,
        "GET",
        &format!("/device/status/{device_id}"),
        &[(name, value.as_str())],
        None,
    )
    .await
}

/// A POST with a JSON body presenting `pem` in `X-Client-Cert`.
pub async fn post_with_cert(
    app: &Router,
    path: &str,
    pem: &str,
    body: serde_json::Value,
) -> Answer {
    let (name, value) = cert_header(pem);
    send(
        app,
        "POST",
        path,
        &[(name, value.as_str()), ("content-type", "application/json")],
        Some(&body.to_string()),
    )
    .await
}

/// The `error` code of a problem answer.
pub fn code(answer: &Answer) -> String {
    answer.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The DER SubjectPublicKeyInfo of a fresh P-256 key, made by openssl.
pub fn spki(openssl: &Openssl) -> Vec<u8> {
    let key = openssl.key(Kind::P256);
    openssl.run_bytes(&["pkey", "-in", &key, "-pubout", "-outform", "DER"])
}

/// Issues a certificate with `spec` adjustments from `ca` (not registered).
pub fn craft(
    ca: &CertificateAuthority,
    device_id: &str,
    spki_der: &[u8],
    adjust: impl FnOnce(&mut LeafSpec<'_>),
) -> IssuedCertificate {
    let mut spec = LeafSpec::profile(device_id, spki_der, Utc::now(), 30);
    adjust(&mut spec);
    profile::issue(ca, &spec).expect("issue")
}

/// Registers `issued` for `device_id` as an active record.
pub async fn register(state: &AppState, device_id: &str, issued: &IssuedCertificate) {
    state
        .certificates
        .issue(&record(device_id, issued), &[], "superseded", Utc::now())
        .await
        .expect("registered");
}

/// The record the service would write for `issued`.
pub fn record(device_id: &str, issued: &IssuedCertificate) -> CertificateRecord {
    CertificateRecord {
        device_id: device_id.to_owned(),
        serial: issued.serial.clone(),
        platform: Platform::Android,
        issued_at: issued.issued_at,
        expires_at: issued.expires_at,
        certificate_pem: issued.pem.clone(),
        fingerprint_sha256: Some(issued.fingerprint_sha256.clone()),
        revoked: false,
        revoked_at: None,
        revocation_reason: None,
        ttl: (Utc::now() + TimeDelta::days(60)).timestamp(),
    }
}

/// Active records of a device.
pub async fn active(state: &AppState, device_id: &str) -> Vec<CertificateRecord> {
    state
        .certificates
        .list_for_device(device_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| !r.revoked)
        .collect()
}

/// A certificate store that counts point reads and partition queries, to prove authentication does
/// one point read and no scan.
#[derive(Default)]
pub struct CountingStore {
    inner: MemoryStore,
    /// `get` calls.
    pub gets: AtomicUsize,
    /// `list_for_device` calls.
    pub lists: AtomicUsize,
}

#[async_trait]
impl CertificateStore for CountingStore {
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(device_id, serial).await
    }
    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list_for_device(device_id).await
    }
    async fn issue(
        &self,
        new: &CertificateRecord,
        supersede: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        CertificateStore::issue(&self.inner, new, supersede, reason, at).await
    }
    async fn revoke(
        &self,
        device_id: &str,
        serials: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.inner.revoke(device_id, serials, reason, at).await
    }
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Whether `path` has Unix mode `mode` (permission bits).
pub fn has_mode(path: &Path, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777 == mode
}
