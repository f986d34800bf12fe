//! The real `apuntador-server` binary with OpenTelemetry enabled (gRPC, as the ECS stack runs it):
//! spans queued when SIGTERM arrives are exported before the process exits.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::receiver::Receiver;

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_server_exports_queued_spans_after_draining_on_sigterm() {
    let receiver = Receiver::grpc().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let spawned = Instant::now();
    let mut child = Command::new(SERVER)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATA_DIR", dir.path().join("data"))
        .env("LOG_LEVEL", "warn")
        .env("OTEL_ENABLED", "true")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env(
            "ECS_CONTAINER_METADATA_URI_V4",
            "http://169.254.170.2/v4/test",
        )
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let trace = "Root=1-6b0a9438-0123456789abcdef01234567;Parent=b4d629b2f5e85d6c;Sampled=1";
    let started = Instant::now();
    let answer = loop {
        match client
            .get(&url)
            .header("x-amzn-trace-id", trace)
            .send()
            .await
        {
            Ok(answer) => break answer,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                let _ = child.kill();
                panic!("the server never answered: {e}");
            }
        }
    };
    assert_eq!(answer.status(), 200);
    // The batch processor exports every 5 s: before that, nothing has been sent (on a machine so slow
    // that 5 s have passed, the check says nothing and is skipped).
    if spawned.elapsed() < Duration::from_millis(4500) {
        assert!(receiver.collected.spans().is_empty());
    }
    let term = Instant::now();
    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if term.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the server did not exit after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        term.elapsed() < Duration::from_secs(4),
        "{:?}",
        term.elapsed()
    );

    let spans = receiver.collected.trace("6b0a94380123456789abcdef01234567");
    let request = spans
        .iter()
        .find(|s| s.span.name == "HTTP GET /health/ready")
        .unwrap_or_else(|| panic!("the request span was exported at shutdown: {spans:?}"));
    assert_eq!(request.parent_id(), "b4d629b2f5e85d6c");
    assert_eq!(request.resource_attr("cloud.platform"), Some("aws_ecs"));
    assert!(spans.iter().any(|s| s.span.name.starts_with("store.")));
}
