mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  region                 = "eu-west-1"
  availability_zones     = ["eu-west-1a", "eu-west-1b"]
  truststore_bucket_name = "apuntador-truststore-test"
  domain_name            = "api.example.com"
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
    condition     = module.api.integration_request_parameters == tomap({ "overwrite:header.X-Client-Cert" = "$context.identity.clientCert.clientCertPem" })
    error_message = "the HTTP API integration overwrites CLIENT_CERT_HEADER with the verified certificate"
  }

  assert {
    condition     = module.api.integration_request_parameters == tomap({ "overwrite:header.${module.service.app_environment["CLIENT_CERT_HEADER"]}" = "$context.identity.clientCert.clientCertPem" })
    error_message = "the overwritten header must be the one the app reads"
  }

  assert {
    condition     = module.api.mutual_tls.truststore_uri == "s3://apuntador-truststore-test/truststore/ca-bundle.pem"
    error_message = "mutual TLS truststore is the bucket's bundle"
  }

  assert {
    condition     = module.api.disable_execute_api_endpoint && module.api.route_key == "$default"
    error_message = "execute-api disabled, $default route"
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
    condition     = module.service.app_environment["CLIENT_CERT_HEADER"] == "X-Device-Cert" && contains(keys(module.api.integration_request_parameters), "overwrite:header.X-Device-Cert")
    error_message = "the header the edge writes and the header the app reads must match"
  }
}
