# The versioned, private bucket that `apuntador-server ca init` publishes the truststore bundle to.
# API Gateway's mutual TLS reads `truststore/ca-bundle.pem` at a pinned object version, so
# versioning is mandatory: a rotation uploads a new version, then the stack is re-applied with it.

locals {
  truststore_key = "truststore/ca-bundle.pem"
}

resource "aws_s3_bucket" "truststore" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket; the only writer is `ca init`, and CloudTrail records its PutObject calls.
  #checkov:skip=CKV_AWS_144:No cross-region replication: the bundle can be re-published at any time from the CA certificates in Secrets Manager.
  #checkov:skip=CKV_AWS_145:SSE-S3 is what the application writes with ; the bundle holds public CA certificates only, no secret.
  #checkov:skip=CKV2_AWS_62:Nothing consumes S3 event notifications for the truststore bundle.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_versioning" "truststore" {
  bucket = aws_s3_bucket.truststore.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "truststore" {
  bucket = aws_s3_bucket.truststore.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "truststore" {
  bucket                  = aws_s3_bucket.truststore.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "truststore" {
  bucket = aws_s3_bucket.truststore.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "truststore" {
  bucket = aws_s3_bucket.truststore.id

  rule {
    id     = "expire-superseded-truststore-versions"
    status = "Enabled"

    filter {
      prefix = "truststore/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.truststore]
}

# Refuse plain-HTTP access to the bucket. (Only the offline apply test against moto, which speaks plain HTTP
# to the SDK and does evaluate this policy, turns it off.)
resource "aws_s3_bucket_policy" "truststore" {
  count = var.deny_insecure_transport ? 1 : 0

  bucket = aws_s3_bucket.truststore.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.truststore.arn, "${aws_s3_bucket.truststore.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.truststore]
}

moved {
  from = aws_s3_bucket_policy.truststore
  to   = aws_s3_bucket_policy.truststore[0]
}
