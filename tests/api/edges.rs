//! The edges of the HTTP layer that only real sockets show: body framing errors and the connection
//! limit of the server binary (docs/http-edges.md).

use std::net::SocketAddr;
use std::time::Duration;

use apuntador::AppState;
use axum::body::Body;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::helpers::config;
use crate::log_capture::Capture;

/// Serves `state` on 127.0.0.1 until the returned sender is dropped.
async fn serve(state: AppState) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let lifecycle = state.lifecycle.clone();
    tokio::spawn(apuntador::server::serve(
        listener,
        apuntador::router(state),
        lifecycle,
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    (addr, stop)
}

/// Writes `request` on a fresh connection (then half-closes it when `half_close`), and reads until the
/// server closes: the raw answer.
async fn raw(addr: SocketAddr, request: &[u8], half_close: bool) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes within 10 s")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(answer: &str) -> serde_json::Value {
    let text = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

fn assert_invalid_body(answer: &str) {
    assert_eq!(status(answer), 400, "{answer}");
    let doc = body(answer);
    assert_eq!(doc["error"], "invalid_body", "{answer}");
    assert_eq!(doc["detail"], "The request body is malformed or incomplete");
    assert_eq!(doc["instance"], "/device/enroll");
    assert_eq!(
        Some(doc["trace_id"].as_str().unwrap()),
        header(answer, "x-trace-id")
    );
    assert_eq!(
        header(answer, "content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn a_broken_chunked_body_is_400_invalid_body_not_413() {
    let (addr, _stop) = serve(AppState::in_memory(config(&[]))).await;
    for broken in [
        "zz\r\n{}\r\n0\r\n\r\n",                  // a chunk size that is not hex
        "2\r\n{}XX0\r\n\r\n",                     // no CRLF after the chunk data
        "fffffffffffffffffff\r\n{}\r\n0\r\n\r\n", // a chunk size that overflows
    ] {
        let request = format!(
            "POST /device/enroll HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{broken}"
        );
        assert_invalid_body(&raw(addr, request.as_bytes(), false).await);
    }
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_400_invalid_body() {
    let (addr, _stop) = serve(AppState::in_memory(config(&[]))).await;
    let request = "POST /device/enroll HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                   Content-Length: 100\r\n\r\n{\"csr\":";
    assert_invalid_body(&raw(addr, request.as_bytes(), true).await);
}

#[tokio::test]
async fn bodies_over_the_limit_stay_413_declared_or_chunked() {
    let (addr, _stop) = serve(AppState::in_memory(config(&[("BODY_LIMIT_BYTES", "1024")]))).await;
    let declared = "POST /device/enroll HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                    Content-Length: 4096\r\nConnection: close\r\n\r\n";
    assert_eq!(status(&raw(addr, declared.as_bytes(), true).await), 413);
    let chunk = "x".repeat(512);
    let chunked = format!(
        "POST /device/enroll HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}0\r\n\r\n",
        format!("200\r\n{chunk}\r\n").repeat(4)
    );
    let answer = raw(addr, chunked.as_bytes(), false).await;
    assert_eq!(status(&answer), 413, "{answer}");
    assert_eq!(body(&answer)["detail"], "Request body exceeds 1024 bytes");
}

#[tokio::test]
async fn a_body_stream_that_fails_is_400_invalid_body_in_process_too() {
    let app = apuntador::router(AppState::in_memory(config(&[])));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"csr\":".to_vec()),
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "cut",
        )),
    ];
    let req = http::Request::post("/device/enroll")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test]
async fn connections_over_max_connections_get_one_503_while_liveness_still_answers() {
    let capture = Capture::default();
    let subscriber = apuntador::telemetry::subscriber(
        "info",
        apuntador::config::LogFormat::Json,
        capture.clone(),
    )
    .unwrap();
    crate::helpers::reliable_log_capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = AppState::in_memory(config(&[("MAX_CONNECTIONS", "3")])).with_load_shedding();
    let (addr, _stop) = serve(state).await;
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");

    // Three idle connections take every slot.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        let answer = raw(addr, get("/device/ca-certificate").as_bytes(), false).await;
        assert_eq!(status(&answer), 503, "{answer}");
        assert_eq!(header(&answer, "retry-after"), Some("1"));
        assert_eq!(header(&answer, "connection"), Some("close"));
        let doc = body(&answer);
        assert_eq!(doc["detail"], "The service is overloaded; retry later");
        assert_eq!(
            Some(doc["trace_id"].as_str().unwrap()),
            header(&answer, "x-trace-id")
        );
    }
    // Liveness is answered even over the limit, and that connection is closed too.
    let answer = raw(addr, get("/health").as_bytes(), false).await;
    assert_eq!(status(&answer), 200, "{answer}");

    // Closing the idle connections frees their slots.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut request = get("/device/ca-certificate");
    request.insert_str(request.len() - 2, "Connection: close\r\n");
    let answer = raw(addr, request.as_bytes(), false).await;
    assert_eq!(status(&answer), 200, "{answer}");

    // Six refused connections, one WARN naming the first; no other WARN or ERROR.
    let warnings: Vec<_> = capture
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "WARN" || l["level"] == "ERROR")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0]["message"],
        "connection limit (MAX_CONNECTIONS) reached; refusing new connections"
    );
    assert_eq!(warnings[0]["refused"], 1);
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_head_is_closed_by_the_header_timeout() {
    // A connection over MAX_CONNECTIONS has 5 s to send its head (the normal 75 s are too long for a
    // test); both go through the same per-connection header-read timer.
    let state = AppState::in_memory(config(&[("MAX_CONNECTIONS", "1")])).with_load_shedding();
    let (addr, _stop) = serve(state).await;
    let _idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut slow = TcpStream::connect(addr).await.unwrap();
    let start = std::time::Instant::now();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // Closed or reset: either ends the read.
    let _ = tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cpu_pool_answers_503_with_retry_after_at_once() {
    use crate::fake_csr;
    let state = AppState::in_memory(config(&[
        ("MAX_CPU_JOBS", "1"),
        ("MAX_QUEUED_CPU_JOBS", "0"),
    ]));
    let app = apuntador::router(state);
    // 8192-bit keys pass the cheap checks, so every CSR reaches the (failing) signature check.
    let body = serde_json::json!({
        "csr": fake_csr::fake_rsa_csr_pem(8192, 0x5a),
        "device_id": "busy-device-1",
        "platform": "android",
    })
    .to_string();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _round in 0..20 {
        let answers: Vec<_> = (0..16)
            .map(|_| {
                let (app, body) = (app.clone(), body.clone());
                tokio::spawn(async move {
                    crate::helpers::send(
                        &app,
                        "POST",
                        "/device/enroll",
                        &[("content-type", "application/json")],
                        Some(&body),
                    )
                    .await
                })
            })
            .collect();
        for answer in answers {
            let answer = answer.await.unwrap();
            *statuses.entry(answer.status).or_default() += 1;
            match answer.status {
                400 => assert_eq!(
                    answer.json()["detail"],
                    "Invalid enrollment request: CSR signature is invalid"
                ),
                503 => {
                    assert_eq!(answer.header("retry-after"), Some("1"));
                    assert_eq!(
                        answer.json()["detail"],
                        "The service is overloaded; retry later"
                    );
                }
                other => panic!(
                    "unexpected {other}: {}",
                    String::from_utf8_lossy(&answer.body)
                ),
            }
        }
        if statuses.contains_key(&503) && statuses.contains_key(&400) {
            return;
        }
    }
    panic!("no request was refused by a one-slot pool: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_writes_is_refused_before_its_body_while_the_write_queue_is_full() {
    let state = AppState::in_memory(config(&[
        ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
        ("GOOGLE_CLIENT_ID", "google id"),
        ("GOOGLE_CLIENT_SECRET", "google-secret"),
        ("ALLOWED_REDIRECT_URIS", "apuntador://oauth-callback"),
    ]));
    // A queue with room for one write, taken.
    let backlog = apuntador::store::WriteBacklog::new(1);
    backlog.enqueue();
    assert!(backlog.is_full());
    let (addr, _stop) = serve(
        state
            .clone()
            .with_write_backlog(backlog.clone())
            .with_load_shedding(),
    )
    .await;
    let json = r#"{"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk","redirect_uri":"apuntador://oauth-callback"}"#;
    let post = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };

    // Answered from the head alone: the declared body never comes, and the answer does not wait for it.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /oauth/authorize/googledrive HTTP/1.1\r\nHost: t\r\n\
              Content-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert_eq!(status(&answer), 503, "{answer}");
    assert_eq!(header(&answer, "retry-after"), Some("1"));
    assert_eq!(
        header(&answer, "content-type"),
        Some("application/problem+json")
    );

    // Every route that writes is refused the same way, a complete request too.
    for path in [
        "/oauth/authorize/googledrive",
        "/oauth/token/googledrive",
        "/device/enroll",
        "/device/attest/desktop",
    ] {
        let answer = raw(addr, post(path, json).as_bytes(), false).await;
        assert_eq!(status(&answer), 503, "{path}: {answer}");
        assert_eq!(
            body(&answer)["detail"],
            "The service is overloaded; retry later",
            "{path}"
        );
    }
    // A route that does not write, and reads, are answered as usual.
    let answer = raw(
        addr,
        post("/oauth/refresh/googledrive", "{}").as_bytes(),
        false,
    )
    .await;
    assert_eq!(status(&answer), 422, "{answer}");
    let answer = raw(
        addr,
        b"GET /device/ca-certificate HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(status(&answer), 200, "{answer}");

    // Room in the queue again: the same request is accepted.
    backlog.dequeue();
    let answer = raw(
        addr,
        post("/oauth/authorize/googledrive", json).as_bytes(),
        false,
    )
    .await;
    assert_eq!(status(&answer), 200, "{answer}");

    // Without load shedding (as on Lambda) the queue is not looked at: the store decides.
    backlog.enqueue();
    let (lambda_like, _stop) = serve(state.with_write_backlog(backlog)).await;
    let answer = raw(
        lambda_like,
        post("/oauth/authorize/googledrive", json).as_bytes(),
        false,
    )
    .await;
    assert_eq!(status(&answer), 200, "{answer}");
}
