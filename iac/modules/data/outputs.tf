output "certificates_table_name" {
  description = "Name of the certificate table (AWS_DYNAMODB_TABLE)."
  value       = aws_dynamodb_table.certificates.name
}

output "certificates_table_arn" {
  description = "ARN of the certificate table."
  value       = aws_dynamodb_table.certificates.arn
}

output "sessions_table_name" {
  description = "Name of the sessions table (AWS_DYNAMODB_SESSIONS_TABLE)."
  value       = aws_dynamodb_table.sessions.name
}

output "sessions_table_arn" {
  description = "ARN of the sessions table."
  value       = aws_dynamodb_table.sessions.arn
}

output "truststore_bucket_name" {
  description = "Name of the truststore bucket (AWS_S3_BUCKET)."
  value       = module.truststore.bucket_name
}

output "truststore_bucket_arn" {
  description = "ARN of the truststore bucket."
  value       = module.truststore.bucket_arn
}

output "truststore_uri" {
  description = "s3://<bucket>/truststore/ca-bundle.pem, for the HTTP API custom domain's mutual TLS."
  value       = module.truststore.truststore_uri
}

output "app_policy" {
  description = "The application's least-privilege IAM policy as an object (tests inspect it)."
  value       = local.app_policy
}

output "app_policy_json" {
  description = "The application's least-privilege IAM policy document, JSON-encoded, for the task or function role."
  value       = jsonencode(local.app_policy)
}
