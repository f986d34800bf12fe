//! Attestation on DynamoDB through the router: Android, iOS and desktop attestations
//! store their results, replay records, binding and rate counter as the items of the sessions table;
//! enrolment requiring attestation consumes an id exactly once under 10 concurrent enrolments; the
//! admin clear-cache bumps the generation item and deletes a device's items.

use apuntador::AppState;
use apuntador::authority::{self, CaInitArgs};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use serde_json::json;

use crate::helpers::{Answer, Names, endpoint, sdk, send, unique};
#[path = "../support/attestation_vectors.rs"]
mod vectors;

const ADMIN_KEY: &str = "aws-admin-key-0123456789abcdef0123456789";

async fn post(app: &Router, path: &str, body: &str) -> Answer {
    send(
        app,
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(body),
    )
    .await
}

async fn item(
    names: &Names,
    pk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    sdk()
        .await
        .dynamodb
        .get_item()
        .table_name(&names.sessions_table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attestations_on_dynamodb_store_their_items_and_ids_enrol_exactly_once() {
    let names = Names::new();
    let keys = vectors::PlayKeys::generate();
    let ca = vectors::TestCa::new("aws");
    let vars = keys.config_vars();
    let mut overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.extend([
        ("AUTO_CREATE_RESOURCES", "true"),
        ("APPLE_TEAM_ID", vectors::TEAM_ID),
        ("APPLE_BUNDLE_ID", vectors::BUNDLE_ID),
        ("ENROLLMENT_REQUIRE_ATTESTATION", "true"),
        ("ADMIN_API_KEY", ADMIN_KEY),
    ]);
    let state = AppState::build(names.config(&endpoint(), &overrides))
        .await
        .expect("state")
        .with_app_attest_trust_anchor(&ca.root_der())
        .expect("App Attest configured");
    authority::init_ca(
        state.secrets.as_ref(),
        state.blobs.as_ref(),
        &CaInitArgs::default(),
        chrono::Utc::now(),
    )
    .await
    .expect("ca init");
    let app = apuntador::router(state);

    // Android: a valid token, then the same token again.
    let phone = unique("phone");
    let nonce = "aws-nonce-000000000000";
    let token = keys.token(&vectors::verdict(nonce));
    let body = vectors::android_body(&token, &phone, nonce);
    let valid = post(&app, "/device/attest/android", &body).await;
    assert_eq!(
        valid.status,
        200,
        "{}",
        String::from_utf8_lossy(&valid.body)
    );
    let replay = post(&app, "/device/attest/android", &body).await;
    assert_eq!(replay.json()["advice"], "EVIDENCE_REUSED");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    let evidence = item(&names, &format!("evidence#android#{digest}"))
        .await
        .expect("evidence item");
    assert!(matches!(
        evidence.get("first_seen"),
        Some(AttributeValue::S(_))
    ));
    assert!(matches!(evidence.get("ttl"), Some(AttributeValue::N(_))));
    let result = item(&names, &format!("att#android#{phone}"))
        .await
        .expect("result item");
    assert_eq!(
        result.get("status"),
        Some(&AttributeValue::S("invalid".into())),
        "the replay is the latest result"
    );

    // iOS: valid, and the result item with every attribute: status, attestation id, verification
    // time, generation, consumed flag, the 200 body and its TTL.
    let tablet = unique("tablet");
    let ios = post(
        &app,
        "/device/attest/ios",
        &vectors::IosAttestation::new(true).build(&ca).body(&tablet),
    )
    .await;
    assert_eq!(ios.status, 200, "{}", String::from_utf8_lossy(&ios.body));
    let ios_id = ios.json()["attestation_id"].as_str().unwrap().to_owned();
    let result = item(&names, &format!("att#ios#{tablet}"))
        .await
        .expect("result item");
    assert_eq!(
        result.get("status"),
        Some(&AttributeValue::S("valid".into()))
    );
    assert_eq!(
        result.get("attestation_id"),
        Some(&AttributeValue::S(ios_id.clone()))
    );
    assert_eq!(result.get("consumed"), Some(&AttributeValue::Bool(false)));
    assert!(matches!(
        result.get("generation"),
        Some(AttributeValue::N(_))
    ));
    assert!(matches!(
        result.get("verified_at"),
        Some(AttributeValue::S(_))
    ));
    assert!(matches!(result.get("ttl"), Some(AttributeValue::N(_))));
    let AttributeValue::S(response) = result.get("response").expect("response") else {
        panic!("response is a string of JSON");
    };
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(response).unwrap(),
        ios.json()
    );

    // Desktop: binding and rate counter items.
    let desk = unique("desk");
    let fp = vectors::fingerprint(&desk);
    let desktop = post(
        &app,
        "/device/attest/desktop",
        &vectors::desktop_body(&desk, &fp),
    )
    .await;
    assert_eq!(
        desktop.status,
        200,
        "{}",
        String::from_utf8_lossy(&desktop.body)
    );
    let binding = item(&names, &format!("dbind#{desk}"))
        .await
        .expect("binding item");
    assert_eq!(
        binding.get("fingerprint"),
        Some(&AttributeValue::S(fp.clone()))
    );
    assert!(!binding.contains_key("ttl"), "bindings do not expire");
    let hour = chrono::Utc::now().timestamp() / 3600;
    let counter = item(&names, &format!("rate#desktop#{desk}#{hour}"))
        .await
        .expect("rate item");
    assert_eq!(counter.get("count"), Some(&AttributeValue::N("1".into())));

    // Enrolment: 10 concurrent enrolments with one desktop attestation id → exactly one certificate.
    let csr = crate::openssl_csr::p256_csr();
    let id = desktop.json()["attestation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, csr, id, desk) = (app.clone(), csr.clone(), id.clone(), desk.clone());
            tokio::spawn(async move {
                let body = json!({"csr": csr, "device_id": desk, "platform": "desktop", "attestation": id});
                post(&app, "/device/enroll", &body.to_string()).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    // The others lost the attestation id (403), or listed the device after the winner's certificate
    // was stored (409 device_already_enrolled, checked before the id is consumed).
    assert_eq!(
        statuses.iter().filter(|s| **s == 403 || **s == 409).count(),
        9,
        "{statuses:?}"
    );
    let consumed = item(&names, &format!("att#desktop#{desk}")).await.unwrap();
    assert_eq!(consumed.get("consumed"), Some(&AttributeValue::Bool(true)));

    // Clear-cache: everything (the generation item), then one device.
    let auth = format!("Bearer {ADMIN_KEY}");
    let cleared = send(
        &app,
        "POST",
        "/device/attest/clear-cache",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(cleared.status, 204);
    let generation = item(&names, "meta#attestation-generation")
        .await
        .expect("generation item");
    assert_eq!(
        generation.get("generation"),
        Some(&AttributeValue::N("1".into()))
    );
    let retired =
        json!({"csr": csr, "device_id": tablet, "platform": "ios", "attestation": ios_id});
    let answer = post(&app, "/device/enroll", &retired.to_string()).await;
    assert_eq!(
        (answer.status, answer.json()["error"].clone()),
        (403, json!("attestation_invalid"))
    );
    let one = json!({"device_id": desk}).to_string();
    let cleared = send(
        &app,
        "POST",
        "/device/attest/clear-cache",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(&one),
    )
    .await;
    assert_eq!(cleared.status, 204);
    assert!(item(&names, &format!("dbind#{desk}")).await.is_none());
    assert!(item(&names, &format!("att#desktop#{desk}")).await.is_none());
}
