output "public_url" {
  description = "https://<public_domain_name>/ (the public door)."
  value       = module.public_api.urls["public"]
}

output "device_url" {
  description = "https://<device_domain_name>/ (the mutual TLS device door); null until truststore_version is set."
  value       = lookup(module.device_api.urls, "device", null)
}

output "dns_alias_targets" {
  description = "door => the regional target to alias its domain name to (created for you when hosted_zone_id is set)."
  value       = merge(module.public_api.domain_targets, module.device_api.domain_targets)
}

output "cluster_name" {
  description = "ECS cluster (for `aws ecs update-service --force-new-deployment`)."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "ECS service."
  value       = module.service.service_name
}

output "egress_mode" {
  description = "How tasks reach the OAuth providers."
  value       = module.network.egress_mode
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
