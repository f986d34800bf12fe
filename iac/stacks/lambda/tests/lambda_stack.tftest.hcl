mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  region                 = "eu-west-1"
  truststore_bucket_name = "apuntador-truststore-test"
  domain_name            = "api.example.com"
  certificate_arn        = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  managed_app_secrets    = ["CONFIG_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"]
  app_environment = {
    ENABLED_CLOUD_PROVIDERS = "googledrive"
    GOOGLE_REDIRECT_URI     = "https://api.example.com/oauth/callback/googledrive"
  }
}

run "first_apply_before_ca_init_has_no_custom_domain" {
  assert {
    condition     = output.api_url == null && output.dns_alias_target == null
    error_message = "the custom domain waits for the truststore version"
  }

  assert {
    condition     = module.function.environment["ENVIRONMENT"] == "production" && module.function.environment["CLIENT_CERT_SOURCES"] == "lambda-context"
    error_message = "ENVIRONMENT=production and CLIENT_CERT_SOURCES=lambda-context"
  }

  assert {
    condition = alltrue([
      for name, value in module.function.environment : startswith(value, "arn:aws:secretsmanager:") if contains(["CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET", "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET", "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY"], name)
    ]) && length([for name in keys(module.function.environment) : name if contains(["CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET", "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET", "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY"], name)]) == 3
    error_message = "the three managed secrets reach the function as ARNs, and nothing secret is plain"
  }

  assert {
    condition = alltrue([
      module.function.environment["INFRASTRUCTURE_PROVIDER"] == "aws",
      module.function.environment["AWS_DYNAMODB_TABLE"] == "apuntador-certificates",
      module.function.environment["AWS_DYNAMODB_SESSIONS_TABLE"] == "apuntador-sessions",
      module.function.environment["AWS_S3_BUCKET"] == "apuntador-truststore-test",
      module.function.environment["AWS_SECRETS_PREFIX"] == "apuntador",
      module.function.environment["AUTO_CREATE_RESOURCES"] == "false",
    ])
    error_message = "the function is wired to the stack's tables, bucket and secrets, without AUTO_CREATE_RESOURCES"
  }

  assert {
    condition     = module.api.payload_format_version == "2.0" && module.api.disable_execute_api_endpoint && module.api.route_key == "$default"
    error_message = "HTTP API payload 2.0, execute-api disabled, $default route"
  }
}

run "second_apply_enables_mutual_tls_at_the_given_version" {
  variables {
    truststore_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  }

  assert {
    condition     = module.api.mutual_tls == { truststore_uri = "s3://apuntador-truststore-test/truststore/ca-bundle.pem", truststore_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" }
    error_message = "mutual TLS must use s3://<bucket>/truststore/ca-bundle.pem at the given version"
  }

  assert {
    condition     = output.api_url == "https://api.example.com/"
    error_message = "the API is served on the custom domain"
  }
}

run "function_url_adds_both_permissions" {
  variables {
    function_url_enabled = true
  }

  assert {
    condition     = toset(module.function.function_url_permission_actions) == toset(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"])
    error_message = "a public Function URL needs both permissions"
  }
}

run "refuses_a_timeout_the_http_api_cannot_wait_for" {
  command = plan

  variables {
    timeout_seconds = 40
  }

  expect_failures = [var.timeout_seconds]
}

run "no_collector_layer_means_no_trace_export" {
  assert {
    condition     = length(module.function.layers) == 0 && !contains(keys(module.function.environment), "OTEL_ENABLED")
    error_message = "without otel_collector_layer_arn the function has no layer and exports no traces"
  }
}

run "a_collector_layer_turns_trace_export_on" {
  variables {
    otel_collector_layer_arn = "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-collector-arm64-ver-0-117-0:1"
  }

  assert {
    condition     = module.function.layers == tolist(["arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-collector-arm64-ver-0-117-0:1"])
    error_message = "the collector layer must be attached"
  }

  assert {
    condition     = module.function.environment["OTEL_ENABLED"] == "true" && module.function.environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4317" && module.function.environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    error_message = "the app must export to the collector beside it over OTLP gRPC"
  }
}

run "refuses_a_layer_arn_without_a_version" {
  command = plan

  variables {
    otel_collector_layer_arn = "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-collector-arm64-ver-0-117-0"
  }

  expect_failures = [var.otel_collector_layer_arn]
}
