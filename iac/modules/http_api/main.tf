# One HTTP API of a stack's doors. Every deployment has a PUBLIC door (TLS only, for new devices, browsers on
# the OAuth callback and devices whose certificate expired) and a DEVICE door (mutual TLS against the
# truststore that `ca init` publishes). API Gateway's mutual TLS is all-or-nothing per custom domain, so each
# door is its own regional custom domain:
#
#   Lambda stack : ONE API (payload 2.0) mapped to both domains; the function reads the certificate from the
#                  request context, which only the mTLS domain fills in (CLIENT_CERT_SOURCES=lambda-context).
#   Fargate stack: TWO APIs sharing one VPC link to the internal ALB. The public API's integration REMOVES
#                  the certificate header, the device API's integration OVERWRITES it from the verified
#                  certificate (CLIENT_CERT_SOURCES=header), so a client can never supply it itself.
#
# The default execute-api endpoint is disabled, so the custom domains are the only ways in. A `$default`
# route sends every path (including `/`) to the one integration. See docs/deployment.md for the AWS guides.

locals {
  is_lambda = var.integration.type == "lambda"
  is_alb    = var.integration.type == "alb"

  # alb integration: what the edge does with the certificate header the app reads. "remove" on the public
  # API (no client may hand the app a certificate there), "overwrite" with the PEM API Gateway verified
  # during the mutual TLS handshake on the device API. The empty value of `remove` is written '' (quoted).
  alb_request_parameters = var.integration.client_cert == "overwrite" ? {
    "overwrite:header.${var.client_cert_header}" = var.client_cert_context_variable
    } : {
    "remove:header.${var.client_cert_header}" = "''"
  }

  # A mutual TLS domain waits for the truststore version `ca init` publishes; a public domain does not.
  domains = { for key, domain in var.domains : key => domain if !domain.mutual_tls || var.truststore_version != null }

  # Certificates: the given ACM certificate for every domain, or one DNS-validated certificate per domain
  # when a hosted zone is given instead.
  managed_certificates = var.certificate_arn == null && var.hosted_zone_id != null
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
  connection_id          = var.integration.vpc_link_id
  payload_format_version = "1.0"
  timeout_milliseconds   = var.integration_timeout_seconds * 1000
  request_parameters     = local.alb_request_parameters
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:Authentication is mutual TLS on the device domain plus the app's own bearer keys and device certificates; the public door's OAuth, enrolment and health routes must stay open.
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
    # No query strings and no certificate PEM; the domain tells the doors apart, the serial number proves
    # mutual TLS reached the API.
    format = jsonencode({
      requestId        = "$context.requestId"
      time             = "$context.requestTimeEpoch"
      domain           = "$context.domainName"
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
  qualifier     = var.integration.lambda_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

# --- Certificates (optional) ------------------------------------------------------------------------

resource "aws_acm_certificate" "this" {
  for_each = local.managed_certificates ? var.domains : {}

  domain_name       = each.value.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = aws_acm_certificate.this

  zone_id         = var.hosted_zone_id
  name            = tolist(each.value.domain_validation_options)[0].resource_record_name
  type            = tolist(each.value.domain_validation_options)[0].resource_record_type
  records         = [tolist(each.value.domain_validation_options)[0].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  for_each = aws_acm_certificate.this

  certificate_arn         = each.value.arn
  validation_record_fqdns = [aws_route53_record.validation[each.key].fqdn]
}

# --- Custom domains ----------------------------------------------------------------------------------

resource "aws_apigatewayv2_domain_name" "this" {
  for_each = local.domains

  domain_name = each.value.domain_name

  domain_name_configuration {
    certificate_arn = local.managed_certificates ? aws_acm_certificate_validation.this[each.key].certificate_arn : var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  dynamic "mutual_tls_authentication" {
    for_each = each.value.mutual_tls ? [1] : []
    content {
      truststore_uri     = var.truststore_uri
      truststore_version = var.truststore_version
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null || var.hosted_zone_id != null
      error_message = "Give certificate_arn (an ACM certificate in this region covering the domain) or hosted_zone_id (the module then requests and validates one)."
    }

    precondition {
      condition     = !each.value.mutual_tls || var.truststore_uri != null
      error_message = "A mutual TLS domain needs truststore_uri."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  for_each = local.domains

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[each.key].id
  stage       = aws_apigatewayv2_stage.default.id
}

resource "aws_route53_record" "alias" {
  for_each = var.hosted_zone_id == null ? {} : local.domains

  zone_id = var.hosted_zone_id
  name    = each.value.domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this[each.key].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this[each.key].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}

# Earlier versions had one mutual TLS domain at index 0: keep it (no replacement) as the device domain.
moved {
  from = aws_apigatewayv2_domain_name.this[0]
  to   = aws_apigatewayv2_domain_name.this["device"]
}

moved {
  from = aws_apigatewayv2_api_mapping.this[0]
  to   = aws_apigatewayv2_api_mapping.this["device"]
}
