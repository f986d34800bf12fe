mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  region                 = "eu-west-1"
  truststore_bucket_name = "apuntador-truststore-test"
  public_domain_name     = "api.example.com"
  device_domain_name     = "device.api.example.com"
  certificate_arn        = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  managed_app_secrets    = ["CONFIG_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"]
  app_environment = {
    ENABLED_CLOUD_PROVIDERS = "googledrive"
    GOOGLE_REDIRECT_URI     = "https://api.example.com/oauth/callback/googledrive"
  }
}

run "first_apply_before_ca_init_opens_only_the_public_door" {
  assert {
    condition     = output.public_url == "https://api.example.com/" && output.device_url == null && keys(output.dns_alias_targets) == ["public"]
    error_message = "the public door exists from the first apply; the device door waits for the truststore version"
  }

  assert {
    condition     = module.api.mutual_tls["public"] == null
    error_message = "the public door must not require a client certificate (new devices, browsers, expired certificates)"
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
    condition     = module.api.mutual_tls["device"] == { truststore_uri = "s3://apuntador-truststore-test/truststore/ca-bundle.pem", truststore_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" } && module.api.mutual_tls["public"] == null
    error_message = "only the device door requires mutual TLS"
  }

  assert {
    condition     = output.public_url == "https://api.example.com/" && output.device_url == "https://device.api.example.com/"
    error_message = "both doors are served by the one API"
  }
}

# The example tfvars used to send Google back to the mutual TLS domain, where no browser can complete the
# handshake: the provider redirect URIs must name the public door.
run "example_tfvars_redirect_providers_to_the_public_door" {
  variables {
    public_domain_name = "api.example.com"
    device_domain_name = "device.api.example.com"
    app_environment = {
      GOOGLE_REDIRECT_URI = "https://api.example.com/oauth/callback/googledrive"
    }
  }

  assert {
    condition     = startswith(module.function.environment["GOOGLE_REDIRECT_URI"], output.public_url)
    error_message = "provider redirect URIs point at the public door"
  }
}

run "no_function_url_door_and_api_gateway_invokes_the_live_alias" {
  assert {
    condition     = module.function.alias_name == "live" && endswith(module.function.invoke_arn, ":live/invocations")
    error_message = "the HTTP API must invoke the alias `live` (no Function URL door)"
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
