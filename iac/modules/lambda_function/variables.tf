variable "name" {
  description = "Function name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, '_' or '-'."
  }
}

variable "zip_path" {
  description = "Path of the deployment zip built by `bash scripts/package-lambda` (cargo lambda build --release --output-format zip): target/lambda/apuntador-lambda/bootstrap.zip."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must point at a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set the zip was built for: arm64 (cargo lambda build --arm64, the default and cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "request_timeout_seconds" {
  description = "The app's REQUEST_TIMEOUT_SECONDS (1-300). Set in the function's environment."
  type        = number
  default     = 20

  validation {
    condition     = var.request_timeout_seconds >= 1 && var.request_timeout_seconds <= 300
    error_message = "request_timeout_seconds must be between 1 and 300."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds. Must be above request_timeout_seconds so that a slow request ends as the app's 504 problem, not as a runtime timeout."
  type        = number
  default     = 25

  validation {
    condition     = var.timeout_seconds >= 2 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 2 and 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (caps cost and protects the account's pool). null = unreserved."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 0, false)
    error_message = "reserved_concurrency must be null or >= 0."
  }
}

variable "environment" {
  description = "Plain environment variables of the function (no secrets). The module adds ENVIRONMENT=production, CLIENT_CERT_SOURCES=lambda-context and REQUEST_TIMEOUT_SECONDS itself, and the OTEL_* variables when otel_collector_layer_arn is set."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for name in keys(var.environment) : !contains([
      "CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY",
      "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET",
      "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET",
      "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET",
      "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY",
    ], name)])
    error_message = "environment must not carry secret-capable variables (API keys, OAuth client ids and secrets, Play Integrity keys); pass them through secret_arns as Secrets Manager ARNs."
  }

  validation {
    condition     = alltrue([for name in keys(var.environment) : !contains(["ENVIRONMENT", "CLIENT_CERT_SOURCES", "REQUEST_TIMEOUT_SECONDS", "AUTO_CREATE_RESOURCES"], name)])
    error_message = "ENVIRONMENT, CLIENT_CERT_SOURCES, REQUEST_TIMEOUT_SECONDS and AUTO_CREATE_RESOURCES are set by the module."
  }
}

variable "secret_arns" {
  description = "Secret-capable variable => Secrets Manager secret ARN (output app_secret_arns of the secrets module). The ARN is the variable's value; the app resolves it at start-up."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.secret_arns) : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", arn))])
    error_message = "secret_arns values must be Secrets Manager secret ARNs."
  }
}

variable "app_policy_json" {
  description = "The application's IAM policy (output app_policy_json of the data module)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias `live` (no cold starts for that many concurrent requests, billed per hour whether used or not). 0 = none."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0 && floor(var.provisioned_concurrency) == var.provisioned_concurrency
    error_message = "provisioned_concurrency must be a whole number >= 0."
  }
}

variable "otel_collector_layer_arn" {
  description = "ARN of an OpenTelemetry collector Lambda layer for the function's region and architecture, e.g. the AWS Distro for OpenTelemetry collector layer, whose default configuration forwards traces to X-Ray. When set, the layer is attached and the app exports its spans to it (OTEL_ENABLED=true, OTLP gRPC on localhost:4317), flushing before each response. Null: no trace export; X-Ray still records the invocation itself."
  type        = string
  default     = null

  validation {
    condition     = var.otel_collector_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", var.otel_collector_layer_arn))
    error_message = "otel_collector_layer_arn must be a versioned Lambda layer ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
