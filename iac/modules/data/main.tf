# Storage of the AWS backend: both DynamoDB tables (on demand, TTL on `ttl`, point-in-time
# recovery, encryption at rest), the versioned private truststore bucket, and the one IAM policy that the
# application's role (ECS task role or Lambda function role) gets. The application never creates any of
# these itself in the stacks (AUTO_CREATE_RESOURCES stays false).

resource "aws_dynamodb_table" "certificates" {
  name                        = var.certificates_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "device_id"
  range_key                   = "serial_number"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "device_id"
    type = "S"
  }

  attribute {
    name = "serial_number"
    type = "S"
  }

  attribute {
    name = "expires_at"
    type = "S"
  }

  # Kept for compatibility and operations; no request path reads an index.
  global_secondary_index {
    name            = "SerialIndex"
    hash_key        = "serial_number"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "ExpirationIndex"
    hash_key        = "device_id"
    range_key       = "expires_at"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "sessions" {
  name                        = var.sessions_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

module "truststore" {
  source = "../truststore"

  bucket_name                       = var.truststore_bucket_name
  noncurrent_version_retention_days = var.truststore_noncurrent_version_retention_days
  force_destroy                     = var.force_destroy_truststore
  deny_insecure_transport           = var.truststore_deny_insecure_transport
  tags                              = var.tags
}

locals {
  table_arns = [aws_dynamodb_table.certificates.arn, aws_dynamodb_table.sessions.arn]

  # Exactly what the store code calls. No Scan, no CreateTable, no DescribeTable:
  # AUTO_CREATE_RESOURCES is false in these stacks. TransactWriteItems is authorised per item through the
  # PutItem / UpdateItem actions it carries.
  dynamodb_actions = [
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
  ]

  app_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ApuntadorTables"
        Effect   = "Allow"
        Action   = local.dynamodb_actions
        Resource = concat(local.table_arns, [for arn in local.table_arns : "${arn}/index/*"])
      },
      {
        # Per secret: the app secrets, the two Terraform-owned CA secrets, and the previous CA certificate
        # by name pattern (`ca init` creates and deletes that one, so its ARN suffix changes).
        Sid      = "ApuntadorSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = sort(distinct(var.readable_secret_arns))
      },
      {
        # BatchGetSecretValue is authorised on "*" only; Secrets Manager then checks GetSecretValue on each
        # secret of the batch, so this grants no read beyond the statement above.
        # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html
        Sid      = "ApuntadorSecretsBatch"
        Effect   = "Allow"
        Action   = ["secretsmanager:BatchGetSecretValue"]
        Resource = ["*"]
      },
    ]
  }
}
