mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name            = "apuntador"
  zip_path        = "target/lambda/apuntador-lambda/bootstrap.zip"
  app_policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  environment = {
    INFRASTRUCTURE_PROVIDER = "aws"
    ALLOWED_ORIGINS         = "https://app.example.com"
  }
  secret_arns = {
    CONFIG_API_KEY       = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/env/CONFIG_API_KEY-AbCdEf"
    GOOGLE_CLIENT_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/env/GOOGLE_CLIENT_SECRET-AbCdEf"
  }
}

run "function_runs_provided_al2023_on_arm64_with_xray" {
  assert {
    condition     = aws_lambda_function.this.runtime == "provided.al2023" && aws_lambda_function.this.handler == "bootstrap"
    error_message = "runtime must be provided.al2023 with the bootstrap handler"
  }

  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "default architecture must be arm64"
  }

  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "X-Ray tracing must be active"
  }

  assert {
    condition     = aws_cloudwatch_log_group.function.retention_in_days == 90 && aws_lambda_function.this.logging_config[0].log_group == aws_cloudwatch_log_group.function.name
    error_message = "the function must log to its own log group with retention"
  }

  assert {
    condition     = aws_lambda_function.this.timeout > tonumber(aws_lambda_function.this.environment[0].variables["REQUEST_TIMEOUT_SECONDS"])
    error_message = "the function timeout must exceed REQUEST_TIMEOUT_SECONDS"
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == -1
    error_message = "reserved concurrency is unset by default"
  }

  assert {
    condition     = aws_lambda_function.this.filename == var.zip_path
    error_message = "the zip path is a variable"
  }
}

run "environment_is_production_with_lambda_context_certificates_and_no_secret" {
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENVIRONMENT"] == "production"
    error_message = "ENVIRONMENT must be production"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["CLIENT_CERT_SOURCES"] == "lambda-context"
    error_message = "CLIENT_CERT_SOURCES must be lambda-context"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["AUTO_CREATE_RESOURCES"] == "false"
    error_message = "AUTO_CREATE_RESOURCES must be false"
  }

  assert {
    condition = alltrue([
      for name, value in aws_lambda_function.this.environment[0].variables :
      startswith(value, "arn:aws:secretsmanager:") if contains(["CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET", "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET", "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY"], name)
    ])
    error_message = "every secret-capable variable must hold a Secrets Manager ARN, never a value"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["CONFIG_API_KEY"] == var.secret_arns["CONFIG_API_KEY"]
    error_message = "CONFIG_API_KEY must be passed as its secret ARN"
  }
}

# API Gateway invokes the alias, so a version can be pinned, rolled back, canaried and kept warm.
run "api_gateway_invokes_the_live_alias_of_a_published_version" {
  assert {
    condition     = aws_lambda_function.this.publish
    error_message = "every change must publish a version"
  }

  assert {
    condition     = aws_lambda_alias.live.name == "live" && aws_lambda_alias.live.function_version == aws_lambda_function.this.version
    error_message = "the alias `live` must point at the version just published"
  }

  assert {
    condition     = output.invoke_arn == aws_lambda_alias.live.invoke_arn && output.alias_name == "live"
    error_message = "the HTTP API integration must invoke the alias, not $LATEST"
  }

  assert {
    condition     = length(aws_lambda_provisioned_concurrency_config.live) == 0 && output.provisioned_concurrency == 0
    error_message = "no provisioned concurrency unless asked for"
  }
}

run "provisioned_concurrency_attaches_to_the_live_alias" {
  variables {
    provisioned_concurrency = 2
  }

  assert {
    condition     = aws_lambda_provisioned_concurrency_config.live[0].qualifier == "live" && aws_lambda_provisioned_concurrency_config.live[0].provisioned_concurrent_executions == 2
    error_message = "provisioned concurrency must be configured on the alias `live`"
  }
}

run "logs_are_json" {
  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_format == "JSON" && output.log_format == "JSON"
    error_message = "the function's log format must be JSON (platform records next to the app's JSON lines)"
  }
}

run "refuses_a_fractional_or_negative_provisioned_concurrency" {
  command = plan

  variables {
    provisioned_concurrency = -1
  }

  expect_failures = [var.provisioned_concurrency]
}

run "reserved_concurrency_is_applied_when_set" {
  variables {
    reserved_concurrency = 50
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 50
    error_message = "reserved concurrency must be applied"
  }
}

run "refuses_a_timeout_not_above_the_request_timeout" {
  command = plan

  variables {
    request_timeout_seconds = 20
    timeout_seconds         = 20
  }

  expect_failures = [aws_lambda_function.this]
}

run "refuses_a_secret_value_in_the_plain_environment" {
  command = plan

  variables {
    environment = { GOOGLE_CLIENT_SECRET = "plain-value" }
  }

  expect_failures = [var.environment]
}
