//! Device certificate lifecycle: enrol (with its attestation policy), renew, revoke, the
//! administrator's revocation of a lost device, and client-certificate authentication, over the store
//! traits and the lazily loaded CA.
//!
//! A device has at most one active certificate, at every instant and across crashes. Every issuance
//! is one atomic store write ([`crate::store::CertificateStore::issue`]): the new record is inserted
//! and every active record of the device superseded, conditional on the caller having named exactly
//! the device's active records. Two writers that listed the same state cannot both commit; the loser
//! writes nothing and is retried (enrolment) or answered 409 (renewal). There is no repair step after
//! the write. Enrolment of a device that still has an active, unexpired certificate is refused (409
//! `device_already_enrolled`) unless `ENROLLMENT_REPLACE_ACTIVE=true` restores the old behaviour of
//! superseding it. Authentication reads one record by key (a strongly consistent point read; never a
//! scan or index query). This module knows nothing of HTTP; `http::device` and `http::admin` map
//! [`DeviceError`] to problem documents.

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
    /// 409 `device_already_enrolled`: the device has an active, unexpired certificate; carries the
    /// device id.
    #[error("device {0} already has an active certificate")]
    AlreadyEnrolled(String),
    /// 404 `device_not_found`: the device has no certificate record; carries the device id.
    #[error("device {0} has no certificate record")]
    DeviceNotFound(String),
    /// 409 `serial_mismatch`.
    #[error("old_serial does not match the presented certificate")]
    SerialMismatch,
    /// 409 `certificate_superseded`.
    #[error("the presented certificate is no longer active")]
    Superseded,
    /// 403: one of steps 2–6 of [`crate::pki::verify`] failed.
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

/// A device that presented a valid, registered, active certificate.
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

/// Steps 2–9 of [`crate::pki::verify`] for a decoded certificate `der`: the checks that need no
/// storage, then one point read of the record (registered, not revoked, same fingerprint).
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

/// An enrolment request that passed the field rules.
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

/// Enrols a device: attestation policy, CSR semantics, the re-enrolment policy, consume
/// the attestation, issue, and persist-and-supersede as one atomic write, with one retry on a lost
/// condition.
///
/// While the device has an active certificate that has not expired (within the verification leeway,
/// so one that still authenticates), enrolment is refused with [`DeviceError::AlreadyEnrolled`] before
/// anything is written — the attestation is not consumed — unless `ENROLLMENT_REPLACE_ACTIVE=true`.
/// Revoked records are ignored; active but expired ones are superseded by the new certificate.
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
    let replace_active = attestation.enrollment_replace_active;
    let mut active = enrolment_view(state, &request.device_id, replace_active).await?;
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
        if attempt > 0 {
            // The device changed since it was listed: decide again on the new state.
            active = enrolment_view(state, &request.device_id, replace_active).await?;
        }
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
        let serials: Vec<String> = active.iter().map(|r| r.serial.clone()).collect();
        match state
            .certificates
            .issue(&record, &serials, SUPERSEDED, now)
            .await
        {
            Ok(()) => {
                tracing::info!(
                    device_id = %request.device_id,
                    serial = %certificate.serial,
                    superseded = serials.len(),
                    "device enrolled"
                );
                return Ok(Issued {
                    certificate,
                    ca_certificate_pem: ca.current().pem().to_owned(),
                });
            }
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        tracing::info!(device_id = %request.device_id, attempt, "concurrent enrolment; retrying");
    }
    Err(DeviceError::EnrollmentConflict(request.device_id.clone()))
}

/// The device's active records, after applying the re-enrolment policy: with `replace_active` unset,
/// an active record that still authenticates refuses the enrolment.
async fn enrolment_view(
    state: &AppState,
    device_id: &str,
    replace_active: bool,
) -> Result<Vec<CertificateRecord>, DeviceError> {
    let active = active_records(state, device_id).await?;
    let now = Utc::now();
    let leeway = TimeDelta::seconds(verify::LEEWAY_SECONDS);
    if !replace_active && active.iter().any(|r| now <= r.expires_at + leeway) {
        return Err(DeviceError::AlreadyEnrolled(device_id.to_owned()));
    }
    Ok(active)
}

/// Renews the authenticated device's certificate: the presented certificate — which must
/// still be the device's active one — is superseded in the same atomic write that stores the new one;
/// the new certificate is usable at once. A lost race is [`DeviceError::Superseded`], nothing written.
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
    let supersede: Vec<String> = active_records(state, &device.device_id)
        .await?
        .into_iter()
        .map(|r| r.serial)
        .collect();
    if !supersede.contains(&device.serial) {
        // Superseded or revoked since it was authenticated.
        return Err(DeviceError::Superseded);
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

/// Revokes every active record of `device_id`; returns whether anything was revoked.
pub async fn revoke(
    state: &AppState,
    device_id: &str,
    reason: Option<&str>,
) -> Result<bool, DeviceError> {
    let reason = revocation_reason(reason);
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

/// An administrator revokes every active record of a lost device, so that it can enrol again; returns
/// how many records were revoked (0 when none was active). [`DeviceError::DeviceNotFound`] when the
/// device has no record at all.
pub async fn revoke_by_admin(
    state: &AppState,
    device_id: &str,
    reason: Option<&str>,
) -> Result<usize, DeviceError> {
    let reason = revocation_reason(reason);
    let records = state.certificates.list_for_device(device_id).await?;
    if records.is_empty() {
        return Err(DeviceError::DeviceNotFound(device_id.to_owned()));
    }
    let active: Vec<String> = records
        .into_iter()
        .filter(|r| !r.revoked)
        .map(|r| r.serial)
        .collect();
    let revoked = if active.is_empty() {
        0
    } else {
        state
            .certificates
            .revoke(device_id, &active, reason, Utc::now())
            .await?
    };
    tracing::info!(
        device_id = %device_id,
        revoked,
        "device certificates revoked by an administrator"
    );
    Ok(revoked)
}

/// The trimmed `reason`, or `Manual revocation` when absent or blank.
fn revocation_reason(reason: Option<&str>) -> &str {
    reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(MANUAL_REVOCATION)
}

/// Whole days until `expires_at`, floored (negative once expired).
pub fn days_until_expiry(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (expires_at - now).num_seconds().div_euclid(86_400)
}

/// CSR semantics, in the CPU pool: the self-signature check is the costly part.
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

/// The device's active records: not revoked (records past their `ttl` are absent already).
async fn active_records(
    state: &AppState,
    device_id: &str,
) -> Result<Vec<CertificateRecord>, DeviceError> {
    Ok(state
        .certificates
        .list_for_device(device_id)
        .await?
        .into_iter()
        .filter(|r| !r.revoked)
        .collect())
}

async fn active_serials(state: &AppState, device_id: &str) -> Result<Vec<String>, DeviceError> {
    Ok(active_records(state, device_id)
        .await?
        .into_iter()
        .map(|r| r.serial)
        .collect())
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
