//! Re-enrolment policy and the administrator's device revocation through the router: 409
//! `device_already_enrolled` while the device has an active certificate, `ENROLLMENT_REPLACE_ACTIVE`,
//! `POST /admin/devices/{device_id}/revoke` with its authentication, validation and answers, and the
//! OpenAPI description of both.

use serde_json::json;

use crate::helpers::{Answer, config, send};
use crate::pki_support::{Kind, Openssl, active, code, enroll, status};

const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef0123456789";

fn admin_app(overrides: &[(&str, &str)]) -> (axum::Router, apuntador::AppState) {
    let mut pairs = vec![("ADMIN_API_KEY", ADMIN_KEY)];
    pairs.extend_from_slice(overrides);
    let state = apuntador::AppState::in_memory(config(&pairs));
    (apuntador::router(state.clone()), state)
}

async fn admin_revoke(
    app: &axum::Router,
    device: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    send(
        app,
        "POST",
        &format!("/admin/devices/{device}/revoke"),
        headers,
        body,
    )
    .await
}

fn bearer() -> String {
    format!("Bearer {ADMIN_KEY}")
}

fn assert_problem(answer: &Answer, status: u16, error: &str) {
    assert_eq!(
        (answer.status, code(answer).as_str()),
        (status, error),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.headers["content-type"], "application/problem+json",
        "a problem document"
    );
}

#[tokio::test]
async fn enrolment_of_a_device_with_an_active_certificate_is_409_and_writes_nothing() {
    let openssl = Openssl::new();
    let (app, state) = admin_app(&[]);
    let csr = openssl.csr(Kind::P256);
    let first = enroll(&app, "owned-device", "android", &csr).await;
    assert_eq!(first.status, 201);
    let pem = first.json()["certificate"].as_str().unwrap().to_owned();
    let before = state
        .certificates
        .list_for_device("owned-device")
        .await
        .unwrap();

    let stranger = enroll(&app, "owned-device", "ios", &openssl.csr(Kind::P256)).await;

    assert_problem(&stranger, 409, "device_already_enrolled");
    assert_eq!(
        stranger.json()["detail"],
        "Device owned-device already has an active certificate; renew it with that certificate or \
         ask an administrator to revoke it"
    );
    assert_eq!(stranger.json()["instance"], "/device/enroll");
    assert_eq!(
        state
            .certificates
            .list_for_device("owned-device")
            .await
            .unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(status(&app, "owned-device", &pem).await.status, 200);
}

#[tokio::test]
async fn bad_input_is_still_answered_before_the_re_enrolment_policy() {
    let openssl = Openssl::new();
    let (app, _) = admin_app(&[]);
    let csr = openssl.csr(Kind::P256);
    assert_eq!(
        enroll(&app, "owned-device", "android", &csr).await.status,
        201
    );

    let invalid = enroll(&app, "owned-device", "pc", &csr).await;
    assert_problem(&invalid, 422, "");
    // One base64 character of the signature changed: a well-formed request with a bad CSR.
    let mut lines: Vec<String> = csr.lines().map(str::to_owned).collect();
    let last = lines.len() - 2;
    let flipped = if lines[last].starts_with('A') {
        "B"
    } else {
        "A"
    };
    lines[last].replace_range(0..1, flipped);
    let broken = lines.join("\n") + "\n";
    let bad_csr = enroll(&app, "owned-device", "android", &broken).await;
    assert_problem(&bad_csr, 400, "invalid_csr");
}

#[tokio::test]
async fn with_replace_active_a_second_enrolment_supersedes_the_first() {
    let openssl = Openssl::new();
    let (app, state) = admin_app(&[("ENROLLMENT_REPLACE_ACTIVE", "true")]);
    let csr = openssl.csr(Kind::P256);
    let first = enroll(&app, "legacy-device", "android", &csr).await.json();

    let second = enroll(&app, "legacy-device", "android", &csr).await;

    assert_eq!(second.status, 201);
    let first_pem = first["certificate"].as_str().unwrap();
    assert_problem(
        &status(&app, "legacy-device", first_pem).await,
        403,
        "certificate_revoked",
    );
    let active = active(&state, "legacy-device").await;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].serial, second.json()["serial"].as_str().unwrap());
}

#[tokio::test]
async fn an_admin_revocation_lets_a_lost_device_enrol_again() {
    let openssl = Openssl::new();
    let (app, state) = admin_app(&[]);
    let csr = openssl.csr(Kind::P256);
    let lost = enroll(&app, "lost-device", "android", &csr).await.json();
    let lost_pem = lost["certificate"].as_str().unwrap().to_owned();
    let auth = bearer();

    let revoked = admin_revoke(
        &app,
        "lost-device",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(r#"{"reason":" phone lost "}"#),
    )
    .await;

    assert_eq!(revoked.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&revoked.body),
        r#"{"device_id":"lost-device","revoked":1}"#
    );
    assert_eq!(revoked.headers["cache-control"], "no-store");
    assert_problem(
        &status(&app, "lost-device", &lost_pem).await,
        403,
        "certificate_revoked",
    );
    let record = state
        .certificates
        .get("lost-device", lost["serial"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.revocation_reason.as_deref(), Some("phone lost"));
    let again = enroll(&app, "lost-device", "android", &csr).await;
    assert_eq!(again.status, 201);
    let new_pem = again.json()["certificate"].as_str().unwrap().to_owned();
    assert_eq!(status(&app, "lost-device", &new_pem).await.status, 200);

    // Nothing active any more after a second revocation; a third counts nothing.
    let empty = admin_revoke(&app, "lost-device", &[("authorization", &auth)], None).await;
    assert_eq!(
        String::from_utf8_lossy(&empty.body),
        r#"{"device_id":"lost-device","revoked":1}"#
    );
    // A JSON `null` body is no body, as the document's `object or null` schema says.
    let none = admin_revoke(
        &app,
        "lost-device",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some("null"),
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&none.body),
        r#"{"device_id":"lost-device","revoked":0}"#
    );
    let reasons: Vec<_> = state
        .certificates
        .list_for_device("lost-device")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.revocation_reason)
        .collect();
    assert!(reasons.contains(&"Manual revocation".to_owned()));
}

#[tokio::test]
async fn admin_revocation_of_an_unknown_device_is_404_device_not_found() {
    let (app, _) = admin_app(&[]);
    let auth = bearer();

    let answer = admin_revoke(&app, "never-seen", &[("authorization", &auth)], None).await;

    assert_problem(&answer, 404, "device_not_found");
    assert_eq!(
        answer.json()["detail"],
        "No certificate found for device never-seen"
    );
}

#[tokio::test]
async fn admin_revocation_follows_the_admin_key_rules() {
    let (disabled, _) = {
        let state = apuntador::AppState::in_memory(config(&[]));
        (apuntador::router(state.clone()), state)
    };
    let auth = bearer();
    let off = admin_revoke(&disabled, "some-device", &[("authorization", &auth)], None).await;
    assert_problem(&off, 403, "admin_disabled");
    assert_eq!(off.json()["detail"], "The admin API is disabled");
    // Authentication comes before the path: a disabled admin API is 403 whatever the device id.
    let off_bad_path = admin_revoke(&disabled, "a.b", &[], None).await;
    assert_problem(&off_bad_path, 403, "admin_disabled");

    let (app, _) = admin_app(&[]);
    let missing = admin_revoke(&app, "a.b", &[], None).await;
    assert_problem(&missing, 401, "missing_credentials");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    let wrong = admin_revoke(
        &app,
        "some-device",
        &[("authorization", "Bearer not-the-admin-key-0123456789abcdef")],
        None,
    )
    .await;
    assert_problem(&wrong, 401, "invalid_credentials");
    assert_eq!(wrong.json()["detail"], "Invalid API key");
    let shape = admin_revoke(&app, "some-device", &[("authorization", ADMIN_KEY)], None).await;
    assert_problem(&shape, 401, "invalid_credentials");

    let get = send(
        &app,
        "GET",
        "/admin/devices/some-device/revoke",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(get.status, 405);
    assert_eq!(get.headers["allow"], "POST");
}

#[tokio::test]
async fn admin_revocation_rejects_bad_paths_and_bodies_and_revokes_nothing() {
    let openssl = Openssl::new();
    let (app, state) = admin_app(&[]);
    assert_eq!(
        enroll(&app, "kept-device", "android", &openssl.csr(Kind::P256))
            .await
            .status,
        201
    );
    let auth = bearer();
    let json_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];

    let bad_path = admin_revoke(&app, "x", &[("authorization", &auth)], None).await;
    assert_problem(&bad_path, 422, "");
    assert_eq!(
        bad_path.json()["errors"],
        json!([{"loc": ["path", "device_id"], "msg": "String should match pattern '^[A-Za-z0-9_-]{5,128}$'", "type": "string_pattern_mismatch"}])
    );
    let not_json = admin_revoke(
        &app,
        "kept-device",
        &[("authorization", &auth), ("content-type", "text/plain")],
        Some("reason=lost"),
    )
    .await;
    assert_problem(&not_json, 415, "");
    let broken = admin_revoke(&app, "kept-device", &json_headers, Some("{")).await;
    assert_problem(&broken, 422, "");
    assert_eq!(broken.json()["errors"][0]["type"], "json_invalid");
    let array = admin_revoke(&app, "kept-device", &json_headers, Some("[]")).await;
    assert_eq!(array.json()["errors"][0]["type"], "object_type");
    let number = admin_revoke(&app, "kept-device", &json_headers, Some(r#"{"reason":5}"#)).await;
    assert_eq!(
        number.json()["errors"],
        json!([{"loc": ["body", "reason"], "msg": "Input should be a valid string", "type": "string_type"}])
    );
    let long = json!({"reason": "é".repeat(257)}).to_string();
    let too_long = admin_revoke(&app, "kept-device", &json_headers, Some(&long)).await;
    assert_eq!(too_long.json()["errors"][0]["type"], "string_too_long");
    assert_eq!(
        active(&state, "kept-device").await.len(),
        1,
        "nothing revoked"
    );

    let null = admin_revoke(
        &app,
        "kept-device",
        &json_headers,
        Some(r#"{"reason":null}"#),
    )
    .await;
    assert_eq!(null.status, 200);
    assert!(active(&state, "kept-device").await.is_empty());
}

#[tokio::test]
async fn the_openapi_document_describes_the_admin_route_and_the_enrolment_409() {
    let app = apuntador::router(apuntador::AppState::in_memory(config(&[(
        "ENABLE_DOCS",
        "true",
    )])));
    let doc = send(&app, "GET", "/openapi.json", &[], None).await.json();
    let admin = &doc["paths"]["/admin/devices/{device_id}/revoke"]["post"];
    assert!(admin.is_object(), "the admin route is documented");
    assert_eq!(admin["security"], json!([{"adminApiKey": []}]));
    for status in ["200", "401", "403", "404", "415", "422"] {
        assert!(
            admin["responses"][status].is_object(),
            "{status} documented"
        );
    }
    assert!(doc["components"]["schemas"]["AdminRevokeResponse"].is_object());
    let conflict = doc["paths"]["/device/enroll"]["post"]["responses"]["409"]["description"]
        .as_str()
        .unwrap();
    assert!(conflict.contains("device_already_enrolled"), "{conflict}");
    assert!(
        !admin.to_string().contains("SPEC"),
        "self-contained: {admin}"
    );
}
