//! Device certificate lifecycle (SPEC §5.7, §5.9 steps 7–9, §6.5): enrol, renew, revoke and
//! client-certificate authentication, over the store traits and the lazily loaded CA.
//!
//! Persistence follows §5.7: a new record is inserted conditionally on its serial not existing and,
//! in the same atomic store call, every active record of the device is superseded conditionally on
//! still being active. A conditional write alone cannot stop two concurrent enrolments that listed
//! the device before either wrote from both succeeding, so every successful write is followed by a
//! settle step: among the device's active records the newest (issued_at, then serial) is kept and the
//! others are superseded — the loser revokes its own record and is retried or answered 409. This
//! converges on exactly one active certificate per device, also across processes. Authentication reads
//! one record by key (a strongly consistent point read; never a scan or index query).
//! This module knows nothing of HTTP; `http::device` maps [`DeviceError`] to problem documents.

use chrono::{DateTime, TimeDelta, Utc};

use crate::authority::CaUnavailable;
use crate::config::Platform;
use crate::cpu::CpuBusy;
use crate::pki::csr::{self, CsrError};
use crate::pki::profile::{self, IssuedCertificate, LeafSpec};
use crate::pki::verify::{self, Rejection};
use crate::state::AppState;
use crate::store::{CertificateRecord, StoreError};

/// Revocation reason of records replaced by a newer certificate.
pub const SUPERSEDED: &str = "superseded";
/// Revocation reason when the client gives none.
pub const MANUAL_REVOCATION: &str = "Manual revocation";

/// Why a lifecycle operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// 503 `ca_unavailable`.
    #[error("certificate authority unavailable: {0}")]
    CaUnavailable(#[from] CaUnavailable),
    /// 400 `invalid_csr`.
    #[error("invalid CSR: {0}")]
    Csr(#[from] CsrError),
    /// 403 `attestation_unavailable`: web enrolment while attestation is required.
    #[error("web enrolment is disabled while attestation is required")]
    AttestationUnavailable,
    /// 403 `attestation_required`.
    #[error("attestation required")]
    AttestationRequired,
    /// 403 `attestation_invalid`.
    #[error("attestation invalid")]
    AttestationInvalid,
    /// 409 `enrollment_conflict`; carries the device id.
    #[error("concurrent enrolment of {0} lost twice")]
    EnrollmentConflict(String),
    /// 409 `serial_mismatch`.
    #[error("old_serial does not match the presented certificate")]
    SerialMismatch,
    /// 409 `certificate_superseded`.
    #[error("the presented certificate is no longer active")]
    Superseded,
    /// 403: steps 2–6 of SPEC §5.9.
    #[error("certificate rejected: {0}")]
    Rejected(#[from] Rejection),
    /// 403 `certificate_unknown` (step 7); carries the serial text.
    #[error("certificate serial {0} is not registered")]
    Unknown(String),
    /// 403 `certificate_revoked` (step 8).
    #[error("certificate revoked")]
    Revoked,
    /// 403 `certificate_mismatch` (step 9).
    #[error("certificate does not match the registered one")]
    Mismatch,
    /// A store failure (503 or 500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else (500); the text is for the log only.
    #[error("{0}")]
    Internal(String),
    /// 503: the CPU-heavy work could not be scheduled (`MAX_CPU_JOBS` busy, queue full).
    #[error(transparent)]
    Busy(#[from] CpuBusy),
}

/// A device that presented a valid, registered, active certificate (SPEC §5.9).
#[derive(Debug, Clone)]
pub struct AuthenticatedDevice {
    /// The certificate's device id.
    pub device_id: String,
    /// The certificate's serial text.
    pub serial: String,
    /// The platform stored on the certificate's record.
    pub platform: Platform,
    /// The certificate's record, as read during authentication.
    pub record: CertificateRecord,
}

/// A certificate issued by enrolment or renewal, with the CA certificate to return alongside.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The new certificate.
    pub certificate: IssuedCertificate,
    /// The current CA certificate PEM.
    pub ca_certificate_pem: String,
}

/// Steps 2–9 of SPEC §5.9 for a decoded certificate `der`.
pub async fn authenticate(
    state: &AppState,
    der: &[u8],
    now: DateTime<Utc>,
) -> Result<AuthenticatedDevice, DeviceError> {
    let ca = state.ca.get().await?;
    // Signature and profile checks are CPU work: off the async workers.
    let presented = {
        let der = der.to_vec();
        state
            .cpu
            .run(move || verify::verify_presented(&ca, &der, now))
            .await??
    };
    let record = state
        .certificates
        .get(&presented.device_id, &presented.serial)
        .await?
        .ok_or_else(|| DeviceError::Unknown(presented.serial.clone()))?;
    if record.revoked {
        return Err(DeviceError::Revoked);
    }
    if !verify::matches_record(
        &presented,
        record.fingerprint_sha256.as_deref(),
        &record.certificate_pem,
    ) {
        return Err(DeviceError::Mismatch);
    }
    Ok(AuthenticatedDevice {
        device_id: presented.device_id,
        serial: presented.serial,
        platform: record.platform,
        record,
    })
}

/// An enrolment request that passed the field rules (SPEC §3.11).
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The device id.
    pub device_id: String,
    /// The platform.
    pub platform: Platform,
    /// The CSR PEM.
    pub csr: String,
    /// The attestation id, if given.
    pub attestation: Option<String>,
}

/// Enrols a device (SPEC §5.7): attestation policy, CSR semantics, consume the attestation, issue,
/// persist and supersede, with one retry on a lost condition.
pub async fn enroll(state: &AppState, request: &Enrollment) -> Result<Issued, DeviceError> {
    let attestation = &state.config.attestation;
    if attestation.enrollment_require_attestation {
        if request.platform == Platform::Web {
            return Err(DeviceError::AttestationUnavailable);
        }
        if request.attestation.as_deref().is_none_or(str::is_empty) {
            return Err(DeviceError::AttestationRequired);
        }
    }
    let csr = validate_csr(state, &request.csr).await?;
    let ca = state.ca.get().await?;
    if attestation.enrollment_require_attestation {
        let id = request.attestation.as_deref().unwrap_or_default();
        let generation = state.attestations.generation().await?;
        let consumed = state
            .attestations
            .consume_result(
                request.platform,
                &request.device_id,
                id,
                generation,
                attestation.enrollment_max_age,
            )
            .await?;
        if !consumed {
            return Err(DeviceError::AttestationInvalid);
        }
    }
    let validity_days = state.config.pki.validity_days(request.platform);
    for attempt in 0..2 {
        let active = active_serials(state, &request.device_id).await?;
        let now = Utc::now();
        let certificate = sign(
            state,
            &ca,
            &request.device_id,
            &csr.spki_der,
            now,
            validity_days,
        )
        .await?;
        let record = new_record(state, &request.device_id, request.platform, &certificate);
        match state
            .certificates
            .issue(&record, &active, SUPERSEDED, now)
            .await
        {
            Ok(()) => {
                if settle(state, &record).await? {
                    tracing::info!(
                        device_id = %request.device_id,
                        serial = %certificate.serial,
                        superseded = active.len(),
                        "device enrolled"
                    );
                    return Ok(Issued {
                        certificate,
                        ca_certificate_pem: ca.current().pem().to_owned(),
                    });
                }
            }
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        tracing::info!(device_id = %request.device_id, attempt, "concurrent enrolment; retrying");
    }
    Err(DeviceError::EnrollmentConflict(request.device_id.clone()))
}

/// Renews the authenticated device's certificate (SPEC §5.7): the presented certificate and any other
/// active record are superseded; the new certificate is usable at once.
pub async fn renew(
    state: &AppState,
    device: &AuthenticatedDevice,
    old_serial: &str,
    csr_pem: &str,
) -> Result<Issued, DeviceError> {
    if !crate::pki::same_serial(old_serial, &device.serial) {
        return Err(DeviceError::SerialMismatch);
    }
    let csr = validate_csr(state, csr_pem).await?;
    let ca = state.ca.get().await?;
    let mut supersede = active_serials(state, &device.device_id).await?;
    if !supersede.contains(&device.serial) {
        supersede.push(device.serial.clone());
    }
    let now = Utc::now();
    let validity_days = state.config.pki.validity_days(device.platform);
    let certificate = sign(
        state,
        &ca,
        &device.device_id,
        &csr.spki_der,
        now,
        validity_days,
    )
    .await?;
    let record = new_record(state, &device.device_id, device.platform, &certificate);
    match state
        .certificates
        .issue(&record, &supersede, SUPERSEDED, now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(DeviceError::Superseded),
        Err(err) => return Err(err.into()),
    }
    if !settle(state, &record).await? {
        return Err(DeviceError::Superseded);
    }
    tracing::info!(
        device_id = %device.device_id,
        old_serial = %device.serial,
        serial = %certificate.serial,
        "device certificate renewed"
    );
    Ok(Issued {
        certificate,
        ca_certificate_pem: ca.current().pem().to_owned(),
    })
}

/// Revokes every active record of `device_id` (SPEC §5.7); returns whether anything was revoked.
pub async fn revoke(
    state: &AppState,
    device_id: &str,
    reason: Option<&str>,
) -> Result<bool, DeviceError> {
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(MANUAL_REVOCATION);
    let active = active_serials(state, device_id).await?;
    if active.is_empty() {
        return Ok(false);
    }
    let revoked = state
        .certificates
        .revoke(device_id, &active, reason, Utc::now())
        .await?;
    if revoked > 0 {
        tracing::info!(device_id = %device_id, revoked, "device certificates revoked");
    }
    Ok(revoked > 0)
}

/// Whole days until `expires_at`, floored (negative once expired), SPEC §3.14.
pub fn days_until_expiry(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (expires_at - now).num_seconds().div_euclid(86_400)
}

/// CSR semantics (SPEC §5.4), in the CPU pool: the self-signature check is the costly part.
async fn validate_csr(state: &AppState, pem: &str) -> Result<csr::ValidatedCsr, DeviceError> {
    let pem = pem.to_owned();
    Ok(state.cpu.run(move || csr::validate(&pem)).await??)
}

/// Issues the device certificate, in the CPU pool: signing is the costly part.
async fn sign(
    state: &AppState,
    ca: &std::sync::Arc<crate::pki::CertificateAuthority>,
    device_id: &str,
    spki_der: &[u8],
    now: DateTime<Utc>,
    validity_days: u32,
) -> Result<IssuedCertificate, DeviceError> {
    let (ca, device_id, spki_der) = (ca.clone(), device_id.to_owned(), spki_der.to_vec());
    let span = tracing::info_span!("ca.sign");
    // The job enters a clone; the last handle is dropped here, on the request's thread, so the span
    // closes (and releases its parent) under the request's subscriber.
    let in_job = span.clone();
    let signed = state
        .cpu
        .run(move || {
            let _entered = in_job.enter();
            let spec = LeafSpec::profile(&device_id, &spki_der, now, validity_days);
            profile::issue(&ca, &spec).map_err(DeviceError::Internal)
        })
        .await?;
    drop(span);
    signed
}

fn new_record(
    state: &AppState,
    device_id: &str,
    platform: Platform,
    certificate: &IssuedCertificate,
) -> CertificateRecord {
    let retention = TimeDelta::days(i64::from(state.config.pki.record_retention_days));
    CertificateRecord {
        device_id: device_id.to_owned(),
        serial: certificate.serial.clone(),
        platform,
        issued_at: certificate.issued_at,
        expires_at: certificate.expires_at,
        certificate_pem: certificate.pem.clone(),
        fingerprint_sha256: Some(certificate.fingerprint_sha256.clone()),
        revoked: false,
        revoked_at: None,
        revocation_reason: None,
        ttl: (certificate.expires_at + retention).timestamp(),
    }
}

async fn active_serials(state: &AppState, device_id: &str) -> Result<Vec<String>, DeviceError> {
    Ok(state
        .certificates
        .list_for_device(device_id)
        .await?
        .into_iter()
        .filter(|r| !r.revoked)
        .map(|r| r.serial)
        .collect())
}

/// After a successful write of `ours`: keeps the newest active record of the device and supersedes the
/// others. Returns whether `ours` is the one kept (when not, it has been revoked).
async fn settle(state: &AppState, ours: &CertificateRecord) -> Result<bool, DeviceError> {
    let records = state.certificates.list_for_device(&ours.device_id).await?;
    let active: Vec<&CertificateRecord> = records.iter().filter(|r| !r.revoked).collect();
    let Some(winner) = active
        .iter()
        .max_by(|a, b| (a.issued_at, &a.serial).cmp(&(b.issued_at, &b.serial)))
    else {
        // Someone superseded ours after it was written: a newer enrolment won.
        return Ok(false);
    };
    let now = Utc::now();
    if winner.serial == ours.serial {
        let others: Vec<String> = active
            .iter()
            .filter(|r| r.serial != ours.serial)
            .map(|r| r.serial.clone())
            .collect();
        if !others.is_empty() {
            state
                .certificates
                .revoke(&ours.device_id, &others, SUPERSEDED, now)
                .await?;
        }
        Ok(true)
    } else {
        state
            .certificates
            .revoke(
                &ours.device_id,
                std::slice::from_ref(&ours.serial),
                SUPERSEDED,
                now,
            )
            .await?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_until_expiry_floors_and_goes_negative() {
        let now = Utc::now();
        assert_eq!(
            days_until_expiry(now + TimeDelta::days(29) + TimeDelta::hours(23), now),
            29
        );
        assert_eq!(
            days_until_expiry(now - TimeDelta::days(3) - TimeDelta::seconds(5), now),
            -4
        );
        assert_eq!(days_until_expiry(now, now), 0);
    }
}
