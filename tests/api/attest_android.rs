//! `POST /device/attest/android`: genuine Play
//! Integrity tokens made with test keys, and for every check one token that fails exactly that check,
//! asserting the exact `failed` message or advice code.

use apuntador::AppState;
use apuntador::config::Platform;
use axum::Router;
use serde_json::{Value, json};

use crate::helpers::{
    Answer, AttestationOutcome as Outcome, attestation_failed, attestation_invalid as invalid,
    attestation_outcome as outcome, config, send,
};
use crate::vectors::{PlayKeys, android_body, b64url, jwe, jws, now_millis, verdict};

const DEVICE: &str = "android-0001";
const NONCE: &str = "bm9uY2UtZm9yLXRoZS10ZXN0cy0xMjM0NTY3OA";

fn app_with(keys: &PlayKeys, extra: &[(&str, &str)]) -> (Router, AppState) {
    let vars = keys.config_vars();
    let mut overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.extend_from_slice(extra);
    let state = AppState::in_memory(config(&overrides));
    (apuntador::router(state.clone()), state)
}

async fn attest(app: &Router, body: &str) -> Answer {
    send(
        app,
        "POST",
        "/device/attest/android",
        &[("content-type", "application/json")],
        Some(body),
    )
    .await
}

/// Configuration overrides of one case.
type Extra = Vec<(&'static str, String)>;

fn failed(message: &str) -> Outcome {
    attestation_failed("Play Integrity verification failed", message)
}

#[tokio::test]
async fn a_genuine_token_is_valid_and_answers_the_documented_body() {
    let keys = PlayKeys::generate();
    let (app, state) = app_with(&keys, &[]);
    let answer = attest(
        &app,
        &android_body(&keys.token(&verdict(NONCE)), DEVICE, NONCE),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body = answer.json();
    let keys_in_order: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys_in_order,
        [
            "status",
            "device_id",
            "timestamp",
            "cts_profile_match",
            "basic_integrity",
            "advice",
            "error_message",
            "attestation_id",
            "device_recognition_verdict",
            "app_recognition_verdict"
        ]
    );
    assert_eq!(body["status"], "valid");
    assert_eq!(body["device_id"], DEVICE);
    assert!(apuntador::store::timestamp::parse(body["timestamp"].as_str().unwrap()).is_some());
    assert_eq!(body["cts_profile_match"], true);
    assert_eq!(body["basic_integrity"], true);
    assert_eq!(body["advice"], Value::Null);
    assert_eq!(body["error_message"], Value::Null);
    assert_eq!(body["attestation_id"].as_str().unwrap().len(), 43);
    assert_eq!(
        body["device_recognition_verdict"],
        json!(["MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"])
    );
    assert_eq!(body["app_recognition_verdict"], "PLAY_RECOGNIZED");
    let stored = state
        .attestations
        .get_result(Platform::Android, DEVICE)
        .await
        .unwrap()
        .expect("the valid result is stored");
    assert_eq!(stored.status, "valid");
    assert_eq!(
        stored.attestation_id.as_deref(),
        body["attestation_id"].as_str()
    );
    assert_eq!(stored.response, body);
}

#[tokio::test]
async fn each_decoding_and_signature_check_fails_with_its_fixed_message() {
    use apuntador::attestation::play_integrity as pi;
    let keys = PlayKeys::generate();
    let other = PlayKeys::generate();
    let (app, state) = app_with(&keys, &[]);
    let good = verdict(NONCE);
    let signed = jws(
        &keys.signing,
        &json!({"alg": "ES256"}),
        good.to_string().as_bytes(),
    );
    let a256kw = json!({"alg": "A256KW", "enc": "A256GCM"});
    let genuine = keys.token(&good);
    let parts: Vec<&str> = genuine.split('.').collect();
    let with_part = |index: usize, value: &str| {
        let mut p = parts.clone();
        p[index] = value;
        p.join(".")
    };
    let flipped_tag = {
        let mut tag =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[4])
                .unwrap();
        tag[0] ^= 1;
        with_part(4, &b64url(&tag))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("one part", "x".repeat(150), pi::NOT_JWE),
        ("three parts (a bare JWS)", signed.clone(), pi::NOT_JWE),
        ("a header that is not base64", with_part(0, "!!!!"), pi::NOT_JWE),
        ("a header that is not JSON", with_part(0, &b64url(b"not json")), pi::NOT_JWE),
        (
            "RSA-OAEP key management",
            jwe(&keys.aes, &json!({"alg": "RSA-OAEP", "enc": "A256GCM"}), signed.as_bytes()),
            pi::UNSUPPORTED_ALGORITHM,
        ),
        (
            "A128GCM content encryption",
            jwe(&keys.aes, &json!({"alg": "A256KW", "enc": "A128GCM"}), signed.as_bytes()),
            pi::UNSUPPORTED_ALGORITHM,
        ),
        (
            "compression",
            jwe(&keys.aes, &json!({"alg": "A256KW", "enc": "A256GCM", "zip": "DEF"}), signed.as_bytes()),
            pi::UNSUPPORTED_ALGORITHM,
        ),
        ("another decryption key", other.token(&good), pi::DECRYPTION_FAILED),
        ("a tampered tag", flipped_tag, pi::DECRYPTION_FAILED),
        ("a header changed after encryption (AAD)", with_part(0, &b64url(br#"{"enc":"A256GCM","alg":"A256KW"}"#)), pi::DECRYPTION_FAILED),
        (
            "signed by another key",
            jwe(&keys.aes, &a256kw, jws(&other.signing, &json!({"alg": "ES256"}), good.to_string().as_bytes()).as_bytes()),
            pi::BAD_SIGNATURE,
        ),
        (
            "a JWS header naming RS256",
            jwe(&keys.aes, &a256kw, jws(&keys.signing, &json!({"alg": "RS256"}), good.to_string().as_bytes()).as_bytes()),
            pi::BAD_SIGNATURE,
        ),
        (
            "a plaintext that is not a JWS",
            jwe(&keys.aes, &a256kw, b"plain words, not a JWS at all"),
            pi::BAD_SIGNATURE,
        ),
        (
            "a payload that is not JSON",
            jwe(&keys.aes, &a256kw, jws(&keys.signing, &json!({"alg": "ES256"}), b"not json").as_bytes()),
            pi::MALFORMED_PAYLOAD,
        ),
        (
            "a payload without requestDetails",
            keys.token(&json!({"deviceIntegrity": {"deviceRecognitionVerdict": ["MEETS_DEVICE_INTEGRITY"]}})),
            pi::MALFORMED_PAYLOAD,
        ),
    ];
    for (name, token, message) in cases {
        let answer = attest(&app, &android_body(&token, DEVICE, NONCE)).await;
        assert_eq!(outcome(&answer), failed(message), "{name}");
    }
    assert!(
        state
            .attestations
            .get_result(Platform::Android, DEVICE)
            .await
            .unwrap()
            .is_none(),
        "a failed result is never stored"
    );
}

#[tokio::test]
async fn each_verdict_check_is_invalid_with_its_advice_code() {
    use apuntador::attestation::play_integrity as pi;
    let keys = PlayKeys::generate();
    let digest = b64url(&<sha2::Sha256 as sha2::Digest>::digest(
        b"signing certificate",
    ));
    let other_digest = b64url(&<sha2::Sha256 as sha2::Digest>::digest(
        b"another certificate",
    ));
    let with = |pointer: &str, value: Value| {
        let mut v = verdict(NONCE);
        *v.pointer_mut(pointer).expect(pointer) = value;
        v
    };
    let cases: Vec<(&str, Value, &str, Extra)> = vec![
        (
            "another requested package",
            with("/requestDetails/requestPackageName", json!("com.evil.app")),
            pi::PACKAGE_MISMATCH,
            vec![],
        ),
        (
            "another app package",
            with("/appIntegrity/packageName", json!("com.evil.app")),
            pi::PACKAGE_MISMATCH,
            vec![],
        ),
        (
            "another nonce",
            with("/requestDetails/nonce", json!("another-nonce-value-0000")),
            pi::NONCE_MISMATCH,
            vec![],
        ),
        (
            "a timestamp past the maximum age",
            with(
                "/requestDetails/timestampMillis",
                json!(now_millis() - 301_000),
            ),
            pi::TOKEN_EXPIRED,
            vec![],
        ),
        (
            "a timestamp two minutes ahead",
            with(
                "/requestDetails/timestampMillis",
                json!((now_millis() + 120_000).to_string()),
            ),
            pi::TOKEN_EXPIRED,
            vec![],
        ),
        (
            "a non-numeric timestamp",
            with("/requestDetails/timestampMillis", json!("yesterday")),
            pi::TOKEN_EXPIRED,
            vec![],
        ),
        (
            "an unrecognised app",
            with(
                "/appIntegrity/appRecognitionVerdict",
                json!("UNRECOGNIZED_VERSION"),
            ),
            pi::APP_NOT_RECOGNIZED,
            vec![],
        ),
        (
            "a signing certificate not in the list",
            verdict(NONCE),
            pi::CERTIFICATE_DIGEST_MISMATCH,
            vec![("PLAY_INTEGRITY_CERT_DIGESTS", other_digest.clone())],
        ),
        (
            "only basic integrity",
            with(
                "/deviceIntegrity/deviceRecognitionVerdict",
                json!(["MEETS_BASIC_INTEGRITY"]),
            ),
            pi::DEVICE_INTEGRITY_NOT_MET,
            vec![],
        ),
        (
            "device integrity when strong is required",
            verdict(NONCE),
            pi::DEVICE_INTEGRITY_NOT_MET,
            vec![(
                "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
                "MEETS_STRONG_INTEGRITY".into(),
            )],
        ),
        (
            "no device verdict at all",
            with("/deviceIntegrity", json!({})),
            pi::DEVICE_INTEGRITY_NOT_MET,
            vec![],
        ),
    ];
    for (name, payload, advice, extra) in cases {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (app, state) = app_with(&keys, &extra);
        let answer = attest(&app, &android_body(&keys.token(&payload), DEVICE, NONCE)).await;
        assert_eq!(outcome(&answer), invalid(advice), "{name}");
        let stored = state
            .attestations
            .get_result(Platform::Android, DEVICE)
            .await
            .unwrap()
            .expect("an invalid result is stored");
        assert_eq!(
            (stored.status.as_str(), stored.attestation_id),
            ("invalid", None),
            "{name}"
        );
    }
    // The same checks pass where the configuration allows it.
    let passing: Vec<(&str, Value, Extra)> = vec![
        (
            "a listed signing certificate",
            verdict(NONCE),
            vec![(
                "PLAY_INTEGRITY_CERT_DIGESTS",
                format!("{other_digest},{digest}"),
            )],
        ),
        (
            "an unrecognised app when allowed",
            with(
                "/appIntegrity/appRecognitionVerdict",
                json!("UNRECOGNIZED_VERSION"),
            ),
            vec![("PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP", "true".into())],
        ),
        (
            "basic integrity when basic is required",
            with(
                "/deviceIntegrity/deviceRecognitionVerdict",
                json!(["MEETS_BASIC_INTEGRITY"]),
            ),
            vec![(
                "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
                "MEETS_BASIC_INTEGRITY".into(),
            )],
        ),
        (
            "a numeric timestamp 30 s ahead",
            with(
                "/requestDetails/timestampMillis",
                json!(now_millis() + 30_000),
            ),
            vec![],
        ),
        (
            "a padded nonce in the token",
            with("/requestDetails/nonce", json!(format!("{NONCE}=="))),
            vec![],
        ),
        (
            "no app package name",
            with(
                "/appIntegrity",
                json!({"appRecognitionVerdict": "PLAY_RECOGNIZED"}),
            ),
            vec![],
        ),
    ];
    for (name, payload, extra) in passing {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (app, _) = app_with(&keys, &extra);
        let answer = attest(&app, &android_body(&keys.token(&payload), DEVICE, NONCE)).await;
        assert_eq!(
            answer.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
}

#[tokio::test]
async fn the_problem_document_carries_the_attestation_extensions_and_no_error_code() {
    let keys = PlayKeys::generate();
    let (app, _) = app_with(&keys, &[]);
    let token = keys.token(&verdict("a-different-nonce-0000"));
    let answer = send(
        &app,
        "POST",
        "/device/attest/android",
        &[
            ("content-type", "application/json"),
            (
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793",
            ),
        ],
        Some(&android_body(&token, DEVICE, NONCE)),
    )
    .await;
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        r#"{"type":"https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1","title":"Bad Request","status":400,"detail":"Device failed integrity check: NONCE_MISMATCH","instance":"/device/attest/android","trace_id":"5759e988bd862e3fe1be46a994272793","attestation_status":"invalid","advice":"NONCE_MISMATCH"}"#
    );
}

#[tokio::test]
async fn the_same_token_twice_is_evidence_reused_and_replaces_the_valid_result() {
    let keys = PlayKeys::generate();
    let (app, state) = app_with(&keys, &[]);
    let body = android_body(&keys.token(&verdict(NONCE)), DEVICE, NONCE);
    assert_eq!(attest(&app, &body).await.status, 200);
    let again = attest(&app, &body).await;
    assert_eq!(
        outcome(&again),
        invalid(apuntador::attestation::EVIDENCE_REUSED)
    );
    let stored = state
        .attestations
        .get_result(Platform::Android, DEVICE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, "invalid", "the latest result is the replay");
    // Through the `jws_token` alias it is still the same evidence.
    let alias =
        json!({"jws_token": keys.token(&verdict(NONCE)), "device_id": DEVICE, "nonce": NONCE});
    let first = attest(&app, &alias.to_string()).await;
    assert_eq!(first.status, 200, "the alias is accepted");
    assert_eq!(
        outcome(&attest(&app, &alias.to_string()).await),
        invalid(apuntador::attestation::EVIDENCE_REUSED)
    );
}

#[tokio::test]
async fn a_request_check_failure_does_not_record_the_evidence() {
    // Checks 5-7 come before the replay record (check 8): the token can be resubmitted with the right
    // nonce and is then verified in full.
    let keys = PlayKeys::generate();
    let (app, _) = app_with(&keys, &[]);
    let token = keys.token(&verdict(NONCE));
    let wrong = attest(&app, &android_body(&token, DEVICE, "a-wrong-nonce-00000")).await;
    assert_eq!(outcome(&wrong), invalid("NONCE_MISMATCH"));
    assert_eq!(
        attest(&app, &android_body(&token, DEVICE, NONCE))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_unconfigured_platform_answers_501_before_the_body_is_validated() {
    let app = apuntador::router(AppState::in_memory(config(&[])));
    let answer = send(
        &app,
        "POST",
        "/device/attest/android",
        &[],
        Some("not json"),
    )
    .await;
    assert_eq!(answer.status, 501);
    let body = answer.json();
    assert_eq!(body["error"], "attestation_not_configured");
    assert_eq!(body["detail"], "Android attestation is not configured");
    assert_eq!(
        body["type"],
        "https://datatracker.ietf.org/doc/html/rfc7231#section-6.6.2"
    );
}

#[tokio::test]
async fn bad_bodies_are_422_or_415_with_every_field_error() {
    let keys = PlayKeys::generate();
    let (app, state) = app_with(&keys, &[]);
    let plain = send(
        &app,
        "POST",
        "/device/attest/android",
        &[("content-type", "text/plain")],
        Some("{}"),
    )
    .await;
    assert_eq!(plain.status, 415);
    let answer = attest(
        &app,
        r#"{"integrity_token": "short", "device_id": "a/b", "nonce": 5}"#,
    )
    .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.json()["errors"],
        json!([
            {"loc": ["body", "integrity_token"], "msg": "String should have at least 100 characters", "type": "string_too_short"},
            {"loc": ["body", "device_id"], "msg": "String should match pattern '^[A-Za-z0-9_-]{5,128}$'", "type": "string_pattern_mismatch"},
            {"loc": ["body", "nonce"], "msg": "Input should be a valid string", "type": "string_type"},
        ])
    );
    let missing = attest(&app, "{}").await;
    assert_eq!(
        missing.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["loc"][1].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ["integrity_token", "device_id", "nonce"]
    );
    let long = attest(&app, &android_body(&"x".repeat(16_385), DEVICE, NONCE)).await;
    assert_eq!(long.status, 422);
    let short_nonce = attest(&app, &android_body(&"x".repeat(200), DEVICE, "short")).await;
    assert_eq!(short_nonce.json()["errors"][0]["type"], "string_too_short");
    assert!(
        state
            .attestations
            .get_result(Platform::Android, DEVICE)
            .await
            .unwrap()
            .is_none()
    );
}
