variable "region" {
  description = "AWS region of every resource (the ACM certificate must be in this region too)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}

variable "name" {
  description = "Name of the cluster, service, ALB and HTTP API; prefix of roles and log groups (<= 24 characters)."
  type        = string
  default     = "apuntador"

  validation {
    condition     = can(regex("^[a-z0-9-]{1,24}$", var.name))
    error_message = "name must be 1-24 lower-case letters, digits or '-'."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- Network ---

variable "vpc_cidr" {
  description = "CIDR of the VPC the stack creates."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Two or three availability zones of var.region."
  type        = list(string)
}

variable "egress_mode" {
  description = "Internet egress of the tasks for the OAuth provider calls: \"nat\" (private task subnets + one NAT gateway) or \"public_ip\" (tasks with a public IP, no inbound rule except from the ALB, no NAT gateway)."
  type        = string
  default     = "nat"
}

# --- Data and secrets ---

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

variable "deletion_protection" {
  description = "Deletion protection of the DynamoDB tables and the ALB."
  type        = bool
  default     = true
}

# --- Service ---

variable "image" {
  description = "apuntador-server image (Dockerfile at the repository root) in ECR, pinned by digest."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 (what the Dockerfile builds) or ARM64."
  type        = string
  default     = "X86_64"
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 512
}

variable "app_environment" {
  description = "Plain settings of the app: ALLOWED_ORIGINS, ALLOWED_REDIRECT_URIS, ENABLED_CLOUD_PROVIDERS, *_REDIRECT_URI, ... Secret-capable variables are refused here."
  type        = map(string)
  default     = {}
}

variable "client_cert_header" {
  description = "CLIENT_CERT_HEADER, overwritten by the HTTP API with the verified mTLS client certificate."
  type        = string
  default     = "X-Client-Cert"
}

variable "desired_count" {
  description = "Tasks at creation (ignored afterwards; autoscaling owns the count)."
  type        = number
  default     = 2
}

variable "autoscaling" {
  description = "min/max tasks and target-tracking targets (CPU %, memory %, ALB requests per target)."
  type = object({
    min_capacity        = optional(number, 2)
    max_capacity        = optional(number, 10)
    cpu_target          = optional(number, 60)
    memory_target       = optional(number, 70)
    requests_per_target = optional(number, 1000)
  })
  default = {}
}

variable "spot" {
  description = "Fargate Spot mix: base tasks on regular Fargate, the rest by weight; spot_weight = 0 disables Spot."
  type = object({
    base           = optional(number, 1)
    fargate_weight = optional(number, 1)
    spot_weight    = optional(number, 0)
  })
  default = {}
}

variable "shutdown_delay_seconds" {
  description = "SHUTDOWN_DELAY_SECONDS: after SIGTERM, seconds a task keeps serving (readiness 503) before draining, for what the ALB still sends it (a Fargate Spot interruption signals a registered task). 0-60."
  type        = number
  default     = 10
}

variable "shutdown_grace_seconds" {
  description = "SHUTDOWN_GRACE_SECONDS: after the delay, seconds in-flight requests get to finish. The container's stopTimeout and the ALB deregistration delay are delay + grace + 5, at most 120."
  type        = number
  default     = 25
}

variable "adot_collector_enabled" {
  description = "Run the ADOT collector sidecar and export traces to X-Ray (adds the X-Ray VPC endpoint)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the service's and the API's log groups, in days."
  type        = number
  default     = 90
}

# --- Edge ---

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
