//! Store decorators that put every store call in a `store.<operation>` span.
//!
//! [`traced`] wraps the five stores of a state when OpenTelemetry is enabled; without it the stores are
//! used bare and nothing here runs. A span's name is `store.<store>.<method>` (for example
//! `store.certificates.issue`); its only attribute is `otel.status_code = error` when the call fails —
//! never a key, a token or a record. Depends only on the traits of [`crate::store`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tracing::Instrument;

use crate::config::Platform;
use crate::store::{
    AttestationRecord, AttestationStore, BlobStore, CaMaterial, CertificateRecord,
    CertificateStore, OAuthSession, OAuthSessionStore, SecretStore, StoreResult,
};

/// Runs one store call inside `span`, marking the span as failed when the call fails.
async fn in_span<T>(
    span: tracing::Span,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let result = call.instrument(span.clone()).await;
    if result.is_err() {
        span.record("otel.status_code", "error");
    }
    result
}

/// The span of one store operation; `$name` is a literal such as `"store.sessions.consume"`.
macro_rules! store_span {
    ($name:literal) => {
        tracing::info_span!($name, otel.status_code = tracing::field::Empty)
    };
}

/// The five stores of a state, each behind its tracing decorator.
pub struct TracedStores {
    /// Certificate records.
    pub certificates: Arc<dyn CertificateStore>,
    /// OAuth sessions.
    pub sessions: Arc<dyn OAuthSessionStore>,
    /// Attestation results.
    pub attestations: Arc<dyn AttestationStore>,
    /// CA material and secret references.
    pub secrets: Arc<dyn SecretStore>,
    /// Published objects.
    pub blobs: Arc<dyn BlobStore>,
}

/// Wraps every store in its decorator.
pub fn traced(
    certificates: Arc<dyn CertificateStore>,
    sessions: Arc<dyn OAuthSessionStore>,
    attestations: Arc<dyn AttestationStore>,
    secrets: Arc<dyn SecretStore>,
    blobs: Arc<dyn BlobStore>,
) -> TracedStores {
    TracedStores {
        certificates: Arc::new(Traced(certificates)),
        sessions: Arc::new(Traced(sessions)),
        attestations: Arc::new(Traced(attestations)),
        secrets: Arc::new(Traced(secrets)),
        blobs: Arc::new(Traced(blobs)),
    }
}

/// A store whose every call runs in a `store.<operation>` span.
pub struct Traced<S: ?Sized>(pub Arc<S>);

#[async_trait]
impl CertificateStore for Traced<dyn CertificateStore> {
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>> {
        in_span(
            store_span!("store.certificates.get"),
            self.0.get(device_id, serial),
        )
        .await
    }

    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>> {
        in_span(
            store_span!("store.certificates.list_for_device"),
            self.0.list_for_device(device_id),
        )
        .await
    }

    async fn issue(
        &self,
        new: &CertificateRecord,
        supersede: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_span(
            store_span!("store.certificates.issue"),
            self.0.issue(new, supersede, reason, at),
        )
        .await
    }

    async fn revoke(
        &self,
        device_id: &str,
        serials: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        in_span(
            store_span!("store.certificates.revoke"),
            self.0.revoke(device_id, serials, reason, at),
        )
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        in_span(store_span!("store.certificates.ping"), self.0.ping()).await
    }
}

#[async_trait]
impl OAuthSessionStore for Traced<dyn OAuthSessionStore> {
    async fn create(&self, session: &OAuthSession) -> StoreResult<()> {
        in_span(store_span!("store.sessions.create"), self.0.create(session)).await
    }

    async fn peek(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        in_span(store_span!("store.sessions.peek"), self.0.peek(state)).await
    }

    async fn consume(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        in_span(store_span!("store.sessions.consume"), self.0.consume(state)).await
    }

    async fn delete(&self, state: &str) -> StoreResult<()> {
        in_span(store_span!("store.sessions.delete"), self.0.delete(state)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        in_span(store_span!("store.sessions.ping"), self.0.ping()).await
    }
}

#[async_trait]
impl AttestationStore for Traced<dyn AttestationStore> {
    async fn generation(&self) -> StoreResult<u64> {
        in_span(
            store_span!("store.attestations.generation"),
            self.0.generation(),
        )
        .await
    }

    async fn bump_generation(&self) -> StoreResult<u64> {
        in_span(
            store_span!("store.attestations.bump_generation"),
            self.0.bump_generation(),
        )
        .await
    }

    async fn put_result(&self, record: &AttestationRecord, ttl: Duration) -> StoreResult<()> {
        in_span(
            store_span!("store.attestations.put_result"),
            self.0.put_result(record, ttl),
        )
        .await
    }

    async fn get_result(
        &self,
        platform: Platform,
        device_id: &str,
    ) -> StoreResult<Option<AttestationRecord>> {
        in_span(
            store_span!("store.attestations.get_result"),
            self.0.get_result(platform, device_id),
        )
        .await
    }

    async fn consume_result(
        &self,
        platform: Platform,
        device_id: &str,
        attestation_id: &str,
        generation: u64,
        max_age: Duration,
    ) -> StoreResult<bool> {
        in_span(
            store_span!("store.attestations.consume_result"),
            self.0
                .consume_result(platform, device_id, attestation_id, generation, max_age),
        )
        .await
    }

    async fn delete_results(&self, device_id: &str, platform: Option<Platform>) -> StoreResult<()> {
        in_span(
            store_span!("store.attestations.delete_results"),
            self.0.delete_results(device_id, platform),
        )
        .await
    }

    async fn record_evidence(
        &self,
        platform: Platform,
        sha256_hex: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        in_span(
            store_span!("store.attestations.record_evidence"),
            self.0.record_evidence(platform, sha256_hex, ttl),
        )
        .await
    }

    async fn get_binding(&self, device_id: &str) -> StoreResult<Option<String>> {
        in_span(
            store_span!("store.attestations.get_binding"),
            self.0.get_binding(device_id),
        )
        .await
    }

    async fn bind_if_absent(&self, device_id: &str, fingerprint: &str) -> StoreResult<String> {
        in_span(
            store_span!("store.attestations.bind_if_absent"),
            self.0.bind_if_absent(device_id, fingerprint),
        )
        .await
    }

    async fn delete_binding(&self, device_id: &str) -> StoreResult<()> {
        in_span(
            store_span!("store.attestations.delete_binding"),
            self.0.delete_binding(device_id),
        )
        .await
    }

    async fn increment_rate(&self, key: &str, window_end: DateTime<Utc>) -> StoreResult<u64> {
        in_span(
            store_span!("store.attestations.increment_rate"),
            self.0.increment_rate(key, window_end),
        )
        .await
    }
}

#[async_trait]
impl SecretStore for Traced<dyn SecretStore> {
    async fn load_ca(&self) -> StoreResult<Option<CaMaterial>> {
        in_span(store_span!("store.secrets.load_ca"), self.0.load_ca()).await
    }

    async fn store_ca(&self, material: &CaMaterial) -> StoreResult<()> {
        in_span(
            store_span!("store.secrets.store_ca"),
            self.0.store_ca(material),
        )
        .await
    }

    async fn resolve(&self, references: &[String]) -> StoreResult<Vec<SecretString>> {
        in_span(
            store_span!("store.secrets.resolve"),
            self.0.resolve(references),
        )
        .await
    }
}

#[async_trait]
impl BlobStore for Traced<dyn BlobStore> {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> StoreResult<String> {
        in_span(
            store_span!("store.blobs.put"),
            self.0.put(key, bytes, content_type),
        )
        .await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        in_span(store_span!("store.blobs.get"), self.0.get(key)).await
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        in_span(store_span!("store.blobs.exists"), self.0.exists(key)).await
    }
}
