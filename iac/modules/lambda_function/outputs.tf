output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "Invoke ARN, for the HTTP API integration."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.function.arn
}

output "environment" {
  description = "The function's environment (plain settings and secret ARNs only)."
  value       = local.environment
}

output "function_url" {
  description = "The Function URL, or null when disabled."
  value       = var.function_url.enabled ? aws_lambda_function_url.this[0].function_url : null
}

output "function_url_permission_actions" {
  description = "Actions granted to the public for the Function URL (both are required for a public URL)."
  value       = concat(aws_lambda_permission.function_url[*].action, aws_lambda_permission.function_url_invoke[*].action)
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.function.name
}

output "layers" {
  description = "Layers attached to the function (the OpenTelemetry collector layer, when set)."
  value       = aws_lambda_function.this.layers
}
