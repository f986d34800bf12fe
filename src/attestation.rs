//! Device attestation: Android Play Integrity, iOS App Attest and desktop fingerprint binding.
//!
//! The submodules verify evidence and are pure (no I/O, no clock of their own): [`play_integrity`]
//! decrypts and checks verdict tokens, [`app_attest`] checks attestation objects against the embedded
//! Apple root, [`desktop`] holds the rate-window arithmetic. This module runs the flows that touch
//! storage — replay records, results with their attestation ids, bindings and rate counters — through
//! the [`AttestationStore`] trait, and reports outcomes as [`AttestationError`] for the HTTP layer. It
//! knows nothing of HTTP.

pub mod app_attest;
pub mod desktop;
pub mod play_integrity;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, GeneralPurpose as Engine};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use crate::config::{AttestationConfig, Platform};
use crate::state::AppState;
use crate::store::timestamp;
use crate::store::{AttestationRecord, AttestationStore, StoreError};

/// The four outcomes of a verification, as written in bodies and stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Evidence verified and every check passed.
    Valid,
    /// Evidence verified but a check failed; carries an advice code.
    Invalid,
    /// Evidence could not be decoded or cryptographically verified.
    Failed,
}

impl Status {
    /// `valid`, `invalid` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
        }
    }
}

/// Why a verification did not pass: the fixed `failed` message or the `invalid` advice code of
/// each platform. Never raw library text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `failed` with its fixed message, e.g. `token decryption failed`.
    Failed(&'static str),
    /// `invalid` with its advice code, e.g. `NONCE_MISMATCH`.
    Invalid(&'static str),
}

/// What an attestation request ends with when it is not `valid`.
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    /// 400: `invalid` or `failed`, with the problem extensions `attestation_status` and `advice`.
    #[error("attestation {}: {}", .status.as_str(), .advice.unwrap_or("no advice"))]
    Rejected {
        /// `invalid` or `failed`.
        status: Status,
        /// The advice code (`None` for `failed`).
        advice: Option<&'static str>,
        /// The problem detail.
        detail: String,
        /// `fingerprint_match`, desktop only.
        fingerprint_match: Option<bool>,
    },
    /// 429: the desktop rate limit; retry after this many seconds.
    #[error("desktop attestation rate limit reached")]
    RateLimited {
        /// Seconds to the next UTC clock hour (at least 1).
        retry_after: u64,
    },
    /// 503 or 500 from storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 503: the verification could not be scheduled (`MAX_CPU_JOBS` busy, queue full).
    #[error(transparent)]
    Busy(#[from] crate::cpu::CpuBusy),
}

/// Verifiers built once from the configuration: `None` for a platform that is not configured (501).
#[derive(Debug, Clone)]
pub struct Verifiers {
    /// Play Integrity.
    pub play_integrity: Option<play_integrity::PlayIntegrity>,
    /// App Attest.
    pub app_attest: Option<app_attest::AppAttest>,
    /// Whether desktop attestation is enabled.
    pub desktop_enabled: bool,
}

impl Verifiers {
    /// Builds the verifiers of the configured platforms. Key material was validated with the
    /// configuration (including resolved secret references), so a key that still does not
    /// parse leaves its platform unconfigured and is logged once at ERROR.
    pub fn new(config: &AttestationConfig) -> Verifiers {
        let play_integrity = config.play_integrity.as_ref().and_then(|play| {
            play_integrity::PlayIntegrity::new(play)
                .inspect_err(|problem| {
                    tracing::error!(
                        problem,
                        "Play Integrity keys are unusable; Android attestation is off"
                    );
                })
                .ok()
        });
        Verifiers {
            play_integrity,
            app_attest: config.app_attest.as_ref().map(app_attest::AppAttest::new),
            desktop_enabled: config.desktop_enabled,
        }
    }
}

/// Base64 that accepts the standard and the URL-safe alphabets, with or without padding.
pub fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = Engine::new(&alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = Engine::new(&alphabet::URL_SAFE, CONFIG);
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

/// A fresh attestation id: 32 CSPRNG bytes, base64url without padding.
fn new_attestation_id() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An Android attestation request.
#[derive(Debug, Clone)]
pub struct AndroidEvidence {
    /// The encrypted verdict token (JWE compact).
    pub integrity_token: String,
    /// The device being attested.
    pub device_id: String,
    /// The nonce the app passed to the integrity request.
    pub nonce: String,
}

/// An iOS attestation request.
#[derive(Debug, Clone)]
pub struct IosEvidence {
    /// Base64 of the CBOR attestation object.
    pub attestation_object: String,
    /// Base64 of the 32-byte key identifier.
    pub key_id: String,
    /// The challenge the app passed to the attestation call.
    pub challenge: String,
    /// The device being attested.
    pub device_id: String,
}

/// A desktop attestation request; `platform_details` is neither kept nor logged.
#[derive(Debug, Clone)]
pub struct DesktopEvidence {
    /// The device being attested.
    pub device_id: String,
    /// 64 lower-case hex digits.
    pub fingerprint: String,
}

/// Verifies a Play Integrity token and stores the result; the 200 body on `valid`.
pub async fn attest_android(
    state: &AppState,
    verifier: &play_integrity::PlayIntegrity,
    evidence: &AndroidEvidence,
) -> Result<Map<String, Value>, AttestationError> {
    let span = tracing::info_span!("attest.android", device_id = %evidence.device_id);
    async {
        let now = Utc::now();
        // Decryption and signature checks are CPU work: off the async workers.
        let checked = {
            let (verifier, token, nonce) = (
                verifier.clone(),
                evidence.integrity_token.clone(),
                evidence.nonce.clone(),
            );
            state
                .cpu
                .run(move || verifier.verify(&token, &nonce, now))
                .await?
        };
        let verdict = match checked {
            Ok(verdict) => verdict,
            Err(rejection) => {
                return reject(
                    state,
                    Platform::Android,
                    &evidence.device_id,
                    now,
                    rejection,
                    android_detail,
                )
                .await;
            }
        };
        // Step 8: replay, then the verdict checks of steps 9-10.
        let digest = hex::encode(Sha256::digest(evidence.integrity_token.as_bytes()));
        let outcome = if first_seen(state, Platform::Android, &digest).await? {
            verifier.check_verdicts(&verdict)
        } else {
            Err(Rejection::Invalid(EVIDENCE_REUSED))
        };
        if let Err(rejection) = outcome {
            return reject(
                state,
                Platform::Android,
                &evidence.device_id,
                now,
                rejection,
                android_detail,
            )
            .await;
        }
        let mut body = body_head(Status::Valid, &evidence.device_id, now);
        body.insert(
            "cts_profile_match".into(),
            verdict.has_device_verdict("MEETS_DEVICE_INTEGRITY").into(),
        );
        body.insert(
            "basic_integrity".into(),
            verdict.has_device_verdict("MEETS_BASIC_INTEGRITY").into(),
        );
        body.insert("advice".into(), Value::Null);
        body.insert("error_message".into(), Value::Null);
        body.insert("attestation_id".into(), Value::Null);
        body.insert(
            "device_recognition_verdict".into(),
            verdict.device_recognition_verdict().into(),
        );
        body.insert(
            "app_recognition_verdict".into(),
            verdict
                .app_recognition_verdict()
                .map_or(Value::Null, Value::from),
        );
        accept(state, Platform::Android, &evidence.device_id, now, body).await
    }
    .instrument(span)
    .await
}

/// Verifies an App Attest attestation object and stores the result; the 200 body on `valid`.
pub async fn attest_ios(
    state: &AppState,
    verifier: &app_attest::AppAttest,
    evidence: &IosEvidence,
) -> Result<Map<String, Value>, AttestationError> {
    let span = tracing::info_span!("attest.ios", device_id = %evidence.device_id);
    async {
        let now = Utc::now();
        let object = decode_base64_lenient(evidence.attestation_object.trim());
        let checked = match &object {
            // Certificate chain and signature checks are CPU work: off the async workers.
            Some(bytes) => {
                let (verifier, bytes) = (verifier.clone(), bytes.clone());
                let (key_id, challenge) = (evidence.key_id.clone(), evidence.challenge.clone());
                state
                    .cpu
                    .run(move || verifier.verify(&bytes, &key_id, &challenge, now))
                    .await?
            }
            None => Err(Rejection::Failed(app_attest::MALFORMED)),
        };
        if let Err(rejection) = checked {
            return reject(
                state,
                Platform::Ios,
                &evidence.device_id,
                now,
                rejection,
                ios_detail,
            )
            .await;
        }
        // Step 9: replay, keyed by the decoded object so another base64 spelling is the same evidence.
        let digest = hex::encode(Sha256::digest(object.unwrap_or_default()));
        if !first_seen(state, Platform::Ios, &digest).await? {
            let rejection = Rejection::Invalid(EVIDENCE_REUSED);
            return reject(
                state,
                Platform::Ios,
                &evidence.device_id,
                now,
                rejection,
                ios_detail,
            )
            .await;
        }
        let mut body = body_head(Status::Valid, &evidence.device_id, now);
        body.insert("integrity_verified".into(), true.into());
        body.insert("error_message".into(), Value::Null);
        body.insert("attestation_id".into(), Value::Null);
        body.insert("key_id".into(), evidence.key_id.clone().into());
        accept(state, Platform::Ios, &evidence.device_id, now, body).await
    }
    .instrument(span)
    .await
}

/// Rate-limits, then binds or compares the desktop fingerprint; the 200 body on `valid`.
pub async fn attest_desktop(
    state: &AppState,
    evidence: &DesktopEvidence,
) -> Result<Map<String, Value>, AttestationError> {
    let span = tracing::info_span!("attest.desktop", device_id = %evidence.device_id);
    async {
        let now = Utc::now();
        let window = desktop::RateWindow::containing(now);
        let count = state
            .attestations
            .increment_rate(&window.key(&evidence.device_id), window.end)
            .await?;
        if count > u64::from(state.config.attestation.desktop_max_per_hour) {
            tracing::warn!(device_id = %evidence.device_id, "desktop attestation rate limit reached");
            return Err(AttestationError::RateLimited {
                retry_after: window.retry_after(now),
            });
        }
        let bound = state
            .attestations
            .bind_if_absent(&evidence.device_id, &evidence.fingerprint)
            .await?;
        if bound != evidence.fingerprint {
            let body = desktop_body(Status::Invalid, &evidence.device_id, now);
            store(state, Platform::Desktop, &evidence.device_id, now, Status::Invalid, None, body)
                .await?;
            tracing::info!(device_id = %evidence.device_id, advice = desktop::FINGERPRINT_MISMATCH, "desktop attestation invalid");
            return Err(AttestationError::Rejected {
                status: Status::Invalid,
                advice: Some(desktop::FINGERPRINT_MISMATCH),
                detail: desktop::MISMATCH_DETAIL.into(),
                fingerprint_match: Some(false),
            });
        }
        let body = desktop_body(Status::Valid, &evidence.device_id, now);
        accept(state, Platform::Desktop, &evidence.device_id, now, body).await
    }
    .instrument(span)
    .await
}

/// What `POST /device/attest/clear-cache` clears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearScope {
    /// Everything stored so far: the generation is bumped (O(1), no scan).
    All,
    /// One device, every platform, and its desktop binding.
    Device(String),
    /// One device and platform (and the binding when desktop).
    DevicePlatform(String, Platform),
}

/// Clears stored attestation state.
pub async fn clear(state: &AppState, scope: &ClearScope) -> Result<(), StoreError> {
    let store: &dyn AttestationStore = state.attestations.as_ref();
    match scope {
        ClearScope::All => {
            let generation = store.bump_generation().await?;
            tracing::info!(generation, "attestation cache cleared");
        }
        ClearScope::Device(device_id) => {
            store.delete_results(device_id, None).await?;
            store.delete_binding(device_id).await?;
            tracing::info!(device_id = %device_id, "attestation results of the device cleared");
        }
        ClearScope::DevicePlatform(device_id, platform) => {
            store.delete_results(device_id, Some(*platform)).await?;
            if *platform == Platform::Desktop {
                store.delete_binding(device_id).await?;
            }
            tracing::info!(device_id = %device_id, platform = platform.as_str(), "attestation result of the device cleared");
        }
    }
    Ok(())
}

/// The first members of every body: `status`, `device_id`, `timestamp` (the verification time).
fn body_head(status: Status, device_id: &str, now: DateTime<Utc>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("status".into(), status.as_str().into());
    body.insert("device_id".into(), device_id.into());
    body.insert("timestamp".into(), timestamp::format(now).into());
    body
}

/// The desktop body: `valid` when the fingerprint matched the binding, else `invalid`.
fn desktop_body(status: Status, device_id: &str, now: DateTime<Utc>) -> Map<String, Value> {
    let matched = status == Status::Valid;
    let mut body = body_head(status, device_id, now);
    body.insert("fingerprint_match".into(), matched.into());
    body.insert("rate_limit_ok".into(), true.into());
    let error = (!matched).then_some(desktop::MISMATCH_DETAIL);
    body.insert(
        "error_message".into(),
        error.map_or(Value::Null, Value::from),
    );
    body.insert("attestation_id".into(), Value::Null);
    body
}

/// Advice when the same evidence is submitted again.
pub const EVIDENCE_REUSED: &str = "EVIDENCE_REUSED";

fn android_detail(rejection: Rejection) -> String {
    match rejection {
        Rejection::Failed(message) => format!("Play Integrity verification failed: {message}"),
        Rejection::Invalid(advice) => format!("Device failed integrity check: {advice}"),
    }
}

fn ios_detail(rejection: Rejection) -> String {
    match rejection {
        Rejection::Failed(message) => format!("App Attest verification failed: {message}"),
        Rejection::Invalid(advice) => format!("Device failed integrity check: {advice}"),
    }
}

/// Records the evidence digest; whether it was new, so the same evidence submitted again is
/// refused as a replay.
async fn first_seen(
    state: &AppState,
    platform: Platform,
    digest: &str,
) -> Result<bool, StoreError> {
    let ttl = state.config.attestation.cache_ttl;
    state
        .attestations
        .record_evidence(platform, digest, ttl)
        .await
}

/// Ends a verification that did not pass: an `invalid` result is stored (a `failed` one never is, so
/// undecodable submissions cannot displace a stored result), and the 400 is returned.
async fn reject(
    state: &AppState,
    platform: Platform,
    device_id: &str,
    now: DateTime<Utc>,
    rejection: Rejection,
    detail: fn(Rejection) -> String,
) -> Result<Map<String, Value>, AttestationError> {
    let detail = detail(rejection);
    let (status, advice) = match rejection {
        Rejection::Failed(_) => (Status::Failed, None),
        Rejection::Invalid(advice) => (Status::Invalid, Some(advice)),
    };
    if status == Status::Invalid {
        let mut body = body_head(status, device_id, now);
        body.insert("advice".into(), advice.map_or(Value::Null, Value::from));
        body.insert("error_message".into(), detail.clone().into());
        body.insert("attestation_id".into(), Value::Null);
        store(state, platform, device_id, now, status, None, body).await?;
    }
    tracing::info!(
        device_id = %device_id,
        platform = platform.as_str(),
        status = status.as_str(),
        advice = advice.unwrap_or(""),
        "attestation not valid"
    );
    Err(AttestationError::Rejected {
        status,
        advice,
        detail,
        fingerprint_match: None,
    })
}

/// Ends a `valid` verification: a fresh attestation id goes into the body and the stored result.
async fn accept(
    state: &AppState,
    platform: Platform,
    device_id: &str,
    now: DateTime<Utc>,
    mut body: Map<String, Value>,
) -> Result<Map<String, Value>, AttestationError> {
    let id = new_attestation_id();
    body.insert("attestation_id".into(), id.clone().into());
    store(
        state,
        platform,
        device_id,
        now,
        Status::Valid,
        Some(id),
        body.clone(),
    )
    .await?;
    tracing::info!(device_id = %device_id, platform = platform.as_str(), "attestation valid");
    Ok(body)
}

/// Stores the latest result of (platform, device) under the current generation.
async fn store(
    state: &AppState,
    platform: Platform,
    device_id: &str,
    now: DateTime<Utc>,
    status: Status,
    attestation_id: Option<String>,
    response: Map<String, Value>,
) -> Result<(), StoreError> {
    let generation = state.attestations.generation().await?;
    let record = AttestationRecord {
        platform,
        device_id: device_id.to_owned(),
        status: status.as_str().to_owned(),
        attestation_id,
        verified_at: now,
        generation,
        consumed: false,
        response: Value::Object(response),
    };
    state
        .attestations
        .put_result(&record, state.config.attestation.cache_ttl)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_accepts_both_alphabets_with_and_without_padding() {
        let bytes = [0xfb_u8, 0xff, 0xbf, 0x01];
        for text in ["+/+/AQ==", "+/+/AQ", "-_-_AQ==", "-_-_AQ"] {
            assert_eq!(
                decode_base64_lenient(text).as_deref(),
                Some(&bytes[..]),
                "{text}"
            );
        }
        assert_eq!(decode_base64_lenient("not base64!"), None);
    }

    #[test]
    fn attestation_ids_are_43_base64url_characters_and_fresh() {
        let a = new_attestation_id();
        let b = new_attestation_id();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
