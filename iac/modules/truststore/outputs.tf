output "bucket_name" {
  description = "Name of the truststore bucket (the app's AWS_S3_BUCKET)."
  value       = aws_s3_bucket.truststore.bucket
}

output "bucket_arn" {
  description = "ARN of the truststore bucket."
  value       = aws_s3_bucket.truststore.arn
}

output "truststore_key" {
  description = "Object key of the truststore bundle written by `ca init`."
  value       = local.truststore_key
}

output "truststore_uri" {
  description = "S3 URI of the truststore bundle, as API Gateway's mutual TLS configuration expects it."
  value       = "s3://${aws_s3_bucket.truststore.bucket}/${local.truststore_key}"
}
