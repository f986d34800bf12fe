//! Configuration: every variable of SPEC §8.2, parsed and validated once at start-up.
//!
//! `Config::from_env()` reads the process environment; `Config::from_lookup(|name| ...)` is the same
//! parser over any lookup function, so tests never touch the process environment. All problems are
//! collected before failing (SPEC §8.5) and no secret value is ever echoed in a problem. This module
//! depends on nothing else in the crate.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use secrecy::{ExposeSecret as _, SecretString};

/// Development default for `CONFIG_API_KEY` (refused in production, SPEC §8.4).
pub const DEV_CONFIG_API_KEY: &str = "dev-config-api-key-change-me-in-production";
/// The previous service's well-known default `SECRET_KEY` (refused in production, SPEC §8.4).
pub const LEGACY_DEV_SECRET_KEY: &str = "dev-secret-key-change-in-production-min-32-chars";

/// The validated configuration tree.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ENVIRONMENT`: `development` (default) or `production`.
    pub environment: Environment,
    /// Settings used by `apuntador-server` only.
    pub server: ServerConfig,
    /// HTTP conventions shared by both binaries.
    pub http: HttpConfig,
    /// CORS (SPEC §2.8).
    pub cors: CorsConfig,
    /// Bearer keys (SPEC §3.22).
    pub auth: AuthConfig,
    /// OAuth proxy settings (SPEC §4).
    pub oauth: OAuthConfig,
    /// Device PKI settings (SPEC §5).
    pub pki: PkiConfig,
    /// Attestation settings (SPEC §6).
    pub attestation: AttestationConfig,
    /// Storage backend (SPEC §7).
    pub storage: StorageConfig,
    /// Logs and OpenTelemetry (SPEC §10).
    pub telemetry: TelemetryConfig,
}

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development: insecure defaults allowed, missing provider credentials disable the provider.
    Development,
    /// Production: the refusals of SPEC §8.4 apply.
    Production,
}

/// `apuntador-server` settings; ignored by the Lambda binary (SPEC §9.3).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `HOST`, default `0.0.0.0`: bind address (an IP literal).
    pub host: IpAddr,
    /// `PORT`, default 8000, 1-65535.
    pub port: u16,
    /// `MAX_CONCURRENT_REQUESTS`, default 256, 1-100000: requests in flight before shedding with 503.
    pub max_concurrent_requests: usize,
    /// `SHUTDOWN_GRACE_SECONDS`, default 25 s, 0-300: time in-flight requests get after SIGTERM.
    pub shutdown_grace: Duration,
}

/// HTTP conventions (SPEC §2, §3.21, §9.1).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `BASE_PATH`, default empty: `/seg[/seg…]` stripped from request paths. `None` when empty.
    pub base_path: Option<String>,
    /// `ENABLE_DOCS`, default false: serve `/openapi.json` and `/docs`.
    pub enable_docs: bool,
    /// `PROJECT_VERSION`, default `1.0.0`, at most 32 characters: `version` of `/config/providers`.
    pub project_version: String,
    /// `BODY_LIMIT_BYTES`, default 65536, 1024-1048576.
    pub body_limit_bytes: usize,
    /// `REQUEST_TIMEOUT_SECONDS`, default 20 s, 1-300.
    pub request_timeout: Duration,
}

/// CORS settings (SPEC §2.8).
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

/// A secret-capable value (SPEC §8.3): either the value itself or a Secrets Manager ARN to resolve at
/// start-up.
#[derive(Debug, Clone)]
pub enum SecretValue {
    /// The secret itself.
    Plain(SecretString),
    /// `arn:aws:secretsmanager:…`, resolved before the router is built.
    Reference(String),
}

/// Bearer keys (SPEC §3.22).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Effective `CONFIG_API_KEY` (S): falls back to legacy `SECRET_KEY`, then, in development only, to
    /// [`DEV_CONFIG_API_KEY`].
    pub config_api_key: SecretValue,
    /// True when the key came from legacy `SECRET_KEY` (a WARN is logged at start).
    pub config_api_key_from_legacy: bool,
    /// `ADMIN_API_KEY` (S): `None` disables the admin API. At least 32 characters when set.
    pub admin_api_key: Option<SecretValue>,
}

/// OAuth provider ids (SPEC §4.1), in the fixed order used by `/config/providers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderId {
    /// `googledrive`
    GoogleDrive,
    /// `dropbox`
    Dropbox,
    /// `onedrive`
    OneDrive,
}

impl ProviderId {
    /// All providers, in the documented order.
    pub const ALL: [ProviderId; 3] = [
        ProviderId::GoogleDrive,
        ProviderId::Dropbox,
        ProviderId::OneDrive,
    ];

    /// The exact, case-sensitive path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::GoogleDrive => "googledrive",
            ProviderId::Dropbox => "dropbox",
            ProviderId::OneDrive => "onedrive",
        }
    }

    /// Parses an exact path segment.
    pub fn parse(segment: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.as_str() == segment)
    }
}

/// OAuth proxy settings (SPEC §4).
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Providers that are served: listed in `ENABLED_CLOUD_PROVIDERS` (default `googledrive,dropbox`)
    /// AND having their required credentials. In development a listed provider without credentials is
    /// dropped from here and named in `disabled_for_missing_credentials`; in production that is a problem.
    pub enabled_providers: Vec<ProviderId>,
    /// Listed providers dropped in development for missing credentials, with the missing variable names.
    pub disabled_for_missing_credentials: Vec<(ProviderId, Vec<&'static str>)>,
    /// `ALLOWED_REDIRECT_URIS`, default `apuntador://oauth-callback` (SPEC §4.8).
    pub allowed_redirect_uris: Vec<RedirectRule>,
    /// `OAUTH_FALLBACK_REDIRECT_URI`, default `apuntador://oauth-callback`.
    pub fallback_redirect_uri: String,
    /// `OAUTH_SESSION_TTL_SECONDS`, default 600 s, 60-3600.
    pub session_ttl: Duration,
    /// `OAUTH_HTTP_TIMEOUT_SECONDS`, default 10 s, 1-60.
    pub http_timeout: Duration,
    /// Google Drive (SPEC §4.3).
    pub google: GoogleConfig,
    /// Dropbox (SPEC §4.4).
    pub dropbox: DropboxConfig,
    /// OneDrive (SPEC §4.5).
    pub onedrive: OneDriveConfig,
}

/// One entry of the redirect_uri allow-list (SPEC §4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRule {
    /// Byte-wise exact match.
    Exact(String),
    /// Entry ending in `*`: byte-wise prefix match on the text before the `*`.
    Prefix(String),
    /// A lone `*` (development only).
    Any,
}

/// Google Drive settings (SPEC §4.3).
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// `GOOGLE_CLIENT_ID` (S).
    pub client_id: Option<SecretValue>,
    /// `GOOGLE_CLIENT_SECRET` (S).
    pub client_secret: Option<SecretValue>,
    /// `GOOGLE_REDIRECT_URI`, default `http://localhost:8000/oauth/callback/googledrive`.
    pub redirect_uri: String,
    /// `GOOGLE_AUTHORIZE_URL`, default `https://accounts.google.com/o/oauth2/v2/auth`.
    pub authorize_url: String,
    /// `GOOGLE_TOKEN_URL`, default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// `GOOGLE_REVOKE_URL`, default `https://oauth2.googleapis.com/revoke`.
    pub revoke_url: String,
}

/// Dropbox settings (SPEC §4.4).
#[derive(Debug, Clone)]
pub struct DropboxConfig {
    /// `DROPBOX_CLIENT_ID` (S).
    pub client_id: Option<SecretValue>,
    /// `DROPBOX_CLIENT_SECRET` (S), optional.
    pub client_secret: Option<SecretValue>,
    /// `DROPBOX_AUTHORIZE_URL`, default `https://www.dropbox.com/oauth2/authorize`.
    pub authorize_url: String,
    /// `DROPBOX_TOKEN_URL`, default `https://api.dropboxapi.com/oauth2/token`.
    pub token_url: String,
    /// `DROPBOX_REVOKE_URL`, default `https://api.dropboxapi.com/2/auth/token/revoke`.
    pub revoke_url: String,
}

/// OneDrive settings (SPEC §4.5).
#[derive(Debug, Clone)]
pub struct OneDriveConfig {
    /// `ONEDRIVE_CLIENT_ID` (S).
    pub client_id: Option<SecretValue>,
    /// `ONEDRIVE_CLIENT_SECRET` (S).
    pub client_secret: Option<SecretValue>,
    /// `ONEDRIVE_REDIRECT_URI`, default `http://localhost:8000/oauth/callback/onedrive`.
    pub redirect_uri: String,
    /// `ONEDRIVE_TENANT`, default `common`.
    pub tenant: String,
    /// `ONEDRIVE_AUTHORIZE_URL`, default `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize`.
    pub authorize_url: String,
    /// `ONEDRIVE_TOKEN_URL`, default `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
}

/// Device platforms (SPEC §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// `android`
    Android,
    /// `ios`
    Ios,
    /// `desktop`
    Desktop,
    /// `web`
    Web,
}

/// Client certificate sources (SPEC §5.8), in their fixed priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CertSource {
    /// `lambda-context`: the API Gateway request context.
    LambdaContext,
    /// `alb`: ALB mutual TLS headers.
    Alb,
    /// `header`: the `CLIENT_CERT_HEADER` header.
    Header,
    /// `xfcc`: `X-Forwarded-Client-Cert`.
    Xfcc,
}

/// Device PKI settings (SPEC §5).
#[derive(Debug, Clone)]
pub struct PkiConfig {
    /// `CERT_VALIDITY_DAYS_ANDROID`, default 30, 1-365.
    pub validity_days_android: u32,
    /// `CERT_VALIDITY_DAYS_IOS`, default 30, 1-365.
    pub validity_days_ios: u32,
    /// `CERT_VALIDITY_DAYS_DESKTOP`, default 7, 1-365.
    pub validity_days_desktop: u32,
    /// `CERT_VALIDITY_DAYS_WEB`, default 1, 1-365.
    pub validity_days_web: u32,
    /// `CERT_RECORD_RETENTION_DAYS`, default 30, 1-3650.
    pub record_retention_days: u32,
    /// `CLIENT_CERT_HEADER`, default `X-Client-Cert` (stored lower-cased, a valid header name).
    pub client_cert_header: http::HeaderName,
    /// `CLIENT_CERT_SOURCES`, default `lambda-context,alb,header,xfcc`: sorted in priority order, deduplicated.
    pub client_cert_sources: Vec<CertSource>,
}

/// Attestation settings (SPEC §6).
#[derive(Debug, Clone)]
pub struct AttestationConfig {
    /// `ENROLLMENT_REQUIRE_ATTESTATION`, default false.
    pub enrollment_require_attestation: bool,
    /// `ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS`, default 600 s, 30-86400.
    pub enrollment_max_age: Duration,
    /// `ATTESTATION_CACHE_TTL`, default 3600 s, 60-86400.
    pub cache_ttl: Duration,
    /// Play Integrity; `None` when none of its three variables is set (all-or-nothing).
    pub play_integrity: Option<PlayIntegrityConfig>,
    /// App Attest; `None` when neither `APPLE_TEAM_ID` nor `APPLE_BUNDLE_ID` is set (both-or-neither).
    pub app_attest: Option<AppAttestConfig>,
    /// `DESKTOP_ATTESTATION_ENABLED`, default true.
    pub desktop_enabled: bool,
    /// `DESKTOP_ATTESTATION_MAX_PER_HOUR`, default 10, 1-1000.
    pub desktop_max_per_hour: u32,
}

/// Play Integrity settings (SPEC §6.2).
#[derive(Debug, Clone)]
pub struct PlayIntegrityConfig {
    /// `PLAY_INTEGRITY_PACKAGE_NAME`.
    pub package_name: String,
    /// `PLAY_INTEGRITY_DECRYPTION_KEY` (S): base64 of 32 bytes (checked when plain).
    pub decryption_key: SecretValue,
    /// `PLAY_INTEGRITY_VERIFICATION_KEY` (S): base64 DER SPKI, EC P-256.
    pub verification_key: SecretValue,
    /// `PLAY_INTEGRITY_MAX_AGE_SECONDS`, default 300 s, 10-3600.
    pub max_age: Duration,
    /// `PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT`, default `MEETS_DEVICE_INTEGRITY`.
    pub required_device_verdict: DeviceVerdict,
    /// `PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP`, default false.
    pub allow_unrecognized_app: bool,
    /// `PLAY_INTEGRITY_CERT_DIGESTS`, default empty: base64url SHA-256 signing-certificate digests.
    pub cert_digests: Vec<String>,
}

/// Play Integrity device verdict levels, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeviceVerdict {
    /// `MEETS_BASIC_INTEGRITY`
    Basic,
    /// `MEETS_DEVICE_INTEGRITY`
    Device,
    /// `MEETS_STRONG_INTEGRITY`
    Strong,
}

/// App Attest settings (SPEC §6.3).
#[derive(Debug, Clone)]
pub struct AppAttestConfig {
    /// `APPLE_TEAM_ID`: 10 upper-case alphanumerics.
    pub team_id: String,
    /// `APPLE_BUNDLE_ID`.
    pub bundle_id: String,
    /// `APP_ATTEST_ENVIRONMENT`, default production.
    pub environment: AppAttestEnvironment,
}

/// App Attest environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAttestEnvironment {
    /// `production`
    Production,
    /// `development`
    Development,
}

/// Storage backend settings (SPEC §7).
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `INFRASTRUCTURE_PROVIDER`, default `local`.
    pub provider: StorageProvider,
    /// `DATA_DIR` (alias `INFRASTRUCTURE_BASE_DIR`), default `./.apuntador`.
    pub data_dir: PathBuf,
    /// AWS settings (used in AWS mode and for secret references).
    pub aws: AwsConfig,
}

/// Storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageProvider {
    /// SQLite and PEM files under `DATA_DIR`.
    Local,
    /// DynamoDB, Secrets Manager and S3.
    Aws,
}

/// AWS settings (SPEC §7.3-7.7).
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// `AWS_REGION`; `None` = SDK chain, else `eu-west-1`.
    pub region: Option<String>,
    /// `AWS_DYNAMODB_TABLE`, default `apuntador-certificates`.
    pub certificates_table: String,
    /// `AWS_DYNAMODB_SESSIONS_TABLE`, default `apuntador-sessions`.
    pub sessions_table: String,
    /// `AWS_S3_BUCKET`, default `apuntador-cert-storage`.
    pub bucket: String,
    /// `AWS_SECRETS_PREFIX`, default `apuntador`.
    pub secrets_prefix: String,
    /// `AUTO_CREATE_RESOURCES`, default false.
    pub auto_create_resources: bool,
    /// `AWS_ENDPOINT_URL`: emulator endpoint override.
    pub endpoint_url: Option<String>,
}

/// Logs and OpenTelemetry (SPEC §10).
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `LOG_LEVEL`, default `info`: a level or an `EnvFilter` directive (validated).
    pub log_level: String,
    /// `LOG_FORMAT`, default json.
    pub log_format: LogFormat,
    /// `OTEL_ENABLED`, default false.
    pub otel_enabled: bool,
    /// `OTEL_SERVICE_NAME`, default `apuntador`.
    pub otel_service_name: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, default `http://localhost:4317`.
    pub otel_endpoint: String,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, default grpc.
    pub otel_protocol: OtlpProtocol,
    /// `OTEL_TRACES_SAMPLER_ARG`, default 1.0, 0.0-1.0.
    pub otel_sampler_ratio: f64,
    /// `OTEL_RESOURCE_ATTRIBUTES`: `k=v` pairs.
    pub otel_resource_attributes: Vec<(String, String)>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// One readable line per event.
    Human,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `grpc`
    Grpc,
    /// `http/protobuf`
    HttpProtobuf,
}

/// One configuration problem: the variable and what is wrong (never the secret value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The variable name, e.g. `PORT`.
    pub variable: String,
    /// What is wrong, e.g. `"80a" is not a port number (1-65535)`.
    pub message: String,
}

/// Every problem found, reported together (SPEC §8.5).
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

/// Prefix that makes the value of a secret-capable variable a Secrets Manager reference (SPEC §8.3).
pub const SECRET_REFERENCE_PREFIX: &str = "arn:aws:secretsmanager:";

/// Every variable of SPEC §8.2, in the order of its table (an alias right after its variable).
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
    "MAX_CONCURRENT_REQUESTS",
    "SHUTDOWN_GRACE_SECONDS",
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

/// The secret-capable (S) variables of SPEC §8.2: their values never appear in a problem or a warning.
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

const DEFAULT_ALLOWED_ORIGINS: &str =
    "http://localhost:3000,http://localhost:5173,capacitor://localhost,tauri://localhost";
const DEFAULT_REDIRECT_URI: &str = "apuntador://oauth-callback";
/// Minimum length, in characters, of `CONFIG_API_KEY` (production) and `ADMIN_API_KEY`.
const MIN_KEY_CHARS: usize = 32;

impl Environment {
    /// The lower-case name, as used for `deployment.environment.name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

impl SecretValue {
    /// The secret itself, or `None` for a Secrets Manager reference not resolved yet.
    pub fn expose(&self) -> Option<&str> {
        match self {
            SecretValue::Plain(secret) => Some(secret.expose_secret()),
            SecretValue::Reference(_) => None,
        }
    }

    fn from_raw(value: String) -> SecretValue {
        if value.starts_with(SECRET_REFERENCE_PREFIX) {
            SecretValue::Reference(value)
        } else {
            SecretValue::Plain(SecretString::from(value))
        }
    }
}

impl Platform {
    /// All platforms, in the documented order.
    pub const ALL: [Platform; 4] = [
        Platform::Android,
        Platform::Ios,
        Platform::Desktop,
        Platform::Web,
    ];

    /// The lower-case name used in requests, records and variable names.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Desktop => "desktop",
            Platform::Web => "web",
        }
    }

    /// Parses a platform name, case-insensitively.
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

impl CertSource {
    /// All sources, in priority order.
    pub const ALL: [CertSource; 4] = [
        CertSource::LambdaContext,
        CertSource::Alb,
        CertSource::Header,
        CertSource::Xfcc,
    ];

    /// The id used in `CLIENT_CERT_SOURCES`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertSource::LambdaContext => "lambda-context",
            CertSource::Alb => "alb",
            CertSource::Header => "header",
            CertSource::Xfcc => "xfcc",
        }
    }

    /// Parses a source id, case-insensitively.
    pub fn parse(s: &str) -> Option<CertSource> {
        CertSource::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

impl PkiConfig {
    /// Validity, in days, of certificates issued to `platform` (`CERT_VALIDITY_DAYS_*`).
    pub fn validity_days(&self, platform: Platform) -> u32 {
        match platform {
            Platform::Android => self.validity_days_android,
            Platform::Ios => self.validity_days_ios,
            Platform::Desktop => self.validity_days_desktop,
            Platform::Web => self.validity_days_web,
        }
    }
}

impl DeviceVerdict {
    /// All verdicts, weakest first.
    pub const ALL: [DeviceVerdict; 3] = [
        DeviceVerdict::Basic,
        DeviceVerdict::Device,
        DeviceVerdict::Strong,
    ];

    /// The verdict label used by Play Integrity, e.g. `MEETS_DEVICE_INTEGRITY`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceVerdict::Basic => "MEETS_BASIC_INTEGRITY",
            DeviceVerdict::Device => "MEETS_DEVICE_INTEGRITY",
            DeviceVerdict::Strong => "MEETS_STRONG_INTEGRITY",
        }
    }

    /// Parses an exact Play Integrity verdict label.
    pub fn parse(s: &str) -> Option<DeviceVerdict> {
        DeviceVerdict::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl PlayIntegrityConfig {
    /// The 32-byte AES key decoded from `PLAY_INTEGRITY_DECRYPTION_KEY`; `None` while it is an unresolved
    /// reference.
    ///
    /// Accepts the standard or URL-safe base64 alphabet, padding optional: the same rule the start-up check
    /// applies, so a resolved configuration always decodes.
    pub fn decryption_key_bytes(&self) -> Option<[u8; 32]> {
        decode_base64(self.decryption_key.expose()?)?
            .try_into()
            .ok()
    }

    /// The DER SubjectPublicKeyInfo decoded from `PLAY_INTEGRITY_VERIFICATION_KEY`; `None` while it is an
    /// unresolved reference.
    pub fn verification_key_der(&self) -> Option<Vec<u8>> {
        decode_base64(self.verification_key.expose()?)
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
    /// Parses and validates every variable of SPEC §8.2 read through `lookup`.
    ///
    /// An empty value counts as unset. Every variable is checked before failing; the error lists all
    /// problems in the order of [`VARIABLES`]. Checks that need the value of a secret given as a Secrets
    /// Manager reference are deferred to [`Config::apply_resolved_secrets`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::parse(lookup, Vec::new())
    }

    /// Parses the process environment (SPEC §8.1), without any `.env` file.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::parse(|name| std::env::var(name).ok(), non_unicode_problems())
    }

    /// Parses the process environment plus the optional `.env` file at `path`; the environment wins.
    ///
    /// A missing file is fine; an unreadable one is a problem. The process environment is never modified.
    pub fn from_env_with_dotenv(path: &std::path::Path) -> Result<Config, ConfigError> {
        let mut problems = non_unicode_problems();
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
                std::env::var(name)
                    .ok()
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

    /// What to log at WARN at start-up (SPEC §4.1, §6.5, §8.2); never contains a secret value.
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
    /// one trailing newline is trimmed here (SPEC §8.3). Names that are not an unresolved reference are
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
            lookup,
            production: false,
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
        let config = Config {
            environment,
            server: r.server(),
            http: r.http(),
            cors: r.cors(),
            auth: r.auth(),
            oauth: r.oauth(),
            pki: r.pki(),
            attestation: r.attestation(),
            storage: r.storage(),
            telemetry: r.telemetry(),
        };
        finish(r.problems).map(|()| config)
    }
}

/// Splits `.env` text into `(KEY, VALUE)` pairs, in file order (SPEC §8.1).
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
    match variable {
        "CONFIG_API_KEY" | "SECRET_KEY" if production => {
            if value == DEV_CONFIG_API_KEY {
                Some("must not be the development default in production")
            } else if value == LEGACY_DEV_SECRET_KEY {
                Some("must not be the well-known legacy default in production")
            } else if value.chars().count() < MIN_KEY_CHARS {
                Some("must be at least 32 characters in production")
            } else {
                None
            }
        }
        "ADMIN_API_KEY" => {
            (value.chars().count() < MIN_KEY_CHARS).then_some("must be at least 32 characters")
        }
        "PLAY_INTEGRITY_DECRYPTION_KEY" => decode_base64(value)
            .is_none_or(|key| key.len() != 32)
            .then_some("is not the base64 of a 32-byte AES key"),
        "PLAY_INTEGRITY_VERIFICATION_KEY" => decode_base64(value)
            .is_none_or(|der| !is_p256_spki(&der))
            .then_some("is not the base64 of a DER SubjectPublicKeyInfo of an EC P-256 key"),
        _ => None,
    }
}

/// Reads variables through a lookup function and collects problems.
struct Reader<F> {
    lookup: F,
    production: bool,
    problems: Vec<ConfigProblem>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    /// The value, or `None` when unset or empty (SPEC §8.1).
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

    /// An integer in `min..=max`; `noun` names it in the problem (`"80a" is not a port number (1-65535)`).
    fn number<T>(&mut self, name: &str, default: T, min: T, max: T, noun: &str) -> T
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        self.value(name, default, |raw| {
            let trimmed = raw.trim();
            match trimmed.parse::<T>() {
                Ok(n) if trimmed.bytes().all(|b| b.is_ascii_digit()) && n >= min && n <= max => {
                    Ok(n)
                }
                _ => Err(format!("{raw:?} is not a {noun} ({min}-{max})")),
            }
        })
    }

    fn seconds(&mut self, name: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_secs(self.number(name, default, min, max, "number of seconds"))
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

    /// A comma list (SPEC §8.1): items trimmed, empty items dropped.
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

    fn server(&mut self) -> ServerConfig {
        ServerConfig {
            host: self.value("HOST", IpAddr::from([0, 0, 0, 0]), parse_ip),
            port: self.number("PORT", 8000u16, 1, 65535, "port number"),
            max_concurrent_requests: self.number(
                "MAX_CONCURRENT_REQUESTS",
                256usize,
                1,
                100_000,
                "number of requests",
            ),
            shutdown_grace: self.seconds("SHUTDOWN_GRACE_SECONDS", 25, 0, 300),
        }
    }

    fn http(&mut self) -> HttpConfig {
        HttpConfig {
            base_path: self.optional("BASE_PATH", check_base_path),
            enable_docs: self.boolean("ENABLE_DOCS", false),
            project_version: self.value("PROJECT_VERSION", "1.0.0".to_owned(), |raw| {
                if raw.chars().count() <= 32 {
                    Ok(raw.to_owned())
                } else {
                    Err(format!("{raw:?} is longer than 32 characters"))
                }
            }),
            body_limit_bytes: self.number(
                "BODY_LIMIT_BYTES",
                65_536usize,
                1024,
                1_048_576,
                "number of bytes",
            ),
            request_timeout: self.seconds("REQUEST_TIMEOUT_SECONDS", 20, 1, 300),
        }
    }

    fn cors(&mut self) -> CorsConfig {
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
            max_age_seconds: self.number(
                "CORS_MAX_AGE_SECONDS",
                600u32,
                0,
                86_400,
                "number of seconds",
            ),
        }
    }

    fn auth(&mut self) -> AuthConfig {
        let (variable, value) = match (self.raw("CONFIG_API_KEY"), self.raw("SECRET_KEY")) {
            (Some(key), _) => ("CONFIG_API_KEY", Some(key)),
            (None, Some(legacy)) => ("SECRET_KEY", Some(legacy)),
            (None, None) => ("CONFIG_API_KEY", None),
        };
        let config_api_key = match value {
            Some(raw) => {
                let key = SecretValue::from_raw(raw);
                self.check_secret(variable, &key);
                key
            }
            None => {
                if self.production {
                    self.problem("CONFIG_API_KEY", "must be set in production");
                }
                SecretValue::Plain(SecretString::from(DEV_CONFIG_API_KEY))
            }
        };
        AuthConfig {
            config_api_key,
            config_api_key_from_legacy: variable == "SECRET_KEY",
            admin_api_key: self.secret("ADMIN_API_KEY"),
        }
    }

    fn oauth(&mut self) -> OAuthConfig {
        let listed = self.providers();
        let allowed_redirect_uris = self.redirect_rules();
        let fallback_redirect_uri = self.value(
            "OAUTH_FALLBACK_REDIRECT_URI",
            DEFAULT_REDIRECT_URI.to_owned(),
            |raw| check_absolute_uri(raw).map(|()| raw.to_owned()),
        );
        let session_ttl = self.seconds("OAUTH_SESSION_TTL_SECONDS", 600, 60, 3600);
        let http_timeout = self.seconds("OAUTH_HTTP_TIMEOUT_SECONDS", 10, 1, 60);

        let google = GoogleConfig {
            client_id: self.secret("GOOGLE_CLIENT_ID"),
            client_secret: self.secret("GOOGLE_CLIENT_SECRET"),
            redirect_uri: self.provider_redirect_uri(
                "GOOGLE_REDIRECT_URI",
                "http://localhost:8000/oauth/callback/googledrive",
                listed.contains(&ProviderId::GoogleDrive),
            ),
            authorize_url: self.endpoint(
                "GOOGLE_AUTHORIZE_URL",
                "https://accounts.google.com/o/oauth2/v2/auth",
            ),
            token_url: self.endpoint("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
            revoke_url: self.endpoint("GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke"),
        };
        // DROPBOX_REDIRECT_URI is accepted for compatibility and never read (SPEC §4.4).
        let dropbox = DropboxConfig {
            client_id: self.secret("DROPBOX_CLIENT_ID"),
            client_secret: self.secret("DROPBOX_CLIENT_SECRET"),
            authorize_url: self.endpoint(
                "DROPBOX_AUTHORIZE_URL",
                "https://www.dropbox.com/oauth2/authorize",
            ),
            token_url: self.endpoint(
                "DROPBOX_TOKEN_URL",
                "https://api.dropboxapi.com/oauth2/token",
            ),
            revoke_url: self.endpoint(
                "DROPBOX_REVOKE_URL",
                "https://api.dropboxapi.com/2/auth/token/revoke",
            ),
        };
        let tenant = self.value("ONEDRIVE_TENANT", "common".to_owned(), check_tenant);
        let microsoft = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
        let onedrive = OneDriveConfig {
            client_id: self.secret("ONEDRIVE_CLIENT_ID"),
            client_secret: self.secret("ONEDRIVE_CLIENT_SECRET"),
            redirect_uri: self.provider_redirect_uri(
                "ONEDRIVE_REDIRECT_URI",
                "http://localhost:8000/oauth/callback/onedrive",
                listed.contains(&ProviderId::OneDrive),
            ),
            authorize_url: self
                .endpoint("ONEDRIVE_AUTHORIZE_URL", &format!("{microsoft}/authorize")),
            token_url: self.endpoint("ONEDRIVE_TOKEN_URL", &format!("{microsoft}/token")),
            tenant,
        };

        let mut enabled_providers = Vec::new();
        let mut disabled_for_missing_credentials = Vec::new();
        for provider in listed {
            let required: &[(&'static str, bool)] = match provider {
                ProviderId::GoogleDrive => &[
                    ("GOOGLE_CLIENT_ID", google.client_id.is_some()),
                    ("GOOGLE_CLIENT_SECRET", google.client_secret.is_some()),
                ],
                ProviderId::Dropbox => &[("DROPBOX_CLIENT_ID", dropbox.client_id.is_some())],
                ProviderId::OneDrive => &[
                    ("ONEDRIVE_CLIENT_ID", onedrive.client_id.is_some()),
                    ("ONEDRIVE_CLIENT_SECRET", onedrive.client_secret.is_some()),
                ],
            };
            let missing: Vec<&'static str> = required
                .iter()
                .filter(|(_, present)| !present)
                .map(|(name, _)| *name)
                .collect();
            if missing.is_empty() {
                enabled_providers.push(provider);
            } else if self.production {
                for name in missing {
                    self.problem(
                        name,
                        format!(
                            "must be set in production because {} is enabled",
                            provider.as_str()
                        ),
                    );
                }
                enabled_providers.push(provider);
            } else {
                disabled_for_missing_credentials.push((provider, missing));
            }
        }

        OAuthConfig {
            enabled_providers,
            disabled_for_missing_credentials,
            allowed_redirect_uris,
            fallback_redirect_uri,
            session_ttl,
            http_timeout,
            google,
            dropbox,
            onedrive,
        }
    }

    /// `ENABLED_CLOUD_PROVIDERS`: lower-cased, deduplicated, in the fixed order of [`ProviderId::ALL`].
    fn providers(&mut self) -> Vec<ProviderId> {
        let mut providers = Vec::new();
        for item in self.list("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox") {
            match ProviderId::parse(&item.to_ascii_lowercase()) {
                Some(provider) => providers.push(provider),
                None => self.problem(
                    "ENABLED_CLOUD_PROVIDERS",
                    format!("{item:?} is not a provider (googledrive, dropbox, onedrive)"),
                ),
            }
        }
        providers.sort();
        providers.dedup();
        providers
    }

    fn redirect_rules(&mut self) -> Vec<RedirectRule> {
        let mut rules = Vec::new();
        for entry in self.list("ALLOWED_REDIRECT_URIS", DEFAULT_REDIRECT_URI) {
            match parse_redirect_rule(&entry, self.production) {
                Ok(rule) => rules.push(rule),
                Err(message) => self.problem("ALLOWED_REDIRECT_URIS", message),
            }
        }
        rules
    }

    /// A provider's own callback URL: absolute http/https, no fragment; https in production when enabled.
    fn provider_redirect_uri(&mut self, name: &str, default: &str, enabled: bool) -> String {
        let Some(uri) = self.optional(name, |raw| check_url(raw).map(|()| raw.to_owned())) else {
            if self.is_set(name) {
                return default.to_owned();
            }
            if self.production && enabled {
                self.problem(
                    name,
                    format!("must be set to an https URL in production (the default is {default})"),
                );
            }
            return default.to_owned();
        };
        if self.production && enabled && !is_https(&uri) {
            self.problem(name, format!("{uri:?} must be an https URL in production"));
        }
        uri
    }

    /// An endpoint override (SPEC §4.11): absolute http/https, no query, no fragment; https in production.
    fn endpoint(&mut self, name: &str, default: &str) -> String {
        let Some(url) = self.optional(name, |raw| check_endpoint(raw).map(|()| raw.to_owned()))
        else {
            return default.to_owned();
        };
        if self.production && !is_https(&url) {
            self.problem(name, format!("{url:?} must be an https URL in production"));
        }
        url
    }

    fn pki(&mut self) -> PkiConfig {
        PkiConfig {
            validity_days_android: self.number(
                "CERT_VALIDITY_DAYS_ANDROID",
                30u32,
                1,
                365,
                "number of days",
            ),
            validity_days_ios: self.number(
                "CERT_VALIDITY_DAYS_IOS",
                30u32,
                1,
                365,
                "number of days",
            ),
            validity_days_desktop: self.number(
                "CERT_VALIDITY_DAYS_DESKTOP",
                7u32,
                1,
                365,
                "number of days",
            ),
            validity_days_web: self.number(
                "CERT_VALIDITY_DAYS_WEB",
                1u32,
                1,
                365,
                "number of days",
            ),
            record_retention_days: self.number(
                "CERT_RECORD_RETENTION_DAYS",
                30u32,
                1,
                3650,
                "number of days",
            ),
            client_cert_header: self.value(
                "CLIENT_CERT_HEADER",
                http::HeaderName::from_static("x-client-cert"),
                |raw| {
                    http::HeaderName::from_bytes(raw.trim().as_bytes())
                        .map_err(|_| format!("{raw:?} is not a valid header name"))
                },
            ),
            client_cert_sources: self.cert_sources(),
        }
    }

    /// `CLIENT_CERT_SOURCES`: a non-empty subset, sorted into priority order, deduplicated.
    fn cert_sources(&mut self) -> Vec<CertSource> {
        let items = self.list("CLIENT_CERT_SOURCES", "lambda-context,alb,header,xfcc");
        let mut sources = Vec::new();
        for item in &items {
            match CertSource::parse(item) {
                Some(source) => sources.push(source),
                None => self.problem(
                    "CLIENT_CERT_SOURCES",
                    format!(
                        "{item:?} is not a certificate source (lambda-context, alb, header, xfcc)"
                    ),
                ),
            }
        }
        if items.is_empty() {
            self.problem(
                "CLIENT_CERT_SOURCES",
                "must name at least one source (lambda-context, alb, header, xfcc)",
            );
        }
        sources.sort();
        sources.dedup();
        if sources.is_empty() {
            CertSource::ALL.to_vec()
        } else {
            sources
        }
    }

    fn attestation(&mut self) -> AttestationConfig {
        AttestationConfig {
            enrollment_require_attestation: self.boolean("ENROLLMENT_REQUIRE_ATTESTATION", false),
            enrollment_max_age: self.seconds(
                "ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS",
                600,
                30,
                86_400,
            ),
            cache_ttl: self.seconds("ATTESTATION_CACHE_TTL", 3600, 60, 86_400),
            play_integrity: self.play_integrity(),
            app_attest: self.app_attest(),
            desktop_enabled: self.boolean("DESKTOP_ATTESTATION_ENABLED", true),
            desktop_max_per_hour: self.number(
                "DESKTOP_ATTESTATION_MAX_PER_HOUR",
                10u32,
                1,
                1000,
                "number of attestations",
            ),
        }
    }

    fn play_integrity(&mut self) -> Option<PlayIntegrityConfig> {
        const GROUP: [&str; 3] = [
            "PLAY_INTEGRITY_PACKAGE_NAME",
            "PLAY_INTEGRITY_DECRYPTION_KEY",
            "PLAY_INTEGRITY_VERIFICATION_KEY",
        ];
        let package_name = self.optional(GROUP[0], check_package_name);
        let decryption_key = self.secret(GROUP[1]);
        let verification_key = self.secret(GROUP[2]);
        let max_age = self.seconds("PLAY_INTEGRITY_MAX_AGE_SECONDS", 300, 10, 3600);
        let required_device_verdict = self.value(
            "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
            DeviceVerdict::Device,
            |raw| {
                DeviceVerdict::parse(&raw.trim().to_ascii_uppercase()).ok_or_else(|| {
                    format!(
                        "{raw:?} is not one of: MEETS_BASIC_INTEGRITY, MEETS_DEVICE_INTEGRITY, MEETS_STRONG_INTEGRITY"
                    )
                })
            },
        );
        let allow_unrecognized_app = self.boolean("PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP", false);
        let mut cert_digests = Vec::new();
        for digest in self.list("PLAY_INTEGRITY_CERT_DIGESTS", "") {
            let decoded = URL_SAFE_LENIENT.decode(&digest);
            if decoded.is_ok_and(|bytes| bytes.len() == 32) {
                cert_digests.push(digest);
            } else {
                self.problem(
                    "PLAY_INTEGRITY_CERT_DIGESTS",
                    format!("{digest:?} is not a base64url SHA-256 digest"),
                );
            }
        }
        self.all_or_nothing(&GROUP, "Play Integrity");
        Some(PlayIntegrityConfig {
            package_name: package_name?,
            decryption_key: decryption_key?,
            verification_key: verification_key?,
            max_age,
            required_device_verdict,
            allow_unrecognized_app,
            cert_digests,
        })
    }

    fn app_attest(&mut self) -> Option<AppAttestConfig> {
        let team_id = self.optional("APPLE_TEAM_ID", check_team_id);
        let bundle_id = self.optional("APPLE_BUNDLE_ID", check_bundle_id);
        let environment = self.choice(
            "APP_ATTEST_ENVIRONMENT",
            AppAttestEnvironment::Production,
            &[
                ("production", AppAttestEnvironment::Production),
                ("development", AppAttestEnvironment::Development),
            ],
        );
        self.all_or_nothing(&["APPLE_TEAM_ID", "APPLE_BUNDLE_ID"], "App Attest");
        Some(AppAttestConfig {
            team_id: team_id?,
            bundle_id: bundle_id?,
            environment,
        })
    }

    fn storage(&mut self) -> StorageConfig {
        let provider = self.choice(
            "INFRASTRUCTURE_PROVIDER",
            StorageProvider::Local,
            &[
                ("local", StorageProvider::Local),
                ("aws", StorageProvider::Aws),
            ],
        );
        let data_dir = self
            .raw("DATA_DIR")
            .or_else(|| self.raw("INFRASTRUCTURE_BASE_DIR"))
            .unwrap_or_else(|| "./.apuntador".to_owned());
        StorageConfig {
            provider,
            data_dir: PathBuf::from(data_dir),
            aws: AwsConfig {
                region: self.optional("AWS_REGION", check_region),
                certificates_table: self.value(
                    "AWS_DYNAMODB_TABLE",
                    "apuntador-certificates".to_owned(),
                    check_table_name,
                ),
                sessions_table: self.value(
                    "AWS_DYNAMODB_SESSIONS_TABLE",
                    "apuntador-sessions".to_owned(),
                    check_table_name,
                ),
                bucket: self.value(
                    "AWS_S3_BUCKET",
                    "apuntador-cert-storage".to_owned(),
                    check_bucket,
                ),
                secrets_prefix: self.value(
                    "AWS_SECRETS_PREFIX",
                    "apuntador".to_owned(),
                    check_secrets_prefix,
                ),
                auto_create_resources: self.boolean("AUTO_CREATE_RESOURCES", false),
                endpoint_url: self.optional("AWS_ENDPOINT_URL", |raw| {
                    check_endpoint(raw).map(|()| raw.to_owned())
                }),
            },
        }
    }

    fn telemetry(&mut self) -> TelemetryConfig {
        TelemetryConfig {
            log_level: self.value("LOG_LEVEL", "info".to_owned(), check_log_level),
            log_format: self.choice(
                "LOG_FORMAT",
                LogFormat::Json,
                &[("json", LogFormat::Json), ("human", LogFormat::Human)],
            ),
            otel_enabled: self.boolean("OTEL_ENABLED", false),
            otel_service_name: self.string("OTEL_SERVICE_NAME", "apuntador"),
            otel_endpoint: self.value(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://localhost:4317".to_owned(),
                |raw| check_url(raw).map(|()| raw.to_owned()),
            ),
            otel_protocol: self.choice(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                OtlpProtocol::Grpc,
                &[
                    ("grpc", OtlpProtocol::Grpc),
                    ("http/protobuf", OtlpProtocol::HttpProtobuf),
                ],
            ),
            otel_sampler_ratio: self.value("OTEL_TRACES_SAMPLER_ARG", 1.0, |raw| {
                match raw.trim().parse::<f64>() {
                    Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
                    _ => Err(format!("{raw:?} is not a ratio (0.0-1.0)")),
                }
            }),
            otel_resource_attributes: self.resource_attributes(),
        }
    }

    /// `OTEL_RESOURCE_ATTRIBUTES`: `k=v` pairs; values are percent-decoded as the OpenTelemetry spec says.
    fn resource_attributes(&mut self) -> Vec<(String, String)> {
        let mut attributes = Vec::new();
        for item in self.list("OTEL_RESOURCE_ATTRIBUTES", "") {
            let Some((key, value)) = item
                .split_once('=')
                .filter(|(key, _)| !key.trim().is_empty())
            else {
                self.problem(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    format!("{item:?} is not a key=value pair"),
                );
                continue;
            };
            match percent_encoding::percent_decode_str(value.trim()).decode_utf8() {
                Ok(value) => attributes.push((key.trim().to_owned(), value.into_owned())),
                Err(_) => self.problem(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    format!("{item:?}: the value is not percent-encoded UTF-8"),
                ),
            }
        }
        attributes
    }
}

// ---------------------------------------------------------------------------------------------------------
// Value checks. Each returns the problem message; only non-secret values are quoted.
// ---------------------------------------------------------------------------------------------------------

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_ip(raw: &str) -> Result<IpAddr, String> {
    let trimmed = raw.trim();
    let unbracketed = trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(trimmed);
    unbracketed
        .parse()
        .map_err(|_| format!("{raw:?} is not an IP address"))
}

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

fn has_bad_chars(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Splits `scheme:rest` when `scheme` is a valid RFC 3986 scheme.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

fn is_https(url: &str) -> bool {
    split_scheme(url).is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("https"))
}

/// Checks `host[:port]` (no user information) and returns the host (`[…]` kept for IPv6).
fn check_authority(authority: &str) -> Result<&str, &'static str> {
    if authority.contains('@') {
        return Err("it must not contain user information");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("its [IPv6] host is not closed")?;
        v6.parse::<std::net::Ipv6Addr>()
            .map_err(|_| "its IPv6 host is invalid")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("it has text after the [IPv6] host")?,
            ),
        };
        (&authority[..v6.len() + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host");
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%'))
    {
        return Err("its host is invalid");
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|n| n > 0))
    {
        return Err("its port is invalid");
    }
    Ok(host)
}

/// The facts about an absolute `http`/`https` URL that the rules need.
struct HttpUrl {
    has_query: bool,
    has_fragment: bool,
}

fn parse_http_url(raw: &str) -> Result<HttpUrl, String> {
    let fail = |why: &str| format!("{raw:?} is not an absolute http/https URL: {why}");
    if has_bad_chars(raw) {
        return Err(fail("it contains spaces or control characters"));
    }
    let Some((scheme, rest)) = split_scheme(raw) else {
        return Err(fail("it has no scheme"));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(fail("its scheme must be http or https"));
    }
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(fail("it has no host"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    check_authority(&rest[..end]).map_err(fail)?;
    let tail = &rest[end..];
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, _)) => (before, true),
        None => (tail, false),
    };
    Ok(HttpUrl {
        has_query: before_fragment.contains('?'),
        has_fragment: fragment,
    })
}

/// An absolute http/https URL without fragment (provider callback URLs, OTLP endpoint).
fn check_url(raw: &str) -> Result<(), String> {
    if parse_http_url(raw)?.has_fragment {
        return Err(format!("{raw:?} must not contain a fragment (#)"));
    }
    Ok(())
}

/// An endpoint override (SPEC §4.11): absolute http/https URL, no query, no fragment.
fn check_endpoint(raw: &str) -> Result<(), String> {
    let url = parse_http_url(raw)?;
    if url.has_query || url.has_fragment {
        return Err(format!(
            "{raw:?} must not contain a query (?) or a fragment (#)"
        ));
    }
    Ok(())
}

/// An RFC 3986 absolute URI (scheme, no fragment); http/https ones also need a valid host.
fn check_absolute_uri(raw: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{raw:?} is not an absolute URI: {why}"));
    if has_bad_chars(raw) {
        return fail("it contains spaces or control characters");
    }
    let Some((scheme, rest)) = split_scheme(raw) else {
        return fail("it has no scheme");
    };
    if rest.is_empty() {
        return fail("it has nothing after the scheme");
    }
    if raw.contains('#') {
        return fail("it must not contain a fragment (#)");
    }
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        parse_http_url(raw)?;
    }
    Ok(())
}

/// An exact CORS origin `scheme://host[:port]` (SPEC §2.8).
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

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// One `ALLOWED_REDIRECT_URIS` entry (SPEC §4.8, §8.4).
fn parse_redirect_rule(entry: &str, production: bool) -> Result<RedirectRule, String> {
    if entry == "*" {
        return if production {
            Err("a lone * (any redirect URI) is refused in production".to_owned())
        } else {
            Ok(RedirectRule::Any)
        };
    }
    let (text, prefix) = match entry.find('*') {
        None => (entry, false),
        Some(i) if i == entry.len() - 1 => (&entry[..i], true),
        Some(_) => {
            return Err(format!(
                "{entry:?}: * may appear only once, as the last character"
            ));
        }
    };
    let fail = |why: &str| Err(format!("{entry:?} is not an absolute URI: {why}"));
    if has_bad_chars(text) {
        return fail("it contains spaces or control characters");
    }
    let Some((scheme, rest)) = split_scheme(text) else {
        return fail("it has no scheme");
    };
    if text.contains('#') {
        return fail("it must not contain a fragment (#)");
    }
    let http = scheme.eq_ignore_ascii_case("http");
    if http || scheme.eq_ignore_ascii_case("https") {
        let Some(after) = rest.strip_prefix("//") else {
            return fail("it has no host");
        };
        let authority = if prefix {
            match after.find('/') {
                Some(slash) => &after[..slash],
                None => {
                    return Err(format!(
                        "{entry:?}: an http/https prefix rule must contain the host and a / after it"
                    ));
                }
            }
        } else {
            &after[..after.find(['/', '?']).unwrap_or(after.len())]
        };
        let host = match check_authority(authority) {
            Ok(host) => host,
            Err(why) => return fail(why),
        };
        if production && http && !is_loopback_host(host) {
            return Err(format!(
                "{entry:?}: http redirect URIs are accepted in production only for localhost, 127.0.0.1 and [::1]"
            ));
        }
    } else if rest.is_empty() && !prefix {
        return fail("it has nothing after the scheme");
    }
    Ok(if prefix {
        RedirectRule::Prefix(text.to_owned())
    } else {
        RedirectRule::Exact(text.to_owned())
    })
}

/// `ONEDRIVE_TENANT`: `common`, `organizations`, `consumers`, a GUID or a domain; stored lower-cased.
fn check_tenant(raw: &str) -> Result<String, String> {
    let tenant = raw.trim().to_ascii_lowercase();
    if matches!(tenant.as_str(), "common" | "organizations" | "consumers")
        || is_guid(&tenant)
        || is_domain(&tenant)
    {
        Ok(tenant)
    } else {
        Err(format!(
            "{raw:?} is not common, organizations, consumers, a tenant GUID or a domain name"
        ))
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
}

/// An Android application id: two or more `.`-separated segments, each a letter then letters, digits, `_`.
fn check_package_name(raw: &str) -> Result<String, String> {
    let segments: Vec<&str> = raw.split('.').collect();
    let valid = segments.len() >= 2
        && segments.iter().all(|segment| {
            segment
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an Android package name (such as com.example.app)"
        ))
    }
}

fn check_team_id(raw: &str) -> Result<String, String> {
    if raw.len() == 10
        && raw
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an Apple team id (10 upper-case letters or digits)"
        ))
    }
}

/// An Apple bundle identifier: `.`-separated non-empty segments of ASCII letters, digits and `-`.
fn check_bundle_id(raw: &str) -> Result<String, String> {
    let valid = raw.len() <= 155
        && raw.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not a bundle identifier (such as com.example.app)"
        ))
    }
}

fn check_region(raw: &str) -> Result<String, String> {
    let valid = !raw.starts_with('-')
        && !raw.ends_with('-')
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!("{raw:?} is not an AWS region (such as eu-west-1)"))
    }
}

/// A DynamoDB table name: 3-255 of `A-Z a-z 0-9 _ . -`.
fn check_table_name(raw: &str) -> Result<String, String> {
    let valid = (3..=255).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)"
        ))
    }
}

/// An S3 bucket name: 3-63 of `a-z 0-9 . -`, starting and ending with a letter or digit, no `..`.
fn check_bucket(raw: &str) -> Result<String, String> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && edge(raw.chars().next())
        && edge(raw.chars().last())
        && !raw.contains("..");
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an S3 bucket name (3-63 of a-z 0-9 . -)"
        ))
    }
}

/// A Secrets Manager name prefix: `A-Z a-z 0-9 / _ + = . @ -`, not starting or ending with `/`.
fn check_secrets_prefix(raw: &str) -> Result<String, String> {
    let valid = raw.len() <= 256
        && !raw.starts_with('/')
        && !raw.ends_with('/')
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not a Secrets Manager name prefix (A-Z a-z 0-9 / _ + = . @ -, no leading or trailing /)"
        ))
    }
}

/// `LOG_LEVEL`: an `EnvFilter` directive; a lone word must be a level (a typo such as `warning` would
/// otherwise parse as a target name and silence every log).
fn check_log_level(raw: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let value = raw.trim();
    if value.chars().all(|c| c.is_ascii_alphabetic())
        && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(value))
    {
        return Err(format!(
            "{raw:?} is not a log level (trace, debug, info, warn, error, off) or a filter directive"
        ));
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| format!("{raw:?} is not a log filter directive: {e}"))
}

const LENIENT_BASE64: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT_BASE64);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT_BASE64);

/// Base64 in the standard or URL-safe alphabet, padding optional, surrounding whitespace ignored.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .ok()
}

/// Structural check of a DER SubjectPublicKeyInfo for an EC P-256 key (RFC 5480), uncompressed (91 bytes)
/// or compressed (59 bytes). Whether the point is on the curve is checked where the key is used.
fn is_p256_spki(der: &[u8]) -> bool {
    // SEQUENCE { OID id-ecPublicKey, OID prime256v1 }
    const ALGORITHM: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    match der.len() {
        91 => {
            der[..2] == [0x30, 0x59]
                && der[2..23] == ALGORITHM
                && der[23..26] == [0x03, 0x42, 0x00]
                && der[26] == 0x04
        }
        59 => {
            der[..2] == [0x30, 0x39]
                && der[2..23] == ALGORITHM
                && der[23..26] == [0x03, 0x22, 0x00]
                && matches!(der[26], 0x02 | 0x03)
        }
        _ => false,
    }
}
