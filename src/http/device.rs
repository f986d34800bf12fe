//! Device PKI routes: enrolment, renewal, revocation, status and the CA endpoints.
//!
//! Handlers validate input (422 through [`Fields`]/[`JsonBody`]), authenticate with
//! [`DeviceIdentity`] where the route requires a device certificate, bind the body or path
//! `device_id` to the authenticated device, and call [`crate::devices`]. The order of the
//! extractors in each signature is the order in which a request is checked: authentication, path,
//! body, binding.

use axum::extract::{FromRequestParts, MatchedPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use http::request::Parts;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::config::Platform;
use crate::devices::{self, DeviceError, Enrollment};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{DeviceIdentity, Fields, FromJsonObject, JsonBody};
use crate::http::{guarded, guarded_write, rules};
use crate::state::AppState;
use crate::store::timestamp;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device/enroll", post(guarded_write(enroll_device)))
        .route("/device/renew", post(guarded_write(renew_certificate)))
        .route("/device/revoke", post(guarded_write(revoke_certificate)))
        .route(
            "/device/status/{device_id}",
            get(guarded(get_device_status)),
        )
        .route("/device/ca-certificate", get(guarded(get_ca_certificate)))
        .route(
            "/device/ca-certificate-pin",
            get(guarded(get_ca_certificate_pin)),
        )
}

impl From<DeviceError> for ApiError {
    fn from(err: DeviceError) -> Self {
        let forbidden = |code: &'static str, detail: &str| ApiError::Forbidden {
            code,
            detail: detail.to_owned(),
        };
        match err {
            DeviceError::CaUnavailable(_) => ApiError::CaUnavailable,
            DeviceError::Csr(e) => ApiError::BadRequest {
                code: "invalid_csr",
                detail: format!("Invalid enrollment request: {e}"),
            },
            DeviceError::AttestationUnavailable => forbidden(
                "attestation_unavailable",
                "Enrollment of web devices is disabled while attestation is required",
            ),
            DeviceError::AttestationRequired => forbidden(
                "attestation_required",
                "A recent valid attestation is required for enrollment",
            ),
            DeviceError::AttestationInvalid => forbidden(
                "attestation_invalid",
                "The attestation is unknown, expired, already used or belongs to another device",
            ),
            DeviceError::EnrollmentConflict(device_id) => ApiError::Conflict {
                code: "enrollment_conflict",
                detail: format!("Concurrent enrollment for device {device_id}; retry"),
            },
            DeviceError::AlreadyEnrolled(device_id) => ApiError::Conflict {
                code: "device_already_enrolled",
                detail: format!(
                    "Device {device_id} already has an active certificate; renew it with that \
                     certificate or ask an administrator to revoke it"
                ),
            },
            DeviceError::DeviceNotFound(device_id) => ApiError::NotFound {
                code: "device_not_found",
                detail: format!("No certificate found for device {device_id}"),
            },
            DeviceError::SerialMismatch => ApiError::Conflict {
                code: "serial_mismatch",
                detail: "Old serial number does not match the presented certificate".into(),
            },
            DeviceError::Superseded => ApiError::Conflict {
                code: "certificate_superseded",
                detail: "The presented certificate has already been superseded or revoked".into(),
            },
            DeviceError::Rejected(r) => forbidden(r.code(), &r.to_string()),
            DeviceError::Unknown(serial) => ApiError::Forbidden {
                code: "certificate_unknown",
                detail: format!("Certificate serial {serial} is not registered"),
            },
            DeviceError::Revoked => {
                forbidden("certificate_revoked", "Certificate has been revoked")
            }
            DeviceError::Mismatch => forbidden(
                "certificate_mismatch",
                "Certificate does not match the registered certificate",
            ),
            DeviceError::Store(e) => ApiError::from(e),
            DeviceError::Internal(cause) => ApiError::Internal { cause },
            DeviceError::Busy(_) => ApiError::Overloaded,
        }
    }
}

/// Body of `POST /device/enroll` (fields and rules: [`rules::ENROLL`]).
#[derive(Debug)]
pub struct EnrollRequest {
    /// PKCS#10 CSR, PEM.
    pub csr: String,
    /// The device.
    pub device_id: String,
    /// The platform.
    pub platform: Platform,
    /// Attestation id from `/device/attest/*`.
    pub attestation: Option<String>,
}

rules::body_schema!(EnrollRequest, rules::ENROLL);

impl FromJsonObject for EnrollRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let csr = rules::CSR.read(&mut f, object);
        let device_id = rules::DEVICE_ID.read(&mut f, object);
        let platform = rules::PLATFORM
            .read(&mut f, object)
            .and_then(|p| Platform::parse(&p));
        let attestation = rules::ATTESTATION.read(&mut f, object);
        f.finish(|| {
            Some(EnrollRequest {
                csr: csr?,
                device_id: device_id?,
                platform: platform?,
                attestation,
            })
        })
    }
}

/// Body of `POST /device/renew` (fields and rules: [`rules::RENEW`]).
#[derive(Debug)]
pub struct RenewRequest {
    /// PKCS#10 CSR, PEM.
    pub csr: String,
    /// Must equal the authenticated device.
    pub device_id: String,
    /// Serial of the presented certificate.
    pub old_serial: String,
}

rules::body_schema!(RenewRequest, rules::RENEW);

impl FromJsonObject for RenewRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let csr = rules::CSR.read(&mut f, object);
        let device_id = rules::DEVICE_ID.read(&mut f, object);
        let old_serial = rules::OLD_SERIAL.read(&mut f, object);
        f.finish(|| {
            Some(RenewRequest {
                csr: csr?,
                device_id: device_id?,
                old_serial: old_serial?,
            })
        })
    }
}

/// Body of `POST /device/revoke` (fields and rules: [`rules::DEVICE_REVOKE`]); named
/// `DeviceRevokeRequest` in the document, apart from the OAuth token revocation body.
#[derive(Debug)]
pub struct RevokeRequest {
    /// Must equal the authenticated device.
    pub device_id: String,
    /// Why; `Manual revocation` when absent or blank.
    pub reason: Option<String>,
}

rules::body_schema!(RevokeRequest, rules::DEVICE_REVOKE);

impl FromJsonObject for RevokeRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let device_id = rules::DEVICE_ID.read(&mut f, object);
        let reason = rules::REASON.read(&mut f, object);
        f.finish(|| {
            Some(RevokeRequest {
                device_id: device_id?,
                reason,
            })
        })
    }
}

/// The `device_id` path segment, validated against the device id pattern (422 at
/// `["path","device_id"]`).
///
/// Taken exactly as sent — the segment at the position of `{device_id}` in the matched route — since
/// axum's `Path` would percent-decode it (`dev%2D12345` would pass as `dev-12345`).
#[derive(Debug, Clone)]
pub struct DeviceIdPath(pub String);

impl FromRequestParts<AppState> for DeviceIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let position = parts
            .extensions
            .get::<MatchedPath>()
            .and_then(|m| m.as_str().split('/').position(|s| s == "{device_id}"));
        let segment = position
            .and_then(|i| parts.uri.path().split('/').nth(i))
            .unwrap_or_default()
            .to_owned();
        match rules::DEVICE_ID.check_path(&segment) {
            Ok(()) => Ok(DeviceIdPath(segment)),
            Err(error) => Err(ApiError::Validation(vec![error])),
        }
    }
}

/// Device binding: the request's device id must be the authenticated one, so a certificate only
/// ever acts for its own device.
fn bind(identity: &DeviceIdentity, device_id: &str) -> ApiResult<()> {
    if identity.0.device_id == device_id {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "device_mismatch",
            detail: format!("Certificate does not belong to device {device_id}"),
        })
    }
}

/// An issued certificate (enrolment and renewal).
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateResponse {
    /// The device certificate, PEM (64-character lines, LF, trailing newline).
    pub certificate: String,
    /// Serial: 32 upper-case hex digits.
    pub serial: String,
    /// Issuance time (RFC 3339, `Z`).
    pub issued_at: String,
    /// notAfter (RFC 3339, `Z`).
    pub expires_at: String,
    /// The current CA certificate, PEM.
    pub ca_certificate: String,
}

impl From<devices::Issued> for CertificateResponse {
    fn from(issued: devices::Issued) -> Self {
        CertificateResponse {
            certificate: issued.certificate.pem,
            serial: issued.certificate.serial,
            issued_at: timestamp::format(issued.certificate.issued_at),
            expires_at: timestamp::format(issued.certificate.expires_at),
            ca_certificate: issued.ca_certificate_pem,
        }
    }
}

/// Answer of `POST /device/revoke` (`DeviceRevokeResponse` in the document).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeviceRevokeResponse)]
pub struct RevokeResponse {
    /// Whether an active certificate was revoked.
    pub success: bool,
    /// The device.
    pub device_id: String,
    /// Human-readable outcome.
    pub message: String,
}

/// Body of `GET /device/status/{device_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    /// The device.
    pub device_id: String,
    /// Serial of the current certificate.
    pub serial: String,
    /// Platform of the certificate.
    pub platform: &'static str,
    /// Issuance time.
    pub issued_at: String,
    /// notAfter.
    pub expires_at: String,
    /// Whether the certificate is revoked.
    pub revoked: bool,
    /// ⌊(expires_at − now) / 1 day⌋, negative once expired.
    pub days_until_expiry: i64,
}

/// Body of `GET /device/ca-certificate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaCertificateResponse {
    /// The current CA certificate, PEM.
    pub certificate: String,
    /// Always `PEM`.
    pub format: &'static str,
    /// What to do with it.
    pub usage: &'static str,
    /// The previous CA certificate during a rotation, else null.
    pub previous_certificate: Option<String>,
}

/// Body of `GET /device/ca-certificate-pin`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaPinResponse {
    /// SHA-256 of the CA SubjectPublicKeyInfo, base64 with padding (44 characters).
    pub sha256_base64: String,
    /// The same digest, lower-case hex (64 characters).
    pub sha256_hex: String,
    /// The current CA certificate, PEM.
    pub certificate_pem: String,
    /// Always `SHA-256`.
    pub algorithm: &'static str,
    /// What to do with it.
    pub usage: &'static str,
    /// The previous CA's pin during a rotation, else null.
    pub previous_sha256_base64: Option<String>,
}

fn cacheable(body: impl Serialize) -> Response {
    let mut res = Json(body).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

/// Enrols a device: issues a certificate for its CSR. A device that still has an
/// active, unexpired certificate is refused with 409 `device_already_enrolled`: it renews with that
/// certificate, or an administrator revokes it first (`ENROLLMENT_REPLACE_ACTIVE=true` supersedes it
/// instead).
#[utoipa::path(
    post,
    path = "/device/enroll",
    tag = "device",
    request_body(content = EnrollRequest, content_type = "application/json"),
    responses(
        (status = 201, body = CertificateResponse),
        (status = 400, description = "Invalid CSR (`invalid_csr`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 403, description = "Attestation policy (`attestation_required`, `attestation_unavailable`, `attestation_invalid`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 409, description = "The device already has an active, unexpired certificate (`device_already_enrolled`), or a concurrent enrolment won (`enrollment_conflict`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 503, description = "CA unavailable (`ca_unavailable`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn enroll_device(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<CertificateResponse>)> {
    let enrollment = Enrollment {
        device_id: body.device_id,
        platform: body.platform,
        csr: body.csr,
        attestation: body.attestation,
    };
    let issued = devices::enroll(&state, &enrollment).await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

/// Renews the presented certificate; the old one is revoked, the new one usable at once.
#[utoipa::path(
    post,
    path = "/device/renew",
    tag = "device",
    security(("deviceCertificate" = [])),
    request_body(content = RenewRequest, content_type = "application/json"),
    responses(
        (status = 200, body = CertificateResponse),
        (status = 400, description = "Invalid CSR (`invalid_csr`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 401, description = "No client certificate (`certificate_required`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 403, description = "Certificate rejected, or `device_mismatch`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 409, description = "`serial_mismatch` or `certificate_superseded`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 503, description = "CA unavailable (`ca_unavailable`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn renew_certificate(
    State(state): State<AppState>,
    identity: DeviceIdentity,
    JsonBody(body): JsonBody<RenewRequest>,
) -> ApiResult<Json<CertificateResponse>> {
    bind(&identity, &body.device_id)?;
    match devices::renew(&state, &identity.0, &body.old_serial, &body.csr).await {
        Ok(issued) => Ok(Json(issued.into())),
        Err(DeviceError::Csr(e)) => Err(ApiError::BadRequest {
            code: "invalid_csr",
            detail: format!("Invalid renewal request: {e}"),
        }),
        Err(other) => Err(other.into()),
    }
}

/// Revokes the device's active certificates.
#[utoipa::path(
    post,
    path = "/device/revoke",
    tag = "device",
    security(("deviceCertificate" = [])),
    request_body(content = RevokeRequest, content_type = "application/json"),
    responses(
        (status = 200, body = RevokeResponse),
        (status = 401, description = "No client certificate (`certificate_required`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 403, description = "Certificate rejected, or `device_mismatch`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_certificate(
    State(state): State<AppState>,
    identity: DeviceIdentity,
    JsonBody(body): JsonBody<RevokeRequest>,
) -> ApiResult<Json<RevokeResponse>> {
    bind(&identity, &body.device_id)?;
    let revoked = devices::revoke(&state, &body.device_id, body.reason.as_deref()).await?;
    let message = if revoked {
        format!("Certificate revoked for device {}", body.device_id)
    } else {
        format!("No certificate found for device {}", body.device_id)
    };
    Ok(Json(RevokeResponse {
        success: revoked,
        device_id: body.device_id,
        message,
    }))
}

/// The device's current certificate.
#[utoipa::path(
    get,
    path = "/device/status/{device_id}",
    tag = "device",
    security(("deviceCertificate" = [])),
    params(("device_id" = String, Path, description = "`^[A-Za-z0-9_-]{5,128}$`")),
    responses(
        (status = 200, body = StatusResponse),
        (status = 401, description = "No client certificate (`certificate_required`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 403, description = "Certificate rejected, or `device_mismatch`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 404, description = "No certificate (`certificate_not_found`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Invalid device_id", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn get_device_status(
    identity: DeviceIdentity,
    DeviceIdPath(device_id): DeviceIdPath,
) -> ApiResult<Json<StatusResponse>> {
    bind(&identity, &device_id)?;
    // The presented certificate passed authentication, so it is the device's one active record: the
    // record read then is the current one, and no further read is needed.
    let record = identity.0.record;
    Ok(Json(StatusResponse {
        device_id: record.device_id,
        serial: record.serial,
        platform: record.platform.as_str(),
        issued_at: timestamp::format(record.issued_at),
        expires_at: timestamp::format(record.expires_at),
        revoked: record.revoked,
        days_until_expiry: devices::days_until_expiry(record.expires_at, Utc::now()),
    }))
}

/// The CA certificate for client truststores, and the previous one during a CA rotation.
#[utoipa::path(
    get,
    path = "/device/ca-certificate",
    tag = "device",
    responses(
        (status = 200, body = CaCertificateResponse),
        (status = 503, description = "CA unavailable (`ca_unavailable`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn get_ca_certificate(State(state): State<AppState>) -> ApiResult<Response> {
    let ca = state.ca.get().await.map_err(DeviceError::from)?;
    Ok(cacheable(CaCertificateResponse {
        certificate: ca.current().pem().to_owned(),
        format: "PEM",
        usage: "Add to client truststore for mTLS verification",
        previous_certificate: ca.previous(Utc::now()).map(|p| p.pem().to_owned()),
    }))
}

/// The CA's SPKI pin for certificate pinning (SHA-256 of its SubjectPublicKeyInfo).
#[utoipa::path(
    get,
    path = "/device/ca-certificate-pin",
    tag = "device",
    responses(
        (status = 200, body = CaPinResponse),
        (status = 503, description = "CA unavailable (`ca_unavailable`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn get_ca_certificate_pin(State(state): State<AppState>) -> ApiResult<Response> {
    let ca = state.ca.get().await.map_err(DeviceError::from)?;
    let pin = ca.current().pin();
    Ok(cacheable(CaPinResponse {
        sha256_base64: pin.sha256_base64,
        sha256_hex: pin.sha256_hex,
        certificate_pem: ca.current().pem().to_owned(),
        algorithm: "SHA-256",
        usage: "Use sha256_base64 for iOS/Android certificate pinning",
        previous_sha256_base64: ca.previous(Utc::now()).map(|p| p.pin().sha256_base64),
    }))
}
