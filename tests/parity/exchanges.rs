//! The parity exchanges, kept as data. Every later feature adds its rows here.
//!
//! Each row is one request (method, raw path, raw query, headers in order — repeats allowed — and an
//! optional body), the configuration profile it runs under, and what the answer must be. The harness
//! sends it through every transport and requires the normalised answers to be identical.

use std::collections::HashMap;

/// Which configuration an exchange runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// Docs on, all providers enabled, an explicit CORS list, a 2 KiB body limit.
    Standard,
    /// Standard plus `BASE_PATH=/api`.
    BasePath,
    /// Docs off, only Google Drive, `ALLOWED_ORIGINS=*`.
    Open,
}

/// The bearer key of every profile.
pub const CONFIG_KEY: &str = "parity-config-key-0123456789abcdef0123456789";
/// A fixed X-Ray header, so trace ids are comparable across transports.
pub const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// The trace id derived from [`XRAY`].
pub const XRAY_TRACE_ID: &str = "5759e988bd862e3fe1be46a994272793";

impl Profile {
    /// The environment of this profile.
    pub fn env(self) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("ENABLE_DOCS", "true"),
            ("CONFIG_API_KEY", CONFIG_KEY),
            ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox,onedrive"),
            ("GOOGLE_CLIENT_ID", "google-client-id"),
            ("GOOGLE_CLIENT_SECRET", "google-client-secret"),
            ("DROPBOX_CLIENT_ID", "dropbox-client-id"),
            ("ONEDRIVE_CLIENT_ID", "onedrive-client-id"),
            ("ONEDRIVE_CLIENT_SECRET", "onedrive-client-secret"),
            (
                "ALLOWED_ORIGINS",
                "http://localhost:3000,https://app.example.com",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "apuntador://oauth-callback,https://app.example.com/*",
            ),
            ("BODY_LIMIT_BYTES", "2048"),
            ("LOG_LEVEL", "error"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        match self {
            Profile::Standard => {}
            Profile::BasePath => {
                env.insert("BASE_PATH".into(), "/api".into());
            }
            Profile::Open => {
                env.insert("ENABLE_DOCS".into(), "false".into());
                env.insert("ENABLED_CLOUD_PROVIDERS".into(), "googledrive".into());
                env.insert("ALLOWED_ORIGINS".into(), "*".into());
            }
        }
        env
    }
}

/// One request and what its answer must be.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// A sentence naming what the row checks.
    pub name: &'static str,
    /// Configuration profile.
    pub profile: Profile,
    /// Method.
    pub method: &'static str,
    /// Path exactly as sent (may be percent-encoded).
    pub path: &'static str,
    /// Raw query string without `?` (empty for none).
    pub query: &'static str,
    /// Request headers in order; repeats allowed. The harness adds `X-Amzn-Trace-Id` unless the row
    /// sets a trace header itself.
    pub headers: &'static [(&'static str, &'static str)],
    /// Request body.
    pub body: Option<&'static [u8]>,
    /// Expected status.
    pub status: u16,
    /// Substrings the body must contain.
    pub body_contains: &'static [&'static str],
    /// Headers the answer must carry: (name, exact first value), or (name, "") for "absent".
    pub headers_expected: &'static [(&'static str, &'static str)],
}

/// A row of the standard profile without headers or body.
pub const fn ex(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    status: u16,
) -> Exchange {
    Exchange {
        name,
        profile: Profile::Standard,
        method,
        path,
        query: "",
        headers: &[],
        body: None,
        status,
        body_contains: &[],
        headers_expected: &[],
    }
}

const BIG_BODY: &[u8] = &[b'x'; 3000];
const JSON: &[(&str, &str)] = &[("content-type", "application/json")];
const AUTH_OK: &[(&str, &str)] = &[(
    "authorization",
    "Bearer parity-config-key-0123456789abcdef0123456789",
)];

/// Every exchange.
pub fn all() -> Vec<Exchange> {
    let mut rows = vec![
        Exchange {
            body_contains: &[
                r#"{"message":"Apuntador OAuth Backend","version":""#,
                r#""docs":"/docs"}"#,
            ],
            headers_expected: &[
                ("content-type", "application/json"),
                ("cache-control", "no-store"),
                ("x-content-type-options", "nosniff"),
            ],
            ..ex(
                "service info names the service and the docs path",
                "GET",
                "/",
                200,
            )
        },
        Exchange {
            body_contains: &[r#""status":"ok""#, r#""message":"Service is healthy"}"#],
            ..ex("liveness answers ok", "GET", "/health", 200)
        },
        Exchange {
            body_contains: &[r#""message":"Public endpoint (no mTLS)"}"#],
            ..ex("public liveness answers ok", "GET", "/health/public", 200)
        },
        Exchange {
            body_contains: &[
                r#""status":"ready""#,
                r#""checks":{"certificate_store":"ok","session_store":"ok""#,
            ],
            ..ex(
                "readiness reports every store ok",
                "GET",
                "/health/ready",
                200,
            )
        },
        Exchange {
            headers_expected: &[
                ("content-type", "application/json"),
                ("x-trace-id", XRAY_TRACE_ID),
            ],
            ..ex(
                "head on liveness has the get headers and no body",
                "HEAD",
                "/health",
                200,
            )
        },
        ex("head on service info answers 200", "HEAD", "/", 200),
        Exchange {
            body_contains: &[
                r#"{"type":"https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.4","title":"Not Found","status":404,"detail":"The requested resource was not found","instance":"/nope","trace_id":"5759e988bd862e3fe1be46a994272793"}"#,
            ],
            headers_expected: &[
                ("content-type", "application/problem+json"),
                ("cache-control", "no-store"),
            ],
            ..ex("an unknown path is a 404 problem", "GET", "/nope", 404)
        },
        ex("a trailing slash is not redirected", "GET", "/health/", 404),
        ex("paths are case-sensitive", "GET", "/HEALTH", 404),
        // Paths match exactly as sent on every target: no dot-segment resolution, no `\` → `/`, no
        // merging of slashes, no percent-decoding before routing.
        Exchange {
            body_contains: &[r#""instance":"/x/../health""#],
            ..ex("a dot-dot segment is not resolved", "GET", "/x/../health", 404)
        },
        Exchange {
            body_contains: &[r#""instance":"/x/%2e%2e/health""#],
            ..ex("an encoded dot-dot segment is not resolved", "GET", "/x/%2e%2e/health", 404)
        },
        ex("an upper-case encoded dot-dot segment is not resolved", "GET", "/device/x/%2E%2E/ca-certificate", 404),
        ex("a single dot segment is not removed", "GET", "/device/./ca-certificate", 404),
        Exchange {
            body_contains: &[r#""instance":"/device\\ca-certificate""#],
            ..ex("a backslash is not a slash", "GET", "/device\\ca-certificate", 404)
        },
        ex("a backslash dot-dot is not resolved", "GET", "/x\\..\\health", 404),
        ex("a doubled leading slash is not merged", "GET", "//health", 404),
        ex("a doubled inner slash is not merged", "GET", "/device//ca-certificate", 404),
        ex("a trailing dot is not dropped", "GET", "/health.", 404),
        ex("a trailing dot segment is not dropped", "GET", "/health/.", 404),
        ex("an encoded letter is not decoded before routing", "GET", "/%68ealth", 404),
        Exchange {
            profile: Profile::BasePath,
            ..ex("a dot-dot segment under the base path is not resolved", "GET", "/api/x/../health", 404)
        },
        Exchange {
            headers: JSON,
            body: Some(b"{}"),
            body_contains: &[r#""detail":"OAuth provider '%67oogledrive' is not enabled""#, r#""error":"provider_not_enabled""#],
            ..ex("a percent-encoded provider segment is not decoded", "POST", "/oauth/authorize/%67oogledrive", 404)
        },
        Exchange {
            body_contains: &[],
            ..ex(
                "head on an unknown path is 404 without a body",
                "HEAD",
                "/nope",
                404,
            )
        },
        Exchange {
            body_contains: &[
                r#""status":405,"detail":"Method POST is not allowed for this resource","instance":"/health""#,
            ],
            headers_expected: &[("allow", "GET")],
            ..ex(
                "post on a get route is 405 with allow",
                "POST",
                "/health",
                405,
            )
        },
        Exchange {
            headers_expected: &[("allow", "GET")],
            ..ex(
                "delete on the provider config is 405",
                "DELETE",
                "/config/providers",
                405,
            )
        },
        ex(
            "options without preflight headers is routed and answers 405",
            "OPTIONS",
            "/health",
            405,
        ),
        Exchange {
            body_contains: &[
                r#""status":401,"detail":"Missing Authorization header""#,
                r#""error":"missing_credentials""#,
            ],
            headers_expected: &[("www-authenticate", "Bearer")],
            ..ex(
                "provider config without a key is 401",
                "GET",
                "/config/providers",
                401,
            )
        },
        Exchange {
            headers: &[("authorization", "Token abc")],
            body_contains: &[
                r#""detail":"Invalid Authorization header format. Expected: Bearer <token>""#,
                r#""error":"invalid_credentials""#,
            ],
            headers_expected: &[("www-authenticate", "Bearer")],
            ..ex(
                "provider config with a malformed key is 401",
                "GET",
                "/config/providers",
                401,
            )
        },
        Exchange {
            headers: &[("authorization", "Bearer not-the-key")],
            body_contains: &[r#""detail":"Invalid API key""#],
            ..ex(
                "provider config with a wrong key is 401",
                "GET",
                "/config/providers",
                401,
            )
        },
        Exchange {
            headers: &[
                ("authorization", "Bearer parity-config-key-0123456789abcdef0123456789"),
                ("authorization", "Bearer parity-config-key-0123456789abcdef0123456789"),
            ],
            body_contains: &[
                r#""status":401,"detail":"Invalid Authorization header format. Expected: Bearer <token>""#,
                r#""error":"invalid_credentials""#,
            ],
            headers_expected: &[("www-authenticate", "Bearer")],
            ..ex("a repeated authorization header is refused on every target", "GET", "/config/providers", 401)
        },
        Exchange {
            headers: &[
                ("authorization", "Bearer parity-config-key-0123456789abcdef0123456789"),
                ("authorization", "Bearer wrong"),
            ],
            body_contains: &[r#""error":"invalid_credentials""#],
            ..ex("a repeated authorization header with one right key is refused", "GET", "/config/providers", 401)
        },
        Exchange {
            headers: AUTH_OK,
            body_contains: &[
                r#"{"providers":{"googledrive":{"enabled":true,"requires_mtls":true},"dropbox":{"enabled":true,"requires_mtls":true},"onedrive":{"enabled":true,"requires_mtls":true}},"version":"1.0.0","cache_ttl":3600}"#,
            ],
            ..ex(
                "provider config with the right key lists the providers",
                "GET",
                "/config/providers",
                200,
            )
        },
        Exchange {
            headers: &[(
                "authorization",
                "bearer   parity-config-key-0123456789abcdef0123456789",
            )],
            ..ex(
                "the bearer scheme is case-insensitive",
                "GET",
                "/config/providers",
                200,
            )
        },
        Exchange {
            profile: Profile::Open,
            headers: AUTH_OK,
            body_contains: &[
                r#""dropbox":{"enabled":false"#,
                r#""onedrive":{"enabled":false"#,
            ],
            ..ex(
                "provider config reflects enabled providers",
                "GET",
                "/config/providers",
                200,
            )
        },
        Exchange {
            headers: &[
                ("origin", "http://localhost:3000"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-client-cert"),
            ],
            headers_expected: &[
                ("access-control-allow-origin", "http://localhost:3000"),
                ("access-control-allow-credentials", "true"),
                ("access-control-allow-methods", "GET"),
                ("access-control-allow-headers", "Content-Type"),
                ("access-control-max-age", "600"),
                ("vary", "Origin"),
            ],
            ..ex(
                "an allowed preflight on a protected unknown path is 200",
                "OPTIONS",
                "/device/status/device-0001",
                200,
            )
        },
        Exchange {
            headers: &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            headers_expected: &[
                ("access-control-allow-origin", ""),
                ("access-control-allow-methods", ""),
            ],
            ..ex(
                "a disallowed preflight is 200 without allow headers",
                "OPTIONS",
                "/config/providers",
                200,
            )
        },
        Exchange {
            headers: &[("origin", "https://app.example.com")],
            headers_expected: &[
                ("access-control-allow-origin", "https://app.example.com"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "X-Trace-ID"),
            ],
            ..ex("an allowed origin gets cors headers", "GET", "/health", 200)
        },
        Exchange {
            headers: &[("origin", "https://evil.example")],
            headers_expected: &[
                ("access-control-allow-origin", ""),
                ("access-control-allow-credentials", ""),
            ],
            ..ex(
                "another origin is served without cors headers",
                "GET",
                "/health",
                200,
            )
        },
        Exchange {
            headers: &[("origin", "http://localhost:3000")],
            headers_expected: &[
                ("access-control-allow-origin", "http://localhost:3000"),
                ("access-control-expose-headers", "X-Trace-ID"),
            ],
            ..ex(
                "errors to an allowed origin carry cors headers",
                "GET",
                "/nope",
                404,
            )
        },
        Exchange {
            profile: Profile::Open,
            headers: &[("origin", "https://anything.example")],
            headers_expected: &[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", ""),
            ],
            ..ex(
                "a wildcard origin never allows credentials",
                "GET",
                "/health",
                200,
            )
        },
        Exchange {
            query: "a=1&a=2&b=",
            ..ex("repeated query keys are accepted", "GET", "/health", 200)
        },
        Exchange {
            query: "x=a+b",
            ..ex("a plus in the query is accepted", "GET", "/health", 200)
        },
        Exchange {
            query: "x=a%2Bb",
            ..ex(
                "an encoded plus in the query is accepted",
                "GET",
                "/health",
                200,
            )
        },
        Exchange {
            body_contains: &[r#""instance":"/heal%74h""#],
            ..ex(
                "percent-encoded path segments are not decoded for routing",
                "GET",
                "/heal%74h",
                404,
            )
        },
        Exchange {
            body_contains: &[r#""instance":"/config%2Fproviders""#],
            ..ex(
                "an encoded slash does not match a route",
                "GET",
                "/config%2Fproviders",
                404,
            )
        },
        Exchange {
            headers: &[(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )],
            headers_expected: &[("x-trace-id", "0af7651916cd43dd8448eb211c80319c")],
            ..ex("the trace id comes from traceparent", "GET", "/health", 200)
        },
        Exchange {
            headers: &[
                ("x-trace-id", "ffffffffffffffffffffffffffffffff"),
                (
                    "x-amzn-trace-id",
                    "Root=1-67891233-abcdef012345678912345678",
                ),
                (
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ),
            ],
            headers_expected: &[("x-trace-id", "67891233abcdef012345678912345678")],
            body_contains: &[r#""trace_id":"67891233abcdef012345678912345678""#],
            ..ex(
                "the x-ray root wins and an incoming x-trace-id is ignored",
                "GET",
                "/nope",
                404,
            )
        },
        Exchange {
            body: Some(BIG_BODY),
            body_contains: &[r#""status":413,"detail":"Request body exceeds 2048 bytes""#],
            ..ex(
                "a declared body over the limit is 413",
                "GET",
                "/health",
                413,
            )
        },
        Exchange {
            body: Some(BIG_BODY),
            ..ex(
                "routing answers 404 before the body limit",
                "POST",
                "/nope",
                404,
            )
        },
        Exchange {
            body_contains: &[
                r#""openapi":"3.1"#,
                r#""/config/providers""#,
                r#""deviceCertificate""#,
            ],
            headers_expected: &[
                ("cache-control", "public"),
                ("content-type", "application/json"),
            ],
            ..ex(
                "the openapi document is served when docs are enabled",
                "GET",
                "/openapi.json",
                200,
            )
        },
        Exchange {
            body_contains: &["openapi.json"],
            headers_expected: &[
                ("content-type", "text/html; charset=utf-8"),
                ("cache-control", "public"),
            ],
            ..ex(
                "the docs page references the document relatively",
                "GET",
                "/docs",
                200,
            )
        },
        Exchange {
            profile: Profile::Open,
            ..ex("docs are 404 when disabled", "GET", "/docs", 404)
        },
        Exchange {
            profile: Profile::Open,
            ..ex(
                "the document is 404 when disabled",
                "GET",
                "/openapi.json",
                404,
            )
        },
        Exchange {
            profile: Profile::Open,
            body_contains: &[r#""docs":null}"#],
            ..ex(
                "service info has a null docs path when docs are disabled",
                "GET",
                "/",
                200,
            )
        },
        Exchange {
            profile: Profile::BasePath,
            ..ex(
                "the base path is removed before routing",
                "GET",
                "/api/health",
                200,
            )
        },
        Exchange {
            profile: Profile::BasePath,
            body_contains: &[r#""docs":"/api/docs"}"#],
            ..ex(
                "the bare base path routes to the service info",
                "GET",
                "/api",
                200,
            )
        },
        Exchange {
            profile: Profile::BasePath,
            ..ex(
                "paths outside the base path are routed unchanged",
                "GET",
                "/health",
                200,
            )
        },
        Exchange {
            profile: Profile::BasePath,
            body_contains: &[r#""instance":"/apix/health""#],
            ..ex(
                "the base path only matches whole segments",
                "GET",
                "/apix/health",
                404,
            )
        },
        Exchange {
            profile: Profile::BasePath,
            body_contains: &[r#""instance":"/nope""#],
            ..ex(
                "problem instances are the routed path",
                "GET",
                "/api/nope",
                404,
            )
        },
        Exchange {
            headers: &[("content-type", "text/plain")],
            body: Some(b"{}"),
            body_contains: &[r#""status":415,"detail":"Content-Type must be application/json""#],
            ..ex("a json route without a json content type is 415", "POST", "/oauth/authorize/googledrive", 415)
        },
        Exchange { body: Some(b"{}"), ..ex("a json route without any content type is 415", "POST", "/oauth/authorize/googledrive", 415) },
        Exchange {
            headers: &[("content-type", "text/plain")],
            body: Some(b"{}"),
            body_contains: &[r#""detail":"OAuth provider 'icloud' is not enabled""#, r#""error":"provider_not_enabled""#],
            ..ex("an unknown provider is 404 before the content type is checked", "POST", "/oauth/authorize/icloud", 404)
        },
        Exchange {
            profile: Profile::Open,
            headers: JSON,
            body: Some(b"{}"),
            body_contains: &[r#""error":"provider_not_enabled""#],
            ..ex("a disabled provider is 404", "POST", "/oauth/authorize/dropbox", 404)
        },
        Exchange {
            headers: JSON,
            body: Some(b"{\"code_verifier\": "),
            body_contains: &[r#""detail":"One or more validation errors occurred (1 error).""#, r#""errors":[{"loc":["body"],"msg":"Invalid JSON: "#, r#""type":"json_invalid"}]"#],
            ..ex("malformed json is one json_invalid error", "POST", "/oauth/authorize/googledrive", 422)
        },
        Exchange {
            headers: JSON,
            body: Some(b"[1,2]"),
            body_contains: &[r#""errors":[{"loc":["body"],"msg":"Input should be a valid object","type":"object_type"}]"#],
            ..ex("a json array is an object_type error", "POST", "/oauth/authorize/googledrive", 422)
        },
        Exchange {
            headers: &[("content-type", "application/json; charset=utf-8")],
            body: Some(b"{}"),
            body_contains: &[
                r#""detail":"One or more validation errors occurred (2 errors).""#,
                r#""errors":[{"loc":["body","code_verifier"],"msg":"Field required","type":"missing"},{"loc":["body","redirect_uri"],"msg":"Field required","type":"missing"}]"#,
            ],
            ..ex("missing fields are reported together in field order", "POST", "/oauth/authorize/googledrive", 422)
        },
        Exchange {
            headers: &[("content-type", "application/vnd.apuntador+json")],
            body: Some(br#"{"code_verifier":"short+","redirect_uri":"https://app.example.com/cb#frag","state":7}"#),
            body_contains: &[
                r#"{"loc":["body","code_verifier"],"msg":"Value error, code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~","type":"value_error"}"#,
                r#"{"loc":["body","redirect_uri"],"msg":"Value error, redirect_uri must be an absolute URI without a fragment","type":"value_error"}"#,
                r#"{"loc":["body","state"],"msg":"Input should be a valid string","type":"string_type"}"#,
            ],
            ..ex("field rules are value errors that never echo the value", "POST", "/oauth/authorize/dropbox", 422)
        },
        Exchange {
            headers: JSON,
            body: Some(br#"{"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk","redirect_uri":"https://app.example.com.evil/cb"}"#),
            body_contains: &[r#""status":400,"detail":"redirect_uri is not allowed""#, r#""error":"invalid_redirect_uri""#],
            ..ex("a redirect_uri outside the allow-list is 400", "POST", "/oauth/authorize/onedrive", 400)
        },
        Exchange {
            headers: JSON,
            body: Some(BIG_BODY),
            body_contains: &[r#""status":413"#],
            ..ex("a json body over the limit is 413", "POST", "/oauth/authorize/googledrive", 413)
        },
        Exchange { headers_expected: &[("allow", "POST")], ..ex("get on the authorize route is 405", "GET", "/oauth/authorize/googledrive", 405) },
        Exchange {
            body_contains: &[r#"{"certificate":"-----BEGIN CERTIFICATE-----\n"#, r#""format":"PEM","usage":"Add to client truststore for mTLS verification","previous_certificate":null}"#],
            headers_expected: &[("cache-control", "public"), ("content-type", "application/json")],
            ..ex("the ca certificate is public and cacheable", "GET", "/device/ca-certificate", 200)
        },
        Exchange {
            body_contains: &[r#"{"sha256_base64":""#, r#""algorithm":"SHA-256","usage":"Use sha256_base64 for iOS/Android certificate pinning","previous_sha256_base64":null}"#],
            headers_expected: &[("cache-control", "public")],
            ..ex("the ca pin is public and cacheable", "GET", "/device/ca-certificate-pin", 200)
        },
        Exchange {
            profile: Profile::BasePath,
            headers_expected: &[("cache-control", "public")],
            ..ex("the ca certificate is served under the base path", "GET", "/api/device/ca-certificate", 200)
        },
        Exchange { headers_expected: &[("content-length", "")], ..ex("head on the ca certificate has no body", "HEAD", "/device/ca-certificate", 200) },
        Exchange {
            headers: JSON,
            body: Some(br#"{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE REQUEST-----\n","device_id":"dev-12345","platform":"Android"}"#),
            body_contains: &[r#""status":400,"detail":"Invalid enrollment request: Invalid CSR format""#, r#""error":"invalid_csr""#],
            ..ex("a csr that is not pkcs10 is 400 invalid_csr", "POST", "/device/enroll", 400)
        },
        Exchange {
            headers: JSON,
            body: Some(br#"{"csr":"MIIB","device_id":"../etc","platform":"tablet"}"#),
            body_contains: &[
                r#"{"loc":["body","csr"],"msg":"String should have at least 100 characters","type":"string_too_short"}"#,
                r#"{"loc":["body","device_id"],"msg":"String should match pattern '^[A-Za-z0-9_-]{5,128}$'","type":"string_pattern_mismatch"}"#,
                r#"{"loc":["body","platform"],"msg":"Input should be 'android', 'ios', 'desktop' or 'web'","type":"enum"}"#,
            ],
            ..ex("enrolment field errors are reported together", "POST", "/device/enroll", 422)
        },
        Exchange { headers: &[("content-type", "text/plain")], body: Some(b"{}"), ..ex("enrolment needs a json body", "POST", "/device/enroll", 415) },
        Exchange { headers_expected: &[("allow", "POST")], ..ex("get on enrolment is 405", "GET", "/device/enroll", 405) },
        Exchange {
            body_contains: &[r#""status":401,"detail":"Client certificate required for this endpoint","instance":"/device/status/dev-12345""#, r#""error":"certificate_required""#],
            headers_expected: &[("www-authenticate", "")],
            ..ex("status without a certificate is 401", "GET", "/device/status/dev-12345", 401)
        },
        Exchange {
            headers: &[("x-client-cert", "bm90IGEgY2VydGlmaWNhdGU")],
            body_contains: &[r#""detail":"Client certificate is malformed""#, r#""error":"certificate_invalid""#],
            ..ex("a header value that is not x509 is 403", "GET", "/device/status/dev-12345", 403)
        },
        Exchange {
            headers: &[("x-forwarded-client-cert", "Hash=abc;Cert=\"%%%\"")],
            body_contains: &[r#""error":"certificate_invalid""#],
            ..ex("an undecodable xfcc certificate is 403", "GET", "/device/status/dev-12345", 403)
        },
        Exchange {
            headers: JSON,
            body: Some(b"{}"),
            body_contains: &[r#""error":"certificate_required""#],
            ..ex("renewal authenticates before validating the body", "POST", "/device/renew", 401)
        },
        Exchange { body_contains: &[r#""error":"certificate_required""#], ..ex("revocation requires a certificate", "POST", "/device/revoke", 401) },
        Exchange {
            headers: JSON,
            body: Some(b"{}"),
            body_contains: &[r#""status":501,"detail":"Android attestation is not configured","instance":"/device/attest/android""#, r#""error":"attestation_not_configured""#],
            ..ex("unconfigured android attestation is 501 before the body", "POST", "/device/attest/android", 501)
        },
        Exchange {
            body_contains: &[r#""detail":"iOS attestation is not configured""#],
            ..ex("unconfigured ios attestation is 501", "POST", "/device/attest/ios", 501)
        },
        Exchange {
            headers: JSON,
            body: Some(br#"{"device_id":"a/b","fingerprint":"ABC","platform_details":[]}"#),
            body_contains: &[
                r#""errors":[{"loc":["body","device_id"],"msg":"String should match pattern '^[A-Za-z0-9_-]{5,128}$'","type":"string_pattern_mismatch"},{"loc":["body","fingerprint"],"msg":"String should match pattern '^[a-f0-9]{64}$'","type":"string_pattern_mismatch"},{"loc":["body","platform_details"],"msg":"Input should be a valid object","type":"object_type"}]"#,
            ],
            ..ex("desktop attestation field errors are reported together", "POST", "/device/attest/desktop", 422)
        },
        Exchange {
            headers: &[("authorization", "Bearer parity-admin-key-0123456789abcdef0123")],
            body_contains: &[r#""status":403,"detail":"The admin API is disabled""#, r#""error":"admin_disabled""#],
            ..ex("clear-cache without an admin key configured is 403", "POST", "/device/attest/clear-cache", 403)
        },
        Exchange { headers_expected: &[("allow", "POST")], ..ex("get on clear-cache is 405", "GET", "/device/attest/clear-cache", 405) },
    ];
    for row in &mut rows {
        let has_trace = row.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("x-amzn-trace-id") || k.eq_ignore_ascii_case("traceparent")
        });
        if !has_trace {
            let mut headers = row.headers.to_vec();
            headers.push(("x-amzn-trace-id", XRAY));
            row.headers = Box::leak(headers.into_boxed_slice());
        }
    }
    rows
}
