//! Failures inside the stack become the right problem documents.

use axum::body::Body;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::helpers::{Ping, config, faulty_state, send};

const GOOGLE_ID: (&str, &str) = ("GOOGLE_CLIENT_ID", "google-id");
const GOOGLE_SECRET: (&str, &str) = ("GOOGLE_CLIENT_SECRET", "google-secret");

#[tokio::test]
async fn a_panicking_handler_gives_a_500_problem_and_the_app_keeps_serving() {
    let (state, store) = faulty_state(config(&[]));
    let app = apuntador::router(state);
    store.set(Ping::Panic);
    let failed = send(&app, "GET", "/health/ready", &[], None).await;
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.header("content-type"),
        Some("application/problem+json")
    );
    let body = failed.json();
    assert_eq!(
        body["detail"],
        "An unexpected error occurred. Please try again later."
    );
    assert_eq!(body["trace_id"], failed.header("x-trace-id").unwrap());
    assert!(!String::from_utf8_lossy(&failed.body).contains("simulated"));

    store.set(Ping::Ok);
    assert_eq!(
        send(&app, "GET", "/health/ready", &[], None).await.status,
        200
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_504_problem() {
    let (state, store) = faulty_state(config(&[("REQUEST_TIMEOUT_SECONDS", "1")]));
    store.set(Ping::Slow);
    let answer = send(&apuntador::router(state), "GET", "/health/ready", &[], None).await;
    assert_eq!(answer.status, 504);
    assert_eq!(
        answer.json()["detail"],
        "The request did not complete within 1 seconds"
    );
}

#[tokio::test]
async fn readiness_names_the_failing_check_without_retry_after() {
    let (state, store) = faulty_state(config(&[]));
    store.set(Ping::Fail);
    let answer = send(&apuntador::router(state), "GET", "/health/ready", &[], None).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after"), None);
    let body = answer.json();
    assert_eq!(body["detail"], "Service is not ready");
    assert_eq!(
        body["checks"],
        serde_json::json!({"certificate_store": "unreachable", "session_store": "ok", "certificate_authority": "ok"})
    );
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413_without_a_declared_length() {
    let app = apuntador::router(apuntador::AppState::in_memory(config(&[
        ("BODY_LIMIT_BYTES", "1024"),
        GOOGLE_ID,
        GOOGLE_SECRET,
    ])));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 1024])).collect();
    let req = http::Request::post("/oauth/authorize/googledrive")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("Request body exceeds 1024 bytes"));
}

#[tokio::test]
async fn invalid_utf8_and_deeply_nested_json_are_422_not_500() {
    let app = apuntador::router(apuntador::AppState::in_memory(config(&[
        GOOGLE_ID,
        GOOGLE_SECRET,
    ])));
    let bodies: Vec<Vec<u8>> = vec![
        vec![b'{', b'"', 0xff, b'"', b':', b'1', b'}'],
        "[".repeat(500).into_bytes(),
        "{\"a\":".repeat(200).into_bytes(),
        b"\0".to_vec(),
        Vec::new(),
    ];
    for body in bodies {
        let req = http::Request::post("/oauth/authorize/googledrive")
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status().as_u16(), 422, "body {body:?}");
    }
}
