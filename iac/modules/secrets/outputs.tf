output "ca_secret_arns" {
  description = "ARNs of the two CA secrets Terraform owns (private key, certificate)."
  value       = { for key, secret in aws_secretsmanager_secret.ca : key => secret.arn }
}

output "ca_previous_certificate_arn_pattern" {
  description = "IAM resource pattern of <prefix>/ca-previous-certificate, which `ca init` creates and deletes itself."
  value       = local.ca_previous_certificate_arn_pattern
}

output "ca_secret_names" {
  description = "Names of the three CA secrets, as `ca init` writes them (the previous certificate exists only during a rotation)."
  value       = local.ca_secret_names
}

output "app_secret_arns" {
  description = "Secret-capable variable name => secret ARN, to be put in the application's environment as is."
  value       = local.app_secret_arns
}

output "readable_secret_arns" {
  description = "Every secret the application may read with GetSecretValue: the app secrets, the two Terraform-owned CA secrets and the previous-certificate pattern."
  value = sort(distinct(concat(
    values(local.app_secret_arns),
    [for secret in aws_secretsmanager_secret.ca : secret.arn],
    [local.ca_previous_certificate_arn_pattern],
  )))
}
