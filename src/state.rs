//! Application state: the validated configuration and every shared client and store.
//!
//! [`AppState::build`] runs once per process, before the first request (on Lambda: during INIT), and
//! creates everything requests share: the stores behind their traits and, in later modules, the outbound
//! HTTP client and the lazily loaded CA. `AppState` is a cheap clone (one `Arc` inside). It depends on
//! `config` and the `store` traits and backends, never on axum handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;

use crate::attestation::Verifiers;
use crate::authority::{self, BootstrapError, LazyCa};
use crate::config::{Config, StorageProvider};
use crate::cpu::CpuPool;
use crate::oauth::client::ProviderClient;
use crate::store::aws::AwsStores;
use crate::store::files::{LocalBlobStore, LocalSecretStore};
use crate::store::memory::{MemoryBlobStore, MemorySecretStore, MemoryStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{
    AttestationStore, BlobStore, CertificateStore, OAuthSessionStore, SecretStore, StoreError,
    WriteBacklog,
};

/// Everything a request handler may need, shared by all requests.
///
/// One `Arc` around [`Shared`]: every layer and handler that takes the state clones it per request, so a
/// clone must cost one atomic increment, not one per store. Fields are reached through `Deref`
/// (`state.config`, `state.sessions`, …).
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// The contents of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Certificate records.
    pub certificates: Arc<dyn CertificateStore>,
    /// OAuth sessions.
    pub sessions: Arc<dyn OAuthSessionStore>,
    /// Attestation results, bindings and counters.
    pub attestations: Arc<dyn AttestationStore>,
    /// CA material and secret references.
    pub secrets: Arc<dyn SecretStore>,
    /// Published objects (the truststore bundle).
    pub blobs: Arc<dyn BlobStore>,
    /// Set when graceful shutdown begins; readiness then reports `shutting_down`.
    pub lifecycle: Lifecycle,
    /// In-flight request limit; `Some` only in the server binary.
    pub load_shedding: Option<Arc<Semaphore>>,
    /// The embedded store's write queue (`None` on AWS). With load shedding on, a request to a route
    /// that writes is refused like a shed one, before its body is read, while the queue is full.
    pub write_backlog: Option<WriteBacklog>,
    /// The outbound HTTP client for OAuth provider calls, built once.
    pub providers: ProviderClient,
    /// The device CA, loaded from `secrets` on first need.
    pub ca: LazyCa,
    /// Attestation verifiers of the configured platforms, built once.
    pub verifiers: Arc<Verifiers>,
    /// Where CPU-heavy work runs: blocking threads, `MAX_CPU_JOBS` at once.
    pub cpu: CpuPool,
}

/// What the server loop shares with the app: whether the process is shutting down (readiness reports
/// it), and the open-connection limit the loop enforces (`None`: unlimited, as in tests and on Lambda).
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    shutting_down: Arc<AtomicBool>,
    connections: Option<Arc<Semaphore>>,
}

impl Lifecycle {
    /// Marks the process as shutting down.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// The same lifecycle with at most `max` open connections (`MAX_CONNECTIONS`).
    pub fn with_connection_limit(mut self, max: usize) -> Lifecycle {
        self.connections = Some(Arc::new(Semaphore::new(max)));
        self
    }

    /// The open-connection limit, one permit per connection, when there is one.
    pub fn connection_limit(&self) -> Option<&Arc<Semaphore>> {
        self.connections.as_ref()
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
    /// The development CA could not be created, or production local mode has no CA.
    #[error(transparent)]
    CertificateAuthority(#[from] BootstrapError),
}

impl AppState {
    /// Builds the state for `config`: opens the configured storage backend.
    pub async fn build(config: Config) -> Result<AppState, BuildError> {
        match config.storage.provider {
            StorageProvider::Local => {
                let dir = config.storage.data_dir.clone();
                let sqlite = Arc::new(SqliteStore::open(&dir).await.map_err(|source| {
                    BuildError::Store {
                        backend: "SQLite",
                        source,
                    }
                })?);
                let backlog = sqlite.write_backlog();
                let secrets = Arc::new(LocalSecretStore::new(&dir));
                let blobs = Arc::new(LocalBlobStore::new(&dir));
                // Key permissions tightened; the development CA created, or refused in
                // production.
                authority::prepare_local_ca(
                    config.is_production(),
                    &dir,
                    secrets.as_ref(),
                    blobs.as_ref(),
                )
                .await?;
                Ok(AppState::from_parts(
                    config,
                    sqlite.clone(),
                    sqlite.clone(),
                    sqlite,
                    secrets,
                    blobs,
                )
                .with_write_backlog(backlog))
            }
            StorageProvider::Aws => {
                // Clients only: no network I/O unless AUTO_CREATE_RESOURCES asks for it.
                let started = std::time::Instant::now();
                let aws = AwsStores::new(&config.storage.aws).await;
                let clients = started.elapsed();
                if config.storage.aws.auto_create_resources {
                    aws.create_missing_resources()
                        .await
                        .map_err(|source| BuildError::Store {
                            backend: "AWS (AUTO_CREATE_RESOURCES)",
                            source,
                        })?;
                }
                let parts = std::time::Instant::now();
                let state = AppState::from_parts(
                    config,
                    aws.certificates,
                    aws.sessions.clone(),
                    aws.sessions,
                    aws.secrets,
                    aws.blobs,
                );
                tracing::debug!(
                    state.aws_clients_ms = crate::telemetry::ms(clients),
                    state.parts_ms = crate::telemetry::ms(parts.elapsed()),
                    "AWS state built"
                );
                Ok(state)
            }
        }
    }

    /// A state on in-memory stores, for tests and benches, with a fresh development CA (generated in
    /// memory; nothing is written anywhere).
    pub fn in_memory(config: Config) -> AppState {
        let mem = Arc::new(MemoryStore::new());
        let secrets = match authority::development_material(chrono::Utc::now()) {
            Ok(material) => MemorySecretStore::with_ca(material),
            Err(_) => MemorySecretStore::default(),
        };
        AppState::from_parts(
            config,
            mem.clone(),
            mem.clone(),
            mem,
            Arc::new(secrets),
            Arc::new(MemoryBlobStore::default()),
        )
    }

    /// Assembles a state from explicit stores, and builds the outbound HTTP client.
    ///
    /// # Panics
    ///
    /// If the TLS backend cannot be initialised (a broken build, not a run-time condition).
    pub fn from_parts(
        config: Config,
        certificates: Arc<dyn CertificateStore>,
        sessions: Arc<dyn OAuthSessionStore>,
        attestations: Arc<dyn AttestationStore>,
        secrets: Arc<dyn SecretStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> AppState {
        // With OpenTelemetry, every store call runs in a `store.<operation>` span, so a slow
        // request shows which storage call it waited on.
        let (certificates, sessions, attestations, secrets, blobs) = if config
            .telemetry
            .otel_enabled
        {
            let t =
                crate::store::traced::traced(certificates, sessions, attestations, secrets, blobs);
            (
                t.certificates,
                t.sessions,
                t.attestations,
                t.secrets,
                t.blobs,
            )
        } else {
            (certificates, sessions, attestations, secrets, blobs)
        };
        // Building a rustls client with bundled roots does no I/O and cannot fail at run time; a
        // failure here is a broken build, so it stops start-up loudly.
        let providers = ProviderClient::new(config.oauth.http_timeout)
            .expect("the outbound HTTP client builds with bundled roots");
        let ca = LazyCa::with_policy(secrets.clone(), config.is_production());
        let verifiers = Arc::new(Verifiers::new(&config.attestation));
        let cpu = CpuPool::new(config.http.max_cpu_jobs, config.http.max_queued_cpu_jobs);
        let shared = Shared {
            cpu,
            ca,
            verifiers,
            config: Arc::new(config),
            certificates,
            sessions,
            attestations,
            secrets,
            blobs,
            lifecycle: Lifecycle::default(),
            load_shedding: None,
            write_backlog: None,
            providers,
        };
        AppState {
            shared: Arc::new(shared),
        }
    }

    /// Replaces the App Attest trust anchor (Apple's root, embedded) with `root_der`, keeping the
    /// configured app. For tests that build their own attestation chains; no binary calls it. Returns
    /// `None` when App Attest is not configured or `root_der` is not a usable certificate.
    pub fn with_app_attest_trust_anchor(mut self, root_der: &[u8]) -> Option<AppState> {
        let config = self.config.attestation.app_attest.clone()?;
        let verifier =
            crate::attestation::app_attest::AppAttest::with_trust_anchor(&config, root_der)?;
        let shared = Arc::make_mut(&mut self.shared);
        Arc::make_mut(&mut shared.verifiers).app_attest = Some(verifier);
        Some(self)
    }

    /// Lets the server refuse requests that write while `backlog` is full (see
    /// [`Shared::write_backlog`]); [`AppState::build`] passes the embedded store's.
    pub fn with_write_backlog(mut self, backlog: WriteBacklog) -> AppState {
        Arc::make_mut(&mut self.shared).write_backlog = Some(backlog);
        self
    }

    /// Enables the server binary's limits: load shedding at `MAX_CONCURRENT_REQUESTS` and the
    /// `MAX_CONNECTIONS` cap on open connections (Lambda runs one request per execution environment and
    /// has neither).
    pub fn with_load_shedding(mut self) -> AppState {
        let permits = self.config.server.max_concurrent_requests;
        let connections = self.config.server.max_connections;
        let shared = Arc::make_mut(&mut self.shared);
        shared.load_shedding = Some(Arc::new(Semaphore::new(permits)));
        shared.lifecycle = shared.lifecycle.clone().with_connection_limit(connections);
        self
    }
}
