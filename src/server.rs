//! The HTTP/1.1 server loop of `apuntador-server` (SPEC §9.2): accept, serve, and shut down gracefully.
//!
//! [`serve`] takes the listener and the shutdown future as parameters so tests can drive it. On the
//! shutdown signal readiness turns `shutting_down`, the listener is closed (new connections are
//! refused, not left hanging), idle keep-alive connections are closed, and in-flight requests get up to
//! the grace period to finish. Idle keep-alive connections are otherwise kept open: the load balancer's
//! idle timeout (60 s) must expire first.
//!
//! With a connection limit (`MAX_CONNECTIONS`, set by the server binary) each connection holds a permit
//! while it is open. A connection over the limit is still accepted — so it is neither left in the
//! backlog nor reset — and is answered once, without keep-alive: liveness normally, anything else 503
//! with `Retry-After`; a WARN with the number of refused connections is logged at most every 10 s.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::http::middleware::OverConnectionLimit;
use crate::state::Lifecycle;

/// How long a connection may take to send a request's headers. Longer than the 65 s the idle
/// keep-alive connections must survive (SPEC §9.2), since hyper counts idle time against it.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(75);

/// Connections over `MAX_CONNECTIONS` being answered at once; beyond this they are closed unanswered.
const MAX_REFUSALS: usize = 64;
/// How long a connection over `MAX_CONNECTIONS` may take to send its one request.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// At most one WARN per this interval for refused connections and for accept failures.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

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
    // A connection over MAX_CONNECTIONS is answered once (503, liveness excepted) and closed.
    let mut refusing = http.clone();
    refusing
        .header_read_timeout(REFUSAL_HEADER_TIMEOUT)
        .keep_alive(false);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let (mut refused_warn, mut accept_warn) =
        (RateLimitedWarn::default(), RateLimitedWarn::default());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Typically EMFILE: back off briefly instead of spinning, and say so rarely.
                        if let Some(failures) = accept_warn.note() {
                            tracing::warn!(error = %err, failures, "accept failed");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let permit = match lifecycle.connection_limit().map(|c| c.clone().try_acquire_owned()) {
                    None => None,
                    Some(Ok(permit)) => Some(permit),
                    Some(Err(_)) => {
                        if let Some(refused) = refused_warn.note() {
                            tracing::warn!(refused, "connection limit (MAX_CONNECTIONS) reached; refusing new connections");
                        }
                        // Over the limit with too many refusals in progress: closed unanswered.
                        if let Ok(slot) = refusals.clone().try_acquire_owned() {
                            refuse(&refusing, &graceful, app.clone(), stream, slot);
                        }
                        continue;
                    }
                };
                let service = app.clone().map_request(|req: http::Request<Incoming>| req.map(Body::new));
                let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // hyper answers unparsable requests itself (400/414/431, no body); they are only
                    // logged at DEBUG, so garbage sent to the port cannot flood the logs.
                    if let Err(err) = conn.await
                        && (err.is_parse() || err.is_parse_too_large() || err.is_parse_status())
                    {
                        tracing::debug!(error = %err, "request refused by the HTTP parser");
                    }
                    drop(permit);
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

/// Serves the one request of a connection over `MAX_CONNECTIONS` (marked [`OverConnectionLimit`], so
/// the app sheds it unless it is liveness) on `refusing` — no keep-alive, a short header timeout —
/// holding a refusal `slot` until the connection ends.
fn refuse(
    refusing: &hyper::server::conn::http1::Builder,
    graceful: &GracefulShutdown,
    app: Router,
    stream: tokio::net::TcpStream,
    slot: tokio::sync::OwnedSemaphorePermit,
) {
    let service = app.map_request(|req: http::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(OverConnectionLimit);
        req
    });
    let conn = refusing.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        let _ = conn.await;
        drop(slot);
    });
}

/// Counts occurrences of one WARN and lets it through at most once per [`WARN_INTERVAL`], with the
/// number of occurrences since the last one it let through: a storm is one line every few seconds.
#[derive(Debug, Default)]
struct RateLimitedWarn {
    last: Option<Instant>,
    count: u64,
}

impl RateLimitedWarn {
    /// Records one occurrence; `Some(count)` when the WARN is due.
    fn note(&mut self) -> Option<u64> {
        self.count += 1;
        let due = self.last.is_none_or(|at| at.elapsed() >= WARN_INTERVAL);
        due.then(|| {
            self.last = Some(Instant::now());
            std::mem::take(&mut self.count)
        })
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
/// configuration beyond the port and no shell (distroless images).
pub fn healthcheck(port: u16) -> bool {
    let deadline = Duration::from_secs(3);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, deadline) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(deadline));
    let _ = stream.set_write_timeout(Some(deadline));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok()
        && (&head[..] == b"HTTP/1.1 200" || &head[..] == b"HTTP/1.0 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_of_warnings_is_one_line_per_interval_with_its_count() {
        let mut warn = RateLimitedWarn::default();
        assert_eq!(warn.note(), Some(1));
        for _ in 0..999 {
            assert_eq!(warn.note(), None);
        }
        warn.last = Some(Instant::now() - WARN_INTERVAL);
        assert_eq!(warn.note(), Some(1000));
        assert_eq!(warn.note(), None);
    }
}
