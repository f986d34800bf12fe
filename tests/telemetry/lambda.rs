//! The real `apuntador-lambda` binary with OpenTelemetry enabled, under the in-repo Runtime API
//! emulator: the invocation's spans have reached the collector when its response is posted, and a
//! collector that does not answer costs invocations at most one flush bound.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::receiver::{Receiver, silent_endpoint};
use crate::runtime_api::{LambdaProcess, RuntimeApi};

/// Generous bound for one invocation of a debug build on a busy 2-core machine.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);

fn event(file: &str) -> Value {
    let path = format!("{}/tests/events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON fixture")
}

async fn running(extra_env: &[(&str, &str)]) -> (RuntimeApi, LambdaProcess) {
    let api = RuntimeApi::start().await;
    let mut process = LambdaProcess::spawn(&api, extra_env);
    if !api.wait_for_poll(Duration::from_secs(30)).await {
        panic!(
            "apuntador-lambda never polled (exit {:?})\nstderr:\n{}\nstdout:\n{}",
            process.try_exit(),
            process.stderr(),
            process.stdout()
        );
    }
    (api, process)
}

fn header(response: &Value, name: &str) -> Option<String> {
    response["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn the_invocation_spans_reach_the_collector_before_the_response_is_posted() {
    let receiver = Receiver::http().await;
    let endpoint = receiver.endpoint();
    let (api, process) = running(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("LOG_LEVEL", "info"),
    ])
    .await;
    let runtime_trace =
        "Root=1-6b0a9438-24d925fb263f8d71b3c59162;Parent=b4d629b2f5e85d6c;Sampled=1";

    let response = api
        .invoke_traced(
            event("apigw-v2-config-providers-no-key.json"),
            Some(runtime_trace.into()),
            INVOKE_TIMEOUT,
        )
        .await
        .expect("invocation");
    // What is here now was exported before the response was posted: the process is killed before
    // anything is read, as a frozen environment would never run again.
    let spans = receiver.collected.spans();
    let stdout = process.stdout();
    drop(process);

    let trace_id = "6b0a943824d925fb263f8d71b3c59162";
    assert_eq!(header(&response, "x-trace-id").as_deref(), Some(trace_id));
    let request = spans
        .iter()
        .find(|s| s.span.name == "HTTP GET /config/providers")
        .unwrap_or_else(|| panic!("the request span was exported: {spans:?}\n{stdout}"));
    assert_eq!(request.trace_id(), trace_id);
    assert_eq!(
        request.parent_id(),
        "b4d629b2f5e85d6c",
        "the runtime's trace header is the parent"
    );
    assert_eq!(request.attr("status").as_deref(), Some("401"));
    assert_eq!(request.resource_attr("cloud.platform"), Some("aws_lambda"));
    assert_eq!(request.resource_attr("cloud.provider"), Some("aws"));
    assert_eq!(
        request.resource_attr("faas.name"),
        Some(crate::runtime_api::FUNCTION_NAME)
    );
    assert!(
        spans.iter().all(|s| s.span.name != "invocation"),
        "the adapter's invocation span is not exported"
    );
    // Logs are written synchronously and name the invocation and the span.
    let warn: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "request rejected")
        .unwrap_or_else(|| panic!("a WARN line for the 401:\n{stdout}"));
    assert!(
        warn["aws_request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{warn}"
    );
    assert_eq!(warn["trace_id"], trace_id);
    assert_eq!(warn["span_id"], request.span_id().as_str());
}

#[tokio::test]
async fn a_silent_collector_delays_at_most_the_first_sampled_invocation_by_the_flush_bound() {
    let (endpoint, _silent) = silent_endpoint().await;
    let (api, mut process) = running(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ])
    .await;
    // An unsampled invocation has nothing to export: it does not even start a flush.
    let started = Instant::now();
    let response = api
        .invoke_traced(
            event("apigw-v2-health.json"),
            Some(
                "Root=1-6b0a9438-24d925fb263f8d71b3c59162;Parent=b4d629b2f5e85d6c;Sampled=0".into(),
            ),
            INVOKE_TIMEOUT,
        )
        .await
        .unwrap_or_else(|e| panic!("invocation: {e}\n{}", process.stderr()));
    assert_eq!(response["statusCode"], 200);
    let unsampled = started.elapsed();
    assert!(unsampled < Duration::from_millis(500), "{unsampled:?}");
    // Sampled invocations: the first waits for the flush bound at most, the next ones not at all.
    let mut times = Vec::new();
    for _ in 0..4 {
        let started = Instant::now();
        let response = api
            .invoke(event("apigw-v2-health.json"), INVOKE_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("invocation: {e}\n{}", process.stderr()));
        times.push(started.elapsed());
        assert_eq!(response["statusCode"], 200);
    }
    assert!(process.is_running());
    assert!(
        times[0] >= Duration::from_millis(900) && times[0] < Duration::from_millis(2500),
        "the first sampled invocation waits for the 1 s bound: {times:?}"
    );
    for time in &times[1..] {
        assert!(*time < Duration::from_millis(500), "{times:?}");
    }
}
