mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  region                 = "eu-west-1"
  availability_zones     = ["eu-west-1a", "eu-west-1b"]
  truststore_bucket_name = "apuntador-truststore-test"
  public_domain_name     = "api.example.com"
  device_domain_name     = "device.api.example.com"
  certificate_arn        = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  image                  = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/apuntador@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  truststore_version     = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  managed_app_secrets    = ["CONFIG_API_KEY", "DROPBOX_CLIENT_ID"]
}

run "nat_egress_stack" {
  variables {
    egress_mode = "nat"
  }

  assert {
    condition     = output.egress_mode == "nat"
    error_message = "nat egress selected"
  }

  assert {
    condition     = module.service.app_environment["ENVIRONMENT"] == "production" && module.service.app_environment["CLIENT_CERT_SOURCES"] == "header"
    error_message = "ENVIRONMENT=production and CLIENT_CERT_SOURCES=header"
  }

  assert {
    condition = alltrue([
      for name, value in module.service.app_environment : startswith(value, "arn:aws:secretsmanager:") if contains(["CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET", "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET", "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY"], name)
    ]) && length([for name in keys(module.service.app_environment) : name if contains(["CONFIG_API_KEY", "SECRET_KEY", "ADMIN_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DROPBOX_CLIENT_ID", "DROPBOX_CLIENT_SECRET", "ONEDRIVE_CLIENT_ID", "ONEDRIVE_CLIENT_SECRET", "PLAY_INTEGRITY_DECRYPTION_KEY", "PLAY_INTEGRITY_VERIFICATION_KEY"], name)]) == 2
    error_message = "secrets reach the task as ARNs only"
  }

  assert {
    condition     = module.device_api.integration_request_parameters == tomap({ "overwrite:header.${module.service.app_environment["CLIENT_CERT_HEADER"]}" = "$context.identity.clientCert.clientCertPem" })
    error_message = "the device API overwrites the header the app reads with the verified certificate"
  }

  assert {
    condition     = module.device_api.mutual_tls["device"].truststore_uri == "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
    error_message = "the device door's mutual TLS truststore is the bucket's bundle"
  }

  assert {
    condition     = module.device_api.disable_execute_api_endpoint && module.device_api.route_key == "$default" && module.public_api.disable_execute_api_endpoint && module.public_api.route_key == "$default"
    error_message = "execute-api disabled, $default route, on both APIs"
  }
}

# The earlier stack had one mutual TLS API only: no door for enrolment, OAuth callbacks or expired devices.
# Now a public API removes any client-sent certificate header, and the device API overwrites it.
run "two_apis_share_one_vpc_link_and_only_the_device_api_delivers_a_certificate" {
  assert {
    condition     = module.public_api.integration_request_parameters == tomap({ "remove:header.${module.service.app_environment["CLIENT_CERT_HEADER"]}" = "''" })
    error_message = "the public API must remove the certificate header a client may send"
  }

  assert {
    condition     = module.public_api.mutual_tls["public"] == null && keys(module.public_api.urls) == ["public"]
    error_message = "the public door has no mutual TLS and is the public API's only domain"
  }

  assert {
    condition     = output.public_url == "https://api.example.com/" && output.device_url == "https://device.api.example.com/"
    error_message = "both doors are served"
  }

  assert {
    condition     = module.public_api.api_id != module.device_api.api_id || module.public_api.access_log_group_name != module.device_api.access_log_group_name
    error_message = "two distinct HTTP APIs"
  }

  assert {
    condition     = aws_apigatewayv2_vpc_link.this.security_group_ids == toset([aws_security_group.vpc_link.id])
    error_message = "one VPC link, behind the security group the ALB admits"
  }
}

run "first_apply_before_ca_init_opens_only_the_public_door" {
  variables {
    truststore_version = null
  }

  assert {
    condition     = output.device_url == null && output.public_url == "https://api.example.com/" && keys(output.dns_alias_targets) == ["public"]
    error_message = "the public door exists from the first apply; the device door waits for the truststore version"
  }
}

run "public_ip_egress_stack" {
  variables {
    egress_mode = "public_ip"
  }

  assert {
    condition     = output.egress_mode == "public_ip"
    error_message = "public_ip egress selected"
  }
}

run "custom_client_cert_header_is_used_on_both_sides" {
  variables {
    client_cert_header = "X-Device-Cert"
  }

  assert {
    condition     = module.service.app_environment["CLIENT_CERT_HEADER"] == "X-Device-Cert" && contains(keys(module.device_api.integration_request_parameters), "overwrite:header.X-Device-Cert") && contains(keys(module.public_api.integration_request_parameters), "remove:header.X-Device-Cert")
    error_message = "the header the edge writes and the header the app reads must match"
  }
}

run "shutdown_delay_and_grace_reach_the_service" {
  variables {
    shutdown_delay_seconds = 15
    shutdown_grace_seconds = 30
  }

  assert {
    condition     = module.service.app_environment["SHUTDOWN_DELAY_SECONDS"] == "15" && module.service.app_environment["SHUTDOWN_GRACE_SECONDS"] == "30"
    error_message = "the stack passes the shutdown delay and grace to the container"
  }

  assert {
    condition     = module.service.container_definitions[0].stopTimeout == 50
    error_message = "the container's stopTimeout is delay + grace + 5 = 50 s"
  }
}
