//! The AWS stores on their own: item attribute names and types, rows of the previous
//! deployment, Secrets Manager CA material and references, S3 objects and
//! the mapping of failures to store errors.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use apuntador::config::Platform;
use apuntador::store::aws::AwsStores;
use apuntador::store::{
    AttestationStore, BlobStore, CaMaterial, CertificateStore, OAuthSessionStore, SecretStore,
    StoreError,
};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    Names, attribute_types, closed_endpoint, create_secret, endpoint, expected_types, sdk, stores,
};
use crate::store_contract::{self, certificate, now, session, valid_result};

async fn raw_item(
    table: &str,
    key: &[(&str, &str)],
) -> std::collections::HashMap<String, AttributeValue> {
    let mut request = sdk()
        .await
        .dynamodb
        .get_item()
        .table_name(table)
        .consistent_read(true);
    for (name, value) in key {
        request = request.key(*name, AttributeValue::S((*value).to_owned()));
    }
    request
        .send()
        .await
        .expect("get_item")
        .item
        .expect("the item exists")
}

fn s<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{name} is not a string"))
}

#[tokio::test]
async fn certificate_items_carry_the_attribute_names_and_types_of_the_table() {
    let names = Names::new();
    let aws = stores(&names).await;
    let device = store_contract::unique("device");
    let record = certificate(&device);
    aws.certificates
        .issue(&record, &[], "superseded", now())
        .await
        .expect("issue");
    aws.certificates
        .revoke(
            &device,
            std::slice::from_ref(&record.serial),
            "lost phone",
            now(),
        )
        .await
        .expect("revoke");

    let item = raw_item(
        &names.certificates_table,
        &[("device_id", &device), ("serial_number", &record.serial)],
    )
    .await;

    assert_eq!(
        attribute_types(&item),
        expected_types(&[
            ("device_id", "S"),
            ("serial_number", "S"),
            ("platform", "S"),
            ("issued_at", "S"),
            ("expires_at", "S"),
            ("certificate_pem", "S"),
            ("fingerprint_sha256", "S"),
            ("revoked", "BOOL"),
            ("revoked_at", "S"),
            ("revocation_reason", "S"),
            ("ttl", "N"),
        ])
    );
    assert_eq!(s(&item, "platform"), "android");
    assert_eq!(
        s(&item, "issued_at"),
        apuntador::store::timestamp::format(record.issued_at)
    );
    assert!(s(&item, "issued_at").ends_with('Z'));
    assert_eq!(s(&item, "revocation_reason"), "lost phone");
    assert_eq!(item["ttl"].as_n().expect("number"), &record.ttl.to_string());
}

#[tokio::test]
async fn session_table_items_carry_the_attribute_names_and_types_of_the_table() {
    let names = Names::new();
    let aws = stores(&names).await;
    let oauth = session(TimeDelta::minutes(10));
    aws.sessions.create(&oauth).await.expect("create");
    let device = store_contract::unique("device");
    let result = valid_result(Platform::Android, &device);
    aws.sessions
        .put_result(&result, Duration::from_secs(3600))
        .await
        .expect("put_result");
    aws.sessions
        .record_evidence(Platform::Ios, &"a".repeat(64), Duration::from_secs(3600))
        .await
        .expect("evidence");
    aws.sessions
        .bind_if_absent(&device, &"f".repeat(64))
        .await
        .expect("bind");
    let hour = Utc::now().timestamp() / 3600;
    let window_end = chrono::DateTime::from_timestamp((hour + 1) * 3600, 0).expect("time");
    let rate = format!("rate#desktop#{device}#{hour}");
    aws.sessions
        .increment_rate(&rate, window_end)
        .await
        .expect("rate");
    aws.sessions.bump_generation().await.expect("bump");
    let table = &names.sessions_table;

    let item = raw_item(table, &[("pk", &format!("oauth#{}", oauth.state))]).await;
    assert_eq!(
        attribute_types(&item),
        expected_types(&[
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
        ])
    );
    assert_eq!(
        item["ttl"].as_n().expect("n"),
        &oauth.expires_at.timestamp().to_string()
    );

    let item = raw_item(table, &[("pk", &format!("att#android#{device}"))]).await;
    assert_eq!(
        attribute_types(&item),
        expected_types(&[
            ("pk", "S"),
            ("status", "S"),
            ("attestation_id", "S"),
            ("verified_at", "S"),
            ("generation", "N"),
            ("consumed", "BOOL"),
            ("response", "S"),
            ("ttl", "N"),
        ])
    );
    let response: serde_json::Value = serde_json::from_str(s(&item, "response")).expect("JSON");
    assert_eq!(response, result.response);
    assert_eq!(
        item["ttl"].as_n().expect("n"),
        &(result.verified_at.timestamp() + 3600).to_string()
    );

    let item = raw_item(
        table,
        &[("pk", &format!("evidence#ios#{}", "a".repeat(64)))],
    )
    .await;
    assert_eq!(
        attribute_types(&item),
        expected_types(&[("pk", "S"), ("first_seen", "S"), ("ttl", "N")])
    );

    let item = raw_item(table, &[("pk", &format!("dbind#{device}"))]).await;
    assert_eq!(
        attribute_types(&item),
        expected_types(&[("pk", "S"), ("fingerprint", "S"), ("bound_at", "S")])
    );

    let item = raw_item(table, &[("pk", &rate)]).await;
    assert_eq!(
        attribute_types(&item),
        expected_types(&[("pk", "S"), ("count", "N"), ("ttl", "N")])
    );
    assert_eq!(
        item["ttl"].as_n().expect("n"),
        &(window_end.timestamp() + 3600).to_string()
    );

    let item = raw_item(table, &[("pk", "meta#attestation-generation")]).await;
    assert_eq!(
        attribute_types(&item),
        expected_types(&[("pk", "S"), ("generation", "N")])
    );
}

/// Writes a row as the previous deployment did: `+0000` timestamps with microseconds, no
/// `fingerprint_sha256`, no `ttl`.
pub async fn put_previous_format_row(table: &str, device: &str, serial: &str, pem: &str) {
    let format = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string();
    let issued = Utc::now() - TimeDelta::days(1);
    sdk()
        .await
        .dynamodb
        .put_item()
        .table_name(table)
        .item("device_id", AttributeValue::S(device.to_owned()))
        .item("serial_number", AttributeValue::S(serial.to_owned()))
        .item("platform", AttributeValue::S("android".into()))
        .item("issued_at", AttributeValue::S(format(issued)))
        .item(
            "expires_at",
            AttributeValue::S(format(issued + TimeDelta::days(30))),
        )
        .item("certificate_pem", AttributeValue::S(pem.to_owned()))
        .item("revoked", AttributeValue::Bool(false))
        .send()
        .await
        .expect("put_item");
}

#[tokio::test]
async fn a_row_of_the_previous_deployment_is_read_superseded_and_revoked() {
    let names = Names::new();
    let aws = stores(&names).await;
    let device = store_contract::unique("device");
    let old = store_contract::serial();
    let pem = "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n";
    put_previous_format_row(&names.certificates_table, &device, &old, pem).await;

    let read = aws
        .certificates
        .get(&device, &old)
        .await
        .expect("get")
        .expect("the old row is live");
    let listed = aws
        .certificates
        .list_for_device(&device)
        .await
        .expect("list");
    let revoked = aws
        .certificates
        .revoke(
            &device,
            std::slice::from_ref(&old),
            "Manual revocation",
            now(),
        )
        .await
        .expect("revoke");

    assert_eq!(read.fingerprint_sha256, None);
    assert_eq!(read.ttl, i64::MAX, "a row without ttl never expires");
    assert_eq!(read.certificate_pem, pem);
    assert!(read.issued_at.timestamp_subsec_micros() > 0 || read.issued_at < Utc::now());
    assert_eq!(listed.len(), 1);
    assert_eq!(revoked, 1);
    let item = raw_item(
        &names.certificates_table,
        &[("device_id", &device), ("serial_number", &old)],
    )
    .await;
    assert_eq!(item["revoked"], AttributeValue::Bool(true));
    assert_eq!(s(&item, "revocation_reason"), "Manual revocation");
    assert!(s(&item, "revoked_at").ends_with('Z'));
    assert!(!item.contains_key("ttl"), "a revocation adds no ttl");
}

#[tokio::test]
async fn issue_moves_a_per_device_head_item_that_listings_never_return() {
    let names = Names::new();
    let aws = stores(&names).await;
    let device = store_contract::unique("device");
    let first = certificate(&device);
    aws.certificates
        .issue(&first, &[], "superseded", now())
        .await
        .expect("issue");
    let head_key = format!("head#{device}");
    let head = raw_item(
        &names.certificates_table,
        &[("device_id", &head_key), ("serial_number", &head_key)],
    )
    .await;
    assert_eq!(head["version"].as_n().expect("number"), "1");
    assert_eq!(s(&head, "active_serial"), first.serial);
    assert!(!head.contains_key("expires_at") && !head.contains_key("ttl"));

    let second = certificate(&device);
    aws.certificates
        .issue(
            &second,
            std::slice::from_ref(&first.serial),
            "superseded",
            now(),
        )
        .await
        .expect("issue");

    let head = raw_item(
        &names.certificates_table,
        &[("device_id", &head_key), ("serial_number", &head_key)],
    )
    .await;
    assert_eq!(head["version"].as_n().expect("number"), "2");
    assert_eq!(s(&head, "active_serial"), second.serial);
    let listed = aws
        .certificates
        .list_for_device(&device)
        .await
        .expect("list");
    assert_eq!(listed.len(), 2, "the head is not a certificate record");
}

#[tokio::test]
async fn duplicates_left_by_the_previous_deployment_are_superseded_together() {
    let names = Names::new();
    let aws = stores(&names).await;
    let device = store_contract::unique("device");
    let (a, b) = (store_contract::serial(), store_contract::serial());
    put_previous_format_row(&names.certificates_table, &device, &a, "pem a").await;
    put_previous_format_row(&names.certificates_table, &device, &b, "pem b").await;
    let new = certificate(&device);

    store_contract::assert_conflict(
        aws.certificates
            .issue(&new, std::slice::from_ref(&a), "superseded", now())
            .await,
    );
    aws.certificates
        .issue(&new, &[a.clone(), b.clone()], "superseded", now())
        .await
        .expect("issue");

    let active: Vec<String> = aws
        .certificates
        .list_for_device(&device)
        .await
        .expect("list")
        .into_iter()
        .filter(|record| !record.revoked)
        .map(|record| record.serial)
        .collect();
    assert_eq!(active, vec![new.serial]);
}

#[tokio::test]
async fn a_row_of_the_previous_deployment_can_be_superseded_by_issue() {
    let names = Names::new();
    let aws = stores(&names).await;
    let device = store_contract::unique("device");
    let old = store_contract::serial();
    put_previous_format_row(&names.certificates_table, &device, &old, "pem").await;
    let new = certificate(&device);

    aws.certificates
        .issue(&new, std::slice::from_ref(&old), "superseded", now())
        .await
        .expect("issue");

    let old_read = aws
        .certificates
        .get(&device, &old)
        .await
        .expect("get")
        .expect("present");
    assert!(old_read.revoked);
    assert_eq!(old_read.revocation_reason.as_deref(), Some("superseded"));
}

fn material(tag: &str, previous: Option<&str>) -> CaMaterial {
    CaMaterial {
        key_pem: SecretString::from(format!(
            "-----BEGIN PRIVATE KEY-----\n{tag}\n-----END PRIVATE KEY-----\n"
        )),
        cert_pem: format!("-----BEGIN CERTIFICATE-----\n{tag}\n-----END CERTIFICATE-----\n"),
        previous_cert_pem: previous.map(str::to_owned),
    }
}

fn same(actual: &CaMaterial, expected: &CaMaterial) {
    assert_eq!(
        actual.key_pem.expose_secret(),
        expected.key_pem.expose_secret()
    );
    assert_eq!(actual.cert_pem, expected.cert_pem);
    assert_eq!(actual.previous_cert_pem, expected.previous_cert_pem);
}

#[tokio::test]
async fn secrets_manager_has_no_ca_before_one_is_stored() {
    let aws = AwsStores::new(&Names::new().config(&endpoint(), &[]).storage.aws).await;

    assert!(aws.secrets.load_ca().await.expect("load").is_none());
}

#[tokio::test]
async fn store_ca_creates_the_secrets_then_puts_new_versions_and_retires_the_previous_certificate()
{
    let names = Names::new();
    let aws = AwsStores::new(&names.config(&endpoint(), &[]).storage.aws).await;
    let first = material("first", None);
    let rotated = material("second", Some(&first.cert_pem));
    let forced = material("third", None);

    aws.secrets.store_ca(&first).await.expect("create");
    same(
        &aws.secrets.load_ca().await.expect("load").expect("ca"),
        &first,
    );
    aws.secrets.store_ca(&rotated).await.expect("rotate");
    same(
        &aws.secrets.load_ca().await.expect("load").expect("ca"),
        &rotated,
    );
    aws.secrets.store_ca(&forced).await.expect("force");
    same(
        &aws.secrets.load_ca().await.expect("load").expect("ca"),
        &forced,
    );
    aws.secrets.store_ca(&rotated).await.expect("rotate again");
    same(
        &aws.secrets.load_ca().await.expect("load").expect("ca"),
        &rotated,
    );

    let versions = sdk()
        .await
        .secrets
        .list_secret_version_ids()
        .secret_id(format!("{}/ca-private-key", names.prefix))
        .send()
        .await
        .expect("versions");
    assert!(
        versions.versions().len() >= 3,
        "every store_ca puts a new version: {versions:?}"
    );
    let stored = sdk()
        .await
        .secrets
        .get_secret_value()
        .secret_id(format!("{}/ca-certificate", names.prefix))
        .send()
        .await
        .expect("get");
    assert_eq!(stored.secret_string(), Some(rotated.cert_pem.as_str()));
}

#[tokio::test]
async fn load_ca_reports_an_incomplete_ca() {
    let names = Names::new();
    let aws = AwsStores::new(&names.config(&endpoint(), &[]).storage.aws).await;
    sdk()
        .await
        .secrets
        .create_secret()
        .name(format!("{}/ca-certificate", names.prefix))
        .secret_string("cert")
        .send()
        .await
        .expect("create");

    match aws.secrets.load_ca().await {
        Err(StoreError::Internal(message)) => assert!(message.contains("ca-private-key")),
        other => panic!("expected an incomplete CA, got {other:?}"),
    }
}

#[tokio::test]
async fn resolve_reads_more_than_one_batch_of_references_in_order() {
    let names = Names::new();
    let aws = AwsStores::new(&names.config(&endpoint(), &[]).storage.aws).await;
    let mut arns = Vec::new();
    for n in 0..25 {
        arns.push(
            create_secret(
                &format!("{}/ref-{n}", names.prefix),
                &format!("value-{n}\n"),
            )
            .await,
        );
    }
    let mut references: Vec<String> = arns.iter().rev().cloned().collect();
    references.push(arns[3].clone());

    let values = aws.secrets.resolve(&references).await.expect("resolve");

    let values: Vec<&str> = values.iter().map(ExposeSecret::expose_secret).collect();
    let mut wanted: Vec<String> = (0..25).rev().map(|n| format!("value-{n}\n")).collect();
    wanted.push("value-3\n".into());
    assert_eq!(values, wanted);
}

#[tokio::test]
async fn resolve_names_a_reference_that_does_not_exist() {
    let aws = AwsStores::new(&Names::new().config(&endpoint(), &[]).storage.aws).await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:apuntador/none-AbCdEf";

    let error = aws
        .secrets
        .resolve(&[missing.to_owned()])
        .await
        .expect_err("missing");

    assert!(error.to_string().contains(missing), "{error}");
}

#[tokio::test]
async fn s3_put_returns_a_new_version_each_time_and_keeps_type_and_encryption() {
    let names = Names::new();
    let aws = AwsStores::new(&names.config(&endpoint(), &[]).storage.aws).await;
    aws.blobs
        .create_bucket_if_missing(aws.region())
        .await
        .expect("bucket");
    let key = "truststore/ca-bundle.pem";

    let first = aws
        .blobs
        .put(key, b"one", "application/x-pem-file")
        .await
        .expect("put");
    let second = aws
        .blobs
        .put(key, b"two", "application/x-pem-file")
        .await
        .expect("put");

    assert_ne!(first, second);
    assert_ne!(second, "null", "the bucket is versioned");
    assert_eq!(
        aws.blobs.get(key).await.expect("get"),
        Some(b"two".to_vec())
    );
    assert!(aws.blobs.exists(key).await.expect("exists"));
    let head = sdk()
        .await
        .s3
        .head_object()
        .bucket(&names.bucket)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("application/x-pem-file"));
    assert_eq!(
        head.server_side_encryption().map(|e| e.as_str()),
        Some("AES256")
    );
    assert_eq!(head.version_id(), Some(second.as_str()));
}

#[tokio::test]
async fn s3_get_and_exists_report_a_missing_object() {
    let names = Names::new();
    let aws = AwsStores::new(&names.config(&endpoint(), &[]).storage.aws).await;
    aws.blobs
        .create_bucket_if_missing(aws.region())
        .await
        .expect("bucket");

    assert_eq!(aws.blobs.get("nothing/here").await.expect("get"), None);
    assert!(!aws.blobs.exists("nothing/here").await.expect("exists"));
}

fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn every_store_reports_unavailable_when_the_endpoint_is_down() {
    let names = Names::new();
    let aws = AwsStores::new(&names.config(&closed_endpoint(), &[]).storage.aws).await;
    let started = Instant::now();

    assert_unavailable("get", aws.certificates.get("device", "01").await);
    assert_unavailable("ping", aws.certificates.ping().await);
    assert_unavailable(
        "issue",
        aws.certificates
            .issue(&certificate("device"), &[], "superseded", now())
            .await,
    );
    assert_unavailable(
        "create",
        aws.sessions.create(&session(TimeDelta::minutes(1))).await,
    );
    assert_unavailable("consume", aws.sessions.consume("state").await);
    assert_unavailable("generation", aws.sessions.generation().await);
    assert_unavailable("load_ca", aws.secrets.load_ca().await);
    assert_unavailable("resolve", aws.secrets.resolve(&["x".to_owned()]).await);
    assert_unavailable("put", aws.blobs.put("k", b"v", "text/plain").await);

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "failures are quick, not hangs: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_missing_table_is_an_internal_failure_not_an_outage() {
    let aws = AwsStores::new(&Names::new().config(&endpoint(), &[]).storage.aws).await;

    match aws.certificates.get("device", "01").await {
        Err(StoreError::Internal(message)) => {
            assert!(message.contains("ResourceNotFoundException"), "{message}");
        }
        other => panic!("expected Internal, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_issues_on_one_device_keep_exactly_one_active_record() {
    let names = Names::new();
    let aws = stores(&names).await;
    let device = store_contract::unique("device");
    let first = certificate(&device);
    aws.certificates
        .issue(&first, &[], "superseded", now())
        .await
        .expect("issue");

    let mut tasks = Vec::new();
    for _ in 0..5 {
        let store = aws.certificates.clone();
        let new = certificate(&device);
        let old = first.serial.clone();
        tasks.push(tokio::spawn(async move {
            store.issue(&new, &[old], "superseded", now()).await
        }));
    }
    let mut outcomes = BTreeSet::new();
    for task in tasks {
        outcomes.insert(match task.await.expect("task") {
            Ok(()) => "ok",
            Err(StoreError::Conflict(_)) => "conflict",
            Err(other) => panic!("unexpected {other:?}"),
        });
    }

    let active = aws
        .certificates
        .list_for_device(&device)
        .await
        .expect("list")
        .into_iter()
        .filter(|record| !record.revoked)
        .count();
    assert_eq!(active, 1);
    assert!(outcomes.contains("ok"));
}

/// A stand-in DynamoDB endpoint answering every call with `status` and the error `error_type`.
async fn fake_dynamodb(status: u16, error_type: &str, extra: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    let mut body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
        "message": "stand-in error",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_raw(body.to_string(), "application/x-amz-json-1.0"),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn throttling_is_unavailable_and_answers_503_store_unavailable() {
    let fake = fake_dynamodb(400, "ThrottlingException", serde_json::json!({})).await;
    let names = Names::new();
    let state = apuntador::AppState::build(
        names.config(&fake.uri(), &[("DROPBOX_CLIENT_ID", "dropbox-id")]),
    )
    .await
    .expect("state");

    let answer = crate::helpers::authorize(&apuntador::router(state)).await;

    assert_eq!(
        answer.status,
        503,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["error"], "store_unavailable");
    assert_eq!(answer.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn server_errors_and_provisioned_throughput_are_unavailable() {
    for (status, error_type) in [
        (500, "InternalServerError"),
        (400, "ProvisionedThroughputExceededException"),
        (400, "RequestLimitExceeded"),
    ] {
        let fake = fake_dynamodb(status, error_type, serde_json::json!({})).await;
        let aws = AwsStores::new(&Names::new().config(&fake.uri(), &[]).storage.aws).await;

        assert_unavailable(error_type, aws.certificates.get("device", "01").await);
    }
}

#[tokio::test]
async fn a_cancelled_transaction_with_a_failed_condition_is_a_conflict() {
    let fake = fake_dynamodb(
        400,
        "TransactionCanceledException",
        serde_json::json!({"CancellationReasons": [
            {"Code": "None"},
            {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
        ]}),
    )
    .await;
    // The device's head and records are read before the transaction: an empty device.
    for (operation, body) in [
        ("GetItem", "{}"),
        ("Query", r#"{"Count":0,"Items":[],"ScannedCount":0}"#),
    ] {
        Mock::given(method("POST"))
            .and(header(
                "x-amz-target",
                format!("DynamoDB_20120810.{operation}"),
            ))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(body, "application/x-amz-json-1.0"),
            )
            .with_priority(1)
            .mount(&fake)
            .await;
    }
    let aws = AwsStores::new(&Names::new().config(&fake.uri(), &[]).storage.aws).await;
    let record = certificate("device");

    let result = aws
        .certificates
        .issue(&record, &[], "superseded", now())
        .await;

    store_contract::assert_conflict(result);
    let transactions = fake
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|request| {
            request
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                == Some("DynamoDB_20120810.TransactWriteItems")
        })
        .count();
    assert_eq!(transactions, 1, "the conflict came from the transaction");
}

#[tokio::test]
async fn a_failed_condition_on_create_is_a_conflict() {
    let fake = fake_dynamodb(
        400,
        "ConditionalCheckFailedException",
        serde_json::json!({}),
    )
    .await;
    let aws = AwsStores::new(&Names::new().config(&fake.uri(), &[]).storage.aws).await;

    store_contract::assert_conflict(aws.sessions.create(&session(TimeDelta::minutes(1))).await);
}

#[tokio::test]
async fn access_denied_is_an_internal_failure() {
    let fake = fake_dynamodb(400, "AccessDeniedException", serde_json::json!({})).await;
    let aws = AwsStores::new(&Names::new().config(&fake.uri(), &[]).storage.aws).await;

    match aws.sessions.peek("state").await {
        Err(StoreError::Internal(message)) => assert!(message.contains("AccessDeniedException")),
        other => panic!("expected Internal, got {other:?}"),
    }
}
