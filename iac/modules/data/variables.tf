variable "certificates_table_name" {
  description = "Name of the device certificate table (AWS_DYNAMODB_TABLE)."
  type        = string
  default     = "apuntador-certificates"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.certificates_table_name))
    error_message = "certificates_table_name must be 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "sessions_table_name" {
  description = "Name of the OAuth session / attestation table (AWS_DYNAMODB_SESSIONS_TABLE)."
  type        = string
  default     = "apuntador-sessions"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.sessions_table_name))
    error_message = "sessions_table_name must be 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "truststore_bucket_name" {
  description = "Name of the versioned, private truststore bucket (AWS_S3_BUCKET)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for DynamoDB encryption at rest. null = the AWS-managed key (alias/aws/dynamodb), which needs no key policy."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "deletion_protection" {
  description = "Protect both tables against deletion. Keep true in production."
  type        = bool
  default     = true
}

variable "readable_secret_arns" {
  description = "ARNs of the Secrets Manager secrets the application may read: the CA secrets and every secret referenced from its environment."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.readable_secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:", arn))])
    error_message = "readable_secret_arns must hold Secrets Manager ARNs only."
  }
}

variable "truststore_noncurrent_version_retention_days" {
  description = "Days a superseded truststore bundle version is kept (see the truststore module)."
  type        = number
  default     = 365
}

variable "force_destroy_truststore" {
  description = "Allow `terraform destroy` to delete the truststore bucket with its versions."
  type        = bool
  default     = false
}

variable "truststore_deny_insecure_transport" {
  description = "Deny every non-TLS request to the truststore bucket (see the truststore module). Keep true."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
