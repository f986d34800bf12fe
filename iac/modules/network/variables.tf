variable "name" {
  description = "Name prefix of the network resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,32}$", var.name))
    error_message = "name must be 1-32 lower-case letters, digits or '-'."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC; /16 to /24. Split into one public and one private subnet per availability zone."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "cidr_block must be an IPv4 CIDR between /16 and /24."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread subnets over (2 or 3). The ALB and the VPC link need at least two."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 or 3 distinct zones."
  }
}

variable "egress_mode" {
  description = <<-EOT
    How tasks reach the OAuth providers on the internet (both cost money):
      - "nat": tasks in private subnets, one NAT gateway (hourly + per-GB charge);
      - "public_ip": tasks in the public subnets with a public IP and a security group with no inbound
        rule except from the ALB (public IPv4 address charge per task, no NAT gateway).
    AWS services (DynamoDB, S3, ECR, Logs, Secrets Manager, X-Ray) go through VPC endpoints either way.
  EOT
  type        = string
  default     = "nat"

  validation {
    condition     = contains(["nat", "public_ip"], var.egress_mode)
    error_message = "egress_mode must be \"nat\" or \"public_ip\"."
  }
}

variable "enable_xray_endpoint" {
  description = "Create the X-Ray interface endpoint (needed when the ADOT collector sidecar exports traces)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
