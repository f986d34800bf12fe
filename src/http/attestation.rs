//! Attestation routes: Android, iOS and desktop verification, and the admin
//! clear-cache route.
//!
//! Each verification route answers 501 when its platform is not configured (before the body is read),
//! validates the body (415/422), then calls [`crate::attestation`]: `valid` → 200 with the platform's
//! body, `invalid`/`failed` → 400 with `attestation_status` and `advice`, the desktop limit → 429.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest as _, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::attestation::{
    self, AndroidEvidence, AttestationError, ClearScope, DesktopEvidence, IosEvidence,
};
use crate::config::Platform;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{
    AdminApiKey, Fields, FromJsonObject, JsonBody, is_json_content_type, parse_object, read_body,
};
use crate::http::{guarded_write, rules};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/device/attest/android",
            post(guarded_write(attest_android)),
        )
        .route("/device/attest/ios", post(guarded_write(attest_ios)))
        .route(
            "/device/attest/desktop",
            post(guarded_write(attest_desktop)),
        )
        .route(
            "/device/attest/clear-cache",
            post(guarded_write(clear_attestation_cache)),
        )
}

impl From<AttestationError> for ApiError {
    fn from(err: AttestationError) -> Self {
        match err {
            AttestationError::Rejected {
                status,
                advice,
                detail,
                fingerprint_match,
            } => ApiError::AttestationRejected {
                status: status.as_str(),
                advice,
                detail,
                fingerprint_match,
            },
            AttestationError::RateLimited { retry_after } => ApiError::TooManyRequests {
                code: "rate_limited",
                detail: "Too many desktop attestations for this device; retry later".into(),
                retry_after,
            },
            AttestationError::Store(e) => ApiError::from(e),
            AttestationError::Busy(_) => ApiError::Overloaded,
        }
    }
}

fn not_configured(platform: &str) -> ApiError {
    ApiError::NotImplemented {
        code: "attestation_not_configured",
        detail: format!("{platform} attestation is not configured"),
    }
}

/// Body of `POST /device/attest/android` (fields and rules: [`rules::ANDROID_ATTESTATION`]).
#[derive(Debug)]
pub struct AndroidAttestationRequest {
    /// The Play Integrity token (alias `jws_token`).
    pub integrity_token: String,
    /// The device.
    pub device_id: String,
    /// The nonce the app passed to the integrity request.
    pub nonce: String,
}

rules::body_schema!(AndroidAttestationRequest, rules::ANDROID_ATTESTATION);

impl FromJsonObject for AndroidAttestationRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let token = rules::INTEGRITY_TOKEN.read(&mut f, object);
        let device_id = rules::DEVICE_ID.read(&mut f, object);
        let nonce = rules::NONCE.read(&mut f, object);
        f.finish(|| {
            Some(AndroidAttestationRequest {
                integrity_token: token?,
                device_id: device_id?,
                nonce: nonce?,
            })
        })
    }
}

/// Body of `POST /device/attest/ios` (fields and rules: [`rules::IOS_ATTESTATION`]).
#[derive(Debug)]
pub struct IosAttestationRequest {
    /// Base64 of the CBOR attestation object (alias `device_token`).
    pub attestation_object: String,
    /// Base64 of the 32-byte key identifier.
    pub key_id: String,
    /// The challenge the app passed to the attestation call.
    pub challenge: String,
    /// The device.
    pub device_id: String,
}

rules::body_schema!(IosAttestationRequest, rules::IOS_ATTESTATION);

impl FromJsonObject for IosAttestationRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let attestation_object = rules::ATTESTATION_OBJECT.read(&mut f, object);
        let key_id = rules::KEY_ID.read(&mut f, object);
        let challenge = rules::CHALLENGE.read(&mut f, object);
        let device_id = rules::DEVICE_ID.read(&mut f, object);
        f.finish(|| {
            Some(IosAttestationRequest {
                attestation_object: attestation_object?,
                key_id: key_id?,
                challenge: challenge?,
                device_id: device_id?,
            })
        })
    }
}

/// Body of `POST /device/attest/desktop` (fields and rules: [`rules::DESKTOP_ATTESTATION`]).
#[derive(Debug)]
pub struct DesktopAttestationRequest {
    /// The device.
    pub device_id: String,
    /// The device fingerprint.
    pub fingerprint: String,
}

rules::body_schema!(DesktopAttestationRequest, rules::DESKTOP_ATTESTATION);

impl FromJsonObject for DesktopAttestationRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let device_id = rules::DEVICE_ID.read(&mut f, object);
        let fingerprint = rules::FINGERPRINT.read(&mut f, object);
        // Any members; only its presence as an object is checked.
        let details = rules::PLATFORM_DETAILS.read(&mut f, object);
        f.finish(|| {
            details?;
            Some(DesktopAttestationRequest {
                device_id: device_id?,
                fingerprint: fingerprint?,
            })
        })
    }
}

/// 200 body of `POST /device/attest/android`.
#[derive(Debug, ToSchema)]
pub struct AndroidAttestationResponse {
    /// `valid`.
    pub status: String,
    /// The attested device.
    pub device_id: String,
    /// Verification time (RFC 3339, `Z`).
    pub timestamp: String,
    /// The device verdict contains `MEETS_DEVICE_INTEGRITY`.
    pub cts_profile_match: bool,
    /// The device verdict contains `MEETS_BASIC_INTEGRITY`.
    pub basic_integrity: bool,
    /// Always null on success.
    pub advice: Option<String>,
    /// Always null on success.
    pub error_message: Option<String>,
    /// One-time id for `POST /device/enroll` (43 base64url characters).
    pub attestation_id: String,
    /// `deviceIntegrity.deviceRecognitionVerdict` of the token.
    pub device_recognition_verdict: Vec<String>,
    /// `appIntegrity.appRecognitionVerdict`, or null.
    pub app_recognition_verdict: Option<String>,
}

/// 200 body of `POST /device/attest/ios`.
#[derive(Debug, ToSchema)]
pub struct IosAttestationResponse {
    /// `valid`.
    pub status: String,
    /// The attested device.
    pub device_id: String,
    /// Verification time (RFC 3339, `Z`).
    pub timestamp: String,
    /// Always true on success.
    pub integrity_verified: bool,
    /// Always null on success.
    pub error_message: Option<String>,
    /// One-time id for `POST /device/enroll` (43 base64url characters).
    pub attestation_id: String,
    /// The request's `key_id`.
    pub key_id: String,
}

/// 200 body of `POST /device/attest/desktop`.
#[derive(Debug, ToSchema)]
pub struct DesktopAttestationResponse {
    /// `valid`.
    pub status: String,
    /// The attested device.
    pub device_id: String,
    /// Verification time (RFC 3339, `Z`).
    pub timestamp: String,
    /// Always true on success.
    pub fingerprint_match: bool,
    /// Always true on success.
    pub rate_limit_ok: bool,
    /// Always null on success.
    pub error_message: Option<String>,
    /// One-time id for `POST /device/enroll` (43 base64url characters).
    pub attestation_id: String,
}

/// Verifies a Play Integrity token (classic request, decrypted and verified locally).
///
/// A valid token returns a one-time `attestation_id` that enrolment can require.
#[utoipa::path(
    post,
    path = "/device/attest/android",
    tag = "attestation",
    request_body(content = AndroidAttestationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = AndroidAttestationResponse),
        (status = 400, description = "`invalid` or `failed`: extensions `attestation_status` and `advice`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 501, description = "Android attestation is not configured (`attestation_not_configured`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn attest_android(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    // Borrowed from the shared state: verifiers (keys, trust anchor) are built once, never per request.
    let Some(verifier) = &state.verifiers.play_integrity else {
        return Err(not_configured("Android"));
    };
    let JsonBody(body) = JsonBody::<AndroidAttestationRequest>::from_request(req, &state).await?;
    let evidence = AndroidEvidence {
        integrity_token: body.integrity_token,
        device_id: body.device_id,
        nonce: body.nonce,
    };
    let answer = attestation::attest_android(&state, verifier, &evidence).await?;
    Ok(Json(Value::Object(answer)).into_response())
}

/// Verifies an App Attest attestation object against the Apple App Attestation root.
///
/// A valid object returns a one-time `attestation_id` that enrolment can require.
#[utoipa::path(
    post,
    path = "/device/attest/ios",
    tag = "attestation",
    request_body(content = IosAttestationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = IosAttestationResponse),
        (status = 400, description = "`invalid` or `failed`: extensions `attestation_status` and `advice`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 501, description = "iOS attestation is not configured (`attestation_not_configured`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn attest_ios(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let Some(verifier) = &state.verifiers.app_attest else {
        return Err(not_configured("iOS"));
    };
    let JsonBody(body) = JsonBody::<IosAttestationRequest>::from_request(req, &state).await?;
    let evidence = IosEvidence {
        attestation_object: body.attestation_object,
        key_id: body.key_id,
        challenge: body.challenge,
        device_id: body.device_id,
    };
    let answer = attestation::attest_ios(&state, verifier, &evidence).await?;
    Ok(Json(Value::Object(answer)).into_response())
}

/// Binds a desktop device to its first fingerprint, or checks a later one against it.
///
/// At most DESKTOP_ATTESTATION_MAX_PER_HOUR attempts per device and clock hour.
#[utoipa::path(
    post,
    path = "/device/attest/desktop",
    tag = "attestation",
    request_body(content = DesktopAttestationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = DesktopAttestationResponse),
        (status = 400, description = "`invalid` (`FINGERPRINT_MISMATCH`): extensions `attestation_status`, `advice` and `fingerprint_match`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts this hour (`rate_limited`); `Retry-After` gives the seconds to the next hour", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 501, description = "Desktop attestation is disabled (`attestation_not_configured`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn attest_desktop(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    if !state.verifiers.desktop_enabled {
        return Err(not_configured("Desktop"));
    }
    let JsonBody(body) = JsonBody::<DesktopAttestationRequest>::from_request(req, &state).await?;
    let evidence = DesktopEvidence {
        device_id: body.device_id,
        fingerprint: body.fingerprint,
    };
    let answer = attestation::attest_desktop(&state, &evidence).await?;
    Ok(Json(Value::Object(answer)).into_response())
}

/// Optional body of `POST /device/attest/clear-cache` (fields and rules: [`rules::CLEAR_CACHE`]).
#[derive(Debug)]
pub struct ClearCacheRequest;

rules::body_schema!(ClearCacheRequest, rules::CLEAR_CACHE);

fn clear_scope(object: &Map<String, Value>) -> Result<ClearScope, Vec<FieldError>> {
    let mut f = Fields::new(object);
    let device_field = rules::DEVICE_ID.optional();
    let device_id = device_field.read(&mut f, object);
    let platform = rules::ATTESTED_PLATFORM
        .read(&mut f, object)
        .and_then(|p| Platform::parse(&p));
    let given = |name: &str| !matches!(object.get(name), None | Some(Value::Null));
    if let Some(partner) = rules::ATTESTED_PLATFORM.requires
        && platform.is_some()
        && !given(partner)
    {
        f.value_error("platform", "platform requires device_id");
    }
    f.finish(|| {
        Some(match (device_id, platform) {
            (None, _) => ClearScope::All,
            (Some(device), None) => ClearScope::Device(device),
            (Some(device), Some(platform)) => ClearScope::DevicePlatform(device, platform),
        })
    })
}

/// Clears stored attestation state: everything (a new generation), one device, or
/// one device and platform. 204 without a body.
#[utoipa::path(
    post,
    path = "/device/attest/clear-cache",
    tag = "attestation",
    security(("adminApiKey" = [])),
    request_body(content = Option<ClearCacheRequest>, description = "Optional; empty clears everything", content_type = "application/json"),
    responses(
        (status = 204, description = "Cleared"),
        (status = 401, description = "Bearer key missing or wrong", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 403, description = "The admin API is disabled (`admin_disabled`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "A non-empty body that is not JSON", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn clear_attestation_cache(
    State(state): State<AppState>,
    _admin: AdminApiKey,
    req: Request,
) -> ApiResult<StatusCode> {
    let json = is_json_content_type(req.headers());
    let bytes = read_body(req).await?;
    let scope = if bytes.is_empty() {
        ClearScope::All
    } else if !json {
        return Err(ApiError::UnsupportedMediaType);
    } else {
        clear_scope(&parse_object(&bytes)?).map_err(ApiError::Validation)?
    };
    attestation::clear(&state, &scope).await?;
    Ok(StatusCode::NO_CONTENT)
}
