terraform {
  required_version = ">= 1.7.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Configure a remote backend for real deployments (see docs/deployment.md), e.g.:
  # backend "s3" { bucket = "...", key = "apuntador/fargate.tfstate", region = "...", use_lockfile = true }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = "apuntador", Stack = "fargate" }, var.tags)
  }
}
