//! Where state lives: SQLite and PEM files under `DATA_DIR` (the default), or DynamoDB, S3 and Secrets
//! Manager, with their names checked against AWS's naming rules before any call is made. These are also
//! the only settings the `ca` commands read ([`CA_VARIABLES`]).

use std::path::PathBuf;

use super::Reader;
use super::values::check_endpoint;

/// The variables `apuntador-server ca init|rotate|show` reads: where the CA lives, nothing else, so a
/// production setting it does not use (an OAuth credential, an API key) cannot stop it.
pub const CA_VARIABLES: [&str; 10] = [
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
];

/// Storage backend settings.
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

/// AWS settings: DynamoDB tables, S3 bucket, Secrets Manager prefix, region and endpoint.
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

impl Reader<'_> {
    /// The storage settings; `DATA_DIR` falls back to the legacy `INFRASTRUCTURE_BASE_DIR`.
    pub(super) fn storage(&mut self) -> StorageConfig {
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
}

/// An AWS region name: lower-case letters, digits and inner `-`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_storage_default() {
        let c = ok(&[]);
        assert_eq!(c.storage.provider, StorageProvider::Local);
        assert_eq!(c.storage.data_dir, PathBuf::from("./.apuntador"));
        assert_eq!(c.storage.aws.region, None);
        assert_eq!(c.storage.aws.certificates_table, "apuntador-certificates");
        assert_eq!(c.storage.aws.sessions_table, "apuntador-sessions");
        assert_eq!(c.storage.aws.bucket, "apuntador-cert-storage");
        assert_eq!(c.storage.aws.secrets_prefix, "apuntador");
        assert!(!c.storage.aws.auto_create_resources);
        assert_eq!(c.storage.aws.endpoint_url, None);
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_storage_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            (
                "INFRASTRUCTURE_PROVIDER",
                "gcp",
                "is not one of: local, aws",
            ),
            ("AWS_REGION", "EU-WEST-1", "is not an AWS region"),
            ("AWS_DYNAMODB_TABLE", "ab", "is not a DynamoDB table name"),
            (
                "AWS_DYNAMODB_SESSIONS_TABLE",
                "sessions/table",
                "is not a DynamoDB table name",
            ),
            (
                "AWS_S3_BUCKET",
                "Apuntador_Bucket",
                "is not an S3 bucket name",
            ),
            ("AWS_S3_BUCKET", "-bucket", "is not an S3 bucket name"),
            ("AWS_S3_BUCKET", "my..bucket", "is not an S3 bucket name"),
            (
                "AWS_SECRETS_PREFIX",
                "apuntador/",
                "is not a Secrets Manager name prefix",
            ),
            (
                "AWS_SECRETS_PREFIX",
                "a b",
                "is not a Secrets Manager name prefix",
            ),
            ("AUTO_CREATE_RESOURCES", "y", "is not a boolean"),
            (
                "AWS_ENDPOINT_URL",
                "localhost:4566",
                "is not an absolute http/https URL",
            ),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_storage_value_is_accepted() {
        assert_each_accepted(&[
            ("INFRASTRUCTURE_PROVIDER", "AWS"),
            ("DATA_DIR", "/var/lib/apuntador"),
            ("AWS_REGION", "us-gov-west-1"),
            ("AWS_DYNAMODB_TABLE", "prod.certificates_v2"),
            ("AWS_S3_BUCKET", "my.cert-bucket-1"),
            ("AWS_SECRETS_PREFIX", "prod/apuntador"),
            ("AUTO_CREATE_RESOURCES", "yes"),
            ("AWS_ENDPOINT_URL", "http://localhost:4566"),
        ]);
    }

    #[test]
    fn data_dir_falls_back_to_the_legacy_infrastructure_base_dir() {
        assert_eq!(
            ok(&[("INFRASTRUCTURE_BASE_DIR", "/legacy")])
                .storage
                .data_dir,
            PathBuf::from("/legacy")
        );
        let both = ok(&[("INFRASTRUCTURE_BASE_DIR", "/legacy"), ("DATA_DIR", "/new")]);
        assert_eq!(both.storage.data_dir, PathBuf::from("/new"));
    }

    #[test]
    fn the_ca_commands_read_only_the_storage_variables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "ENVIRONMENT=production\nCONFIG_API_KEY=short\nGOOGLE_CLIENT_ID=x\nDATA_DIR=/srv/ca\n",
        )
        .unwrap();
        let storage = Config::storage_from_env_with_dotenv(&path).expect("only storage is read");
        assert_eq!(storage.data_dir, PathBuf::from("/srv/ca"));
    }

    #[test]
    fn a_plain_http_aws_endpoint_is_accepted_in_production() {
        assert_each_accepted_in_production(&[&[("AWS_ENDPOINT_URL", "http://localhost:4566")]]);
    }
}
