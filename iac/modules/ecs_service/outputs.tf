output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "ARN of the task definition revision."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the task role (the application's AWS identity)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs)."
  value       = aws_iam_role.execution.arn
}

output "container_definitions" {
  description = "The task's container definitions as an object (tests inspect them)."
  value       = local.container_definitions
}

output "app_environment" {
  description = "The app container's environment: plain settings and secret ARNs only."
  value       = local.app_environment
}

output "alb_arn" {
  description = "ARN of the internal ALB."
  value       = aws_lb.this.arn
}

output "alb_listener_arn" {
  description = "ARN of the ALB listener the HTTP API's VPC link integration targets."
  value       = aws_lb_listener.http.arn
}

output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = aws_security_group.alb.id
}

output "task_security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.task.id
}

output "log_group_name" {
  description = "Log group of the containers."
  value       = aws_cloudwatch_log_group.service.name
}
