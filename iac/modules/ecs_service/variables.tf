variable "name" {
  description = "Name of the cluster, service, task family and load balancer (<= 24 characters: ALB names are limited to 32)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,24}$", var.name))
    error_message = "name must be 1-24 lower-case letters, digits or '-'."
  }
}

variable "image" {
  description = "Container image of apuntador-server (the Dockerfile at the repository root), preferably pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/apuntador@sha256:..."
  type        = string

  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image must be set and must not use the mutable :latest tag."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 (the Dockerfile's x86_64-unknown-linux-musl build) or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "memory" {
  description = "Task memory in MiB; must be a valid Fargate combination with cpu."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 30720
    error_message = "memory must be between 512 and 30720 MiB."
  }
}

variable "port" {
  description = "Container port the server listens on (PORT)."
  type        = number
  default     = 8000

  validation {
    condition     = var.port >= 1024 && var.port <= 65535
    error_message = "port must be between 1024 and 65535 (the container runs as non-root)."
  }
}

variable "vpc_id" {
  description = "VPC of the service and its internal ALB."
  type        = string
}

variable "alb_subnet_ids" {
  description = "Private subnets of the internal ALB (at least two zones)."
  type        = list(string)

  validation {
    condition     = length(var.alb_subnet_ids) >= 2
    error_message = "alb_subnet_ids needs at least two subnets."
  }
}

variable "task_subnet_ids" {
  description = "Subnets of the tasks (network module output task_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.task_subnet_ids) >= 1
    error_message = "task_subnet_ids needs at least one subnet."
  }
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (network module output task_assign_public_ip). Inbound traffic is still limited to the ALB by the task security group."
  type        = bool
  default     = false
}

variable "alb_ingress_security_group_ids" {
  description = "Security groups allowed to reach the ALB listener (the API Gateway VPC link's)."
  type        = list(string)

  validation {
    condition     = length(var.alb_ingress_security_group_ids) >= 1
    error_message = "At least one security group (the VPC link's) must be allowed to reach the ALB."
  }
}

variable "environment" {
  description = "Plain environment variables of the container (no secrets). The module sets ENVIRONMENT=production, CLIENT_CERT_SOURCES=header, CLIENT_CERT_HEADER, PORT, HOST, SHUTDOWN_DELAY_SECONDS, SHUTDOWN_GRACE_SECONDS and the OTEL_* variables itself."
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
    condition     = alltrue([for name in keys(var.environment) : !contains(["ENVIRONMENT", "CLIENT_CERT_SOURCES", "CLIENT_CERT_HEADER", "PORT", "HOST", "AUTO_CREATE_RESOURCES", "SHUTDOWN_DELAY_SECONDS", "SHUTDOWN_GRACE_SECONDS"], name)])
    error_message = "ENVIRONMENT, CLIENT_CERT_SOURCES, CLIENT_CERT_HEADER, PORT, HOST, AUTO_CREATE_RESOURCES, SHUTDOWN_DELAY_SECONDS and SHUTDOWN_GRACE_SECONDS are set by the module (the last two through shutdown_delay_seconds and shutdown_grace_seconds, which also size stopTimeout)."
  }
}

variable "secret_arns" {
  description = "Secret-capable variable => Secrets Manager secret ARN; the ARN is the variable's value and the app resolves it at start-up."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.secret_arns) : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", arn))])
    error_message = "secret_arns values must be Secrets Manager secret ARNs."
  }
}

variable "client_cert_header" {
  description = "CLIENT_CERT_HEADER: the header the HTTP API integration overwrites with the verified client certificate."
  type        = string
  default     = "X-Client-Cert"
}

variable "app_policy_json" {
  description = "The application's IAM policy (output app_policy_json of the data module), attached to the task role."
  type        = string
}

variable "desired_count" {
  description = "Tasks at creation. Ignored afterwards: autoscaling owns the count."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1
    error_message = "desired_count must be at least 1."
  }
}

variable "autoscaling" {
  description = "Target tracking on average CPU %, average memory % and ALB requests per target, between min and max tasks."
  type = object({
    min_capacity        = optional(number, 2)
    max_capacity        = optional(number, 10)
    cpu_target          = optional(number, 60)
    memory_target       = optional(number, 70)
    requests_per_target = optional(number, 1000)
    scale_in_cooldown   = optional(number, 300)
    scale_out_cooldown  = optional(number, 60)
  })
  default = {}

  validation {
    condition     = var.autoscaling.min_capacity >= 1 && var.autoscaling.max_capacity >= var.autoscaling.min_capacity
    error_message = "autoscaling needs 1 <= min_capacity <= max_capacity."
  }

  validation {
    condition     = var.autoscaling.cpu_target > 0 && var.autoscaling.cpu_target <= 100 && var.autoscaling.memory_target > 0 && var.autoscaling.memory_target <= 100 && var.autoscaling.requests_per_target >= 1
    error_message = "cpu_target and memory_target are percentages (1-100); requests_per_target must be positive."
  }
}

variable "spot" {
  description = "Fargate Spot mix: `base` tasks always on regular Fargate, the rest split by weight. spot_weight = 0 disables Spot."
  type = object({
    base           = optional(number, 1)
    fargate_weight = optional(number, 1)
    spot_weight    = optional(number, 0)
  })
  default = {}

  validation {
    condition     = var.spot.base >= 0 && var.spot.fargate_weight >= 0 && var.spot.spot_weight >= 0 && var.spot.fargate_weight + var.spot.spot_weight > 0
    error_message = "spot weights must be >= 0 and not both 0; base must be >= 0."
  }
}

variable "adot_collector" {
  description = "Run the AWS Distro for OpenTelemetry collector as a sidecar; the app then exports traces to it over OTLP (OTEL_ENABLED=true) and the collector sends them to X-Ray. The task role gets X-Ray write access and CloudWatch Logs write access to emf_log_group_name (the default configuration's metrics pipeline); a custom config_path with other exporters needs matching permissions."
  type = object({
    enabled     = bool
    image       = optional(string, "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3")
    config_path = optional(string, "/etc/ecs/ecs-default-config.yaml")
    # Where the default configuration's awsemf exporter writes metrics; the task role may write only there.
    emf_log_group_name = optional(string, "/aws/ecs/application/metrics")
    cpu                = optional(number, 64)
    memory             = optional(number, 128)
  })
  default = { enabled = false }
}

variable "log_retention_days" {
  description = "Retention of the service's log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing ALB health checks after a task starts."
  type        = number
  default     = 30

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 600
    error_message = "health_check_grace_period_seconds must be between 0 and 600."
  }
}

variable "shutdown_delay_seconds" {
  description = "SHUTDOWN_DELAY_SECONDS of the app: after SIGTERM, how long readiness answers 503 while the listener keeps serving, so that requests the ALB still sends to a task that got SIGTERM while registered (a Fargate Spot interruption) are answered. The container's stopTimeout and the ALB deregistration delay are delay + grace + 5 s, at most 120."
  type        = number
  default     = 10

  validation {
    condition     = var.shutdown_delay_seconds >= 0 && var.shutdown_delay_seconds <= 60 && floor(var.shutdown_delay_seconds) == var.shutdown_delay_seconds
    error_message = "shutdown_delay_seconds must be a whole number of seconds between 0 and 60."
  }
}

variable "shutdown_grace_seconds" {
  description = "SHUTDOWN_GRACE_SECONDS of the app: after the delay, how long in-flight requests get to finish. The container's stopTimeout and the ALB deregistration delay are delay + grace + 5 s, at most 120."
  type        = number
  default     = 25

  validation {
    condition     = var.shutdown_grace_seconds >= 0 && var.shutdown_grace_seconds <= 110 && floor(var.shutdown_grace_seconds) == var.shutdown_grace_seconds
    error_message = "shutdown_grace_seconds must be a whole number of seconds between 0 and 110 (Fargate's stopTimeout maximum is 120 s)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}

variable "alb_deletion_protection" {
  description = "Protect the internal ALB against deletion. Keep true in production."
  type        = bool
  default     = true
}
