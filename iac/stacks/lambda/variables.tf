variable "region" {
  description = "AWS region of every resource (the ACM certificate must be in this region too)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}

variable "name" {
  description = "Name of the function and the HTTP API; prefix of IAM roles and log groups."
  type        = string
  default     = "apuntador"

  validation {
    condition     = can(regex("^[a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 1-40 lower-case letters, digits or '-'."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "certificates_table_name" {
  description = "AWS_DYNAMODB_TABLE: the certificate table."
  type        = string
  default     = "apuntador-certificates"
}

variable "sessions_table_name" {
  description = "AWS_DYNAMODB_SESSIONS_TABLE: the sessions table."
  type        = string
  default     = "apuntador-sessions"
}

variable "truststore_bucket_name" {
  description = "AWS_S3_BUCKET: the versioned private truststore bucket (globally unique name)."
  type        = string
}

variable "secrets_prefix" {
  description = "AWS_SECRETS_PREFIX: prefix of the CA secrets and of the secrets this stack creates."
  type        = string
  default     = "apuntador"
}

variable "managed_app_secrets" {
  description = "Secret-capable variables (CONFIG_API_KEY, GOOGLE_CLIENT_SECRET, ...) for which the stack creates empty secrets <prefix>/env/<NAME>; put their values with the AWS CLI."
  type        = set(string)
  default     = ["CONFIG_API_KEY"]
}

variable "existing_app_secret_arns" {
  description = "Secret-capable variable => ARN of a secret that already exists."
  type        = map(string)
  default     = {}
}

variable "app_environment" {
  description = "Plain settings of the app: ALLOWED_ORIGINS, ALLOWED_REDIRECT_URIS, ENABLED_CLOUD_PROVIDERS, *_REDIRECT_URI, ... Secret-capable variables are refused here."
  type        = map(string)
  default     = {}
}

variable "zip_path" {
  description = "The zip printed by `bash scripts/package-lambda`, relative to this directory or absolute."
  type        = string
  default     = "../../../target/lambda/apuntador-lambda/bootstrap.zip"
}

variable "architecture" {
  description = "arm64 (default) or x86_64: must match how the zip was built."
  type        = string
  default     = "arm64"
}

variable "memory_mb" {
  description = "Function memory in MB."
  type        = number
  default     = 512
}

variable "request_timeout_seconds" {
  description = "The app's REQUEST_TIMEOUT_SECONDS."
  type        = number
  default     = 20
}

variable "timeout_seconds" {
  description = "Function timeout; must exceed request_timeout_seconds (and stay <= 29 behind the HTTP API's 30 s integration limit)."
  type        = number
  default     = 25

  validation {
    condition     = var.timeout_seconds <= 29
    error_message = "timeout_seconds must be at most 29: the HTTP API gives up after 30 s."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions, or null for none."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's and the API's log groups, in days."
  type        = number
  default     = 90
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias `live` (0 = none; each one is billed per hour)."
  type        = number
  default     = 0
}

variable "otel_collector_layer_arn" {
  description = "ARN of an OpenTelemetry collector Lambda layer (e.g. the AWS Distro for OpenTelemetry collector layer of var.region and var.architecture). When set, the app exports its traces to it; null exports none."
  type        = string
  default     = null

  validation {
    condition     = var.otel_collector_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", var.otel_collector_layer_arn))
    error_message = "otel_collector_layer_arn must be a versioned Lambda layer ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }
}

variable "public_domain_name" {
  description = "The public door (TLS only), e.g. api.example.com: health, OAuth (provider redirect URIs point here), enrolment, attestation, CA certificate and pin, docs."
  type        = string
}

variable "device_domain_name" {
  description = "The device door (mutual TLS), e.g. device.api.example.com: the routes that need the device certificate (renew, revoke, status)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate in var.region covering both domain names (a wildcard or both as names). null: give hosted_zone_id and the stack requests one per domain."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone of both domains: the stack then creates their alias records (and their ACM certificates when certificate_arn is null). null: DNS is yours (terraform output dns_alias_targets)."
  type        = string
  default     = null
}

variable "truststore_version" {
  description = "S3 version id of truststore/ca-bundle.pem printed by `ca init`; null on the first apply (before `ca init`): the device door is created once it is set."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Deletion protection of the DynamoDB tables."
  type        = bool
  default     = true
}
