mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name               = "apuntador"
  domain_name        = "api.example.com"
  certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  truststore_uri     = "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
  truststore_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  integration = {
    type                 = "lambda"
    lambda_invoke_arn    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:apuntador/invocations"
    lambda_function_name = "apuntador"
  }
}

run "lambda_front_door_is_mtls_only_with_a_default_route" {
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
    condition     = aws_apigatewayv2_domain_name.this[0].mutual_tls_authentication[0].truststore_uri == "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
    error_message = "the mutual TLS truststore must be s3://<bucket>/truststore/ca-bundle.pem"
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this[0].mutual_tls_authentication[0].truststore_version == var.truststore_version
    error_message = "the truststore is pinned to the given object version"
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].endpoint_type == "REGIONAL" && aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].security_policy == "TLS_1_2"
    error_message = "mutual TLS needs a regional domain with TLS 1.2"
  }

  assert {
    condition     = aws_lambda_permission.api[0].principal == "apigateway.amazonaws.com" && endswith(aws_lambda_permission.api[0].source_arn, "/*/*")
    error_message = "API Gateway may invoke the function, scoped to this API"
  }

  assert {
    condition     = length(aws_apigatewayv2_vpc_link.this) == 0
    error_message = "no VPC link for a Lambda integration"
  }
}

run "no_custom_domain_before_ca_init" {
  variables {
    truststore_version = null
  }

  assert {
    condition     = length(aws_apigatewayv2_domain_name.this) == 0 && output.url == null
    error_message = "without a truststore version there is no custom domain yet"
  }
}

run "alb_front_door_overwrites_the_client_cert_header_from_mtls" {
  variables {
    integration = {
      type                        = "alb"
      alb_listener_arn            = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/apuntador/0123456789abcdef/0123456789abcdef"
      vpc_link_subnet_ids         = ["subnet-aaaa", "subnet-bbbb"]
      vpc_link_security_group_ids = ["sg-0123"]
    }
  }

  assert {
    condition     = aws_apigatewayv2_integration.alb[0].connection_type == "VPC_LINK" && aws_apigatewayv2_integration.alb[0].integration_type == "HTTP_PROXY"
    error_message = "the ALB is reached through a VPC link private integration"
  }

  assert {
    condition     = aws_apigatewayv2_integration.alb[0].request_parameters == tomap({ "overwrite:header.X-Client-Cert" = "$context.identity.clientCert.clientCertPem" })
    error_message = "the integration must overwrite CLIENT_CERT_HEADER with the verified client certificate PEM"
  }

  assert {
    condition     = aws_apigatewayv2_integration.alb[0].integration_uri == var.integration.alb_listener_arn
    error_message = "the integration targets the ALB listener"
  }
}

run "refuses_a_reserved_header_name" {
  command = plan

  variables {
    client_cert_header = "X-Amzn-Mtls-Clientcert"
  }

  expect_failures = [var.client_cert_header]
}
