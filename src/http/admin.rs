//! Administrator routes on devices: `POST /admin/devices/{device_id}/revoke` revokes every active
//! certificate of a lost device, so that it can enrol again.
//!
//! The route takes the `ADMIN_API_KEY` bearer key with the rules of the other admin route (403
//! `admin_disabled` when no key is configured, checked before the key; 401 otherwise), then validates
//! the path `device_id` (422) and the optional JSON body (415/422), and calls
//! [`crate::devices::revoke_by_admin`]. The order of the extractors is the processing order:
//! authentication, path, body.

use axum::extract::{Request, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::devices;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::device::DeviceIdPath;
use crate::http::extract::{AdminApiKey, Fields, is_json_content_type, parse_object, read_body};
use crate::http::guarded_write;
use crate::state::AppState;

/// Longest accepted `reason`, in Unicode scalar values (as `POST /device/revoke`).
const REASON_MAX_CHARS: usize = 256;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/admin/devices/{device_id}/revoke",
        post(guarded_write(revoke_device)),
    )
}

/// Optional body of `POST /admin/devices/{device_id}/revoke`.
#[derive(Debug, ToSchema)]
pub struct AdminRevokeRequest {
    /// Why, at most 256 characters; `Manual revocation` when absent or blank.
    pub reason: Option<String>,
}

/// Answer of `POST /admin/devices/{device_id}/revoke`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRevokeResponse {
    /// The device.
    pub device_id: String,
    /// How many active certificates were revoked (0 when none was active).
    pub revoked: usize,
}

/// The `reason` of a non-empty body.
fn revoke_reason(object: &Map<String, Value>) -> Result<Option<String>, Vec<FieldError>> {
    let mut f = Fields::new(object);
    let reason = f.optional_str("reason", REASON_MAX_CHARS);
    f.finish(|| Some(reason))
}

/// Revokes every active certificate of a device, for example a lost one; the device can then enrol
/// again. The body is optional.
#[utoipa::path(
    post,
    path = "/admin/devices/{device_id}/revoke",
    tag = "admin",
    security(("adminApiKey" = [])),
    params(("device_id" = String, Path, description = "`^[A-Za-z0-9_-]{5,128}$`")),
    request_body(content = Option<AdminRevokeRequest>, description = "Optional; empty uses the reason `Manual revocation`", content_type = "application/json"),
    responses(
        (status = 200, description = "The number of certificates revoked", body = AdminRevokeResponse),
        (status = 401, description = "Bearer key missing or wrong", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 403, description = "The admin API is disabled (`admin_disabled`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 404, description = "The device has no certificate record (`device_not_found`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "A non-empty body that is not JSON", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_device(
    State(state): State<AppState>,
    _admin: AdminApiKey,
    DeviceIdPath(device_id): DeviceIdPath,
    req: Request,
) -> ApiResult<Json<AdminRevokeResponse>> {
    let json = is_json_content_type(req.headers());
    let bytes = read_body(req).await?;
    let reason = if bytes.is_empty() {
        None
    } else if !json {
        return Err(ApiError::UnsupportedMediaType);
    } else if serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v.is_null()) {
        // The document describes the optional body as an object or null: JSON `null` is "no body".
        None
    } else {
        revoke_reason(&parse_object(&bytes)?).map_err(ApiError::Validation)?
    };
    let revoked = devices::revoke_by_admin(&state, &device_id, reason.as_deref()).await?;
    Ok(Json(AdminRevokeResponse { device_id, revoked }))
}
