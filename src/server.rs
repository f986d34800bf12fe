//! The HTTP/1.1 server loop of `apuntador-server`: accept, serve, and shut down gracefully.
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

//!
//! With `TLS_CERT_FILE`/`TLS_KEY_FILE` the same loop serves HTTPS ([`tls`]): each accepted connection
//! completes its TLS handshake in its own task, bounded by [`tls::HANDSHAKE_TIMEOUT`], so a slow or
//! silent client never holds up the accept loop; the header-read timeout, load shedding and graceful
//! shutdown then apply to TLS connections exactly as to plain ones (a handshake still in progress at
//! shutdown is waited for like an in-flight request, within the grace period).

mod timer;
pub mod tls;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::rt::{Read as HyperRead, Write as HyperWrite};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::http::middleware::OverConnectionLimit;
use crate::state::Lifecycle;

/// How long a connection may take to send a request's headers. Longer than the 65 s the idle
/// keep-alive connections must survive, since hyper counts idle time against it.
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
    // Each connection gets its own timer (`Connection::serve`).
    http.header_read_timeout(HEADER_READ_TIMEOUT)
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
                let connection = match lifecycle.connection_limit().map(|c| c.clone().try_acquire_owned()) {
                    None => Connection { http: http.clone(), hold: None, over_limit: false },
                    Some(Ok(permit)) => Connection { http: http.clone(), hold: Some(permit), over_limit: false },
                    Some(Err(_)) => {
                        if let Some(refused) = refused_warn.note() {
                            tracing::warn!(refused, "connection limit (MAX_CONNECTIONS) reached; refusing new connections");
                        }
                        // Over the limit with too many refusals in progress: closed unanswered.
                        let Ok(slot) = refusals.clone().try_acquire_owned() else {
                            continue;
                        };
                        Connection { http: refusing.clone(), hold: Some(slot), over_limit: true }
                    }
                };
                connection.spawn(stream, app.clone(), tls.clone(), graceful.watcher());
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

/// One accepted connection, about to be served in its own task.
struct Connection {
    /// The HTTP/1 settings: the normal ones, or for a connection over `MAX_CONNECTIONS` no keep-alive
    /// and a short header timeout.
    http: hyper::server::conn::http1::Builder,
    /// A `MAX_CONNECTIONS` permit (or a refusal slot), released when the connection ends.
    hold: Option<OwnedSemaphorePermit>,
    /// Over the limit: its one request is marked [`OverConnectionLimit`], so the app sheds it unless
    /// it is liveness.
    over_limit: bool,
}

impl Connection {
    /// Serves `stream` in its own task: the TLS handshake first when `tls` is set (never in the accept
    /// loop), then HTTP/1 until the connection ends; `watcher` keeps graceful shutdown waiting for it.
    fn spawn(
        self,
        stream: tokio::net::TcpStream,
        app: Router,
        tls: Option<tls::TlsDoor>,
        watcher: Watcher,
    ) {
        tokio::spawn(async move {
            match tls {
                None => self.serve(TokioIo::new(stream), app, None, watcher).await,
                Some(door) => {
                    let Some((stream, client_cert)) = door.handshake(stream).await else {
                        return;
                    };
                    self.serve(TokioIo::new(stream), app, client_cert, watcher)
                        .await;
                }
            }
        });
    }

    async fn serve<I>(
        self,
        io: I,
        app: Router,
        client_cert: Option<crate::http::extract::TlsClientCert>,
        watcher: Watcher,
    ) where
        I: HyperRead + HyperWrite + Unpin + Send + 'static,
    {
        let over_limit = self.over_limit;
        let service = app.map_request(move |req: http::Request<Incoming>| {
            let mut req = req.map(Body::new);
            if let Some(cert) = &client_cert {
                req.extensions_mut().insert(cert.clone());
            }
            if over_limit {
                req.extensions_mut().insert(OverConnectionLimit);
            }
            req
        });
        let mut http = self.http;
        // The header-read timeout's timer: one armed sleep per connection, not one per request.
        http.timer(timer::ConnectionTimer::new());
        let conn = http.serve_connection(io, TowerToHyperService::new(service));
        // hyper answers unparsable requests itself (400/414/431, no body); they are only logged at
        // DEBUG, so garbage sent to the port cannot flood the logs.
        if let Err(err) = watcher.watch(conn).await
            && (err.is_parse() || err.is_parse_too_large() || err.is_parse_status())
        {
            tracing::debug!(error = %err, "request refused by the HTTP parser");
        }
        drop(self.hold);
    }
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
///
/// With `tls_cert_file` (the server's `TLS_CERT_FILE`) the probe speaks HTTPS and accepts only a server
/// presenting exactly that file's first certificate. A server with `TLS_CLIENT_AUTH=required` refuses
/// the probe (it has no device certificate).
pub fn healthcheck(
    addr: SocketAddr,
    tls_cert_file: Option<&std::path::Path>,
) -> Result<(), String> {
    let deadline = Duration::from_secs(3);
    let scheme = if tls_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{addr}/health");
    let stream = TcpStream::connect_timeout(&addr, deadline)
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    let _ = stream.set_read_timeout(Some(deadline));
    let _ = stream.set_write_timeout(Some(deadline));
    match tls_cert_file {
        None => probe_health(stream, addr, &url),
        Some(path) => match tls::pinned_client(path, stream) {
            Some(tls) => probe_health(tls, addr, &url),
            None => Err(format!(
                "TLS_CERT_FILE {} holds no readable certificate",
                path.display()
            )),
        },
    }
}

fn probe_health(mut stream: impl Read + Write, addr: SocketAddr, url: &str) -> Result<(), String> {
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
        other => {
            let status = String::from_utf8_lossy(other).into_owned();
            // A TLS listener answers plain HTTP with a 400 problem document naming `https_required`.
            let mut rest = Vec::new();
            let _ = stream.take(4096).read_to_end(&mut rest);
            if String::from_utf8_lossy(&rest).contains("https_required") {
                return Err(format!(
                    "GET {url} answered {status:?} https_required: the server terminates TLS; set \
                     TLS_CERT_FILE to its certificate so that the probe speaks https"
                ));
            }
            Err(format!("GET {url} answered {status:?} instead of 200"))
        }
    }
}
