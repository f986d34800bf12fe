//! Logs: one completion event per request with the route template and trace id, and
//! nothing secret — bearer keys, client certificates, verifiers and state tokens never appear.

use apuntador::config::LogFormat;

use crate::helpers::{CONFIG_KEY, config, send};
use crate::log_capture::Capture;

const CERT_HEADER: &str = "-----BEGIN%20CERTIFICATE-----%0AMIIBszCCAVmgAwIBAgIUSECRETCERTBODY%0A-----END%20CERTIFICATE-----%0A";
const VERIFIER: &str = "VerifierThatMustNeverBeLogged-0123456789abcdefghijk";

async fn exercise(format: LogFormat) -> (String, String) {
    let capture = Capture::default();
    let subscriber = apuntador::telemetry::subscriber("debug", format, capture.clone()).unwrap();
    crate::helpers::reliable_log_capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = apuntador::router(apuntador::AppState::in_memory(config(&[
        ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
        ("GOOGLE_CLIENT_ID", "google-client-id-value"),
        ("GOOGLE_CLIENT_SECRET", "google-client-secret-value"),
    ])));
    let bearer = format!("Bearer {CONFIG_KEY}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-client-cert", CERT_HEADER),
        (
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        ),
    ];
    assert_eq!(
        send(
            &app,
            "GET",
            "/config/providers?token=query-secret",
            &headers,
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(&app, "GET", "/device/status/device-0001", &headers, None)
            .await
            .status,
        // The certificate header is malformed: rejected, and never logged.
        403
    );
    let wrong = [
        ("authorization", "Bearer wrong-key-that-is-also-secret"),
        ("x-client-cert", CERT_HEADER),
    ];
    assert_eq!(
        send(&app, "GET", "/config/providers", &wrong, None)
            .await
            .status,
        401
    );
    let body = format!(
        r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"apuntador://oauth-callback","state":"client-state-secret"}}"#
    );
    let started = send(
        &app,
        "POST",
        "/oauth/authorize/googledrive",
        &[
            ("content-type", "application/json"),
            ("x-client-cert", CERT_HEADER),
        ],
        Some(&body),
    )
    .await;
    assert_eq!(started.status, 200);
    let state_token = started.json()["state"].as_str().unwrap().to_owned();
    (capture.text(), state_token)
}

fn assert_nothing_secret(logs: &str, state_token: &str) {
    for secret in [
        CONFIG_KEY,
        "wrong-key-that-is-also-secret",
        "SECRETCERTBODY",
        "BEGIN",
        VERIFIER,
        state_token,
        "client-state-secret",
        "google-client-secret-value",
        "query-secret",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret:?} leaked into the logs:\n{logs}"
        );
    }
}

#[tokio::test]
async fn json_logs_carry_one_completion_event_per_request_and_no_secret() {
    let (logs, state_token) = exercise(LogFormat::Json).await;
    assert_nothing_secret(&logs, &state_token);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let completions: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .collect();
    assert_eq!(completions.len(), 4);
    let first = completions[0];
    assert_eq!(first["route"], "/config/providers");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["status"], 200);
    assert_eq!(first["trace_id"], "5759e988bd862e3fe1be46a994272793");
    assert_eq!(first["level"], "INFO");
    assert!(first["latency_ms"].is_number());
    assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(completions[1]["route"], "/device/status/{device_id}");
    assert_eq!(completions[3]["route"], "/oauth/authorize/{provider}");
    let warn = lines
        .iter()
        .find(|l| l["level"] == "WARN" && l["message"] == "request rejected" && l["status"] == 401)
        .expect("401 adds a WARN");
    assert_eq!(warn["error"], "invalid_credentials");
}

#[tokio::test]
async fn at_log_level_warn_a_rejected_request_logs_its_trace_id_method_and_route() {
    let capture = Capture::default();
    let subscriber =
        apuntador::telemetry::subscriber("warn", LogFormat::Json, capture.clone()).unwrap();
    crate::helpers::reliable_log_capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = apuntador::router(apuntador::AppState::in_memory(config(&[])));
    let headers = [(
        "x-amzn-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    )];

    let status = send(&app, "GET", "/device/status/device-0001", &headers, None)
        .await
        .status;

    assert_eq!(status, 401);
    let lines: Vec<serde_json::Value> = capture
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "only the WARN line at warn: {lines:?}");
    let warn = &lines[0];
    assert_eq!(warn["message"], "request rejected");
    assert_eq!(warn["error"], "certificate_required");
    assert_eq!(warn["trace_id"], "5759e988bd862e3fe1be46a994272793");
    assert_eq!(warn["method"], "GET");
    assert_eq!(warn["route"], "/device/status/{device_id}");
}

#[tokio::test]
async fn human_logs_are_one_line_per_event_and_no_secret() {
    let (logs, state_token) = exercise(LogFormat::Human).await;
    assert_nothing_secret(&logs, &state_token);
    let completion = logs
        .lines()
        .find(|l| l.contains("request completed"))
        .unwrap();
    assert!(completion.contains(" INFO "), "{completion}");
    assert!(
        completion.contains("route=/config/providers"),
        "{completion}"
    );
    assert!(
        completion.contains("trace_id=5759e988bd862e3fe1be46a994272793"),
        "{completion}"
    );
}

#[tokio::test]
async fn a_full_oauth_flow_logs_no_code_verifier_state_token_secret_or_location() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "ACCESS-TOKEN-VALUE", "refresh_token": "REFRESH-TOKEN-VALUE", "expires_in": 3599
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let token_url = format!("{}/token", server.uri());
    let revoke_url = format!("{}/revoke", server.uri());

    let capture = Capture::default();
    let subscriber =
        apuntador::telemetry::subscriber("trace", LogFormat::Json, capture.clone()).unwrap();
    crate::helpers::reliable_log_capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = apuntador::router(apuntador::AppState::in_memory(config(&[
        ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
        ("GOOGLE_CLIENT_ID", "google-client-id-value"),
        ("GOOGLE_CLIENT_SECRET", "GOOGLE-CLIENT-SECRET-VALUE"),
        ("GOOGLE_TOKEN_URL", &token_url),
        ("GOOGLE_REVOKE_URL", &revoke_url),
    ])));
    let json = [("content-type", "application/json")];
    let body =
        format!(r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"apuntador://oauth-callback"}}"#);
    let started = send(
        &app,
        "POST",
        "/oauth/authorize/googledrive",
        &json,
        Some(&body),
    )
    .await;
    let state = started.json()["state"].as_str().unwrap().to_owned();
    let callback = send(
        &app,
        "GET",
        &format!("/oauth/callback/googledrive?code=AUTH-CODE-VALUE&state={state}"),
        &[],
        None,
    )
    .await;
    assert_eq!(callback.status, 302);
    let location = callback.header("location").unwrap().to_owned();
    let exchange =
        serde_json::json!({"code": "AUTH-CODE-VALUE", "code_verifier": VERIFIER, "state": state})
            .to_string();
    assert_eq!(
        send(
            &app,
            "POST",
            "/oauth/token/googledrive",
            &json,
            Some(&exchange)
        )
        .await
        .status,
        200
    );
    let refresh = r#"{"refresh_token":"REFRESH-TOKEN-VALUE"}"#;
    assert_eq!(
        send(
            &app,
            "POST",
            "/oauth/refresh/googledrive",
            &json,
            Some(refresh)
        )
        .await
        .status,
        200
    );
    let revoke = r#"{"token":"ACCESS-TOKEN-VALUE"}"#;
    assert_eq!(
        send(
            &app,
            "POST",
            "/oauth/revoke/googledrive",
            &json,
            Some(revoke)
        )
        .await
        .status,
        200
    );

    let logs = capture.text();
    for secret in [
        "AUTH-CODE-VALUE",
        VERIFIER,
        state.as_str(),
        "ACCESS-TOKEN-VALUE",
        "REFRESH-TOKEN-VALUE",
        "GOOGLE-CLIENT-SECRET-VALUE",
        location.as_str(),
        "oauth-callback?",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret:?} leaked into the logs:\n{logs}"
        );
    }
    let completions = logs
        .lines()
        .filter(|l| l.contains("request completed"))
        .count();
    assert_eq!(completions, 5, "{logs}");
    assert!(
        logs.contains(r#""provider":"googledrive""#),
        "OAuth routes log their provider"
    );
}

#[tokio::test]
async fn attestations_log_no_token_object_key_id_attestation_id_or_platform_details() {
    use crate::vectors::{self, IosAttestation, PlayKeys, TestCa};
    let keys = PlayKeys::generate();
    let ca = TestCa::new("logging");
    let vars = keys.config_vars();
    let mut overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.extend([
        ("APPLE_TEAM_ID", vectors::TEAM_ID),
        ("APPLE_BUNDLE_ID", vectors::BUNDLE_ID),
        ("ADMIN_API_KEY", "admin-key-that-must-never-be-logged-0123"),
    ]);
    let app = apuntador::router(
        apuntador::AppState::in_memory(config(&overrides))
            .with_app_attest_trust_anchor(&ca.root_der())
            .unwrap(),
    );
    let capture = Capture::default();
    let subscriber =
        apuntador::telemetry::subscriber("trace", LogFormat::Json, capture.clone()).unwrap();
    crate::helpers::reliable_log_capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    let json = [("content-type", "application/json")];
    let nonce = "logging-nonce-0000000";
    let token = keys.token(&vectors::verdict(nonce));
    let android = send(
        &app,
        "POST",
        "/device/attest/android",
        &json,
        Some(&vectors::android_body(&token, "log-android", nonce)),
    )
    .await;
    let built = IosAttestation::new(true).build(&ca);
    let ios = send(
        &app,
        "POST",
        "/device/attest/ios",
        &json,
        Some(&built.body("log-ios-01")),
    )
    .await;
    let fingerprint = vectors::fingerprint("logged");
    let desktop = send(
        &app,
        "POST",
        "/device/attest/desktop",
        &json,
        Some(&vectors::desktop_body("log-desk-01", &fingerprint)),
    )
    .await;
    let replay = send(
        &app,
        "POST",
        "/device/attest/ios",
        &json,
        Some(&built.body("log-ios-01")),
    )
    .await;
    assert_eq!(
        (android.status, ios.status, desktop.status, replay.status),
        (200, 200, 200, 400)
    );
    let cleared = send(
        &app,
        "POST",
        "/device/attest/clear-cache",
        &[(
            "authorization",
            "Bearer admin-key-that-must-never-be-logged-0123",
        )],
        None,
    )
    .await;
    assert_eq!(cleared.status, 204);
    let logs = capture.text();
    let mut secrets = vec![
        token.clone(),
        token[..40].to_owned(),
        built.attestation_object[..40].to_owned(),
        built.key_id.clone(),
        built.challenge.clone(),
        nonce.to_owned(),
        "secret-host-name".to_owned(),
        "admin-key-that-must-never-be-logged".to_owned(),
    ];
    for answer in [&android, &ios, &desktop] {
        secrets.push(answer.json()["attestation_id"].as_str().unwrap().to_owned());
    }
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "{secret} logged:\n{logs}");
    }
    assert!(
        logs.contains("attest.android") || logs.contains("log-android"),
        "the attestation is logged:\n{logs}"
    );
    let completions = logs
        .lines()
        .filter(|l| l.contains("\"request completed\""))
        .count();
    assert_eq!(completions, 5);
}
