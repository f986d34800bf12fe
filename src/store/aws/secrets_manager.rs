//! Secrets Manager store: the CA key and certificates under `AWS_SECRETS_PREFIX`, and the
//! resolution of secret references.
//!
//! The CA lives in `<prefix>/ca-private-key`, `<prefix>/ca-certificate` and the optional
//! `<prefix>/ca-previous-certificate`, each a PEM `SecretString`. Reads go through `BatchGetSecretValue`
//! (at most 20 ids per call); ids the batch call does not answer — or every id, when the service or the
//! caller's IAM policy refuses the batch call — are read one by one with `GetSecretValue`. Values are
//! never logged and never appear in errors. Loading is not cached here: `authority::LazyCa` loads the CA
//! once per process. Only the parent `store::aws` module and its children import the AWS SDK.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_config::{Region, SdkConfig};
use aws_sdk_secretsmanager::Client;
use futures_util::future::join_all;
use secrecy::{ExposeSecret, SecretString};

use super::{RETRYABLE_CODES, error_code, sdk_error};
use crate::store::{CaMaterial, SecretStore, StoreError, StoreResult};

/// The secret holding the CA private key, under the prefix.
pub const CA_PRIVATE_KEY_SECRET: &str = "ca-private-key";
/// The secret holding the current CA certificate, under the prefix.
pub const CA_CERTIFICATE_SECRET: &str = "ca-certificate";
/// The secret holding the previous CA certificate during a rotation, under the prefix.
pub const CA_PREVIOUS_CERTIFICATE_SECRET: &str = "ca-previous-certificate";

/// `BatchGetSecretValue` accepts at most 20 ids per call.
const BATCH_SIZE: usize = 20;
/// Days a deleted previous CA certificate stays recoverable.
const RECOVERY_WINDOW_DAYS: i64 = 7;

/// The outcome of reading one secret.
#[derive(Clone)]
enum Read {
    /// The secret's `SecretString`.
    Value(SecretString),
    /// The secret does not exist or is scheduled for deletion (the AWS error code).
    Missing(String),
    /// Throttling, timeout or network failure.
    Unavailable(String),
    /// Anything else: access denied, no `SecretString`, …
    Failed(String),
}

impl Read {
    /// The outcome of a per-secret error code (from `GetSecretValue` or a batch's `Errors`).
    fn from_code(code: &str) -> Read {
        match code {
            // InvalidRequestException: the secret is scheduled for deletion.
            "ResourceNotFoundException" | "InvalidRequestException" => {
                Read::Missing(code.to_owned())
            }
            code if RETRYABLE_CODES.contains(&code) => Read::Unavailable(code.to_owned()),
            code => Read::Failed(code.to_owned()),
        }
    }

    fn from_error(error: StoreError) -> Read {
        match error {
            StoreError::Unavailable(message) | StoreError::Busy(message) => {
                Read::Unavailable(message)
            }
            StoreError::Conflict(message) | StoreError::Internal(message) => Read::Failed(message),
        }
    }

    /// The value of a secret reference: a missing secret is an error.
    fn into_reference(self, reference: &str) -> StoreResult<SecretString> {
        match self {
            Read::Value(value) => Ok(value),
            Read::Missing(code) => Err(StoreError::Internal(format!(
                "the secret {reference} does not exist or is scheduled for deletion ({code})"
            ))),
            Read::Unavailable(message) => Err(StoreError::Unavailable(format!(
                "reading the secret {reference}: {message}"
            ))),
            Read::Failed(message) => Err(StoreError::Internal(format!(
                "reading the secret {reference}: {message}"
            ))),
        }
    }

    /// The value of an optional secret: a missing secret is `None`.
    fn into_optional(self, name: &str) -> StoreResult<Option<SecretString>> {
        match self {
            Read::Missing(_) => Ok(None),
            other => other.into_reference(name).map(Some),
        }
    }
}

/// Whether the batch answer for `arn`/`name` answers the id `id` (a name, a full ARN or an ARN without
/// the six-character random suffix).
fn answers(id: &str, arn: Option<&str>, name: Option<&str>) -> bool {
    if Some(id) == arn || Some(id) == name {
        return true;
    }
    arn.and_then(|arn| arn.strip_prefix(id))
        .is_some_and(|suffix| suffix.len() == 7 && suffix.starts_with('-'))
}

/// The region of a Secrets Manager ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`).
fn arn_region(reference: &str) -> Option<&str> {
    let region = reference.split(':').nth(3)?;
    (reference.starts_with("arn:") && !region.is_empty()).then_some(region)
}

/// CA material and secret references in AWS Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    sdk: SdkConfig,
    client: Client,
    prefix: String,
}

impl SecretsManagerStore {
    /// A store over the secrets under `prefix`; nothing is sent until the first call.
    pub fn new(sdk: &SdkConfig, prefix: &str) -> SecretsManagerStore {
        SecretsManagerStore {
            sdk: sdk.clone(),
            client: Client::new(sdk),
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    /// The full name of the secret `which` (one of the `CA_*_SECRET` constants), e.g.
    /// `apuntador/ca-private-key`.
    pub fn secret_name(&self, which: &str) -> String {
        format!("{}/{which}", self.prefix)
    }

    /// Resolves each reference to its `SecretString`, reading every ARN in its own region; one result
    /// per reference, in order. The values are untouched (the configuration trims one newline).
    pub async fn resolve_each(&self, references: &[String]) -> Vec<StoreResult<SecretString>> {
        let default_region = self.sdk.region().map(ToString::to_string);
        let mut by_region: HashMap<Option<String>, Vec<String>> = HashMap::new();
        for reference in references {
            let region = arn_region(reference)
                .map(str::to_owned)
                .filter(|region| Some(region) != default_region.as_ref());
            by_region.entry(region).or_default().push(reference.clone());
        }
        let mut reads: HashMap<String, Read> = HashMap::new();
        for (region, ids) in by_region {
            let client = match region {
                None => self.client.clone(),
                Some(region) => Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&self.sdk)
                        .region(Region::new(region))
                        .build(),
                ),
            };
            reads.extend(ids.iter().cloned().zip(read_all(&client, &ids).await));
        }
        references
            .iter()
            .map(|reference| {
                reads
                    .get(reference)
                    .cloned()
                    .unwrap_or_else(|| Read::Failed("the secret was not read".into()))
                    .into_reference(reference)
            })
            .collect()
    }

    /// Writes `value` as a new version of the secret `name`, creating the secret when it does not exist
    /// and first restoring it when it is scheduled for deletion (a retired previous CA certificate).
    async fn put_or_create(&self, name: &str, value: &str) -> StoreResult<()> {
        let context = format!("writing the secret {name}");
        // Cancels a scheduled deletion; a no-op on a live secret. (moto accepts a new version of a
        // deleted secret without restoring it, AWS refuses it: restoring first suits both.)
        match self.client.restore_secret().secret_id(name).send().await {
            Ok(_) => {}
            Err(error) if error_code(&error) == Some("ResourceNotFoundException") => {
                return self.create(name, value, &context).await;
            }
            Err(error) => return Err(sdk_error(&context, &error)),
        }
        let put = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            // Deleted for good in between: create it again.
            Err(error) if error_code(&error) == Some("ResourceNotFoundException") => {
                self.create(name, value, &context).await
            }
            Err(error) => Err(sdk_error(&context, &error)),
        }
    }

    /// Creates the secret `name` with `value`; when it was created concurrently, puts a new version.
    async fn create(&self, name: &str, value: &str, context: &str) -> StoreResult<()> {
        let created = self
            .client
            .create_secret()
            .name(name)
            .description("apuntador device CA material (written by `apuntador-server ca init`)")
            .secret_string(value)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error_code(&error) == Some("ResourceExistsException") => {
                self.put_once(name, value, context).await
            }
            Err(error) => Err(sdk_error(context, &error)),
        }
    }

    async fn put_once(&self, name: &str, value: &str, context: &str) -> StoreResult<()> {
        self.client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| sdk_error(context, &error))
    }

    /// Schedules the secret `name` for deletion (recoverable for 7 days) unless it does not exist.
    async fn delete_if_present(&self, name: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_secret()
            .secret_id(name)
            .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error_code(&error),
                    Some("ResourceNotFoundException" | "InvalidRequestException")
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(sdk_error(&format!("deleting the secret {name}"), &error)),
        }
    }
}

/// Reads every id (duplicates once), `BatchGetSecretValue` first, `GetSecretValue` for the rest; one
/// outcome per id, in order.
async fn read_all(client: &Client, ids: &[String]) -> Vec<Read> {
    let mut unique: Vec<&String> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    let mut reads: HashMap<&str, Read> = HashMap::new();
    for chunk in unique.chunks(BATCH_SIZE) {
        let batch = client
            .batch_get_secret_value()
            .set_secret_id_list(Some(chunk.iter().map(|id| (*id).clone()).collect()))
            .send()
            .await;
        match batch {
            Ok(output) => {
                for entry in output.secret_values() {
                    let Some(id) = chunk
                        .iter()
                        .find(|id| answers(id, entry.arn(), entry.name()))
                    else {
                        continue;
                    };
                    let read = match entry.secret_string() {
                        Some(value) => Read::Value(SecretString::from(value.to_owned())),
                        None => Read::Failed("the secret has no SecretString".into()),
                    };
                    reads.insert(id.as_str(), read);
                }
                for error in output.errors() {
                    if let Some(id) = chunk
                        .iter()
                        .find(|id| error.secret_id() == Some(id.as_str()))
                    {
                        let code = error.error_code().unwrap_or("unknown error");
                        reads
                            .entry(id.as_str())
                            .or_insert_with(|| Read::from_code(code));
                    }
                }
            }
            Err(error) => {
                if let StoreError::Unavailable(message) =
                    sdk_error("reading secrets (BatchGetSecretValue)", &error)
                {
                    for id in chunk {
                        reads.insert(id.as_str(), Read::Unavailable(message.clone()));
                    }
                }
                // Otherwise (an emulator without the batch call, an IAM policy granting only
                // GetSecretValue, …) each id is read on its own below.
            }
        }
    }
    let unanswered: Vec<&String> = unique
        .iter()
        .copied()
        .filter(|id| !reads.contains_key(id.as_str()))
        .collect();
    let singles = join_all(unanswered.iter().map(|id| read_one(client, id))).await;
    for (id, read) in unanswered.into_iter().zip(singles) {
        reads.insert(id.as_str(), read);
    }
    ids.iter()
        .map(|id| {
            reads
                .get(id.as_str())
                .cloned()
                .unwrap_or_else(|| Read::Failed("the secret was not read".into()))
        })
        .collect()
}

/// Reads one secret with `GetSecretValue`.
async fn read_one(client: &Client, id: &str) -> Read {
    match client.get_secret_value().secret_id(id).send().await {
        Ok(output) => match output.secret_string() {
            Some(value) => Read::Value(SecretString::from(value.to_owned())),
            None => Read::Failed("the secret has no SecretString".into()),
        },
        Err(error) => match error_code(&error) {
            Some(code @ ("ResourceNotFoundException" | "InvalidRequestException")) => {
                Read::from_code(code)
            }
            _ => Read::from_error(sdk_error("reading a secret (GetSecretValue)", &error)),
        },
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn load_ca(&self) -> StoreResult<Option<CaMaterial>> {
        let names = [
            self.secret_name(CA_PRIVATE_KEY_SECRET),
            self.secret_name(CA_CERTIFICATE_SECRET),
            self.secret_name(CA_PREVIOUS_CERTIFICATE_SECRET),
        ];
        let mut reads = read_all(&self.client, &names).await.into_iter();
        let mut next = |name: &str| {
            reads
                .next()
                .unwrap_or_else(|| Read::Failed("the secret was not read".into()))
                .into_optional(name)
        };
        let key = next(&names[0])?;
        let cert = next(&names[1])?;
        let previous = next(&names[2])?;
        match (key, cert) {
            (None, None) => Ok(None),
            (Some(key), Some(cert)) => Ok(Some(CaMaterial {
                key_pem: key,
                cert_pem: cert.expose_secret().to_owned(),
                previous_cert_pem: previous.map(|previous| previous.expose_secret().to_owned()),
            })),
            (None, Some(_)) => Err(StoreError::Internal(format!(
                "the CA is incomplete: the secret {} is missing",
                names[0]
            ))),
            (Some(_), None) => Err(StoreError::Internal(format!(
                "the CA is incomplete: the secret {} is missing",
                names[1]
            ))),
        }
    }

    async fn store_ca(&self, material: &CaMaterial) -> StoreResult<()> {
        // The previous certificate first, so it is trusted before anything else changes; secrets cannot
        // change together, and a reader that sees a new key with the old certificate finds the pair
        // invalid and loads again later.
        let previous = self.secret_name(CA_PREVIOUS_CERTIFICATE_SECRET);
        match &material.previous_cert_pem {
            Some(pem) => self.put_or_create(&previous, pem).await?,
            // No rotation in progress: a stale previous certificate must not stay trusted.
            None => self.delete_if_present(&previous).await?,
        }
        self.put_or_create(
            &self.secret_name(CA_PRIVATE_KEY_SECRET),
            material.key_pem.expose_secret(),
        )
        .await?;
        self.put_or_create(&self.secret_name(CA_CERTIFICATE_SECRET), &material.cert_pem)
            .await
    }

    async fn resolve(&self, references: &[String]) -> StoreResult<Vec<SecretString>> {
        self.resolve_each(references).await.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_matches_names_full_arns_and_arns_without_the_random_suffix() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/key-AbCdEf";

        assert!(answers(arn, Some(arn), Some("apuntador/key")));
        assert!(answers("apuntador/key", Some(arn), Some("apuntador/key")));
        assert!(answers(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/key",
            Some(arn),
            None
        ));
        assert!(!answers(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/k",
            Some(arn),
            None
        ));
    }

    #[test]
    fn arn_region_reads_the_fourth_field() {
        assert_eq!(
            arn_region("arn:aws:secretsmanager:us-east-2:1:secret:x"),
            Some("us-east-2")
        );
        assert_eq!(arn_region("apuntador/ca-certificate"), None);
    }
}
