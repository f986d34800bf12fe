output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (route to the internet gateway)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (internal ALB, VPC link, interface endpoints; tasks when egress_mode = nat)."
  value       = aws_subnet.private[*].id
}

output "egress_mode" {
  description = "The selected egress mode."
  value       = var.egress_mode
}

output "task_subnet_ids" {
  description = "Subnets the ECS tasks run in: private with a NAT route (nat), or public (public_ip)."
  value       = local.use_nat ? aws_subnet.private[*].id : aws_subnet.public[*].id
}

output "task_assign_public_ip" {
  description = "Whether tasks need a public IP to reach the internet (true only for egress_mode = public_ip)."
  value       = !local.use_nat
}

output "nat_gateway_count" {
  description = "Number of NAT gateways created (1 for nat, 0 for public_ip)."
  value       = length(aws_nat_gateway.this)
}

output "interface_endpoint_services" {
  description = "Short service names of the interface endpoints."
  value       = sort(keys(aws_vpc_endpoint.interface))
}

output "gateway_endpoint_services" {
  description = "Short service names of the gateway endpoints."
  value       = sort(keys(aws_vpc_endpoint.gateway))
}
