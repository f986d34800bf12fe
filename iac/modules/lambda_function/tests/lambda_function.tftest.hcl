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

run "no_function_url_by_default" {
  assert {
    condition     = length(aws_lambda_function_url.this) == 0 && length(aws_lambda_permission.function_url) == 0 && length(aws_lambda_permission.function_url_invoke) == 0
    error_message = "the Function URL is optional and off by default"
  }
}

run "public_function_url_gets_both_invoke_permissions" {
  variables {
    function_url = { enabled = true }
  }

  assert {
    condition     = aws_lambda_function_url.this[0].authorization_type == "NONE"
    error_message = "the Function URL is public"
  }

  assert {
    condition     = toset(output.function_url_permission_actions) == toset(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"])
    error_message = "a public Function URL needs both lambda:InvokeFunctionUrl and lambda:InvokeFunction"
  }

  assert {
    condition = alltrue([
      for p in concat(aws_lambda_permission.function_url, aws_lambda_permission.function_url_invoke) :
      p.principal == "*" && p.function_url_auth_type == "NONE"
    ])
    error_message = "both statements must be limited to calls through a NONE-auth Function URL"
  }
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
