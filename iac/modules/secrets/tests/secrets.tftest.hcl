mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  secrets_prefix      = "apuntador"
  managed_app_secrets = ["CONFIG_API_KEY", "GOOGLE_CLIENT_SECRET"]
  existing_app_secret_arns = {
    ADMIN_API_KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ops/admin-AbCdEf"
  }
}

run "creates_the_ca_secrets_of_spec_7_5_without_values" {
  assert {
    condition = toset([for s in aws_secretsmanager_secret.ca : s.name]) == toset([
      "apuntador/ca-private-key", "apuntador/ca-certificate",
    ])
    error_message = "Terraform creates exactly the CA key and current-certificate secrets"
  }

  assert {
    condition     = output.ca_secret_names.ca_previous_certificate == "apuntador/ca-previous-certificate"
    error_message = "the previous-certificate secret keeps its name (ca init writes it)"
  }

  assert {
    condition     = toset([for s in aws_secretsmanager_secret.app : s.name]) == toset(["apuntador/env/CONFIG_API_KEY", "apuntador/env/GOOGLE_CLIENT_SECRET"])
    error_message = "managed app secrets must be named <prefix>/env/<VARIABLE>"
  }

  assert {
    condition     = toset(keys(output.app_secret_arns)) == toset(["CONFIG_API_KEY", "GOOGLE_CLIENT_SECRET", "ADMIN_API_KEY"])
    error_message = "app_secret_arns must merge managed and existing secrets"
  }

  assert {
    condition     = alltrue([for arn in values(output.app_secret_arns) : startswith(arn, "arn:aws:secretsmanager:")])
    error_message = "the app receives ARNs only"
  }

  assert {
    condition     = contains(output.readable_secret_arns, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ops/admin-AbCdEf")
    error_message = "existing secrets must be readable by the app"
  }
}

run "refuses_a_variable_that_is_not_secret_capable" {
  command = plan

  variables {
    managed_app_secrets = ["LOG_LEVEL"]
  }

  expect_failures = [var.managed_app_secrets]
}

run "refuses_a_plain_value_instead_of_an_arn" {
  command = plan

  variables {
    existing_app_secret_arns = { CONFIG_API_KEY = "a-plain-api-key-that-must-never-be-here-0123456789" }
  }

  expect_failures = [var.existing_app_secret_arns]
}

# The second apply after `ca init` used to fail: Terraform created <prefix>/ca-previous-certificate, the first
# `ca init` scheduled it for deletion, and the next plan tried to create it again (CreateSecret refused while
# the secret is pending deletion). That secret now belongs to `ca init` alone, and the app reads it through a
# name pattern that survives a recreation with a new ARN suffix.
run "leaves_the_previous_ca_certificate_to_ca_init_and_grants_it_by_name_pattern" {
  assert {
    condition     = !anytrue([for s in aws_secretsmanager_secret.ca : strcontains(s.name, "previous")])
    error_message = "Terraform must not manage <prefix>/ca-previous-certificate"
  }

  assert {
    condition     = output.ca_previous_certificate_arn_pattern == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/ca-previous-certificate-??????"
    error_message = "the previous certificate is granted by name pattern with the six-character suffix wildcard"
  }

  assert {
    condition     = contains(output.readable_secret_arns, output.ca_previous_certificate_arn_pattern)
    error_message = "the app must be able to read the previous certificate during a rotation"
  }

  assert {
    condition     = length([for arn in output.readable_secret_arns : arn if strcontains(arn, "*")]) == 0
    error_message = "no readable secret may be granted with a '*' wildcard (only the fixed-length '??????' suffix)"
  }
}
