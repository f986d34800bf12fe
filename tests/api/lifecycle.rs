//! Graceful shutdown and load shedding over real loopback sockets.

use std::time::{Duration, Instant};

use apuntador::server::{ShutdownOutcome, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::helpers::{Ping, config, faulty_state, send, tcp_get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_after_the_signal_and_new_connections_are_refused() {
    let (state, store) = faulty_state(config(&[]));
    store.set(Ping::Slow);
    let app = apuntador::router(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        app.clone(),
        state.lifecycle.clone(),
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));

    let slow: Vec<_> = (0..2)
        .map(|_| tokio::spawn(tcp_get(addr, "/health/ready")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let asked = Instant::now();
    assert_eq!(
        tcp_get(addr, "/health").await,
        None,
        "a connection after the signal must be refused"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "refused promptly, not hung"
    );

    let ready = send(&app, "GET", "/health/ready", &[], None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["checks"]["certificate_store"], "shutting_down");
    assert_eq!(ready.header("retry-after"), None);

    for request in slow {
        assert_eq!(
            request.await.unwrap(),
            Some(200),
            "in-flight requests complete"
        );
    }
    assert_eq!(server.await.unwrap(), ShutdownOutcome::Drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_how_long_shutdown_waits() {
    let (state, store) = faulty_state(config(&[]));
    store.set(Ping::Slow);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let app = apuntador::router(state.clone());
    let server = tokio::spawn(serve(
        listener,
        app,
        state.lifecycle.clone(),
        async {
            let _ = stopped.await;
        },
        Duration::from_millis(200),
    ));
    let _slow = tokio::spawn(tcp_get(addr, "/health/ready"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    stop.send(()).unwrap();
    assert_eq!(server.await.unwrap(), ShutdownOutcome::GraceExpired);
    assert!(signalled.elapsed() < Duration::from_millis(1200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_concurrent_slow_request_is_shed_while_liveness_still_answers() {
    let (state, store) = faulty_state(config(&[("MAX_CONCURRENT_REQUESTS", "2")]));
    store.set(Ping::Slow);
    let state = state.with_load_shedding();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let app = apuntador::router(state.clone());
    tokio::spawn(serve(
        listener,
        app,
        state.lifecycle.clone(),
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));

    let slow: Vec<_> = (0..2)
        .map(|_| tokio::spawn(tcp_get(addr, "/health/ready")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client = reqwest::Client::new();
    let asked = Instant::now();
    let shed = client
        .get(format!("http://{addr}/health/ready"))
        .send()
        .await
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "shed immediately, not queued"
    );
    assert_eq!(shed.status().as_u16(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    assert_eq!(shed.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(body["detail"], "The service is overloaded; retry later");

    for path in ["/health", "/health/public"] {
        let live = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status().as_u16(), 200, "{path} is never shed");
    }
    for request in slow {
        assert_eq!(request.await.unwrap(), Some(200));
    }
    store.set(Ping::Ok);
    assert_eq!(
        tcp_get(addr, "/health/ready").await,
        Some(200),
        "capacity is released"
    );
    let _ = stop.send(());
}
