//! Spans of real requests through the router, as an OTLP receiver gets them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apuntador::telemetry::otel::{LAMBDA_FLUSH_BOUND, Target};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{App, CONFIG_KEY, config, with_grpc_receiver, with_http_receiver};
use crate::in_process::send;
use crate::receiver::{Received, Receiver, dead_endpoint, silent_endpoint};

const XRAY_ROOT: &str = "5759e988bd862e3fe1be46a994272793";
const XRAY_PARENT: &str = "53995c3f42cd8ad8";

fn the_one(spans: &[Received], name: &str) -> Received {
    let found: Vec<&Received> = spans.iter().filter(|s| s.span.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one span named {name}: {:?}",
        spans.iter().map(|s| &s.span.name).collect::<Vec<_>>()
    );
    found[0].clone()
}

#[tokio::test]
async fn the_request_span_carries_the_x_trace_id_and_the_completion_fields_over_http_protobuf() {
    // Readiness completions are DEBUG lines.
    let (receiver, app) = with_http_receiver(&[("LOG_LEVEL", "debug")]).await;

    let answer = send(&app.app, "GET", "/health/ready", &[], None).await;
    assert_eq!(answer.status, 200);
    app.flush().await;

    let trace_id = answer.header("x-trace-id").expect("X-Trace-ID").to_owned();
    let spans = receiver.collected.trace(&trace_id);
    let request = the_one(&spans, "HTTP GET /health/ready");
    assert_eq!(
        request.trace_id(),
        trace_id,
        "X-Trace-ID is the OTel trace id"
    );
    assert_eq!(request.parent_id(), "", "no incoming header: a root span");
    assert_eq!(request.span.kind, SpanKind::Server as i32);
    // A generated id is an X-Ray id: its first 8 hex digits are the epoch seconds.
    let seconds = u64::from_str_radix(&trace_id[..8], 16).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(seconds) <= 5, "{trace_id} is not an X-Ray id");
    // The completion log's fields as attributes.
    assert_eq!(request.attr("method").as_deref(), Some("GET"));
    assert_eq!(request.attr("route").as_deref(), Some("/health/ready"));
    assert_eq!(request.attr("status").as_deref(), Some("200"));
    assert_eq!(request.attr("trace_id").as_deref(), Some(trace_id.as_str()));
    assert!(request.attr("latency_ms").is_some());
    assert!(
        request
            .span
            .attributes
            .iter()
            .all(|kv| !kv.key.starts_with("otel.")),
        "otel.* fields steer the span and are not attributes"
    );
    // Readiness pings every store: each call is a child span.
    let pings: Vec<&Received> = spans
        .iter()
        .filter(|s| s.span.name.starts_with("store.") && s.span.name.ends_with(".ping"))
        .collect();
    assert!(!pings.is_empty(), "store spans: {spans:?}");
    for ping in pings {
        assert_eq!(ping.parent_id(), request.span_id(), "{}", ping.span.name);
    }
    // The resource: service, environment and cloud attributes.
    assert_eq!(
        request.resource_attr("service.name"),
        Some("apuntador-test")
    );
    assert_eq!(
        request.resource_attr("service.version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        request.resource_attr("deployment.environment.name"),
        Some("development")
    );
    assert_eq!(request.resource_attr("cloud.provider"), Some("aws"));
    assert_eq!(request.resource_attr("team"), Some("notes"));
    // Log lines carry the same trace id and the span id of the exported span.
    let completion = app
        .logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "request completed")
        .expect("completion line");
    assert_eq!(completion["trace_id"], trace_id.as_str());
    assert_eq!(completion["span_id"], request.span_id().as_str());
    assert!(completion.get("otel.name").is_none());
}

#[tokio::test]
async fn an_xray_parent_with_sampled_1_makes_the_request_span_its_child_over_grpc() {
    // Ratio 0: only the incoming decision can make this span sampled (parent-based sampling).
    let (receiver, app) = with_grpc_receiver(&[("OTEL_TRACES_SAMPLER_ARG", "0")]).await;
    let header = format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent={XRAY_PARENT};Sampled=1");

    let answer = send(
        &app.app,
        "GET",
        "/health",
        &[("x-amzn-trace-id", &header)],
        None,
    )
    .await;
    let unsampled = send(&app.app, "GET", "/health/public", &[], None).await;
    app.flush().await;

    assert_eq!(answer.header("x-trace-id"), Some(XRAY_ROOT));
    let request = the_one(&receiver.collected.trace(XRAY_ROOT), "HTTP GET /health");
    assert_eq!(request.parent_id(), XRAY_PARENT);
    let unsampled_id = unsampled.header("x-trace-id").unwrap();
    assert!(
        receiver.collected.trace(unsampled_id).is_empty(),
        "a root span at ratio 0 is not sampled"
    );
}

#[tokio::test]
async fn a_traceparent_parent_is_followed_and_an_xray_root_without_parent_keeps_its_trace_id() {
    let (receiver, app) = with_http_receiver(&[]).await;
    let w3c_trace = "0af7651916cd43dd8448eb211c80319c";
    let traceparent = format!("00-{w3c_trace}-b7ad6b7169203331-01");
    let w3c = send(
        &app.app,
        "GET",
        "/health",
        &[("traceparent", &traceparent)],
        None,
    )
    .await;
    // An ALB adds `Root=` only: no parent to follow, but the trace id is still the request's.
    let alb_root = "1-6b0a9438-24d925fb263f8d71b3c59162";
    let alb = send(
        &app.app,
        "GET",
        "/health/public",
        &[("x-amzn-trace-id", &format!("Root={alb_root}"))],
        None,
    )
    .await;
    app.flush().await;

    assert_eq!(w3c.header("x-trace-id"), Some(w3c_trace));
    let span = the_one(&receiver.collected.trace(w3c_trace), "HTTP GET /health");
    assert_eq!(span.parent_id(), "b7ad6b7169203331");

    let alb_trace = "6b0a943824d925fb263f8d71b3c59162";
    assert_eq!(alb.header("x-trace-id"), Some(alb_trace));
    let span = the_one(
        &receiver.collected.trace(alb_trace),
        "HTTP GET /health/public",
    );
    assert_eq!(span.parent_id(), "");
}

async fn provider_app(receiver: &Receiver, provider: &MockServer) -> App {
    let base = provider.uri();
    App::start(
        config(
            &receiver.endpoint(),
            "http/protobuf",
            &[
                ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                ("GOOGLE_CLIENT_ID", "google-id"),
                ("GOOGLE_CLIENT_SECRET", "GoogleClientSecretNeverExported"),
                ("GOOGLE_TOKEN_URL", &format!("{base}/google/token")),
                ("GOOGLE_REVOKE_URL", &format!("{base}/google/revoke")),
                ("ALLOWED_REDIRECT_URIS", "apuntador://oauth-callback"),
            ],
        ),
        Target::Server,
    )
}

#[tokio::test]
async fn an_outgoing_provider_call_carries_xray_and_traceparent_headers_of_its_span() {
    let receiver = Receiver::http().await;
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "ya29.AccessTokenNeverExported", "expires_in": 3599}),
        ))
        .mount(&provider)
        .await;
    let app = provider_app(&receiver, &provider).await;
    let header = format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent={XRAY_PARENT};Sampled=1");

    let answer = send(
        &app.app,
        "POST",
        "/oauth/refresh/googledrive",
        &[
            ("content-type", "application/json"),
            ("x-amzn-trace-id", &header),
        ],
        Some(r#"{"refresh_token":"1//RefreshTokenNeverExported"}"#),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    app.flush().await;

    let spans = receiver.collected.trace(XRAY_ROOT);
    let request = the_one(&spans, "HTTP POST /oauth/refresh/{provider}");
    let call = the_one(&spans, "oauth.googledrive.refresh");
    assert_eq!(call.parent_id(), request.span_id());
    assert_eq!(call.span.kind, SpanKind::Client as i32);
    assert_eq!(
        call.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(request.attr("provider").as_deref(), Some("googledrive"));

    let sent = provider.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    let header = |name: &str| {
        sent[0]
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("the provider call has no {name} header"))
            .to_owned()
    };
    assert_eq!(
        header("x-amzn-trace-id"),
        format!(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={};Sampled=1",
            call.span_id()
        )
    );
    assert_eq!(
        header("traceparent"),
        format!("00-{XRAY_ROOT}-{}-01", call.span_id())
    );
}

#[tokio::test]
async fn no_redacted_item_appears_in_any_exported_attribute() {
    let receiver = Receiver::http().await;
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.AccessTokenNeverExported",
            "refresh_token": "1//RefreshTokenNeverExported",
            "expires_in": 3599
        })))
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/google/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let app = provider_app(&receiver, &provider).await;
    let verifier = "VerifierNeverExported-0123456789abcdefghijklmnopq";
    let secret_headers = [
        ("content-type", "application/json"),
        ("authorization", "Bearer AuthorizationNeverExported"),
        ("cookie", "session=CookieNeverExported"),
        ("x-client-cert", "ClientCertNeverExported"),
        ("x-amzn-mtls-clientcert", "MtlsCertNeverExported"),
        ("x-forwarded-client-cert", "XfccNeverExported"),
    ];

    let authorize = send(
        &app.app,
        "POST",
        "/oauth/authorize/googledrive?query=QueryNeverExported",
        &secret_headers,
        Some(
            &json!({"code_verifier": verifier, "redirect_uri": "apuntador://oauth-callback"})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(
        authorize.status,
        200,
        "{}",
        String::from_utf8_lossy(&authorize.body)
    );
    let state = authorize.json()["state"].as_str().unwrap().to_owned();
    let callback = send(
        &app.app,
        "GET",
        &format!("/oauth/callback/googledrive?code=CodeNeverExported&state={state}"),
        &secret_headers,
        None,
    )
    .await;
    assert_eq!(callback.status, 302);
    let token = send(
        &app.app,
        "POST",
        "/oauth/token/googledrive",
        &secret_headers,
        Some(
            &json!({"code": "CodeNeverExported", "code_verifier": verifier, "state": state})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(
        token.status,
        200,
        "{}",
        String::from_utf8_lossy(&token.body)
    );
    let revoke = send(
        &app.app,
        "POST",
        "/oauth/revoke/googledrive",
        &secret_headers,
        Some(r#"{"token":"ya29.AccessTokenNeverExported"}"#),
    )
    .await;
    assert!(revoke.status < 300, "{}", revoke.status);
    let config = send(
        &app.app,
        "GET",
        "/config/providers",
        &[("authorization", &format!("Bearer {CONFIG_KEY}"))],
        None,
    )
    .await;
    assert_eq!(config.status, 200);
    let status = send(
        &app.app,
        "GET",
        "/device/status/device-1?x=QueryNeverExported",
        &secret_headers,
        None,
    )
    .await;
    assert!(status.status >= 400);
    app.flush().await;

    let spans = receiver.collected.spans();
    for name in [
        "HTTP POST /oauth/authorize/{provider}",
        "HTTP POST /oauth/token/{provider}",
        "HTTP GET /oauth/callback/{provider}",
        "HTTP POST /oauth/revoke/{provider}",
        "oauth.googledrive.token",
        "oauth.googledrive.revoke",
        "store.sessions.create",
        "store.sessions.consume",
    ] {
        assert!(
            spans.iter().any(|s| s.span.name == name),
            "{name} exported: {:?}",
            spans.iter().map(|s| &s.span.name).collect::<Vec<_>>()
        );
    }
    let forbidden = [
        "NeverExported",
        verifier,
        &state,
        CONFIG_KEY,
        "Bearer",
        "-----BEGIN",
        "apuntador://oauth-callback?",
    ];
    for span in &spans {
        for (key, value) in span.everything() {
            for needle in forbidden {
                assert!(
                    !key.contains(needle) && !value.contains(needle),
                    "{}: {key}={value} contains {needle}",
                    span.span.name
                );
            }
            let key = key.to_ascii_lowercase();
            for header in [
                "authorization",
                "cookie",
                "client",
                "cert",
                "query",
                "url",
                "body",
            ] {
                assert!(
                    !key.contains(header),
                    "{}: attribute {key} names a redacted item",
                    span.span.name
                );
            }
        }
    }
}

#[tokio::test]
async fn ca_signing_is_a_child_span_of_the_enrolment() {
    let (receiver, app) = with_http_receiver(&[]).await;
    let csr = crate::harness::csr();
    let answer = send(
        &app.app,
        "POST",
        "/device/enroll",
        &[("content-type", "application/json")],
        Some(&json!({"csr": csr, "device_id": "device-otel-1", "platform": "android"}).to_string()),
    )
    .await;
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    app.flush().await;

    let spans = receiver
        .collected
        .trace(answer.header("x-trace-id").unwrap());
    let request = the_one(&spans, "HTTP POST /device/enroll");
    let sign = the_one(&spans, "ca.sign");
    assert_eq!(sign.parent_id(), request.span_id());
    let issue = the_one(&spans, "store.certificates.issue");
    assert_eq!(issue.parent_id(), request.span_id());
    assert!(
        spans
            .iter()
            .all(|s| s.everything().iter().all(|(_, v)| !v.contains("BEGIN"))),
        "no CSR or certificate PEM is exported"
    );
}

#[tokio::test]
async fn a_5xx_marks_the_request_span_as_an_error() {
    let receiver = Receiver::http().await;
    // A provider that never answers in time: the request times out (504).
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&provider)
        .await;
    let app = App::start(
        config(
            &receiver.endpoint(),
            "http/protobuf",
            &[
                ("REQUEST_TIMEOUT_SECONDS", "1"),
                ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                ("GOOGLE_CLIENT_ID", "google-id"),
                ("GOOGLE_CLIENT_SECRET", "google-secret"),
                (
                    "GOOGLE_TOKEN_URL",
                    &format!("{}/google/token", provider.uri()),
                ),
                ("OAUTH_HTTP_TIMEOUT_SECONDS", "5"),
            ],
        ),
        Target::Server,
    );
    let answer = send(
        &app.app,
        "POST",
        "/oauth/refresh/googledrive",
        &[("content-type", "application/json")],
        Some(r#"{"refresh_token":"r"}"#),
    )
    .await;
    assert_eq!(answer.status, 504);
    app.flush().await;
    let request = the_one(
        &receiver
            .collected
            .trace(answer.header("x-trace-id").unwrap()),
        "HTTP POST /oauth/refresh/{provider}",
    );
    assert_eq!(request.attr("status").as_deref(), Some("504"));
    assert_eq!(
        request.span.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
}

/// Sends `count` requests, each followed by a Lambda-style bounded flush; returns each one's time.
async fn timed_requests(app: &App, count: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..count {
        let started = Instant::now();
        let answer = send(&app.app, "GET", "/health/ready", &[], None).await;
        assert_eq!(answer.status, 200);
        app.pipeline.flush(LAMBDA_FLUSH_BOUND).await;
        times.push(started.elapsed());
    }
    times
}

#[tokio::test]
async fn a_dead_collector_neither_fails_nor_slows_requests_and_is_reported_once() {
    for protocol in ["http/protobuf", "grpc"] {
        let app = App::start(
            config(&dead_endpoint().await, protocol, &[]),
            Target::Lambda,
        );
        let times = timed_requests(&app, 5).await;
        for (i, time) in times.iter().enumerate() {
            assert!(
                *time < Duration::from_millis(900),
                "{protocol}: request {i} took {time:?}"
            );
        }
        assert!(
            app.pipeline.failed_exports() >= 1,
            "{protocol}: the export failed"
        );
        let warnings = app
            .logs
            .lines()
            .into_iter()
            .filter(|l| {
                l["level"] == "WARN"
                    && l["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("export failed")
            })
            .count();
        assert_eq!(
            warnings,
            1,
            "{protocol}: one WARN per minute\n{}",
            app.logs.text()
        );
    }
}

#[tokio::test]
async fn a_silent_collector_costs_one_flush_bound_then_nothing() {
    let (endpoint, _silent) = silent_endpoint().await;
    let app = App::start(config(&endpoint, "http/protobuf", &[]), Target::Lambda);
    let times = timed_requests(&app, 4).await;
    // The first flush waits its bound (1 s); once the collector is known to fail, no flush waits.
    assert!(times[0] < Duration::from_millis(1800), "{times:?}");
    for (i, time) in times.iter().enumerate().skip(1) {
        assert!(*time < Duration::from_millis(300), "request {i}: {times:?}");
    }
}

#[tokio::test]
async fn attestation_is_a_child_span_of_its_request_and_exports_no_evidence() {
    let (receiver, app) = with_http_receiver(&[]).await;
    let fingerprint = "a".repeat(64);
    let body = json!({
        "device_id": "desk-otel-1",
        "fingerprint": fingerprint,
        "platform_details": {"hostname": "private-host-name"},
    });
    let answer = send(
        &app.app,
        "POST",
        "/device/attest/desktop",
        &[("content-type", "application/json")],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let attestation_id = answer.json()["attestation_id"].as_str().unwrap().to_owned();
    app.flush().await;

    let spans = receiver
        .collected
        .trace(answer.header("x-trace-id").unwrap());
    let request = the_one(&spans, "HTTP POST /device/attest/desktop");
    let attest = the_one(&spans, "attest.desktop");
    assert_eq!(attest.parent_id(), request.span_id());
    assert_eq!(attest.attr("device_id").as_deref(), Some("desk-otel-1"));
    let bind = the_one(&spans, "store.attestations.bind_if_absent");
    assert_eq!(
        bind.parent_id(),
        attest.span_id(),
        "store calls nest under the attestation"
    );
    for secret in [
        fingerprint.as_str(),
        "private-host-name",
        attestation_id.as_str(),
    ] {
        assert!(
            spans
                .iter()
                .all(|s| s.everything().iter().all(|(_, v)| !v.contains(secret))),
            "{secret} exported"
        );
    }
}
