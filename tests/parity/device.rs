//! Stateful device exchanges: the certificate lifecycle — enrol → status → second
//! enrolment refused → renew → old rejected / new accepted → revoke → rejected → enrol again →
//! administrator revocation → rejected; unknown device 404 — run on a fresh app per transport, with the client
//! certificate delivered by every source a transport can carry: `X-Client-Cert` (percent-encoded PEM
//! and bare base64 DER), ALB mTLS headers and XFCC everywhere, and the Lambda request context of HTTP
//! API v2 and REST v1 events. Answers carry fresh certificates, so transports are compared on the
//! sequence of (status, error code), which must also equal the expected one.

use apuntador::AppState;
use apuntador::config::Config;
use axum::Router;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::exchanges::{Exchange, Profile, XRAY};
use crate::transport::{self, EventKind, Normalised, TcpServer};

/// How the certificate travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `X-Client-Cert`, percent-encoded PEM.
    HeaderPem,
    /// `X-Client-Cert`, bare base64 DER.
    HeaderDer,
    /// `X-Amzn-Mtls-Clientcert-Leaf`.
    Alb,
    /// `X-Forwarded-Client-Cert`.
    Xfcc,
    /// `requestContext.authentication.clientCert.clientCertPem` (HTTP API v2 events only).
    V2Context,
    /// `requestContext.identity.clientCert.clientCertPem` (REST v1 events only).
    V1Context,
}

/// A certificate and the source carrying it, when a request presents one.
type Presented = Option<(&'static str, Source)>;

/// How the request reaches the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `router.oneshot`.
    InProcess,
    /// A loopback TCP server.
    Tcp,
    /// The Lambda handler, with this event format.
    Lambda(EventKind),
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn escaped(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A CSR made by openssl (an independent implementation), PEM.
pub use crate::openssl_csr::p256_csr as openssl_csr;

fn request(
    method: &'static str,
    path: String,
    cert: Option<(&str, Source)>,
    body: Option<Value>,
) -> Exchange {
    let mut headers: Vec<(&'static str, &'static str)> = vec![("x-amzn-trace-id", XRAY)];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    if let Some((pem, source)) = cert {
        match source {
            Source::HeaderPem => headers.push(("x-client-cert", leak(escaped(pem)))),
            Source::HeaderDer => {
                let der = apuntador::pki::first_certificate_der(pem).expect("PEM");
                headers.push((
                    "x-client-cert",
                    leak(base64::engine::general_purpose::STANDARD.encode(der)),
                ));
            }
            Source::Alb => headers.push(("x-amzn-mtls-clientcert-leaf", leak(escaped(pem)))),
            Source::Xfcc => headers.push((
                "x-forwarded-client-cert",
                leak(format!(
                    "Hash=abc;Cert=\"{}\";Subject=\"CN=x,O=y\"",
                    escaped(pem)
                )),
            )),
            Source::V2Context | Source::V1Context => {}
        }
    }
    Exchange {
        name: "device lifecycle step",
        profile: Profile::Standard,
        method,
        path: leak(path),
        query: "",
        headers: Box::leak(headers.into_boxed_slice()),
        body: body.map(|b| leak(b.to_string()).as_bytes()),
        status: 0,
        body_contains: &[],
        headers_expected: &[],
    }
}

fn client_cert_json(pem: &str) -> Value {
    json!({
        "clientCertPem": pem,
        "issuerDN": "CN=Apuntador Development CA,O=Apuntador",
        "serialNumber": "00",
        "subjectDN": "CN=parity-device,O=Apuntador Devices",
        "validity": {"notAfter": "Dec 28 06:37:46 2026 GMT", "notBefore": "Nov 28 06:32:46 2026 GMT"}
    })
}

async fn send(
    app: &Router,
    server: &TcpServer,
    via: Via,
    ex: &Exchange,
    context_cert: Option<(&str, Source)>,
) -> Normalised {
    match via {
        Via::InProcess => transport::in_process(app, ex).await,
        Via::Tcp => transport::tcp(server, ex).await,
        Via::Lambda(kind) => {
            let patch = |event: &mut Value| match context_cert {
                Some((pem, Source::V2Context)) => {
                    event["requestContext"]["authentication"] =
                        json!({"clientCert": client_cert_json(pem)});
                }
                Some((pem, Source::V1Context)) => {
                    event["requestContext"]["identity"]["clientCert"] = client_cert_json(pem);
                }
                _ => {}
            };
            transport::lambda_patched(app, ex, kind, patch).await
        }
    }
}

fn outcome(answer: &Normalised) -> (u16, String) {
    let code = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    (answer.status, code)
}

/// The expected outcome of every step of [`lifecycle`].
pub const EXPECTED: [(u16, &str); 15] = [
    (201, ""),
    (401, "certificate_required"),
    (200, ""),
    (409, "device_already_enrolled"),
    (200, ""),
    (403, "certificate_revoked"),
    (200, ""),
    (200, ""),
    (403, "certificate_revoked"),
    (201, ""),
    (200, ""),
    (401, "missing_credentials"),
    (200, ""),
    (403, "certificate_revoked"),
    (404, "device_not_found"),
];

/// The admin bearer key of the lifecycle's configuration.
const ADMIN_KEY: &str = "parity-admin-key-0123456789abcdef0123";

/// `POST /admin/devices/{device}/revoke`, with the admin key when `key`.
fn admin_revoke(device: &str, key: bool) -> Exchange {
    let mut ex = request(
        "POST",
        format!("/admin/devices/{device}/revoke"),
        None,
        Some(json!({"reason": "lost"})),
    );
    if key {
        let mut headers = ex.headers.to_vec();
        headers.push(("authorization", leak(format!("Bearer {ADMIN_KEY}"))));
        ex.headers = Box::leak(headers.into_boxed_slice());
    }
    ex
}

/// Runs the lifecycle on a fresh app through `via` with the certificate in `source`.
pub async fn lifecycle(via: Via, source: Source, csr: &str) -> Vec<(u16, String)> {
    let mut env = Profile::Standard.env();
    env.insert("ADMIN_API_KEY".into(), ADMIN_KEY.into());
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("config");
    let app = apuntador::router(AppState::in_memory(config));
    let server = TcpServer::start(app.clone()).await;
    let device = "parity-device";
    let mut outcomes = Vec::new();
    let cert = |pem: &str| -> (Presented, Presented) {
        let pem = leak(pem.to_owned());
        match source {
            Source::V1Context | Source::V2Context => (None, Some((pem, source))),
            _ => (Some((pem, source)), None),
        }
    };

    let enrol = request(
        "POST",
        "/device/enroll".into(),
        None,
        Some(json!({"csr": csr, "device_id": device, "platform": "ios"})),
    );
    let enrolled = send(&app, &server, via, &enrol, None).await;
    outcomes.push(outcome(&enrolled));
    let body: Value = serde_json::from_slice(&enrolled.body).unwrap_or(Value::Null);
    let first = body["certificate"].as_str().unwrap_or_default().to_owned();
    let serial = body["serial"].as_str().unwrap_or_default().to_owned();
    let status_path = format!("/device/status/{device}");

    let anonymous = request("GET", status_path.clone(), None, None);
    outcomes.push(outcome(&send(&app, &server, via, &anonymous, None).await));

    let (header, context) = cert(&first);
    let status = request("GET", status_path.clone(), header, None);
    outcomes.push(outcome(&send(&app, &server, via, &status, context).await));

    // A second enrolment while the certificate is active is refused.
    outcomes.push(outcome(&send(&app, &server, via, &enrol, None).await));

    let renew = request(
        "POST",
        "/device/renew".into(),
        header,
        Some(json!({"csr": csr, "device_id": device, "old_serial": serial})),
    );
    let renewed = send(&app, &server, via, &renew, context).await;
    outcomes.push(outcome(&renewed));
    let body: Value = serde_json::from_slice(&renewed.body).unwrap_or(Value::Null);
    let second = body["certificate"].as_str().unwrap_or_default().to_owned();

    outcomes.push(outcome(&send(&app, &server, via, &status, context).await));

    let (header2, context2) = cert(&second);
    let status2 = request("GET", status_path.clone(), header2, None);
    outcomes.push(outcome(&send(&app, &server, via, &status2, context2).await));

    let revoke = request(
        "POST",
        "/device/revoke".into(),
        header2,
        Some(json!({"device_id": device})),
    );
    outcomes.push(outcome(&send(&app, &server, via, &revoke, context2).await));
    outcomes.push(outcome(&send(&app, &server, via, &status2, context2).await));

    // Every record revoked: the device enrols again; then an administrator revokes it (lost device).
    let again = send(&app, &server, via, &enrol, None).await;
    outcomes.push(outcome(&again));
    let body: Value = serde_json::from_slice(&again.body).unwrap_or(Value::Null);
    let third = body["certificate"].as_str().unwrap_or_default().to_owned();
    let (header3, context3) = cert(&third);
    let status3 = request("GET", status_path, header3, None);
    outcomes.push(outcome(&send(&app, &server, via, &status3, context3).await));
    let unauthenticated = admin_revoke(device, false);
    outcomes.push(outcome(
        &send(&app, &server, via, &unauthenticated, None).await,
    ));
    outcomes.push(outcome(
        &send(&app, &server, via, &admin_revoke(device, true), None).await,
    ));
    outcomes.push(outcome(&send(&app, &server, via, &status3, context3).await));
    outcomes.push(outcome(
        &send(
            &app,
            &server,
            via,
            &admin_revoke("unknown-device", true),
            None,
        )
        .await,
    ));
    outcomes
}
