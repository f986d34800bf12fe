# apuntador-server on ECS Fargate behind an internal ALB. The ALB is reachable only
# from the API Gateway VPC link's security group; the HTTP API in front of it terminates mutual TLS and
# writes the verified client certificate over CLIENT_CERT_HEADER, so the app reads only that header
# (CLIENT_CERT_SOURCES=header).

data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  container_name = "apuntador"
  adot           = var.adot_collector.enabled

  # From SIGTERM to exit the app takes at most the delay (readiness fails, the listener keeps serving)
  # plus the grace (in-flight requests finish), and a few seconds to flush and exit. ECS sends SIGKILL
  # stopTimeout seconds after SIGTERM, and the ALB cuts a draining target's connections after the
  # deregistration delay: both wait this long, so neither cuts a request the app is still allowed to finish.
  shutdown_budget_seconds = var.shutdown_delay_seconds + var.shutdown_grace_seconds + 5

  # Every value is plain configuration or a Secrets Manager ARN; never a secret value.
  app_environment = merge(
    var.environment,
    var.secret_arns,
    {
      ENVIRONMENT            = "production"
      HOST                   = "0.0.0.0"
      PORT                   = tostring(var.port)
      CLIENT_CERT_SOURCES    = "header"
      CLIENT_CERT_HEADER     = var.client_cert_header
      AUTO_CREATE_RESOURCES  = "false"
      SHUTDOWN_DELAY_SECONDS = tostring(var.shutdown_delay_seconds)
      SHUTDOWN_GRACE_SECONDS = tostring(var.shutdown_grace_seconds)
    },
    local.adot ? {
      OTEL_ENABLED                = "true"
      OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4317"
      OTEL_EXPORTER_OTLP_PROTOCOL = "grpc"
    } : {},
  )

  app_container = {
    name                   = local.container_name
    image                  = var.image
    essential              = true
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = var.port, protocol = "tcp" }]
    environment            = [for name in sort(keys(local.app_environment)) : { name = name, value = local.app_environment[name] }]
    stopTimeout            = local.shutdown_budget_seconds
    # The distroless image has no shell: the binary probes itself.
    healthCheck = {
      command     = ["CMD", "/apuntador-server", "--healthcheck"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "app"
      }
    }
    dependsOn = local.adot ? [{ containerName = "adot-collector", condition = "START" }] : []
  }

  adot_container = {
    name                   = "adot-collector"
    image                  = var.adot_collector.image
    essential              = false
    readonlyRootFilesystem = false
    cpu                    = var.adot_collector.cpu
    memory                 = var.adot_collector.memory
    command                = ["--config=${var.adot_collector.config_path}"]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "adot"
      }
    }
  }

  # A for-expression, because a conditional cannot choose between tuples of different lengths.
  container_definitions = [for c in [local.app_container, local.adot_container] : c if c.name == local.container_name || local.adot]
}

resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_158:The app never logs secrets, tokens or keys; the service-managed encryption of CloudWatch Logs applies.
  #checkov:skip=CKV_AWS_338:Retention is an operator choice (log_retention_days, default 90 days), not a fixed year.
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

# --- IAM -------------------------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name = "${var.name}-execution"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

# Image pull and awslogs only; the execution role reads no secret (the app resolves its ARNs itself).
resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role" "task" {
  name = "${var.name}-task"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "app" {
  name   = "apuntador-app"
  role   = aws_iam_role.task.id
  policy = var.app_policy_json
}

# What the sidecar's pipeline needs. The default configuration (/etc/ecs/ecs-default-config.yaml) has two
# pipelines: traces -> the awsxray exporter (X-Ray write and sampling), and metrics -> the awsemf exporter,
# which writes Embedded Metric Format records to the log group /aws/ecs/application/metrics (creating the group
# and its streams when missing). The app exports traces only, but the collector's metrics pipeline still
# starts and logs AccessDenied without the CloudWatch Logs statement.
# https://aws-otel.github.io/docs/setup/permissions
locals {
  adot_emf_log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${var.adot_collector.emf_log_group_name}"
}

resource "aws_iam_role_policy" "adot" {
  #checkov:skip=CKV_AWS_290:X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions; "*" is the only valid resource. The CloudWatch Logs statement is scoped to one log group.
  #checkov:skip=CKV_AWS_355:The X-Ray write and sampling actions only accept Resource "*" (no resource-level permissions); the CloudWatch Logs statement is scoped to one log group.
  count = local.adot ? 1 : 0

  name = "adot-collector"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "AdotTracesToXRay"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = "*"
      },
      {
        Sid      = "AdotMetricsToEmfLogGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = [local.adot_emf_log_group_arn, "${local.adot_emf_log_group_arn}:*"]
      },
    ]
  })
}

moved {
  from = aws_iam_role_policy.xray
  to   = aws_iam_role_policy.adot
}

# --- Task definition --------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode(local.container_definitions)

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  tags = var.tags

  lifecycle {
    # A precondition rather than a variable validation: it relates two variables, which validations can
    # only do from Terraform 1.9 on.
    precondition {
      condition     = local.shutdown_budget_seconds <= 120
      error_message = "shutdown_delay_seconds + shutdown_grace_seconds + 5 is ${local.shutdown_budget_seconds} s, above the 120 s ECS allows for a container's stopTimeout: ECS would kill the task (SIGKILL) before it finished shutting down. Lower the delay or the grace."
    }
  }
}

# --- Internal ALB -----------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Internal ALB of apuntador: HTTP from the API Gateway VPC link only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_vpc_link" {
  # count, not for_each: the VPC link's group is usually created in the same apply (unknown ids).
  #checkov:skip=CKV_AWS_260:False positive: the source is the VPC link's security group (referenced_security_group_id), not 0.0.0.0/0.
  count = length(var.alb_ingress_security_group_ids)

  security_group_id            = aws_security_group.alb.id
  description                  = "HTTP from the API Gateway VPC link"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = var.alb_ingress_security_group_ids[count.index]
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the tasks' container port"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = aws_security_group.task.id
}

resource "aws_security_group" "task" {
  name        = "${var.name}-task"
  description = "apuntador tasks: inbound from the internal ALB only, outbound HTTPS"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "Container port from the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = aws_security_group.alb.id
}

# HTTPS out: VPC endpoints, DynamoDB/S3 gateway endpoints and the OAuth providers.
resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to AWS endpoints and OAuth providers"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:No ALB access logs: every request is already in the HTTP API access log and the app's request log (one completion line per request).
  #checkov:skip=CKV2_AWS_28:Internal ALB reachable only from the VPC link. HTTP APIs cannot carry a WAF; a WAF for the public door goes on a CloudFront distribution in front of it (docs/deployment.md).
  #checkov:skip=CKV2_AWS_20:Internal ALB behind the API Gateway VPC link: TLS with mutual TLS terminates at the HTTP API custom domain, so there is no HTTPS listener to redirect to.
  name                       = var.name
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.alb_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = 60
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  tags                       = var.tags
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:ALB-to-task traffic stays inside the VPC on the container port; TLS terminates at the HTTP API custom domain.
  name                 = var.name
  port                 = var.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = local.shutdown_budget_seconds

  # Liveness, not readiness: ECS replaces tasks that fail this check, and readiness fails on every task
  # at once before `ca init`, while a store is unreachable and when the task sheds load. ECS takes a task
  # it stops out of the ALB by deregistration, before SIGTERM.
  health_check {
    enabled             = true
    protocol            = "HTTP"
    path                = "/health"
    port                = tostring(var.port)
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Internal listener reached only through the API Gateway VPC link; TLS (with mutual TLS) terminates at the HTTP API custom domain.
  #checkov:skip=CKV_AWS_103:Internal HTTP listener behind the VPC link has no TLS, so no TLS policy applies; TLS 1.2 is enforced on the HTTP API custom domain.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# --- Service ----------------------------------------------------------------------------------------

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false
  # Without it, the AWS provider REPLACES the service (destroy, then create: an outage) when the capacity
  # provider strategy changes, e.g. a new Spot mix; with it, the change is an in-place UpdateService with a
  # rolling deployment.
  force_new_deployment = true

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.spot.base
    weight            = var.spot.fargate_weight
  }

  dynamic "capacity_provider_strategy" {
    for_each = var.spot.spot_weight > 0 ? [var.spot.spot_weight] : []
    content {
      capacity_provider = "FARGATE_SPOT"
      weight            = capacity_provider_strategy.value
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = var.port
  }

  tags = var.tags

  # Autoscaling owns the task count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.http, aws_ecs_cluster_capacity_providers.this, aws_iam_role_policy.app]
}

# --- Autoscaling ------------------------------------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity
}

locals {
  scaling_policies = {
    cpu = {
      metric = "ECSServiceAverageCPUUtilization"
      target = var.autoscaling.cpu_target
      label  = null
    }
    memory = {
      metric = "ECSServiceAverageMemoryUtilization"
      target = var.autoscaling.memory_target
      label  = null
    }
    requests = {
      metric = "ALBRequestCountPerTarget"
      target = var.autoscaling.requests_per_target
      label  = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "this" {
  for_each = local.scaling_policies

  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = each.value.metric
      resource_label         = each.value.label
    }
  }
}
