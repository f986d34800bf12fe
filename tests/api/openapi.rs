//! The OpenAPI document as a contract: built for the running configuration (provider enum), with the
//! validators' rules in its schemas, every status with its problem schema, distinct schema names for
//! the two revocation bodies, links between the flows, self-contained texts, and an enrolment example
//! that really enrols.

use apuntador::AppState;
use serde_json::{Value, json};

use crate::helpers::{config, send};

fn app(overrides: &[(&str, &str)]) -> axum::Router {
    let mut all = vec![("ENABLE_DOCS", "true")];
    all.extend_from_slice(overrides);
    apuntador::router(AppState::in_memory(config(&all)))
}

async fn document(overrides: &[(&str, &str)]) -> Value {
    let answer = send(&app(overrides), "GET", "/openapi.json", &[], None).await;
    assert_eq!(answer.status, 200);
    answer.json()
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op));
        }
    }
    out
}

const PROVIDERS: &[(&str, &str)] = &[
    ("GOOGLE_CLIENT_ID", "google-id"),
    ("GOOGLE_CLIENT_SECRET", "google-secret"),
    ("DROPBOX_CLIENT_ID", "dropbox-id"),
    ("ONEDRIVE_CLIENT_ID", "onedrive-id"),
    ("ONEDRIVE_CLIENT_SECRET", "onedrive-secret"),
];

#[tokio::test]
async fn the_provider_path_parameter_is_the_enum_of_the_enabled_providers() {
    let mut overrides = PROVIDERS.to_vec();
    overrides.push(("ENABLED_CLOUD_PROVIDERS", "dropbox,onedrive"));
    let doc = document(&overrides).await;
    let mut seen = 0;
    for (path, _, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["name"] == "provider" {
                assert_eq!(
                    p["schema"]["enum"],
                    json!(["dropbox", "onedrive"]),
                    "{path}"
                );
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 5, "every OAuth operation has the provider parameter");

    let mut overrides = PROVIDERS.to_vec();
    overrides.push(("ENABLED_CLOUD_PROVIDERS", "googledrive"));
    let doc = document(&overrides).await;
    let param = &doc["paths"]["/oauth/token/{provider}"]["post"]["parameters"][0];
    assert_eq!(param["schema"]["enum"], json!(["googledrive"]));
}

#[tokio::test]
async fn with_no_provider_enabled_the_oauth_operations_are_left_out() {
    let doc = document(&[("ENABLED_CLOUD_PROVIDERS", "")]).await;
    let oauth: Vec<_> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.starts_with("/oauth/"))
        .collect();
    assert!(oauth.is_empty(), "{oauth:?}");
    assert!(doc["paths"]["/device/enroll"].is_object());
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    assert_eq!(
        tags,
        ["health", "config", "device", "attestation", "admin"],
        "no empty oauth section in /docs"
    );
}

#[tokio::test]
async fn the_two_revocations_have_distinct_request_and_response_schemas() {
    let doc = document(PROVIDERS).await;
    let body_ref = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ok_ref = |path: &str| {
        doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        body_ref("/oauth/revoke/{provider}"),
        "#/components/schemas/TokenRevokeRequest"
    );
    assert_eq!(
        ok_ref("/oauth/revoke/{provider}"),
        "#/components/schemas/TokenRevokeResponse"
    );
    assert_eq!(
        body_ref("/device/revoke"),
        "#/components/schemas/DeviceRevokeRequest"
    );
    assert_eq!(
        ok_ref("/device/revoke"),
        "#/components/schemas/DeviceRevokeResponse"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["TokenRevokeRequest"]["required"], json!(["token"]));
    assert_eq!(
        schemas["TokenRevokeResponse"]["required"],
        json!(["success", "message"])
    );
    assert_eq!(
        schemas["DeviceRevokeRequest"]["required"],
        json!(["device_id"])
    );
    assert!(schemas["RevokeRequest"].is_null() && schemas["RevokeResponse"].is_null());
}

#[tokio::test]
async fn the_body_schemas_carry_the_validators_patterns_lengths_enums_and_aliases() {
    let doc = document(PROVIDERS).await;
    let s = &doc["components"]["schemas"];
    let enroll = &s["EnrollRequest"]["properties"];
    assert_eq!(enroll["device_id"]["pattern"], "^[A-Za-z0-9_-]{5,128}$");
    assert_eq!(enroll["csr"]["minLength"], 100);
    assert_eq!(enroll["csr"]["maxLength"], 16384);
    assert!(
        enroll["csr"]["pattern"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE REQUEST")
    );
    assert!(
        enroll["platform"]["pattern"]
            .as_str()
            .unwrap()
            .contains("[aA][nN][dD]")
    );
    assert_eq!(enroll["attestation"]["type"], json!(["string", "null"]));
    assert_eq!(
        s["RenewRequest"]["properties"]["old_serial"]["pattern"],
        "^[0-9A-Fa-f]{1,40}$"
    );
    assert_eq!(
        s["DesktopAttestationRequest"]["properties"]["fingerprint"]["pattern"],
        "^[a-f0-9]{64}$"
    );
    assert_eq!(
        s["AuthorizeRequest"]["properties"]["code_verifier"]["pattern"],
        "^[A-Za-z0-9._~-]{43,128}$"
    );
    assert_eq!(
        s["AuthorizeRequest"]["properties"]["redirect_uri"]["maxLength"],
        2048
    );
    let android = &s["AndroidAttestationRequest"];
    assert_eq!(android["required"], json!(["device_id", "nonce"]));
    let alias = &android["allOf"][0]["anyOf"];
    assert_eq!(alias[0]["required"], json!(["integrity_token"]));
    assert_eq!(alias[1]["required"], json!(["jws_token"]));
    assert_eq!(alias[1]["properties"]["jws_token"]["minLength"], 100);
    let ios = &s["IosAttestationRequest"]["allOf"][0]["anyOf"][1];
    assert_eq!(ios["required"], json!(["device_token"]));
    let status = &doc["paths"]["/device/status/{device_id}"]["get"]["parameters"][0];
    assert_eq!(status["schema"]["pattern"], "^[A-Za-z0-9_-]{5,128}$");
}

#[tokio::test]
async fn every_operation_lists_every_status_with_the_problem_schema_and_the_trace_header() {
    let doc = document(PROVIDERS).await;
    for (path, method, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let mut expected = vec!["413", "500", "503", "504"];
        if op.get("requestBody").is_some() {
            expected.extend(["400", "415", "422"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path}: {status} missing"
            );
        }
        for (status, response) in responses {
            assert_eq!(
                response["headers"]["X-Trace-ID"]["required"], true,
                "{method} {path} {status}: X-Trace-ID"
            );
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/ProblemDetail",
                    "{method} {path} {status}: problem schema"
                );
            }
        }
    }
    let enroll = &doc["paths"]["/device/enroll"]["post"]["responses"];
    assert!(
        enroll["409"]["description"]
            .as_str()
            .unwrap()
            .contains("device_already_enrolled")
    );
    let config = &doc["paths"]["/config/providers"]["get"]["responses"]["401"];
    assert_eq!(config["headers"]["WWW-Authenticate"]["required"], true);
}

#[tokio::test]
async fn links_connect_the_oauth_flow_and_the_certificate_lifecycle() {
    let doc = document(PROVIDERS).await;
    let links = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["links"].clone()
    };
    let ids: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    let authorize = links("/oauth/authorize/{provider}", "post", "200");
    assert_eq!(
        authorize["ProviderCallback"]["parameters"]["query.state"],
        "$response.body#/state"
    );
    assert_eq!(
        authorize["ExchangeCode"]["requestBody"]["code_verifier"],
        "$request.body#/code_verifier"
    );
    let token = links("/oauth/token/{provider}", "post", "200");
    assert_eq!(
        token["RefreshTokens"]["requestBody"]["refresh_token"],
        "$response.body#/refresh_token"
    );
    assert_eq!(
        token["RevokeAccessToken"]["requestBody"]["token"],
        "$response.body#/access_token"
    );
    let enroll = links("/device/enroll", "post", "201");
    assert_eq!(
        enroll["RenewCertificate"]["requestBody"]["old_serial"],
        "$response.body#/serial"
    );
    for (_, target) in [authorize, token, enroll]
        .iter()
        .flat_map(|l| {
            l.as_object()
                .unwrap()
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
        })
        .collect::<Vec<_>>()
    {
        let id = target["operationId"].as_str().unwrap();
        assert!(
            ids.iter().any(|i| i == id),
            "link to unknown operation {id}"
        );
    }
}

#[tokio::test]
async fn the_document_never_refers_to_documents_outside_the_repository() {
    let doc = document(PROVIDERS).await.to_string();
    for banned in ["SPEC", "§"] {
        assert!(!doc.contains(banned), "the document mentions {banned}");
    }
}

#[tokio::test]
async fn the_documented_enrolment_example_enrols_and_matches_the_response_schema() {
    let app = app(PROVIDERS);
    let doc = send(&app, "GET", "/openapi.json", &[], None).await.json();
    let example = doc["components"]["schemas"]["EnrollRequest"]["examples"][0].to_string();
    let answer = send(
        &app,
        "POST",
        "/device/enroll",
        &[("content-type", "application/json")],
        Some(&example),
    )
    .await;
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    for field in doc["components"]["schemas"]["CertificateResponse"]["required"]
        .as_array()
        .unwrap()
    {
        assert!(body[field.as_str().unwrap()].is_string(), "{field}");
    }
}
