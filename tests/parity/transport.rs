//! The ways an exchange reaches the router: in-process, real TCP, and Lambda events through the same
//! `lambda_http` adapter the Lambda binary runs. Each returns a [`Normalised`] response.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use apuntador::state::Lifecycle;
use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lambda_http::Service as _;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::adapter;
use crate::exchanges::Exchange;

/// Headers that may differ between transports.
const TRANSPORT_HEADERS: [&str; 5] = [
    "date",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// A response reduced to what must be equal everywhere.
#[derive(Debug, Clone)]
pub struct Normalised {
    /// HTTP status.
    pub status: u16,
    /// Lower-case header name → values, comma-separated lists split and trimmed.
    pub headers: BTreeMap<String, Vec<String>>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The [`TRANSPORT_HEADERS`] as received; not compared.
    pub transport_headers: BTreeMap<String, Vec<String>>,
}

impl PartialEq for Normalised {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.headers == other.headers && self.body == other.body
    }
}

impl Eq for Normalised {}

impl Normalised {
    fn from_pairs(
        status: u16,
        pairs: impl IntoIterator<Item = (String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut transport_headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            let name = name.to_ascii_lowercase();
            if TRANSPORT_HEADERS.contains(&name.as_str()) {
                transport_headers.entry(name).or_default().push(value);
                continue;
            }
            let entry = headers.entry(name).or_default();
            entry.extend(
                value
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty()),
            );
        }
        Normalised {
            status,
            headers,
            body,
            transport_headers,
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn uri_of(ex: &Exchange) -> String {
    if ex.query.is_empty() {
        ex.path.to_owned()
    } else {
        format!("{}?{}", ex.path, ex.query)
    }
}

fn http_request(ex: &Exchange) -> http::Request<Body> {
    let mut builder = http::Request::builder().method(ex.method).uri(uri_of(ex));
    builder = builder.header("host", "apuntador.test");
    for (k, v) in ex.headers {
        builder = builder.header(*k, *v);
    }
    if let Some(body) = ex.body {
        builder = builder.header("content-length", body.len().to_string());
    }
    builder
        .body(Body::from(ex.body.unwrap_or_default().to_vec()))
        .expect("valid exchange")
}

async fn normalise_http(res: http::Response<Body>) -> Normalised {
    let status = res.status().as_u16();
    let pairs: Vec<(String, String)> = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Normalised::from_pairs(status, pairs, body)
}

/// Calls the router directly.
pub async fn in_process(app: &Router, ex: &Exchange) -> Normalised {
    let res = app
        .clone()
        .oneshot(http_request(ex))
        .await
        .expect("infallible");
    normalise_http(res).await
}

/// A real `apuntador::server::serve` loop on 127.0.0.1, stopped on drop.
pub struct TcpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl TcpServer {
    /// Starts serving `app` on an ephemeral loopback port.
    pub async fn start(app: Router) -> TcpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(apuntador::server::serve(
            listener,
            app,
            Lifecycle::default(),
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(1),
        ));
        TcpServer {
            addr,
            stop: Some(stop),
        }
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends the exchange over a fresh TCP connection, with the path and query bytes exactly as given.
pub async fn tcp(server: &TcpServer, ex: &Exchange) -> Normalised {
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut builder = http::Request::builder()
        .method(ex.method)
        .uri(uri_of(ex))
        .header("host", "apuntador.test");
    for (k, v) in ex.headers {
        builder = builder.header(*k, *v);
    }
    let req = builder
        .body(Full::new(bytes::Bytes::from(
            ex.body.unwrap_or_default().to_vec(),
        )))
        .expect("valid exchange");
    let res = sender.send_request(req).await.expect("response");
    let status = res.status().as_u16();
    let pairs: Vec<(String, String)> = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Normalised::from_pairs(status, pairs, body)
}

/// The Lambda event formats the Lambda binary accepts: API Gateway HTTP API v2 and REST v1, ALB,
/// and Function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// API Gateway REST API, payload 1.0, stage `prod`.
    RestV1,
    /// HTTP API, payload 2.0, `$default` stage.
    HttpV2,
    /// HTTP API, payload 2.0, a named stage `live` (in `rawPath`).
    HttpV2Stage,
    /// ALB with single-value headers.
    AlbSingle,
    /// ALB with multi-value headers.
    AlbMulti,
    /// Lambda Function URL (payload 2.0 shape).
    FunctionUrl,
}

impl EventKind {
    /// Every event kind.
    pub const ALL: [EventKind; 6] = [
        EventKind::RestV1,
        EventKind::HttpV2,
        EventKind::HttpV2Stage,
        EventKind::AlbSingle,
        EventKind::AlbMulti,
        EventKind::FunctionUrl,
    ];
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// (key, value) pairs of a raw query; `decode` percent-decodes them as API Gateway REST does.
fn query_pairs(raw: &str, decode: bool) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if decode {
                (percent_decode(k), percent_decode(v))
            } else {
                (k.to_owned(), v.to_owned())
            }
        })
        .collect()
}

fn single_map(pairs: &[(String, String)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.clone(), Value::from(v.clone()));
    }
    Value::Object(m)
}

fn multi_map(pairs: &[(String, String)]) -> Value {
    let mut m: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        let entry = m.entry(k.clone()).or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(a) = entry {
            a.push(Value::from(v.clone()));
        }
    }
    Value::Object(m)
}

/// The exchange as the JSON event Lambda would deliver.
pub fn event_json(ex: &Exchange, kind: EventKind) -> Value {
    let mut headers: Vec<(String, String)> = vec![("host".into(), "apuntador.test".into())];
    headers.extend(
        ex.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())),
    );
    if let Some(body) = ex.body {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    let (body, is_b64) = match ex.body {
        None => (Value::Null, false),
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) => (Value::from(text), false),
            Err(_) => (Value::from(STANDARD.encode(b)), true),
        },
    };
    let joined_headers = {
        let mut m: Map<String, Value> = Map::new();
        for (k, v) in &headers {
            match m.get_mut(k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(v);
                }
                _ => {
                    m.insert(k.clone(), Value::from(v.clone()));
                }
            }
        }
        Value::Object(m)
    };
    // Single-value maps keep the last value, as API Gateway and ALB do.
    let last_headers = single_map(&headers);
    match kind {
        EventKind::RestV1 => {
            let q = query_pairs(ex.query, true);
            json!({
                "resource": "/{proxy+}",
                "path": ex.path,
                "httpMethod": ex.method,
                "headers": last_headers,
                "multiValueHeaders": multi_map(&headers),
                "queryStringParameters": if q.is_empty() { Value::Null } else { single_map(&q) },
                "multiValueQueryStringParameters": if q.is_empty() { Value::Null } else { multi_map(&q) },
                "pathParameters": {"proxy": ex.path.trim_start_matches('/')},
                "stageVariables": null,
                "requestContext": {
                    "accountId": "123456789012", "resourceId": "us4z18", "stage": "prod",
                    "requestId": "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9", "requestTimeEpoch": 1583798639428i64,
                    "identity": {"sourceIp": "192.0.2.1", "userAgent": "parity"},
                    "resourcePath": "/{proxy+}", "httpMethod": ex.method, "apiId": "wt6mne2s9k",
                    "path": format!("/prod{}", ex.path)
                },
                "body": body,
                "isBase64Encoded": is_b64
            })
        }
        EventKind::HttpV2 | EventKind::HttpV2Stage | EventKind::FunctionUrl => {
            let (raw_path, stage, domain) = match kind {
                EventKind::HttpV2Stage => (
                    format!("/live{}", ex.path),
                    "live",
                    "api.example.execute-api.us-east-1.amazonaws.com",
                ),
                EventKind::FunctionUrl => (
                    ex.path.to_owned(),
                    "$default",
                    "abc123.lambda-url.us-east-1.on.aws",
                ),
                _ => (
                    ex.path.to_owned(),
                    "$default",
                    "api.example.execute-api.us-east-1.amazonaws.com",
                ),
            };
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": raw_path,
                "rawQueryString": ex.query,
                "headers": joined_headers,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "api", "domainName": domain, "domainPrefix": "api",
                    "http": {"method": ex.method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "parity"},
                    "requestId": "MIZRNhJtIAMEMDw=", "routeKey": "$default", "stage": stage,
                    "time": "28/Nov/2026:06:37:46 +0000", "timeEpoch": 1795848000000i64
                },
                "body": body,
                "isBase64Encoded": is_b64
            })
        }
        EventKind::AlbSingle | EventKind::AlbMulti => {
            let q = query_pairs(ex.query, false);
            let ctx = json!({"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/apuntador/6d0ecf831eec9f09"}});
            if kind == EventKind::AlbSingle {
                json!({
                    "requestContext": ctx, "httpMethod": ex.method, "path": ex.path,
                    "queryStringParameters": single_map(&q), "headers": last_headers,
                    "body": body, "isBase64Encoded": is_b64
                })
            } else {
                json!({
                    "requestContext": ctx, "httpMethod": ex.method, "path": ex.path,
                    "multiValueQueryStringParameters": multi_map(&q), "multiValueHeaders": multi_map(&headers),
                    "body": body, "isBase64Encoded": is_b64
                })
            }
        }
    }
}

/// Feeds the event through `lambda_http`'s adapter around the Lambda binary's handler, and reads the
/// response back from the JSON the runtime would post.
pub async fn lambda(app: &Router, ex: &Exchange, kind: EventKind) -> Normalised {
    lambda_patched(app, ex, kind, |_| {}).await
}

/// Like [`lambda`], with the event JSON adjusted by `patch` first — for what only Lambda events can
/// carry, such as a request-context client certificate.
pub async fn lambda_patched(
    app: &Router,
    ex: &Exchange,
    kind: EventKind,
    patch: impl FnOnce(&mut Value),
) -> Normalised {
    let mut event = event_json(ex, kind);
    patch(&mut event);
    let request: LambdaRequest = serde_json::from_value(event).expect("event deserialises");
    let mut service = adapter::events(app.clone());
    let response = service
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .expect("infallible");
    let value = serde_json::to_value(&response).expect("response serialises");
    normalise_lambda_response(&value)
}

/// Reads a Lambda proxy response JSON (any of the formats) back into a [`Normalised`].
pub fn normalise_lambda_response(value: &Value) -> Normalised {
    let status = value["statusCode"].as_u64().expect("statusCode") as u16;
    let mut pairs = Vec::new();
    if let Some(m) = value
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
    {
        for (k, vs) in m {
            for v in vs.as_array().into_iter().flatten() {
                pairs.push((k.clone(), v.as_str().unwrap_or_default().to_owned()));
            }
        }
    } else if let Some(m) = value.get("headers").and_then(Value::as_object) {
        for (k, v) in m {
            pairs.push((k.clone(), v.as_str().unwrap_or_default().to_owned()));
        }
    }
    for cookie in value
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pairs.push((
            "set-cookie".into(),
            cookie.as_str().unwrap_or_default().to_owned(),
        ));
    }
    let body = match value.get("body").and_then(Value::as_str) {
        None => Vec::new(),
        Some(b) if value["isBase64Encoded"].as_bool() == Some(true) => {
            STANDARD.decode(b).expect("base64 body")
        }
        Some(b) => b.as_bytes().to_vec(),
    };
    Normalised::from_pairs(status, pairs, body)
}
