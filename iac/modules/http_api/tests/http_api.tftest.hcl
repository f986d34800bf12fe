mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name               = "apuntador"
  certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  truststore_uri     = "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
  truststore_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  domains = {
    public = { domain_name = "api.example.com", mutual_tls = false }
    device = { domain_name = "device.api.example.com", mutual_tls = true }
  }
  integration = {
    type                 = "lambda"
    lambda_invoke_arn    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:apuntador:live/invocations"
    lambda_function_name = "apuntador"
    lambda_qualifier     = "live"
  }
}

# The earlier stack had ONE custom domain, with mutual TLS: a new device, a browser on the OAuth callback and a
# device whose certificate expired could not complete the handshake. One API now has a public door and a
# device door.
run "lambda_api_has_a_public_door_and_a_mutual_tls_device_door" {
  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "HTTP" && aws_apigatewayv2_api.this.disable_execute_api_endpoint
    error_message = "an HTTP API with the execute-api endpoint disabled"
  }

  assert {
    condition     = aws_apigatewayv2_route.default.route_key == "$default" && aws_apigatewayv2_stage.default.name == "$default" && aws_apigatewayv2_stage.default.auto_deploy
    error_message = "a $default route on an auto-deployed $default stage, so `/` is served"
  }

  assert {
    condition     = aws_apigatewayv2_integration.lambda[0].integration_type == "AWS_PROXY" && aws_apigatewayv2_integration.lambda[0].payload_format_version == "2.0"
    error_message = "Lambda proxy integration with payload format 2.0"
  }

  assert {
    condition     = length(aws_apigatewayv2_domain_name.this["public"].mutual_tls_authentication) == 0
    error_message = "the public door must not require a client certificate"
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this["device"].mutual_tls_authentication[0].truststore_uri == "s3://apuntador-truststore-test/truststore/ca-bundle.pem" && aws_apigatewayv2_domain_name.this["device"].mutual_tls_authentication[0].truststore_version == var.truststore_version
    error_message = "the device door trusts s3://<bucket>/truststore/ca-bundle.pem at the given version"
  }

  assert {
    condition = alltrue([for d in aws_apigatewayv2_domain_name.this :
    d.domain_name_configuration[0].endpoint_type == "REGIONAL" && d.domain_name_configuration[0].security_policy == "TLS_1_2"])
    error_message = "both doors are regional domains with TLS 1.2"
  }

  assert {
    condition     = toset(keys(aws_apigatewayv2_api_mapping.this)) == toset(["public", "device"]) && alltrue([for m in aws_apigatewayv2_api_mapping.this : m.stage == aws_apigatewayv2_stage.default.id])
    error_message = "both domains map the one $default stage"
  }

  assert {
    condition     = output.urls == { public = "https://api.example.com/", device = "https://device.api.example.com/" }
    error_message = "the module reports both doors' URLs"
  }

  assert {
    condition     = aws_lambda_permission.api[0].principal == "apigateway.amazonaws.com" && endswith(aws_lambda_permission.api[0].source_arn, "/*/*") && aws_lambda_permission.api[0].qualifier == "live"
    error_message = "API Gateway may invoke the `live` alias, scoped to this API"
  }

  assert {
    condition     = length(aws_route53_record.alias) == 0 && length(aws_acm_certificate.this) == 0
    error_message = "no DNS records or certificates without a hosted zone"
  }
}

run "public_door_exists_before_ca_init_and_the_device_door_waits_for_the_truststore" {
  variables {
    truststore_version = null
  }

  assert {
    condition     = keys(aws_apigatewayv2_domain_name.this) == ["public"] && output.urls == { public = "https://api.example.com/" }
    error_message = "before `ca init` only the public door exists"
  }
}

run "public_alb_api_removes_the_client_cert_header" {
  variables {
    domains = { public = { domain_name = "api.example.com", mutual_tls = false } }
    integration = {
      type             = "alb"
      alb_listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/apuntador/0123456789abcdef/0123456789abcdef"
      vpc_link_id      = "vpclink-0123"
      client_cert      = "remove"
    }
  }

  assert {
    condition     = aws_apigatewayv2_integration.alb[0].connection_type == "VPC_LINK" && aws_apigatewayv2_integration.alb[0].connection_id == "vpclink-0123" && aws_apigatewayv2_integration.alb[0].integration_type == "HTTP_PROXY"
    error_message = "the ALB is reached through the shared VPC link"
  }

  assert {
    condition     = aws_apigatewayv2_integration.alb[0].request_parameters == tomap({ "remove:header.X-Client-Cert" = "''" })
    error_message = "the public door must remove any client-sent X-Client-Cert (and only that)"
  }
}

run "device_alb_api_overwrites_the_client_cert_header_from_mtls" {
  variables {
    domains = { device = { domain_name = "device.api.example.com", mutual_tls = true } }
    integration = {
      type             = "alb"
      alb_listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/apuntador/0123456789abcdef/0123456789abcdef"
      vpc_link_id      = "vpclink-0123"
      client_cert      = "overwrite"
    }
  }

  assert {
    condition     = aws_apigatewayv2_integration.alb[0].request_parameters == tomap({ "overwrite:header.X-Client-Cert" = "$context.identity.clientCert.clientCertPem" })
    error_message = "the device door must overwrite CLIENT_CERT_HEADER with the verified client certificate PEM"
  }

  assert {
    condition     = length(aws_apigatewayv2_domain_name.this["device"].mutual_tls_authentication) == 1
    error_message = "the device API's domain requires mutual TLS"
  }
}

run "hosted_zone_gets_certificates_and_alias_records_per_domain" {
  variables {
    certificate_arn = null
    hosted_zone_id  = "Z0123456789ABCDEFGHIJ"
  }

  assert {
    condition     = toset([for c in aws_acm_certificate.this : c.domain_name]) == toset(["api.example.com", "device.api.example.com"]) && alltrue([for c in aws_acm_certificate.this : c.validation_method == "DNS"])
    error_message = "one DNS-validated ACM certificate per door"
  }

  assert {
    condition     = alltrue([for r in aws_route53_record.validation : r.zone_id == "Z0123456789ABCDEFGHIJ"])
    error_message = "validation records go into the hosted zone"
  }

  assert {
    condition     = toset([for r in aws_route53_record.alias : r.name]) == toset(["api.example.com", "device.api.example.com"]) && alltrue([for r in aws_route53_record.alias : r.type == "A" && r.zone_id == "Z0123456789ABCDEFGHIJ"])
    error_message = "an alias A record per door"
  }

  assert {
    condition     = alltrue([for d in aws_apigatewayv2_domain_name.this : d.domain_name_configuration[0].certificate_arn == "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-1111-1111-1111-111111111111"])
    error_message = "the domains use the validated certificates"
  }
}

run "refuses_a_domain_without_certificate_or_hosted_zone" {
  command = plan

  variables {
    certificate_arn = null
  }

  expect_failures = [aws_apigatewayv2_domain_name.this]
}

run "refuses_one_domain_for_both_doors" {
  command = plan

  variables {
    domains = {
      public = { domain_name = "api.example.com", mutual_tls = false }
      device = { domain_name = "api.example.com", mutual_tls = true }
    }
  }

  expect_failures = [var.domains]
}

run "refuses_a_reserved_header_name" {
  command = plan

  variables {
    client_cert_header = "X-Amzn-Mtls-Clientcert"
  }

  expect_failures = [var.client_cert_header]
}
