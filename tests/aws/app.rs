//! The application in AWS mode through the router: `AUTO_CREATE_RESOURCES`, readiness, a device
//! enrolled, authenticated and revoked on DynamoDB including a row rewritten in the
//! previous deployment's format, and store failures answered as 503 `store_unavailable` —
//! also when the emulator stops while the app runs, and recovery when it comes back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apuntador::AppState;
use apuntador::authority::{self, CaInitArgs};
use apuntador::store::aws::AwsStores;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, ProjectionType, TimeToLiveStatus,
};
use aws_sdk_s3::types::ServerSideEncryption;
use axum::Router;
use serde_json::json;

use crate::helpers::{Names, authorize, closed_endpoint, endpoint, sdk, send};

/// A state in AWS mode with `AUTO_CREATE_RESOURCES=true` and a CA made by `ca init`.
async fn app_with_ca(names: &Names, endpoint: &str) -> (Router, AppState) {
    let config = names.config(
        endpoint,
        &[
            ("AUTO_CREATE_RESOURCES", "true"),
            ("DROPBOX_CLIENT_ID", "dropbox-id"),
        ],
    );
    let state = AppState::build(config).await.expect("state");
    authority::init_ca(
        state.secrets.as_ref(),
        state.blobs.as_ref(),
        &CaInitArgs::default(),
        chrono::Utc::now(),
    )
    .await
    .expect("ca init");
    (apuntador::router(state.clone()), state)
}

#[tokio::test]
async fn auto_create_resources_creates_the_tables_and_the_bucket_once() {
    let names = Names::new();
    let config = names.config(&endpoint(), &[("AUTO_CREATE_RESOURCES", "true")]);

    AppState::build(config.clone()).await.expect("first start");
    AppState::build(config)
        .await
        .expect("second start finds everything in place");

    let sdk = sdk().await;
    let table = sdk
        .dynamodb
        .describe_table()
        .table_name(&names.certificates_table)
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    let keys: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    assert_eq!(
        keys,
        [
            ("device_id", &KeyType::Hash),
            ("serial_number", &KeyType::Range)
        ]
    );
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let mut indexes: Vec<(String, Vec<String>, Option<ProjectionType>)> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            (
                index.index_name().unwrap_or_default().to_owned(),
                index
                    .key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_owned())
                    .collect(),
                index
                    .projection()
                    .and_then(|p| p.projection_type())
                    .cloned(),
            )
        })
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            (
                "ExpirationIndex".to_owned(),
                vec!["device_id".to_owned(), "expires_at".to_owned()],
                Some(ProjectionType::All)
            ),
            (
                "SerialIndex".to_owned(),
                vec!["serial_number".to_owned()],
                Some(ProjectionType::All)
            ),
        ]
    );
    for name in [&names.certificates_table, &names.sessions_table] {
        let ttl = sdk
            .dynamodb
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .expect("ttl");
        let description = ttl.time_to_live_description().expect("description");
        assert_eq!(
            description.time_to_live_status(),
            Some(&TimeToLiveStatus::Enabled)
        );
        assert_eq!(description.attribute_name(), Some("ttl"));
    }
    let sessions = sdk
        .dynamodb
        .describe_table()
        .table_name(&names.sessions_table)
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    assert_eq!(sessions.key_schema()[0].attribute_name(), "pk");
    // moto 5.2.5 answers GetBucketVersioning with a root element the SDK rejects: check the effect.
    let mut versions = Vec::new();
    for body in ["one", "two"] {
        let put = sdk
            .s3
            .put_object()
            .bucket(&names.bucket)
            .key("probe")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put_object");
        versions.push(put.version_id().map(str::to_owned));
    }
    assert!(versions[0].is_some(), "the bucket is versioned");
    assert_ne!(versions[0], versions[1]);
    let encryption = sdk
        .s3
        .get_bucket_encryption()
        .bucket(&names.bucket)
        .send()
        .await
        .expect("encryption");
    let rule = &encryption
        .server_side_encryption_configuration()
        .expect("configuration")
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm()),
        Some(&ServerSideEncryption::Aes256)
    );
    let block = sdk
        .s3
        .get_public_access_block()
        .bucket(&names.bucket)
        .send()
        .await
        .expect("public access block")
        .public_access_block_configuration
        .expect("configuration");
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let secrets = sdk
        .secrets
        .list_secrets()
        .send()
        .await
        .expect("list secrets");
    assert!(
        secrets
            .secret_list()
            .iter()
            .all(|s| !s.name().unwrap_or_default().starts_with(&names.prefix)),
        "secrets are never auto-created"
    );
}

#[tokio::test]
async fn building_the_state_without_auto_create_sends_nothing() {
    let names = Names::new();
    let started = Instant::now();

    // Nothing listens there: any request would fail, and the build must not notice.
    let state = AppState::build(names.config(&closed_endpoint(), &[])).await;

    assert!(state.is_ok());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn auto_create_against_a_stopped_endpoint_is_a_start_up_failure() {
    let names = Names::new();

    let result =
        AppState::build(names.config(&closed_endpoint(), &[("AUTO_CREATE_RESOURCES", "true")]))
            .await;

    let error = result.err().expect("start-up fails");
    assert!(
        error.to_string().contains("AUTO_CREATE_RESOURCES"),
        "{error}"
    );
}

#[tokio::test]
async fn readiness_in_aws_mode_reports_every_check_ok() {
    let names = Names::new();
    let (app, _) = app_with_ca(&names, &endpoint()).await;

    let answer = send(&app, "GET", "/health/ready", &[], None).await;

    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.json()["checks"],
        json!({"certificate_store": "ok", "session_store": "ok", "certificate_authority": "ok"})
    );
}

#[tokio::test]
async fn readiness_in_aws_mode_without_a_ca_reports_it_missing() {
    let names = Names::new();
    let state = AppState::build(names.config(&endpoint(), &[("AUTO_CREATE_RESOURCES", "true")]))
        .await
        .expect("state");

    let answer = send(&apuntador::router(state), "GET", "/health/ready", &[], None).await;

    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["checks"]["certificate_authority"], "missing");
    assert_eq!(answer.json()["checks"]["certificate_store"], "ok");
}

fn escaped(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn a_device_enrolled_on_dynamodb_authenticates_also_from_a_previous_format_row_and_is_revoked()
 {
    let names = Names::new();
    let (app, _) = app_with_ca(&names, &endpoint()).await;
    let device = crate::helpers::unique("device");
    let body =
        json!({"csr": crate::openssl_csr::p256_csr(), "device_id": device, "platform": "android"});

    let enrolled = send(
        &app,
        "POST",
        "/device/enroll",
        &[("content-type", "application/json")],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(
        enrolled.status,
        201,
        "{}",
        String::from_utf8_lossy(&enrolled.body)
    );
    let certificate = enrolled.json()["certificate"]
        .as_str()
        .expect("pem")
        .to_owned();
    let serial = enrolled.json()["serial"]
        .as_str()
        .expect("serial")
        .to_owned();
    let header = escaped(&certificate);
    let status_path = format!("/device/status/{device}");
    let status = send(
        &app,
        "GET",
        &status_path,
        &[("x-client-cert", &header)],
        None,
    )
    .await;
    assert_eq!(
        status.status,
        200,
        "{}",
        String::from_utf8_lossy(&status.body)
    );

    // Rewrite the row as the previous deployment stored it.
    crate::stores::put_previous_format_row(
        &names.certificates_table,
        &device,
        &serial,
        &certificate,
    )
    .await;
    let status = send(
        &app,
        "GET",
        &status_path,
        &[("x-client-cert", &header)],
        None,
    )
    .await;
    assert_eq!(
        status.status,
        200,
        "{}",
        String::from_utf8_lossy(&status.body)
    );
    assert_eq!(status.json()["serial"], serial.as_str());

    let revoked = send(
        &app,
        "POST",
        "/device/revoke",
        &[
            ("x-client-cert", &header),
            ("content-type", "application/json"),
        ],
        Some(&json!({"device_id": device, "reason": "lost phone"}).to_string()),
    )
    .await;
    assert_eq!(
        revoked.status,
        200,
        "{}",
        String::from_utf8_lossy(&revoked.body)
    );
    assert_eq!(revoked.json()["success"], true);
    let item = sdk()
        .await
        .dynamodb
        .get_item()
        .table_name(&names.certificates_table)
        .key("device_id", AttributeValue::S(device.clone()))
        .key("serial_number", AttributeValue::S(serial.clone()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item
        .expect("item");
    assert_eq!(item["revoked"], AttributeValue::Bool(true));
    assert_eq!(
        item["revocation_reason"],
        AttributeValue::S("lost phone".into())
    );
    let after = send(
        &app,
        "GET",
        &status_path,
        &[("x-client-cert", &header)],
        None,
    )
    .await;
    assert_ne!(
        after.status, 200,
        "a revoked certificate no longer authenticates"
    );
}

#[tokio::test]
async fn a_stopped_endpoint_answers_503_store_unavailable_with_retry_after() {
    let names = Names::new();
    let state =
        AppState::build(names.config(&closed_endpoint(), &[("DROPBOX_CLIENT_ID", "dropbox-id")]))
            .await
            .expect("state");
    let app = apuntador::router(state);

    let answer = authorize(&app).await;
    let health = send(&app, "GET", "/health", &[], None).await;
    let ready = send(&app, "GET", "/health/ready", &[], None).await;

    assert_eq!(
        answer.status,
        503,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["error"], "store_unavailable");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(health.status, 200);
    assert_eq!(ready.status, 503);
    assert_ne!(ready.json()["checks"]["session_store"], "ok");
}

/// A private moto server on `port`, killed when dropped.
struct PrivateMoto {
    child: Child,
}

impl PrivateMoto {
    fn start(port: u16) -> PrivateMoto {
        let executable = std::env::var("APUNTADOR_MOTO_SERVER").unwrap_or_else(|_| {
            panic!(
                "APUNTADOR_MOTO_SERVER is not set: run the AWS tests through `scripts/with-moto`"
            )
        });
        let child = Command::new(executable)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the private moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        PrivateMoto { child }
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_app_answers_503_while_the_emulator_is_down_and_recovers_without_a_restart() {
    let port = closed_endpoint()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("port");
    let private = format!("http://127.0.0.1:{port}");
    let names = Names::new();
    let moto = PrivateMoto::start(port);
    let (app, state) = app_with_ca(&names, &private).await;
    assert_eq!(authorize(&app).await.status, 200);

    drop(moto);
    let started = Instant::now();
    let down = authorize(&app).await;
    let health = send(&app, "GET", "/health", &[], None).await;
    let ready = send(&app, "GET", "/health/ready", &[], None).await;

    assert_eq!(down.status, 503, "{}", String::from_utf8_lossy(&down.body));
    assert_eq!(down.json()["error"], "store_unavailable");
    assert_eq!(down.header("retry-after"), Some("1"));
    assert!(started.elapsed() < Duration::from_secs(20), "no hang");
    assert_eq!(health.status, 200);
    assert_eq!(ready.status, 503);

    // A restarted emulator is empty: put the tables back as durable storage would have kept them.
    let _moto = PrivateMoto::start(port);
    AwsStores::new(&state.config.storage.aws)
        .await
        .create_missing_resources()
        .await
        .expect("tables again");
    let up = authorize(&app).await;
    assert_eq!(up.status, 200, "{}", String::from_utf8_lossy(&up.body));
}
