# apuntador on ECS Fargate: HTTP API (mutual TLS custom domain) -> VPC link -> internal ALB -> tasks in
# a VPC with endpoints for the AWS services and a selectable internet egress for the OAuth providers.
# See docs/deployment.md for the order: apply, `ca init`, apply again with the truststore version.

module "network" {
  source = "../../modules/network"

  name                 = var.name
  cidr_block           = var.vpc_cidr
  availability_zones   = var.availability_zones
  egress_mode          = var.egress_mode
  enable_xray_endpoint = var.adot_collector_enabled
}

module "secrets" {
  source = "../../modules/secrets"

  secrets_prefix           = var.secrets_prefix
  managed_app_secrets      = var.managed_app_secrets
  existing_app_secret_arns = var.existing_app_secret_arns
}

module "data" {
  source = "../../modules/data"

  certificates_table_name = var.certificates_table_name
  sessions_table_name     = var.sessions_table_name
  truststore_bucket_name  = var.truststore_bucket_name
  deletion_protection     = var.deletion_protection
  readable_secret_arns    = module.secrets.readable_secret_arns
}

# The VPC link's network interfaces: they may only talk to the ALB listener.
resource "aws_security_group" "vpc_link" {
  #checkov:skip=CKV2_AWS_5:Attached to the VPC link inside module.api (vpc_link_security_group_ids); the graph check does not follow module inputs.
  name        = "${var.name}-vpc-link"
  description = "API Gateway VPC link of apuntador: HTTP to the internal ALB only"
  vpc_id      = module.network.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "vpc_link_to_alb" {
  security_group_id            = aws_security_group.vpc_link.id
  description                  = "HTTP to the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = module.service.alb_security_group_id
}

module "service" {
  source = "../../modules/ecs_service"

  name                           = var.name
  image                          = var.image
  cpu_architecture               = var.cpu_architecture
  cpu                            = var.cpu
  memory                         = var.memory
  vpc_id                         = module.network.vpc_id
  alb_subnet_ids                 = module.network.private_subnet_ids
  task_subnet_ids                = module.network.task_subnet_ids
  assign_public_ip               = module.network.task_assign_public_ip
  alb_ingress_security_group_ids = [aws_security_group.vpc_link.id]
  alb_deletion_protection        = var.deletion_protection
  app_policy_json                = module.data.app_policy_json
  secret_arns                    = module.secrets.app_secret_arns
  client_cert_header             = var.client_cert_header
  desired_count                  = var.desired_count
  autoscaling                    = var.autoscaling
  spot                           = var.spot
  adot_collector                 = { enabled = var.adot_collector_enabled }
  log_retention_days             = var.log_retention_days

  environment = merge(var.app_environment, {
    INFRASTRUCTURE_PROVIDER     = "aws"
    AWS_REGION                  = var.region
    AWS_DYNAMODB_TABLE          = module.data.certificates_table_name
    AWS_DYNAMODB_SESSIONS_TABLE = module.data.sessions_table_name
    AWS_S3_BUCKET               = module.data.truststore_bucket_name
    AWS_SECRETS_PREFIX          = var.secrets_prefix
  })
}

module "api" {
  source = "../../modules/http_api"

  name               = var.name
  domain_name        = var.domain_name
  certificate_arn    = var.certificate_arn
  truststore_uri     = module.data.truststore_uri
  truststore_version = var.truststore_version
  client_cert_header = var.client_cert_header
  log_retention_days = var.log_retention_days

  integration = {
    type                        = "alb"
    alb_listener_arn            = module.service.alb_listener_arn
    vpc_link_subnet_ids         = module.network.private_subnet_ids
    vpc_link_security_group_ids = [aws_security_group.vpc_link.id]
  }
}
