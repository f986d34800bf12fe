//! `GET /openapi.json` and `GET /docs`, served only when `ENABLE_DOCS=true`.
//!
//! The OpenAPI 3.1 document is generated from the handlers' `#[utoipa::path]` annotations and the
//! response types ([`ApiDoc`]), then completed for the running configuration by [`document`]:
//!
//! - every request body schema is written from its [`rules::Body`], the same field rules the
//!   validators apply, so the document and the 422 answers cannot drift;
//! - the `provider` path parameter is the enum of the providers this deployment serves
//!   (`ENABLED_CLOUD_PROVIDERS`); with none, the OAuth operations are left out;
//! - every operation lists every status it can answer: its own ones from the annotation, plus those
//!   of the middleware and of body reading (400 `invalid_body`, 413, 415, 422, 500, 503, 504), each with
//!   the problem document schema and the `X-Trace-ID` header every response carries;
//! - links connect authorize → callback → token → refresh/revoke and enrol → status/renew/revoke;
//! - with `BASE_PATH`, the one server is that path.
//!
//! A new route appears once its handler is annotated and listed in [`ApiDoc`].
//!
//! `/docs` renders it with Swagger UI, whose files (`assets/swagger-ui/`, pinned, with their licence)
//! are compiled into the binary: the page works without internet access, and its Content Security
//! Policy forbids loading anything from elsewhere. Every URL the page uses is relative, so it works
//! under a `BASE_PATH`; `/docs/` redirects to `/docs`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::config::Config;
use crate::http::{guarded, rules};
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
    tags(
        (name = "health", description = "Service information, liveness and readiness"),
        (name = "config", description = "Which OAuth providers this deployment serves"),
        (name = "oauth", description = "OAuth 2.0 Authorization Code + PKCE proxy: the provider client secrets stay on the server"),
        (name = "device", description = "The private device certificate authority"),
        (name = "attestation", description = "Device attestation: Play Integrity, App Attest and desktop fingerprints"),
        (name = "admin", description = "Operator actions, with the bearer ADMIN_API_KEY"),
    ),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// An RFC 9457 problem document, as every error is answered.
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
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub trace_id: String,
    /// Machine-readable error code, where the operation documents one.
    pub error: Option<String>,
    /// Validation errors (422 only).
    pub errors: Option<Vec<ValidationErrorItem>>,
    /// Readiness checks and their values (503 from `/health/ready` only).
    #[schema(value_type = Option<Object>)]
    pub checks: Option<Map<String, Value>>,
    /// `invalid` or `failed` (400 from `/device/attest/*` only).
    pub attestation_status: Option<String>,
    /// The reason code of an `invalid` attestation, null for `failed` (400 from `/device/attest/*`).
    pub advice: Option<String>,
    /// Whether the desktop fingerprint matched the bound one (400 from `/device/attest/desktop`).
    pub fingerprint_match: Option<bool>,
}

/// One validation error of a 422 problem.
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
        .route("/openapi.json", get(guarded(openapi_json)))
        .route("/docs", get(guarded(docs_page)))
        .route("/docs/", get(guarded(docs_slash)))
        .route("/docs/{asset}", get(guarded(docs_asset)))
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

async fn openapi_json(State(state): State<AppState>) -> Response {
    let body = serde_json::to_string(&document(&state.config)).unwrap_or_else(|_| "{}".into());
    cacheable(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The OpenAPI document of a deployment with configuration `config` (see the module comment).
pub fn document(config: &Config) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    doc["info"]["version"] = Value::from(crate::http::health::VERSION);
    if let Some(base) = &config.http.base_path {
        // Every path is served under BASE_PATH: relative to the document's own origin.
        doc["servers"] = json!([{"url": base}]);
    }
    let schemas = &mut doc["components"]["schemas"];
    for body in rules::BODIES {
        schemas[body.name] = body.schema();
    }
    schemas["EnrollRequest"]["examples"] = json!([{
        "csr": EXAMPLE_CSR,
        "device_id": "dev-12345",
        "platform": "android",
    }]);
    schemas["AuthorizeRequest"]["examples"] = json!([{
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "redirect_uri": "apuntador://oauth-callback",
    }]);
    schemas["DesktopAttestationRequest"]["examples"] = json!([{
        "device_id": "desk-0001",
        "fingerprint": "3f4c5a1b9e0d2c7f8a6b4e1d0c9f7a2b5e8d1c4f7a0b3e6d9c2f5a8b1e4d7c0a",
        "platform_details": {"os": "linux"},
    }]);
    let providers: Vec<Value> = config
        .oauth
        .enabled_providers
        .iter()
        .map(|p| Value::from(p.as_str()))
        .collect();
    if let Some(paths) = doc["paths"].as_object_mut() {
        if providers.is_empty() {
            paths.retain(|path, _| !path.starts_with("/oauth/"));
        }
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                complete_operation(operation, &providers);
            }
        }
    }
    // A tag that no operation carries (`oauth` with no provider enabled) would show as an empty
    // section in /docs.
    let used: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|operation| operation["tags"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(tags) = doc["tags"].as_array_mut() {
        tags.retain(|tag| tag["name"].as_str().is_some_and(|name| used.contains(name)));
    }
    doc
}

/// A real P-256 CSR (its key was discarded), so the documented example enrols.
const EXAMPLE_CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIHPMHYCAQAwFDESMBAGA1UEAwwJZGV2LTEyMzQ1MFkwEwYHKoZIzj0CAQYIKoZI
zj0DAQcDQgAE194lRnSMzRbj49usljNtNbSw/+u2Ph4IZYfLKbDe3g9Z5/dlJ4AV
tcpS9PVrAjmrQ6JnJ9miRBXmIV+gWGOQqqAAMAoGCCqGSM49BAMCA0kAMEYCIQD1
ScvtQ37oWBhLev8MlCHf2Ls54nr80HveERHam4kiUAIhAMx27wVnl9qEUQecMKQ4
GSM6yPpn65/klNVqjTUc7A1K
-----END CERTIFICATE REQUEST-----
";

/// Statuses every operation can answer, whatever the route: the middleware's.
const EVERY_OPERATION: &[(&str, &str)] = &[
    (
        "413",
        "The declared or sent body is larger than BODY_LIMIT_BYTES (default 65536 bytes)",
    ),
    ("500", "Unexpected failure; the process keeps serving"),
    (
        "503",
        "The server binary is at MAX_CONCURRENT_REQUESTS, or its embedded store's write queue is \
         full (`Retry-After: 1`), or a backing store (`store_unavailable`) or the certificate \
         authority (`ca_unavailable`) is unavailable",
    ),
    (
        "504",
        "The request did not complete within REQUEST_TIMEOUT_SECONDS",
    ),
];

/// Statuses of every operation that reads a JSON body.
const JSON_BODY: &[(&str, &str)] = &[
    (
        "400",
        "The body could not be read: broken chunked framing, or shorter than its Content-Length \
         (`invalid_body`)",
    ),
    (
        "415",
        "The Content-Type is not application/json or application/<x>+json",
    ),
    (
        "422",
        "Malformed JSON, not a JSON object, or a member breaking its rule; `errors` lists every \
         problem with its location",
    ),
];

/// Completes one operation object: parameters, common statuses, headers and links.
fn complete_operation(operation: &mut Value, providers: &[Value]) {
    // `get_mut`, not indexing: indexing a missing member would insert a null one.
    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters {
            match (parameter["in"].as_str(), parameter["name"].as_str()) {
                (Some("path"), Some("provider")) => {
                    parameter["schema"] = json!({"type": "string", "enum": providers});
                    parameter["description"] = Value::from(
                        "An OAuth provider this deployment serves (ENABLED_CLOUD_PROVIDERS)",
                    );
                }
                (Some("path"), Some("device_id")) => {
                    parameter["schema"] = rules::DEVICE_ID.schema();
                    parameter["description"] = Value::from(rules::DEVICE_ID.description);
                }
                _ => {}
            }
        }
    }
    if operation["operationId"] == "clear_attestation_cache" {
        // The body is optional (empty clears everything); when sent, it is a JSON object.
        if let Some(body) = operation.get_mut("requestBody") {
            body["required"] = Value::from(false);
            body["content"]["application/json"]["schema"] =
                json!({"$ref": "#/components/schemas/ClearCacheRequest"});
        }
    }
    let reads_json = operation.get("requestBody").is_some();
    let bearer = operation["security"].as_array().is_some_and(|s| {
        s.iter()
            .any(|r| r.get("configApiKey").is_some() || r.get("adminApiKey").is_some())
    });
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let common = EVERY_OPERATION
        .iter()
        .chain(if reads_json { JSON_BODY } else { &[] });
    for (status, reason) in common {
        match responses.get_mut(*status) {
            Some(existing) => {
                let text = existing["description"].as_str().unwrap_or("").to_owned();
                if !text.contains(reason) {
                    existing["description"] = Value::from(if text.is_empty() {
                        (*reason).to_owned()
                    } else {
                        format!("{text}; or: {reason}")
                    });
                }
            }
            None => {
                responses.insert((*status).to_owned(), problem_response(reason));
            }
        }
    }
    for (status, response) in responses.iter_mut() {
        let headers = response
            .as_object_mut()
            .map(|r| r.entry("headers").or_insert_with(|| json!({})));
        let Some(headers) = headers.and_then(Value::as_object_mut) else {
            continue;
        };
        headers.insert(
            "X-Trace-ID".into(),
            json!({
                "description": "The request's trace id (from X-Amzn-Trace-Id or traceparent when \
                                present); equals `trace_id` in problem documents",
                "required": true,
                "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            }),
        );
        match status.as_str() {
            "401" if bearer => {
                headers.insert(
                    "WWW-Authenticate".into(),
                    json!({"required": true, "schema": {"type": "string", "const": "Bearer"}}),
                );
            }
            "429" => {
                headers.insert(
                    "Retry-After".into(),
                    json!({
                        "description": "Seconds until a retry can succeed",
                        "required": true,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    }),
                );
            }
            "503" => {
                headers.insert(
                    "Retry-After".into(),
                    json!({
                        "description": "`1`, except on readiness answers",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    }),
                );
            }
            _ => {}
        }
    }
    if let Some(id) = operation["operationId"].as_str()
        && let Some((status, links)) = links(id)
    {
        operation["responses"][status]["links"] = links;
    }
}

/// A problem-document response with `description`.
fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/ProblemDetail"},
            },
        },
    })
}

/// The links of an operation's success answer: where its values are used next.
fn links(operation_id: &str) -> Option<(&'static str, Value)> {
    let same_provider = "$request.path.provider";
    Some(match operation_id {
        "authorize_oauth" => (
            "200",
            json!({
                "ProviderCallback": {
                    "operationId": "oauth_callback",
                    "description": "The provider sends the browser back with this state",
                    "parameters": {"path.provider": same_provider, "query.state": "$response.body#/state"},
                },
                "ExchangeCode": {
                    "operationId": "exchange_token",
                    "description": "The app exchanges the code with this state and its verifier",
                    "parameters": {"path.provider": same_provider},
                    "requestBody": {
                        "state": "$response.body#/state",
                        "code_verifier": "$request.body#/code_verifier",
                    },
                },
            }),
        ),
        "exchange_token" | "refresh_token" => (
            "200",
            json!({
                "RefreshTokens": {
                    "operationId": "refresh_token",
                    "description": "Refresh with the refresh token",
                    "parameters": {"path.provider": same_provider},
                    "requestBody": {"refresh_token": "$response.body#/refresh_token"},
                },
                "RevokeAccessToken": {
                    "operationId": "revoke_token",
                    "description": "Revoke the access token",
                    "parameters": {"path.provider": same_provider},
                    "requestBody": {"token": "$response.body#/access_token"},
                },
            }),
        ),
        "enroll_device" | "renew_certificate" => (
            if operation_id == "enroll_device" {
                "201"
            } else {
                "200"
            },
            json!({
                "DeviceStatus": {
                    "operationId": "get_device_status",
                    "description": "The status of the issued certificate, presenting it",
                    "parameters": {"path.device_id": "$request.body#/device_id"},
                },
                "RenewCertificate": {
                    "operationId": "renew_certificate",
                    "description": "Renew the issued certificate, presenting it",
                    "requestBody": {
                        "device_id": "$request.body#/device_id",
                        "old_serial": "$response.body#/serial",
                    },
                },
                "RevokeCertificate": {
                    "operationId": "revoke_certificate",
                    "description": "Revoke the device's certificates, presenting the issued one",
                    "requestBody": {"device_id": "$request.body#/device_id"},
                },
            }),
        ),
        _ => return None,
    })
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
