//! Application state: the validated configuration and every shared client and store.
//!
//! [`AppState::build`] runs once per process, before the first request (on Lambda: during INIT), and
//! creates everything requests share: the stores behind their traits and, in later modules, the outbound
//! HTTP client and the lazily loaded CA. `AppState` is a cheap clone (`Arc`s inside). It depends on
//! `config` and the `store` traits and backends, never on axum handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;

use crate::config::{Config, StorageProvider};
use crate::store::files::{LocalBlobStore, LocalSecretStore};
use crate::store::memory::{MemoryBlobStore, MemorySecretStore, MemoryStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{
    AttestationStore, BlobStore, CertificateStore, OAuthSessionStore, SecretStore, StoreError,
};

/// Everything a request handler may need, shared by all requests.
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Certificate records (SPEC §5.6).
    pub certificates: Arc<dyn CertificateStore>,
    /// OAuth sessions (SPEC §4.7).
    pub sessions: Arc<dyn OAuthSessionStore>,
    /// Attestation results, bindings and counters (SPEC §6).
    pub attestations: Arc<dyn AttestationStore>,
    /// CA material and secret references.
    pub secrets: Arc<dyn SecretStore>,
    /// Published objects (the truststore bundle).
    pub blobs: Arc<dyn BlobStore>,
    /// Set when graceful shutdown begins; readiness then reports `shutting_down`.
    pub lifecycle: Lifecycle,
    /// In-flight request limit; `Some` only in the server binary (SPEC §2.9).
    pub load_shedding: Option<Arc<Semaphore>>,
}

/// Whether the process is shutting down, shared between the server loop and readiness.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle(Arc<AtomicBool>);

impl Lifecycle {
    /// Marks the process as shutting down.
    pub fn begin_shutdown(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why the state could not be built (a start-up failure, exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A store could not be opened or prepared.
    #[error("could not open the {backend} store: {source}")]
    Store {
        /// Which backend.
        backend: &'static str,
        /// The store's error.
        source: StoreError,
    },
    /// The configured storage backend is not part of this build.
    #[error("{0}")]
    Unsupported(String),
}

impl AppState {
    /// Builds the state for `config`: opens the configured storage backend.
    pub async fn build(config: Config) -> Result<AppState, BuildError> {
        match config.storage.provider {
            StorageProvider::Local => {
                let dir = config.storage.data_dir.clone();
                let sqlite = Arc::new(
                    SqliteStore::open(&dir)
                        .await
                        .map_err(|source| BuildError::Store { backend: "SQLite", source })?,
                );
                Ok(AppState::from_parts(
                    config,
                    sqlite.clone(),
                    sqlite.clone(),
                    sqlite,
                    Arc::new(LocalSecretStore::new(&dir)),
                    Arc::new(LocalBlobStore::new(&dir)),
                ))
            }
            StorageProvider::Aws => Err(BuildError::Unsupported(
                "INFRASTRUCTURE_PROVIDER=aws: the DynamoDB/Secrets Manager/S3 backend is not in this build yet (issue #5); use INFRASTRUCTURE_PROVIDER=local".into(),
            )),
        }
    }

    /// A state on in-memory stores, for tests and benches.
    pub fn in_memory(config: Config) -> AppState {
        let mem = Arc::new(MemoryStore::new());
        AppState::from_parts(
            config,
            mem.clone(),
            mem.clone(),
            mem,
            Arc::new(MemorySecretStore::default()),
            Arc::new(MemoryBlobStore::default()),
        )
    }

    /// Assembles a state from explicit stores.
    pub fn from_parts(
        config: Config,
        certificates: Arc<dyn CertificateStore>,
        sessions: Arc<dyn OAuthSessionStore>,
        attestations: Arc<dyn AttestationStore>,
        secrets: Arc<dyn SecretStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> AppState {
        AppState {
            config: Arc::new(config),
            certificates,
            sessions,
            attestations,
            secrets,
            blobs,
            lifecycle: Lifecycle::default(),
            load_shedding: None,
        }
    }

    /// Enables load shedding at `MAX_CONCURRENT_REQUESTS` (the server binary does this; Lambda runs one
    /// request per execution environment and does not).
    pub fn with_load_shedding(mut self) -> AppState {
        let permits = self.config.server.max_concurrent_requests;
        self.load_shedding = Some(Arc::new(Semaphore::new(permits)));
        self
    }
}
