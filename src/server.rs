//! The HTTP/1.1 server loop of `apuntador-server` (SPEC §9.2): accept, serve, and shut down gracefully.
//!
//! [`serve`] takes the listener and the shutdown future as parameters so tests can drive it. On the
//! shutdown signal readiness turns `shutting_down`, the listener is closed (new connections are
//! refused, not left hanging), idle keep-alive connections are closed, and in-flight requests get up to
//! the grace period to finish. Idle keep-alive connections are otherwise kept open: the load balancer's
//! idle timeout (60 s) must expire first.
//!
//! With `TLS_CERT_FILE`/`TLS_KEY_FILE` the same loop serves HTTPS ([`tls`]): each accepted connection
//! completes its TLS handshake in its own task, bounded by [`tls::HANDSHAKE_TIMEOUT`], so a slow or
//! silent client never holds up the accept loop; the header-read timeout, load shedding and graceful
//! shutdown then apply to TLS connections exactly as to plain ones (a handshake still in progress at
//! shutdown is waited for like an in-flight request, within the grace period).

pub mod tls;

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

/// Serves `app` over plain HTTP on `listener` until `shutdown` completes, then drains for at most
/// `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> ShutdownOutcome {
    serve_door(listener, app, lifecycle, shutdown, grace, None).await
}

/// Like [`serve`], over HTTPS when `tls` is `Some` (the server's own TLS door).
pub async fn serve_door(
    listener: TcpListener,
    app: Router,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    tls: Option<tls::TlsDoor>,
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
                let Some(door) = &tls else {
                    let service = app.clone().map_request(|req: http::Request<Incoming>| req.map(Body::new));
                    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    continue;
                };
                // The handshake runs in the connection's own task, never in the accept loop.
                let (door, app, http, watcher) = (door.clone(), app.clone(), http.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let Some((stream, client_cert)) = door.handshake(stream).await else {
                        return;
                    };
                    let service = app.map_request(move |req: http::Request<Incoming>| {
                        let mut req = req.map(Body::new);
                        if let Some(cert) = &client_cert {
                            req.extensions_mut().insert(cert.clone());
                        }
                        req
                    });
                    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                    let _ = watcher.watch(conn).await;
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

/// `--healthcheck`: `GET /health` on 127.0.0.1:`port`; true on a 200 within 3 s. Needs no
/// configuration beyond the port (and `TLS_CERT_FILE` when the server speaks HTTPS) and no shell
/// (distroless images).
pub fn healthcheck(port: u16) -> bool {
    let tls_cert_file = std::env::var_os("TLS_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    healthcheck_with(port, tls_cert_file.as_deref())
}

/// [`healthcheck`] with the TLS certificate file given: with `Some`, the probe speaks HTTPS and
/// accepts only a server presenting exactly that file's first certificate. A server with
/// `TLS_CLIENT_AUTH=required` refuses the probe (it has no device certificate).
pub fn healthcheck_with(port: u16, tls_cert_file: Option<&std::path::Path>) -> bool {
    let deadline = Duration::from_secs(3);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, deadline) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(deadline));
    let _ = stream.set_write_timeout(Some(deadline));
    match tls_cert_file {
        None => probe_health(stream, port),
        Some(path) => match tls::pinned_client(path, stream) {
            Some(tls) => probe_health(tls, port),
            None => false,
        },
    }
}

fn probe_health(mut stream: impl Read + Write, port: u16) -> bool {
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok()
        && (&head[..] == b"HTTP/1.1 200" || &head[..] == b"HTTP/1.0 200")
}
