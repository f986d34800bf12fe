//! HTTP conventions shared by both binaries (base path, docs, version, body and time limits, CPU-heavy
//! job slots) and the CORS rules: which origins, methods and headers a browser may use.

use std::time::Duration;

use super::values::{check_authority, has_bad_chars, split_scheme};
use super::{ConfigProblem, Reader, SECONDS};

/// HTTP conventions shared by both binaries: base path, docs, version, body and time limits, CPU jobs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `BASE_PATH`, default empty: `/seg[/seg…]` stripped from request paths. `None` when empty.
    pub base_path: Option<String>,
    /// `ENABLE_DOCS`, default false: serve `/openapi.json` and `/docs`.
    pub enable_docs: bool,
    /// `PROJECT_VERSION`, default the service version, at most 32 characters: `version` of
    /// `/config/providers`.
    pub project_version: String,
    /// `BODY_LIMIT_BYTES`, default 65536, 1024-1048576.
    pub body_limit_bytes: usize,
    /// `REQUEST_TIMEOUT_SECONDS`, default 20 s, 1-300.
    pub request_timeout: Duration,
    /// `MAX_CPU_JOBS`, default one fewer than the cores (at least 1), 1-1024: CPU-heavy jobs
    /// (signatures, certificate signing, attestation checks) running at once, off the async workers.
    pub max_cpu_jobs: usize,
    /// `MAX_QUEUED_CPU_JOBS`, default 64, 0-100000: CPU-heavy jobs waiting for a slot; beyond it 503.
    pub max_queued_cpu_jobs: usize,
}

/// CORS settings.
#[derive(Debug, Clone)]
pub struct CorsConfig {
    /// `ALLOWED_ORIGINS`: exact origins, or any origin (`*`).
    pub allowed_origins: AllowedOrigins,
    /// `CORS_ALLOWED_METHODS`, default `GET,POST,OPTIONS`: method tokens, as configured.
    pub allowed_methods: Vec<String>,
    /// `CORS_ALLOWED_HEADERS`, default `Content-Type,Authorization,X-Client-Cert,X-Device-ID`.
    pub allowed_headers: AllowedHeaders,
    /// `CORS_MAX_AGE_SECONDS`, default 600, 0-86400.
    pub max_age_seconds: u32,
}

/// Which origins CORS allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: any origin, never with credentials.
    Any,
    /// Exact `scheme://host[:port]` origins.
    List(Vec<String>),
}

/// Which request headers a preflight allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHeaders {
    /// `*`: mirror `Access-Control-Request-Headers`.
    Mirror,
    /// Header names, as configured.
    List(Vec<String>),
}

/// Default `ALLOWED_ORIGINS`: local web development servers and the Capacitor and Tauri shells.
const DEFAULT_ALLOWED_ORIGINS: &str =
    "http://localhost:3000,http://localhost:5173,capacitor://localhost,tauri://localhost";

// What `Reader::number` calls this area's numbers in its problems.
const BYTES: &str = "number of bytes";
const JOBS: &str = "number of jobs";

/// Default `MAX_CPU_JOBS`: one fewer than the cores this process may use, at least one, so CPU-heavy
/// work never takes every core from the async workers.
fn default_cpu_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

impl Reader<'_> {
    /// The HTTP conventions: `BASE_PATH` to `MAX_QUEUED_CPU_JOBS`.
    pub(super) fn http(&mut self) -> HttpConfig {
        HttpConfig {
            base_path: self.optional("BASE_PATH", check_base_path),
            enable_docs: self.boolean("ENABLE_DOCS", false),
            project_version: self.value(
                "PROJECT_VERSION",
                env!("CARGO_PKG_VERSION").to_owned(),
                |raw| {
                    if raw.chars().count() <= 32 {
                        Ok(raw.to_owned())
                    } else {
                        Err(format!("{raw:?} is longer than 32 characters"))
                    }
                },
            ),
            body_limit_bytes: self.number("BODY_LIMIT_BYTES", 65_536, 1024..=1_048_576, BYTES),
            request_timeout: self.seconds("REQUEST_TIMEOUT_SECONDS", 20, 1..=300),
            max_cpu_jobs: self.number("MAX_CPU_JOBS", default_cpu_jobs(), 1..=1024, JOBS),
            max_queued_cpu_jobs: self.number("MAX_QUEUED_CPU_JOBS", 64, 0..=100_000, JOBS),
        }
    }

    /// The CORS rules: `ALLOWED_ORIGINS` (`*` alone, refused in production) and `CORS_*`.
    pub(super) fn cors(&mut self) -> CorsConfig {
        let origins = self.list("ALLOWED_ORIGINS", DEFAULT_ALLOWED_ORIGINS);
        let allowed_origins = if origins.iter().any(|o| o == "*") {
            if origins.len() > 1 {
                self.problem("ALLOWED_ORIGINS", "* (any origin) must be the only entry");
            }
            if self.production {
                self.problem("ALLOWED_ORIGINS", "* (any origin) is refused in production");
            }
            AllowedOrigins::Any
        } else {
            let mut valid = Vec::new();
            for origin in origins {
                match check_origin(&origin) {
                    Ok(()) => valid.push(origin),
                    Err(message) => self.problem("ALLOWED_ORIGINS", message),
                }
            }
            AllowedOrigins::List(valid)
        };

        let allowed_methods = self.list("CORS_ALLOWED_METHODS", "GET,POST,OPTIONS");
        for method in allowed_methods.iter().filter(|m| !is_token(m)) {
            self.problems.push(ConfigProblem::new(
                "CORS_ALLOWED_METHODS",
                format!("{method:?} is not an HTTP method token"),
            ));
        }

        let headers = self.list(
            "CORS_ALLOWED_HEADERS",
            "Content-Type,Authorization,X-Client-Cert,X-Device-ID",
        );
        let allowed_headers = if headers.iter().any(|h| h == "*") {
            if headers.len() > 1 {
                self.problem(
                    "CORS_ALLOWED_HEADERS",
                    "* (mirror the requested headers) must be the only entry",
                );
            }
            AllowedHeaders::Mirror
        } else {
            for header in headers
                .iter()
                .filter(|h| http::HeaderName::from_bytes(h.as_bytes()).is_err())
            {
                self.problems.push(ConfigProblem::new(
                    "CORS_ALLOWED_HEADERS",
                    format!("{header:?} is not a valid header name"),
                ));
            }
            AllowedHeaders::List(headers)
        };

        CorsConfig {
            allowed_origins,
            allowed_methods,
            allowed_headers,
            max_age_seconds: self.number("CORS_MAX_AGE_SECONDS", 600, 0..=86_400, SECONDS),
        }
    }
}

/// `BASE_PATH`: `/seg[/seg…]`, no empty segment, no trailing `/`, no `*`, `?`, `#` or spaces.
fn check_base_path(raw: &str) -> Result<String, String> {
    let why = if !raw.starts_with('/') {
        "it must start with /"
    } else if raw.ends_with('/') {
        "it must not end with /"
    } else if raw.contains('*') {
        "it must not contain *"
    } else if raw[1..].split('/').any(str::is_empty) {
        "its segments must not be empty"
    } else if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        "it must not contain spaces, ? or #"
    } else {
        return Ok(raw.to_owned());
    };
    Err(format!("{raw:?} is not a base path (/seg[/seg…]): {why}"))
}

/// RFC 9110 `token`, the syntax of a method name.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// An exact CORS origin `scheme://host[:port]`.
fn check_origin(raw: &str) -> Result<(), String> {
    let fail = || format!("{raw:?} is not an origin (scheme://host[:port], without path)");
    if has_bad_chars(raw) {
        return Err(fail());
    }
    let (_, rest) = split_scheme(raw).ok_or_else(fail)?;
    let authority = rest.strip_prefix("//").ok_or_else(fail)?;
    if authority.contains(['/', '?', '#']) {
        return Err(fail());
    }
    check_authority(authority).map_err(|_| fail())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_http_default() {
        let c = ok(&[]);
        assert_eq!(c.http.max_cpu_jobs, default_cpu_jobs());
        assert_eq!(c.http.max_queued_cpu_jobs, 64);
        assert_eq!(c.http.base_path, None);
        assert!(!c.http.enable_docs);
        assert_eq!(c.http.project_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(c.http.body_limit_bytes, 65_536);
        assert_eq!(c.http.request_timeout, Duration::from_secs(20));
        assert_eq!(
            c.cors.allowed_origins,
            AllowedOrigins::List(vec![
                "http://localhost:3000".into(),
                "http://localhost:5173".into(),
                "capacitor://localhost".into(),
                "tauri://localhost".into(),
            ])
        );
        assert_eq!(c.cors.allowed_methods, ["GET", "POST", "OPTIONS"]);
        assert_eq!(
            c.cors.allowed_headers,
            AllowedHeaders::List(vec![
                "Content-Type".into(),
                "Authorization".into(),
                "X-Client-Cert".into(),
                "X-Device-ID".into(),
            ])
        );
        assert_eq!(c.cors.max_age_seconds, 600);
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_http_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            ("BASE_PATH", "api", "must start with /"),
            ("BASE_PATH", "/api/", "must not end with /"),
            ("BASE_PATH", "/", "must not end with /"),
            ("BASE_PATH", "/api/*", "must not contain *"),
            ("BASE_PATH", "/api//v1", "segments must not be empty"),
            ("BASE_PATH", "/api v1", "must not contain spaces"),
            ("BASE_PATH", "/api?x", "must not contain spaces, ? or #"),
            (
                "ENABLE_DOCS",
                "maybe",
                "\"maybe\" is not a boolean (true/false, 1/0, yes/no, on/off)",
            ),
            (
                "PROJECT_VERSION",
                "123456789012345678901234567890123",
                "is longer than 32 characters",
            ),
            (
                "BODY_LIMIT_BYTES",
                "1023",
                "is not a number of bytes (1024-1048576)",
            ),
            (
                "BODY_LIMIT_BYTES",
                "1048577",
                "is not a number of bytes (1024-1048576)",
            ),
            (
                "REQUEST_TIMEOUT_SECONDS",
                "0",
                "is not a number of seconds (1-300)",
            ),
            ("REQUEST_TIMEOUT_SECONDS", "301", "(1-300)"),
            ("MAX_CPU_JOBS", "0", "is not a number of jobs (1-1024)"),
            (
                "MAX_QUEUED_CPU_JOBS",
                "-1",
                "is not a number of jobs (0-100000)",
            ),
            (
                "ALLOWED_ORIGINS",
                "http://localhost:3000/",
                "is not an origin",
            ),
            (
                "ALLOWED_ORIGINS",
                "http://localhost:3000/app",
                "is not an origin",
            ),
            ("ALLOWED_ORIGINS", "localhost:3000", "is not an origin"),
            ("ALLOWED_ORIGINS", "http://", "is not an origin"),
            (
                "ALLOWED_ORIGINS",
                "https://example.com:0",
                "is not an origin",
            ),
            (
                "ALLOWED_ORIGINS",
                "https://*.example.com",
                "is not an origin",
            ),
            (
                "ALLOWED_ORIGINS",
                "https://user@example.com",
                "is not an origin",
            ),
            (
                "ALLOWED_ORIGINS",
                "https://example.com?x=1",
                "is not an origin",
            ),
            (
                "ALLOWED_ORIGINS",
                "*,https://example.com",
                "* (any origin) must be the only entry",
            ),
            (
                "CORS_ALLOWED_METHODS",
                "GET,PO ST",
                "\"PO ST\" is not an HTTP method token",
            ),
            (
                "CORS_ALLOWED_METHODS",
                "GET,(POST)",
                "is not an HTTP method token",
            ),
            (
                "CORS_ALLOWED_HEADERS",
                "Content-Type,X Bad",
                "\"X Bad\" is not a valid header name",
            ),
            (
                "CORS_ALLOWED_HEADERS",
                "*,Content-Type",
                "must be the only entry",
            ),
            (
                "CORS_MAX_AGE_SECONDS",
                "86401",
                "is not a number of seconds (0-86400)",
            ),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_http_value_is_accepted() {
        assert_each_accepted(&[
            ("BASE_PATH", "/api"),
            ("BASE_PATH", "/prod/apuntador-v1"),
            ("ENABLE_DOCS", "TRUE"),
            ("PROJECT_VERSION", "12345678901234567890123456789012"),
            ("BODY_LIMIT_BYTES", "1024"),
            ("BODY_LIMIT_BYTES", "1048576"),
            ("REQUEST_TIMEOUT_SECONDS", "300"),
            ("ALLOWED_ORIGINS", "*"),
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com,http://[::1]:8080,tauri://localhost",
            ),
            ("ALLOWED_ORIGINS", ","),
            ("CORS_ALLOWED_METHODS", "GET,PUT,DELETE,PATCH"),
            ("CORS_ALLOWED_HEADERS", "*"),
            ("CORS_ALLOWED_HEADERS", "Content-Type,X-Custom-Header"),
            ("CORS_MAX_AGE_SECONDS", "0"),
            ("CORS_MAX_AGE_SECONDS", "86400"),
        ]);
    }

    /// Every production-only refusal of this area: (extra variables over a valid production base,
    /// variable, message part); then the accepted side of the same rules.
    #[test]
    fn each_production_refusal_of_the_http_settings_is_a_problem() {
        assert_each_refused_in_production(&[(
            &[("ALLOWED_ORIGINS", "*")],
            "ALLOWED_ORIGINS",
            "* (any origin) is refused in production",
        )]);
        assert_each_accepted_in_production(&[&[(
            "ALLOWED_ORIGINS",
            "https://app.example.com,http://localhost:3000",
        )]]);
    }

    #[test]
    fn a_lone_star_selects_any_origin_and_mirrored_headers() {
        let c = ok(&[("ALLOWED_ORIGINS", "*"), ("CORS_ALLOWED_HEADERS", " * ")]);
        assert_eq!(c.cors.allowed_origins, AllowedOrigins::Any);
        assert_eq!(c.cors.allowed_headers, AllowedHeaders::Mirror);
    }
}
