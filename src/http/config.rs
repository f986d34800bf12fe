//! `GET /config/providers`: which OAuth providers this deployment serves, behind the
//! `CONFIG_API_KEY` bearer key.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::ProviderId;
use crate::http::extract::ConfigApiKey;
use crate::http::guarded;
use crate::state::AppState;

/// How long clients may cache the provider configuration, in seconds (constant).
pub const PROVIDERS_CACHE_TTL: u32 = 3600;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/config/providers", get(guarded(get_providers)))
}

/// One provider's entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderInfo {
    /// Whether this deployment serves the provider.
    pub enabled: bool,
    /// Always true: the apps use mutual TLS for the device routes.
    pub requires_mtls: bool,
}

/// The three providers, always in this order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Providers {
    /// Google Drive.
    pub googledrive: ProviderInfo,
    /// Dropbox.
    pub dropbox: ProviderInfo,
    /// OneDrive.
    pub onedrive: ProviderInfo,
}

/// Body of `GET /config/providers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersConfig {
    /// The providers.
    pub providers: Providers,
    /// `PROJECT_VERSION`.
    pub version: String,
    /// Always 3600.
    pub cache_ttl: u32,
}

/// Which OAuth providers are enabled.
#[utoipa::path(
    get,
    path = "/config/providers",
    tag = "config",
    security(("configApiKey" = [])),
    responses(
        (status = 200, body = ProvidersConfig),
        (status = 401, description = "Missing, malformed or wrong bearer key", body = crate::http::docs::ProblemDetail,
            content_type = "application/problem+json"),
    )
)]
pub async fn get_providers(
    _key: ConfigApiKey,
    State(state): State<AppState>,
) -> Json<ProvidersConfig> {
    let enabled = |p: ProviderId| ProviderInfo {
        enabled: state.config.oauth.enabled_providers.contains(&p),
        requires_mtls: true,
    };
    Json(ProvidersConfig {
        providers: Providers {
            googledrive: enabled(ProviderId::GoogleDrive),
            dropbox: enabled(ProviderId::Dropbox),
            onedrive: enabled(ProviderId::OneDrive),
        },
        version: state.config.http.project_version.clone(),
        cache_ttl: PROVIDERS_CACHE_TTL,
    })
}
