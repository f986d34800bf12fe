# Secrets Manager containers. Terraform creates the secrets WITHOUT values:
# `apuntador-server ca init --aws` puts the CA key and certificates as new versions, and operators put
# the provider client secrets and API keys with the AWS CLI. No secret value ever enters Terraform state
# or the task/function configuration: the application gets ARNs and resolves them at start-up.
#
# Who owns which CA secret, so that every apply after `ca init` converges:
#   <prefix>/ca-private-key, <prefix>/ca-certificate   Terraform (created here, empty); `ca init` only ever
#                                                       puts new versions into them, never deletes them.
#   <prefix>/ca-previous-certificate                    `ca init` alone: `--rotate` creates (or restores) it,
#                                                       a plain init or `--force` schedules it for deletion.
# Terraform never manages the previous certificate: if it did, the next plan after the first `ca init`
# would try to create it again while it is scheduled for deletion (CreateSecret fails), and a secret that
# `ca init` recreates after the recovery window gets a new random ARN suffix. The application's IAM policy
# therefore names it by pattern (<name>-??????, the six characters Secrets Manager appends).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  ca_secret_names = {
    ca_private_key          = "${var.secrets_prefix}/ca-private-key"
    ca_certificate          = "${var.secrets_prefix}/ca-certificate"
    ca_previous_certificate = "${var.secrets_prefix}/ca-previous-certificate"
  }

  # The two CA secrets whose lifecycle Terraform owns.
  terraform_ca_secrets = { for key, name in local.ca_secret_names : key => name if key != "ca_previous_certificate" }

  secret_arn_prefix = "arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:secret:"
  # Matches every incarnation of the previous-certificate secret, whatever suffix it was created with.
  ca_previous_certificate_arn_pattern = "${local.secret_arn_prefix}${local.ca_secret_names.ca_previous_certificate}-??????"
}

resource "aws_secretsmanager_secret" "ca" {
  #checkov:skip=CKV2_AWS_57:CA keys are rotated by `apuntador-server ca init --rotate`, which needs a redeploy and a truststore update; a Lambda rotation function cannot do that.
  for_each = local.terraform_ca_secrets

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
  description             = "apuntador ${each.value}; the application reads it through its ARN."
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
