//! Shared test set-up: configuration from a map, apps on SQLite or in memory, a store whose readiness
//! ping can be made slow, failing or panicking, and request helpers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use apuntador::AppState;
use apuntador::config::Config;
use apuntador::store::memory::{MemoryBlobStore, MemorySecretStore, MemoryStore};
use apuntador::store::{
    CertificateRecord, CertificateStore, OAuthSession, OAuthSessionStore, StoreError, StoreResult,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A valid production-strength config key used by the tests.
pub const CONFIG_KEY: &str = "test-config-key-0123456789abcdef0123456789";

/// A configuration from defaults plus `overrides`.
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::from([
        ("CONFIG_API_KEY".to_owned(), CONFIG_KEY.to_owned()),
        ("LOG_LEVEL".to_owned(), "error".to_owned()),
    ]);
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|name| env.get(name).cloned()).expect("test configuration is valid")
}

/// How the [`FaultyStore`]'s readiness ping behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Ping {
    /// Answers at once.
    Ok = 0,
    /// Sleeps 1.5 s, then answers (a slow but healthy request).
    Slow = 1,
    /// Fails as unavailable.
    Fail = 2,
    /// Panics inside the handler.
    Panic = 3,
}

/// A memory store whose `ping` misbehaves on demand; every other operation is the memory store's.
#[derive(Default)]
pub struct FaultyStore {
    inner: MemoryStore,
    mode: AtomicU8,
}

impl FaultyStore {
    /// Sets the ping behaviour.
    pub fn set(&self, ping: Ping) {
        self.mode.store(ping as u8, Ordering::SeqCst);
    }

    async fn ping_as_configured(&self) -> StoreResult<()> {
        match self.mode.load(Ordering::SeqCst) {
            1 => {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Ok(())
            }
            2 => Err(StoreError::Unavailable("simulated outage".into())),
            3 => panic!("simulated handler panic"),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl CertificateStore for FaultyStore {
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>> {
        self.inner.get(device_id, serial).await
    }
    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>> {
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
        self.ping_as_configured().await
    }
}

#[async_trait]
impl OAuthSessionStore for FaultyStore {
    async fn create(&self, session: &OAuthSession) -> StoreResult<()> {
        self.inner.create(session).await
    }
    async fn peek(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        self.inner.peek(state).await
    }
    async fn consume(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        self.inner.consume(state).await
    }
    async fn delete(&self, state: &str) -> StoreResult<()> {
        self.inner.delete(state).await
    }
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Fresh development CA material (EC P-256), as the local development mode creates it.
pub fn dev_ca() -> apuntador::store::CaMaterial {
    apuntador::authority::development_material(Utc::now()).expect("development CA")
}

/// A state whose certificate store is a [`FaultyStore`] (returned for control).
pub fn faulty_state(config: Config) -> (AppState, Arc<FaultyStore>) {
    let faulty = Arc::new(FaultyStore::default());
    let mem = Arc::new(MemoryStore::new());
    let state = AppState::from_parts(
        config,
        faulty.clone(),
        faulty.clone(),
        mem,
        Arc::new(MemorySecretStore::with_ca(dev_ca())),
        Arc::new(MemoryBlobStore::new()),
    );
    (state, faulty)
}

#[path = "../support/in_process.rs"]
mod in_process;
pub use in_process::{Answer, send};

/// (status, attestation_status, advice, detail) of an attestation answer.
pub type AttestationOutcome = (u16, serde_json::Value, serde_json::Value, String);

/// The [`AttestationOutcome`] of an answer.
pub fn attestation_outcome(answer: &Answer) -> AttestationOutcome {
    let body = answer.json();
    let member = |name: &str| body.get(name).cloned().unwrap_or(serde_json::Value::Null);
    (
        answer.status,
        member("attestation_status"),
        member("advice"),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The 400 of a `failed` verification: `<prefix>: <message>`, null advice.
pub fn attestation_failed(prefix: &str, message: &str) -> AttestationOutcome {
    let detail = format!("{prefix}: {message}");
    (400, "failed".into(), serde_json::Value::Null, detail)
}

/// The 400 of an `invalid` verification with `advice`.
pub fn attestation_invalid(advice: &str) -> AttestationOutcome {
    let detail = format!("Device failed integrity check: {advice}");
    (400, "invalid".into(), advice.into(), detail)
}

/// A raw HTTP/1.1 GET over a fresh TCP connection; `None` when the connection is refused or reset.
pub async fn tcp_get(addr: std::net::SocketAddr, path: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

pub use crate::log_capture::reliable_log_capture;
