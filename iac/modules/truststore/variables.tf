variable "bucket_name" {
  description = "Name of the S3 bucket that holds the mutual TLS truststore bundle (AWS_S3_BUCKET). Globally unique."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 characters, lower-case letters, digits, dots and hyphens."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days a superseded truststore version is kept before S3 deletes it. Must outlive every edge still pointing at an older version."
  type        = number
  default     = 365

  validation {
    condition     = var.noncurrent_version_retention_days >= 30 && var.noncurrent_version_retention_days <= 3650
    error_message = "noncurrent_version_retention_days must be between 30 and 3650."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a bucket that still holds truststore versions. Keep false in production."
  type        = bool
  default     = false
}

variable "deny_insecure_transport" {
  description = "Attach the bucket policy that denies every request not made over TLS. Keep true; only the offline apply test against a plain-HTTP emulator sets false."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
