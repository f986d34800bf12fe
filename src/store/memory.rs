//! In-memory store backends for tests and benches.
//!
//! [`MemoryStore`] implements the certificate, OAuth session and attestation traits over maps behind
//! `std::sync::Mutex`es; [`MemorySecretStore`] and [`MemoryBlobStore`] hold CA material, secret values and
//! blobs. They follow the same contract as the SQLite and AWS backends (expired items are absent,
//! conditional writes are all or nothing) but keep nothing across processes. No lock is held across an
//! `.await`. This module must not depend on axum, on HTTP or on any other backend.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    AttestationRecord, AttestationStore, BlobStore, CaMaterial, CertificateRecord,
    CertificateStore, OAuthSession, OAuthSessionStore, SecretStore, StoreError, StoreResult,
};
use crate::config::Platform;

/// Locks `mutex`, recovering the data after a panic in another holder.
///
/// Every operation checks its conditions before it mutates anything, so a panicking holder cannot leave
/// a half-applied change behind and the data stays usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Converts a TTL to a chrono delta, saturating absurdly large values.
fn delta(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX)
}

/// Whether an item expiring at `expiry` (epoch seconds) is still live at `now`.
fn live_epoch(expiry: i64, now: DateTime<Utc>) -> bool {
    now.timestamp() < expiry
}

/// The rate counter key: the caller's key, prefixed with `rate#` when it lacks it (as the SQLite store).
fn rate_key(key: &str) -> String {
    if key.starts_with("rate#") {
        key.to_owned()
    } else {
        format!("rate#{key}")
    }
}

/// Certificate records indexed by serial (unique across devices) and by device.
#[derive(Default)]
struct Certificates {
    by_serial: HashMap<String, CertificateRecord>,
    by_device: HashMap<String, BTreeSet<String>>,
}

impl Certificates {
    /// The live record of `device_id` with `serial`.
    fn live(
        &self,
        device_id: &str,
        serial: &str,
        now: DateTime<Utc>,
    ) -> Option<&CertificateRecord> {
        self.by_serial
            .get(serial)
            .filter(|record| record.device_id == device_id && live_epoch(record.ttl, now))
    }

    /// The live, unrevoked record of `device_id` with `serial`.
    fn active_mut(
        &mut self,
        device_id: &str,
        serial: &str,
        now: DateTime<Utc>,
    ) -> Option<&mut CertificateRecord> {
        self.by_serial.get_mut(serial).filter(|record| {
            record.device_id == device_id && !record.revoked && live_epoch(record.ttl, now)
        })
    }
}

/// The attestation items (results, evidence digests, desktop bindings, rate counters and the
/// generation), each with its expiry where it has one.
#[derive(Default)]
struct Attestation {
    generation: u64,
    /// Latest result per (platform, device), with its expiry.
    results: HashMap<(Platform, String), (AttestationRecord, DateTime<Utc>)>,
    /// Evidence hash per platform → expiry.
    evidence: HashMap<(Platform, String), DateTime<Utc>>,
    /// Desktop bindings: device → fingerprint; they never expire.
    bindings: HashMap<String, String>,
    /// Rate counters: key → (count, expiry).
    rates: HashMap<String, (u64, DateTime<Utc>)>,
}

/// The in-memory certificate, OAuth session and attestation store.
///
/// Cheap to create; each instance is independent. Share it as `Arc<MemoryStore>` coerced to the trait
/// objects the application state needs.
#[derive(Default)]
pub struct MemoryStore {
    certificates: Mutex<Certificates>,
    sessions: Mutex<HashMap<String, OAuthSession>>,
    attestation: Mutex<Attestation>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sessions hold PKCE verifiers: show sizes only.
        f.debug_struct("MemoryStore")
            .field("certificates", &lock(&self.certificates).by_serial.len())
            .field("sessions", &lock(&self.sessions).len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CertificateStore for MemoryStore {
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>> {
        let now = Utc::now();
        Ok(lock(&self.certificates)
            .live(device_id, serial, now)
            .cloned())
    }

    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>> {
        let now = Utc::now();
        let certificates = lock(&self.certificates);
        let Some(serials) = certificates.by_device.get(device_id) else {
            return Ok(Vec::new());
        };
        Ok(serials
            .iter()
            .filter_map(|serial| certificates.live(device_id, serial, now))
            .cloned()
            .collect())
    }

    async fn issue(
        &self,
        new: &CertificateRecord,
        supersede: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = Utc::now();
        let mut certificates = lock(&self.certificates);
        // Check every condition before writing anything: all or nothing.
        // A record past its ttl is absent: its serial may be taken again.
        if certificates
            .by_serial
            .get(&new.serial)
            .is_some_and(|held| live_epoch(held.ttl, now))
        {
            return Err(StoreError::Conflict(
                "a certificate with this serial already exists".into(),
            ));
        }
        let superseded: BTreeSet<&String> = supersede.iter().collect();
        for serial in &superseded {
            if certificates
                .active_mut(&new.device_id, serial, now)
                .is_none()
            {
                return Err(StoreError::Conflict(
                    "a superseded certificate is no longer active".into(),
                ));
            }
        }
        // One active certificate per device: every active record must be among the superseded ones.
        let unnamed_active = certificates
            .by_device
            .get(&new.device_id)
            .into_iter()
            .flatten()
            .filter(|serial| !superseded.contains(serial))
            .filter_map(|serial| certificates.by_serial.get(serial))
            .any(|record| {
                record.device_id == new.device_id && !record.revoked && live_epoch(record.ttl, now)
            });
        if unnamed_active {
            return Err(StoreError::Conflict(
                "the device has an active certificate that is not superseded".into(),
            ));
        }
        for serial in superseded {
            if let Some(record) = certificates.active_mut(&new.device_id, serial, now) {
                record.revoked = true;
                record.revoked_at = Some(at);
                record.revocation_reason = Some(reason.to_owned());
            }
        }
        // Drop the expired holder of the serial, if any, from the device index too.
        if let Some(expired) = certificates.by_serial.remove(&new.serial)
            && let Some(serials) = certificates.by_device.get_mut(&expired.device_id)
        {
            serials.remove(&expired.serial);
        }
        certificates
            .by_device
            .entry(new.device_id.clone())
            .or_default()
            .insert(new.serial.clone());
        certificates
            .by_serial
            .insert(new.serial.clone(), new.clone());
        Ok(())
    }

    async fn revoke(
        &self,
        device_id: &str,
        serials: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let now = Utc::now();
        let mut certificates = lock(&self.certificates);
        let mut revoked = 0;
        for serial in serials {
            if let Some(record) = certificates.active_mut(device_id, serial, now) {
                record.revoked = true;
                record.revoked_at = Some(at);
                record.revocation_reason = Some(reason.to_owned());
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[async_trait]
impl OAuthSessionStore for MemoryStore {
    async fn create(&self, session: &OAuthSession) -> StoreResult<()> {
        let now = Utc::now();
        let mut sessions = lock(&self.sessions);
        // An expired session that storage still holds is absent, so its state may be reused.
        if sessions
            .get(&session.state)
            .is_some_and(|held| held.expires_at > now)
        {
            return Err(StoreError::Conflict(
                "the state token already exists".into(),
            ));
        }
        sessions.insert(session.state.clone(), session.clone());
        Ok(())
    }

    async fn peek(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let now = Utc::now();
        Ok(lock(&self.sessions)
            .get(state)
            .filter(|session| session.expires_at > now)
            .cloned())
    }

    async fn consume(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let now = Utc::now();
        Ok(lock(&self.sessions)
            .remove(state)
            .filter(|session| session.expires_at > now))
    }

    async fn delete(&self, state: &str) -> StoreResult<()> {
        lock(&self.sessions).remove(state);
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[async_trait]
impl AttestationStore for MemoryStore {
    async fn generation(&self) -> StoreResult<u64> {
        Ok(lock(&self.attestation).generation)
    }

    async fn bump_generation(&self) -> StoreResult<u64> {
        let mut attestation = lock(&self.attestation);
        attestation.generation += 1;
        Ok(attestation.generation)
    }

    async fn put_result(&self, record: &AttestationRecord, ttl: Duration) -> StoreResult<()> {
        // The item lives until verified_at + ttl.
        let expiry = record
            .verified_at
            .checked_add_signed(delta(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        lock(&self.attestation).results.insert(
            (record.platform, record.device_id.clone()),
            (record.clone(), expiry),
        );
        Ok(())
    }

    async fn get_result(
        &self,
        platform: Platform,
        device_id: &str,
    ) -> StoreResult<Option<AttestationRecord>> {
        let now = Utc::now();
        Ok(lock(&self.attestation)
            .results
            .get(&(platform, device_id.to_owned()))
            .filter(|(_, expiry)| *expiry > now)
            .map(|(record, _)| record.clone()))
    }

    async fn consume_result(
        &self,
        platform: Platform,
        device_id: &str,
        attestation_id: &str,
        generation: u64,
        max_age: Duration,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let mut attestation = lock(&self.attestation);
        let Some((record, expiry)) = attestation
            .results
            .get_mut(&(platform, device_id.to_owned()))
        else {
            return Ok(false);
        };
        if !consumable(record, *expiry, attestation_id, generation, max_age, now) {
            return Ok(false);
        }
        record.consumed = true;
        Ok(true)
    }

    async fn delete_results(&self, device_id: &str, platform: Option<Platform>) -> StoreResult<()> {
        let mut attestation = lock(&self.attestation);
        match platform {
            Some(platform) => {
                attestation
                    .results
                    .remove(&(platform, device_id.to_owned()));
            }
            None => {
                for platform in Platform::ALL {
                    attestation
                        .results
                        .remove(&(platform, device_id.to_owned()));
                }
            }
        }
        Ok(())
    }

    async fn record_evidence(
        &self,
        platform: Platform,
        sha256_hex: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let mut attestation = lock(&self.attestation);
        let key = (platform, sha256_hex.to_owned());
        if attestation
            .evidence
            .get(&key)
            .is_some_and(|expiry| *expiry > now)
        {
            return Ok(false);
        }
        let expiry = now
            .checked_add_signed(delta(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        attestation.evidence.insert(key, expiry);
        Ok(true)
    }

    async fn get_binding(&self, device_id: &str) -> StoreResult<Option<String>> {
        Ok(lock(&self.attestation).bindings.get(device_id).cloned())
    }

    async fn bind_if_absent(&self, device_id: &str, fingerprint: &str) -> StoreResult<String> {
        Ok(lock(&self.attestation)
            .bindings
            .entry(device_id.to_owned())
            .or_insert_with(|| fingerprint.to_owned())
            .clone())
    }

    async fn delete_binding(&self, device_id: &str) -> StoreResult<()> {
        lock(&self.attestation).bindings.remove(device_id);
        Ok(())
    }

    async fn increment_rate(&self, key: &str, window_end: DateTime<Utc>) -> StoreResult<u64> {
        let now = Utc::now();
        let expiry = window_end + TimeDelta::hours(1);
        let mut attestation = lock(&self.attestation);
        let counter = attestation
            .rates
            .entry(rate_key(key))
            .or_insert((0, expiry));
        if counter.1 <= now {
            *counter = (0, expiry);
        }
        counter.0 += 1;
        counter.1 = counter.1.max(expiry);
        Ok(counter.0)
    }
}

/// Whether `record` (expiring at `expiry`) may be consumed now by enrolment.
fn consumable(
    record: &AttestationRecord,
    expiry: DateTime<Utc>,
    attestation_id: &str,
    generation: u64,
    max_age: Duration,
    now: DateTime<Utc>,
) -> bool {
    let id_matches = record
        .attestation_id
        .as_deref()
        .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(attestation_id.as_bytes())));
    expiry > now
        && record.status == "valid"
        && !record.consumed
        && record.generation == generation
        && id_matches
        && now.signed_duration_since(record.verified_at) <= delta(max_age)
}

/// In-memory CA material and secret values for tests and benches.
#[derive(Default)]
pub struct MemorySecretStore {
    ca: Mutex<Option<CaMaterial>>,
    secrets: HashMap<String, SecretString>,
}

impl MemorySecretStore {
    /// A store without CA material and without secrets.
    pub fn new() -> MemorySecretStore {
        MemorySecretStore::default()
    }

    /// A store holding `material` as its CA.
    pub fn with_ca(material: CaMaterial) -> MemorySecretStore {
        MemorySecretStore {
            ca: Mutex::new(Some(material)),
            secrets: HashMap::new(),
        }
    }

    /// Adds a secret that [`SecretStore::resolve`] returns for `reference`.
    pub fn with_secret(
        mut self,
        reference: impl Into<String>,
        value: impl Into<String>,
    ) -> MemorySecretStore {
        self.secrets
            .insert(reference.into(), SecretString::from(value.into()));
        self
    }
}

impl std::fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySecretStore")
            .field("ca", &lock(&self.ca).is_some())
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn load_ca(&self) -> StoreResult<Option<CaMaterial>> {
        Ok(lock(&self.ca).clone())
    }

    async fn store_ca(&self, material: &CaMaterial) -> StoreResult<()> {
        *lock(&self.ca) = Some(material.clone());
        Ok(())
    }

    async fn resolve(&self, references: &[String]) -> StoreResult<Vec<SecretString>> {
        references
            .iter()
            .map(|reference| {
                self.secrets.get(reference).cloned().ok_or_else(|| {
                    StoreError::Internal(format!("secret reference {reference} was not found"))
                })
            })
            .collect()
    }
}

/// One stored blob.
struct Blob {
    bytes: Vec<u8>,
    content_type: String,
}

/// In-memory blob storage for tests and benches; versions are the lower-case hex SHA-256 of the bytes.
#[derive(Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<HashMap<String, Blob>>,
}

impl MemoryBlobStore {
    /// An empty blob store.
    pub fn new() -> MemoryBlobStore {
        MemoryBlobStore::default()
    }

    /// The content type the object under `key` was written with.
    pub fn content_type(&self, key: &str) -> Option<String> {
        lock(&self.blobs)
            .get(key)
            .map(|blob| blob.content_type.clone())
    }
}

impl std::fmt::Debug for MemoryBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBlobStore")
            .field("blobs", &lock(&self.blobs).len())
            .finish()
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> StoreResult<String> {
        let version = hex::encode(Sha256::digest(bytes));
        lock(&self.blobs).insert(
            key.to_owned(),
            Blob {
                bytes: bytes.to_vec(),
                content_type: content_type.to_owned(),
            },
        );
        Ok(version)
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(lock(&self.blobs).get(key).map(|blob| blob.bytes.clone()))
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        Ok(lock(&self.blobs).contains_key(key))
    }
}
