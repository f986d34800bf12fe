# Applied against a local moto server by scripts/test-iac-moto (never against AWS): the data and secrets
# modules exactly as both stacks call them, so that `terraform apply` -> `apuntador-server ca init --aws`
# -> `terraform plan -detailed-exitcode` proves the applies converge around `ca init`.

terraform {
  required_version = ">= 1.7.0"

  # The state lives in a temporary directory: scripts/test-iac-moto runs `init -backend-config=path=...`.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

variable "endpoint" {
  description = "URL of the moto server (http://127.0.0.1:<port>)."
  type        = string

  validation {
    condition     = can(regex("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\]):[0-9]+$", var.endpoint))
    error_message = "endpoint must be a loopback moto server: this configuration is never applied to AWS."
  }
}

variable "prefix" {
  description = "AWS_SECRETS_PREFIX and name prefix of the tables and the bucket."
  type        = string
  default     = "apuntador-moto"
}

# Credentials come from the environment (scripts/with-moto exports dummy ones).
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    dynamodb       = var.endpoint
    iam            = var.endpoint
    s3             = var.endpoint
    secretsmanager = var.endpoint
    sts            = var.endpoint
  }
}

module "secrets" {
  source = "../../modules/secrets"

  secrets_prefix          = var.prefix
  managed_app_secrets     = ["CONFIG_API_KEY", "ADMIN_API_KEY"]
  recovery_window_in_days = 7
}

module "data" {
  source = "../../modules/data"

  certificates_table_name  = "${var.prefix}-certificates"
  sessions_table_name      = "${var.prefix}-sessions"
  truststore_bucket_name   = "${var.prefix}-truststore"
  deletion_protection      = false
  force_destroy_truststore = true
  # moto serves plain HTTP and enforces this Deny statement, so the emulator run leaves it out.
  truststore_deny_insecure_transport = false
  readable_secret_arns               = module.secrets.readable_secret_arns
}

# The application's policy as the stacks attach it, so IAM's own parser sees the document too.
resource "aws_iam_role" "app" {
  name = "${var.prefix}-app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "app" {
  name   = "apuntador-app"
  role   = aws_iam_role.app.id
  policy = module.data.app_policy_json
}

output "ca_secret_names" {
  value = module.secrets.ca_secret_names
}

output "truststore_bucket_name" {
  value = module.data.truststore_bucket_name
}

output "certificates_table_name" {
  value = module.data.certificates_table_name
}

output "sessions_table_name" {
  value = module.data.sessions_table_name
}
