# apuntador on ECS Fargate: TWO HTTP APIs -> ONE shared VPC link -> internal ALB -> tasks in a VPC with
# endpoints for the AWS services and a selectable internet egress for the OAuth providers.
#
#   public door  public_domain_name (TLS only)  -> public API: its integration REMOVES X-Client-Cert
#   device door  device_domain_name (mutual TLS) -> device API: its integration OVERWRITES X-Client-Cert with
#                                                  $context.identity.clientCert.clientCertPem
#
# The app reads the certificate only from that header (CLIENT_CERT_SOURCES=header). Whatever a client sends
# in X-Client-Cert is removed or replaced at the edge, and the ALB admits only the VPC link's security group,
# so the header always carries the certificate API Gateway verified, or nothing. See docs/deployment.md
# (scripts/deploy fargate).

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
  #checkov:skip=CKV2_AWS_5:Attached to the shared VPC link (aws_apigatewayv2_vpc_link.this, security_group_ids); the graph check does not count VPC links as attachments.
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

# One VPC link serves both APIs (a VPC link can be shared by the integrations of several APIs).
resource "aws_apigatewayv2_vpc_link" "this" {
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [aws_security_group.vpc_link.id]
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
  shutdown_delay_seconds         = var.shutdown_delay_seconds
  shutdown_grace_seconds         = var.shutdown_grace_seconds

  environment = merge(var.app_environment, {
    INFRASTRUCTURE_PROVIDER     = "aws"
    AWS_REGION                  = var.region
    AWS_DYNAMODB_TABLE          = module.data.certificates_table_name
    AWS_DYNAMODB_SESSIONS_TABLE = module.data.sessions_table_name
    AWS_S3_BUCKET               = module.data.truststore_bucket_name
    AWS_SECRETS_PREFIX          = var.secrets_prefix
  })
}

module "public_api" {
  source = "../../modules/http_api"

  name               = "${var.name}-public"
  certificate_arn    = var.certificate_arn
  hosted_zone_id     = var.hosted_zone_id
  client_cert_header = var.client_cert_header
  log_retention_days = var.log_retention_days

  integration = {
    type             = "alb"
    alb_listener_arn = module.service.alb_listener_arn
    vpc_link_id      = aws_apigatewayv2_vpc_link.this.id
    client_cert      = "remove"
  }

  domains = {
    public = { domain_name = var.public_domain_name, mutual_tls = false }
  }
}

module "device_api" {
  source = "../../modules/http_api"

  name               = var.name
  certificate_arn    = var.certificate_arn
  hosted_zone_id     = var.hosted_zone_id
  truststore_uri     = module.data.truststore_uri
  truststore_version = var.truststore_version
  client_cert_header = var.client_cert_header
  log_retention_days = var.log_retention_days

  integration = {
    type             = "alb"
    alb_listener_arn = module.service.alb_listener_arn
    vpc_link_id      = aws_apigatewayv2_vpc_link.this.id
    client_cert      = "overwrite"
  }

  domains = {
    device = { domain_name = var.device_domain_name, mutual_tls = true }
  }
}

# Earlier versions had one mutual TLS API (module.api) owning the VPC link: keep both, no replacement.
moved {
  from = module.api
  to   = module.device_api
}

moved {
  from = module.device_api.aws_apigatewayv2_vpc_link.this[0]
  to   = aws_apigatewayv2_vpc_link.this
}
