variable "name" {
  description = "Name of the HTTP API (also the prefix of its log group)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, '_' or '-'."
  }
}

variable "integration" {
  description = <<-EOF2
    Where the `$default` route sends every request:
      - { type = "lambda", lambda_invoke_arn, lambda_function_name, lambda_qualifier }: AWS_PROXY, payload
        format 2.0 (lambda_qualifier: the alias the invoke ARN points at, e.g. "live");
      - { type = "alb", alb_listener_arn, vpc_link_id, client_cert }: a private integration through a VPC link
        to an internal ALB listener; client_cert = "remove" (public door: the certificate header is removed)
        or "overwrite" (device door: the header is overwritten with the PEM verified by mutual TLS).
  EOF2
  type = object({
    type                 = string
    lambda_invoke_arn    = optional(string)
    lambda_function_name = optional(string)
    lambda_qualifier     = optional(string)
    alb_listener_arn     = optional(string)
    vpc_link_id          = optional(string)
    client_cert          = optional(string, "remove")
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
    condition     = var.integration.type != "alb" || (var.integration.alb_listener_arn != null && var.integration.vpc_link_id != null)
    error_message = "An alb integration needs alb_listener_arn and vpc_link_id."
  }

  validation {
    condition     = contains(["remove", "overwrite"], var.integration.client_cert)
    error_message = "integration.client_cert must be \"remove\" (public door) or \"overwrite\" (device door)."
  }
}

variable "domains" {
  description = <<-EOF2
    The API's regional custom domains, key => { domain_name, mutual_tls }. A mutual TLS domain (the device
    door) trusts `truststore_uri` at `truststore_version` and is only created once that version is known; a
    domain without mutual TLS (the public door) is created at once. Use the keys "public" and "device".
  EOF2
  type = map(object({
    domain_name = string
    mutual_tls  = bool
  }))

  validation {
    condition     = alltrue([for d in values(var.domains) : can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", d.domain_name))])
    error_message = "every domain_name must be a lower-case fully qualified domain name."
  }

  validation {
    condition     = length(distinct([for d in values(var.domains) : d.domain_name])) == length(var.domains)
    error_message = "each door needs its own domain name (mutual TLS is all-or-nothing per custom domain)."
  }
}

variable "hosted_zone_id" {
  description = "Route 53 public hosted zone of the domains. When set, the module creates an alias A record per domain, and, when certificate_arn is null, one DNS-validated ACM certificate per domain. null: DNS and certificates are yours."
  type        = string
  default     = null

  validation {
    condition     = var.hosted_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be a Route 53 hosted zone id (Z...) or null."
  }
}

variable "client_cert_header" {
  description = "alb integration: the header the integration removes (public door) or overwrites with the mTLS client certificate (device door); must equal the app's CLIENT_CERT_HEADER. Reserved names (x-amz-*, x-amzn-*, Authorization, ...) cannot be mapped."
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

variable "certificate_arn" {
  description = "ACM certificate (same region as the API) covering every domain (a wildcard or one with both names). null: give hosted_zone_id and the module requests one per domain."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN or null."
  }
}

variable "truststore_uri" {
  description = "s3://<bucket>/truststore/ca-bundle.pem (output of the data module); needed by a mutual TLS domain."
  type        = string
  default     = null

  validation {
    condition     = var.truststore_uri == null || can(regex("^s3://[a-z0-9.-]+/truststore/ca-bundle\\.pem$", var.truststore_uri))
    error_message = "truststore_uri must be s3://<bucket>/truststore/ca-bundle.pem."
  }
}

variable "truststore_version" {
  description = "S3 object version of the truststore bundle published by `ca init`. null = no mutual TLS domain yet (first apply, before `ca init`); the public domain exists already."
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
