//! Storage traits and their shared record types.
//!
//! Every request-path read and write goes through these traits, shared as `Arc<dyn …>` in the
//! application state. Backends: [`memory`] (tests and benches), [`sqlite`] plus [`files`] (the embedded
//! local default under `DATA_DIR`) and [`aws`] (DynamoDB, Secrets Manager and S3). This module
//! must not depend on axum or on the HTTP layer; it depends only on
//! [`crate::config`] for shared enums.

pub mod aws;
pub mod files;
pub mod memory;
pub mod sqlite;
pub mod timestamp;
pub mod traced;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::config::{Platform, ProviderId};

/// How many writes wait in a store's bounded write queue, against how many may wait.
///
/// The embedded store keeps one ([`sqlite::SqliteStore::write_backlog`]); while it is full, a write
/// is refused at once with [`StoreError::Busy`]. The server reads it before a request that writes
/// has its body read, so that under overload such a request is refused as cheaply as a shed one
/// instead of being parsed and checked first. Cheap to clone: clones count the same queue.
#[derive(Debug, Clone)]
pub struct WriteBacklog {
    waiting: Arc<AtomicUsize>,
    capacity: usize,
}

impl WriteBacklog {
    /// An empty queue that holds `capacity` waiting writes.
    pub fn new(capacity: usize) -> WriteBacklog {
        WriteBacklog {
            waiting: Arc::new(AtomicUsize::new(0)),
            capacity,
        }
    }

    /// Whether the queue holds `capacity` writes or more: the next write would be refused.
    pub fn is_full(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) >= self.capacity
    }

    /// Counts one more waiting write.
    pub fn enqueue(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one waiting write less (it was taken from the queue, or never got in); never below zero.
    pub fn dequeue(&self) {
        let _ = self
            .waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// What a store operation can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A condition failed (the key exists, the record is no longer active, …): 409 or handled by the caller.
    #[error("store condition failed: {0}")]
    Conflict(String),
    /// Throttling, timeout or network failure: 503 `store_unavailable` with `Retry-After: 1`.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store is saturated and refused the operation at once without doing it (the embedded
    /// store's write queue is full): 503 like a shed request, with `Retry-After: 1`.
    #[error("store busy: {0}")]
    Busy(String),
    /// Anything else (corrupt data, I/O error): 500.
    #[error("store failure: {0}")]
    Internal(String),
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A certificate record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Device id; key part 1.
    pub device_id: String,
    /// Serial text: 32 upper-case hex digits; key part 2, unique across devices.
    pub serial: String,
    /// Platform the certificate was issued for.
    pub platform: Platform,
    /// Issuance time, whole seconds.
    pub issued_at: DateTime<Utc>,
    /// notAfter, whole seconds.
    pub expires_at: DateTime<Utc>,
    /// The issued certificate, PEM.
    pub certificate_pem: String,
    /// Lower-case hex SHA-256 of the DER; `None` on records written by the previous service.
    pub fingerprint_sha256: Option<String>,
    /// Whether the certificate has been revoked.
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// `superseded`, the client's reason, or `Manual revocation`.
    pub revocation_reason: Option<String>,
    /// Epoch seconds after which storage may delete the record (`expires_at` + retention days).
    pub ttl: i64,
}

/// Stores device certificate records.
#[async_trait]
pub trait CertificateStore: Send + Sync {
    /// Strongly consistent point read of one record; `None` when absent or past its `ttl`.
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>>;
    /// Every record of one device (one partition), any order; records past their `ttl` are left out.
    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>>;
    /// Issue-and-supersede, one atomic write: inserts `new` (condition: no record with its serial
    /// exists) and revokes each record of `new.device_id` named in `supersede` (condition: still active)
    /// with `reason` at `at`, on the further condition that `supersede` names **every** active record of
    /// the device (an empty list: the device has none). Afterwards `new`, when it is itself active, is
    /// the device's only active record: at most one active certificate per device, at every instant and
    /// across crashes, however many writers race. Any failed condition → [`StoreError::Conflict`] and
    /// nothing is written.
    ///
    /// "Active" means not revoked and not past its `ttl`, whether or not `expires_at` has passed.
    async fn issue(
        &self,
        new: &CertificateRecord,
        supersede: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Revokes each named record of the device that is still active; returns how many were revoked.
    async fn revoke(
        &self,
        device_id: &str,
        serials: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<usize>;
    /// A trivial round trip for readiness.
    async fn ping(&self) -> StoreResult<()>;
}

/// One OAuth authorization flow.
#[derive(Debug, Clone)]
pub struct OAuthSession {
    /// The state token (key): 43 base64url characters.
    pub state: String,
    /// Provider from the authorize path.
    pub provider: ProviderId,
    /// The client's PKCE verifier; never returned, logged or put in a URL.
    pub code_verifier: SecretString,
    /// The client's allow-listed redirect_uri.
    pub redirect_uri: String,
    /// The redirect_uri sent to the provider.
    pub provider_redirect_uri: String,
    /// Optional client state, returned to nobody but stored.
    pub client_state: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry; past it the record is absent whatever storage holds.
    pub expires_at: DateTime<Utc>,
}

/// Stores OAuth sessions, keyed `oauth#<state>` in the key-value backends.
#[async_trait]
pub trait OAuthSessionStore: Send + Sync {
    /// Inserts the session; [`StoreError::Conflict`] when the state token already exists.
    async fn create(&self, session: &OAuthSession) -> StoreResult<()>;
    /// Reads without modifying; `None` when absent or expired.
    async fn peek(&self, state: &str) -> StoreResult<Option<OAuthSession>>;
    /// Atomically deletes and returns the record: at most one caller gets it; `None` when absent or expired.
    async fn consume(&self, state: &str) -> StoreResult<Option<OAuthSession>>;
    /// Deletes the record if present.
    async fn delete(&self, state: &str) -> StoreResult<()>;
    /// A trivial round trip for readiness.
    async fn ping(&self) -> StoreResult<()>;
}

/// The latest attestation result of one (platform, device), keyed `att#<platform>#<device_id>` in
/// the key-value backends.
#[derive(Debug, Clone, PartialEq)]
pub struct AttestationRecord {
    /// Attested platform (android, ios or desktop).
    pub platform: Platform,
    /// Device id.
    pub device_id: String,
    /// `valid` or `invalid`.
    pub status: String,
    /// Fresh random id of a `valid` result; used once by enrolment.
    pub attestation_id: Option<String>,
    /// Verification time.
    pub verified_at: DateTime<Utc>,
    /// Attestation generation current when the result was stored.
    pub generation: u64,
    /// Whether enrolment has consumed the attestation id.
    pub consumed: bool,
    /// The 200 body returned for this result.
    pub response: serde_json::Value,
}

/// Stores attestation results, replay records, desktop bindings and rate counters.
#[async_trait]
pub trait AttestationStore: Send + Sync {
    /// The current attestation generation (0 when never bumped).
    async fn generation(&self) -> StoreResult<u64>;
    /// Increments the generation atomically and returns the new value.
    async fn bump_generation(&self) -> StoreResult<u64>;
    /// Stores `record` as the latest result of its (platform, device), replacing any previous one, for `ttl`.
    async fn put_result(&self, record: &AttestationRecord, ttl: Duration) -> StoreResult<()>;
    /// The latest unexpired result of (platform, device).
    async fn get_result(
        &self,
        platform: Platform,
        device_id: &str,
    ) -> StoreResult<Option<AttestationRecord>>;
    /// Marks the latest result consumed iff it is `valid`, unconsumed, of `generation`, carries
    /// `attestation_id` and was verified at most `max_age` ago. Returns whether it was consumed.
    async fn consume_result(
        &self,
        platform: Platform,
        device_id: &str,
        attestation_id: &str,
        generation: u64,
        max_age: Duration,
    ) -> StoreResult<bool>;
    /// Deletes the device's results for `platform`, or for every platform when `None`.
    async fn delete_results(&self, device_id: &str, platform: Option<Platform>) -> StoreResult<()>;
    /// Records evidence by SHA-256 hex for `ttl`; returns `true` when it was not seen before.
    async fn record_evidence(
        &self,
        platform: Platform,
        sha256_hex: &str,
        ttl: Duration,
    ) -> StoreResult<bool>;
    /// The fingerprint bound to a desktop device.
    async fn get_binding(&self, device_id: &str) -> StoreResult<Option<String>>;
    /// Binds `fingerprint` unless a binding exists (first writer wins); returns the bound fingerprint.
    async fn bind_if_absent(&self, device_id: &str, fingerprint: &str) -> StoreResult<String>;
    /// Removes the device's binding.
    async fn delete_binding(&self, device_id: &str) -> StoreResult<()>;
    /// Atomically increments the counter `key` (kept until `window_end` + 1 hour); returns the new count.
    async fn increment_rate(&self, key: &str, window_end: DateTime<Utc>) -> StoreResult<u64>;
}

/// CA material as stored.
#[derive(Clone)]
pub struct CaMaterial {
    /// The CA private key, PEM; never logged or returned.
    pub key_pem: SecretString,
    /// The current CA certificate, PEM.
    pub cert_pem: String,
    /// The previous CA certificate during a rotation, PEM.
    pub previous_cert_pem: Option<String>,
}

impl std::fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial")
            .field("key_pem", &"[redacted]")
            .field("cert_pem", &self.cert_pem.len())
            .field("previous_cert_pem", &self.previous_cert_pem.is_some())
            .finish()
    }
}

/// Holds the CA material and resolves secret references.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Loads the CA material; `None` when no CA has been initialised.
    async fn load_ca(&self) -> StoreResult<Option<CaMaterial>>;
    /// Writes new CA material (create or new version); used by `ca init` only.
    async fn store_ca(&self, material: &CaMaterial) -> StoreResult<()>;
    /// Resolves secret references to their values, in the order given.
    async fn resolve(&self, references: &[String]) -> StoreResult<Vec<SecretString>>;
}

/// Stores published objects such as the truststore bundle.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes `bytes` under `key`; returns the version written.
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> StoreResult<String>;
    /// Reads the object under `key`.
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Whether an object exists under `key`.
    async fn exists(&self, key: &str) -> StoreResult<bool>;
}
