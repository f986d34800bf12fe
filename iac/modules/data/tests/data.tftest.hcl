mock_provider "aws" {
  source = "../../tests/mocks"
}

override_resource {
  target = aws_dynamodb_table.certificates
  values = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/apuntador-certificates" }
}

override_resource {
  target = aws_dynamodb_table.sessions
  values = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/apuntador-sessions" }
}

variables {
  truststore_bucket_name = "apuntador-truststore-test"
  readable_secret_arns = [
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/ca-private-key-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/env/CONFIG_API_KEY-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/ca-previous-certificate-??????",
  ]
}

run "certificate_table_matches_spec_7_3" {
  assert {
    condition     = aws_dynamodb_table.certificates.hash_key == "device_id" && aws_dynamodb_table.certificates.range_key == "serial_number"
    error_message = "certificate table key schema must be device_id / serial_number"
  }

  assert {
    condition = {
      for g in aws_dynamodb_table.certificates.global_secondary_index : g.name => [g.hash_key, coalesce(g.range_key, "-"), g.projection_type]
      } == {
      SerialIndex     = ["serial_number", "-", "ALL"]
      ExpirationIndex = ["device_id", "expires_at", "ALL"]
    }
    error_message = "certificate table GSIs must be SerialIndex(serial_number, ALL) and ExpirationIndex(device_id, expires_at, ALL)"
  }

  assert {
    condition     = aws_dynamodb_table.certificates.billing_mode == "PAY_PER_REQUEST"
    error_message = "certificate table must be on demand"
  }

  assert {
    condition     = aws_dynamodb_table.certificates.ttl[0].enabled && aws_dynamodb_table.certificates.ttl[0].attribute_name == "ttl"
    error_message = "certificate table TTL must be enabled on `ttl`"
  }

  assert {
    condition     = aws_dynamodb_table.certificates.point_in_time_recovery[0].enabled && aws_dynamodb_table.certificates.server_side_encryption[0].enabled
    error_message = "certificate table needs PITR and encryption"
  }
}

run "sessions_table_matches_spec_7_4" {
  assert {
    condition     = aws_dynamodb_table.sessions.hash_key == "pk" && aws_dynamodb_table.sessions.range_key == null && length(aws_dynamodb_table.sessions.global_secondary_index) == 0
    error_message = "sessions table key schema must be pk only, no index"
  }

  assert {
    condition     = aws_dynamodb_table.sessions.ttl[0].enabled && aws_dynamodb_table.sessions.ttl[0].attribute_name == "ttl"
    error_message = "sessions table TTL must be enabled on `ttl`"
  }

  assert {
    condition     = aws_dynamodb_table.sessions.point_in_time_recovery[0].enabled && aws_dynamodb_table.sessions.server_side_encryption[0].enabled && aws_dynamodb_table.sessions.billing_mode == "PAY_PER_REQUEST"
    error_message = "sessions table needs PITR, encryption and on-demand billing"
  }
}

run "app_policy_is_least_privilege" {
  assert {
    condition     = toset(output.app_policy.Statement[0].Action) == toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"])
    error_message = "the table statement must grant exactly GetItem, PutItem, UpdateItem, DeleteItem, Query"
  }

  assert {
    condition = toset(output.app_policy.Statement[0].Resource) == toset([
      "arn:aws:dynamodb:eu-west-1:123456789012:table/apuntador-certificates",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/apuntador-certificates/index/*",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/apuntador-sessions",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/apuntador-sessions/index/*",
    ])
    error_message = "the table statement must cover exactly both tables and their /index/* ARNs"
  }

  assert {
    condition     = output.app_policy.Statement[1].Action == ["secretsmanager:GetSecretValue"]
    error_message = "the per-secret statement must grant exactly GetSecretValue"
  }

  assert {
    condition     = toset(output.app_policy.Statement[1].Resource) == toset(var.readable_secret_arns)
    error_message = "the per-secret statement must name exactly the readable secrets"
  }

  # AWS authorises BatchGetSecretValue on "*" and then GetSecretValue per secret: granting the batch
  # action on secret ARNs (the earlier policy) made every batch call fail with AccessDenied.
  assert {
    condition     = output.app_policy.Statement[2].Action == ["secretsmanager:BatchGetSecretValue"] && output.app_policy.Statement[2].Resource == ["*"]
    error_message = "BatchGetSecretValue must be granted on \"*\" and nothing else in that statement"
  }

  assert {
    condition     = length(output.app_policy.Statement) == 3
    error_message = "the policy has exactly the table, per-secret and batch statements"
  }

  assert {
    condition = alltrue([for s in output.app_policy.Statement : s.Effect == "Allow" && !anytrue([
      for a in s.Action : contains(["dynamodb:Scan", "dynamodb:CreateTable", "dynamodb:*", "secretsmanager:*", "*"], a)
    ])])
    error_message = "no Scan, no CreateTable, no wildcard action"
  }

  assert {
    condition     = alltrue([for s in output.app_policy.Statement : !contains(s.Resource, "*") if s.Sid != "ApuntadorSecretsBatch"])
    error_message = "only the BatchGetSecretValue statement may use Resource \"*\""
  }

  assert {
    condition     = output.app_policy_json == jsonencode(output.app_policy)
    error_message = "the JSON policy must be the tested policy"
  }
}

run "truststore_bucket_is_created_with_the_bundle_uri" {
  assert {
    condition     = output.truststore_uri == "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
    error_message = "truststore URI must be s3://<bucket>/truststore/ca-bundle.pem"
  }
}

run "refuses_non_secrets_manager_arns" {
  command = plan

  variables {
    readable_secret_arns = ["arn:aws:ssm:eu-west-1:123456789012:parameter/x"]
  }

  expect_failures = [var.readable_secret_arns]
}
