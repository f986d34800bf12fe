output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the HTTP API."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "urls" {
  description = "key => https://<domain_name>/ for every custom domain that exists (a mutual TLS domain appears once truststore_version is set)."
  value       = { for key, domain in local.domains : key => "https://${domain.domain_name}/" }
}

output "domain_targets" {
  description = "key => DNS target (regional domain name and its hosted zone id) to alias each domain to."
  value = { for key, domain in aws_apigatewayv2_domain_name.this : key => {
    domain_name        = domain.domain_name
    target_domain_name = domain.domain_name_configuration[0].target_domain_name
    hosted_zone_id     = domain.domain_name_configuration[0].hosted_zone_id
  } }
}

output "mutual_tls" {
  description = "key => the domain's mutual TLS truststore (uri, version), or null for a domain without mutual TLS."
  value = { for key, domain in aws_apigatewayv2_domain_name.this : key => (
    length(domain.mutual_tls_authentication) == 0 ? null : {
      truststore_uri     = domain.mutual_tls_authentication[0].truststore_uri
      truststore_version = domain.mutual_tls_authentication[0].truststore_version
    }
  ) }
}

output "integration_request_parameters" {
  description = "Request parameter mapping of the integration (alb only; {} for lambda)."
  value       = local.is_alb ? aws_apigatewayv2_integration.alb[0].request_parameters : {}
}

output "payload_format_version" {
  description = "Payload format version of the integration."
  value       = local.is_lambda ? aws_apigatewayv2_integration.lambda[0].payload_format_version : aws_apigatewayv2_integration.alb[0].payload_format_version
}

output "disable_execute_api_endpoint" {
  description = "Whether the default execute-api endpoint is disabled (always true)."
  value       = aws_apigatewayv2_api.this.disable_execute_api_endpoint
}

output "route_key" {
  description = "Route key of the single route."
  value       = aws_apigatewayv2_route.default.route_key
}

output "access_log_group_name" {
  description = "CloudWatch log group of the access logs."
  value       = aws_cloudwatch_log_group.access.name
}
