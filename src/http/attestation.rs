//! Attestation routes (SPEC §3.17–3.20, §6): Android, iOS and desktop verification, and the admin
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
use crate::http::device::{device_id_field, pattern_error};
use crate::http::extract::{
    AdminApiKey, Fields, FromJsonObject, JsonBody, is_json_content_type, parse_object, read_body,
};
use crate::http::guarded;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device/attest/android", guarded(post(attest_android)))
        .route("/device/attest/ios", guarded(post(attest_ios)))
        .route("/device/attest/desktop", guarded(post(attest_desktop)))
        .route(
            "/device/attest/clear-cache",
            guarded(post(clear_attestation_cache)),
        )
}

const FINGERPRINT_PATTERN: &str = "^[a-f0-9]{64}$";
const CLEAR_PLATFORM_ENUM: &str = "Input should be 'android', 'ios' or 'desktop'";

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

/// Reads a required string that has an alias: the alias is used when the main name is absent.
fn aliased_str(
    f: &mut Fields<'_>,
    object: &Map<String, Value>,
    name: &str,
    alias: &str,
    min: usize,
    max: usize,
) -> Option<String> {
    let used = if !object.contains_key(name) && object.contains_key(alias) {
        alias
    } else {
        name
    };
    f.required_str(used, min, max)
}

/// Body of `POST /device/attest/android`.
#[derive(Debug, ToSchema)]
pub struct AndroidAttestationRequest {
    /// The Play Integrity token (JWE compact), 100-16384 characters; alias `jws_token`.
    pub integrity_token: String,
    /// `^[A-Za-z0-9_-]{5,128}$`.
    pub device_id: String,
    /// The nonce the app passed to the integrity request, 16-500 characters.
    pub nonce: String,
}

impl FromJsonObject for AndroidAttestationRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let token = aliased_str(&mut f, object, "integrity_token", "jws_token", 100, 16_384);
        let device_id = device_id_field(&mut f, "device_id");
        let nonce = f.required_str("nonce", 16, 500);
        f.finish(|| {
            Some(AndroidAttestationRequest {
                integrity_token: token?,
                device_id: device_id?,
                nonce: nonce?,
            })
        })
    }
}

/// Body of `POST /device/attest/ios`.
#[derive(Debug, ToSchema)]
pub struct IosAttestationRequest {
    /// Base64 (standard or URL-safe, padding optional) of the CBOR attestation object, 100-32768
    /// characters; alias `device_token`.
    pub attestation_object: String,
    /// Base64 of the 32-byte key identifier, at most 1024 characters.
    pub key_id: String,
    /// The challenge the app passed to the attestation call, 16-1024 characters.
    pub challenge: String,
    /// `^[A-Za-z0-9_-]{5,128}$`.
    pub device_id: String,
}

impl FromJsonObject for IosAttestationRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let attestation_object = aliased_str(
            &mut f,
            object,
            "attestation_object",
            "device_token",
            100,
            32_768,
        );
        let key_id = f.required_str("key_id", 0, 1024);
        let challenge = f.required_str("challenge", 16, 1024);
        let device_id = device_id_field(&mut f, "device_id");
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

/// Body of `POST /device/attest/desktop`.
#[derive(Debug, ToSchema)]
pub struct DesktopAttestationRequest {
    /// `^[A-Za-z0-9_-]{5,128}$`.
    pub device_id: String,
    /// The device fingerprint, `^[a-f0-9]{64}$`.
    pub fingerprint: String,
    /// Any members; neither stored nor logged.
    #[schema(value_type = Object)]
    pub platform_details: (),
}

impl FromJsonObject for DesktopAttestationRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let device_id = device_id_field(&mut f, "device_id");
        let fingerprint = f.required_str("fingerprint", 0, usize::MAX).and_then(|s| {
            let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if valid {
                Some(s)
            } else {
                f.push(pattern_error(
                    FieldError::body,
                    "fingerprint",
                    FINGERPRINT_PATTERN,
                ));
                None
            }
        });
        let details = match object.get("platform_details") {
            Some(Value::Object(_)) => Some(()),
            None => {
                f.push(FieldError::body(
                    "platform_details",
                    "missing",
                    "Field required",
                ));
                None
            }
            Some(_) => {
                f.push(FieldError::body(
                    "platform_details",
                    "object_type",
                    "Input should be a valid object",
                ));
                None
            }
        };
        f.finish(|| {
            Some(DesktopAttestationRequest {
                device_id: device_id?,
                fingerprint: fingerprint?,
                platform_details: details?,
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

/// Verifies a Play Integrity token (SPEC §3.17, §6.2).
#[utoipa::path(
    post,
    path = "/device/attest/android",
    tag = "attestation",
    request_body(content = AndroidAttestationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = AndroidAttestationResponse),
        (status = 400, description = "`invalid` or `failed`: extensions `attestation_status` and `advice`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON body", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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

/// Verifies an App Attest attestation object (SPEC §3.18, §6.3).
#[utoipa::path(
    post,
    path = "/device/attest/ios",
    tag = "attestation",
    request_body(content = IosAttestationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = IosAttestationResponse),
        (status = 400, description = "`invalid` or `failed`: extensions `attestation_status` and `advice`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON body", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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

/// Binds or checks a desktop fingerprint (SPEC §3.19, §6.4).
#[utoipa::path(
    post,
    path = "/device/attest/desktop",
    tag = "attestation",
    request_body(content = DesktopAttestationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = DesktopAttestationResponse),
        (status = 400, description = "`invalid` (`FINGERPRINT_MISMATCH`): extensions `attestation_status`, `advice` and `fingerprint_match`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON body", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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

/// Optional body of `POST /device/attest/clear-cache`.
#[derive(Debug, ToSchema)]
pub struct ClearCacheRequest {
    /// Clear only this device (`^[A-Za-z0-9_-]{5,128}$`).
    pub device_id: Option<String>,
    /// With `device_id`: only this platform (android, ios or desktop).
    pub platform: Option<String>,
}

fn clear_scope(object: &Map<String, Value>) -> Result<ClearScope, Vec<FieldError>> {
    let mut f = Fields::new(object);
    let device_id = match object.get("device_id") {
        None | Some(Value::Null) => None,
        Some(_) => device_id_field(&mut f, "device_id"),
    };
    let platform = match object.get("platform") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Platform::parse(s) {
            Some(p) if p != Platform::Web => Some(p),
            _ => {
                f.push(FieldError::body("platform", "enum", CLEAR_PLATFORM_ENUM));
                None
            }
        },
        Some(_) => {
            f.push(FieldError::body(
                "platform",
                "string_type",
                "Input should be a valid string",
            ));
            None
        }
    };
    let device_given = !matches!(object.get("device_id"), None | Some(Value::Null));
    if platform.is_some() && !device_given {
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

/// Clears stored attestation state (SPEC §3.20, §6.6): everything (a new generation), one device, or
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
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
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
