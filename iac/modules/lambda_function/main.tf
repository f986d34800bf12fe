# apuntador-lambda on AWS Lambda: provided.al2023 custom runtime, the zip that
# cargo-lambda builds, X-Ray active tracing, its own log group with retention and JSON log format, a timeout
# above the app's request timeout, a published version behind the alias `live` (what API Gateway invokes;
# optional provisioned concurrency on it), and optionally an OpenTelemetry collector layer.
#
# No Function URL: it cannot terminate mutual TLS, and the public door is the HTTP API's public custom domain.

locals {
  # With a collector layer, the app exports its spans to the collector running beside it in the
  # execution environment; the layer's configuration decides where they go (ADOT's default: X-Ray).
  telemetry = var.otel_collector_layer_arn == null ? {} : {
    OTEL_ENABLED                = "true"
    OTEL_EXPORTER_OTLP_ENDPOINT = "http://localhost:4317"
    OTEL_EXPORTER_OTLP_PROTOCOL = "grpc"
  }

  # Every value is plain configuration or a Secrets Manager ARN; the secret values never appear here.
  environment = merge(
    var.environment,
    var.secret_arns,
    local.telemetry,
    {
      ENVIRONMENT             = "production"
      CLIENT_CERT_SOURCES     = "lambda-context"
      REQUEST_TIMEOUT_SECONDS = tostring(var.request_timeout_seconds)
      AUTO_CREATE_RESOURCES   = "false"
    },
  )
}

data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:The app never logs secrets, tokens or keys; the service-managed encryption of CloudWatch Logs applies.
  #checkov:skip=CKV_AWS_338:Retention is an operator choice (log_retention_days, default 90 days), not a fixed year.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_iam_role" "function" {
  name = "${var.name}-function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "app" {
  name   = "apuntador-app"
  role   = aws_iam_role.function.id
  policy = var.app_policy_json
}

resource "aws_iam_role_policy" "runtime" {
  #checkov:skip=CKV_AWS_290:X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions; "*" is the only valid resource.
  #checkov:skip=CKV_AWS_355:The X-Ray write and sampling actions only accept Resource "*" (no resource-level permissions).
  name = "lambda-runtime"
  role = aws_iam_role.function.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.function.arn}:*"
      },
      {
        Sid      = "XRayActiveTracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invocations are synchronous (HTTP API); a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The function reaches DynamoDB, Secrets Manager and the OAuth providers' public endpoints; outside a VPC it needs no NAT gateway.
  #checkov:skip=CKV_AWS_173:The environment holds no secret values, only Secrets Manager ARNs and plain settings; the default Lambda key encrypts it at rest.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this stack; the zip's SHA-256 is pinned through source_code_hash.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (reserved_concurrency); null leaves the function in the account's unreserved pool.
  function_name    = var.name
  role             = aws_iam_role.function.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.zip_path
  source_code_hash = fileexists(var.zip_path) ? filebase64sha256(var.zip_path) : null
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds
  layers           = var.otel_collector_layer_arn == null ? [] : [var.otel_collector_layer_arn]
  # Every code or configuration change publishes a new version, and the alias `live` moves to it.
  publish = true

  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  # JSON: the platform's START/END/REPORT lines become JSON records next to the app's own JSON lines
  # (LOG_FORMAT=json), so one CloudWatch Logs Insights query reads both.
  logging_config {
    log_format       = "JSON"
    system_log_level = "INFO"
    log_group        = aws_cloudwatch_log_group.function.name
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.timeout_seconds > var.request_timeout_seconds
      error_message = "timeout_seconds must be greater than request_timeout_seconds."
    }
  }

  depends_on = [aws_iam_role_policy.runtime]
}

# What API Gateway invokes. A canary or a rollback is a change of function_version (routing_config for a
# weighted canary); provisioned concurrency attaches here, never to $LATEST.
resource "aws_lambda_alias" "live" {
  name             = "live"
  description      = "The version API Gateway invokes."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_alias.live.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}
