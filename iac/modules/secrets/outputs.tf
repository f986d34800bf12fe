output "ca_secret_arns" {
  description = "ARNs of the three CA secrets (private key, certificate, previous certificate)."
  value       = { for key, secret in aws_secretsmanager_secret.ca : key => secret.arn }
}

output "ca_secret_names" {
  description = "Names of the three CA secrets, as `ca init` writes them."
  value       = local.ca_secret_names
}

output "app_secret_arns" {
  description = "Secret-capable variable name => secret ARN, to be put in the application's environment as is."
  value       = local.app_secret_arns
}

output "readable_secret_arns" {
  description = "Every secret the application may read: the CA secrets and the app secrets."
  value       = sort(distinct(concat(values(local.app_secret_arns), [for secret in aws_secretsmanager_secret.ca : secret.arn])))
}
