//! The HTTP/1.1 server loop of `apuntador-server` (SPEC §9.2): accept, serve, and shut down gracefully.
//!
//! [`serve`] takes the listener and the shutdown future as parameters so tests can drive it. On the
//! shutdown signal readiness turns `shutting_down`, the listener is closed (new connections are
//! refused, not left hanging), idle keep-alive connections are closed, and in-flight requests get up to
//! the grace period to finish. Idle keep-alive connections are otherwise kept open: the load balancer's
//! idle timeout (60 s) must expire first.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::state::Lifecycle;

/// How long a connection may take to send a request's headers. Longer than the 65 s the idle
/// keep-alive connections must survive (SPEC §9.2), since hyper counts idle time against it.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(75);

/// How the serve loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownOutcome {
    /// Every in-flight request finished within the grace period.
    Drained,
    /// The grace period ran out with requests still in flight.
    GraceExpired,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> ShutdownOutcome {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Typically EMFILE: back off briefly instead of spinning.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = app.clone().map_request(|req: http::Request<Incoming>| req.map(Body::new));
                let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    lifecycle.begin_shutdown();
    drop(listener);
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "shutting down: listener closed, draining in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => ShutdownOutcome::Drained,
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over with requests still in flight");
            ShutdownOutcome::GraceExpired
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Completes when `signal` does, after turning readiness `shutting_down` and then waiting `delay` with
/// the listener still open: a load balancer probing readiness sees the 503 and deregisters the task
/// before [`serve`] stops accepting connections and starts draining (`SHUTDOWN_DELAY_SECONDS`).
pub async fn delay_after(signal: impl Future<Output = ()>, lifecycle: Lifecycle, delay: Duration) {
    signal.await;
    lifecycle.begin_shutdown();
    if !delay.is_zero() {
        tracing::info!(
            delay_seconds = delay.as_secs(),
            "shutdown requested: readiness answers shutting_down; still serving until the delay is over"
        );
        tokio::time::sleep(delay).await;
    }
}

/// `healthcheck`: `GET /health` on `addr`; `Ok` on a 200 within 3 s, else why not (for the operator:
/// no secret is involved). Needs no configuration beyond the address and no shell (distroless images).
pub fn healthcheck(addr: SocketAddr) -> Result<(), String> {
    let deadline = Duration::from_secs(3);
    let url = format!("http://{addr}/health");
    let mut stream = TcpStream::connect_timeout(&addr, deadline)
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    let _ = stream.set_read_timeout(Some(deadline));
    let _ = stream.set_write_timeout(Some(deadline));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("GET {url} could not be sent: {err}"))?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|err| format!("GET {url} got no answer within 3 s: {err}"))?;
    match &head[..] {
        b"HTTP/1.1 200" | b"HTTP/1.0 200" => Ok(()),
        other => Err(format!(
            "GET {url} answered {:?} instead of 200",
            String::from_utf8_lossy(other)
        )),
    }
}
