mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                           = "apuntador"
  image                          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/apuntador@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  vpc_id                         = "vpc-0123456789abcdef0"
  alb_subnet_ids                 = ["subnet-aaaa", "subnet-bbbb"]
  task_subnet_ids                = ["subnet-aaaa", "subnet-bbbb"]
  alb_ingress_security_group_ids = ["sg-0123"]
  app_policy_json                = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  environment = {
    INFRASTRUCTURE_PROVIDER = "aws"
  }
  secret_arns = {
    CONFIG_API_KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/env/CONFIG_API_KEY-AbCdEf"
  }
}

run "internal_alb_health_checks_get_health_on_8000" {
  assert {
    condition     = aws_lb.this.internal && aws_lb.this.load_balancer_type == "application" && aws_lb.this.idle_timeout == 60
    error_message = "an internal application load balancer with a 60 s idle timeout"
  }

  assert {
    condition = (
      aws_lb_target_group.this.health_check[0].path == "/health" &&
      aws_lb_target_group.this.health_check[0].port == "8000" &&
      aws_lb_target_group.this.health_check[0].matcher == "200" &&
      aws_lb_target_group.this.health_check[0].protocol == "HTTP"
    )
    error_message = "target health check must be GET /health on port 8000 expecting 200"
  }

  assert {
    condition     = aws_lb_target_group.this.port == 8000 && aws_lb_target_group.this.target_type == "ip"
    error_message = "targets are task IPs on port 8000"
  }
}

run "service_rolls_back_failed_deployments" {
  assert {
    condition     = aws_ecs_service.this.deployment_circuit_breaker[0].enable && aws_ecs_service.this.deployment_circuit_breaker[0].rollback
    error_message = "the deployment circuit breaker must be on, with rollback"
  }

  assert {
    condition     = [for s in aws_ecs_service.this.capacity_provider_strategy : s.capacity_provider] == ["FARGATE"]
    error_message = "no Spot by default"
  }

  assert {
    condition     = !aws_ecs_service.this.network_configuration[0].assign_public_ip
    error_message = "no public IP by default"
  }
}

run "autoscaling_tracks_cpu_memory_and_requests" {
  assert {
    condition = { for k, p in aws_appautoscaling_policy.this : k => p.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type } == {
      cpu      = "ECSServiceAverageCPUUtilization"
      memory   = "ECSServiceAverageMemoryUtilization"
      requests = "ALBRequestCountPerTarget"
    }
    error_message = "target tracking on CPU, memory and ALB request count per target"
  }

  assert {
    condition     = aws_appautoscaling_policy.this["requests"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/apuntador/0123456789abcdef/targetgroup/apuntador/0123456789abcdef"
    error_message = "the request-count policy must name the ALB and target group"
  }

  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 2 && aws_appautoscaling_target.this.max_capacity == 10 && aws_appautoscaling_target.this.scalable_dimension == "ecs:service:DesiredCount"
    error_message = "the scalable target is the service's desired count"
  }
}

run "container_is_production_header_sourced_and_secret_free" {
  assert {
    condition     = output.app_environment["ENVIRONMENT"] == "production" && output.app_environment["CLIENT_CERT_SOURCES"] == "header" && output.app_environment["CLIENT_CERT_HEADER"] == "X-Client-Cert"
    error_message = "ENVIRONMENT=production and CLIENT_CERT_SOURCES=header with the configured header"
  }

  assert {
    condition = alltrue([
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment :
      startswith(e.value, "arn:aws:secretsmanager:") if contains(["CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET", "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET", "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY"], e.name)
    ])
    error_message = "every secret-capable variable in the task definition must be a Secrets Manager ARN"
  }

  assert {
    condition     = !can(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets)
    error_message = "no ECS `secrets` injection: the app resolves ARNs itself"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == ["CMD", "/apuntador-server", "--healthcheck"]
    error_message = "the container health check runs the binary's own --healthcheck"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "65532:65532"
    error_message = "non-root, read-only root filesystem"
  }

  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.this.container_definitions)) == 1
    error_message = "no sidecar by default"
  }
}

run "spot_mix_and_adot_sidecar_when_enabled" {
  variables {
    spot           = { base = 1, fargate_weight = 1, spot_weight = 3 }
    adot_collector = { enabled = true }
  }

  assert {
    condition     = { for s in aws_ecs_service.this.capacity_provider_strategy : s.capacity_provider => s.weight } == { FARGATE = 1, FARGATE_SPOT = 3 }
    error_message = "Spot mix must be FARGATE weight 1 (base 1) and FARGATE_SPOT weight 3"
  }

  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.this.container_definitions) : c.name] == ["apuntador", "adot-collector"]
    error_message = "the ADOT collector runs as a sidecar"
  }

  assert {
    condition     = output.app_environment["OTEL_ENABLED"] == "true" && output.app_environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4317"
    error_message = "the app exports OTLP to the sidecar"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.adot[0].policy).Statement[0].Action == ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    error_message = "the task role may write traces to X-Ray (the default pipeline's awsxray exporter)"
  }

  # The default ADOT configuration also runs an awsemf metrics exporter writing to
  # /aws/ecs/application/metrics; the earlier policy had X-Ray only, so the collector logged AccessDenied.
  assert {
    condition = (
      toset(jsondecode(aws_iam_role_policy.adot[0].policy).Statement[1].Action) == toset(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]) &&
      jsondecode(aws_iam_role_policy.adot[0].policy).Statement[1].Resource == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/ecs/application/metrics",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/ecs/application/metrics:*",
      ]
    )
    error_message = "the task role may write the EMF metrics of the default pipeline, to that one log group only"
  }
}

# Changing the Spot mix used to plan a destroy-and-create of the service: the AWS provider treats a
# capacity_provider_strategy change as replacing unless force_new_deployment is set. (Mock providers do not
# run the provider's plan logic, so the test pins the attribute that decides it.)
run "capacity_changes_update_the_service_in_place" {
  variables {
    spot = { base = 2, fargate_weight = 1, spot_weight = 1 }
  }

  assert {
    condition     = aws_ecs_service.this.force_new_deployment
    error_message = "force_new_deployment must be true so a capacity provider change is an in-place rolling update"
  }
}

run "desired_count_is_ignored_after_creation" {
  # Runs share state: the service was created by the first run with desired_count = 2.
  variables {
    desired_count = 7
  }

  assert {
    condition     = aws_ecs_service.this.desired_count == 2
    error_message = "desired_count must only apply at creation (autoscaling owns it afterwards)"
  }
}

run "refuses_a_secret_value_in_the_plain_environment" {
  command = plan

  variables {
    environment = { CONFIG_API_KEY = "plain-value-that-must-not-be-here-0123456789" }
  }

  expect_failures = [var.environment]
}

# After SIGTERM the app keeps serving for the delay, then gives in-flight requests the grace. ECS must not
# SIGKILL it before that (stopTimeout), and the ALB must not cut a draining target's connections before it
# (deregistration delay); its health check stays on liveness, which a stopping task keeps passing.
run "shutdown_delay_reaches_the_app_and_sizes_stop_timeout_and_draining" {
  assert {
    condition     = output.app_environment["SHUTDOWN_DELAY_SECONDS"] == "10" && output.app_environment["SHUTDOWN_GRACE_SECONDS"] == "25"
    error_message = "the container gets SHUTDOWN_DELAY_SECONDS=10 and SHUTDOWN_GRACE_SECONDS=25 by default"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout == 40
    error_message = "stopTimeout must be delay + grace + 5 = 40 s (the ECS default of 30 s would SIGKILL during draining)"
  }

  assert {
    condition     = aws_lb_target_group.this.deregistration_delay == "40"
    error_message = "the ALB drains a deregistered task for delay + grace + 5 = 40 s"
  }

  assert {
    condition     = aws_lb_target_group.this.health_check[0].path == "/health"
    error_message = "the ALB health check stays on liveness"
  }
}

run "custom_shutdown_delay_and_grace" {
  variables {
    shutdown_delay_seconds = 30
    shutdown_grace_seconds = 60
  }

  assert {
    condition     = output.app_environment["SHUTDOWN_DELAY_SECONDS"] == "30" && output.app_environment["SHUTDOWN_GRACE_SECONDS"] == "60"
    error_message = "the container gets the configured delay and grace"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout == 95 && aws_lb_target_group.this.deregistration_delay == "95"
    error_message = "stopTimeout and the deregistration delay must be 30 + 60 + 5 = 95 s"
  }
}

run "shutdown_budget_may_reach_120_seconds" {
  command = plan

  variables {
    shutdown_delay_seconds = 60
    shutdown_grace_seconds = 55
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout == 120
    error_message = "60 + 55 + 5 = 120 s is ECS's maximum stopTimeout and is allowed"
  }
}

run "refuses_a_shutdown_budget_above_what_ecs_allows" {
  command = plan

  variables {
    shutdown_delay_seconds = 60
    shutdown_grace_seconds = 56
  }

  expect_failures = [aws_ecs_task_definition.this]
}

run "refuses_a_shutdown_delay_above_60_seconds" {
  command = plan

  variables {
    shutdown_delay_seconds = 61
  }

  expect_failures = [var.shutdown_delay_seconds]
}

run "refuses_shutdown_settings_in_the_plain_environment" {
  command = plan

  variables {
    environment = { SHUTDOWN_DELAY_SECONDS = "90" }
  }

  expect_failures = [var.environment]
}
