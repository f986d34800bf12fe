//! Stateful attestation exchanges: for each platform one valid and one invalid
//! attestation, plus an undecodable Android token, run on a fresh app per transport with the same
//! evidence everywhere. Answers carry the verification time and a fresh attestation id, so those two
//! values are masked; everything else — status, headers, every other body byte — must be identical.

use apuntador::AppState;
use apuntador::config::Config;
use serde_json::{Value, json};

use crate::device::Via;
use crate::exchanges::{Exchange, Profile, XRAY};
use crate::transport::{self, Normalised, TcpServer};
use crate::vectors::{self, IosAttestation, PlayKeys, TestCa};

/// Keys, CA and request bodies shared by every transport.
pub struct Evidence {
    keys: PlayKeys,
    ca: TestCa,
    bodies: Vec<(&'static str, String)>,
}

/// The expected status of each step.
pub const EXPECTED: [u16; 7] = [200, 400, 400, 200, 400, 200, 400];

impl Evidence {
    /// Fresh keys and CA, and the request of every step.
    pub fn new() -> Evidence {
        let keys = PlayKeys::generate();
        let ca = TestCa::new("parity");
        let nonce = "parity-nonce-00000000";
        let valid_token = keys.token(&vectors::verdict(nonce));
        let mut stale = vectors::verdict(nonce);
        stale["requestDetails"]["timestampMillis"] = json!(vectors::now_millis() - 3_600_000);
        let mut counted = IosAttestation::new(true);
        counted.counter = 7;
        let bodies = vec![
            (
                "/device/attest/android",
                vectors::android_body(&valid_token, "parity-phone", nonce),
            ),
            (
                "/device/attest/android",
                vectors::android_body(&keys.token(&stale), "parity-phone", nonce),
            ),
            (
                "/device/attest/android",
                vectors::android_body(&"e30".repeat(40), "parity-phone", nonce),
            ),
            (
                "/device/attest/ios",
                IosAttestation::new(true).build(&ca).body("parity-tablet"),
            ),
            (
                "/device/attest/ios",
                counted.build(&ca).body("parity-tablet"),
            ),
            (
                "/device/attest/desktop",
                vectors::desktop_body("parity-desk", &vectors::fingerprint("a")),
            ),
            (
                "/device/attest/desktop",
                vectors::desktop_body("parity-desk", &vectors::fingerprint("b")),
            ),
        ];
        Evidence { keys, ca, bodies }
    }

    fn app(&self) -> axum::Router {
        let mut env = Profile::Standard.env();
        env.insert("BODY_LIMIT_BYTES".into(), "65536".into());
        for (k, v) in self.keys.config_vars() {
            env.insert(k.into(), v);
        }
        env.insert("APPLE_TEAM_ID".into(), vectors::TEAM_ID.into());
        env.insert("APPLE_BUNDLE_ID".into(), vectors::BUNDLE_ID.into());
        let config = Config::from_lookup(|name| env.get(name).cloned()).expect("config");
        let state = AppState::in_memory(config)
            .with_app_attest_trust_anchor(&self.ca.root_der())
            .expect("App Attest configured");
        apuntador::router(state)
    }
}

fn exchange(path: &'static str, body: &str) -> Exchange {
    Exchange {
        name: "attestation step",
        profile: Profile::Standard,
        method: "POST",
        path,
        query: "",
        headers: &[
            ("content-type", "application/json"),
            ("x-amzn-trace-id", XRAY),
        ],
        body: Some(Box::leak(body.to_owned().into_boxed_str()).as_bytes()),
        status: 0,
        body_contains: &[],
        headers_expected: &[],
    }
}

/// Replaces the verification time and the attestation id with placeholders.
fn masked(mut answer: Normalised) -> Normalised {
    if let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&answer.body) {
        if body.contains_key("timestamp") {
            body.insert("timestamp".into(), json!("<verification time>"));
        }
        if body.get("attestation_id").is_some_and(Value::is_string) {
            body.insert("attestation_id".into(), json!("<attestation id>"));
        }
        answer.body = Value::Object(body).to_string().into_bytes();
    }
    answer
}

/// Runs every step on a fresh app through `via`; the masked answers in order.
pub async fn run(evidence: &Evidence, via: Via) -> Vec<Normalised> {
    let app = evidence.app();
    let server = TcpServer::start(app.clone()).await;
    let mut answers = Vec::new();
    for (path, body) in &evidence.bodies {
        let ex = exchange(path, body);
        let answer = match via {
            Via::InProcess => transport::in_process(&app, &ex).await,
            Via::Tcp => transport::tcp(&server, &ex).await,
            Via::Lambda(kind) => transport::lambda(&app, &ex, kind).await,
        };
        answers.push(masked(answer));
    }
    answers
}
