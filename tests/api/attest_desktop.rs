//! `POST /device/attest/desktop` (fingerprint binding and its rate limit), `POST
//! /device/attest/clear-cache` (the admin key, and what each scope clears) and enrolment with
//! attestation ids produced by real attestations (used once, within their maximum age).

use apuntador::AppState;
use apuntador::config::Platform;
use axum::Router;
use serde_json::json;

use crate::helpers::{Answer, config, send};
use crate::pki_support::{Kind, Openssl};
use crate::vectors::{self, IosAttestation, PlayKeys, TestCa, desktop_body, fingerprint};

const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef0123456789";

fn app(extra: &[(&str, &str)]) -> (Router, AppState) {
    let state = AppState::in_memory(config(extra));
    (apuntador::router(state.clone()), state)
}

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

async fn desktop(app: &Router, device: &str, fp: &str) -> Answer {
    post(app, "/device/attest/desktop", &desktop_body(device, fp)).await
}

async fn clear(app: &Router, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    send(app, "POST", "/device/attest/clear-cache", headers, body).await
}

fn bearer() -> String {
    format!("Bearer {ADMIN_KEY}")
}

#[tokio::test]
async fn the_first_fingerprint_binds_and_the_same_one_stays_valid() {
    let (app, _) = app(&[]);
    let fp = fingerprint("laptop");
    let first = desktop(&app, "desk-0001", &fp).await;
    assert_eq!(first.status, 200);
    let body = first.json();
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
            "fingerprint_match",
            "rate_limit_ok",
            "error_message",
            "attestation_id"
        ]
    );
    assert_eq!(
        (
            &body["status"],
            &body["fingerprint_match"],
            &body["rate_limit_ok"]
        ),
        (&json!("valid"), &json!(true), &json!(true))
    );
    let second = desktop(&app, "desk-0001", &fp).await.json();
    assert_eq!(second["status"], "valid");
    assert_ne!(
        second["attestation_id"], body["attestation_id"],
        "each valid result has a fresh id"
    );
}

#[tokio::test]
async fn another_fingerprint_is_invalid_with_the_exact_problem() {
    let (app, state) = app(&[]);
    assert_eq!(
        desktop(&app, "desk-0002", &fingerprint("a")).await.status,
        200
    );
    let answer = send(
        &app,
        "POST",
        "/device/attest/desktop",
        &[
            ("content-type", "application/json"),
            (
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793",
            ),
        ],
        Some(&desktop_body("desk-0002", &fingerprint("b"))),
    )
    .await;
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        r#"{"type":"https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1","title":"Bad Request","status":400,"detail":"Device verification failed: fingerprint does not match the one bound to this device","instance":"/device/attest/desktop","trace_id":"5759e988bd862e3fe1be46a994272793","attestation_status":"invalid","advice":"FINGERPRINT_MISMATCH","fingerprint_match":false}"#
    );
    let stored = state
        .attestations
        .get_result(Platform::Desktop, "desk-0002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.status.as_str(), stored.attestation_id),
        ("invalid", None)
    );
    assert_eq!(
        state.attestations.get_binding("desk-0002").await.unwrap(),
        Some(fingerprint("a")),
        "the first binding stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_first_attestations_with_different_fingerprints_exactly_one_binds() {
    let (app, _) = app(&[("DESKTOP_ATTESTATION_MAX_PER_HOUR", "100")]);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                desktop(&app, "desk-race", &fingerprint(&i.to_string()))
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        9,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_eleventh_attempt_in_an_hour_is_429_with_the_seconds_to_the_next_hour() {
    let (app, _) = app(&[]);
    let fp = fingerprint("rate");
    for attempt in 1..=10 {
        // Every attempt counts, valid or not.
        let fp = if attempt == 5 {
            fingerprint("other")
        } else {
            fp.clone()
        };
        let status = desktop(&app, "desk-rate", &fp).await.status;
        assert!(
            status == 200 || status == 400,
            "attempt {attempt}: {status}"
        );
    }
    let before = chrono::Utc::now();
    let eleventh = desktop(&app, "desk-rate", &fp).await;
    let after = chrono::Utc::now();
    assert_eq!(eleventh.status, 429);
    let body = eleventh.json();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(
        body["detail"],
        "Too many desktop attestations for this device; retry later"
    );
    assert_eq!(
        body["type"],
        "https://datatracker.ietf.org/doc/html/rfc6585#section-4"
    );
    let retry: i64 = eleventh.header("retry-after").unwrap().parse().unwrap();
    let to_next_hour = |at: chrono::DateTime<chrono::Utc>| 3600 - at.timestamp().rem_euclid(3600);
    assert!(
        (to_next_hour(after)..=to_next_hour(before) + 1).contains(&retry),
        "Retry-After {retry} is the time to the next hour ({}..{})",
        to_next_hour(after),
        to_next_hour(before)
    );
    assert!((1..=3600).contains(&retry));
    // The limit is per device.
    assert_eq!(desktop(&app, "desk-other", &fp).await.status, 200);
}

#[tokio::test]
async fn disabled_desktop_attestation_is_501_and_bad_bodies_are_422() {
    let (off, _) = app(&[("DESKTOP_ATTESTATION_ENABLED", "false")]);
    let answer = send(&off, "POST", "/device/attest/desktop", &[], None).await;
    assert_eq!(answer.status, 501);
    assert_eq!(
        answer.json()["detail"],
        "Desktop attestation is not configured"
    );
    let (app, state) = app(&[]);
    let answer = post(
        &app,
        "/device/attest/desktop",
        &json!({"device_id": "desk-0003", "fingerprint": fingerprint("x").to_uppercase(), "platform_details": "linux"}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.json()["errors"],
        json!([
            {"loc": ["body", "fingerprint"], "msg": "String should match pattern '^[a-f0-9]{64}$'", "type": "string_pattern_mismatch"},
            {"loc": ["body", "platform_details"], "msg": "Input should be a valid object", "type": "object_type"},
        ])
    );
    let missing = post(&app, "/device/attest/desktop", "{}").await.json();
    assert_eq!(missing["errors"].as_array().unwrap().len(), 3);
    assert_eq!(
        state.attestations.get_binding("desk-0003").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn clear_cache_is_403_without_an_admin_key_and_401_without_the_right_one() {
    let (disabled, _) = app(&[]);
    let answer = clear(&disabled, &[("authorization", "Bearer anything")], None).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.json()["error"], "admin_disabled");
    assert_eq!(answer.json()["detail"], "The admin API is disabled");
    let (app, _) = app(&[("ADMIN_API_KEY", ADMIN_KEY)]);
    let missing = clear(&app, &[], None).await;
    assert_eq!(
        (missing.status, missing.json()["error"].clone()),
        (401, json!("missing_credentials"))
    );
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let wrong = clear(
        &app,
        &[("authorization", "Bearer not-the-admin-key-0123456789abcdef")],
        None,
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.json()["detail"].clone()),
        (401, json!("Invalid API key"))
    );
    let config_key = clear(
        &app,
        &[(
            "authorization",
            &format!("Bearer {}", crate::helpers::CONFIG_KEY),
        )],
        None,
    )
    .await;
    assert_eq!(
        config_key.status, 401,
        "the config key is not the admin key"
    );
}

#[tokio::test]
async fn clear_cache_answers_204_without_a_body_and_validates_a_given_body() {
    let (app, state) = app(&[("ADMIN_API_KEY", ADMIN_KEY)]);
    let auth = bearer();
    let ok = clear(
        &app,
        &[("authorization", &auth), ("content-type", "text/plain")],
        None,
    )
    .await;
    assert_eq!(ok.status, 204);
    assert!(ok.body.is_empty());
    assert_eq!(ok.header("content-type"), None);
    assert_eq!(
        state.attestations.generation().await.unwrap(),
        1,
        "an empty body bumps the generation"
    );
    let json_ct = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    assert_eq!(clear(&app, &json_ct, Some("{}")).await.status, 204);
    assert_eq!(state.attestations.generation().await.unwrap(), 2);
    let not_json = clear(
        &app,
        &[("authorization", &auth), ("content-type", "text/plain")],
        Some("device_id=x"),
    )
    .await;
    assert_eq!(not_json.status, 415);
    let bad = clear(&app, &json_ct, Some(r#"{"platform": "web"}"#)).await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.json()["errors"],
        json!([
            {"loc": ["body", "platform"], "msg": "Input should be 'android', 'ios' or 'desktop'", "type": "enum"},
        ])
    );
    let orphan = clear(&app, &json_ct, Some(r#"{"platform": "ios"}"#)).await;
    assert_eq!(
        orphan.json()["errors"],
        json!([
            {"loc": ["body", "platform"], "msg": "Value error, platform requires device_id", "type": "value_error"},
        ])
    );
    let bad_device = clear(&app, &json_ct, Some(r#"{"device_id": "../etc"}"#)).await;
    assert_eq!(
        bad_device.json()["errors"][0]["type"],
        "string_pattern_mismatch"
    );
    let broken = clear(&app, &json_ct, Some("{")).await;
    assert_eq!(broken.json()["errors"][0]["type"], "json_invalid");
    assert_eq!(
        state.attestations.generation().await.unwrap(),
        2,
        "rejected requests change nothing"
    );
}

#[tokio::test]
async fn clearing_a_device_removes_its_results_and_binding_and_a_platform_only_that_one() {
    let (app, state) = app(&[("ADMIN_API_KEY", ADMIN_KEY)]);
    let auth = bearer();
    let json_ct = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    for device in ["desk-a0001", "desk-b0001"] {
        assert_eq!(
            desktop(&app, device, &fingerprint(device)).await.status,
            200
        );
    }
    let clear_one = json!({"device_id": "desk-a0001", "platform": "ios"}).to_string();
    assert_eq!(clear(&app, &json_ct, Some(&clear_one)).await.status, 204);
    assert!(
        state
            .attestations
            .get_result(Platform::Desktop, "desk-a0001")
            .await
            .unwrap()
            .is_some(),
        "another platform's result stays"
    );
    let clear_desktop = json!({"device_id": "desk-a0001", "platform": "desktop"}).to_string();
    assert_eq!(
        clear(&app, &json_ct, Some(&clear_desktop)).await.status,
        204
    );
    assert!(
        state
            .attestations
            .get_result(Platform::Desktop, "desk-a0001")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        state.attestations.get_binding("desk-a0001").await.unwrap(),
        None
    );
    // A new fingerprint binds after the clear.
    assert_eq!(
        desktop(&app, "desk-a0001", &fingerprint("new"))
            .await
            .status,
        200
    );
    let clear_device = json!({"device_id": "desk-b0001"}).to_string();
    assert_eq!(clear(&app, &json_ct, Some(&clear_device)).await.status, 204);
    assert!(
        state
            .attestations
            .get_result(Platform::Desktop, "desk-b0001")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        state.attestations.get_binding("desk-b0001").await.unwrap(),
        None
    );
    assert_eq!(
        state.attestations.get_binding("desk-a0001").await.unwrap(),
        Some(fingerprint("new")),
        "other devices are untouched"
    );
}

async fn enroll(
    app: &Router,
    device: &str,
    platform: &str,
    csr: &str,
    attestation: Option<&str>,
) -> Answer {
    let body =
        json!({"csr": csr, "device_id": device, "platform": platform, "attestation": attestation});
    post(app, "/device/enroll", &body.to_string()).await
}

fn code(answer: &Answer) -> String {
    answer.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn enrolment_consumes_the_id_of_a_real_attestation_once_per_platform() {
    let keys = PlayKeys::generate();
    let ca = TestCa::new("test");
    let vars = keys.config_vars();
    let mut overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.extend([
        ("APPLE_TEAM_ID", vectors::TEAM_ID),
        ("APPLE_BUNDLE_ID", vectors::BUNDLE_ID),
        ("ENROLLMENT_REQUIRE_ATTESTATION", "true"),
        ("ADMIN_API_KEY", ADMIN_KEY),
    ]);
    let state = AppState::in_memory(config(&overrides))
        .with_app_attest_trust_anchor(&ca.root_der())
        .unwrap();
    let app = apuntador::router(state.clone());
    let csr = Openssl::new().csr(Kind::P256);

    let nonce = "enrolment-nonce-000000";
    let android = post(
        &app,
        "/device/attest/android",
        &vectors::android_body(&keys.token(&vectors::verdict(nonce)), "phone-0001", nonce),
    )
    .await
    .json();
    let android_id = android["attestation_id"].as_str().unwrap().to_owned();
    let ios = post(
        &app,
        "/device/attest/ios",
        &IosAttestation::new(true).build(&ca).body("tablet-0001"),
    )
    .await
    .json();
    let ios_id = ios["attestation_id"].as_str().unwrap().to_owned();

    // An id belongs to its platform and device.
    let wrong_platform = enroll(&app, "phone-0001", "ios", &csr, Some(&android_id)).await;
    assert_eq!(
        (wrong_platform.status, code(&wrong_platform)),
        (403, "attestation_invalid".into())
    );
    let wrong_device = enroll(&app, "tablet-0001", "android", &csr, Some(&android_id)).await;
    assert_eq!(
        (wrong_device.status, code(&wrong_device)),
        (403, "attestation_invalid".into())
    );
    // Used once.
    assert_eq!(
        enroll(&app, "phone-0001", "android", &csr, Some(&android_id))
            .await
            .status,
        201
    );
    // While its certificate is active the device cannot enrol again (nothing is consumed then)...
    let again = enroll(&app, "phone-0001", "android", &csr, Some(&android_id)).await;
    assert_eq!(
        (again.status, code(&again)),
        (409, "device_already_enrolled".into())
    );
    // ...and once it is revoked, the used id no longer works.
    assert!(
        apuntador::devices::revoke(&state, "phone-0001", None)
            .await
            .unwrap()
    );
    let reused = enroll(&app, "phone-0001", "android", &csr, Some(&android_id)).await;
    assert_eq!(
        (reused.status, code(&reused)),
        (403, "attestation_invalid".into())
    );
    // Clearing the whole cache retires ids not yet used.
    let auth = bearer();
    assert_eq!(
        clear(&app, &[("authorization", &auth)], None).await.status,
        204
    );
    let retired = enroll(&app, "tablet-0001", "ios", &csr, Some(&ios_id)).await;
    assert_eq!(
        (retired.status, code(&retired)),
        (403, "attestation_invalid".into())
    );
    // A new attestation after the clear works.
    let fresh = post(
        &app,
        "/device/attest/ios",
        &IosAttestation::new(true).build(&ca).body("tablet-0001"),
    )
    .await
    .json();
    let fresh_id = fresh["attestation_id"].as_str().unwrap();
    assert_eq!(
        enroll(&app, "tablet-0001", "ios", &csr, Some(fresh_id))
            .await
            .status,
        201
    );
    // An invalid attestation replaces the valid result, so its id no longer works.
    let valid = desktop(&app, "desk-0009", &fingerprint("one")).await.json();
    assert_eq!(
        desktop(&app, "desk-0009", &fingerprint("two")).await.status,
        400
    );
    let replaced = enroll(
        &app,
        "desk-0009",
        "desktop",
        &csr,
        valid["attestation_id"].as_str(),
    )
    .await;
    assert_eq!(
        (replaced.status, code(&replaced)),
        (403, "attestation_invalid".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attestation_id_enrols_exactly_one_of_ten_concurrent_enrolments() {
    let (app, state) = app(&[("ENROLLMENT_REQUIRE_ATTESTATION", "true")]);
    let csr = Openssl::new().csr(Kind::P256);
    let answer = desktop(&app, "desk-race-01", &fingerprint("race"))
        .await
        .json();
    let id = answer["attestation_id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, csr, id) = (app.clone(), csr.clone(), id.clone());
            tokio::spawn(async move {
                let a = enroll(&app, "desk-race-01", "desktop", &csr, Some(&id)).await;
                (a.status, code(&a))
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| o.0 == 201).count(),
        1,
        "{outcomes:?}"
    );
    // The losers either lost the id (403) or listed the device after the winner's certificate was
    // stored (409, decided before the id is consumed).
    assert!(
        outcomes.iter().filter(|o| o.0 != 201).all(|o| {
            *o == (403, "attestation_invalid".to_owned())
                || *o == (409, "device_already_enrolled".to_owned())
        }),
        "{outcomes:?}"
    );
    let records = state
        .certificates
        .list_for_device("desk-race-01")
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "one certificate issued");
}

#[tokio::test]
async fn the_openapi_document_describes_the_attestation_routes() {
    let (app, _) = app(&[("ENABLE_DOCS", "true")]);
    let doc = send(&app, "GET", "/openapi.json", &[], None).await.json();
    for (path, request, response) in [
        (
            "/device/attest/android",
            "AndroidAttestationRequest",
            "AndroidAttestationResponse",
        ),
        (
            "/device/attest/ios",
            "IosAttestationRequest",
            "IosAttestationResponse",
        ),
        (
            "/device/attest/desktop",
            "DesktopAttestationRequest",
            "DesktopAttestationResponse",
        ),
    ] {
        let operation = &doc["paths"][path]["post"];
        assert!(
            operation["responses"]["501"].is_object(),
            "{path}: 501 documented"
        );
        assert!(
            operation["responses"]["400"].is_object(),
            "{path}: 400 documented"
        );
        assert!(
            doc["components"]["schemas"][request].is_object(),
            "{request}"
        );
        assert!(
            doc["components"]["schemas"][response].is_object(),
            "{response}"
        );
    }
    assert!(doc["paths"]["/device/attest/desktop"]["post"]["responses"]["429"].is_object());
    let clear = &doc["paths"]["/device/attest/clear-cache"]["post"];
    assert_eq!(clear["security"], json!([{"adminApiKey": []}]));
    assert!(clear["responses"]["204"].is_object());
}
