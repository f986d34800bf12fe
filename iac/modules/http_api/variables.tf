variable "name" {
  description = "Name of the HTTP API (also the prefix of its log group)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, '_' or '-'."
  }
}

variable "integration" {
  description = <<-EOT
    Where the `$default` route sends every request:
      - { type = "lambda", lambda_invoke_arn, lambda_function_name }: AWS_PROXY, payload format 2.0;
      - { type = "alb", alb_listener_arn, vpc_link_subnet_ids, vpc_link_security_group_ids }: a private
        integration through a VPC link to an internal ALB listener, with the verified mTLS client
        certificate written over `client_cert_header`.
  EOT
  type = object({
    type                        = string
    lambda_invoke_arn           = optional(string)
    lambda_function_name        = optional(string)
    alb_listener_arn            = optional(string)
    vpc_link_subnet_ids         = optional(list(string), [])
    vpc_link_security_group_ids = optional(list(string), [])
  })

  validation {
    condition     = contains(["lambda", "alb"], var.integration.type)
    error_message = "integration.type must be \"lambda\" or \"alb\"."
  }

  validation {
    condition = var.integration.type != "lambda" || (
      var.integration.lambda_invoke_arn != null && var.integration.lambda_function_name != null
    )
    error_message = "A lambda integration needs lambda_invoke_arn and lambda_function_name."
  }

  validation {
    condition = var.integration.type != "alb" || (
      var.integration.alb_listener_arn != null && length(var.integration.vpc_link_subnet_ids) >= 2 && length(var.integration.vpc_link_security_group_ids) >= 1
    )
    error_message = "An alb integration needs alb_listener_arn, at least two vpc_link_subnet_ids and a VPC link security group."
  }
}

variable "client_cert_header" {
  description = "alb integration: the header the integration overwrites with the mTLS client certificate; must equal the app's CLIENT_CERT_HEADER. Reserved names (x-amz-*, x-amzn-*, Authorization, ...) cannot be mapped."
  type        = string
  default     = "X-Client-Cert"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,64}$", var.client_cert_header)) && !can(regex("^(?i)(x-amzn?-|apigw-|access-control-|authorization$|forwarded$|x-forwarded-|via$)", var.client_cert_header))
    error_message = "client_cert_header must be a plain header name that API Gateway allows in parameter mappings (not x-amz-*, x-amzn-*, apigw-*, Authorization, Forwarded, X-Forwarded-*, Via)."
  }
}

variable "client_cert_context_variable" {
  description = "alb integration: the HTTP API context variable holding the PEM the client presented during mutual TLS (see docs/deployment.md, 'Client certificates on Fargate')."
  type        = string
  default     = "$context.identity.clientCert.clientCertPem"

  validation {
    condition     = can(regex("^\\$context\\.[A-Za-z.]+clientCertPem$", var.client_cert_context_variable))
    error_message = "client_cert_context_variable must be a $context variable ending in clientCertPem."
  }
}

variable "domain_name" {
  description = "Custom domain clients call, e.g. api.example.com. Mutual TLS is configured on it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case fully qualified domain name."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (same region as the API) for domain_name."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "truststore_uri" {
  description = "s3://<bucket>/truststore/ca-bundle.pem (output of the data module)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9.-]+/truststore/ca-bundle\\.pem$", var.truststore_uri))
    error_message = "truststore_uri must be s3://<bucket>/truststore/ca-bundle.pem."
  }
}

variable "truststore_version" {
  description = "S3 object version of the truststore bundle published by `ca init`. null = no custom domain yet (first apply, before `ca init`); the API is then unreachable because execute-api is disabled."
  type        = string
  default     = null

  validation {
    condition     = var.truststore_version == null || can(regex("^[A-Za-z0-9._-]+$", var.truststore_version))
    error_message = "truststore_version must be an S3 version id or null."
  }
}

variable "integration_timeout_seconds" {
  description = "Integration timeout in seconds (HTTP APIs allow 1-30). Keep it above the app's REQUEST_TIMEOUT_SECONDS so the app's own 504 problem reaches the client."
  type        = number
  default     = 30

  validation {
    condition     = var.integration_timeout_seconds >= 1 && var.integration_timeout_seconds <= 30
    error_message = "integration_timeout_seconds must be between 1 and 30."
  }
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst limit (requests)."
  type        = number
  default     = 500

  validation {
    condition     = var.throttling_burst_limit >= 1
    error_message = "throttling_burst_limit must be positive."
  }
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady-state rate limit (requests per second)."
  type        = number
  default     = 1000

  validation {
    condition     = var.throttling_rate_limit >= 1
    error_message = "throttling_rate_limit must be positive."
  }
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
