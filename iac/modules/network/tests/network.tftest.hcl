mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name               = "apuntador"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
}

run "nat_egress_keeps_tasks_in_private_subnets" {
  variables {
    egress_mode = "nat"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_route.private_nat) == 1
    error_message = "nat mode needs one NAT gateway and a default route for the private subnets"
  }

  assert {
    condition     = output.task_subnet_ids == aws_subnet.private[*].id && !output.task_assign_public_ip
    error_message = "nat mode runs tasks in private subnets without public IPs"
  }
}

run "public_ip_egress_has_no_nat_gateway" {
  variables {
    egress_mode = "public_ip"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_eip.nat) == 0 && length(aws_route.private_nat) == 0
    error_message = "public_ip mode creates no NAT gateway"
  }

  assert {
    condition     = output.task_subnet_ids == aws_subnet.public[*].id && output.task_assign_public_ip
    error_message = "public_ip mode runs tasks in public subnets with a public IP"
  }
}

run "vpc_endpoints_cover_the_aws_services" {
  assert {
    condition     = toset(output.gateway_endpoint_services) == toset(["dynamodb", "s3"])
    error_message = "DynamoDB and S3 gateway endpoints"
  }

  assert {
    condition     = toset(output.interface_endpoint_services) == toset(["ecr.api", "ecr.dkr", "logs", "secretsmanager"])
    error_message = "ECR API/DKR, CloudWatch Logs and Secrets Manager interface endpoints"
  }

  assert {
    condition     = aws_vpc_endpoint.interface["secretsmanager"].service_name == "com.amazonaws.eu-west-1.secretsmanager" && aws_vpc_endpoint.interface["secretsmanager"].private_dns_enabled
    error_message = "interface endpoints use the region's service names and private DNS"
  }
}

run "xray_endpoint_with_telemetry" {
  variables {
    enable_xray_endpoint = true
  }

  assert {
    condition     = contains(output.interface_endpoint_services, "xray")
    error_message = "telemetry adds the X-Ray interface endpoint"
  }
}

run "refuses_an_unknown_egress_mode" {
  command = plan

  variables {
    egress_mode = "vpn"
  }

  expect_failures = [var.egress_mode]
}
