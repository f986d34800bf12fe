//! The security rules of device authentication and of the CA key, one named test each: trust, the
//! stored record, validity, usage, rotation, binding, renewal, re-enrolment, the single point read,
//! the certificate sources, the private key's exposure and device id syntax.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use apuntador::AppState;
use apuntador::pki::ca::{self, CaSubject, KeyType};
use apuntador::store::CaMaterial;
use apuntador::store::memory::{MemoryBlobStore, MemorySecretStore, MemoryStore};
use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::helpers::{config, send};
use crate::pki_support::{
    CountingStore, Kind, KnownCa, Openssl, active, code, craft, enroll, has_mode, post_with_cert,
    register, spki, state_with_ca, status,
};

fn known_app() -> (axum::Router, AppState, KnownCa) {
    let known = KnownCa::new();
    let state = state_with_ca(config(&[]), known.material.clone());
    (apuntador::router(state.clone()), state, known)
}

async fn enrolled(app: &axum::Router, openssl: &Openssl, device: &str) -> (String, String) {
    let body = enroll(app, device, "android", &openssl.csr(Kind::P256))
        .await
        .json();
    (
        body["certificate"].as_str().unwrap().to_owned(),
        body["serial"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_self_signed_certificate_with_a_registered_serial_is_untrusted() {
    let openssl = Openssl::new();
    let (app, _, _) = known_app();
    let (_, serial) = enrolled(&app, &openssl, "forged-device").await;
    let forged = openssl.run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "forged.key",
        "-subj",
        "/CN=forged-device/O=Apuntador Devices",
        "-set_serial",
        &format!("0x{serial}"),
        "-days",
        "1",
        "-addext",
        "extendedKeyUsage=clientAuth",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
    ]);
    let answer = status(&app, "forged-device", &forged).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_untrusted")
    );
    assert_eq!(
        answer.json()["detail"],
        "Client certificate was not issued by this service"
    );
    // Same subject as the real CA, different key: still untrusted.
    let impostor = KnownCa::new();
    let fake = craft(&impostor.load(), "forged-device", &spki(&openssl), |_| {});
    let answer = status(&app, "forged-device", &fake.pem).await;
    assert_eq!(code(&answer), "certificate_untrusted");
}

#[tokio::test]
async fn a_ca_signed_but_unregistered_certificate_is_unknown() {
    let openssl = Openssl::new();
    let (app, _, known) = known_app();
    let issued = craft(&known.load(), "ghost-device", &spki(&openssl), |_| {});
    let answer = status(&app, "ghost-device", &issued.pem).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_unknown")
    );
    assert_eq!(
        answer.json()["detail"],
        format!("Certificate serial {} is not registered", issued.serial)
    );
}

#[tokio::test]
async fn a_revoked_certificate_is_rejected() {
    let openssl = Openssl::new();
    let (app, state, _) = known_app();
    let (pem, _) = enrolled(&app, &openssl, "revoked-device").await;
    assert!(
        apuntador::devices::revoke(&state, "revoked-device", Some("stolen"))
            .await
            .unwrap()
    );
    let answer = status(&app, "revoked-device", &pem).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_revoked")
    );
    assert_eq!(answer.json()["detail"], "Certificate has been revoked");
}

#[tokio::test]
async fn a_ca_signed_certificate_with_different_bytes_is_a_mismatch() {
    let openssl = Openssl::new();
    let (app, state, known) = known_app();
    let ca = known.load();
    let presented = craft(&ca, "twin-device", &spki(&openssl), |_| {});
    let other = craft(&ca, "twin-device", &spki(&openssl), |_| {});
    // Registered under the presented serial, but with another certificate's bytes.
    let mut record = crate::pki_support::record("twin-device", &presented);
    record.certificate_pem = other.pem.clone();
    record.fingerprint_sha256 = Some(other.fingerprint_sha256.clone());
    state
        .certificates
        .issue(&record, &[], "superseded", Utc::now())
        .await
        .unwrap();
    let answer = status(&app, "twin-device", &presented.pem).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_mismatch")
    );
    assert_eq!(
        answer.json()["detail"],
        "Certificate does not match the registered certificate"
    );
}

#[tokio::test]
async fn validity_has_a_60_second_leeway_and_no_more() {
    let openssl = Openssl::new();
    let (app, state, known) = known_app();
    let ca = known.load();
    let key = spki(&openssl);
    let now = Utc::now();
    let cases = [
        (
            "expired-in-leeway",
            now - TimeDelta::days(1),
            now - TimeDelta::seconds(30),
            200,
            "",
        ),
        (
            "expired-past-leeway",
            now - TimeDelta::days(1),
            now - TimeDelta::seconds(120),
            403,
            "certificate_expired",
        ),
        (
            "early-in-leeway",
            now + TimeDelta::seconds(30),
            now + TimeDelta::days(1),
            200,
            "",
        ),
        (
            "early-past-leeway",
            now + TimeDelta::seconds(120),
            now + TimeDelta::days(1),
            403,
            "certificate_not_yet_valid",
        ),
    ];
    for (device, not_before, not_after, want, want_code) in cases {
        let issued = craft(&ca, device, &key, |s| {
            s.not_before = not_before;
            s.not_after = not_after;
        });
        register(&state, device, &issued).await;
        let answer = status(&app, device, &issued.pem).await;
        assert_eq!(
            answer.status,
            want,
            "{device}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        if want == 403 {
            assert_eq!(code(&answer), want_code, "{device}");
        } else {
            assert!(answer.json()["days_until_expiry"].as_i64().is_some());
        }
    }
    let expired = craft(&ca, "expired-detail", &key, |s| {
        s.not_before = now - TimeDelta::days(2);
        s.not_after = now - TimeDelta::days(1);
    });
    assert_eq!(
        status(&app, "expired-detail", &expired.pem).await.json()["detail"],
        "Certificate has expired"
    );
}

#[tokio::test]
async fn a_certificate_without_client_auth_or_a_ca_certificate_has_the_wrong_usage() {
    let openssl = Openssl::new();
    let (app, state, known) = known_app();
    let ca = known.load();
    let key = spki(&openssl);
    let no_client_auth = craft(&ca, "server-device", &key, |s| s.client_auth = false);
    register(&state, "server-device", &no_client_auth).await;
    let answer = status(&app, "server-device", &no_client_auth.pem).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_wrong_usage")
    );
    assert_eq!(
        answer.json()["detail"],
        "Certificate is not valid for client authentication"
    );
    let ca_flag = craft(&ca, "ca-device", &key, |s| s.ca = true);
    register(&state, "ca-device", &ca_flag).await;
    assert_eq!(
        code(&status(&app, "ca-device", &ca_flag.pem).await),
        "certificate_wrong_usage"
    );
    // The CA's own certificate is a CA certificate.
    assert_eq!(
        code(&status(&app, "ca-device", &known.material.cert_pem).await),
        "certificate_wrong_usage"
    );
}

#[tokio::test]
async fn previous_ca_certificates_are_accepted_during_rotation_and_unrelated_cas_are_not() {
    let openssl = Openssl::new();
    let old = KnownCa::new();
    let key = spki(&openssl);
    let from_old = craft(&old.load(), "rotated-device", &key, |_| {});
    let new = ca::generate(
        KeyType::EcP384,
        &CaSubject::Init {
            common_name: "Rotated CA".into(),
        },
        30,
        Utc::now(),
    )
    .unwrap();
    let material = CaMaterial {
        key_pem: new.key_pem,
        cert_pem: new.cert_pem,
        previous_cert_pem: Some(old.material.cert_pem.clone()),
    };
    let state = state_with_ca(config(&[]), material);
    let app = apuntador::router(state.clone());
    register(&state, "rotated-device", &from_old).await;
    let answer = status(&app, "rotated-device", &from_old.pem).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let ca_doc = send(&app, "GET", "/device/ca-certificate", &[], None)
        .await
        .json();
    assert_eq!(
        apuntador::pki::first_certificate_der(ca_doc["previous_certificate"].as_str().unwrap()),
        apuntador::pki::first_certificate_der(&old.material.cert_pem)
    );
    assert!(
        send(&app, "GET", "/device/ca-certificate-pin", &[], None)
            .await
            .json()["previous_sha256_base64"]
            .is_string()
    );
    // New enrolments are issued by the new CA.
    let fresh = enroll(&app, "fresh-device", "ios", &openssl.csr(Kind::P256))
        .await
        .json();
    assert!(
        openssl
            .write("f.pem", fresh["certificate"].as_str().unwrap())
            .exists()
    );
    assert!(
        openssl
            .run(&["x509", "-in", "f.pem", "-noout", "-issuer"])
            .contains("Rotated CA")
    );
    let unrelated = KnownCa::new();
    let stranger = craft(&unrelated.load(), "stranger-device", &key, |_| {});
    register(&state, "stranger-device", &stranger).await;
    assert_eq!(
        code(&status(&app, "stranger-device", &stranger.pem).await),
        "certificate_untrusted"
    );
}

#[tokio::test]
async fn device_a_cannot_renew_revoke_or_read_device_b() {
    let openssl = Openssl::new();
    let (app, state, _) = known_app();
    let (a_pem, a_serial) = enrolled(&app, &openssl, "device-aaaa").await;
    enrolled(&app, &openssl, "device-bbbb").await;
    let read = status(&app, "device-bbbb", &a_pem).await;
    assert_eq!(
        (read.status, code(&read).as_str()),
        (403, "device_mismatch")
    );
    assert_eq!(
        read.json()["detail"],
        "Certificate does not belong to device device-bbbb"
    );
    let renew = post_with_cert(
        &app,
        "/device/renew",
        &a_pem,
        json!({"csr": openssl.csr(Kind::P256), "device_id": "device-bbbb", "old_serial": a_serial}),
    )
    .await;
    assert_eq!(code(&renew), "device_mismatch");
    let revoke = post_with_cert(
        &app,
        "/device/revoke",
        &a_pem,
        json!({"device_id": "device-bbbb"}),
    )
    .await;
    assert_eq!(code(&revoke), "device_mismatch");
    assert_eq!(active(&state, "device-bbbb").await.len(), 1);
}

#[tokio::test]
async fn after_renewal_the_old_certificate_is_rejected_and_the_new_one_accepted() {
    let openssl = Openssl::new();
    let (app, state, _) = known_app();
    let (old, serial) = enrolled(&app, &openssl, "renew-device").await;
    let renewed = post_with_cert(
        &app,
        "/device/renew",
        &old,
        json!({"csr": openssl.csr(Kind::P256), "device_id": "renew-device", "old_serial": serial}),
    )
    .await;
    assert_eq!(renewed.status, 200);
    let new = renewed.json()["certificate"].as_str().unwrap().to_owned();
    assert_eq!(
        code(&status(&app, "renew-device", &old).await),
        "certificate_revoked"
    );
    assert_eq!(status(&app, "renew-device", &new).await.status, 200);
    let again = post_with_cert(
        &app,
        "/device/renew",
        &old,
        json!({"csr": openssl.csr(Kind::P256), "device_id": "renew-device", "old_serial": serial}),
    )
    .await;
    assert_eq!(code(&again), "certificate_revoked");
    assert_eq!(active(&state, "renew-device").await.len(), 1);
}

#[tokio::test]
async fn after_re_enrolment_the_previous_certificate_is_revoked() {
    let openssl = Openssl::new();
    // By default a device with an active certificate cannot enrol again...
    let (strict, _, _) = known_app();
    enrolled(&strict, &openssl, "reenrol-device").await;
    let refused = enroll(
        &strict,
        "reenrol-device",
        "android",
        &openssl.csr(Kind::P256),
    )
    .await;
    assert_eq!(
        (refused.status, code(&refused).as_str()),
        (409, "device_already_enrolled")
    );
    // ...and with ENROLLMENT_REPLACE_ACTIVE the new certificate supersedes the old one.
    let known = KnownCa::new();
    let state = state_with_ca(
        config(&[("ENROLLMENT_REPLACE_ACTIVE", "true")]),
        known.material.clone(),
    );
    let app = apuntador::router(state.clone());
    let (first, _) = enrolled(&app, &openssl, "reenrol-device").await;
    let (second, _) = enrolled(&app, &openssl, "reenrol-device").await;
    let answer = status(&app, "reenrol-device", &first).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_revoked")
    );
    assert_eq!(status(&app, "reenrol-device", &second).await.status, 200);
    let records = state
        .certificates
        .list_for_device("reenrol-device")
        .await
        .unwrap();
    assert_eq!(
        records
            .iter()
            .filter(|r| r.revocation_reason.as_deref() == Some("superseded"))
            .count(),
        1
    );
}

#[tokio::test]
async fn authentication_does_one_point_read_and_no_scan() {
    let openssl = Openssl::new();
    let known = KnownCa::new();
    let counting = Arc::new(CountingStore::default());
    let mem = Arc::new(MemoryStore::new());
    let state = AppState::from_parts(
        config(&[]),
        counting.clone(),
        mem.clone(),
        mem,
        Arc::new(MemorySecretStore::with_ca(known.material.clone())),
        Arc::new(MemoryBlobStore::new()),
    );
    let app = apuntador::router(state.clone());
    let (pem, _) = enrolled(&app, &openssl, "counted-device").await;
    counting.gets.store(0, Ordering::SeqCst);
    counting.lists.store(0, Ordering::SeqCst);
    assert_eq!(status(&app, "counted-device", &pem).await.status, 200);
    assert_eq!(
        counting.gets.load(Ordering::SeqCst),
        1,
        "exactly one point read"
    );
    assert_eq!(
        counting.lists.load(Ordering::SeqCst),
        0,
        "no partition query or scan"
    );
    // A rejected certificate is decided with at most the same single read.
    let ghost = craft(&known.load(), "ghost-device", &spki(&openssl), |_| {});
    status(&app, "ghost-device", &ghost.pem).await;
    assert_eq!(counting.gets.load(Ordering::SeqCst), 2);
    assert_eq!(counting.lists.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn only_listed_sources_are_read_and_a_duplicated_header_is_rejected() {
    let openssl = Openssl::new();
    let known = KnownCa::new();
    let header_only = state_with_ca(
        config(&[("CLIENT_CERT_SOURCES", "header")]),
        known.material.clone(),
    );
    let app = apuntador::router(header_only);
    let (pem, _) = enrolled(&app, &openssl, "sources-device").await;
    let escaped = crate::pki_support::escaped(&pem);
    let via_xfcc = send(
        &app,
        "GET",
        "/device/status/sources-device",
        &[("x-forwarded-client-cert", &format!("Cert=\"{escaped}\""))],
        None,
    )
    .await;
    assert_eq!(
        (via_xfcc.status, code(&via_xfcc).as_str()),
        (401, "certificate_required")
    );
    let via_alb = send(
        &app,
        "GET",
        "/device/status/sources-device",
        &[("x-amzn-mtls-clientcert-leaf", &escaped)],
        None,
    )
    .await;
    assert_eq!(via_alb.status, 401);
    assert_eq!(status(&app, "sources-device", &pem).await.status, 200);

    let custom = state_with_ca(
        config(&[
            ("CLIENT_CERT_SOURCES", "xfcc,header"),
            ("CLIENT_CERT_HEADER", "X-Edge-Cert"),
        ]),
        known.material.clone(),
    );
    let custom_app = apuntador::router(custom.clone());
    register(&custom, "sources-device", &{
        // Same certificate, registered in this state too.
        let der = apuntador::pki::first_certificate_der(&pem).unwrap();
        apuntador::pki::profile::IssuedCertificate {
            pem: pem.clone(),
            serial: status(&app, "sources-device", &pem).await.json()["serial"]
                .as_str()
                .unwrap()
                .to_owned(),
            issued_at: Utc::now(),
            expires_at: Utc::now() + TimeDelta::days(1),
            fingerprint_sha256: apuntador::pki::fingerprint_sha256(&der),
            der,
        }
    })
    .await;
    let default_header = send(
        &custom_app,
        "GET",
        "/device/status/sources-device",
        &[("x-client-cert", &escaped)],
        None,
    )
    .await;
    assert_eq!(
        default_header.status, 401,
        "X-Client-Cert is not the configured header"
    );
    let configured = send(
        &custom_app,
        "GET",
        "/device/status/sources-device",
        &[("x-edge-cert", &escaped)],
        None,
    )
    .await;
    assert_eq!(configured.status, 200);
    let duplicated = send(
        &custom_app,
        "GET",
        "/device/status/sources-device",
        &[("x-edge-cert", &escaped), ("x-edge-cert", &escaped)],
        None,
    )
    .await;
    assert_eq!(
        (duplicated.status, code(&duplicated).as_str()),
        (403, "certificate_invalid")
    );
    assert_eq!(
        duplicated.json()["detail"],
        "Client certificate is malformed"
    );
}

#[tokio::test]
async fn an_undecodable_first_source_is_rejected_not_skipped() {
    let openssl = Openssl::new();
    let (app, _, _) = known_app();
    let (pem, _) = enrolled(&app, &openssl, "undecodable-device").await;
    let good = crate::pki_support::escaped(&pem);
    let answer = send(
        &app,
        "GET",
        "/device/status/undecodable-device",
        &[
            ("x-amzn-mtls-clientcert", "%%%garbage"),
            ("x-client-cert", &good),
        ],
        None,
    )
    .await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (403, "certificate_invalid")
    );
    let not_x509 = send(
        &app,
        "GET",
        "/device/status/undecodable-device",
        &[("x-client-cert", "AAAA")],
        None,
    )
    .await;
    assert_eq!(code(&not_x509), "certificate_invalid");
}

#[tokio::test]
async fn the_ca_private_key_is_never_returned_nor_printed_and_key_files_are_0600() {
    let openssl = Openssl::new();
    let (app, _, known) = known_app();
    use secrecy::ExposeSecret as _;
    let key_pem = known.material.key_pem.expose_secret().to_owned();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let (pem, serial) = enrolled(&app, &openssl, "secret-device").await;
    let mut answers = vec![
        send(&app, "GET", "/device/ca-certificate", &[], None).await,
        send(&app, "GET", "/device/ca-certificate-pin", &[], None).await,
        enroll(&app, "secret-device", "android", &openssl.csr(Kind::P256)).await,
        status(&app, "secret-device", &pem).await,
    ];
    answers.push(post_with_cert(&app, "/device/renew", &pem, json!({"csr": openssl.csr(Kind::P256), "device_id": "secret-device", "old_serial": serial})).await);
    for answer in &answers {
        let text = String::from_utf8_lossy(&answer.body);
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains(&key_body[..40]),
            "{text}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apuntador-server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .args(["ca", "init", "--local", "--key-type", "ec-p256"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let data = dir.path().join(".apuntador");
    let written = std::fs::read_to_string(data.join("ca_private_key.pem")).unwrap();
    let written_body: String = written
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(
        !stdout.contains("PRIVATE KEY") && !stdout.contains(&written_body[..40]),
        "{stdout}"
    );
    assert!(
        stdout.contains("SPKI pin:") && stdout.contains("ec-p256"),
        "{stdout}"
    );
    assert!(has_mode(&data.join("ca_private_key.pem"), 0o600));
    assert!(has_mode(&data, 0o700));
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_apuntador-server"))
        .env_clear()
        .current_dir(dir.path())
        .args(["ca", "init", "--local"])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(1),
        "an existing CA is not replaced without --force"
    );
    let rotated = std::process::Command::new(env!("CARGO_BIN_EXE_apuntador-server"))
        .env_clear()
        .current_dir(dir.path())
        .args(["ca", "init", "--rotate"])
        .output()
        .unwrap();
    assert!(rotated.status.success());
    let bundle = std::fs::read_to_string(data.join("truststore/ca-bundle.pem")).unwrap();
    assert_eq!(
        bundle.matches("BEGIN CERTIFICATE").count(),
        2,
        "current then previous"
    );
    assert!(data.join("ca_previous_certificate.pem").exists());
}

#[tokio::test]
async fn local_mode_rejects_bad_device_ids_before_storage() {
    let openssl = Openssl::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let state = AppState::build(config(&[("DATA_DIR", data.to_str().unwrap())]))
        .await
        .unwrap();
    assert!(
        data.join("ca_private_key.pem").exists(),
        "the development CA was created"
    );
    assert!(data.join("truststore/ca-bundle.pem").exists());
    let app = apuntador::router(state.clone());
    let csr = openssl.csr(Kind::P256);
    for bad in [
        "../../../etc/passwd",
        "..%2F..%2Fx",
        "dev/12345",
        "dev.12345",
        "a b c d e",
    ] {
        let answer = enroll(&app, bad, "android", &csr).await;
        assert_eq!(answer.status, 422, "{bad}");
    }
    let traversal = send(&app, "GET", "/device/status/..%2F..%2Fetc", &[], None).await;
    assert_eq!(
        traversal.status, 401,
        "authentication answers before the path is looked at"
    );
    let good = enroll(&app, "local-device", "android", &csr).await;
    assert_eq!(good.status, 201);
    let entries: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        entries.iter().all(|n| {
            let n = n.to_string_lossy();
            n.starts_with("apuntador.db") || n.starts_with("ca_") || n == "truststore"
        }),
        "{entries:?}"
    );
    assert_eq!(active(&state, "local-device").await.len(), 1);
}

#[tokio::test]
async fn production_local_mode_without_a_ca_fails_start_up_with_the_ca_init_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&[("DATA_DIR", dir.path().to_str().unwrap())]);
    cfg.environment = apuntador::config::Environment::Production;
    let err = AppState::build(cfg).await.err().expect("refused");
    assert!(
        err.to_string().contains("apuntador-server ca init --local"),
        "{err}"
    );
    let startup = apuntador::startup::StartupError::State(err);
    assert_eq!(startup.exit_code(), 1);
}
