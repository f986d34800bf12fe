variable "secrets_prefix" {
  description = "Prefix of the CA secret names (AWS_SECRETS_PREFIX): <prefix>/ca-private-key, <prefix>/ca-certificate, <prefix>/ca-previous-certificate."
  type        = string
  default     = "apuntador"

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]{1,128}$", var.secrets_prefix)) && !endswith(var.secrets_prefix, "/")
    error_message = "secrets_prefix must be 1-128 characters of letters, digits and /_+=.@- and must not end with '/'."
  }
}

variable "managed_app_secrets" {
  description = <<-EOT
    Secret-capable variables (those the app also accepts as a Secrets Manager ARN, resolved at
    start-up) for which this module creates an EMPTY secret named
    <secrets_prefix>/env/<VARIABLE>. Terraform never sees the value: put it afterwards with
    `aws secretsmanager put-secret-value`. The application receives the secret's ARN in that variable.
  EOT
  type        = set(string)
  default     = []

  validation {
    condition = alltrue([for name in var.managed_app_secrets : contains([
      "CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY",
      "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET",
      "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET",
      "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET",
      "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY",
    ], name)])
    error_message = "managed_app_secrets may only name the app's secret-capable variables (CONFIG_API_KEY, ADMIN_API_KEY, GOOGLE_CLIENT_SECRET, ...)."
  }
}

variable "existing_app_secret_arns" {
  description = "Secret-capable variables whose secret already exists elsewhere: variable name => Secrets Manager secret ARN. Passed to the app as the ARN."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for name, arn in var.existing_app_secret_arns : contains([
      "CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY",
      "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET",
      "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET",
      "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET",
      "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY",
    ], name) && can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", arn))])
    error_message = "existing_app_secret_arns keys must be the app's secret-capable variables and values Secrets Manager secret ARNs."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the secrets. null = the AWS-managed key aws/secretsmanager."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; 7-30 otherwise)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Tags applied to every secret."
  type        = map(string)
  default     = {}
}
