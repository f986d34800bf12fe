output "api_url" {
  description = "https://<domain_name>/ once the custom domain exists (truststore_version set)."
  value       = module.api.url
}

output "dns_alias_target" {
  description = "Create an alias (A/AAAA) record for domain_name pointing here; null until truststore_version is set."
  value       = module.api.domain_target
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
