//! `GET /`, liveness (`/health`, `/health/public`) and readiness (`/health/ready`).
//!
//! Liveness does no I/O. Readiness pings the stores and loads the CA concurrently, each bounded by 2 s, and reports
//! `shutting_down` for every check once graceful shutdown has begun.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::http::guarded;
use crate::state::AppState;
use crate::store::StoreResult;

/// The crate version reported by every health answer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(guarded(service_info)))
        .route("/health", get(guarded(health)))
        .route("/health/public", get(guarded(health_public)))
        .route("/health/ready", get(guarded(readiness)))
}

/// Body of `GET /`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    /// Always `Apuntador OAuth Backend`.
    pub message: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Path of the API documentation (with `BASE_PATH`), or null when docs are disabled.
    pub docs: Option<String>,
}

/// Body of the liveness routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// `Service is healthy` or `Public endpoint (no mTLS)`.
    pub message: &'static str,
}

/// Body of a successful readiness check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Each check and `ok`.
    #[schema(value_type = Object)]
    pub checks: Map<String, Value>,
}

/// Service name, version and where the docs are.
#[utoipa::path(get, path = "/", tag = "health", responses((status = 200, body = ServiceInfo)))]
pub async fn service_info(State(state): State<AppState>) -> Json<ServiceInfo> {
    let http = &state.config.http;
    let docs = http
        .enable_docs
        .then(|| format!("{}/docs", http.base_path.as_deref().unwrap_or("")));
    Json(ServiceInfo {
        message: "Apuntador OAuth Backend",
        version: VERSION,
        docs,
    })
}

/// Liveness: answers without any I/O.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: VERSION,
        message: "Service is healthy",
    })
}

/// Liveness, public variant kept for existing clients.
#[utoipa::path(get, path = "/health/public", tag = "health", responses((status = 200, body = Health)))]
pub async fn health_public() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: VERSION,
        message: "Public endpoint (no mTLS)",
    })
}

/// Readiness: the backing stores answer and the CA loads, each within 2 s.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, body = Ready),
        (status = 503, description = "A check failed; `checks` names it", body = crate::http::docs::ProblemDetail,
            content_type = "application/problem+json"),
    )
)]
pub async fn readiness(State(state): State<AppState>) -> ApiResult<Json<Ready>> {
    let mut checks = Map::new();
    if state.lifecycle.is_shutting_down() {
        for name in [
            "certificate_store",
            "session_store",
            "certificate_authority",
        ] {
            checks.insert(name.into(), Value::from("shutting_down"));
        }
        return Err(ApiError::NotReady { checks });
    }
    let (certificates, sessions, authority) = tokio::join!(
        bounded(state.certificates.ping()),
        bounded(state.sessions.ping()),
        ca_check(&state)
    );
    checks.insert("certificate_store".into(), Value::from(certificates));
    checks.insert("session_store".into(), Value::from(sessions));
    checks.insert("certificate_authority".into(), Value::from(authority));
    if checks.values().all(|v| v == "ok") {
        Ok(Json(Ready {
            status: "ready",
            version: VERSION,
            checks,
        }))
    } else {
        Err(ApiError::NotReady { checks })
    }
}

/// The `certificate_authority` check: the CA loads, within the 2 s bound: `ok`, `missing`,
/// `invalid`, `unreachable` or `timeout`.
async fn ca_check(state: &AppState) -> &'static str {
    match tokio::time::timeout(Duration::from_secs(2), state.ca.get()).await {
        Ok(Ok(_)) => "ok",
        Ok(Err(why)) => why.readiness_value(),
        Err(_) => "timeout",
    }
}

/// Runs one readiness check with the 2 s bound: `ok`, `unreachable` or `timeout`.
async fn bounded(check: impl Future<Output = StoreResult<()>>) -> &'static str {
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            "unreachable"
        }
        Err(_) => "timeout",
    }
}
