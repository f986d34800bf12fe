# apuntador on AWS Lambda: ONE HTTP API (payload 2.0) -> the alias `live` of apuntador-lambda, reachable
# through TWO custom domains: the public door (TLS only) and the device door (mutual TLS against the
# truststore `ca init` publishes). The function reads client certificates only from the request context
# (CLIENT_CERT_SOURCES=lambda-context), which API Gateway fills in only on the mutual TLS domain, so the same
# device route answers 401 through the public door. With the DynamoDB tables, the truststore bucket and the
# Secrets Manager secrets. See docs/deployment.md (scripts/deploy lambda).

module "secrets" {
  source = "../../modules/secrets"

  secrets_prefix           = var.secrets_prefix
  managed_app_secrets      = var.managed_app_secrets
  existing_app_secret_arns = var.existing_app_secret_arns
}

module "data" {
  source = "../../modules/data"

  certificates_table_name = var.certificates_table_name
  sessions_table_name     = var.sessions_table_name
  truststore_bucket_name  = var.truststore_bucket_name
  deletion_protection     = var.deletion_protection
  readable_secret_arns    = module.secrets.readable_secret_arns
}

module "function" {
  source = "../../modules/lambda_function"

  name                     = var.name
  zip_path                 = var.zip_path
  architecture             = var.architecture
  memory_mb                = var.memory_mb
  request_timeout_seconds  = var.request_timeout_seconds
  timeout_seconds          = var.timeout_seconds
  reserved_concurrency     = var.reserved_concurrency
  provisioned_concurrency  = var.provisioned_concurrency
  log_retention_days       = var.log_retention_days
  app_policy_json          = module.data.app_policy_json
  secret_arns              = module.secrets.app_secret_arns
  otel_collector_layer_arn = var.otel_collector_layer_arn

  environment = merge(var.app_environment, {
    INFRASTRUCTURE_PROVIDER     = "aws"
    AWS_DYNAMODB_TABLE          = module.data.certificates_table_name
    AWS_DYNAMODB_SESSIONS_TABLE = module.data.sessions_table_name
    AWS_S3_BUCKET               = module.data.truststore_bucket_name
    AWS_SECRETS_PREFIX          = var.secrets_prefix
  })
}

module "api" {
  source = "../../modules/http_api"

  name               = var.name
  certificate_arn    = var.certificate_arn
  hosted_zone_id     = var.hosted_zone_id
  truststore_uri     = module.data.truststore_uri
  truststore_version = var.truststore_version
  log_retention_days = var.log_retention_days

  integration = {
    type                 = "lambda"
    lambda_invoke_arn    = module.function.invoke_arn
    lambda_function_name = module.function.function_name
    lambda_qualifier     = module.function.alias_name
  }

  domains = {
    public = { domain_name = var.public_domain_name, mutual_tls = false }
    device = { domain_name = var.device_domain_name, mutual_tls = true }
  }
}
