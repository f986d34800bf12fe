//! Extractors that turn requests into validated values: JSON bodies, bearer keys
//! and device client certificates ([`DeviceIdentity`]). Every rejection is
//! an [`ApiError`], so it renders as a problem document.

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use http::{HeaderMap, header};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, FieldError};
use crate::http::middleware::RequestContext;
use crate::state::AppState;

/// A request body type built from a JSON object with the field rules of its route.
pub trait FromJsonObject: Sized {
    /// Validates every field in the route's documented order, reporting all errors at once.
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>>;
}

/// A JSON body: content type checked (415), size bounded (413), parsed (422 `json_invalid`), must be an
/// object (422 `object_type`), then validated field by field (422).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Whether a `Content-Type` is `application/json` or `application/<x>+json`, parameters allowed.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some("json") => true,
        Some(sub) => sub.len() > "+json".len() && sub.ends_with("+json"),
        None => false,
    }
}

/// Reads the whole body, at most `BODY_LIMIT_BYTES` of it: 413 beyond the limit (without buffering
/// more), 400 `invalid_body` when the body cannot be read to its end — broken chunked framing, or a
/// connection that ends before the declared `Content-Length`.
pub async fn read_body(req: Request) -> Result<bytes::Bytes, ApiError> {
    let limit = RequestContext::with(|c| c.body_limit).unwrap_or(65_536);
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|err| body_error(&err, limit))
}

/// Sorts a body-read failure: the length limit, or anything else the transport reports.
fn body_error(err: &axum::Error, limit: usize) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge { limit };
        }
        cause = e.source();
    }
    tracing::debug!(error = %err, "request body could not be read");
    ApiError::BadRequest {
        code: "invalid_body",
        detail: "The request body is malformed or incomplete".into(),
    }
}

/// Parses bytes as a JSON object; anything else is a 422 with its `errors` list.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Validation(vec![FieldError::body(
            "",
            "object_type",
            "Input should be a valid object",
        )])),
        Err(e) => Err(ApiError::Validation(vec![FieldError::body(
            "",
            "json_invalid",
            format!("Invalid JSON: {e}"),
        )])),
    }
}

impl<S: Send + Sync, T: FromJsonObject> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_body(req).await?;
        let object = parse_object(&bytes)?;
        T::from_object(&object)
            .map(JsonBody)
            .map_err(ApiError::Validation)
    }
}

/// Field-by-field validation of one JSON object, collecting every error.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

fn chars(n: usize) -> &'static str {
    if n == 1 { "character" } else { "characters" }
}

impl<'a> Fields<'a> {
    /// Starts validating `object`.
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Fields {
            object,
            errors: Vec::new(),
        }
    }

    /// A string field that must be present, with a length in `min..=max` Unicode scalar values.
    pub fn required_str(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        match self.object.get(name) {
            None => {
                self.errors
                    .push(FieldError::body(name, "missing", "Field required"));
                None
            }
            Some(value) => self.string(name, value, min, max),
        }
    }

    /// A string field that may be absent or null, at most `max` Unicode scalar values.
    pub fn optional_str(&mut self, name: &str, max: usize) -> Option<String> {
        match self.object.get(name) {
            None | Some(Value::Null) => None,
            Some(value) => self.string(name, value, 0, max),
        }
    }

    fn string(&mut self, name: &str, value: &Value, min: usize, max: usize) -> Option<String> {
        let Value::String(s) = value else {
            self.errors.push(FieldError::body(
                name,
                "string_type",
                "Input should be a valid string",
            ));
            return None;
        };
        let len = s.chars().count();
        if len < min {
            let msg = format!("String should have at least {min} {}", chars(min));
            self.errors
                .push(FieldError::body(name, "string_too_short", msg));
            return None;
        }
        if len > max {
            let msg = format!("String should have at most {max} {}", chars(max));
            self.errors
                .push(FieldError::body(name, "string_too_long", msg));
            return None;
        }
        Some(s.clone())
    }

    /// Records a rule-specific `value_error` on `name`.
    pub fn value_error(&mut self, name: &str, message: &str) {
        self.errors.push(FieldError::body(
            name,
            "value_error",
            format!("Value error, {message}"),
        ));
    }

    /// Records any error on `name`.
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// Ends validation: the value built by `build` when there was no error, else every error.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty()
            && let Some(v) = build()
        {
            return Ok(v);
        }
        Err(self.errors)
    }
}

/// Checks `Authorization: Bearer <key>` against `expected` in constant time.
///
/// An `Authorization` header sent more than once is refused as a malformed header (401
/// `invalid_credentials`), never answered with its first value: like a repeated client-certificate
/// header it is ambiguous, and API Gateway would join the copies with a comma — which is malformed too —
/// so both binaries give the same answer.
pub fn check_bearer(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::BearerUnauthorized {
            code: "missing_credentials",
            detail: "Missing Authorization header",
        });
    };
    let malformed = ApiError::BearerUnauthorized {
        code: "invalid_credentials",
        detail: "Invalid Authorization header format. Expected: Bearer <token>",
    };
    if values.next().is_some() {
        return Err(malformed);
    }
    let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
        return Err(malformed);
    };
    let parts: Vec<&str> = text.split_ascii_whitespace().collect();
    let [scheme, token] = parts.as_slice() else {
        return Err(malformed);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed);
    }
    // Hashing first makes the comparison independent of both lengths.
    let given = Sha256::digest(token.as_bytes());
    let wanted = Sha256::digest(expected.as_bytes());
    if bool::from(given.ct_eq(&wanted)) {
        Ok(())
    } else {
        Err(ApiError::BearerUnauthorized {
            code: "invalid_credentials",
            detail: "Invalid API key",
        })
    }
}

/// Proof that the request carried the `CONFIG_API_KEY` bearer key.
#[derive(Debug)]
pub struct ConfigApiKey;

impl FromRequestParts<AppState> for ConfigApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(key) = state.config.auth.config_api_key.expose() else {
            return Err(ApiError::Internal {
                cause: "CONFIG_API_KEY reference was not resolved".into(),
            });
        };
        check_bearer(&parts.headers, key).map(|()| ConfigApiKey)
    }
}

/// Proof that the request carried the `ADMIN_API_KEY` bearer key. When no admin key
/// is configured the admin API is disabled: 403 `admin_disabled`, before any key is looked at.
#[derive(Debug)]
pub struct AdminApiKey;

impl FromRequestParts<AppState> for AdminApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(configured) = &state.config.auth.admin_api_key else {
            return Err(ApiError::Forbidden {
                code: "admin_disabled",
                detail: "The admin API is disabled".into(),
            });
        };
        let Some(key) = configured.expose() else {
            return Err(ApiError::Internal {
                cause: "ADMIN_API_KEY reference was not resolved".into(),
            });
        };
        check_bearer(&parts.headers, key).map(|()| AdminApiKey)
    }
}

/// The client certificate PEM of the Lambda request context (HTTP API v2
/// `requestContext.authentication.clientCert.clientCertPem`, REST v1
/// `requestContext.identity.clientCert.clientCertPem`), the `lambda-context` certificate source.
///
/// Only the Lambda binary's adapter inserts it into the request extensions: the library never reads
/// `lambda_http` types, and a request arriving over TCP cannot carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaClientCert(pub String);

/// The DER of the client certificate presented in the server's own TLS handshake (`TLS_CERT_FILE`), the
/// `tls` source: the handshake proved possession of its private key, and its issuer was checked
/// against the current and previous CA before the first request.
///
/// Only the server's TLS accept path ([`crate::server`]) inserts it, once per connection, into every
/// request of that connection; nothing a client sends can create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientCert(pub std::sync::Arc<[u8]>);

/// A header's single value for certificate sources: `Ok(None)` when absent or empty, `Err` when it
/// occurs more than once or is not text (such a source is rejected, not skipped, so a client cannot
/// smuggle a second value past the edge's).
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, UndecodableCertificate> {
    let mut values = headers.get_all(name).iter();
    let (Some(first), None) = (values.next(), values.next()) else {
        return if headers.contains_key(name) {
            Err(UndecodableCertificate)
        } else {
            Ok(None)
        };
    };
    let text = first.to_str().map_err(|_| UndecodableCertificate)?;
    Ok(Some(text).filter(|t| !t.trim().is_empty()))
}

/// The first present certificate source could not be decoded, or a source header was repeated:
/// 403 `certificate_invalid`, later sources are not tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndecodableCertificate;

/// The DER of the client certificate from the first enabled source that is present:
/// `Ok(None)` when no source is present.
pub fn client_certificate_der(
    parts: &Parts,
    pki: &crate::config::PkiConfig,
) -> Result<Option<Vec<u8>>, UndecodableCertificate> {
    use crate::config::CertSource;
    use crate::pki::source;
    for source_id in &pki.client_cert_sources {
        let decoded = match source_id {
            CertSource::Tls => match parts.extensions.get::<TlsClientCert>() {
                Some(cert) if !cert.0.is_empty() => Some(cert.0.to_vec()),
                _ => continue,
            },
            CertSource::LambdaContext => match parts.extensions.get::<LambdaClientCert>() {
                Some(cert) if !cert.0.trim().is_empty() => source::from_lambda_context(&cert.0),
                _ => continue,
            },
            CertSource::Alb => {
                let leaf = single_header(&parts.headers, "x-amzn-mtls-clientcert-leaf")?;
                let value = match leaf {
                    Some(v) => v,
                    None => match single_header(&parts.headers, "x-amzn-mtls-clientcert")? {
                        Some(v) => v,
                        None => continue,
                    },
                };
                source::from_alb(value)
            }
            CertSource::Header => {
                match single_header(&parts.headers, pki.client_cert_header.as_str())? {
                    Some(v) => source::from_header(v),
                    None => continue,
                }
            }
            CertSource::Xfcc => match single_header(&parts.headers, "x-forwarded-client-cert")? {
                Some(v) => source::from_xfcc(v),
                None => continue,
            },
        };
        return decoded.map(Some).ok_or(UndecodableCertificate);
    }
    Ok(None)
}

/// A device authenticated by its client certificate: every check passed, including
/// the registration, revocation and exact-match checks against one point read of its record.
///
/// Used by exactly the protected routes. Rejections: 401 `certificate_required`, 403 with the code
/// of the failed check, 503 `ca_unavailable` or `store_unavailable`. On success the device id and
/// serial are recorded for the request's completion log. Device binding is the handler's step,
/// after body validation.
#[derive(Debug, Clone)]
pub struct DeviceIdentity(pub crate::devices::AuthenticatedDevice);

impl FromRequestParts<AppState> for DeviceIdentity {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let der = match client_certificate_der(parts, &state.config.pki) {
            Ok(Some(der)) => der,
            Ok(None) => {
                return Err(ApiError::Unauthorized {
                    code: "certificate_required",
                    detail: "Client certificate required for this endpoint".into(),
                });
            }
            Err(UndecodableCertificate) => {
                return Err(ApiError::Forbidden {
                    code: "certificate_invalid",
                    detail: crate::pki::Rejection::Invalid.to_string(),
                });
            }
        };
        let device = crate::devices::authenticate(state, &der, chrono::Utc::now()).await?;
        RequestContext::with(|ctx| ctx.record_device(&device.device_id, &device.serial));
        Ok(DeviceIdentity(device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn auth(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        h
    }

    fn code(r: Result<(), ApiError>) -> Option<String> {
        r.err()
            .map(|e| e.into_problem().0.error_code().unwrap_or("").to_owned())
    }

    #[test]
    fn bearer_accepts_any_scheme_case_and_extra_whitespace() {
        assert!(check_bearer(&auth("bearer   k1"), "k1").is_ok());
        assert!(check_bearer(&auth("BEARER\tk1"), "k1").is_ok());
    }

    #[test]
    fn bearer_rejects_missing_malformed_and_wrong_keys_with_their_codes() {
        assert_eq!(
            code(check_bearer(&HeaderMap::new(), "k")),
            Some("missing_credentials".into())
        );
        assert_eq!(
            code(check_bearer(&auth("Bearer"), "k")),
            Some("invalid_credentials".into())
        );
        assert_eq!(
            code(check_bearer(&auth("Basic k"), "k")),
            Some("invalid_credentials".into())
        );
        assert_eq!(
            code(check_bearer(&auth("Bearer k extra"), "k")),
            Some("invalid_credentials".into())
        );
        assert_eq!(
            code(check_bearer(&auth("Bearer nope"), "k")),
            Some("invalid_credentials".into())
        );
    }

    #[test]
    fn a_repeated_authorization_header_is_malformed_even_when_both_copies_are_right() {
        let mut h = auth("Bearer k1");
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer k1"));
        let err = check_bearer(&h, "k1").unwrap_err();
        let (problem, headers) = err.into_problem();
        assert_eq!(problem.status, http::StatusCode::UNAUTHORIZED);
        assert_eq!(problem.error_code(), Some("invalid_credentials"));
        assert_eq!(
            problem.detail,
            "Invalid Authorization header format. Expected: Bearer <token>"
        );
        assert_eq!(headers[0].0, header::WWW_AUTHENTICATE);
    }

    #[test]
    fn json_content_types_with_parameters_and_suffixes_are_accepted() {
        let ct = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            is_json_content_type(&h)
        };
        assert!(ct("application/json"));
        assert!(ct("Application/JSON; charset=utf-8"));
        assert!(ct("application/merge-patch+json"));
        assert!(!ct("application/+json"));
        assert!(!ct("text/json"));
        assert!(!ct("application/x-www-form-urlencoded"));
    }

    #[test]
    fn malformed_json_is_one_json_invalid_error_with_a_position() {
        let err = parse_object(b"{\"a\": ").unwrap_err();
        let p = err.into_problem().0;
        let errors = p.extensions["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["type"], "json_invalid");
        assert!(errors[0]["msg"].as_str().unwrap().contains("line 1 column"));
    }

    #[test]
    fn fields_report_every_error_in_order_without_echoing_values() {
        let obj: Map<String, Value> =
            serde_json::from_str(r#"{"b": 5, "c": "secretvalue"}"#).unwrap();
        let mut f = Fields::new(&obj);
        f.required_str("a", 1, 10);
        f.required_str("b", 1, 10);
        f.required_str("c", 1, 3);
        let errors = f.finish(|| Some(())).unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["missing", "string_type", "string_too_long"]);
        assert!(errors.iter().all(|e| !e.msg.contains("secretvalue")));
    }
}
