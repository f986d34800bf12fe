mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  bucket_name = "apuntador-truststore-test"
}

run "bucket_is_versioned_private_and_encrypted" {
  assert {
    condition     = aws_s3_bucket_versioning.truststore.versioning_configuration[0].status == "Enabled"
    error_message = "the truststore bucket must be versioned (the edge pins an object version)"
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.truststore.block_public_acls,
      aws_s3_bucket_public_access_block.truststore.block_public_policy,
      aws_s3_bucket_public_access_block.truststore.ignore_public_acls,
      aws_s3_bucket_public_access_block.truststore.restrict_public_buckets,
    ])
    error_message = "all public access must be blocked"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.truststore.rule : one(r.apply_server_side_encryption_by_default).sse_algorithm]) == "AES256"
    error_message = "the bucket must default to SSE-S3"
  }

  assert {
    condition     = output.truststore_uri == "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
    error_message = "truststore URI must be s3://<bucket>/truststore/ca-bundle.pem"
  }

  assert {
    condition     = jsondecode(aws_s3_bucket_policy.truststore[0].policy).Statement[0].Effect == "Deny"
    error_message = "the bucket policy must deny insecure transport"
  }
}

run "rejects_an_invalid_bucket_name" {
  command = plan

  variables {
    bucket_name = "Not_A_Bucket"
  }

  expect_failures = [var.bucket_name]
}
