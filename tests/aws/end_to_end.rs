//! End to end with the real binaries against the emulator: `apuntador-server ca init --aws`,
//! then `apuntador-server` and `apuntador-lambda` (under the in-repo Runtime API emulator) with
//! `INFRASTRUCTURE_PROVIDER=aws` and `AUTO_CREATE_RESOURCES=true`. Each drives a device through enrol →
//! status → renew → revoke (the certificate in `X-Client-Cert` for the server, in the HTTP API v2
//! request context for Lambda) and an OAuth authorize → callback → token exchange against a wiremock
//! provider, then reads the DynamoDB items back with the AWS SDK and checks attribute names and
//! types.

use std::collections::HashMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Item, Names, attribute_types, endpoint, expected_types, sdk, unique};

use crate::runtime_api::{LambdaProcess, RuntimeApi};

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "apuntador://oauth-callback";

/// Attributes of an active certificate row.
const ACTIVE_ROW: [(&str, &str); 9] = [
    ("device_id", "S"),
    ("serial_number", "S"),
    ("platform", "S"),
    ("issued_at", "S"),
    ("expires_at", "S"),
    ("certificate_pem", "S"),
    ("fingerprint_sha256", "S"),
    ("revoked", "BOOL"),
    ("ttl", "N"),
];

/// Attributes a revoked certificate row adds.
const REVOKED_EXTRA: [(&str, &str); 2] = [("revoked_at", "S"), ("revocation_reason", "S")];

/// Attributes of an OAuth session item.
const SESSION_ITEM: [(&str, &str); 10] = [
    ("pk", "S"),
    ("state", "S"),
    ("provider", "S"),
    ("code_verifier", "S"),
    ("redirect_uri", "S"),
    ("provider_redirect_uri", "S"),
    ("client_state", "S"),
    ("created_at", "S"),
    ("expires_at", "S"),
    ("ttl", "N"),
];

/// One test's world: resource names, a wiremock provider and the environment both binaries share.
struct World {
    names: Names,
    provider: MockServer,
    env: HashMap<String, String>,
    dir: TempDir,
}

impl World {
    async fn new() -> World {
        let names = Names::new();
        let provider = MockServer::start().await;
        let base = provider.uri();
        let token_url = format!("{base}/google/token");
        let revoke_url = format!("{base}/google/revoke");
        let env = names.env(
            &endpoint(),
            &[
                ("AUTO_CREATE_RESOURCES", "true"),
                ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                ("GOOGLE_CLIENT_ID", "google-id"),
                ("GOOGLE_CLIENT_SECRET", "google-secret"),
                ("GOOGLE_TOKEN_URL", &token_url),
                ("GOOGLE_REVOKE_URL", &revoke_url),
                ("ALLOWED_REDIRECT_URIS", REDIRECT),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ],
        );
        World {
            names,
            provider,
            env,
            dir: TempDir::new().expect("temp dir"),
        }
    }

    /// A command for the server binary with exactly this world's environment (plus PATH).
    fn server(&self) -> Command {
        let mut command = Command::new(SERVER);
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env);
        command
    }

    /// `apuntador-server ca init --aws`, which must succeed.
    async fn ca_init(&self) {
        let mut command = self.server();
        command.args(["ca", "init", "--aws"]);
        let output: Output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("task")
            .expect("ca init runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "ca init: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The environment as the pairs `LambdaProcess::spawn` takes.
    fn lambda_env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// A running server, killed when dropped.
struct Running {
    child: Child,
    stderr: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts `apuntador-server` on `port` and waits until `/health` answers.
async fn start_server(world: &World, port: u16) -> Running {
    let stderr = world.dir.path().join(format!("server-{port}.stderr"));
    let mut command = world.server();
    command
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"));
    let mut running = Running {
        child: command.spawn().expect("the server starts"),
        stderr,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.child.try_wait().expect("wait") {
            panic!(
                "the server exited during start-up: {status}: {}",
                std::fs::read_to_string(&running.stderr).unwrap_or_default()
            );
        }
        let health = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return running;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where requests go.
enum Target<'a> {
    /// The server on a loopback port; a certificate travels in `X-Client-Cert`.
    Server(u16),
    /// The Lambda binary behind the Runtime API emulator; a certificate travels in
    /// `requestContext.authentication.clientCert.clientCertPem` of an HTTP API v2 event.
    Lambda(&'a RuntimeApi),
}

/// One answer, from either target.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    fn text(&self, field: &str) -> String {
        self.json()[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {}", self.body))
            .to_owned()
    }
}

/// Sends one request; `uri` may carry a query.
async fn call(
    target: &Target<'_>,
    method: &str,
    uri: &str,
    cert: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    match target {
        Target::Server(port) => {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(15))
                .build()
                .expect("client");
            let mut request = client.request(
                method.parse().expect("method"),
                format!("http://127.0.0.1:{port}{uri}"),
            );
            if let Some(pem) = cert {
                let escaped =
                    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                request = request.header("x-client-cert", escaped);
            }
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            Reply {
                status,
                headers,
                body: response.text().await.expect("body"),
            }
        }
        Target::Lambda(api) => {
            let response = api
                .invoke(v2_event(method, uri, cert, body), Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("{method} {uri}: {e}"));
            lambda_reply(&response)
        }
    }
}

/// An HTTP API (payload 2.0) event, with the client certificate in the request context.
fn v2_event(method: &str, uri: &str, cert: Option<&str>, body: Option<&Value>) -> Value {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut headers = json!({"host": "api.example.execute-api.us-east-1.amazonaws.com"});
    let body = body.map(|b| {
        headers["content-type"] = json!("application/json");
        b.to_string()
    });
    let mut context = json!({
        "accountId": "123456789012", "apiId": "api",
        "domainName": "api.example.execute-api.us-east-1.amazonaws.com", "domainPrefix": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "end-to-end"},
        "requestId": unique("request"), "routeKey": "$default", "stage": "$default",
        "time": "28/Nov/2026:06:37:46 +0000", "timeEpoch": 1795848000000i64
    });
    if let Some(pem) = cert {
        context["authentication"] = json!({"clientCert": {
            "clientCertPem": pem,
            "issuerDN": "CN=Apuntador CA",
            "serialNumber": "00",
            "subjectDN": "CN=device",
            "validity": {"notAfter": "Dec 28 06:37:46 2026 GMT", "notBefore": "Nov 28 06:32:46 2026 GMT"}
        }});
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": false
    })
}

/// Reads the proxy response the function posted.
fn lambda_reply(value: &Value) -> Reply {
    let status = value["statusCode"].as_u64().expect("statusCode") as u16;
    let mut headers = HashMap::new();
    if let Some(map) = value.get("headers").and_then(Value::as_object) {
        for (k, v) in map {
            headers.insert(
                k.to_ascii_lowercase(),
                v.as_str().unwrap_or_default().to_owned(),
            );
        }
    }
    if let Some(map) = value.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, vs) in map {
            if let Some(first) = vs.get(0).and_then(Value::as_str) {
                headers
                    .entry(k.to_ascii_lowercase())
                    .or_insert_with(|| first.to_owned());
            }
        }
    }
    let raw = value["body"].as_str().unwrap_or_default();
    let body = if value["isBase64Encoded"].as_bool() == Some(true) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .expect("base64 body");
        String::from_utf8(bytes).expect("utf-8 body")
    } else {
        raw.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{name} is not a string in {item:?}"))
}

/// A consistent read of one item, `None` when absent.
async fn item(table: &str, key: &[(&str, &str)]) -> Option<Item> {
    let mut request = sdk()
        .await
        .dynamodb
        .get_item()
        .table_name(table)
        .consistent_read(true);
    for (name, value) in key {
        request = request.key(*name, AttributeValue::S((*value).to_owned()));
    }
    request.send().await.expect("get_item").item
}

async fn certificate_row(names: &Names, device: &str, serial: &str) -> Item {
    item(
        &names.certificates_table,
        &[("device_id", device), ("serial_number", serial)],
    )
    .await
    .unwrap_or_else(|| panic!("no row for {device}/{serial}"))
}

/// Checks a certificate row's attribute names, types and key values.
fn assert_row(row: &Item, device: &str, serial: &str, revoked: bool) {
    let mut names = expected_types(&ACTIVE_ROW);
    if revoked {
        names.extend(expected_types(&REVOKED_EXTRA));
    }
    assert_eq!(attribute_types(row), names, "{row:?}");
    assert_eq!(s(row, "device_id"), device);
    assert_eq!(s(row, "serial_number"), serial);
    assert_eq!(s(row, "platform"), "android");
    assert!(s(row, "certificate_pem").starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(s(row, "fingerprint_sha256").len(), 64);
    assert_eq!(row["revoked"], AttributeValue::Bool(revoked));
    let ttl: i64 = row["ttl"].as_n().expect("n").parse().expect("integer ttl");
    assert!(ttl > chrono::Utc::now().timestamp(), "ttl in the future");
}

/// Enrol → status → renew → old rejected / new accepted → revoke → rejected, checking the rows.
async fn device_lifecycle(target: &Target<'_>, names: &Names) {
    let device = unique("device");
    let status_path = format!("/device/status/{device}");

    let enrolled = call(
        target,
        "POST",
        "/device/enroll",
        None,
        Some(&json!({"csr": crate::openssl_csr::p256_csr(), "device_id": device, "platform": "android"})),
    )
    .await;
    assert_eq!(enrolled.status, 201, "enrol: {}", enrolled.body);
    let first_pem = enrolled.text("certificate");
    let first_serial = enrolled.text("serial");

    let anonymous = call(target, "GET", &status_path, None, None).await;
    assert_eq!(
        (anonymous.status, anonymous.error().as_str()),
        (401, "certificate_required"),
        "without a certificate: {}",
        anonymous.body
    );
    let status = call(target, "GET", &status_path, Some(&first_pem), None).await;
    assert_eq!(status.status, 200, "status: {}", status.body);
    assert_eq!(status.json()["serial"], first_serial.as_str());
    assert_eq!(status.json()["platform"], "android");
    assert_eq!(status.json()["revoked"], false);
    assert_row(
        &certificate_row(names, &device, &first_serial).await,
        &device,
        &first_serial,
        false,
    );

    let renewed = call(
        target,
        "POST",
        "/device/renew",
        Some(&first_pem),
        Some(&json!({"csr": crate::openssl_csr::p256_csr(), "device_id": device, "old_serial": first_serial})),
    )
    .await;
    assert_eq!(renewed.status, 200, "renew: {}", renewed.body);
    let second_pem = renewed.text("certificate");

    let old = call(target, "GET", &status_path, Some(&first_pem), None).await;
    assert_eq!(
        (old.status, old.error().as_str()),
        (403, "certificate_revoked"),
        "{}",
        old.body
    );
    let new = call(target, "GET", &status_path, Some(&second_pem), None).await;
    assert_eq!(new.status, 200, "status after renewal: {}", new.body);
    let second_serial = new.text("serial");
    assert_ne!(second_serial, first_serial);
    assert_eq!(new.json()["platform"], "android");

    let revoked = call(
        target,
        "POST",
        "/device/revoke",
        Some(&second_pem),
        Some(&json!({"device_id": device, "reason": "lost phone"})),
    )
    .await;
    assert_eq!(revoked.status, 200, "revoke: {}", revoked.body);
    assert_eq!(revoked.json()["success"], true);
    let after = call(target, "GET", &status_path, Some(&second_pem), None).await;
    assert_eq!(
        (after.status, after.error().as_str()),
        (403, "certificate_revoked"),
        "{}",
        after.body
    );

    let first = certificate_row(names, &device, &first_serial).await;
    assert_row(&first, &device, &first_serial, true);
    assert_eq!(s(&first, "revocation_reason"), "superseded");
    let second = certificate_row(names, &device, &second_serial).await;
    assert_row(&second, &device, &second_serial, true);
    assert_eq!(s(&second, "revocation_reason"), "lost phone");
    assert_eq!(
        s(&second, "certificate_pem").trim_end(),
        second_pem.trim_end()
    );
}

/// Authorize → session item → callback → token (wiremock) → replay rejected → session item gone.
async fn oauth_flow(target: &Target<'_>, world: &World) {
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.access", "refresh_token": "1//refresh",
            "expires_in": 3599, "token_type": "Bearer"
        })))
        .expect(1)
        .mount(&world.provider)
        .await;

    let authorized = call(
        target,
        "POST",
        "/oauth/authorize/googledrive",
        None,
        Some(&json!({"code_verifier": VERIFIER, "redirect_uri": REDIRECT, "state": "client-state-1"})),
    )
    .await;
    assert_eq!(authorized.status, 200, "authorize: {}", authorized.body);
    let state = authorized.text("state");
    let pk = format!("oauth#{state}");
    let session = item(&world.names.sessions_table, &[("pk", &pk)])
        .await
        .expect("the session item exists after authorize");
    assert_eq!(
        attribute_types(&session),
        expected_types(&SESSION_ITEM),
        "{session:?}"
    );
    assert_eq!(s(&session, "state"), state);
    assert_eq!(s(&session, "provider"), "googledrive");
    assert_eq!(s(&session, "redirect_uri"), REDIRECT);
    assert_eq!(s(&session, "client_state"), "client-state-1");

    let callback = call(
        target,
        "GET",
        &format!("/oauth/callback/googledrive?code=auth-code-1&state={state}"),
        None,
        None,
    )
    .await;
    assert_eq!(callback.status, 302, "callback: {}", callback.body);
    assert_eq!(
        callback.headers.get("location").map(String::as_str),
        Some(format!("{REDIRECT}?code=auth-code-1&state={state}&provider=googledrive").as_str())
    );

    let exchange = json!({"code": "auth-code-1", "code_verifier": VERIFIER, "state": state});
    let token = call(
        target,
        "POST",
        "/oauth/token/googledrive",
        None,
        Some(&exchange),
    )
    .await;
    assert_eq!(token.status, 200, "token: {}", token.body);
    assert_eq!(token.json()["access_token"], "ya29.access");
    assert_eq!(token.json()["refresh_token"], "1//refresh");
    let replay = call(
        target,
        "POST",
        "/oauth/token/googledrive",
        None,
        Some(&exchange),
    )
    .await;
    assert_eq!(
        (replay.status, replay.error().as_str()),
        (400, "invalid_state"),
        "{}",
        replay.body
    );
    assert!(
        item(&world.names.sessions_table, &[("pk", &pk)])
            .await
            .is_none(),
        "the session item is gone after the exchange"
    );
}

#[tokio::test]
async fn the_server_binary_on_moto_enrols_renews_and_revokes_a_device_and_exchanges_an_oauth_code()
{
    let world = World::new().await;
    world.ca_init().await;
    let port = free_port();
    let _server = start_server(&world, port).await;
    let target = Target::Server(port);

    device_lifecycle(&target, &world.names).await;
    oauth_flow(&target, &world).await;
}

#[tokio::test]
async fn the_lambda_binary_on_moto_takes_the_certificate_from_the_request_context_and_serves_oauth()
{
    let world = World::new().await;
    world.ca_init().await;
    let api = RuntimeApi::start().await;
    let mut lambda = LambdaProcess::spawn(&api, &world.lambda_env());
    let target = Target::Lambda(&api);

    let health = call(&target, "GET", "/health", None, None).await;
    assert_eq!(health.status, 200, "{} {}", health.body, lambda.stderr());
    device_lifecycle(&target, &world.names).await;
    oauth_flow(&target, &world).await;
    assert!(lambda.is_running(), "{}", lambda.stderr());
}
