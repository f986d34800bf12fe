//! The AWS backend (`INFRASTRUCTURE_PROVIDER=aws`): DynamoDB, Secrets Manager and S3
//! implementations of the store traits, the AWS clients they share, `AUTO_CREATE_RESOURCES` and the
//! resolution of secret references.
//!
//! [`AwsStores::new`] builds one SDK configuration and one client per service, once per process, with no
//! network I/O (Lambda INIT stays small): the region is `AWS_REGION`, else the SDK's environment and
//! profile chain, else `eu-west-1`; the endpoint is `AWS_ENDPOINT_URL` (emulators), in which case S3 uses
//! path-style addressing. Credentials come from the SDK's default chain and are fetched on first use.
//! Every SDK failure goes through [`sdk_error`]: throttling, timeouts and connection failures become
//! [`StoreError::Unavailable`], failed conditions [`StoreError::Conflict`]. This is the only module (with
//! its children [`dynamodb`], [`secrets_manager`] and [`s3`]) that imports `aws-sdk-*`; it must not depend
//! on axum or on the HTTP layer.

pub mod dynamodb;
pub mod s3;
pub mod secrets_manager;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use secrecy::SecretString;

pub use dynamodb::{DynamoDbCertificateStore, DynamoDbSessionStore};
pub use s3::S3BlobStore;
pub use secrets_manager::SecretsManagerStore;

use super::{StoreError, StoreResult};
use crate::config::AwsConfig;

/// The region used when neither `AWS_REGION` nor the SDK's environment/profile chain names one.
pub const DEFAULT_REGION: &str = "eu-west-1";

/// How long establishing a connection to an AWS endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt of an operation may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// How long an operation may take, retries included: below the default 20 s request timeout, so a
/// struggling store answers 503 `store_unavailable` rather than 504.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(9);
/// Attempts per operation (the SDK's standard retry mode: throttling, 5xx and transient I/O errors).
const MAX_ATTEMPTS: u32 = 3;

/// Error codes that mean "try again later" whatever the service.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "SlowDown",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// The SDK's HTTPS client (rustls with *ring*), built when the first AWS request is sent, trusting the
/// compiled-in Mozilla roots.
///
/// The SDK's own hyper client loads the system root store (every file of `/etc/ssl/certs`) as soon as a
/// service client is created, that is during Lambda INIT, although most first requests (`/health`,
/// OAuth authorize) never call AWS. Deferring the build and using bundled roots means no file is read
/// for TLS at start-up, nor later; AWS endpoints chain to roots in the Mozilla set.
#[derive(Debug, Default)]
struct LazyHttpsClient {
    inner: OnceLock<SharedHttpClient>,
}

impl LazyHttpsClient {
    fn client(&self) -> &SharedHttpClient {
        self.inner.get_or_init(|| {
            let roots = TrustStore::empty().with_pem_certificate(bundled_roots_pem());
            // `build` has no failing case (it returns `Ok` unconditionally); the PEM is parsed when the
            // connector is made, and every bundled root parses (they are what webpki itself trusts).
            let context = tls::TlsContext::builder()
                .with_trust_store(roots)
                .build()
                .expect("a TLS context with a trust store always builds");
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(context)
                .build_https()
        })
    }
}

impl HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client().http_connector(settings, components)
    }

    // `validate_base_client_config` keeps its default (nothing): the hyper client's version builds a
    // connector, and so loads the trust store, whenever a service client is created.

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        // What the hyper client reports (the user agent's `md/http#hyper-1.x`), without building it.
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// The Mozilla root certificates compiled into the binary (`webpki-root-certs`), as one PEM bundle.
fn bundled_roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// Loads the shared SDK configuration for `aws`: region, endpoint, timeouts, retries and an HTTPS client
/// on rustls with *ring* (built on first use, see [`LazyHttpsClient`]). Reads the environment and
/// profile files but performs no network I/O and reads no certificate file.
pub async fn sdk_config(aws: &AwsConfig) -> SdkConfig {
    let http_client = SharedHttpClient::new(LazyHttpsClient::default());
    // Not the SDK's default region chain: its last link asks the EC2 instance metadata service, a
    // network call (and a slow timeout outside EC2).
    let region = match &aws.region {
        Some(region) => RegionProviderChain::first_try(Region::new(region.clone())),
        None => RegionProviderChain::first_try(
            aws_config::environment::EnvironmentVariableRegionProvider::new(),
        )
        .or_else(aws_config::profile::ProfileFileRegionProvider::new())
        .or_else(Region::new(DEFAULT_REGION)),
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(endpoint) = &aws.endpoint_url {
        // The configuration may come from `.env`, which the SDK does not read itself.
        loader = loader.endpoint_url(endpoint.clone());
    }
    loader.load().await
}

/// The four AWS stores of one process, sharing one SDK configuration.
#[derive(Debug, Clone)]
pub struct AwsStores {
    /// Certificate records in `AWS_DYNAMODB_TABLE`.
    pub certificates: Arc<DynamoDbCertificateStore>,
    /// OAuth sessions and attestation items in `AWS_DYNAMODB_SESSIONS_TABLE`.
    pub sessions: Arc<DynamoDbSessionStore>,
    /// CA material under `AWS_SECRETS_PREFIX` and secret references.
    pub secrets: Arc<SecretsManagerStore>,
    /// The truststore bundle in `AWS_S3_BUCKET`.
    pub blobs: Arc<S3BlobStore>,
    region: String,
}

impl AwsStores {
    /// Builds the clients and the stores for `aws`, with no network I/O.
    pub async fn new(aws: &AwsConfig) -> AwsStores {
        let sdk = sdk_config(aws).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let region = sdk
            .region()
            .map_or_else(|| DEFAULT_REGION.to_owned(), ToString::to_string);
        AwsStores {
            certificates: Arc::new(DynamoDbCertificateStore::new(
                dynamodb.clone(),
                &aws.certificates_table,
            )),
            sessions: Arc::new(DynamoDbSessionStore::new(dynamodb, &aws.sessions_table)),
            secrets: Arc::new(SecretsManagerStore::new(&sdk, &aws.secrets_prefix)),
            blobs: Arc::new(S3BlobStore::new(&sdk, &aws.bucket, path_style(aws, &sdk))),
            region,
        }
    }

    /// `AUTO_CREATE_RESOURCES`: creates the missing tables (on demand, key schemas and GSIs,
    /// TTL on `ttl`, waiting until active for at most 60 s each) and the missing bucket (versioned,
    /// SSE-S3, public access blocked). Existing resources are left as they are, except that TTL is
    /// enabled on a table that lacks it and versioning on a bucket that lacks it. Secrets are never
    /// created. Run once at start-up, never per request.
    pub async fn create_missing_resources(&self) -> StoreResult<()> {
        self.certificates.create_table_if_missing().await?;
        self.sessions.create_table_if_missing().await?;
        self.blobs.create_bucket_if_missing(&self.region).await
    }

    /// The region the clients use.
    pub fn region(&self) -> &str {
        &self.region
    }
}

/// Whether S3 must use path-style addressing: with an endpoint override (an emulator on `localhost` has
/// no `bucket.localhost` host names).
fn path_style(aws: &AwsConfig, sdk: &SdkConfig) -> bool {
    aws.endpoint_url.is_some() || sdk.endpoint_url().is_some()
}

/// Resolves Secrets Manager references with clients built for the purpose: at most 20 per
/// `BatchGetSecretValue` call, each ARN read in its own region. Returns one result per reference, in
/// order; values are never logged.
pub async fn resolve_secret_references(
    aws: &AwsConfig,
    references: &[String],
) -> Vec<StoreResult<SecretString>> {
    if references.is_empty() {
        return Vec::new();
    }
    let sdk = sdk_config(aws).await;
    SecretsManagerStore::new(&sdk, &aws.secrets_prefix)
        .resolve_each(references)
        .await
}

/// Maps an SDK failure of the operation described by `context` to a [`StoreError`].
///
/// Timeouts, connection failures, unreadable responses, throttling and 5xx answers → `Unavailable`;
/// `ConditionalCheckFailedException` → `Conflict`; anything else → `Internal`. The message names the
/// operation and the AWS error code, never a stored value.
pub(crate) fn sdk_error<E>(context: &str, error: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("{context}: timed out")),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                "timed out"
            } else if failure.is_io() {
                "connection failed"
            } else {
                "could not send the request"
            };
            StoreError::Unavailable(format!(
                "{context}: {kind} ({})",
                DisplayErrorContext(error)
            ))
        }
        SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{context}: the response could not be read"))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            let status = service.raw().status().as_u16();
            if code == "ConditionalCheckFailedException" {
                StoreError::Conflict(format!("{context}: the condition failed"))
            } else if RETRYABLE_CODES.contains(&code) || status >= 500 {
                StoreError::Unavailable(format!("{context}: {code} (HTTP {status})"))
            } else {
                let message = service.err().message().unwrap_or_default();
                StoreError::Internal(format!("{context}: {code} (HTTP {status}) {message}"))
            }
        }
        _ => StoreError::Internal(format!("{context}: {}", DisplayErrorContext(error))),
    }
}

/// The service error code of `error`, when the service answered with one.
pub(crate) fn error_code<E>(error: &SdkError<E, HttpResponse>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}
