# The public front door of both stacks (SPEC §12.2): an HTTP API reachable ONLY through a regional custom
# domain with mutual TLS (the default execute-api endpoint is disabled), one `$default` route so every
# path including `/` reaches the app, and one integration: Lambda (payload 2.0) or a VPC link to the
# internal ALB of the Fargate stack.

locals {
  is_lambda = var.integration.type == "lambda"
  is_alb    = var.integration.type == "alb"

  # alb integration: the verified client certificate overwrites whatever the client sent in the header
  # the app reads (CLIENT_CERT_SOURCES=header), so a client cannot inject its own value. See
  # docs/deployment.md for the AWS documentation this relies on.
  alb_request_parameters = {
    "overwrite:header.${var.client_cert_header}" = var.client_cert_context_variable
  }
}

resource "aws_apigatewayv2_api" "this" {
  name                         = var.name
  protocol_type                = "HTTP"
  disable_execute_api_endpoint = true
  tags                         = var.tags
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Access logs hold no secrets (no query strings, no bodies, no certificates); the service-managed encryption of CloudWatch Logs applies.
  #checkov:skip=CKV_AWS_338:Retention is an operator choice (log_retention_days, default 90 days), not a fixed year.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_apigatewayv2_vpc_link" "this" {
  count = local.is_alb ? 1 : 0

  name               = var.name
  subnet_ids         = var.integration.vpc_link_subnet_ids
  security_group_ids = var.integration.vpc_link_security_group_ids
  tags               = var.tags
}

resource "aws_apigatewayv2_integration" "lambda" {
  count = local.is_lambda ? 1 : 0

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.integration.lambda_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_seconds * 1000
}

resource "aws_apigatewayv2_integration" "alb" {
  count = local.is_alb ? 1 : 0

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "HTTP_PROXY"
  integration_method     = "ANY"
  integration_uri        = var.integration.alb_listener_arn
  connection_type        = "VPC_LINK"
  connection_id          = aws_apigatewayv2_vpc_link.this[0].id
  payload_format_version = "1.0"
  timeout_milliseconds   = var.integration_timeout_seconds * 1000
  request_parameters     = local.alb_request_parameters
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:Authentication is mutual TLS on the custom domain plus the app's own bearer keys and device certificates (SPEC 3.22, 5.9); public OAuth and health routes must stay open.
  api_id    = aws_apigatewayv2_api.this.id
  route_key = "$default"
  target    = "integrations/${local.is_lambda ? aws_apigatewayv2_integration.lambda[0].id : aws_apigatewayv2_integration.alb[0].id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    # No query strings and no certificate PEM (SPEC §10.2); the serial number proves mTLS reached the API.
    format = jsonencode({
      requestId        = "$context.requestId"
      time             = "$context.requestTimeEpoch"
      method           = "$context.httpMethod"
      path             = "$context.path"
      status           = "$context.status"
      latencyMs        = "$context.responseLatency"
      integrationError = "$context.integrationErrorMessage"
      sourceIp         = "$context.identity.sourceIp"
      clientCertSerial = "$context.identity.clientCert.serialNumber"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  count = local.is_lambda ? 1 : 0

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.integration.lambda_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.truststore_version == null ? 0 : 1

  domain_name = var.domain_name

  domain_name_configuration {
    certificate_arn = var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  mutual_tls_authentication {
    truststore_uri     = var.truststore_uri
    truststore_version = var.truststore_version
  }

  tags = var.tags
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.truststore_version == null ? 0 : 1

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.default.id
}
