//! Configuration: every environment variable the service reads, parsed and validated once at start-up.
//!
//! `Config::from_env()` reads the process environment (`Config::from_env_with_dotenv` adds an optional
//! `.env` file); `Config::from_lookup(|name| ...)` is the same parser over any lookup function, so tests
//! never touch the process environment. All problems are collected and reported together, in the order
//! of [`VARIABLES`], before failing, and no secret value is ever echoed in a problem. Secrets given as
//! Secrets Manager ARNs stay references until the start-up code resolves them and calls
//! `Config::apply_resolved_secrets`, which runs the checks that need their values.
//!
//! This file holds the tree's root ([`Config`], [`Environment`]), the shared `Reader` (lookup, typed
//! values, problem collection), the error report and the `.env` parser. Each area has its own file with
//! its types, defaults, rules and parsing side by side, re-exported here: `server` (bind address, limits,
//! shutdown, TLS door), `http` (HTTP conventions and CORS), `auth` (bearer keys, secret-capable values),
//! `oauth` (providers and redirect URIs), `pki` (certificate validity and sources), `attestation` (Play
//! Integrity, App Attest, desktop), `storage` (local or AWS) and `telemetry` (logs, OpenTelemetry);
//! `values` holds the URL and base64 checks several areas share. This module depends on nothing else in
//! the crate.

use std::collections::HashMap;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

mod attestation;
mod auth;
mod http;
mod oauth;
mod pki;
mod server;
mod storage;
mod telemetry;
#[cfg(test)]
mod testing;
mod values;

pub use attestation::{
    AppAttestConfig, AppAttestEnvironment, AttestationConfig, DeviceVerdict, PlayIntegrityConfig,
};
pub use auth::{
    AuthConfig, DEV_CONFIG_API_KEY, LEGACY_DEV_SECRET_KEY, SECRET_REFERENCE_PREFIX, SecretValue,
};
pub use http::{AllowedHeaders, AllowedOrigins, CorsConfig, HttpConfig};
pub use oauth::{
    DropboxConfig, GoogleConfig, OAuthConfig, OneDriveConfig, ProviderId, RedirectRule,
};
pub use pki::{CertSource, PkiConfig, Platform};
pub use server::{SERVER_ONLY_VARIABLES, ServerConfig, TlsClientAuth, TlsConfig};
pub use storage::{AwsConfig, CA_VARIABLES, StorageConfig, StorageProvider};
pub use telemetry::{LogFormat, OtlpProtocol, TelemetryConfig};

/// The validated configuration tree.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ENVIRONMENT`: `development` (default) or `production`.
    pub environment: Environment,
    /// Settings used by `apuntador-server` only.
    pub server: ServerConfig,
    /// HTTP conventions shared by both binaries.
    pub http: HttpConfig,
    /// CORS: which browser origins, methods and headers are allowed.
    pub cors: CorsConfig,
    /// Bearer keys of the configuration and admin APIs.
    pub auth: AuthConfig,
    /// OAuth proxy settings: providers, redirect URI rules, sessions.
    pub oauth: OAuthConfig,
    /// Device PKI settings: certificate validity and where client certificates come from.
    pub pki: PkiConfig,
    /// Device attestation settings: Play Integrity, App Attest, desktop.
    pub attestation: AttestationConfig,
    /// Storage backend: local files or AWS.
    pub storage: StorageConfig,
    /// Logs and OpenTelemetry.
    pub telemetry: TelemetryConfig,
}

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development: insecure defaults allowed, missing provider credentials disable the provider.
    Development,
    /// Production: insecure defaults, wildcards, plain-http URLs and missing credentials are refused.
    Production,
}

/// One configuration problem: the variable and what is wrong (never the secret value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The variable name, e.g. `PORT`.
    pub variable: String,
    /// What is wrong, e.g. `"80a" is not a port number (1-65535)`.
    pub message: String,
}

/// Every problem found, reported together in the order of [`VARIABLES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_problems(.0))]
pub struct ConfigError(pub Vec<ConfigProblem>);

fn render_problems(problems: &[ConfigProblem]) -> String {
    let noun = if problems.len() == 1 {
        "problem"
    } else {
        "problems"
    };
    let mut out = format!("configuration error: {} {noun}", problems.len());
    for p in problems {
        out.push_str(&format!("\n  - {}: {}", p.variable, p.message));
    }
    out
}

/// Every variable the service reads, in the documented order (an alias right after its variable).
///
/// Problems are reported in this order.
pub const VARIABLES: &[&str] = &[
    "ENVIRONMENT",
    "HOST",
    "PORT",
    "BASE_PATH",
    "ENABLE_DOCS",
    "PROJECT_VERSION",
    "BODY_LIMIT_BYTES",
    "REQUEST_TIMEOUT_SECONDS",
    "MAX_CPU_JOBS",
    "MAX_QUEUED_CPU_JOBS",
    "MAX_CONCURRENT_REQUESTS",
    "MAX_CONNECTIONS",
    "SHUTDOWN_GRACE_SECONDS",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_AUTH",
    "SHUTDOWN_DELAY_SECONDS",
    "ALLOWED_ORIGINS",
    "CORS_ALLOWED_METHODS",
    "CORS_ALLOWED_HEADERS",
    "CORS_MAX_AGE_SECONDS",
    "CONFIG_API_KEY",
    "SECRET_KEY",
    "ADMIN_API_KEY",
    "ENABLED_CLOUD_PROVIDERS",
    "ALLOWED_REDIRECT_URIS",
    "OAUTH_FALLBACK_REDIRECT_URI",
    "OAUTH_SESSION_TTL_SECONDS",
    "OAUTH_HTTP_TIMEOUT_SECONDS",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_REDIRECT_URI",
    "GOOGLE_AUTHORIZE_URL",
    "GOOGLE_TOKEN_URL",
    "GOOGLE_REVOKE_URL",
    "DROPBOX_CLIENT_ID",
    "DROPBOX_CLIENT_SECRET",
    "DROPBOX_REDIRECT_URI",
    "DROPBOX_AUTHORIZE_URL",
    "DROPBOX_TOKEN_URL",
    "DROPBOX_REVOKE_URL",
    "ONEDRIVE_CLIENT_ID",
    "ONEDRIVE_CLIENT_SECRET",
    "ONEDRIVE_REDIRECT_URI",
    "ONEDRIVE_TENANT",
    "ONEDRIVE_AUTHORIZE_URL",
    "ONEDRIVE_TOKEN_URL",
    "CERT_VALIDITY_DAYS_ANDROID",
    "CERT_VALIDITY_DAYS_IOS",
    "CERT_VALIDITY_DAYS_DESKTOP",
    "CERT_VALIDITY_DAYS_WEB",
    "CERT_RECORD_RETENTION_DAYS",
    "CLIENT_CERT_HEADER",
    "CLIENT_CERT_SOURCES",
    "ENROLLMENT_REQUIRE_ATTESTATION",
    "ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS",
    "ENROLLMENT_REPLACE_ACTIVE",
    "ATTESTATION_CACHE_TTL",
    "PLAY_INTEGRITY_PACKAGE_NAME",
    "PLAY_INTEGRITY_DECRYPTION_KEY",
    "PLAY_INTEGRITY_VERIFICATION_KEY",
    "PLAY_INTEGRITY_MAX_AGE_SECONDS",
    "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
    "PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP",
    "PLAY_INTEGRITY_CERT_DIGESTS",
    "APPLE_TEAM_ID",
    "APPLE_BUNDLE_ID",
    "APP_ATTEST_ENVIRONMENT",
    "DESKTOP_ATTESTATION_ENABLED",
    "DESKTOP_ATTESTATION_MAX_PER_HOUR",
    "INFRASTRUCTURE_PROVIDER",
    "DATA_DIR",
    "INFRASTRUCTURE_BASE_DIR",
    "AWS_REGION",
    "AWS_DYNAMODB_TABLE",
    "AWS_DYNAMODB_SESSIONS_TABLE",
    "AWS_S3_BUCKET",
    "AWS_SECRETS_PREFIX",
    "AUTO_CREATE_RESOURCES",
    "AWS_ENDPOINT_URL",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "OTEL_ENABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_RESOURCE_ATTRIBUTES",
];

/// The secret-capable (S) variables: their values never appear in a problem or a warning.
pub const SECRET_VARIABLES: &[&str] = &[
    "CONFIG_API_KEY",
    "SECRET_KEY",
    "ADMIN_API_KEY",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "DROPBOX_CLIENT_ID",
    "DROPBOX_CLIENT_SECRET",
    "ONEDRIVE_CLIENT_ID",
    "ONEDRIVE_CLIENT_SECRET",
    "PLAY_INTEGRITY_DECRYPTION_KEY",
    "PLAY_INTEGRITY_VERIFICATION_KEY",
];

impl Environment {
    /// The lower-case name, as used for `deployment.environment.name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

impl ConfigProblem {
    /// A problem with `variable`; `message` must never contain a secret value.
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Parses and validates every variable of [`VARIABLES`] read through `lookup`.
    ///
    /// An empty value counts as unset. Every variable is checked before failing; the error lists all
    /// problems in the order of [`VARIABLES`]. Checks that need the value of a secret given as a Secrets
    /// Manager reference are deferred to [`Config::apply_resolved_secrets`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::parse(lookup, Vec::new())
    }

    /// Parses the process environment, without any `.env` file.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::parse(|name| std::env::var(name).ok(), non_unicode_problems())
    }

    /// Parses the process environment as the Lambda binary sees it: the server-only variables
    /// ([`SERVER_ONLY_VARIABLES`]) are ignored, so a value there can never stop a function from starting
    pub fn from_env_for_lambda() -> Result<Config, ConfigError> {
        let problems = non_unicode_problems()
            .into_iter()
            .filter(|p| !SERVER_ONLY_VARIABLES.contains(&p.variable.as_str()))
            .collect();
        Config::parse(
            |name| {
                if SERVER_ONLY_VARIABLES.contains(&name) {
                    None
                } else {
                    std::env::var(name).ok()
                }
            },
            problems,
        )
    }

    /// The storage settings alone, from the process environment plus the optional `.env` file at `path`:
    /// only [`CA_VARIABLES`] are read (in development rules), for `apuntador-server ca ...`.
    pub fn storage_from_env_with_dotenv(
        path: &std::path::Path,
    ) -> Result<StorageConfig, ConfigError> {
        let problems = non_unicode_problems()
            .into_iter()
            .filter(|p| CA_VARIABLES.contains(&p.variable.as_str()))
            .collect();
        Config::with_dotenv(
            |name| std::env::var(name).ok(),
            |name| CA_VARIABLES.contains(&name),
            path,
            problems,
        )
        .map(|config| config.storage)
    }

    /// Parses the process environment plus the optional `.env` file at `path`; the environment wins.
    ///
    /// A missing file is fine; an unreadable one is a problem. The process environment is never modified.
    pub fn from_env_with_dotenv(path: &std::path::Path) -> Result<Config, ConfigError> {
        Config::with_dotenv(
            |name| std::env::var(name).ok(),
            |_| true,
            path,
            non_unicode_problems(),
        )
    }

    /// `env` first (an empty value counts as unset), then the `.env` file at `path` if it exists; a
    /// variable for which `keep` is false counts as unset.
    fn with_dotenv(
        env: impl Fn(&str) -> Option<String>,
        keep: impl Fn(&str) -> bool,
        path: &std::path::Path,
        mut problems: Vec<ConfigProblem>,
    ) -> Result<Config, ConfigError> {
        let file: HashMap<String, String> = match std::fs::read_to_string(path) {
            Ok(text) => parse_dotenv(&text).into_iter().collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                problems.push(ConfigProblem::new(
                    path.display().to_string(),
                    format!("cannot be read: {e}"),
                ));
                HashMap::new()
            }
        };
        Config::parse(
            |name| {
                if !keep(name) {
                    return None;
                }
                env(name)
                    .filter(|v| !v.is_empty())
                    .or_else(|| file.get(name).cloned())
            },
            problems,
        )
    }

    /// True when `ENVIRONMENT=production`.
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// What to log at WARN at start-up (deprecated variables, providers disabled for missing credentials,
    /// risky production choices); never contains a secret value.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.auth.config_api_key_from_legacy {
            warnings.push("SECRET_KEY is deprecated: it is used as CONFIG_API_KEY, set CONFIG_API_KEY instead".into());
        }
        for (provider, missing) in &self.oauth.disabled_for_missing_credentials {
            warnings.push(format!(
                "provider {} is disabled: missing {}",
                provider.as_str(),
                missing.join(", ")
            ));
        }
        if self.is_production() && !self.attestation.enrollment_require_attestation {
            warnings.push(
                "ENROLLMENT_REQUIRE_ATTESTATION is false in production: devices can enrol without attestation".into(),
            );
        }
        if self.is_production() && self.attestation.enrollment_replace_active {
            warnings.push(
                "ENROLLMENT_REPLACE_ACTIVE is true in production: anyone who knows a device id can enrol it and revoke its certificate".into(),
            );
        }
        warnings
    }

    /// The (variable, ARN) of every secret still given as a Secrets Manager reference, in table order.
    ///
    /// The variable is the one the value came from (`SECRET_KEY` when the legacy fallback is in use).
    pub fn secret_references(&self) -> Vec<(&'static str, String)> {
        self.secret_slots()
            .into_iter()
            .filter_map(|(name, value)| match value {
                SecretValue::Reference(arn) => Some((name, arn.clone())),
                SecretValue::Plain(_) => None,
            })
            .collect()
    }

    /// Replaces references by their resolved values and runs the checks deferred at parse time.
    ///
    /// `resolved` pairs a variable name of [`Config::secret_references`] with the secret's `SecretString`;
    /// one trailing newline is trimmed here (secrets stored from files often end with one). Names that are not an unresolved reference are
    /// ignored. A reference left unresolved, an empty value and every failed check are problems, all
    /// reported together.
    pub fn apply_resolved_secrets(
        &mut self,
        resolved: Vec<(&'static str, SecretString)>,
    ) -> Result<(), ConfigError> {
        let production = self.is_production();
        let mut problems = Vec::new();
        for (name, value) in resolved {
            let slot = self
                .secret_slots_mut()
                .into_iter()
                .find_map(|(slot_name, slot)| {
                    (slot_name == name && matches!(slot, SecretValue::Reference(_))).then_some(slot)
                });
            let Some(slot) = slot else { continue };
            let exposed = value.expose_secret();
            let trimmed = match exposed.strip_suffix('\n') {
                Some(rest) => rest.strip_suffix('\r').unwrap_or(rest),
                None => exposed,
            };
            if trimmed.is_empty() {
                problems.push(ConfigProblem::new(
                    name,
                    "the secret reference resolved to an empty value",
                ));
            } else if let Some(message) = secret_problem(name, trimmed, production) {
                problems.push(ConfigProblem::new(name, message));
            }
            *slot = SecretValue::Plain(SecretString::from(trimmed.to_owned()));
        }
        for (name, arn) in self.secret_references() {
            problems.push(ConfigProblem::new(
                name,
                format!("secret reference {arn} was not resolved"),
            ));
        }
        finish(problems)
    }

    fn config_api_key_variable(&self) -> &'static str {
        if self.auth.config_api_key_from_legacy {
            "SECRET_KEY"
        } else {
            "CONFIG_API_KEY"
        }
    }

    fn secret_slots(&self) -> Vec<(&'static str, &SecretValue)> {
        let mut slots = vec![(self.config_api_key_variable(), &self.auth.config_api_key)];
        let optional = [
            ("ADMIN_API_KEY", &self.auth.admin_api_key),
            ("GOOGLE_CLIENT_ID", &self.oauth.google.client_id),
            ("GOOGLE_CLIENT_SECRET", &self.oauth.google.client_secret),
            ("DROPBOX_CLIENT_ID", &self.oauth.dropbox.client_id),
            ("DROPBOX_CLIENT_SECRET", &self.oauth.dropbox.client_secret),
            ("ONEDRIVE_CLIENT_ID", &self.oauth.onedrive.client_id),
            ("ONEDRIVE_CLIENT_SECRET", &self.oauth.onedrive.client_secret),
        ];
        slots.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| Some((name, value.as_ref()?))),
        );
        if let Some(play) = &self.attestation.play_integrity {
            slots.push(("PLAY_INTEGRITY_DECRYPTION_KEY", &play.decryption_key));
            slots.push(("PLAY_INTEGRITY_VERIFICATION_KEY", &play.verification_key));
        }
        slots
    }

    fn secret_slots_mut(&mut self) -> Vec<(&'static str, &mut SecretValue)> {
        let mut slots = vec![(
            self.config_api_key_variable(),
            &mut self.auth.config_api_key,
        )];
        let optional = [
            ("ADMIN_API_KEY", &mut self.auth.admin_api_key),
            ("GOOGLE_CLIENT_ID", &mut self.oauth.google.client_id),
            ("GOOGLE_CLIENT_SECRET", &mut self.oauth.google.client_secret),
            ("DROPBOX_CLIENT_ID", &mut self.oauth.dropbox.client_id),
            (
                "DROPBOX_CLIENT_SECRET",
                &mut self.oauth.dropbox.client_secret,
            ),
            ("ONEDRIVE_CLIENT_ID", &mut self.oauth.onedrive.client_id),
            (
                "ONEDRIVE_CLIENT_SECRET",
                &mut self.oauth.onedrive.client_secret,
            ),
        ];
        slots.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| Some((name, value.as_mut()?))),
        );
        if let Some(play) = &mut self.attestation.play_integrity {
            slots.push(("PLAY_INTEGRITY_DECRYPTION_KEY", &mut play.decryption_key));
            slots.push((
                "PLAY_INTEGRITY_VERIFICATION_KEY",
                &mut play.verification_key,
            ));
        }
        slots
    }

    fn parse(
        lookup: impl Fn(&str) -> Option<String>,
        problems: Vec<ConfigProblem>,
    ) -> Result<Config, ConfigError> {
        let mut r = Reader {
            lookup: &lookup,
            production: false,
            port: 8000,
            tls: false,
            problems,
        };
        let environment = r.choice(
            "ENVIRONMENT",
            Environment::Development,
            &[
                ("development", Environment::Development),
                ("production", Environment::Production),
            ],
        );
        r.production = environment == Environment::Production;
        let server = r.server();
        let tls_client_auth = server.tls.as_ref().map(|tls| tls.client_auth);
        // Provider callback URLs default to this server's own port, over https when it serves TLS itself.
        r.port = server.port;
        r.tls = server.tls.is_some();
        let config = Config {
            environment,
            server,
            http: r.http(),
            cors: r.cors(),
            auth: r.auth(),
            oauth: r.oauth(),
            pki: r.pki(tls_client_auth),
            attestation: r.attestation(),
            storage: r.storage(),
            telemetry: r.telemetry(),
        };
        finish(r.problems).map(|()| config)
    }
}

/// Splits `.env` text into `(KEY, VALUE)` pairs, in file order.
///
/// Blank lines and lines starting with `#` are skipped, as are lines without `=` or with a key that is not
/// made of ASCII letters, digits and `_`. An optional `export ` prefix is accepted. Key and value are
/// trimmed, then one pair of matching single or double quotes around the value is removed; nothing else is
/// interpreted (no escapes, no inline comments, no interpolation). When a key repeats, the caller decides;
/// [`Config::from_env_with_dotenv`] keeps the last one.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").map_or(line, str::trim_start);
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            Some((key.to_owned(), unquote(value.trim()).to_owned()))
        })
        .collect()
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// A problem for every known variable whose process-environment value is not UTF-8.
fn non_unicode_problems() -> Vec<ConfigProblem> {
    VARIABLES
        .iter()
        .filter(|name| matches!(std::env::var(name), Err(std::env::VarError::NotUnicode(_))))
        .map(|name| ConfigProblem::new(*name, "is not valid UTF-8"))
        .collect()
}

/// Sorts problems into table order (stable: problems of one variable keep their order) and fails if any.
fn finish(mut problems: Vec<ConfigProblem>) -> Result<(), ConfigError> {
    if problems.is_empty() {
        return Ok(());
    }
    // Anything that is not a variable (an unreadable .env file) comes first.
    problems.sort_by_key(|p| {
        VARIABLES
            .iter()
            .position(|v| *v == p.variable)
            .map_or(0, |i| i + 1)
    });
    Err(ConfigError(problems))
}

/// The check of a secret's value that cannot run on an unresolved reference; `None` when it passes.
fn secret_problem(variable: &str, value: &str, production: bool) -> Option<&'static str> {
    auth::key_problem(variable, value, production)
        .or_else(|| attestation::play_integrity_key_problem(variable, value))
}

// What `Reader::number` calls a number of seconds in its problems (each area names its own numbers).
const SECONDS: &str = "number of seconds";

/// Reads variables through a lookup function and collects problems.
///
/// The typed readers shared by every area are here; each area's file adds an `impl Reader` with the
/// method that parses its settings (`server`, `http`, `cors`, `auth`, `oauth`, `pki`, `attestation`,
/// `storage`, `telemetry`), which [`Config`]'s parser calls in the order of [`VARIABLES`].
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    production: bool,
    /// `PORT` once parsed: the default provider redirect URIs use it.
    port: u16,
    /// Whether the server terminates TLS itself: the default provider redirect URIs are then https.
    tls: bool,
    problems: Vec<ConfigProblem>,
}

impl Reader<'_> {
    /// The value, or `None` when unset or empty (an empty value counts as unset).
    fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    fn problem(&mut self, name: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem::new(name, message));
    }

    /// The parsed value, `default` when unset; a parse failure is a problem (and yields `default`).
    fn value<T>(
        &mut self,
        name: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        self.optional(name, parse).unwrap_or(default)
    }

    /// The parsed value, `None` when unset or invalid (a problem).
    fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.problem(name, message);
                None
            }
        }
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    /// An integer in `range`; `noun` names it in the problem (`"80a" is not a port number (1-65535)`).
    fn number<T>(&mut self, name: &str, default: T, range: RangeInclusive<T>, noun: &str) -> T
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        self.value(name, default, |raw| {
            let trimmed = raw.trim();
            match trimmed.parse::<T>() {
                Ok(n) if trimmed.bytes().all(|b| b.is_ascii_digit()) && range.contains(&n) => Ok(n),
                _ => Err(format!(
                    "{raw:?} is not a {noun} ({}-{})",
                    range.start(),
                    range.end()
                )),
            }
        })
    }

    fn seconds(&mut self, name: &str, default: u64, range: RangeInclusive<u64>) -> Duration {
        Duration::from_secs(self.number(name, default, range, SECONDS))
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        self.value(name, default, |raw| {
            parse_bool(raw).ok_or_else(|| {
                format!("{raw:?} is not a boolean (true/false, 1/0, yes/no, on/off)")
            })
        })
    }

    /// One of `choices`, case-insensitively.
    fn choice<T: Copy>(&mut self, name: &str, default: T, choices: &[(&str, T)]) -> T {
        self.value(name, default, |raw| {
            let trimmed = raw.trim();
            choices
                .iter()
                .find(|(label, _)| label.eq_ignore_ascii_case(trimmed))
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    let labels: Vec<&str> = choices.iter().map(|(label, _)| *label).collect();
                    format!("{raw:?} is not one of: {}", labels.join(", "))
                })
        })
    }

    /// A comma list: items trimmed, empty items dropped.
    fn list(&self, name: &str, default: &str) -> Vec<String> {
        let raw = self.raw(name).unwrap_or_else(|| default.to_owned());
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A secret-capable value; the checks that need the value run now unless it is a reference.
    fn secret(&mut self, name: &'static str) -> Option<SecretValue> {
        let value = SecretValue::from_raw(self.raw(name)?);
        self.check_secret(name, &value);
        Some(value)
    }

    fn check_secret(&mut self, name: &'static str, value: &SecretValue) {
        if let Some(message) = value
            .expose()
            .and_then(|plain| secret_problem(name, plain, self.production))
        {
            self.problem(name, message);
        }
    }

    /// `all` are set together or not at all: when only some are, each missing one is a problem.
    fn all_or_nothing(&mut self, all: &[&'static str], what: &str) {
        let set: Vec<&str> = all
            .iter()
            .copied()
            .filter(|name| self.is_set(name))
            .collect();
        if set.is_empty() || set.len() == all.len() {
            return;
        }
        let verb = if set.len() == 1 { "is" } else { "are" };
        for missing in all.iter().filter(|name| !set.contains(name)) {
            self.problem(
                missing,
                format!(
                    "must be set because {} {verb} set ({what} needs all of them or none)",
                    set.join(" and ")
                ),
            );
        }
    }
}

/// A boolean: `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, case-insensitively.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::testing::*;
    use super::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_default() {
        let c = ok(&[]);
        assert_eq!(c.environment, Environment::Development);
        assert!(c.secret_references().is_empty());
    }

    #[test]
    fn an_empty_value_counts_as_unset() {
        let c = ok(&[
            ("PORT", ""),
            ("ENVIRONMENT", ""),
            ("CONFIG_API_KEY", ""),
            ("LOG_LEVEL", ""),
        ]);
        assert_eq!(c.server.port, 8000);
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.auth.config_api_key.expose(), Some(DEV_CONFIG_API_KEY));
        assert_eq!(c.telemetry.log_level, "info");
    }

    /// Every validation rule, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_value_is_reported_against_its_variable() {
        let cases: &[(&str, &str, &str)] = &[(
            "ENVIRONMENT",
            "staging",
            "\"staging\" is not one of: development, production",
        )];
        assert_each_refused(cases);
    }

    /// Every validation rule, accepted side.
    #[test]
    fn each_valid_value_is_accepted() {
        let cases: &[(&str, &str)] = &[
            ("ENVIRONMENT", "Development"),
            ("UNKNOWN_VARIABLE", "is ignored"),
        ];
        assert_each_accepted(cases);
    }

    #[test]
    fn booleans_accept_every_documented_spelling_case_insensitively() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("yes", true),
            ("Yes", true),
            ("on", true),
            ("ON", true),
            ("false", false),
            ("False", false),
            ("0", false),
            ("no", false),
            ("NO", false),
            ("off", false),
            ("Off", false),
        ] {
            assert_eq!(
                ok(&[("ENABLE_DOCS", value)]).http.enable_docs,
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn lists_are_trimmed_and_drop_empty_items() {
        let c = ok(&[
            ("CORS_ALLOWED_METHODS", " GET , ,POST,, "),
            (
                "ALLOWED_ORIGINS",
                " https://a.example.com ,,https://b.example.com:8443,",
            ),
        ]);
        assert_eq!(c.cors.allowed_methods, ["GET", "POST"]);
        assert_eq!(
            c.cors.allowed_origins,
            AllowedOrigins::List(vec![
                "https://a.example.com".into(),
                "https://b.example.com:8443".into()
            ])
        );
    }

    #[test]
    fn numbers_and_durations_are_stored_in_their_units() {
        let c = ok(&[
            ("PORT", "9000"),
            ("SHUTDOWN_GRACE_SECONDS", "5"),
            ("OAUTH_SESSION_TTL_SECONDS", "120"),
            ("PLAY_INTEGRITY_MAX_AGE_SECONDS", "30"),
            ("CERT_VALIDITY_DAYS_DESKTOP", "14"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ]);
        assert_eq!(c.server.port, 9000);
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(5));
        assert_eq!(c.oauth.session_ttl, Duration::from_secs(120));
        assert_eq!(c.pki.validity_days(Platform::Desktop), 14);
        assert_eq!(c.telemetry.otel_sampler_ratio, 0.5);
    }

    #[test]
    fn base_path_and_host_are_stored_when_valid() {
        let c = ok(&[("BASE_PATH", "/prod/api"), ("HOST", "[::1]")]);
        assert_eq!(c.http.base_path.as_deref(), Some("/prod/api"));
        assert_eq!(c.server.host, IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn production_with_safe_values_is_accepted() {
        let pairs = production(&[]);
        let c = ok(&as_refs(&pairs));
        assert!(c.is_production());
        assert_eq!(c.oauth.enabled_providers, [ProviderId::Dropbox]);
    }

    #[test]
    fn development_allows_what_production_refuses() {
        let c = ok(&[
            ("CONFIG_API_KEY", "short"),
            ("ALLOWED_ORIGINS", "*"),
            ("ALLOWED_REDIRECT_URIS", "*,http://app.example.com/cb"),
            ("GOOGLE_TOKEN_URL", "http://localhost:9000/token"),
        ]);
        assert!(!c.is_production());
        assert_eq!(c.auth.config_api_key.expose(), Some("short"));
    }

    #[test]
    fn production_without_any_configuration_lists_every_problem_in_table_order() {
        let found = problems(&[("ENVIRONMENT", "PRODUCTION")]);
        let variables: Vec<&str> = found.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(
            variables,
            [
                "CONFIG_API_KEY",
                "GOOGLE_CLIENT_ID",
                "GOOGLE_CLIENT_SECRET",
                "GOOGLE_REDIRECT_URI",
                "DROPBOX_CLIENT_ID",
                "CLIENT_CERT_SOURCES"
            ]
        );
    }

    #[test]
    fn two_bad_variables_are_reported_together_in_one_message() {
        let mut pairs = production(&[("CONFIG_API_KEY", "0123456789")]);
        pairs.push(("PORT".into(), "80a".into()));
        let error = parse(&as_refs(&pairs)).map(|_| ()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration error: 2 problems\n\
             \x20 - PORT: \"80a\" is not a port number (1-65535)\n\
             \x20 - CONFIG_API_KEY: must be at least 32 characters in production"
        );
    }

    #[test]
    fn problems_are_sorted_in_table_order_whatever_the_parse_order() {
        let found = problems(&[
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ("ENVIRONMENT", "nope"),
            ("APPLE_TEAM_ID", "ABCDE12345"),
            ("PORT", "x"),
            ("ALLOWED_ORIGINS", "a,b"),
        ]);
        let variables: Vec<&str> = found.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(
            variables,
            [
                "ENVIRONMENT",
                "PORT",
                "ALLOWED_ORIGINS",
                "ALLOWED_ORIGINS",
                "APPLE_BUNDLE_ID",
                "OTEL_TRACES_SAMPLER_ARG"
            ]
        );
    }

    #[test]
    fn a_single_problem_is_rendered_in_the_singular() {
        let error = parse(&[("PORT", "0")]).map(|_| ()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration error: 1 problem\n  - PORT: \"0\" is not a port number (1-65535)"
        );
    }

    #[test]
    fn no_secret_value_ever_appears_in_a_rendered_error() {
        let secrets = [
            ("CONFIG_API_KEY", "Sup3rS3cr3"),
            ("ADMIN_API_KEY", "AdminS3cr3tXYZ"),
            ("GOOGLE_CLIENT_ID", "GoogleIdValue123"),
            ("PLAY_INTEGRITY_DECRYPTION_KEY", "DecryptKeyValue987"),
            ("PLAY_INTEGRITY_VERIFICATION_KEY", "VerifyKeyValue654"),
        ];
        let mut pairs = vec![
            ("ENVIRONMENT", "production"),
            ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox,onedrive"),
            ("PORT", "nope"),
        ];
        pairs.extend(secrets);
        let rendered = parse(&pairs).map(|_| ()).unwrap_err().to_string();
        assert!(
            rendered.contains("CONFIG_API_KEY: must be at least 32 characters in production"),
            "{rendered}"
        );
        assert!(rendered.contains("ADMIN_API_KEY:"), "{rendered}");
        assert!(
            rendered.contains("PLAY_INTEGRITY_DECRYPTION_KEY:"),
            "{rendered}"
        );
        assert!(
            rendered.contains("PLAY_INTEGRITY_VERIFICATION_KEY:"),
            "{rendered}"
        );
        for (name, value) in secrets {
            assert!(
                !rendered.contains(value),
                "{name} value leaked:\n{rendered}"
            );
        }
        // Nor in the Debug form, which holds SecretString.
        let c = ok(&[
            ("CONFIG_API_KEY", "Sup3rS3cr3"),
            ("ADMIN_API_KEY", "AdminS3cr3tXYZ-AdminS3cr3tXYZ-0123"),
        ]);
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("Sup3rS3cr3") && !debug.contains("AdminS3cr3tXYZ"),
            "{debug}"
        );
    }

    #[test]
    fn secret_references_skip_value_checks_at_parse_time() {
        let pairs = production(&[
            ("CONFIG_API_KEY", ARN),
            (
                "ADMIN_API_KEY",
                "arn:aws:secretsmanager:eu-west-1:1:secret:admin",
            ),
            (
                "DROPBOX_CLIENT_ID",
                "arn:aws:secretsmanager:eu-west-1:1:secret:dropbox",
            ),
            ("PLAY_INTEGRITY_PACKAGE_NAME", "com.apuntador.app"),
            (
                "PLAY_INTEGRITY_DECRYPTION_KEY",
                "arn:aws:secretsmanager:eu-west-1:1:secret:dec",
            ),
            (
                "PLAY_INTEGRITY_VERIFICATION_KEY",
                "arn:aws:secretsmanager:eu-west-1:1:secret:ver",
            ),
        ]);
        let c = ok(&as_refs(&pairs));
        assert_eq!(c.auth.config_api_key.expose(), None);
        assert_eq!(c.oauth.enabled_providers, [ProviderId::Dropbox]);
        assert_eq!(
            c.secret_references(),
            [
                ("CONFIG_API_KEY", ARN.to_owned()),
                (
                    "ADMIN_API_KEY",
                    "arn:aws:secretsmanager:eu-west-1:1:secret:admin".to_owned()
                ),
                (
                    "DROPBOX_CLIENT_ID",
                    "arn:aws:secretsmanager:eu-west-1:1:secret:dropbox".to_owned()
                ),
                (
                    "PLAY_INTEGRITY_DECRYPTION_KEY",
                    "arn:aws:secretsmanager:eu-west-1:1:secret:dec".to_owned()
                ),
                (
                    "PLAY_INTEGRITY_VERIFICATION_KEY",
                    "arn:aws:secretsmanager:eu-west-1:1:secret:ver".to_owned()
                ),
            ]
        );
        assert!(
            c.attestation
                .play_integrity
                .as_ref()
                .is_some_and(|p| p.decryption_key_bytes().is_none())
        );
    }

    #[test]
    fn resolved_secrets_replace_references_and_trim_one_newline() {
        let pairs = production(&[("CONFIG_API_KEY", ARN), ("DROPBOX_CLIENT_ID", ARN)]);
        let mut c = ok(&as_refs(&pairs));
        c.apply_resolved_secrets(vec![
            (
                "CONFIG_API_KEY",
                SecretString::from(format!("{GOOD_KEY}\n")),
            ),
            ("DROPBOX_CLIENT_ID", SecretString::from("dropbox-id\r\n")),
            ("UNKNOWN", SecretString::from("ignored")),
        ])
        .expect("resolved");
        assert_eq!(c.auth.config_api_key.expose(), Some(GOOD_KEY));
        assert_eq!(
            c.oauth
                .dropbox
                .client_id
                .as_ref()
                .and_then(SecretValue::expose),
            Some("dropbox-id")
        );
        assert!(c.secret_references().is_empty());
    }

    #[test]
    fn resolved_secrets_run_the_deferred_checks_and_report_all_problems() {
        let pairs = production(&[
            ("CONFIG_API_KEY", ARN),
            ("ADMIN_API_KEY", ARN),
            ("DROPBOX_CLIENT_ID", ARN),
            ("PLAY_INTEGRITY_PACKAGE_NAME", "com.apuntador.app"),
            ("PLAY_INTEGRITY_DECRYPTION_KEY", ARN),
            ("PLAY_INTEGRITY_VERIFICATION_KEY", ARN),
        ]);
        let mut c = ok(&as_refs(&pairs));
        let error = c
            .apply_resolved_secrets(vec![
                (
                    "PLAY_INTEGRITY_VERIFICATION_KEY",
                    SecretString::from("VerifyKeyValue654"),
                ),
                ("CONFIG_API_KEY", SecretString::from(DEV_CONFIG_API_KEY)),
                ("ADMIN_API_KEY", SecretString::from("AdminS3cr3t")),
                ("DROPBOX_CLIENT_ID", SecretString::from("\n")),
            ])
            .unwrap_err();
        let found: Vec<(&str, &str)> = error
            .0
            .iter()
            .map(|p| (p.variable.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "CONFIG_API_KEY",
                    "must not be the development default in production"
                ),
                ("ADMIN_API_KEY", "must be at least 32 characters"),
                (
                    "DROPBOX_CLIENT_ID",
                    "the secret reference resolved to an empty value"
                ),
                (
                    "PLAY_INTEGRITY_DECRYPTION_KEY",
                    &*format!("secret reference {ARN} was not resolved")
                ),
                (
                    "PLAY_INTEGRITY_VERIFICATION_KEY",
                    "is not the base64 of a DER SubjectPublicKeyInfo of an EC P-256 key"
                ),
            ]
        );
        let rendered = error.to_string();
        assert!(
            !rendered.contains("VerifyKeyValue654") && !rendered.contains("AdminS3cr3t"),
            "{rendered}"
        );
    }

    #[test]
    fn warnings_name_what_is_risky_without_secret_values() {
        let dev = ok(&[
            ("SECRET_KEY", "LegacyValue42"),
            ("ENABLED_CLOUD_PROVIDERS", "googledrive,onedrive"),
        ]);
        assert_eq!(
            dev.warnings(),
            [
                "SECRET_KEY is deprecated: it is used as CONFIG_API_KEY, set CONFIG_API_KEY instead",
                "provider googledrive is disabled: missing GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET",
                "provider onedrive is disabled: missing ONEDRIVE_CLIENT_ID, ONEDRIVE_CLIENT_SECRET",
            ]
        );
        let pairs = production(&[]);
        let prod = ok(&as_refs(&pairs));
        assert_eq!(
            prod.warnings(),
            [
                "ENROLLMENT_REQUIRE_ATTESTATION is false in production: devices can enrol without attestation"
            ]
        );
        let pairs = production(&[("ENROLLMENT_REQUIRE_ATTESTATION", "true")]);
        assert!(ok(&as_refs(&pairs)).warnings().is_empty());
        let pairs = production(&[
            ("ENROLLMENT_REQUIRE_ATTESTATION", "true"),
            ("ENROLLMENT_REPLACE_ACTIVE", "yes"),
        ]);
        let replacing = ok(&as_refs(&pairs));
        assert!(replacing.attestation.enrollment_replace_active);
        assert_eq!(
            replacing.warnings(),
            [
                "ENROLLMENT_REPLACE_ACTIVE is true in production: anyone who knows a device id can enrol it and revoke its certificate"
            ]
        );
        let development = ok(&[
            ("ENROLLMENT_REPLACE_ACTIVE", "true"),
            ("ENABLED_CLOUD_PROVIDERS", ","),
        ]);
        assert!(development.attestation.enrollment_replace_active);
        assert!(development.warnings().is_empty());
        assert!(
            ok(&[("ENABLED_CLOUD_PROVIDERS", ",")])
                .warnings()
                .is_empty()
        );
    }

    #[test]
    fn dotenv_lines_are_parsed_with_comments_quotes_and_export() {
        let text = "\u{feff}# comment\n\nPORT=9000\n  HOST = 127.0.0.1  \nexport LOG_LEVEL=debug\n\
                    A=\"quoted # not a comment\"\nB='single'\nC=\"unbalanced\nD=\nE=a=b\nnot a pair\n\
                    BAD KEY=x\n=novalue\r\nF=\"\"\n";
        assert_eq!(
            parse_dotenv(text),
            [
                ("PORT", "9000"),
                ("HOST", "127.0.0.1"),
                ("LOG_LEVEL", "debug"),
                ("A", "quoted # not a comment"),
                ("B", "single"),
                ("C", "\"unbalanced"),
                ("D", ""),
                ("E", "a=b"),
                ("F", ""),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn a_dotenv_file_fills_in_what_the_environment_lacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "PORT=9000\nHOST=127.0.0.1\nLOG_LEVEL=debug\nLOG_LEVEL=warn\nLOG_FORMAT=human\n",
        )
        .expect("write");
        let env = lookup(&[("PORT", "7000"), ("HOST", "")]);
        let c = Config::with_dotenv(env, |_| true, &path, Vec::new()).expect("parses");
        assert_eq!(c.server.port, 7000, "the environment wins");
        assert_eq!(
            c.server.host,
            IpAddr::from([127, 0, 0, 1]),
            "an empty variable is unset"
        );
        assert_eq!(c.telemetry.log_level, "warn", "the last occurrence wins");
        assert_eq!(c.telemetry.log_format, LogFormat::Human);
    }

    #[test]
    fn a_missing_dotenv_file_is_fine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Config::with_dotenv(lookup(&[]), |_| true, &dir.path().join(".env"), Vec::new())
            .expect("parses");
        assert_eq!(c.server.port, 8000);
    }

    #[test]
    fn a_dotenv_path_that_cannot_be_read_is_a_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = Config::with_dotenv(lookup(&[("PORT", "x")]), |_| true, dir.path(), Vec::new())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(error.0.len(), 2);
        assert_eq!(error.0[0].variable, dir.path().display().to_string());
        assert!(error.0[0].message.starts_with("cannot be read"));
        assert_eq!(error.0[1].variable, "PORT");
    }

    #[test]
    fn environment_names_are_lower_case() {
        assert_eq!(Environment::Production.as_str(), "production");
    }

    #[test]
    fn every_secret_variable_is_in_the_variable_table() {
        for name in SECRET_VARIABLES {
            assert!(VARIABLES.contains(name), "{name}");
        }
    }
}
