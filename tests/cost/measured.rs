//! The measured inputs of the cost model, measured here on the real code and compared with the model's
//! defaults: the DynamoDB item sizes the AWS store writes (read back raw from the moto emulator and
//! sized by DynamoDB's item-size rule) and the bytes the app logs per request (the JSON lines the real
//! router and log formatter write at LOG_LEVEL=info). The app runs in AWS mode against moto, with the
//! OAuth provider on wiremock; each kind of traffic runs the flow the model prices (see
//! `apuntador::cost::Mix`). Needs `scripts/with-moto` (fails, never skips, without it).

use std::collections::HashMap;

use apuntador::AppState;
use apuntador::authority::{CaInitArgs, init_ca};
use apuntador::config::{Config, LogFormat};
use apuntador::cost::{Assumptions, read_units, write_units};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[allow(dead_code)]
#[path = "../support/in_process.rs"]
mod in_process;
#[path = "../support/log_capture.rs"]
mod log_capture;
#[path = "../support/openssl_csr.rs"]
mod openssl_csr;

use in_process::{Answer, send};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// DynamoDB's size of an item: each attribute's name in UTF-8 plus its value — strings in UTF-8,
/// numbers one byte per two significant digits plus one, booleans and nulls one byte.
fn item_size(item: &HashMap<String, AttributeValue>) -> f64 {
    item.iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::S(s) => s.len(),
                AttributeValue::N(n) => {
                    let digits = n.chars().filter(char::is_ascii_digit).collect::<String>();
                    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
                    significant.div_ceil(2) + 1
                }
                AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
                other => panic!("the store writes no {other:?}"),
            };
            (name.len() + value) as f64
        })
        .sum()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn json_post(app: &Router, uri: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(app, "POST", uri, &all, Some(body)).await
}

fn cert_header(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn item_sizes_and_log_bytes_measured_on_the_real_code_match_the_model_defaults() {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: this measurement needs the moto emulator. Run it through \
             `scripts/with-moto cargo test --test cost`."
        ),
    };
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/dropbox/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "sl.access-token-0123456789",
            "token_type": "bearer",
            "expires_in": 14400,
            "refresh_token": "refresh-token-0123456789"
        })))
        .mount(&provider)
        .await;
    let sessions_table = unique("cost-sessions");
    let certificates_table = unique("cost-certs");
    let token_url = format!("{}/dropbox/token", provider.uri());
    let env: HashMap<String, String> = [
        ("INFRASTRUCTURE_PROVIDER", "aws"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DYNAMODB_TABLE", certificates_table.as_str()),
        ("AWS_DYNAMODB_SESSIONS_TABLE", sessions_table.as_str()),
        ("AWS_S3_BUCKET", &unique("cost-bucket")),
        (
            "AWS_SECRETS_PREFIX",
            &format!("apuntador/{}", unique("cost")),
        ),
        ("AUTO_CREATE_RESOURCES", "true"),
        (
            "CONFIG_API_KEY",
            "test-config-key-0123456789abcdef0123456789",
        ),
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "json"),
        ("ENABLED_CLOUD_PROVIDERS", "dropbox"),
        ("DROPBOX_CLIENT_ID", "dropbox-id"),
        ("DROPBOX_CLIENT_SECRET", "dropbox-secret"),
        ("DROPBOX_TOKEN_URL", token_url.as_str()),
        ("ALLOWED_REDIRECT_URIS", "apuntador://oauth-callback"),
        ("CLIENT_CERT_SOURCES", "header"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid configuration");
    let state = AppState::build(config.clone())
        .await
        .expect("the AWS state");
    init_ca(
        state.secrets.as_ref(),
        state.blobs.as_ref(),
        &CaInitArgs::default(),
        chrono::Utc::now(),
    )
    .await
    .expect("ca init");
    let app = apuntador::router(state);
    let sdk = apuntador::store::aws::sdk_config(&config.storage.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);

    log_capture::reliable_log_capture();
    let capture = log_capture::Capture::default();
    let subscriber = apuntador::telemetry::subscriber("info", LogFormat::Json, capture.clone())
        .expect("the service's subscriber");
    let _guard = tracing::subscriber::set_default(subscriber);
    let logged = || capture.text().len() as f64;

    // oauth: authorize (writes the session), callback (reads it), token (deletes it).
    let before = logged();
    let body =
        format!(r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"apuntador://oauth-callback"}}"#);
    let answer = json_post(&app, "/oauth/authorize/dropbox", &[], &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let state_token = answer.json()["state"].as_str().expect("state").to_owned();
    let session = dynamodb
        .get_item()
        .table_name(&sessions_table)
        .key("pk", AttributeValue::S(format!("oauth#{state_token}")))
        .send()
        .await
        .expect("get_item")
        .item
        .expect("the session item");
    let session_bytes = item_size(&session);
    let callback = send(
        &app,
        "GET",
        &format!("/oauth/callback/dropbox?code=auth-code-1&state={state_token}"),
        &[],
        None,
    )
    .await;
    assert!(
        (300..400).contains(&callback.status),
        "callback: {}",
        callback.status
    );
    let token = json_post(
        &app,
        "/oauth/token/dropbox",
        &[],
        &json!({"code": "auth-code-1", "code_verifier": VERIFIER, "state": state_token})
            .to_string(),
    )
    .await;
    assert_eq!(
        token.status,
        200,
        "{}",
        String::from_utf8_lossy(&token.body)
    );
    let oauth_log = (logged() - before) / 3.0;

    // device: enrol, status, renew.
    let before = logged();
    let device_id = "cost-measured-device-0001";
    let enrolled = json_post(
        &app,
        "/device/enroll",
        &[],
        &json!({"csr": openssl_csr::p256_csr(), "device_id": device_id, "platform": "android"})
            .to_string(),
    )
    .await;
    assert_eq!(
        enrolled.status,
        201,
        "{}",
        String::from_utf8_lossy(&enrolled.body)
    );
    let body = enrolled.json();
    let pem = body["certificate"]
        .as_str()
        .expect("certificate")
        .to_owned();
    let serial = body["serial"].as_str().expect("serial").to_owned();
    let items = dynamodb
        .scan()
        .table_name(&certificates_table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    let record = items
        .iter()
        .find(|item| item.get("device_id") == Some(&AttributeValue::S(device_id.to_owned())))
        .expect("the certificate item");
    let certificate_bytes = item_size(record);
    let header = cert_header(&pem);
    let status = send(
        &app,
        "GET",
        &format!("/device/status/{device_id}"),
        &[("x-client-cert", header.as_str())],
        None,
    )
    .await;
    assert_eq!(
        status.status,
        200,
        "{}",
        String::from_utf8_lossy(&status.body)
    );
    let renewed = json_post(
        &app,
        "/device/renew",
        &[("x-client-cert", header.as_str())],
        &json!({"csr": openssl_csr::p256_csr(), "device_id": device_id, "old_serial": serial})
            .to_string(),
    )
    .await;
    assert!(
        (200..300).contains(&renewed.status),
        "{}",
        String::from_utf8_lossy(&renewed.body)
    );
    // The first use of the CA logs "certificate authority loaded" once per process (one execution
    // environment, one task), not once per request: it is left out of the per-request figure.
    let once_per_process: f64 = capture.text()[before as usize..]
        .lines()
        .filter(|line| line.contains(r#""message":"certificate authority loaded""#))
        .map(|line| (line.len() + 1) as f64)
        .sum();
    let device_log = (logged() - before - once_per_process) / 3.0;

    // other: a health check logs nothing at info.
    let before = logged();
    assert_eq!(send(&app, "GET", "/health", &[], None).await.status, 200);
    let other_log = logged() - before;

    for line in capture.text().lines() {
        println!("logged ({} bytes): {line}", line.len() + 1);
    }
    println!(
        "measured: session item {session_bytes} bytes, certificate item {certificate_bytes} bytes, \
         log bytes per request: oauth {oauth_log:.1}, device {device_log:.1}, other {other_log}"
    );
    let model = Assumptions::default();
    let near = |measured: f64, default: f64, what: &str| {
        assert!(
            (measured - default).abs() <= 0.05 * measured.max(1.0),
            "{what}: measured {measured}, model default {default}: update the default in src/cost.rs"
        );
    };
    near(
        session_bytes,
        model.session_item_bytes,
        "session_item_bytes",
    );
    near(
        certificate_bytes,
        model.certificate_item_bytes,
        "certificate_item_bytes",
    );
    near(
        oauth_log,
        model.oauth_log_bytes_per_request,
        "oauth_log_bytes_per_request",
    );
    near(
        device_log,
        model.device_log_bytes_per_request,
        "device_log_bytes_per_request",
    );
    assert_eq!(other_log, model.other_log_bytes_per_request);
    // What the bill depends on exactly: the request units, rounded up per started block.
    for (measured, default, what) in [
        (session_bytes, model.session_item_bytes, "session"),
        (
            certificate_bytes,
            model.certificate_item_bytes,
            "certificate",
        ),
    ] {
        assert_eq!(
            write_units(measured),
            write_units(default),
            "{what} write units"
        );
        assert_eq!(
            read_units(measured),
            read_units(default),
            "{what} read units"
        );
        assert_eq!(
            read_units(2.0 * measured),
            read_units(2.0 * default),
            "{what} two-item query read units"
        );
    }
}
