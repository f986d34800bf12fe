//! `GET /openapi.json` and `GET /docs` (SPEC §3.21), served only when `ENABLE_DOCS=true`.
//!
//! The OpenAPI 3.1 document is generated from the handlers' `#[utoipa::path]` annotations: a new route
//! appears once its handler is annotated and listed in [`ApiDoc`].
//!
//! `/docs` renders it with Swagger UI, whose files (`assets/swagger-ui/`, pinned, with their licence)
//! are compiled into the binary: the page works without internet access, and its Content Security
//! Policy forbids loading anything from elsewhere. Every URL the page uses is relative, so it works
//! under a `BASE_PATH`; `/docs/` redirects to `/docs`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
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
    info(title = "apuntador", description = "OAuth proxy, device certificate authority and attestation backend of the Apuntador apps. The guide for client developers (flows, errors, headers, client-certificate sources) is docs/api.md in the apuntador repository."),
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
        .route("/docs/", guarded(get(docs_slash)))
        .route("/docs/{asset}", guarded(get(docs_asset)))
}

/// The Swagger UI release embedded in the binary (npm package `swagger-ui-dist`).
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// The embedded files: (name under `/docs/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    ),
    (
        "favicon-32x32.png",
        "image/png",
        include_bytes!("../../assets/swagger-ui/favicon-32x32.png"),
    ),
    (
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/LICENSE"),
    ),
    (
        "apuntador-docs.js",
        "text/javascript; charset=utf-8",
        INIT_SCRIPT.as_bytes(),
    ),
];

/// Starts Swagger UI on the document. `validatorUrl: null`: no call to the public validator.
const INIT_SCRIPT: &str = r##"window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null
  });
});
"##;

/// Only this origin: scripts and styles come from the binary (Swagger UI sets inline styles and
/// uses `data:` images), requests go to this service.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>The API description is at <a href="openapi.json">openapi.json</a>.</noscript>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/apuntador-docs.js"></script>
</body>
</html>
"##;

async fn docs_page() -> Response {
    let mut res = cacheable(Html(DOCS_PAGE).into_response());
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    res
}

/// `/docs/` → `/docs`, relative so that a `BASE_PATH` prefix is kept.
async fn docs_slash() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, HeaderValue::from_static("../docs"))],
    )
        .into_response()
}

async fn docs_asset(axum::extract::Path(asset): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == asset) {
        Some((_, content_type, bytes)) => cacheable(
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                *bytes,
            )
                .into_response(),
        ),
        None => crate::error::ApiError::RouteNotFound.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::ASSETS;

    /// The embedded Swagger UI files are exactly those of `swagger-ui-dist` 5.35.0 (see
    /// assets/swagger-ui/README.md): an accidental edit or a partial update fails here.
    #[test]
    fn the_embedded_swagger_ui_files_match_their_pinned_digests() {
        let pinned = [
            (
                "swagger-ui-bundle.js",
                "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
            ),
            (
                "swagger-ui.css",
                "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
            ),
            (
                "favicon-32x32.png",
                "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837",
            ),
            (
                "LICENSE",
                "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
            ),
        ];
        for (name, digest) in pinned {
            let (_, _, bytes) = ASSETS.iter().find(|(n, _, _)| *n == name).unwrap();
            assert_eq!(hex::encode(Sha256::digest(bytes)), digest, "{name}");
        }
    }
}
