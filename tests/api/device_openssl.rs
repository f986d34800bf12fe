//! Interoperability with the `openssl` command line, an independent implementation: CSRs of every
//! supported key type enrol, issued certificates verify for client authentication and show the
//! device certificate profile, an openssl-made RSA 4096 CA (in every key form) loads and signs, and
//! the pin equals openssl's.

use apuntador::pki::ca::CertificateAuthority;
use apuntador::store::CaMaterial;
use chrono::Utc;
use secrecy::SecretString;

use crate::helpers::{config, send};
use crate::pki_support::{Kind, Openssl, app, enroll, state_with_ca};

async fn enrol_and_verify(openssl: &Openssl, kind: Kind, device_id: &str) -> String {
    let (app, _) = app();
    let answer = enroll(&app, device_id, "android", &openssl.csr(kind)).await;
    assert_eq!(
        answer.status,
        201,
        "{kind:?}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    let cert = openssl.write(
        &format!("{device_id}.pem"),
        body["certificate"].as_str().unwrap(),
    );
    let ca = openssl.write(
        &format!("{device_id}-ca.pem"),
        body["ca_certificate"].as_str().unwrap(),
    );
    let (ok, out) = openssl.try_run(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        "-purpose",
        "sslclient",
        cert.to_str().unwrap(),
    ]);
    assert!(ok && out.contains(": OK"), "{kind:?}: {out}");
    openssl.run(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"])
}

#[tokio::test]
async fn openssl_rsa_2048_csr_enrols_and_the_certificate_verifies_for_client_auth() {
    let openssl = Openssl::new();
    let text = enrol_and_verify(&openssl, Kind::Rsa2048, "rsa-device-1").await;
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
}

#[tokio::test]
async fn openssl_ec_p256_csr_enrols_and_the_certificate_verifies_for_client_auth() {
    let openssl = Openssl::new();
    let text = enrol_and_verify(&openssl, Kind::P256, "p256-device-1").await;
    assert!(text.contains("NIST CURVE: P-256"), "{text}");
}

#[tokio::test]
async fn openssl_ec_p384_csr_enrols_and_the_certificate_verifies_for_client_auth() {
    let openssl = Openssl::new();
    let text = enrol_and_verify(&openssl, Kind::P384, "p384-device-1").await;
    assert!(text.contains("NIST CURVE: P-384"), "{text}");
}

#[tokio::test]
async fn openssl_ed25519_csr_enrols_and_the_certificate_verifies_for_client_auth() {
    let openssl = Openssl::new();
    let text = enrol_and_verify(&openssl, Kind::Ed25519, "ed-device-1").await;
    assert!(text.contains("ED25519"), "{text}");
}

#[tokio::test]
async fn openssl_x509_text_shows_the_certificate_profile() {
    let openssl = Openssl::new();
    let text = enrol_and_verify(&openssl, Kind::P256, "profile-dev-01").await;
    for needle in [
        "Version: 3 (0x2)",
        "Signature Algorithm: ecdsa-with-SHA256",
        "Issuer: CN = Apuntador Development CA, O = Apuntador",
        "Subject: CN = profile-dev-01, O = Apuntador Devices",
        "X509v3 Basic Constraints: critical\n                CA:FALSE",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment",
        "X509v3 Extended Key Usage: \n                TLS Web Client Authentication",
        "X509v3 Subject Alternative Name: \n                URI:urn:apuntador:device:profile-dev-01",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // Exactly these six extensions, and none of them critical except the two.
    let extensions = text
        .lines()
        .filter(|l| l.trim_start().starts_with("X509v3 ") && !l.contains("X509v3 extensions"));
    assert_eq!(extensions.count(), 6, "{text}");
    assert_eq!(text.matches("critical").count(), 2, "{text}");
}

#[tokio::test]
async fn validity_is_backdated_five_minutes_and_lasts_the_platform_days() {
    let openssl = Openssl::new();
    let state = apuntador::AppState::in_memory(config(&[("CERT_VALIDITY_DAYS_DESKTOP", "9")]));
    let app = apuntador::router(state);
    let answer = enroll(&app, "desktop-device", "DESKTOP", &openssl.csr(Kind::P256)).await;
    assert_eq!(answer.status, 201);
    let body = answer.json();
    let issued = chrono::DateTime::parse_from_rfc3339(body["issued_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - issued).num_days(), 9);
    let cert = openssl.write("d.pem", body["certificate"].as_str().unwrap());
    let dates = openssl.run(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-startdate",
        "-enddate",
        "-dateopt",
        "iso_8601",
    ]);
    let start = issued - chrono::TimeDelta::seconds(300);
    assert!(
        dates.contains(&start.format("notBefore=%Y-%m-%d %H:%M:%SZ").to_string()),
        "{dates} vs {start}"
    );
    assert!(dates.contains(&expires.format("notAfter=%Y-%m-%d %H:%M:%SZ").to_string()));
    let serial = openssl.run(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-serial"]);
    let text = body["serial"].as_str().unwrap();
    assert_eq!(text.len(), 32);
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    );
    assert_eq!(
        serial
            .trim()
            .trim_start_matches("serial=")
            .trim_start_matches('0'),
        text.trim_start_matches('0')
    );
}

#[tokio::test]
async fn the_issuer_is_the_ca_subject_byte_for_byte() {
    let openssl = Openssl::new();
    let (app, _) = app();
    let answer = enroll(&app, "issuer-device", "ios", &openssl.csr(Kind::P256)).await;
    let body = answer.json();
    let cert = openssl.write("c.pem", body["certificate"].as_str().unwrap());
    let ca = openssl.write("ca.pem", body["ca_certificate"].as_str().unwrap());
    let issuer = openssl.run(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-issuer",
        "-nameopt",
        "RFC2253,-esc_msb,dump_all,dump_der",
    ]);
    let subject = openssl.run(&[
        "x509",
        "-in",
        ca.to_str().unwrap(),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253,-esc_msb,dump_all,dump_der",
    ]);
    assert_eq!(
        issuer.trim_start_matches("issuer="),
        subject.trim_start_matches("subject=")
    );
}

fn openssl_rsa_4096_ca(openssl: &Openssl) -> (String, String) {
    openssl.run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:4096",
        "-nodes",
        "-keyout",
        "legacy-ca.key",
        "-out",
        "legacy-ca.pem",
        "-subj",
        "/C=ES/O=Legacy Apuntador/CN=Legacy CA",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    ]);
    (
        std::fs::read_to_string(openssl.path("legacy-ca.key")).unwrap(),
        std::fs::read_to_string(openssl.path("legacy-ca.pem")).unwrap(),
    )
}

#[tokio::test]
async fn an_openssl_rsa_4096_ca_loads_in_pkcs8_and_pkcs1_and_signs_verifiable_certificates() {
    let openssl = Openssl::new();
    let (pkcs8_key, cert_pem) = openssl_rsa_4096_ca(&openssl);
    assert!(pkcs8_key.contains("BEGIN PRIVATE KEY"));
    let pkcs1_key = openssl.run(&["rsa", "-in", "legacy-ca.key", "-traditional"]);
    assert!(pkcs1_key.contains("BEGIN RSA PRIVATE KEY"));
    for key in [pkcs8_key, pkcs1_key] {
        let material = CaMaterial {
            key_pem: SecretString::from(key),
            cert_pem: cert_pem.clone(),
            previous_cert_pem: None,
        };
        let app = apuntador::router(state_with_ca(config(&[]), material));
        let answer = enroll(&app, "legacy-device", "android", &openssl.csr(Kind::P256)).await;
        assert_eq!(
            answer.status,
            201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let cert = openssl.write("leaf.pem", answer.json()["certificate"].as_str().unwrap());
        let (ok, out) = openssl.try_run(&[
            "verify",
            "-CAfile",
            "legacy-ca.pem",
            "-purpose",
            "sslclient",
            cert.to_str().unwrap(),
        ]);
        assert!(ok, "{out}");
        let text = openssl.run(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]);
        assert!(
            text.contains("Signature Algorithm: sha256WithRSAEncryption"),
            "{text}"
        );
        assert!(
            text.contains("Issuer: C = ES, O = Legacy Apuntador, CN = Legacy CA"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn openssl_ec_keys_load_in_sec1_and_pkcs8_forms() {
    let openssl = Openssl::new();
    for curve in ["P-256", "P-384"] {
        openssl.run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-nodes",
            "-keyout",
            "ec-ca.key",
            "-out",
            "ec-ca.pem",
            "-subj",
            "/CN=EC CA",
            "-days",
            "30",
        ]);
        let pkcs8 = std::fs::read_to_string(openssl.path("ec-ca.key")).unwrap();
        let sec1 = openssl.run(&["ec", "-in", "ec-ca.key"]);
        assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
        let cert = std::fs::read_to_string(openssl.path("ec-ca.pem")).unwrap();
        for key in [&pkcs8, &sec1] {
            let loaded = CertificateAuthority::load(key, &cert, None, Utc::now()).expect("loads");
            let expected = if curve == "P-256" {
                "ec-p256"
            } else {
                "ec-p384"
            };
            assert_eq!(loaded.ca.key_type(), expected);
        }
    }
}

#[tokio::test]
async fn the_pin_equals_the_openssl_spki_digest() {
    let openssl = Openssl::new();
    let (app, _) = app();
    let answer = send(&app, "GET", "/device/ca-certificate-pin", &[], None).await;
    assert_eq!(answer.status, 200);
    let body = answer.json();
    openssl.write("ca.pem", body["certificate_pem"].as_str().unwrap());
    let spki = openssl.run_bytes(&["x509", "-in", "ca.pem", "-pubkey", "-noout"]);
    openssl.write("pub.pem", std::str::from_utf8(&spki).unwrap());
    openssl.run(&[
        "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
    ]);
    let digest = openssl.run_bytes(&["dgst", "-sha256", "-binary", "pub.der"]);
    use base64::Engine as _;
    assert_eq!(
        body["sha256_base64"],
        base64::engine::general_purpose::STANDARD.encode(&digest)
    );
    assert_eq!(body["sha256_hex"], hex::encode(&digest));
    assert_eq!(body["sha256_base64"].as_str().unwrap().len(), 44);
}
