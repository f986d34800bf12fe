//! Per-request latency of the apuntador router on each way a request reaches it, for the
//! exchanges of the parity suite: `GET /health`, `GET /config/providers` (bearer key),
//! `POST /oauth/authorize/googledrive` (allowed redirect URI), `POST /device/enroll` (EC P-256 CSR made
//! once with the `openssl` CLI) and `GET /device/status/{id}` (client certificate enrolled once at start,
//! presented as percent-encoded PEM in `X-Client-Cert`):
//!
//! - `router_in_process`: `router.clone().oneshot(request)` on `AppState::in_memory`, body collected —
//!   the floor: routing, the middleware stack and the handler, nothing else;
//! - `lambda_handler`: the per-invocation work of `apuntador-lambda`, ids `<event kind>/<endpoint>` for
//!   REST API (v1), HTTP API (payload 2.0) and ALB events — event JSON bytes → `LambdaRequest` →
//!   `lambda_http::Adapter` over the binary's own `adapter::handler` (as `adapter::events`) → response serialised to the JSON
//!   the runtime posts back (the Runtime API round trips themselves are not included);
//! - `server_loopback`: a real `apuntador::server::serve` loop on 127.0.0.1 with load shedding on, as
//!   `apuntador-server` runs it, and one keep-alive hyper client connection reused across iterations;
//! - `body_size_lambda_http_v2` and `body_size_server_loopback`: `POST /oauth/authorize/googledrive`
//!   with 1, 4, 16 and 64 KiB JSON bodies (a padding field; the body is read and parsed whole, whatever
//!   the status), `BODY_LIMIT_BYTES` raised to 128 KiB;
//! - `router_in_process_otel` and `lambda_handler_otel` (HTTP API v2 events only): the same exchanges
//!   with `OTEL_ENABLED=true`, exporting OTLP/HTTP to a live receiver on 127.0.0.1 that accepts every
//!   batch; on the Lambda path every invocation includes the per-invocation flush (one export round
//!   trip), as on AWS Lambda. Compare with `router_in_process` and `lambda_handler/http_v2/*`;
//! - `pki`: certificate issuance (signing) and presented-certificate verification alone, so the share of
//!   crypto in enrol and status can be read off.
//!
//! Enrolment benches use a fresh device id per iteration (stamped into a fixed-width placeholder of
//! the pre-built request bytes, never reused within the process), so every iteration is a first
//! enrolment.
//!
//! Logging is initialised at `LOG_LEVEL=error` as the binaries would, so disabled spans and events cost
//! what they cost in production. Run with `cargo bench --bench latency -- --noplot`.

#[path = "../bin/lambda/adapter.rs"]
mod adapter;
#[path = "../tests/support/openssl_csr.rs"]
mod openssl_csr;

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use apuntador::AppState;
use apuntador::config::Config;
use apuntador::pki::ca::CertificateAuthority;
use apuntador::pki::profile::{self, LeafSpec};
use apuntador::state::Lifecycle;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lambda_http::Service as _;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use secrecy::ExposeSecret as _;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Mutex;
use tower::ServiceExt;

/// The `CONFIG_API_KEY` of the bench configuration (≥ 32 characters).
const CONFIG_KEY: &str = "bench-config-api-key-0123456789abcdef";

/// The redirect URI the authorize requests ask for (on the allow-list).
const REDIRECT_URI: &str = "apuntador://oauth-callback";

/// The fixed-width device id placeholder of enrolment requests; each iteration stamps a fresh number
/// over its digits.
const ENROLL_PLACEHOLDER: &str = "bench-enroll-000000000000";

/// The device enrolled once at start whose certificate the status requests present.
const STATUS_DEVICE: &str = "bench-status-device";

/// Body sizes of the sweep, in KiB.
const BODY_SIZES_KIB: [usize; 4] = [1, 4, 16, 64];

/// A Lambda event source.
#[derive(Clone, Copy)]
enum EventKind {
    RestV1,
    HttpV2,
    Alb,
}

impl EventKind {
    const ALL: [EventKind; 3] = [EventKind::RestV1, EventKind::HttpV2, EventKind::Alb];

    fn id(self) -> &'static str {
        match self {
            EventKind::RestV1 => "rest_v1",
            EventKind::HttpV2 => "http_v2",
            EventKind::Alb => "alb",
        }
    }
}

/// One benchmarked request.
struct Exchange {
    id: String,
    method: http::Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
    /// Statuses the exchange may answer with (checked once before measuring).
    expect: &'static [u16],
    /// Whether each iteration needs a fresh device id stamped over [`ENROLL_PLACEHOLDER`].
    stamped: bool,
}

impl Exchange {
    fn new(id: &str, method: http::Method, path: &str) -> Exchange {
        Exchange {
            id: id.to_owned(),
            method,
            path: path.to_owned(),
            headers: vec![
                ("host", "apuntador.test".to_owned()),
                ("accept", "application/json".to_owned()),
                ("user-agent", "apuntador-bench/1".to_owned()),
            ],
            body: None,
            expect: &[200],
            stamped: false,
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Exchange {
        self.headers.push((name, value));
        self
    }

    fn json_body(mut self, body: String) -> Exchange {
        self.headers
            .push(("content-type", "application/json".to_owned()));
        self.headers
            .push(("content-length", body.len().to_string()));
        self.body = Some(body);
        self
    }

    fn expect(mut self, statuses: &'static [u16]) -> Exchange {
        self.expect = statuses;
        self
    }

    fn request<B: From<Bytes>>(&self, body: Bytes) -> http::Request<B> {
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(&self.path);
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        builder.body(B::from(body)).expect("valid request")
    }

    fn body_bytes(&self) -> Bytes {
        self.body
            .as_ref()
            .map(|b| Bytes::from(b.clone()))
            .unwrap_or_default()
    }

    /// The event JSON bytes API Gateway or the ALB would deliver (shapes of tests/parity/transport.rs).
    fn event(&self, kind: EventKind) -> Vec<u8> {
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(v.clone())))
            .collect();
        let multi: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!([v])))
            .collect();
        let body = self.body.clone().map_or(Value::Null, Value::from);
        let method = self.method.as_str();
        let path = self.path.as_str();
        let event = match kind {
            EventKind::RestV1 => json!({
                "resource": "/{proxy+}",
                "path": path,
                "httpMethod": method,
                "headers": headers,
                "multiValueHeaders": multi,
                "queryStringParameters": null,
                "multiValueQueryStringParameters": null,
                "pathParameters": {"proxy": path.trim_start_matches('/')},
                "stageVariables": null,
                "requestContext": {
                    "accountId": "123456789012", "resourceId": "us4z18", "stage": "prod",
                    "requestId": "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9", "requestTimeEpoch": 1583798639428i64,
                    "identity": {"sourceIp": "192.0.2.1", "userAgent": "apuntador-bench/1"},
                    "resourcePath": "/{proxy+}", "httpMethod": method, "apiId": "wt6mne2s9k",
                    "path": format!("/prod{path}")
                },
                "body": body,
                "isBase64Encoded": false
            }),
            EventKind::HttpV2 => json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": "",
                "headers": headers,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "api",
                    "domainName": "api.example.execute-api.us-east-1.amazonaws.com", "domainPrefix": "api",
                    "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                             "sourceIp": "192.0.2.1", "userAgent": "apuntador-bench/1"},
                    "requestId": "MIZRNhJtIAMEMDw=", "routeKey": "$default", "stage": "$default",
                    "time": "28/Nov/2026:06:37:46 +0000", "timeEpoch": 1795848000000i64
                },
                "body": body,
                "isBase64Encoded": false
            }),
            EventKind::Alb => json!({
                "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/apuntador/6d0ecf831eec9f09"}},
                "httpMethod": method,
                "path": path,
                "queryStringParameters": {},
                "headers": headers,
                "body": body,
                "isBase64Encoded": false
            }),
        };
        serde_json::to_vec(&event).expect("event serialises")
    }
}

/// Request bytes that get a fresh device id per iteration when the exchange is stamped.
///
/// The device numbers come from one process-wide counter: several stampers enrol on the same app (one
/// per Lambda event kind, the OpenTelemetry variants), and a device id used twice would measure the
/// `device_already_enrolled` refusal instead of an enrolment.
struct Stamper {
    at: Option<usize>,
}

/// The next device number of every [`Stamper`].
static NEXT_DEVICE: AtomicU64 = AtomicU64::new(0);

impl Stamper {
    fn new(bytes: &[u8], stamped: bool) -> Stamper {
        let at = stamped.then(|| {
            bytes
                .windows(ENROLL_PLACEHOLDER.len())
                .position(|w| w == ENROLL_PLACEHOLDER.as_bytes())
                .expect("placeholder present")
                + "bench-enroll-".len()
        });
        Stamper { at }
    }

    /// `bytes` as is, or a copy with the next device number over the placeholder digits.
    fn apply(&self, bytes: &Bytes) -> Bytes {
        match self.at {
            None => bytes.clone(),
            Some(at) => {
                let n = NEXT_DEVICE.fetch_add(1, Ordering::Relaxed);
                let mut copy = bytes.to_vec();
                copy[at..at + 12].copy_from_slice(format!("{n:012}").as_bytes());
                Bytes::from(copy)
            }
        }
    }
}

/// An EC P-256 CSR made once per process with the `openssl` CLI.
fn csr() -> &'static str {
    static CSR: OnceLock<String> = OnceLock::new();
    CSR.get_or_init(openssl_csr::p256_csr)
}

fn enroll_body(device_id: &str) -> String {
    json!({"csr": csr(), "device_id": device_id, "platform": "android"}).to_string()
}

fn authorize_body(padding_bytes: usize) -> String {
    let mut body = json!({
        "code_verifier": "bench-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz",
        "redirect_uri": REDIRECT_URI,
        "state": "bench-state"
    });
    if padding_bytes > 0 {
        let base = body.to_string().len() + r#","padding":"""#.len();
        body["padding"] = Value::from("x".repeat(padding_bytes.saturating_sub(base)));
    }
    body.to_string()
}

/// Enrols [`STATUS_DEVICE`] on `app` and returns its certificate PEM.
async fn enrol_status_device(app: &Router) -> String {
    let ex = Exchange::new("enroll", http::Method::POST, "/device/enroll")
        .json_body(enroll_body(STATUS_DEVICE));
    let (status, body) = in_process(app, &ex, ex.body_bytes()).await;
    assert_eq!(status, 201, "enrol: {}", String::from_utf8_lossy(&body));
    let value: Value = serde_json::from_slice(&body).expect("enrolment JSON");
    value["certificate"]
        .as_str()
        .expect("certificate in the enrolment answer")
        .to_owned()
}

/// The five endpoint exchanges; enrols the status device on `app` first.
fn exchanges(rt: &Runtime, app: &Router) -> Vec<Exchange> {
    let certificate = rt.block_on(enrol_status_device(app));
    let escaped =
        percent_encoding::utf8_percent_encode(&certificate, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    vec![
        Exchange::new("get_health", http::Method::GET, "/health"),
        Exchange::new(
            "get_config_providers",
            http::Method::GET,
            "/config/providers",
        )
        .header("authorization", format!("Bearer {CONFIG_KEY}")),
        Exchange::new(
            "post_oauth_authorize_googledrive",
            http::Method::POST,
            "/oauth/authorize/googledrive",
        )
        .json_body(authorize_body(0)),
        Exchange {
            stamped: true,
            ..Exchange::new("post_device_enroll", http::Method::POST, "/device/enroll")
                .json_body(enroll_body(ENROLL_PLACEHOLDER))
                .expect(&[201])
        },
        Exchange::new(
            "get_device_status",
            http::Method::GET,
            &format!("/device/status/{STATUS_DEVICE}"),
        )
        .header("x-client-cert", escaped),
    ]
}

/// The body-size sweep exchanges (any non-413 answer: the body is read and parsed whole).
fn sweep() -> Vec<Exchange> {
    BODY_SIZES_KIB
        .iter()
        .map(|kib| {
            Exchange::new(
                &format!("post_oauth_authorize_{kib}kib"),
                http::Method::POST,
                "/oauth/authorize/googledrive",
            )
            .json_body(authorize_body(kib * 1024))
            .expect(&[200, 400, 422])
        })
        .collect()
}

fn config() -> Config {
    config_with(&[])
}

/// [`config`] plus `extra` variables.
fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<&str, &str> = [
        ("CONFIG_API_KEY", CONFIG_KEY),
        ("LOG_LEVEL", "error"),
        ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox"),
        ("GOOGLE_CLIENT_ID", "google-client-id"),
        ("GOOGLE_CLIENT_SECRET", "google-client-secret"),
        ("DROPBOX_CLIENT_ID", "dropbox-client-id"),
        ("ALLOWED_REDIRECT_URIS", REDIRECT_URI),
        // Room for the 64 KiB step of the body-size sweep.
        ("BODY_LIMIT_BYTES", "131072"),
    ]
    .into_iter()
    .collect();
    env.extend(extra.iter().copied());
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

fn check(ex: &Exchange, status: u16, body: &[u8]) {
    if !ex.expect.contains(&status) {
        // The telemetry panic hook logs only the location, so say what went wrong first.
        let message = format!(
            "{} {} ({}): {status} {}",
            ex.method,
            ex.path,
            ex.id,
            String::from_utf8_lossy(body)
        );
        eprintln!("unexpected answer: {message}");
        panic!("unexpected answer: {message}");
    }
}

async fn in_process(app: &Router, ex: &Exchange, body: Bytes) -> (u16, Bytes) {
    let res = app
        .clone()
        .oneshot(ex.request::<Body>(body))
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
    for ex in exchanges(&rt, &app) {
        let template = ex.body_bytes();
        let stamper = Stamper::new(&template, ex.stamped);
        let (status, body) = rt.block_on(in_process(&app, &ex, stamper.apply(&template)));
        check(&ex, status, &body);
        group.bench_function(&ex.id, |b| {
            b.to_async(&rt)
                .iter(|| in_process(&app, &ex, stamper.apply(&template)));
        });
    }
    group.finish();
}

/// One Lambda invocation's work, from the event bytes to the response bytes the runtime posts.
async fn lambda_invocation(app: &Router, event: &[u8]) -> Vec<u8> {
    let request: LambdaRequest = serde_json::from_slice(event).expect("event deserialises");
    let mut service = adapter::events(app.clone());
    let response = service
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .expect("infallible");
    serde_json::to_vec(&response).expect("response serialises")
}

/// Benches `ex` as `kind` events in `group` under `<kind>/<id>`.
fn bench_lambda(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    app: &Router,
    ex: &Exchange,
    kind: EventKind,
) {
    let template = Bytes::from(ex.event(kind));
    let stamper = Stamper::new(&template, ex.stamped);
    let out = rt.block_on(lambda_invocation(app, &stamper.apply(&template)));
    let value: Value = serde_json::from_slice(&out).expect("response JSON");
    let status = value["statusCode"].as_u64().unwrap_or_default() as u16;
    check(ex, status, value.to_string().as_bytes());
    group.bench_function(format!("{}/{}", kind.id(), ex.id), |b| {
        b.to_async(rt)
            .iter(|| async { lambda_invocation(app, &stamper.apply(&template)).await });
    });
}

fn lambda_handler(c: &mut Criterion) {
    let rt = runtime();
    let config = config();
    init_logging(&config);
    let app = apuntador::router(AppState::in_memory(config));
    let exchanges = exchanges(&rt, &app);
    let mut group = c.benchmark_group("lambda_handler");
    for kind in EventKind::ALL {
        for ex in &exchanges {
            bench_lambda(&mut group, &rt, &app, ex, kind);
        }
    }
    group.finish();
    let mut group = c.benchmark_group("body_size_lambda_http_v2");
    for ex in sweep() {
        bench_lambda(&mut group, &rt, &app, &ex, EventKind::HttpV2);
    }
    group.finish();
}

type Sender = SendRequest<Full<Bytes>>;

/// A keep-alive client connection to `addr`; the connection task runs on the runtime.
async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn over_loopback(sender: &mut Sender, ex: &Exchange, body: Bytes) -> (u16, Bytes) {
    sender.ready().await.expect("connection still open");
    let res = sender
        .send_request(ex.request::<Full<Bytes>>(body))
        .await
        .expect("response");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

fn bench_loopback(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    sender: &Arc<Mutex<Sender>>,
    ex: &Exchange,
) {
    let template = ex.body_bytes();
    let stamper = Stamper::new(&template, ex.stamped);
    let (status, body) = rt.block_on(async {
        over_loopback(&mut *sender.lock().await, ex, stamper.apply(&template)).await
    });
    check(ex, status, &body);
    group.bench_function(&ex.id, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let sender = sender.clone();
            let (template, stamper) = (&template, &stamper);
            async move {
                let mut sender = sender.lock().await;
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(over_loopback(&mut sender, ex, stamper.apply(template)).await);
                }
                started.elapsed()
            }
        });
    });
}

fn server_loopback(c: &mut Criterion) {
    let rt = runtime();
    let config = config();
    init_logging(&config);
    let app = apuntador::router(AppState::in_memory(config).with_load_shedding());
    let exchanges = exchanges(&rt, &app);
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
    for ex in &exchanges {
        bench_loopback(&mut group, &rt, &sender, ex);
    }
    group.finish();
    let mut group = c.benchmark_group("body_size_server_loopback");
    for ex in sweep() {
        bench_loopback(&mut group, &rt, &sender, &ex);
    }
    group.finish();
    let _ = stop.send(());
}

/// A live OTLP/HTTP receiver on loopback that accepts every batch (`200`, empty response message).
async fn otlp_receiver() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = Router::new().route(
        "/v1/traces",
        axum::routing::post(|body: Bytes| async move {
            black_box(body.len());
            (
                [("content-type", "application/x-protobuf")],
                Vec::<u8>::new(),
            )
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The router floor and the Lambda path with OpenTelemetry on, exporting to a live receiver.
///
/// Runs after the telemetry-off groups: its dispatcher (this thread's default while it runs) and the
/// process-wide pipeline the Lambda adapter flushes would otherwise be in their way.
fn telemetry_on(c: &mut Criterion) {
    let rt = runtime();
    let receiver = rt.block_on(otlp_receiver());
    let endpoint = format!("http://{receiver}");
    let config = config_with(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
    ]);
    init_logging(&config);
    let pipeline = {
        let _entered = rt.enter();
        apuntador::telemetry::otel::Pipeline::new(
            &config,
            apuntador::telemetry::otel::Target::Lambda,
        )
        .expect("OpenTelemetry pipeline")
    };
    apuntador::telemetry::otel::install_global(pipeline.clone());
    let dispatch = apuntador::telemetry::otel_dispatch(
        &config.telemetry.log_level,
        config.telemetry.log_format,
        std::io::sink,
        &pipeline,
    )
    .expect("dispatcher");
    let _default = tracing::dispatcher::set_default(&dispatch);
    let app = apuntador::router(AppState::in_memory(config));
    let exchanges = exchanges(&rt, &app);

    let mut group = c.benchmark_group("router_in_process_otel");
    for ex in &exchanges {
        let template = ex.body_bytes();
        let stamper = Stamper::new(&template, ex.stamped);
        let (status, body) = rt.block_on(in_process(&app, ex, stamper.apply(&template)));
        check(ex, status, &body);
        group.bench_function(&ex.id, |b| {
            b.to_async(&rt)
                .iter(|| in_process(&app, ex, stamper.apply(&template)));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("lambda_handler_otel");
    for ex in &exchanges {
        bench_lambda(&mut group, &rt, &app, ex, EventKind::HttpV2);
    }
    group.finish();
    rt.block_on(pipeline.shutdown(Duration::from_secs(5)));
}

/// Certificate issuance and presented-certificate verification alone (the crypto of enrol and status).
fn pki(c: &mut Criterion) {
    let now = Utc::now();
    let material = apuntador::authority::development_material(now).expect("development CA");
    let ca: CertificateAuthority = CertificateAuthority::load(
        material.key_pem.expose_secret(),
        &material.cert_pem,
        material.previous_cert_pem.as_deref(),
        now,
    )
    .expect("CA loads")
    .ca;
    let validated = apuntador::pki::csr::validate(csr()).expect("CSR validates");
    let spki = validated.spki_der.clone();
    let spec = LeafSpec::profile(STATUS_DEVICE, &spki, now, 30);
    let issued = profile::issue(&ca, &spec).expect("issue");
    let der = apuntador::pki::first_certificate_der(&issued.pem).expect("certificate DER");
    apuntador::pki::verify::verify_presented(&ca, &der, now).expect("verifies");
    let mut group = c.benchmark_group("pki");
    group.bench_function("validate_csr_p256", |b| {
        b.iter(|| apuntador::pki::csr::validate(black_box(csr())))
    });
    group.bench_function("issue_certificate_p256", |b| {
        b.iter(|| profile::issue(&ca, black_box(&spec)))
    });
    group.bench_function("verify_presented_certificate", |b| {
        b.iter(|| apuntador::pki::verify::verify_presented(&ca, black_box(&der), now))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Shorter than criterion's defaults so `--quick` over ~45 benches stays within a few minutes;
    // command-line options still override these.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = router_in_process, lambda_handler, server_loopback, pki, telemetry_on
}
criterion_main!(benches);
