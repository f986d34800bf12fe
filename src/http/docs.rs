//! `GET /openapi.json` and `GET /docs` (SPEC §3.21), served only when `ENABLE_DOCS=true`.
//!
//! The OpenAPI 3.1 document is generated from the handlers' `#[utoipa::path]` annotations: a new route
//! appears once its handler is annotated and listed in [`ApiDoc`].

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http::guarded;
use crate::state::AppState;

/// The generated API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "apuntador", description = "OAuth proxy, device certificate authority and attestation backend of the Apuntador apps."),
    paths(
        crate::http::health::service_info,
        crate::http::health::health,
        crate::http::health::health_public,
        crate::http::health::readiness,
        crate::http::config::get_providers,
        crate::http::oauth::authorize_oauth,
        crate::http::oauth::oauth_callback,
        crate::http::oauth::exchange_token,
        crate::http::oauth::refresh_token,
        crate::http::oauth::revoke_token,
        crate::http::device::enroll_device,
        crate::http::device::renew_certificate,
        crate::http::device::revoke_certificate,
        crate::http::device::get_device_status,
        crate::http::device::get_ca_certificate,
        crate::http::device::get_ca_certificate_pin,
        crate::http::attestation::attest_android,
        crate::http::attestation::attest_ios,
        crate::http::attestation::attest_desktop,
        crate::http::attestation::clear_attestation_cache,
        crate::http::admin::revoke_device,
    ),
    components(schemas(ProblemDetail, ValidationErrorItem)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// An RFC 9457 problem document, as every error is answered (SPEC §2.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetail {
    /// URI of the problem type for the status.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Fixed title of the status.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Human-readable explanation.
    pub detail: String,
    /// The request path as routed.
    pub instance: String,
    /// Same value as the `X-Trace-ID` header.
    pub trace_id: String,
    /// Machine-readable error code, where documented.
    pub error: Option<String>,
    /// Validation errors (422 only).
    pub errors: Option<Vec<ValidationErrorItem>>,
}

/// One validation error of a 422 problem (SPEC §2.5).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationErrorItem {
    /// Where: `["body"]`, `["body","<field>"]` or `["path","<param>"]`.
    pub loc: Vec<String>,
    /// What is wrong; never echoes the value.
    pub msg: String,
    /// Error type such as `missing` or `string_too_long`.
    #[serde(rename = "type")]
    pub kind: String,
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer =
            || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("configApiKey", bearer());
        components.add_security_scheme("adminApiKey", bearer());
        components.add_security_scheme(
            "deviceCertificate",
            SecurityScheme::MutualTls {
                description: Some("Device client certificate issued by this service's CA".into()),
                extensions: None,
            },
        );
    }
}

/// Routes of this module (merged only when docs are enabled).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", guarded(get(openapi_json)))
        .route("/docs", guarded(get(docs_page)))
}

fn cacheable(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn openapi_json() -> Response {
    let body = ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into());
    cacheable(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>apuntador API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>The API description is at <a href="openapi.json">openapi.json</a>.</noscript>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>window.onload = () => { window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" }); };</script>
</body>
</html>
"##;

async fn docs_page() -> Response {
    cacheable(Html(DOCS_PAGE).into_response())
}
