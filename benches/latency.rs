//! Per-request latency of the apuntador router on each way a request reaches it (SPEC §12.3), for
//! `GET /health` (no I/O, no authentication) and `GET /config/providers` (bearer key check, JSON body):
//!
//! - `router_in_process`: `router.clone().oneshot(request)` on `AppState::in_memory`, body collected —
//!   the floor: routing, the middleware stack and the handler, nothing else;
//! - `lambda_handler_http_v2`: the per-invocation work of `apuntador-lambda` for an HTTP API (payload
//!   2.0) event — event JSON bytes → `LambdaRequest` → `lambda_http::Adapter` over the binary's own
//!   `adapter::handler` → response serialised to the JSON the runtime posts back (the Runtime API
//!   round trips themselves are not included);
//! - `server_loopback`: a real `apuntador::server::serve` loop on 127.0.0.1 with load shedding on, as
//!   `apuntador-server` runs it, and one keep-alive hyper client connection reused across iterations.
//!
//! Logging is initialised at `LOG_LEVEL=error` as the binaries would, so disabled spans and events cost
//! what they cost in production. Run with `cargo bench --bench latency -- --noplot`.

#[path = "../bin/lambda/adapter.rs"]
mod adapter;

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apuntador::AppState;
use apuntador::config::Config;
use apuntador::state::Lifecycle;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Service as _};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Mutex;
use tower::ServiceExt;

/// The `CONFIG_API_KEY` of the bench configuration (≥ 32 characters).
const CONFIG_KEY: &str = "bench-config-api-key-0123456789abcdef";

/// One benchmarked request: criterion id, path, and whether it carries the bearer key.
struct Endpoint {
    id: &'static str,
    path: &'static str,
    authorised: bool,
}

const ENDPOINTS: [Endpoint; 2] = [
    Endpoint {
        id: "get_health",
        path: "/health",
        authorised: false,
    },
    Endpoint {
        id: "get_config_providers",
        path: "/config/providers",
        authorised: true,
    },
];

impl Endpoint {
    /// The request headers every transport sends (lower-case names).
    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("host", "apuntador.test".to_owned()),
            ("accept", "application/json".to_owned()),
            ("user-agent", "apuntador-bench/1".to_owned()),
        ];
        if self.authorised {
            headers.push(("authorization", format!("Bearer {CONFIG_KEY}")));
        }
        headers
    }

    fn request<B>(&self, body: B) -> http::Request<B> {
        let mut builder = http::Request::get(self.path);
        for (name, value) in self.headers() {
            builder = builder.header(name, value);
        }
        builder.body(body).expect("valid request")
    }

    /// The HTTP API (payload 2.0, `$default` stage) event API Gateway would deliver, as bytes.
    fn http_v2_event(&self) -> Vec<u8> {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect();
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api",
                "domainName": "api.example.execute-api.us-east-1.amazonaws.com", "domainPrefix": "api",
                "http": {"method": "GET", "path": self.path, "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "apuntador-bench/1"},
                "requestId": "MIZRNhJtIAMEMDw=", "routeKey": "$default", "stage": "$default",
                "time": "28/Nov/2026:06:37:46 +0000", "timeEpoch": 1795848000000i64
            },
            "isBase64Encoded": false
        });
        serde_json::to_vec(&event).expect("event serialises")
    }
}

fn config() -> Config {
    let env: HashMap<&str, &str> = [
        ("CONFIG_API_KEY", CONFIG_KEY),
        ("LOG_LEVEL", "error"),
        ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox"),
        ("GOOGLE_CLIENT_ID", "google-client-id"),
        ("GOOGLE_CLIENT_SECRET", "google-client-secret"),
        ("DROPBOX_CLIENT_ID", "dropbox-client-id"),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(|name| env.get(name).map(|v| (*v).to_owned()))
        .expect("bench config is valid")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn init_logging(config: &Config) {
    // Once per process; a second call (criterion runs every group in one process) is harmless.
    let _ = apuntador::telemetry::init(&config.telemetry.log_level, config.telemetry.log_format);
}

async fn in_process(app: &Router, endpoint: &Endpoint) -> (u16, Bytes) {
    let res = app
        .clone()
        .oneshot(endpoint.request(Body::empty()))
        .await
        .expect("infallible");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

fn router_in_process(c: &mut Criterion) {
    let rt = runtime();
    let config = config();
    init_logging(&config);
    let app = apuntador::router(AppState::in_memory(config));
    let mut group = c.benchmark_group("router_in_process");
    for endpoint in &ENDPOINTS {
        let (status, body) = rt.block_on(in_process(&app, endpoint));
        assert_eq!(
            status,
            200,
            "{}: {}",
            endpoint.path,
            String::from_utf8_lossy(&body)
        );
        group.bench_function(endpoint.id, |b| {
            b.to_async(&rt).iter(|| in_process(&app, endpoint));
        });
    }
    group.finish();
}

/// One Lambda invocation's work, from the event bytes to the response bytes the runtime posts.
async fn lambda_invocation(app: &Router, event: &[u8]) -> Vec<u8> {
    let request: LambdaRequest = serde_json::from_slice(event).expect("event deserialises");
    let mut service = Adapter::from(adapter::handler(app.clone()));
    let response = service
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .expect("infallible");
    serde_json::to_vec(&response).expect("response serialises")
}

fn lambda_handler_http_v2(c: &mut Criterion) {
    let rt = runtime();
    let config = config();
    init_logging(&config);
    let app = apuntador::router(AppState::in_memory(config));
    let mut group = c.benchmark_group("lambda_handler_http_v2");
    for endpoint in &ENDPOINTS {
        let event = endpoint.http_v2_event();
        let out = rt.block_on(lambda_invocation(&app, &event));
        let value: serde_json::Value = serde_json::from_slice(&out).expect("response JSON");
        assert_eq!(value["statusCode"], 200, "{}: {value}", endpoint.path);
        group.bench_function(endpoint.id, |b| {
            b.to_async(&rt).iter(|| lambda_invocation(&app, &event));
        });
    }
    group.finish();
}

/// A keep-alive client connection to `addr`; the connection task runs on the runtime.
async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn over_loopback(
    sender: &mut SendRequest<Empty<Bytes>>,
    endpoint: &Endpoint,
) -> (u16, Bytes) {
    sender.ready().await.expect("connection still open");
    let res = sender
        .send_request(endpoint.request(Empty::new()))
        .await
        .expect("response");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

fn server_loopback(c: &mut Criterion) {
    let rt = runtime();
    let config = config();
    init_logging(&config);
    let app = apuntador::router(AppState::in_memory(config).with_load_shedding());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(apuntador::server::serve(
            listener,
            app,
            Lifecycle::default(),
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(1),
        ));
        addr
    });
    // One connection for the whole group: every iteration is a keep-alive request on it.
    let sender = Arc::new(Mutex::new(rt.block_on(connect(addr))));
    let mut group = c.benchmark_group("server_loopback");
    for endpoint in &ENDPOINTS {
        let (status, body) =
            rt.block_on(async { over_loopback(&mut *sender.lock().await, endpoint).await });
        assert_eq!(
            status,
            200,
            "{}: {}",
            endpoint.path,
            String::from_utf8_lossy(&body)
        );
        group.bench_function(endpoint.id, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let sender = sender.clone();
                async move {
                    let mut sender = sender.lock().await;
                    let started = Instant::now();
                    for _ in 0..iters {
                        black_box(over_loopback(&mut sender, endpoint).await);
                    }
                    started.elapsed()
                }
            });
        });
    }
    group.finish();
    let _ = stop.send(());
}

criterion_group!(
    benches,
    router_in_process,
    lambda_handler_http_v2,
    server_loopback
);
criterion_main!(benches);
