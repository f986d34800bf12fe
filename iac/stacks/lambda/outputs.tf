output "public_url" {
  description = "https://<public_domain_name>/ (the public door)."
  value       = module.api.urls["public"]
}

output "device_url" {
  description = "https://<device_domain_name>/ (the mutual TLS device door); null until truststore_version is set."
  value       = lookup(module.api.urls, "device", null)
}

output "dns_alias_targets" {
  description = "door => the regional target to alias its domain name to (created for you when hosted_zone_id is set)."
  value       = module.api.domain_targets
}

output "function_name" {
  description = "Name of the Lambda function (for `aws lambda update-function-code` and logs)."
  value       = module.function.function_name
}

output "certificates_table_name" {
  description = "AWS_DYNAMODB_TABLE."
  value       = module.data.certificates_table_name
}

output "sessions_table_name" {
  description = "AWS_DYNAMODB_SESSIONS_TABLE."
  value       = module.data.sessions_table_name
}

output "truststore_bucket_name" {
  description = "AWS_S3_BUCKET, where `ca init` publishes truststore/ca-bundle.pem."
  value       = module.data.truststore_bucket_name
}

output "ca_secret_names" {
  description = "The CA secrets `ca init --aws` writes."
  value       = module.secrets.ca_secret_names
}

output "app_secret_arns" {
  description = "Secrets whose values operators put with `aws secretsmanager put-secret-value`."
  value       = module.secrets.app_secret_arns
}

output "region" {
  description = "AWS_REGION for `apuntador-server ca init --aws`."
  value       = var.region
}

output "secrets_prefix" {
  description = "AWS_SECRETS_PREFIX for `apuntador-server ca init --aws`."
  value       = var.secrets_prefix
}
