//! S3 blob store: published objects such as the truststore bundle, in a versioned bucket.
//!
//! Objects are written with their content type and SSE-S3 (`AES256`); `put` returns the S3 version id the
//! edge configuration references. With an endpoint override (an emulator) the client addresses the bucket
//! path-style. Only the parent `store::aws` module and its children import the AWS SDK.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

use super::{error_code, sdk_error};
use crate::store::{BlobStore, StoreError, StoreResult};

/// The version id S3 reports for objects of a bucket that was never versioned.
pub const NULL_VERSION: &str = "null";

/// Published objects in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    /// A store over `bucket`; `path_style` forces path-style addressing (needed with an endpoint
    /// override). Nothing is sent until the first call.
    pub fn new(sdk: &SdkConfig, bucket: &str, path_style: bool) -> S3BlobStore {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        S3BlobStore {
            client: Client::from_conf(config),
            bucket: bucket.to_owned(),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket when missing: in `region` (a location constraint unless
    /// `us-east-1`), versioned, SSE-S3 by default, all public access blocked. An existing bucket is left
    /// as it is, except that versioning is enabled (the edge references object versions).
    pub async fn create_bucket_if_missing(&self, region: &str) -> StoreResult<()> {
        let context = format!("creating the S3 bucket {}", self.bucket);
        let head = self.client.head_bucket().bucket(&self.bucket).send().await;
        let created = match head {
            Ok(_) => false,
            Err(error)
                if matches!(error_code(&error), Some("NotFound" | "NoSuchBucket"))
                    || error.raw_response().map(|raw| raw.status().as_u16()) == Some(404) =>
            {
                let mut create = self.client.create_bucket().bucket(&self.bucket);
                if region != "us-east-1" {
                    create = create.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(region))
                            .build(),
                    );
                }
                match create.send().await {
                    Ok(_) => {
                        tracing::info!(s3.bucket = %self.bucket, "created the S3 bucket");
                        true
                    }
                    // Created concurrently by another instance of this deployment.
                    Err(error) if error_code(&error) == Some("BucketAlreadyOwnedByYou") => true,
                    Err(error) => {
                        return Err(sdk_error(&format!("{context} (CreateBucket)"), &error));
                    }
                }
            }
            Err(error) => return Err(sdk_error(&format!("{context} (HeadBucket)"), &error)),
        };
        if created {
            let encryption = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .map_err(|error| built_error(&error))?,
                        )
                        .build(),
                )
                .build()
                .map_err(|error| built_error(&error))?;
            self.client
                .put_bucket_encryption()
                .bucket(&self.bucket)
                .server_side_encryption_configuration(encryption)
                .send()
                .await
                .map_err(|error| sdk_error(&format!("{context} (PutBucketEncryption)"), &error))?;
            self.client
                .put_public_access_block()
                .bucket(&self.bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map_err(|error| sdk_error(&format!("{context} (PutPublicAccessBlock)"), &error))?;
        }
        // Always (idempotent): the edge references object versions, so a bucket without versioning —
        // never enabled, or suspended — is not usable.
        self.client
            .put_bucket_versioning()
            .bucket(&self.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| sdk_error(&format!("{context} (PutBucketVersioning)"), &error))?;
        Ok(())
    }
}

fn built_error(error: &aws_sdk_s3::error::BuildError) -> StoreError {
    StoreError::Internal(format!("building an S3 request: {error}"))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> StoreResult<String> {
        let output = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .map_err(|error| sdk_error(&format!("writing s3://{}/{key}", self.bucket), &error))?;
        Ok(output.version_id().unwrap_or(NULL_VERSION).to_owned())
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let context = format!("reading s3://{}/{key}", self.bucket);
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error)
                if matches!(error.as_service_error(), Some(GetObjectError::NoSuchKey(_))) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(sdk_error(&context, &error)),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|error| StoreError::Unavailable(format!("{context}: {error}")))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(error.as_service_error(), Some(HeadObjectError::NotFound(_))) =>
            {
                Ok(false)
            }
            Err(error) => Err(sdk_error(
                &format!("inspecting s3://{}/{key}", self.bucket),
                &error,
            )),
        }
    }
}
