# Secrets Manager containers (SPEC §7.5, §8.3). Terraform creates the secrets WITHOUT values:
# `apuntador-server ca init --aws` puts the CA key and certificates as new versions, and operators put
# the provider client secrets and API keys with the AWS CLI. No secret value ever enters Terraform state
# or the task/function configuration: the application gets ARNs and resolves them at start-up.

locals {
  ca_secret_names = {
    ca_private_key          = "${var.secrets_prefix}/ca-private-key"
    ca_certificate          = "${var.secrets_prefix}/ca-certificate"
    ca_previous_certificate = "${var.secrets_prefix}/ca-previous-certificate"
  }
}

resource "aws_secretsmanager_secret" "ca" {
  #checkov:skip=CKV2_AWS_57:CA keys are rotated by `apuntador-server ca init --rotate` (SPEC 5.3), which needs a redeploy and a truststore update; a Lambda rotation function cannot do that.
  for_each = local.ca_secret_names

  name                    = each.value
  description             = "apuntador ${replace(each.key, "_", " ")} (PEM), written by `apuntador-server ca init`."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:OAuth client secrets and API keys are issued by third parties or operators; they are rotated by putting a new version and redeploying.
  for_each = var.managed_app_secrets

  name                    = "${var.secrets_prefix}/env/${each.value}"
  description             = "apuntador ${each.value}; the application reads it through its ARN (SPEC 8.3)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

locals {
  # Variable name => secret ARN, as the application's environment carries it.
  app_secret_arns = merge(
    var.existing_app_secret_arns,
    { for name, secret in aws_secretsmanager_secret.app : name => secret.arn },
  )
}
