//! Errors as RFC 9457 problem documents.
//!
//! Handlers and extractors return [`ApiError`]. Its `IntoResponse` builds a response carrying a
//! [`Problem`] in the response extensions and no body; the outermost middleware
//! (`http::middleware::handle`) renders the body, because only it knows the routed path
//! (`instance`) and the trace id. Responses produced outside any handler (axum's own rejections, the
//! timeout, the panic catcher) go through the same renderer, so every error is a problem document.
//! This module depends on the store error type only.

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::store::StoreError;

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Detail of the 503 of a shed request.
pub const OVERLOADED_DETAIL: &str = "The service is overloaded; retry later";

/// Detail of every 500 problem (kept from the previous service).
pub const INTERNAL_DETAIL: &str = "An unexpected error occurred. Please try again later.";

/// Every error the API answers with, one variant per kind of failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 Bad Request with a machine `error` code.
    #[error("bad request: {code}")]
    BadRequest {
        /// Machine code, the `error` extension.
        code: &'static str,
        /// Human-readable detail (no secrets).
        detail: String,
    },
    /// 400 Bad Request: an OAuth provider rejected the request; `code` is the provider's (safe) error
    /// code or `provider_error`.
    #[error("provider rejected the request: {code}")]
    ProviderRejected {
        /// The `error` extension.
        code: String,
        /// Human-readable detail.
        detail: String,
    },
    /// 400 Bad Request: attestation evidence was `invalid` or `failed`. Extensions
    /// `attestation_status`, `advice` (null for `failed`) and, on desktop, `fingerprint_match`.
    #[error("attestation {status}")]
    AttestationRejected {
        /// `invalid` or `failed`.
        status: &'static str,
        /// The advice code.
        advice: Option<&'static str>,
        /// Human-readable detail.
        detail: String,
        /// Desktop only: whether the fingerprint matched the bound one.
        fingerprint_match: Option<bool>,
    },
    /// 401 Unauthorized for bearer-key routes; carries `WWW-Authenticate: Bearer`.
    #[error("bearer authentication failed: {code}")]
    BearerUnauthorized {
        /// `missing_credentials` or `invalid_credentials`.
        code: &'static str,
        /// Human-readable detail.
        detail: &'static str,
    },
    /// 401 Unauthorized without `WWW-Authenticate` (client certificates).
    #[error("authentication required: {code}")]
    Unauthorized {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 403 Forbidden.
    #[error("forbidden: {code}")]
    Forbidden {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 404 Not Found for an unknown path (generic detail, no `error` code).
    #[error("route not found")]
    RouteNotFound,
    /// 404 Not Found with a machine code (provider not enabled, no certificate record).
    #[error("not found: {code}")]
    NotFound {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 405 Method Not Allowed; `allow` becomes the `Allow` header.
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// Value of the `Allow` header, e.g. `GET,HEAD`.
        allow: Option<HeaderValue>,
    },
    /// 409 Conflict.
    #[error("conflict: {code}")]
    Conflict {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 413 Content Too Large: the body exceeds `BODY_LIMIT_BYTES`.
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// 415 Unsupported Media Type: a JSON route without a JSON content type.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422 Validation Error with the `errors` list.
    #[error("validation failed ({} errors)", .0.len())]
    Validation(Vec<FieldError>),
    /// 429 Too Many Requests; `retry_after` seconds become `Retry-After`.
    #[error("rate limited: {code}")]
    TooManyRequests {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// 500 Internal Server Error; `cause` is logged (sanitised), never returned.
    #[error("internal error: {cause}")]
    Internal {
        /// What went wrong, for the log only.
        cause: String,
    },
    /// 501 Not Implemented with a machine code.
    #[error("not implemented: {code}")]
    NotImplemented {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 502 Bad Gateway with a machine code (OAuth provider failures).
    #[error("bad gateway: {code}")]
    BadGateway {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 503 Service Unavailable: the server is at `MAX_CONCURRENT_REQUESTS` (or a saturated store
    /// refused the work at once); `Retry-After: 1`.
    #[error("overloaded")]
    Overloaded,
    /// 503 Service Unavailable: a backing store failed or throttled; `Retry-After: 1`.
    #[error("store unavailable: {cause}")]
    StoreUnavailable {
        /// What failed, for the log only.
        cause: String,
    },
    /// 503 Service Unavailable: the CA could not be loaded; `Retry-After: 1`.
    #[error("certificate authority unavailable")]
    CaUnavailable,
    /// 503 Service Unavailable from readiness, with the `checks` extension and no `Retry-After`.
    #[error("not ready")]
    NotReady {
        /// The readiness checks and their values.
        checks: Map<String, Value>,
    },
    /// 504 Gateway Timeout: the request exceeded `REQUEST_TIMEOUT_SECONDS`.
    #[error("request timed out after {seconds} s")]
    Timeout {
        /// The configured timeout in seconds.
        seconds: u64,
    },
    /// 504 Gateway Timeout with a machine code (OAuth provider timeout).
    #[error("gateway timeout: {code}")]
    GatewayTimeout {
        /// Machine code.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => ApiError::StoreUnavailable { cause },
            // Saturation, not failure: answered like load shedding, without an ERROR line each.
            StoreError::Busy(_) => ApiError::Overloaded,
            StoreError::Conflict(cause) | StoreError::Internal(cause) => {
                ApiError::Internal { cause }
            }
        }
    }
}

/// One item of a 422 `errors` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Location: `["body"]`, `["body","<field>"]` or `["path","<param>"]`.
    pub loc: Vec<String>,
    /// Message; never echoes the offending value.
    pub msg: String,
    /// Error type, e.g. `missing`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl FieldError {
    /// An error located in the body field `field` (or the whole body when `field` is empty).
    pub fn body(field: &str, kind: &'static str, msg: impl Into<String>) -> Self {
        let mut loc = vec!["body".to_owned()];
        if !field.is_empty() {
            loc.push(field.to_owned());
        }
        FieldError {
            loc,
            msg: msg.into(),
            kind,
        }
    }

    /// An error located in the path parameter `param`.
    pub fn path(param: &str, kind: &'static str, msg: impl Into<String>) -> Self {
        FieldError {
            loc: vec!["path".to_owned(), param.to_owned()],
            msg: msg.into(),
            kind,
        }
    }
}

/// A problem ready to render: everything except `instance` and `trace_id`, which the outermost
/// middleware adds. Travels in the response extensions.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `detail` member.
    pub detail: String,
    /// Extension members after `trace_id`, in order (`error`, `errors`, `checks`, …).
    pub extensions: Map<String, Value>,
    /// Internal cause for the 5xx log event; never rendered.
    pub cause: Option<String>,
}

impl Problem {
    /// A problem with the generic detail of `status`.
    pub fn generic(status: StatusCode) -> Self {
        let detail = match status.as_u16() {
            404 => "The requested resource was not found".to_owned(),
            415 => "Content-Type must be application/json".to_owned(),
            500 => INTERNAL_DETAIL.to_owned(),
            503 => OVERLOADED_DETAIL.to_owned(),
            _ => status.canonical_reason().unwrap_or("Error").to_owned(),
        };
        Problem {
            status,
            detail,
            extensions: Map::new(),
            cause: None,
        }
    }

    /// Whether this is the 503 of a shed request (load shedding, the connection limit, a full CPU
    /// pool), as opposed to a failure.
    pub fn is_overload(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
            && self.cause.is_none()
            && self.extensions.is_empty()
            && self.detail == OVERLOADED_DETAIL
    }

    /// The `error` extension, when present.
    pub fn error_code(&self) -> Option<&str> {
        self.extensions.get("error").and_then(Value::as_str)
    }

    /// Renders the JSON body, members in a fixed order: `type`, `title`, `status`, `detail`,
    /// `instance`, `trace_id`, then the extensions (one named like a fixed member replaces its value
    /// in place).
    pub fn to_body(&self, instance: &str, trace_id: &str) -> String {
        let body = ProblemBody {
            problem: self,
            instance,
            trace_id,
        };
        // Strings and JSON values serialise into memory without error.
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// The members every problem document starts with, in their order (`ProblemBody` writes them; an
/// extension of the same name takes its member's place instead of being written again).
const FIXED_MEMBERS: [&str; 6] = ["type", "title", "status", "detail", "instance", "trace_id"];

/// A problem document written straight to JSON. Every error answer is rendered by it, and under
/// overload 503s (sheds and refusals at a full store queue alike) are most of the answers: building a
/// `serde_json::Value` tree first cost about a third of the instructions of a shed request.
struct ProblemBody<'a> {
    problem: &'a Problem,
    instance: &'a str,
    trace_id: &'a str,
}

impl Serialize for ProblemBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;

        let problem = self.problem;
        let extensions = &problem.extensions;
        let (type_uri, title) = type_and_title(problem.status);
        let mut map = serializer.serialize_map(Some(6 + extensions.len()))?;
        fixed_entry(&mut map, extensions, "type", type_uri)?;
        fixed_entry(&mut map, extensions, "title", title)?;
        fixed_entry(&mut map, extensions, "status", &problem.status.as_u16())?;
        fixed_entry(&mut map, extensions, "detail", &problem.detail)?;
        fixed_entry(&mut map, extensions, "instance", self.instance)?;
        fixed_entry(&mut map, extensions, "trace_id", self.trace_id)?;
        for (key, value) in extensions {
            if !FIXED_MEMBERS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Writes the fixed member `key`, or the extension of the same name in its place.
fn fixed_entry<M: serde::ser::SerializeMap, V: Serialize + ?Sized>(
    map: &mut M,
    extensions: &Map<String, Value>,
    key: &str,
    value: &V,
) -> Result<(), M::Error> {
    match extensions.get(key) {
        Some(replaced) => map.serialize_entry(key, replaced),
        None => map.serialize_entry(key, value),
    }
}

/// The `type` URI and `title` of a status.
pub fn type_and_title(status: StatusCode) -> (&'static str, &'static str) {
    macro_rules! rfc7231 {
        ($section:literal) => {
            concat!(
                "https://datatracker.ietf.org/doc/html/rfc7231#section-",
                $section
            )
        };
    }
    match status.as_u16() {
        400 => (rfc7231!("6.5.1"), "Bad Request"),
        401 => (
            "https://datatracker.ietf.org/doc/html/rfc7235#section-3.1",
            "Unauthorized",
        ),
        403 => (rfc7231!("6.5.3"), "Forbidden"),
        404 => (rfc7231!("6.5.4"), "Not Found"),
        405 => (rfc7231!("6.5.5"), "Method Not Allowed"),
        409 => (rfc7231!("6.5.8"), "Conflict"),
        413 => (rfc7231!("6.5.11"), "Content Too Large"),
        415 => (rfc7231!("6.5.13"), "Unsupported Media Type"),
        422 => (
            "https://datatracker.ietf.org/doc/html/rfc4918#section-11.2",
            "Validation Error",
        ),
        429 => (
            "https://datatracker.ietf.org/doc/html/rfc6585#section-4",
            "Too Many Requests",
        ),
        500 => (rfc7231!("6.6.1"), "Internal Server Error"),
        501 => (rfc7231!("6.6.2"), "Not Implemented"),
        502 => (rfc7231!("6.6.3"), "Bad Gateway"),
        503 => (rfc7231!("6.6.4"), "Service Unavailable"),
        504 => (rfc7231!("6.6.5"), "Gateway Timeout"),
        s if s >= 500 => (rfc7231!("6.6.1"), "Internal Server Error"),
        _ => (rfc7231!("6.5.1"), "Bad Request"),
    }
}

fn with_code(status: StatusCode, code: &str, detail: String) -> Problem {
    let mut p = Problem {
        status,
        detail,
        extensions: Map::new(),
        cause: None,
    };
    p.extensions
        .insert("error".into(), Value::String(code.into()));
    p
}

impl ApiError {
    /// The problem this error renders as, plus extra response headers.
    pub fn into_problem(self) -> (Problem, Vec<(HeaderName, HeaderValue)>) {
        let retry_1 = || vec![(header::RETRY_AFTER, HeaderValue::from_static("1"))];
        match self {
            ApiError::BadRequest { code, detail } => {
                (with_code(StatusCode::BAD_REQUEST, code, detail), vec![])
            }
            ApiError::ProviderRejected { code, detail } => {
                (with_code(StatusCode::BAD_REQUEST, &code, detail), vec![])
            }
            ApiError::AttestationRejected {
                status,
                advice,
                detail,
                fingerprint_match,
            } => {
                let mut p = Problem {
                    status: StatusCode::BAD_REQUEST,
                    detail,
                    extensions: Map::new(),
                    cause: None,
                };
                p.extensions
                    .insert("attestation_status".into(), Value::from(status));
                p.extensions
                    .insert("advice".into(), advice.map_or(Value::Null, Value::from));
                if let Some(matched) = fingerprint_match {
                    p.extensions
                        .insert("fingerprint_match".into(), Value::Bool(matched));
                }
                (p, vec![])
            }
            ApiError::BearerUnauthorized { code, detail } => (
                with_code(StatusCode::UNAUTHORIZED, code, detail.into()),
                vec![(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            ),
            ApiError::Unauthorized { code, detail } => {
                (with_code(StatusCode::UNAUTHORIZED, code, detail), vec![])
            }
            ApiError::Forbidden { code, detail } => {
                (with_code(StatusCode::FORBIDDEN, code, detail), vec![])
            }
            ApiError::RouteNotFound => (Problem::generic(StatusCode::NOT_FOUND), vec![]),
            ApiError::NotFound { code, detail } => {
                (with_code(StatusCode::NOT_FOUND, code, detail), vec![])
            }
            ApiError::MethodNotAllowed { method, allow } => {
                let mut p = Problem::generic(StatusCode::METHOD_NOT_ALLOWED);
                p.detail = format!("Method {method} is not allowed for this resource");
                (p, allow.map(|v| (header::ALLOW, v)).into_iter().collect())
            }
            ApiError::Conflict { code, detail } => {
                (with_code(StatusCode::CONFLICT, code, detail), vec![])
            }
            ApiError::PayloadTooLarge { limit } => {
                let mut p = Problem::generic(StatusCode::PAYLOAD_TOO_LARGE);
                p.detail = format!("Request body exceeds {limit} bytes");
                (p, vec![])
            }
            ApiError::UnsupportedMediaType => {
                (Problem::generic(StatusCode::UNSUPPORTED_MEDIA_TYPE), vec![])
            }
            ApiError::Validation(errors) => {
                let n = errors.len();
                let noun = if n == 1 { "error" } else { "errors" };
                let detail = format!("One or more validation errors occurred ({n} {noun}).");
                let mut p = Problem {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    detail,
                    extensions: Map::new(),
                    cause: None,
                };
                p.extensions.insert(
                    "errors".into(),
                    serde_json::to_value(errors).unwrap_or(Value::Null),
                );
                (p, vec![])
            }
            ApiError::TooManyRequests {
                code,
                detail,
                retry_after,
            } => (
                with_code(StatusCode::TOO_MANY_REQUESTS, code, detail),
                vec![(header::RETRY_AFTER, HeaderValue::from(retry_after))],
            ),
            ApiError::Internal { cause } => {
                let mut p = Problem::generic(StatusCode::INTERNAL_SERVER_ERROR);
                p.cause = Some(cause);
                (p, vec![])
            }
            ApiError::NotImplemented { code, detail } => {
                (with_code(StatusCode::NOT_IMPLEMENTED, code, detail), vec![])
            }
            ApiError::BadGateway { code, detail } => {
                (with_code(StatusCode::BAD_GATEWAY, code, detail), vec![])
            }
            ApiError::Overloaded => (Problem::generic(StatusCode::SERVICE_UNAVAILABLE), retry_1()),
            ApiError::StoreUnavailable { cause } => {
                let mut p = with_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "A backing service is temporarily unavailable".into(),
                );
                p.cause = Some(cause);
                (p, retry_1())
            }
            ApiError::CaUnavailable => (
                with_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ca_unavailable",
                    "The certificate authority is not available".into(),
                ),
                retry_1(),
            ),
            ApiError::NotReady { checks } => {
                let mut p = Problem::generic(StatusCode::SERVICE_UNAVAILABLE);
                p.detail = "Service is not ready".into();
                p.extensions.insert("checks".into(), Value::Object(checks));
                (p, vec![])
            }
            ApiError::Timeout { seconds } => {
                let mut p = Problem::generic(StatusCode::GATEWAY_TIMEOUT);
                p.detail = format!("The request did not complete within {seconds} seconds");
                (p, vec![])
            }
            ApiError::GatewayTimeout { code, detail } => {
                (with_code(StatusCode::GATEWAY_TIMEOUT, code, detail), vec![])
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (problem, headers) = self.into_problem();
        problem_response(problem, headers)
    }
}

/// A bodiless response carrying `problem` in its extensions, for the outer middleware to render.
pub fn problem_response(problem: Problem, headers: Vec<(HeaderName, HeaderValue)>) -> Response {
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = problem.status;
    for (name, value) in headers {
        res.headers_mut().insert(name, value);
    }
    res.extensions_mut().insert(problem);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_body_members_appear_in_spec_order() {
        let (p, _) = ApiError::BadRequest {
            code: "invalid_state",
            detail: "Invalid state".into(),
        }
        .into_problem();
        let body = p.to_body(
            "/oauth/token/googledrive",
            "5759e988bd862e3fe1be46a994272793",
        );
        assert_eq!(
            body,
            r#"{"type":"https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1","title":"Bad Request","status":400,"detail":"Invalid state","instance":"/oauth/token/googledrive","trace_id":"5759e988bd862e3fe1be46a994272793","error":"invalid_state"}"#
        );
    }

    /// The document as a `serde_json::Value` tree renders it: the fixed members, then the
    /// extensions, a repeated name keeping its first place and its last value.
    fn rendered_through_a_value_tree(p: &Problem, instance: &str, trace_id: &str) -> String {
        let (type_uri, title) = type_and_title(p.status);
        let mut doc = Map::new();
        doc.insert("type".into(), type_uri.into());
        doc.insert("title".into(), title.into());
        doc.insert("status".into(), p.status.as_u16().into());
        doc.insert("detail".into(), p.detail.clone().into());
        doc.insert("instance".into(), instance.into());
        doc.insert("trace_id".into(), trace_id.into());
        for (k, v) in &p.extensions {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc).to_string()
    }

    proptest::proptest! {
        #[test]
        fn problem_body_is_the_json_of_its_members_in_order(
            status in 400u16..600,
            detail in "\\PC*|[\"\\\\\u{0}-\u{1f}é€😀]{0,8}",
            instance in "/[a-z/%.]{0,12}",
            trace_id in "[0-9a-f]{32}",
            extensions in proptest::collection::vec(
                ("error|errors|checks|detail|type|status|x[a-z]{0,3}", "\\PC{0,8}"),
                0..4,
            ),
        ) {
            let mut p = Problem::generic(StatusCode::from_u16(status).unwrap());
            p.detail = detail;
            for (k, v) in extensions {
                p.extensions.insert(k, Value::String(v));
            }
            let body = p.to_body(&instance, &trace_id);
            proptest::prop_assert_eq!(&body, &rendered_through_a_value_tree(&p, &instance, &trace_id));
            let parsed: Map<String, Value> = serde_json::from_str(&body).unwrap();
            let names: Vec<&str> = parsed.keys().take(6).map(String::as_str).collect();
            proptest::prop_assert_eq!(names, FIXED_MEMBERS);
        }
    }

    #[test]
    fn problem_body_escapes_quotes_and_control_characters() {
        let mut p = Problem::generic(StatusCode::CONFLICT);
        p.detail = "a \"quoted\" \\ line\nand\u{7}bell".into();
        p.extensions.insert(
            "errors".into(),
            serde_json::json!([{"loc": ["body", "x"], "msg": "tab\there"}]),
        );
        let body = p.to_body("/device/enroll", "0");
        assert_eq!(
            body,
            r#"{"type":"https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.8","title":"Conflict","status":409,"detail":"a \"quoted\" \\ line\nand\u0007bell","instance":"/device/enroll","trace_id":"0","errors":[{"loc":["body","x"],"msg":"tab\there"}]}"#
        );
    }

    #[test]
    fn validation_detail_counts_errors_in_singular_and_plural() {
        let one = ApiError::Validation(vec![FieldError::body("a", "missing", "Field required")])
            .into_problem()
            .0;
        assert_eq!(
            one.detail,
            "One or more validation errors occurred (1 error)."
        );
        let two = ApiError::Validation(vec![
            FieldError::body("a", "missing", "Field required"),
            FieldError::body("b", "missing", "Field required"),
        ])
        .into_problem()
        .0;
        assert_eq!(
            two.detail,
            "One or more validation errors occurred (2 errors)."
        );
        assert_eq!(
            two.extensions["errors"][0],
            serde_json::json!({"loc":["body","a"],"msg":"Field required","type":"missing"})
        );
    }

    #[test]
    fn store_unavailable_maps_to_503_with_retry_after_and_hides_the_cause() {
        let (p, headers) =
            ApiError::from(StoreError::Unavailable("throttled by table x".into())).into_problem();
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(p.error_code(), Some("store_unavailable"));
        assert!(!p.to_body("/", "0").contains("throttled"));
        assert_eq!(
            headers,
            vec![(header::RETRY_AFTER, HeaderValue::from_static("1"))]
        );
    }

    #[test]
    fn a_busy_store_is_answered_like_a_shed_request() {
        let (p, headers) =
            ApiError::from(StoreError::Busy("the write queue is full".into())).into_problem();
        assert!(p.is_overload());
        assert!(!p.to_body("/", "0").contains("queue"));
        assert_eq!(
            headers,
            vec![(header::RETRY_AFTER, HeaderValue::from_static("1"))]
        );
    }

    #[test]
    fn every_status_of_the_table_has_its_title() {
        for (code, title) in [
            (401, "Unauthorized"),
            (413, "Content Too Large"),
            (422, "Validation Error"),
            (504, "Gateway Timeout"),
        ] {
            assert_eq!(type_and_title(StatusCode::from_u16(code).unwrap()).1, title);
        }
    }
}
