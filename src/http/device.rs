//! Device PKI routes (SPEC §3.11–3.16): enrolment, renewal, revocation, status and the CA endpoints.
//!
//! Handlers validate input (422 through [`Fields`]/[`JsonBody`]), authenticate with
//! [`DeviceIdentity`] where the route requires a device certificate, bind the body or path
//! `device_id` to the authenticated device (§5.10), and call [`crate::devices`]. The order of the
//! extractors in each signature is the processing order of §2.6: authentication, path, body, binding.

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
use crate::http::guarded;
use crate::pki::{self, DEVICE_ID_PATTERN};
use crate::state::AppState;
use crate::store::timestamp;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device/enroll", guarded(post(enroll_device)))
        .route("/device/renew", guarded(post(renew_certificate)))
        .route("/device/revoke", guarded(post(revoke_certificate)))
        .route(
            "/device/status/{device_id}",
            guarded(get(get_device_status)),
        )
        .route("/device/ca-certificate", guarded(get(get_ca_certificate)))
        .route(
            "/device/ca-certificate-pin",
            guarded(get(get_ca_certificate_pin)),
        )
}

const OLD_SERIAL_PATTERN: &str = "^[0-9A-Fa-f]{1,40}$";
const PLATFORM_ENUM: &str = "Input should be 'android', 'ios', 'desktop' or 'web'";

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

/// Validates a `device_id` body field (SPEC §2.2).
pub(crate) fn device_id_field(f: &mut Fields<'_>, name: &str) -> Option<String> {
    let value = f.required_str(name, 0, usize::MAX)?;
    if pki::is_valid_device_id(&value) {
        Some(value)
    } else {
        f.push(pattern_error(FieldError::body, name, DEVICE_ID_PATTERN));
        None
    }
}

pub(crate) fn pattern_error(
    at: fn(&str, &'static str, String) -> FieldError,
    name: &str,
    pattern: &str,
) -> FieldError {
    at(
        name,
        "string_pattern_mismatch",
        format!("String should match pattern '{pattern}'"),
    )
}

/// Validates the `csr` field: length, then the PEM header and footer (SPEC §5.4 syntax).
fn csr_field(f: &mut Fields<'_>) -> Option<String> {
    let value = f.required_str("csr", pki::csr::MIN_CHARS, pki::csr::MAX_CHARS)?;
    match pki::csr::check_syntax(&value) {
        Ok(()) => Some(value),
        Err(message) => {
            f.value_error("csr", message);
            None
        }
    }
}

/// Body of `POST /device/enroll`.
#[derive(Debug, ToSchema)]
pub struct EnrollRequest {
    /// PKCS#10 CSR, PEM, 100-16384 characters (EC P-256 recommended).
    pub csr: String,
    /// `^[A-Za-z0-9_-]{5,128}$`.
    pub device_id: String,
    /// android, ios, desktop or web (case-insensitive).
    #[schema(value_type = String)]
    pub platform: Platform,
    /// Attestation id from `/device/attest/*`; required when enrolment requires attestation.
    pub attestation: Option<String>,
}

impl FromJsonObject for EnrollRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let csr = csr_field(&mut f);
        let device_id = device_id_field(&mut f, "device_id");
        let platform = match object.get("platform") {
            None => {
                f.push(FieldError::body("platform", "missing", "Field required"));
                None
            }
            Some(Value::String(s)) => {
                let parsed = Platform::parse(s);
                if parsed.is_none() {
                    f.push(FieldError::body("platform", "enum", PLATFORM_ENUM));
                }
                parsed
            }
            Some(_) => {
                f.push(FieldError::body(
                    "platform",
                    "string_type",
                    "Input should be a valid string",
                ));
                None
            }
        };
        let attestation = f.optional_str("attestation", usize::MAX);
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

/// Body of `POST /device/renew`.
#[derive(Debug, ToSchema)]
pub struct RenewRequest {
    /// PKCS#10 CSR, PEM, 100-16384 characters.
    pub csr: String,
    /// Must equal the authenticated device.
    pub device_id: String,
    /// Serial of the presented certificate, `^[0-9A-Fa-f]{1,40}$`.
    pub old_serial: String,
}

impl FromJsonObject for RenewRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let csr = csr_field(&mut f);
        let device_id = device_id_field(&mut f, "device_id");
        let old_serial = f.required_str("old_serial", 0, usize::MAX).and_then(|s| {
            let valid = (1..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
            if valid {
                Some(s)
            } else {
                f.push(pattern_error(
                    FieldError::body,
                    "old_serial",
                    OLD_SERIAL_PATTERN,
                ));
                None
            }
        });
        f.finish(|| {
            Some(RenewRequest {
                csr: csr?,
                device_id: device_id?,
                old_serial: old_serial?,
            })
        })
    }
}

/// Body of `POST /device/revoke`.
#[derive(Debug, ToSchema)]
pub struct RevokeRequest {
    /// Must equal the authenticated device.
    pub device_id: String,
    /// Why, at most 256 characters; `Manual revocation` when absent or blank.
    pub reason: Option<String>,
}

impl FromJsonObject for RevokeRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let device_id = device_id_field(&mut f, "device_id");
        let reason = f.optional_str("reason", 256);
        f.finish(|| {
            Some(RevokeRequest {
                device_id: device_id?,
                reason,
            })
        })
    }
}

/// The `device_id` path segment, validated (SPEC §2.2; 422 at `["path","device_id"]`).
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
        if pki::is_valid_device_id(&segment) {
            Ok(DeviceIdPath(segment))
        } else {
            Err(ApiError::Validation(vec![pattern_error(
                FieldError::path,
                "device_id",
                DEVICE_ID_PATTERN,
            )]))
        }
    }
}

/// SPEC §5.10: the request's device id must be the authenticated one.
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

/// Body of `POST /device/revoke`.
#[derive(Debug, Serialize, ToSchema)]
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
        (status = 409, description = "The device already has an active certificate (`device_already_enrolled`), or a concurrent enrolment won twice (`enrollment_conflict`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON body", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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

/// Renews the presented certificate; the old one is revoked, the new one usable at once (SPEC §3.12).
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
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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

/// Revokes the device's active certificates (SPEC §3.13).
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
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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

/// The device's current certificate (SPEC §3.14).
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

/// The CA certificate for client truststores (SPEC §3.15).
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

/// The CA's SPKI pin for certificate pinning (SPEC §3.16, §5.11).
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
