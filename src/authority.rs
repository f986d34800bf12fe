//! The certificate authority as the running service sees it: loaded lazily from the
//! [`SecretStore`], the development CA created at start-up, and `apuntador-server ca init`.
//!
//! [`LazyCa`] loads the CA on first need — enrolment, renewal, the CA endpoints, device
//! authentication or readiness — once per process, shared by concurrent first users, and caches it for
//! the process lifetime; a failed load is retried on a later need at most every 5 s, with one ERROR log
//! per failed load naming the cause (never key material). Lambda cold starts therefore never pay for
//! it unless the first request needs it. The cryptography itself is in [`crate::pki`]; this module adds
//! storage access through the store traits and logging, and knows nothing of HTTP.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret as _;

use crate::pki::ca::{self, CaSubject, CertificateAuthority, KeyType};
use crate::pki::verify::Pin;
use crate::store::{BlobStore, CaMaterial, SecretStore, StoreError};

/// The blob key of the truststore bundle.
pub const TRUSTSTORE_BUNDLE_KEY: &str = "truststore/ca-bundle.pem";

/// How long a failed load is remembered before the next need retries it.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Why the CA is unavailable; also the readiness value of `certificate_authority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaUnavailable {
    /// No CA material is stored.
    #[error("no CA has been initialised")]
    Missing,
    /// Material is stored but fails a load-time check.
    #[error("the CA material is invalid")]
    Invalid,
    /// The secret store could not be read.
    #[error("the CA material could not be read")]
    Unreachable,
}

impl CaUnavailable {
    /// The readiness check value.
    pub fn readiness_value(self) -> &'static str {
        match self {
            CaUnavailable::Missing => "missing",
            CaUnavailable::Invalid => "invalid",
            CaUnavailable::Unreachable => "unreachable",
        }
    }
}

/// The lazily loaded CA shared by every request of a process. Cheap to clone.
#[derive(Clone)]
pub struct LazyCa {
    inner: Arc<Inner>,
}

struct Inner {
    secrets: Arc<dyn SecretStore>,
    /// Production: a development CA is refused at load (unavailable), whatever the backend.
    refuse_development_ca: bool,
    loaded: OnceLock<Arc<CertificateAuthority>>,
    /// Held while loading, so concurrent first users share one load; remembers the last failure.
    last_failure: tokio::sync::Mutex<Option<(Instant, CaUnavailable)>>,
}

impl std::fmt::Debug for LazyCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyCa")
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

impl LazyCa {
    /// A CA that will be loaded from `secrets` on first need; nothing is read now.
    pub fn new(secrets: Arc<dyn SecretStore>) -> LazyCa {
        LazyCa::with_policy(secrets, false)
    }

    /// Like [`LazyCa::new`]; with `refuse_development_ca` (production) a development CA never loads:
    /// it is unavailable, with one ERROR log per attempt saying to run `ca init`.
    pub fn with_policy(secrets: Arc<dyn SecretStore>, refuse_development_ca: bool) -> LazyCa {
        LazyCa {
            inner: Arc::new(Inner {
                secrets,
                refuse_development_ca,
                loaded: OnceLock::new(),
                last_failure: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Whether the CA has been loaded (it never is before its first need).
    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.get().is_some()
    }

    /// The CA, loading it on first need.
    pub async fn get(&self) -> Result<Arc<CertificateAuthority>, CaUnavailable> {
        if let Some(ca) = self.inner.loaded.get() {
            return Ok(ca.clone());
        }
        let mut last_failure = self.inner.last_failure.lock().await;
        // Another first user may have finished the load while this one waited.
        if let Some(ca) = self.inner.loaded.get() {
            return Ok(ca.clone());
        }
        if let Some((at, why)) = *last_failure
            && at.elapsed() < RETRY_INTERVAL
        {
            return Err(why);
        }
        match self.load().await {
            Ok(ca) => {
                let ca = self.inner.loaded.get_or_init(|| Arc::new(ca)).clone();
                *last_failure = None;
                Ok(ca)
            }
            Err(why) => {
                *last_failure = Some((Instant::now(), why));
                Err(why)
            }
        }
    }

    async fn load(&self) -> Result<CertificateAuthority, CaUnavailable> {
        let material = match self.inner.secrets.load_ca().await {
            Ok(Some(material)) => material,
            Ok(None) => {
                tracing::error!(
                    cause = "no CA material is stored",
                    "the certificate authority could not be loaded; run `apuntador-server ca init`"
                );
                return Err(CaUnavailable::Missing);
            }
            Err(err) => {
                tracing::error!(cause = %err, "the certificate authority could not be loaded");
                return Err(CaUnavailable::Unreachable);
            }
        };
        let material_for_load = material.clone();
        // Parsing RSA keys and checking them is CPU work: keep it off the async workers.
        let loaded = tokio::task::spawn_blocking(move || {
            CertificateAuthority::load(
                material_for_load.key_pem.expose_secret(),
                &material_for_load.cert_pem,
                material_for_load.previous_cert_pem.as_deref(),
                Utc::now(),
            )
        })
        .await
        .map_err(|_| {
            tracing::error!(
                cause = "the loading task failed",
                "the certificate authority could not be loaded"
            );
            CaUnavailable::Invalid
        })?;
        match loaded {
            Ok(loaded)
                if self.inner.refuse_development_ca && loaded.ca.current().is_development() =>
            {
                tracing::error!(
                    cause = "the current CA is the development CA",
                    "the certificate authority could not be loaded: ENVIRONMENT=production refuses the development CA; run `apuntador-server ca init --force` or `ca init --rotate`"
                );
                Err(CaUnavailable::Invalid)
            }
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    tracing::warn!("{warning}");
                }
                tracing::info!(
                    ca.key_type = %loaded.ca.key_type(),
                    ca.not_after = %loaded.ca.current().not_after().to_rfc3339(),
                    ca.previous = material.previous_cert_pem.is_some(),
                    "certificate authority loaded"
                );
                Ok(loaded.ca)
            }
            Err(err) => {
                tracing::error!(cause = %err, "the certificate authority could not be loaded");
                Err(CaUnavailable::Invalid)
            }
        }
    }
}

/// The truststore bundle: the current CA certificate, then the previous one.
pub fn truststore_bundle(material: &CaMaterial) -> String {
    let mut bundle = material.cert_pem.trim_end().to_owned();
    bundle.push('\n');
    if let Some(previous) = &material.previous_cert_pem {
        bundle.push_str(previous.trim_end());
        bundle.push('\n');
    }
    bundle
}

/// Publishes the truststore bundle of `material`; returns the version written.
pub async fn publish_bundle(
    blobs: &dyn BlobStore,
    material: &CaMaterial,
) -> Result<String, StoreError> {
    blobs
        .put(
            TRUSTSTORE_BUNDLE_KEY,
            truststore_bundle(material).as_bytes(),
            "application/x-pem-file",
        )
        .await
}

/// Why the local CA start-up step failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Production local mode without a CA (exit 1).
    #[error(
        "no certificate authority exists and ENVIRONMENT=production never creates one; run `apuntador-server ca init --local` first"
    )]
    MissingInProduction,
    /// Production local mode on the development CA (exit 2): carries the data directory.
    #[error(
        "the certificate authority in {0} is the development CA (CN=Apuntador Development CA), which ENVIRONMENT=production refuses; create a production CA with `apuntador-server ca init --local --rotate` (certificates the development CA issued stay trusted until they expire) or `apuntador-server ca init --local --force` (replaces it; every device must enrol again)"
    )]
    DevelopmentCaInProduction(String),
    /// Production: a CA key file or directory open to group/other that could not be tightened (exit 1).
    #[error("{0}")]
    Permissions(String),
    /// The CA could not be created or written.
    #[error("could not create the development CA: {0}")]
    Create(String),
}

impl BootstrapError {
    /// The process exit code: 2 for the development CA in production (a configuration problem the
    /// operator must fix), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            BootstrapError::DevelopmentCaInProduction(_) => 2,
            _ => 1,
        }
    }
}

/// Tightens the CA key file in `data_dir` to 0600 and `data_dir` itself to 0700 when group or others
/// have any permission on them, with a WARN naming the path and both modes, in every environment.
///
/// Does nothing when there is no key file. A mode that cannot be tightened is a WARN in development and
/// an error in production.
pub fn tighten_key_permissions(data_dir: &Path, production: bool) -> Result<(), BootstrapError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = data_dir.join(crate::store::files::CA_PRIVATE_KEY_FILE);
        if !key.exists() {
            return Ok(());
        }
        for (path, wanted) in [(data_dir.to_path_buf(), 0o700), (key, 0o600)] {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                continue;
            }
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)) {
                Ok(()) => tracing::warn!(
                    path = %path.display(),
                    "tightened the permissions of {} from {mode:04o} to {wanted:04o}: the CA private key must not be reachable by group or others",
                    path.display()
                ),
                Err(err) => {
                    let message = format!(
                        "{} has mode {mode:04o} (open to group or others) and could not be tightened to {wanted:04o}: {err}",
                        path.display()
                    );
                    if production {
                        return Err(BootstrapError::Permissions(message));
                    }
                    tracing::warn!("{message}");
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (data_dir, production);
    Ok(())
}

/// The local-mode CA start-up step: tightens the key's permissions
/// ([`tighten_key_permissions`]), refuses a development CA in production, and creates one in
/// development when none exists.
pub async fn prepare_local_ca(
    production: bool,
    data_dir: &Path,
    secrets: &dyn SecretStore,
    blobs: &dyn BlobStore,
) -> Result<(), BootstrapError> {
    tighten_key_permissions(data_dir, production)?;
    if production && let Ok(Some(material)) = secrets.load_ca().await {
        if ca::CaCertificate::from_pem(&material.cert_pem).is_some_and(|c| c.is_development()) {
            return Err(BootstrapError::DevelopmentCaInProduction(
                data_dir.display().to_string(),
            ));
        }
        if let Some(previous) = material.previous_cert_pem.as_deref()
            && ca::CaCertificate::from_pem(previous).is_some_and(|c| c.is_development())
        {
            tracing::warn!(
                data_dir = %data_dir.display(),
                "the previous CA is the development CA: certificates it issued stay trusted until they expire; `apuntador-server ca init --local --rotate` again retires it"
            );
        }
    }
    ensure_development_ca(production, secrets, blobs).await
}

/// Local mode start-up step: in development, creates the development CA when none exists,
/// writes it and the truststore bundle, and logs a WARN; in production, a missing CA is an error.
/// A stored but unreadable CA is left alone: it makes the CA unavailable, reported on first need.
pub async fn ensure_development_ca(
    production: bool,
    secrets: &dyn SecretStore,
    blobs: &dyn BlobStore,
) -> Result<(), BootstrapError> {
    match secrets.load_ca().await {
        Ok(Some(_)) | Err(_) => return Ok(()),
        Ok(None) => {}
    }
    if production {
        return Err(BootstrapError::MissingInProduction);
    }
    let material = development_material(Utc::now()).map_err(BootstrapError::Create)?;
    secrets
        .store_ca(&material)
        .await
        .map_err(|e| BootstrapError::Create(e.to_string()))?;
    publish_bundle(blobs, &material)
        .await
        .map_err(|e| BootstrapError::Create(e.to_string()))?;
    tracing::warn!(
        "created a development certificate authority (EC P-256, `CN=Apuntador Development CA`); it must not be used in production: `apuntador-server ca init` replaces it with your own CA (certificates it issued then stop working)"
    );
    Ok(())
}

/// New development CA material (EC P-256, 1825 days) — also what in-memory test states use.
pub fn development_material(now: DateTime<Utc>) -> Result<CaMaterial, String> {
    let generated = ca::generate(
        KeyType::EcP256,
        &CaSubject::Development,
        ca::DEVELOPMENT_CA_VALIDITY_DAYS,
        now,
    )?;
    Ok(CaMaterial {
        key_pem: generated.key_pem,
        cert_pem: generated.cert_pem,
        previous_cert_pem: None,
    })
}

/// What `ca init` does when a CA already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingCa {
    /// Refuse (the default).
    Refuse,
    /// `--force`: replace it; no previous CA is kept.
    Replace,
    /// `--rotate`: the current certificate becomes the previous CA.
    Rotate,
}

/// Which storage backend `ca init` writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitBackend {
    /// `--local`: files under `DATA_DIR`.
    Local,
    /// `--aws`: Secrets Manager and S3.
    Aws,
}

/// Parsed `ca init` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaInitArgs {
    /// `--local` / `--aws`; `None` = `INFRASTRUCTURE_PROVIDER`.
    pub backend: Option<InitBackend>,
    /// `--key-type`, default `ec-p256`.
    pub key_type: KeyType,
    /// `--validity-days`, default 3650.
    pub validity_days: u32,
    /// `--common-name`, default `Apuntador Certificate Authority`.
    pub common_name: String,
    /// `--organization`, default `Apuntador`: the subject's `O`.
    pub organization: String,
    /// `--country`, default `ES`: the subject's `C` (two upper-case letters).
    pub country: String,
    /// `--force` / `--rotate`.
    pub existing: ExistingCa,
}

impl Default for CaInitArgs {
    /// The defaults of `ca init`: backend from `INFRASTRUCTURE_PROVIDER`, EC P-256, 3650 days,
    /// `CN=Apuntador Certificate Authority, O=Apuntador, C=ES`, refuse an existing CA.
    fn default() -> CaInitArgs {
        CaInitArgs {
            backend: None,
            key_type: KeyType::EcP256,
            validity_days: ca::DEFAULT_CA_VALIDITY_DAYS,
            common_name: ca::DEFAULT_CA_COMMON_NAME.to_owned(),
            organization: ca::DEFAULT_CA_ORGANIZATION.to_owned(),
            country: ca::DEFAULT_CA_COUNTRY.to_owned(),
            existing: ExistingCa::Refuse,
        }
    }
}

/// Whether `cert_pem` is the development CA that local development start-up creates by itself.
pub fn is_development_ca(cert_pem: &str) -> bool {
    ca::CaCertificate::from_pem(cert_pem).is_some_and(|cert| cert.is_development())
}

/// Why `ca init` failed (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CaInitError {
    /// A CA exists and neither `--force` nor `--rotate` was given.
    #[error(
        "a certificate authority already exists; `ca rotate` (or `ca init --rotate`) rotates it and keeps it trusted, `ca init --force` replaces it and stops trusting it"
    )]
    Exists,
    /// The existing CA could not be read (needed for `--rotate` and the existence check).
    #[error("could not read the existing CA: {0}")]
    Read(StoreError),
    /// Key or certificate generation failed.
    #[error("could not create the CA: {0}")]
    Create(String),
    /// Writing the CA or the bundle failed.
    #[error("could not write the CA: {0}")]
    Write(StoreError),
}

/// What `ca init` did, for its output. Contains no key material.
#[derive(Debug, Clone)]
pub struct CaInitReport {
    /// The new CA's subject (RFC 4514 text).
    pub subject: String,
    /// The key type created.
    pub key_type: KeyType,
    /// notAfter of the new certificate.
    pub not_after: DateTime<Utc>,
    /// The SPKI pin.
    pub pin: Pin,
    /// Whether a previous CA is kept (rotation).
    pub rotated: bool,
    /// The CA this run replaced without keeping it trusted (`--force`, or the development CA).
    pub replaced: Option<ReplacedCa>,
    /// The version of the truststore bundle written.
    pub bundle_version: String,
}

/// A CA that `ca init` replaced and no longer trusts; certificates it issued stop working.
#[derive(Debug, Clone)]
pub struct ReplacedCa {
    /// Its subject (RFC 4514 text).
    pub subject: String,
    /// Its SPKI pin, base64.
    pub pin: String,
    /// Whether it was the development CA created automatically at start-up.
    pub development: bool,
    /// Whether a previous CA certificate was kept with it (it is dropped too).
    pub had_previous: bool,
}

/// What `ca init` would replace in `existing`, described without key material.
pub fn describe_existing(existing: &CaMaterial) -> ReplacedCa {
    let cert = ca::CaCertificate::from_pem(&existing.cert_pem);
    ReplacedCa {
        subject: cert
            .as_ref()
            .map_or_else(|| "(unreadable certificate)".into(), |c| c.subject_text()),
        pin: cert.map_or_else(String::new, |c| c.pin().sha256_base64),
        development: is_development_ca(&existing.cert_pem),
        had_previous: existing
            .previous_cert_pem
            .as_deref()
            .is_some_and(|p| !p.trim().is_empty()),
    }
}

/// `ca init`: creates a CA, writes it to `secrets` and publishes the bundle to `blobs`.
pub async fn init_ca(
    secrets: &dyn SecretStore,
    blobs: &dyn BlobStore,
    args: &CaInitArgs,
    now: DateTime<Utc>,
) -> Result<CaInitReport, CaInitError> {
    let existing = secrets.load_ca().await.map_err(CaInitError::Read)?;
    let mut replaced = None;
    let previous_cert_pem = match (&existing, args.existing) {
        // The development CA made by a first start in development is replaced without a flag: it
        // was never chosen, and keeping it would block the first real `ca init`.
        (Some(current), ExistingCa::Refuse) if is_development_ca(&current.cert_pem) => {
            replaced = Some(describe_existing(current));
            None
        }
        (Some(_), ExistingCa::Refuse) => return Err(CaInitError::Exists),
        (Some(current), ExistingCa::Rotate) => Some(current.cert_pem.clone()),
        (Some(current), ExistingCa::Replace) => {
            replaced = Some(describe_existing(current));
            None
        }
        (None, _) => None,
    };
    let key_type = args.key_type;
    let subject = CaSubject::Named {
        common_name: args.common_name.clone(),
        organization: args.organization.clone(),
        country: args.country.clone(),
    };
    let days = args.validity_days;
    // RSA key generation takes seconds: off the async workers.
    let generated =
        tokio::task::spawn_blocking(move || ca::generate(key_type, &subject, days, now))
            .await
            .map_err(|_| CaInitError::Create("the generation task failed".into()))?
            .map_err(CaInitError::Create)?;
    let certificate = ca::CaCertificate::from_pem(&generated.cert_pem)
        .ok_or_else(|| CaInitError::Create("the new certificate does not parse".into()))?;
    let rotated = previous_cert_pem.is_some();
    let material = CaMaterial {
        key_pem: generated.key_pem,
        cert_pem: generated.cert_pem,
        previous_cert_pem,
    };
    secrets
        .store_ca(&material)
        .await
        .map_err(CaInitError::Write)?;
    let bundle_version = publish_bundle(blobs, &material)
        .await
        .map_err(CaInitError::Write)?;
    Ok(CaInitReport {
        subject: certificate.subject_text(),
        key_type,
        not_after: certificate.not_after(),
        pin: certificate.pin(),
        rotated,
        replaced,
        bundle_version,
    })
}
