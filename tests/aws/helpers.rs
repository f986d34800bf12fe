//! Shared set-up of the AWS tests: the emulator endpoint (fails loudly without `scripts/with-moto`),
//! unique resource names per test, configurations, AWS stores with their tables, SDK clients for reading
//! items back, and a request helper for the router.

use std::collections::HashMap;
use std::sync::Arc;

use apuntador::config::Config;
use apuntador::store::aws::{AwsStores, sdk_config};
use apuntador::store::{AttestationStore, CertificateStore, OAuthSessionStore};
use axum::Router;

use crate::store_contract::StoreFixture;

/// A production-strength config key for the tests.
pub const CONFIG_KEY: &str = "test-config-key-0123456789abcdef0123456789";

/// The region every test uses (the emulator keeps regions apart).
pub const REGION: &str = "us-east-1";

/// The moto endpoint exported by `scripts/with-moto`.
///
/// # Panics
///
/// When `AWS_ENDPOINT_URL` is not set: these tests never skip silently.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: the AWS tests need the moto emulator. Run them through \
             `scripts/with-moto cargo test --test aws`, which installs and starts moto and exports \
             the endpoint and dummy credentials."
        ),
    }
}

/// A unique lower-case name (valid as a table, bucket and secret name part).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = chrono::Utc::now().timestamp_subsec_nanos();
    format!("{prefix}-{}-{nanos:09}-{n}", std::process::id())
}

/// The AWS resource names of one test.
#[derive(Debug, Clone)]
pub struct Names {
    /// `AWS_DYNAMODB_TABLE`.
    pub certificates_table: String,
    /// `AWS_DYNAMODB_SESSIONS_TABLE`.
    pub sessions_table: String,
    /// `AWS_S3_BUCKET`.
    pub bucket: String,
    /// `AWS_SECRETS_PREFIX`.
    pub prefix: String,
}

impl Names {
    /// Fresh names nobody else uses.
    pub fn new() -> Names {
        Names {
            certificates_table: unique("certs"),
            sessions_table: unique("sessions"),
            bucket: unique("bucket"),
            prefix: format!("apuntador/{}", unique("test")),
        }
    }

    /// The environment of an AWS-mode process using these names and `endpoint`, plus `overrides`.
    pub fn env(&self, endpoint: &str, overrides: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("INFRASTRUCTURE_PROVIDER", "aws"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", REGION),
            ("AWS_DYNAMODB_TABLE", &self.certificates_table),
            ("AWS_DYNAMODB_SESSIONS_TABLE", &self.sessions_table),
            ("AWS_S3_BUCKET", &self.bucket),
            ("AWS_SECRETS_PREFIX", &self.prefix),
            ("CONFIG_API_KEY", CONFIG_KEY),
            ("LOG_LEVEL", "error"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        env
    }

    /// The configuration of [`Names::env`].
    pub fn config(&self, endpoint: &str, overrides: &[(&str, &str)]) -> Config {
        let env = self.env(endpoint, overrides);
        Config::from_lookup(|name| env.get(name).cloned()).expect("test configuration is valid")
    }
}

/// AWS stores on fresh names against the emulator, with both tables created.
pub async fn stores(names: &Names) -> AwsStores {
    let config = names.config(&endpoint(), &[]);
    let stores = AwsStores::new(&config.storage.aws).await;
    stores
        .certificates
        .create_table_if_missing()
        .await
        .expect("certificate table");
    stores
        .sessions
        .create_table_if_missing()
        .await
        .expect("sessions table");
    stores
}

/// Raw SDK clients against the emulator, for arranging and inspecting items.
pub struct Sdk {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// S3, path-style.
    pub s3: aws_sdk_s3::Client,
}

/// Raw SDK clients configured as the service configures its own.
pub async fn sdk() -> Sdk {
    let config = Names::new().config(&endpoint(), &[]);
    let sdk = sdk_config(&config.storage.aws).await;
    Sdk {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        ),
    }
}

/// An endpoint where nothing listens (a port bound and released).
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// The contract fixture: DynamoDB stores on their own tables.
pub struct AwsFixture {
    stores: AwsStores,
}

impl StoreFixture for AwsFixture {
    fn certificates(&self) -> Arc<dyn CertificateStore> {
        self.stores.certificates.clone()
    }
    fn sessions(&self) -> Arc<dyn OAuthSessionStore> {
        self.stores.sessions.clone()
    }
    fn attestation(&self) -> Arc<dyn AttestationStore> {
        self.stores.sessions.clone()
    }
}

/// A fresh fixture: each test gets its own tables (the attestation generation is per table).
pub async fn aws_fixture() -> AwsFixture {
    AwsFixture {
        stores: stores(&Names::new()).await,
    }
}

#[path = "../support/in_process.rs"]
mod in_process;
pub use in_process::{Answer, send};

/// `POST /oauth/authorize/dropbox` with a valid body (needs `DROPBOX_CLIENT_ID`).
pub async fn authorize(app: &Router) -> Answer {
    let body = r#"{"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk","redirect_uri":"apuntador://oauth-callback"}"#;
    send(
        app,
        "POST",
        "/oauth/authorize/dropbox",
        &[("content-type", "application/json")],
        Some(body),
    )
    .await
}

/// A DynamoDB item as the SDK returns it.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// The DynamoDB type letter of each attribute of an item.
pub fn attribute_types(item: &Item) -> std::collections::BTreeMap<String, &'static str> {
    use aws_sdk_dynamodb::types::AttributeValue;
    item.iter()
        .map(|(name, value)| {
            let kind = match value {
                AttributeValue::S(_) => "S",
                AttributeValue::N(_) => "N",
                AttributeValue::Bool(_) => "BOOL",
                AttributeValue::Null(_) => "NULL",
                _ => "other",
            };
            (name.clone(), kind)
        })
        .collect()
}

/// Attribute name → type letter, for comparing with [`attribute_types`].
pub fn expected_types(
    pairs: &[(&str, &'static str)],
) -> std::collections::BTreeMap<String, &'static str> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Creates a Secrets Manager secret holding `value`; its ARN.
pub async fn create_secret(name: &str, value: &str) -> String {
    sdk()
        .await
        .secrets
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create_secret")
        .arn()
        .expect("arn")
        .to_owned()
}
