output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "Invoke ARN of the alias `live`, for the HTTP API integration."
  value       = aws_lambda_alias.live.invoke_arn
}

output "alias_name" {
  description = "The alias API Gateway invokes (live)."
  value       = aws_lambda_alias.live.name
}

output "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias (0 = none)."
  value       = length(aws_lambda_provisioned_concurrency_config.live) == 0 ? 0 : aws_lambda_provisioned_concurrency_config.live[0].provisioned_concurrent_executions
}

output "log_format" {
  description = "Log format of the function (JSON)."
  value       = aws_lambda_function.this.logging_config[0].log_format
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.function.arn
}

output "environment" {
  description = "The function's environment (plain settings and secret ARNs only)."
  value       = local.environment
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.function.name
}

output "layers" {
  description = "Layers attached to the function (the OpenTelemetry collector layer, when set)."
  value       = aws_lambda_function.this.layers
}
