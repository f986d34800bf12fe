//! Parity suite: every exchange of `exchanges.rs` gives the same normalised answer
//! in-process, over a real loopback TCP server, and through the Lambda binary's handler as REST v1,
//! HTTP API v2 (default and named stage), ALB single- and multi-value, and Function URL events.

#[path = "../../bin/lambda/adapter.rs"]
mod adapter;
mod attestation;
mod device;
mod exchanges;
mod oauth_flow;
#[path = "../support/openssl_csr.rs"]
mod openssl_csr;
mod transport;
#[path = "../support/attestation_vectors.rs"]
mod vectors;

use std::collections::BTreeMap;

use apuntador::AppState;
use apuntador::config::Config;
use axum::Router;

use exchanges::{Exchange, Profile};
use transport::{EventKind, Normalised, TcpServer};

fn app_for(profile: Profile) -> Router {
    let env = profile.env();
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("profile config is valid");
    apuntador::router(AppState::in_memory(config))
}

fn check_expectations(ex: &Exchange, got: &Normalised) -> Vec<String> {
    let mut failures = Vec::new();
    if got.status != ex.status {
        failures.push(format!(
            "status {} != expected {} (body {})",
            got.status,
            ex.status,
            got.text()
        ));
    }
    let text = got.text();
    for needle in ex.body_contains {
        if !text.contains(needle) {
            failures.push(format!("body lacks {needle:?}: {text}"));
        }
    }
    for (name, value) in ex.headers_expected {
        match (got.header(name), value.is_empty()) {
            (Some(v), true) => failures.push(format!("header {name} should be absent, is {v:?}")),
            (None, false) => failures.push(format!("header {name} missing (want {value:?})")),
            (Some(v), false) if v != *value => {
                failures.push(format!("header {name} is {v:?}, want {value:?}"))
            }
            _ => {}
        }
    }
    // Conventions every answer follows.
    if got.header("x-trace-id").is_none_or(|t| t.len() != 32) {
        failures.push("x-trace-id missing or not 32 hex".into());
    }
    if got.header("x-content-type-options") != Some("nosniff") {
        failures.push("x-content-type-options missing".into());
    }
    if ex.status >= 400 && ex.method != "HEAD" {
        if got.header("content-type") != Some("application/problem+json") {
            failures.push("error without a problem content type".into());
        }
        let trace = got.header("x-trace-id").unwrap_or_default();
        if !text.contains(&format!(r#""trace_id":"{trace}""#)) {
            failures.push("problem trace_id differs from X-Trace-ID".into());
        }
    }
    if ex.method == "HEAD" && !got.body.is_empty() {
        failures.push("HEAD answer has a body".into());
    }
    failures
}

fn diff(a: &Normalised, b: &Normalised) -> String {
    let mut out = String::new();
    if a.status != b.status {
        out.push_str(&format!("status {} vs {}; ", a.status, b.status));
    }
    let names: std::collections::BTreeSet<&String> =
        a.headers.keys().chain(b.headers.keys()).collect();
    for n in names {
        if a.headers.get(n) != b.headers.get(n) {
            out.push_str(&format!(
                "header {n}: {:?} vs {:?}; ",
                a.headers.get(n),
                b.headers.get(n)
            ));
        }
    }
    if a.body != b.body {
        out.push_str(&format!("body {:?} vs {:?}", a.text(), b.text()));
    }
    out
}

fn has_repeated_header(ex: &Exchange) -> bool {
    let mut names: Vec<String> = ex
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    names.windows(2).any(|w| w[0] == w[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exchange_answers_identically_on_every_transport() {
    let rows = exchanges::all();
    assert!(
        rows.len() >= 30,
        "the parity table keeps at least 30 exchanges"
    );
    let mut apps: BTreeMap<Profile, (Router, TcpServer)> = BTreeMap::new();
    let mut failures = Vec::new();
    for ex in &rows {
        if let std::collections::btree_map::Entry::Vacant(slot) = apps.entry(ex.profile) {
            let app = app_for(ex.profile);
            let server = TcpServer::start(app.clone()).await;
            slot.insert((app, server));
        }
        let (app, server) = &apps[&ex.profile];
        let reference = transport::in_process(app, ex).await;
        for problem in check_expectations(ex, &reference) {
            failures.push(format!("[{}] in-process: {problem}", ex.name));
        }
        let mut answers = vec![("tcp".to_owned(), transport::tcp(server, ex).await)];
        for kind in EventKind::ALL {
            // An ALB without multi-value headers passes only the last copy of a repeated header: the
            // function cannot see the repetition (docs/http-edges.md).
            if kind == EventKind::AlbSingle && has_repeated_header(ex) {
                continue;
            }
            answers.push((
                format!("lambda {kind:?}"),
                transport::lambda(app, ex, kind).await,
            ));
        }
        for (transport, answer) in answers {
            if answer != reference {
                failures.push(format!(
                    "[{}] {transport} differs from in-process: {}",
                    ex.name,
                    diff(&answer, &reference)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} parity failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_lifecycle_answers_identically_on_every_transport_and_certificate_source() {
    use device::{Source, Via};
    let csr = device::openssl_csr();
    let header_sources = [
        Source::HeaderPem,
        Source::HeaderDer,
        Source::Alb,
        Source::Xfcc,
    ];
    let mut runs: Vec<(Via, Source)> = Vec::new();
    for via in [Via::InProcess, Via::Tcp]
        .into_iter()
        .chain(EventKind::ALL.into_iter().map(Via::Lambda))
    {
        runs.extend(header_sources.iter().map(|s| (via, *s)));
    }
    runs.push((Via::Lambda(EventKind::HttpV2), Source::V2Context));
    runs.push((Via::Lambda(EventKind::HttpV2Stage), Source::V2Context));
    runs.push((Via::Lambda(EventKind::RestV1), Source::V1Context));
    let expected: Vec<(u16, String)> = device::EXPECTED
        .iter()
        .map(|(s, c)| (*s, (*c).to_owned()))
        .collect();
    let mut failures = Vec::new();
    for (via, source) in runs {
        let got = device::lifecycle(via, source, &csr).await;
        if got != expected {
            failures.push(format!("{via:?} with {source:?}: {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "expected {expected:?}; differing runs:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attestations_answer_identically_on_every_transport() {
    use device::Via;
    let evidence = attestation::Evidence::new();
    let reference = attestation::run(&evidence, Via::InProcess).await;
    let statuses: Vec<u16> = reference.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        attestation::EXPECTED,
        "{:?}",
        reference.iter().map(Normalised::text).collect::<Vec<_>>()
    );
    let mut failures = Vec::new();
    for via in std::iter::once(Via::Tcp).chain(EventKind::ALL.into_iter().map(Via::Lambda)) {
        let answers = attestation::run(&evidence, via).await;
        for (step, (answer, expected)) in answers.iter().zip(&reference).enumerate() {
            if answer != expected {
                failures.push(format!("{via:?} step {step}: {}", diff(answer, expected)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_with_the_content_length_of_get_on_every_transport() {
    let app = app_for(Profile::Standard);
    let server = TcpServer::start(app.clone()).await;
    let trace: &'static [(&str, &str)] = &[("x-amzn-trace-id", exchanges::XRAY)];
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in [
        "/",
        "/health",
        "/device/ca-certificate",
        "/openapi.json",
        "/nope",
    ] {
        let get = Exchange {
            headers: trace,
            ..exchanges::ex("get", "GET", path, 200)
        };
        let head = Exchange {
            method: "HEAD",
            ..get.clone()
        };
        let mut answers = vec![(
            "in-process".to_owned(),
            transport::in_process(&app, &get).await,
            transport::in_process(&app, &head).await,
        )];
        answers.push((
            "tcp".to_owned(),
            transport::tcp(&server, &get).await,
            transport::tcp(&server, &head).await,
        ));
        for kind in EventKind::ALL {
            answers.push((
                format!("lambda {kind:?}"),
                transport::lambda(&app, &get, kind).await,
                transport::lambda(&app, &head, kind).await,
            ));
        }
        for (via, get, head) in answers {
            let length = head
                .transport_headers
                .get("content-length")
                .and_then(|v| v.first())
                .cloned();
            checked += 1;
            if length != Some(get.body.len().to_string()) || !head.body.is_empty() {
                failures.push(format!(
                    "{via} {path}: HEAD content-length {length:?}, body {} bytes; GET body {} bytes",
                    head.body.len(),
                    get.body.len()
                ));
            }
            if head.status != get.status || head.headers != get.headers {
                failures.push(format!(
                    "{via} {path}: HEAD differs from GET: {}",
                    diff(&head, &get)
                ));
            }
        }
    }
    assert_eq!(checked, 5 * (2 + EventKind::ALL.len()));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
