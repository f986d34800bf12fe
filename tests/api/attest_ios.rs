//! `POST /device/attest/ios`: genuine App Attest objects
//! issued by a test root and intermediate, and for every check one object that fails exactly that check.
//! Chains rooted anywhere but the configured anchor fail — with the embedded Apple root, every chain the
//! tests can build fails even when everything else is right.

use apuntador::AppState;
use apuntador::attestation::app_attest as aa;
use apuntador::config::Platform;
use axum::Router;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::{
    Answer, AttestationOutcome as Outcome, attestation_failed, attestation_invalid as invalid,
    attestation_outcome as outcome, config, send,
};
use crate::vectors::{BUNDLE_ID, IosAttestation, TEAM_ID, TestCa};

const DEVICE: &str = "ios-device-0001";

fn ios_config(extra: &[(&str, &str)]) -> apuntador::config::Config {
    let mut overrides = vec![("APPLE_TEAM_ID", TEAM_ID), ("APPLE_BUNDLE_ID", BUNDLE_ID)];
    overrides.extend_from_slice(extra);
    config(&overrides)
}

/// An app trusting `ca`'s root instead of Apple's.
fn app_trusting(ca: &TestCa, extra: &[(&str, &str)]) -> (Router, AppState) {
    let state = AppState::in_memory(ios_config(extra))
        .with_app_attest_trust_anchor(&ca.root_der())
        .expect("App Attest is configured");
    (apuntador::router(state.clone()), state)
}

async fn attest(app: &Router, body: &str) -> Answer {
    send(
        app,
        "POST",
        "/device/attest/ios",
        &[("content-type", "application/json")],
        Some(body),
    )
    .await
}

fn failed(message: &str) -> Outcome {
    attestation_failed("App Attest verification failed", message)
}

#[tokio::test]
async fn a_genuine_attestation_object_is_valid_and_answers_the_documented_body() {
    let ca = TestCa::new("test");
    let (app, state) = app_trusting(&ca, &[]);
    let built = IosAttestation::new(true).build(&ca);
    let answer = attest(&app, &built.body(DEVICE)).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "status",
            "device_id",
            "timestamp",
            "integrity_verified",
            "error_message",
            "attestation_id",
            "key_id"
        ]
    );
    assert_eq!(body["status"], "valid");
    assert_eq!(body["device_id"], DEVICE);
    assert_eq!(body["integrity_verified"], true);
    assert_eq!(body["error_message"], Value::Null);
    assert_eq!(body["key_id"], built.key_id.as_str());
    assert_eq!(body["attestation_id"].as_str().unwrap().len(), 43);
    let stored = state
        .attestations
        .get_result(Platform::Ios, DEVICE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.attestation_id.as_deref(),
        body["attestation_id"].as_str()
    );
}

#[tokio::test]
async fn url_safe_unpadded_base64_and_the_device_token_alias_are_accepted() {
    let ca = TestCa::new("test");
    let (app, _) = app_trusting(&ca, &[]);
    let built = IosAttestation::new(true).build(&ca);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&built.attestation_object)
        .unwrap();
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let body = json!({"device_token": url_safe, "key_id": built.key_id, "challenge": built.challenge, "device_id": DEVICE});
    let answer = attest(&app, &body.to_string()).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

#[tokio::test]
async fn the_development_environment_expects_the_development_aaguid() {
    let ca = TestCa::new("test");
    let (app, _) = app_trusting(&ca, &[("APP_ATTEST_ENVIRONMENT", "development")]);
    let dev = IosAttestation::new(false).build(&ca);
    assert_eq!(attest(&app, &dev.body(DEVICE)).await.status, 200);
    let prod = IosAttestation::new(true).build(&ca);
    assert_eq!(
        outcome(&attest(&app, &prod.body(DEVICE)).await),
        invalid(aa::ENVIRONMENT_MISMATCH)
    );
}

#[tokio::test]
async fn each_check_fails_with_its_fixed_message_or_advice_code() {
    let ca = TestCa::new("test");
    let stranger = TestCa::new("stranger");
    let (app, state) = app_trusting(&ca, &[]);
    let bent = |f: &dyn Fn(&mut IosAttestation)| {
        let mut a = IosAttestation::new(true);
        f(&mut a);
        a
    };
    let cbor = |value: ciborium::Value| {
        let mut bytes = Vec::new();
        ciborium::into_writer(&value, &mut bytes).unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let good = IosAttestation::new(true).build(&ca);
    let with_object = |object: String| {
        json!({"attestation_object": object, "key_id": good.key_id, "challenge": good.challenge, "device_id": DEVICE}).to_string()
    };
    // Check 1: structure.
    let structural: Vec<(&str, String)> = vec![
        ("not base64", with_object("*".repeat(120))),
        (
            "base64 of something that is not CBOR",
            with_object(base64::engine::general_purpose::STANDARD.encode([0xff_u8; 120])),
        ),
        (
            "a CBOR array",
            with_object(cbor(ciborium::Value::Array(vec![ciborium::Value::Bytes(
                vec![0; 100],
            )]))),
        ),
        (
            "another format",
            bent(&|a| a.fmt = "packed".into()).build(&ca).body(DEVICE),
        ),
        (
            "a single certificate in x5c",
            bent(&|a| a.leaf_only = true).build(&ca).body(DEVICE),
        ),
        (
            "no receipt",
            with_object(cbor(ciborium::Value::Map(vec![
                (
                    ciborium::Value::Text("fmt".into()),
                    ciborium::Value::Text("apple-appattest".into()),
                ),
                (
                    ciborium::Value::Text("attStmt".into()),
                    ciborium::Value::Map(vec![(
                        ciborium::Value::Text("x5c".into()),
                        ciborium::Value::Array(vec![
                            ciborium::Value::Bytes(vec![1; 60]),
                            ciborium::Value::Bytes(vec![2; 60]),
                        ]),
                    )]),
                ),
                (
                    ciborium::Value::Text("authData".into()),
                    ciborium::Value::Bytes(vec![0; 60]),
                ),
            ]))),
        ),
    ];
    for (name, body) in structural {
        assert_eq!(
            outcome(&attest(&app, &body).await),
            failed(aa::MALFORMED),
            "{name}"
        );
    }
    // Check 2: the chain.
    let expired_intermediate = {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "expired intermediate");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        TestCa::with_intermediate_params("expired", params)
    };
    let not_a_ca = {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "leaf-only intermediate");
        TestCa::with_intermediate_params("not-a-ca", params)
    };
    let (expired_app, _) = app_trusting(&expired_intermediate, &[]);
    let (not_a_ca_app, _) = app_trusting(&not_a_ca, &[]);
    let chains: Vec<(&str, &Router, String)> = vec![
        (
            "a chain rooted in another CA",
            &app,
            IosAttestation::new(true).build(&stranger).body(DEVICE),
        ),
        (
            "an expired credential certificate",
            &app,
            bent(&|a| a.leaf_validity = Some((2020, 2021)))
                .build(&ca)
                .body(DEVICE),
        ),
        (
            "a credential certificate not valid yet",
            &app,
            bent(&|a| a.leaf_validity = Some((2090, 2091)))
                .build(&ca)
                .body(DEVICE),
        ),
        (
            "an expired intermediate",
            &expired_app,
            IosAttestation::new(true)
                .build(&expired_intermediate)
                .body(DEVICE),
        ),
        (
            "an intermediate that is not a CA",
            &not_a_ca_app,
            IosAttestation::new(true).build(&not_a_ca).body(DEVICE),
        ),
    ];
    for (name, app, body) in chains {
        assert_eq!(
            outcome(&attest(app, &body).await),
            failed(aa::CHAIN_INVALID),
            "{name}"
        );
    }
    // Check 3 to 8.
    let other_key_id = base64::engine::general_purpose::STANDARD.encode([7_u8; 32]);
    let checks: Vec<(&str, String, Outcome)> = vec![
        ("a nonce over another challenge", json!({"attestation_object": good.attestation_object, "key_id": good.key_id, "challenge": "another-challenge-value", "device_id": DEVICE}).to_string(), invalid(aa::NONCE_MISMATCH)),
        ("a wrong nonce in the certificate", bent(&|a| a.nonce = Some(vec![9; 32])).build(&ca).body(DEVICE), invalid(aa::NONCE_MISMATCH)),
        ("no nonce extension", bent(&|a| a.omit_nonce_extension = true).build(&ca).body(DEVICE), invalid(aa::NONCE_MISMATCH)),
        ("another key id", json!({"attestation_object": good.attestation_object, "key_id": other_key_id, "challenge": good.challenge, "device_id": DEVICE}).to_string(), invalid(aa::KEY_ID_MISMATCH)),
        ("a key id that is not base64", json!({"attestation_object": good.attestation_object, "key_id": "%%%not-base64%%%", "challenge": good.challenge, "device_id": DEVICE}).to_string(), failed(aa::KEY_ID_NOT_BASE64)),
        ("authenticator data cut short", bent(&|a| a.truncate_auth_data = Some(54)).build(&ca).body(DEVICE), failed(aa::AUTH_DATA_MALFORMED)),
        ("another app id", bent(&|a| a.app_id = format!("{TEAM_ID}.com.evil.app")).build(&ca).body(DEVICE), invalid(aa::APP_ID_MISMATCH)),
        ("another team", bent(&|a| a.app_id = format!("ZZZZZ99999.{BUNDLE_ID}")).build(&ca).body(DEVICE), invalid(aa::APP_ID_MISMATCH)),
        ("a counter of 1", bent(&|a| a.counter = 1).build(&ca).body(DEVICE), invalid(aa::COUNTER_NOT_ZERO)),
        ("the development AAGUID in production", bent(&|a| a.aaguid = *b"appattestdevelop").build(&ca).body(DEVICE), invalid(aa::ENVIRONMENT_MISMATCH)),
        ("another credential id", bent(&|a| a.credential_id = Some(vec![3; 32])).build(&ca).body(DEVICE), invalid(aa::CREDENTIAL_ID_MISMATCH)),
        ("a short credential id", bent(&|a| a.credential_id = Some(vec![3; 16])).build(&ca).body(DEVICE), invalid(aa::CREDENTIAL_ID_MISMATCH)),
        ("a credential id cut off", bent(&|a| a.truncate_auth_data = Some(70)).build(&ca).body(DEVICE), invalid(aa::CREDENTIAL_ID_MISMATCH)),
    ];
    for (name, body, expected) in checks {
        assert_eq!(outcome(&attest(&app, &body).await), expected, "{name}");
    }
    let stored = state
        .attestations
        .get_result(Platform::Ios, DEVICE)
        .await
        .unwrap()
        .expect("invalid results are stored");
    assert_eq!(stored.status, "invalid");
}

#[tokio::test]
async fn with_the_embedded_apple_root_a_perfect_object_from_another_ca_fails() {
    // Everything but the root is right — RP ID hash, nonce, key id, counter, AAGUID — so only the
    // anchor can be what fails.
    let ca = TestCa::new("not-apple");
    let app = apuntador::router(AppState::in_memory(ios_config(&[])));
    let built = IosAttestation::new(true).build(&ca);
    assert_eq!(
        outcome(&attest(&app, &built.body(DEVICE)).await),
        failed(aa::CHAIN_INVALID)
    );
    // The same object is valid where its own root is the anchor, so only the root made it fail.
    let (trusting, _) = app_trusting(&ca, &[]);
    assert_eq!(attest(&trusting, &built.body(DEVICE)).await.status, 200);
}

#[tokio::test]
async fn the_same_object_twice_is_evidence_reused_even_in_another_base64_spelling() {
    let ca = TestCa::new("test");
    let (app, _) = app_trusting(&ca, &[]);
    let built = IosAttestation::new(true).build(&ca);
    assert_eq!(attest(&app, &built.body(DEVICE)).await.status, 200);
    assert_eq!(
        outcome(&attest(&app, &built.body(DEVICE)).await),
        invalid(apuntador::attestation::EVIDENCE_REUSED)
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&built.attestation_object)
        .unwrap();
    let respelled = json!({
        "attestation_object": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        "key_id": built.key_id, "challenge": built.challenge, "device_id": DEVICE,
    });
    assert_eq!(
        outcome(&attest(&app, &respelled.to_string()).await),
        invalid(apuntador::attestation::EVIDENCE_REUSED)
    );
}

#[tokio::test]
async fn unconfigured_ios_is_501_and_bad_bodies_are_422() {
    let app = apuntador::router(AppState::in_memory(config(&[])));
    let answer = send(&app, "POST", "/device/attest/ios", &[], None).await;
    assert_eq!(answer.status, 501);
    assert_eq!(answer.json()["detail"], "iOS attestation is not configured");
    let ca = TestCa::new("test");
    let (app, _) = app_trusting(&ca, &[]);
    let answer = attest(
        &app,
        r#"{"attestation_object": "abc", "challenge": "short", "device_id": "x"}"#,
    )
    .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.json()["errors"],
        json!([
            {"loc": ["body", "attestation_object"], "msg": "String should have at least 100 characters", "type": "string_too_short"},
            {"loc": ["body", "key_id"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "challenge"], "msg": "String should have at least 16 characters", "type": "string_too_short"},
            {"loc": ["body", "device_id"], "msg": "String should match pattern '^[A-Za-z0-9_-]{5,128}$'", "type": "string_pattern_mismatch"},
        ])
    );
}
