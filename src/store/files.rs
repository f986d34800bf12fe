//! Local-mode secret and blob storage as files under `DATA_DIR`.
//!
//! [`LocalSecretStore`] keeps the CA in `ca_private_key.pem` (0600), `ca_certificate.pem` (0644) and the
//! optional `ca_previous_certificate.pem` (0644) — the previous service's local layout, so an existing
//! development CA can be copied in. [`LocalBlobStore`] keeps objects such as `truststore/ca-bundle.pem` as
//! files. Writes go through a temporary file and a rename, so readers see the old or the new content,
//! never a torn one. File I/O runs on the blocking thread pool. This module must not depend on axum, on
//! HTTP or on any other backend.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{BlobStore, CaMaterial, SecretStore, StoreError, StoreResult};

/// The CA private key file in `DATA_DIR` (mode 0600).
pub const CA_PRIVATE_KEY_FILE: &str = "ca_private_key.pem";
/// The current CA certificate file in `DATA_DIR` (mode 0644).
pub const CA_CERTIFICATE_FILE: &str = "ca_certificate.pem";
/// The previous CA certificate file in `DATA_DIR`, present during a rotation (mode 0644).
pub const CA_PREVIOUS_CERTIFICATE_FILE: &str = "ca_previous_certificate.pem";

/// Creates `dir` (and missing parents) with mode 0700, or tightens an existing `dir` to 0700.
pub(crate) fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
///
/// The file ends with `mode` (on Unix) whatever existed before; the data and the rename are synced.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "the path has no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let result = write_then_rename(&temp, path, bytes, mode);
    if result.is_err() {
        // Best effort: a failed write must not leave a partial temporary file behind.
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_then_rename(temp: &Path, path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options.open(temp)?;
    #[cfg(unix)]
    {
        // A leftover temporary file keeps its old mode through `open`: set it explicitly.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, path)?;
    sync_parent(path)
}

/// Syncs the directory holding `path`, so a rename survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads `path` as UTF-8; `None` when it does not exist.
fn read_optional(path: &Path) -> std::io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Maps an I/O error on the named file to [`StoreError::Internal`].
fn io_error(action: &str, name: &str, error: &std::io::Error) -> StoreError {
    StoreError::Internal(format!("{action} {name}: {error}"))
}

/// Runs blocking file work on the blocking thread pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| StoreError::Internal("the file store task failed".into()))?
}

/// CA material as PEM files in `DATA_DIR`.
#[derive(Debug, Clone)]
pub struct LocalSecretStore {
    data_dir: PathBuf,
}

impl LocalSecretStore {
    /// A store over the CA files of `data_dir`; nothing is touched until the first call.
    pub fn new(data_dir: impl Into<PathBuf>) -> LocalSecretStore {
        LocalSecretStore {
            data_dir: data_dir.into(),
        }
    }
}

#[async_trait]
impl SecretStore for LocalSecretStore {
    async fn load_ca(&self) -> StoreResult<Option<CaMaterial>> {
        let dir = self.data_dir.clone();
        blocking(move || {
            let read = |name: &str| {
                read_optional(&dir.join(name)).map_err(|error| io_error("reading", name, &error))
            };
            let key = read(CA_PRIVATE_KEY_FILE)?;
            let cert = read(CA_CERTIFICATE_FILE)?;
            let previous = read(CA_PREVIOUS_CERTIFICATE_FILE)?;
            match (key, cert) {
                (None, None) => Ok(None),
                (Some(key), Some(cert)) => Ok(Some(CaMaterial {
                    key_pem: SecretString::from(key),
                    cert_pem: cert,
                    previous_cert_pem: previous,
                })),
                (None, Some(_)) => Err(StoreError::Internal(format!(
                    "the CA is incomplete: {CA_PRIVATE_KEY_FILE} is missing"
                ))),
                (Some(_), None) => Err(StoreError::Internal(format!(
                    "the CA is incomplete: {CA_CERTIFICATE_FILE} is missing"
                ))),
            }
        })
        .await
    }

    async fn store_ca(&self, material: &CaMaterial) -> StoreResult<()> {
        let dir = self.data_dir.clone();
        let key = material.key_pem.expose_secret().as_bytes().to_vec();
        let cert = material.cert_pem.clone();
        let previous = material.previous_cert_pem.clone();
        blocking(move || {
            ensure_private_dir(&dir)
                .map_err(|error| io_error("creating", "the data directory", &error))?;
            let write = |name: &str, bytes: &[u8], mode: u32| {
                write_atomically(&dir.join(name), bytes, mode)
                    .map_err(|error| io_error("writing", name, &error))
            };
            write(CA_PRIVATE_KEY_FILE, &key, 0o600)?;
            write(CA_CERTIFICATE_FILE, cert.as_bytes(), 0o644)?;
            match previous {
                Some(previous) => write(CA_PREVIOUS_CERTIFICATE_FILE, previous.as_bytes(), 0o644),
                // No rotation in progress: a stale previous certificate must not be trusted on.
                None => match fs::remove_file(dir.join(CA_PREVIOUS_CERTIFICATE_FILE)) {
                    Err(error) if error.kind() != ErrorKind::NotFound => {
                        Err(io_error("removing", CA_PREVIOUS_CERTIFICATE_FILE, &error))
                    }
                    _ => Ok(()),
                },
            }
        })
        .await
    }

    async fn resolve(&self, references: &[String]) -> StoreResult<Vec<SecretString>> {
        if references.is_empty() {
            return Ok(Vec::new());
        }
        Err(StoreError::Unavailable(
            "secret references are resolved through AWS Secrets Manager".into(),
        ))
    }
}

/// Published objects as files under `DATA_DIR`.
///
/// Versions are the lower-case hex SHA-256 of the bytes; the content type is not kept.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    data_dir: PathBuf,
}

impl LocalBlobStore {
    /// A store over the files under `data_dir`; nothing is touched until the first call.
    pub fn new(data_dir: impl Into<PathBuf>) -> LocalBlobStore {
        LocalBlobStore {
            data_dir: data_dir.into(),
        }
    }

    /// The file holding `key`, once the key is known not to escape `data_dir`.
    fn path_of(&self, key: &str) -> StoreResult<PathBuf> {
        let valid = !key.is_empty()
            && !key.contains("..")
            && !key.starts_with('/')
            && !key.contains('\\')
            && !key.contains('\0')
            && key
                .split('/')
                .all(|segment| !segment.is_empty() && segment != ".");
        if !valid {
            return Err(StoreError::Internal(format!("invalid blob key {key:?}")));
        }
        Ok(self.data_dir.join(key))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, bytes: &[u8], _content_type: &str) -> StoreResult<String> {
        let path = self.path_of(key)?;
        let data_dir = self.data_dir.clone();
        let bytes = bytes.to_vec();
        let key = key.to_owned();
        blocking(move || {
            ensure_private_dir(&data_dir)
                .map_err(|error| io_error("creating", "the data directory", &error))?;
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .map_err(|error| io_error("creating the folder of", &key, &error))?;
            }
            write_atomically(&path, &bytes, 0o644)
                .map_err(|error| io_error("writing", &key, &error))?;
            Ok(hex::encode(Sha256::digest(&bytes)))
        })
        .await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let path = self.path_of(key)?;
        let key = key.to_owned();
        blocking(move || match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("reading", &key, &error)),
        })
        .await
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        let path = self.path_of(key)?;
        let key = key.to_owned();
        blocking(move || match fs::metadata(&path) {
            Ok(metadata) => Ok(metadata.is_file()),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(io_error("inspecting", &key, &error)),
        })
        .await
    }
}
