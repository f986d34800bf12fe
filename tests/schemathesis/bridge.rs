//! An HTTP → Lambda bridge: a loopback HTTP/1.1 server that turns each request into an API Gateway
//! HTTP API (payload 2.0) event, invokes the real `apuntador-lambda` binary through the in-repo
//! Runtime API emulator, and turns the function's answer back into the HTTP response — what an HTTP
//! API in front of the function does, so an HTTP client (schemathesis) can test the Lambda binary.
//!
//! Like API Gateway it joins repeated headers with commas, moves `Cookie` headers into `cookies`,
//! sends the path and query string as received (`rawPath`, `rawQueryString`), base64-encodes
//! bodies that are not UTF-8, answers 413 beyond its payload limit and 502 when the function fails
//! or answers something that is not a proxy response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::runtime_api::RuntimeApi;

/// API Gateway's request payload limit (10 MB).
const PAYLOAD_LIMIT: usize = 10 * 1024 * 1024;

/// How long one invocation may take before the bridge answers 504, as API Gateway does at 30 s.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// A running bridge; stops serving when dropped.
pub struct Bridge {
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Bridge {
    /// Starts the bridge on an ephemeral loopback port, invoking through `api`.
    pub async fn start(api: Arc<RuntimeApi>) -> Bridge {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the bridge on 127.0.0.1");
        let addr = listener.local_addr().expect("bridge address");
        let app = Router::new().fallback(forward).with_state(api);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Bridge { addr, server }
    }

    /// The bridge's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

async fn forward(State(api): State<Arc<RuntimeApi>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = to_bytes(body, PAYLOAD_LIMIT).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let event = event(&parts.method, &parts.uri, &parts.headers, &body);
    match api.invoke(event, INTEGRATION_TIMEOUT).await {
        Ok(answer) => response(&parts.method, &answer)
            .unwrap_or_else(|| gateway_error(StatusCode::BAD_GATEWAY, "Internal Server Error")),
        Err(crate::runtime_api::InvokeError::Timeout(_)) => {
            gateway_error(StatusCode::GATEWAY_TIMEOUT, "Service Unavailable")
        }
        Err(_) => gateway_error(StatusCode::BAD_GATEWAY, "Internal Server Error"),
    }
}

/// The API Gateway HTTP API (payload 2.0) event of one request.
pub fn event(
    method: &Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Value {
    let mut joined: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        // Header values that are not UTF-8 are passed on as Latin-1, as API Gateway does.
        let text: String = value.as_bytes().iter().map(|&b| b as char).collect();
        if name == header::COOKIE {
            cookies.extend(text.split(';').map(|c| Value::from(c.trim())));
            continue;
        }
        match joined.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&text);
            }
            _ => {
                joined.insert(name.as_str().to_owned(), Value::from(text));
            }
        }
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::from(text), false),
        Err(_) => (Value::from(STANDARD.encode(body)), true),
    };
    let path = uri.path();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": uri.query().unwrap_or(""),
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bridge",
            "domainName": "127.0.0.1",
            "domainPrefix": "bridge",
            "http": {
                "method": method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": "bridge",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Dec/2026:06:00:00 +0000",
            "timeEpoch": 1_796_364_000_000i64,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    event
}

/// The HTTP response of a proxy answer, `None` when it is not one.
fn response(method: &Method, answer: &Value) -> Option<Response> {
    let status =
        StatusCode::from_u16(u16::try_from(answer.get("statusCode")?.as_u64()?).ok()?).ok()?;
    let body = match answer.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(b)) if answer["isBase64Encoded"].as_bool() == Some(true) => {
            STANDARD.decode(b).ok()?
        }
        Some(Value::String(b)) => b.clone().into_bytes(),
        Some(_) => return None,
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    let mut add = |name: &str, value: &str| -> Option<()> {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        // The gateway frames the body itself; only a HEAD answer keeps the function's length.
        if (name == header::CONTENT_LENGTH && method != Method::HEAD)
            || name == header::TRANSFER_ENCODING
        {
            return Some(());
        }
        headers.append(name, HeaderValue::from_str(value).ok()?);
        Some(())
    };
    if let Some(multi) = answer.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in multi {
            for value in values.as_array()? {
                add(name, value.as_str()?)?;
            }
        }
    }
    if let Some(single) = answer.get("headers").and_then(Value::as_object) {
        for (name, value) in single {
            if answer
                .get("multiValueHeaders")
                .and_then(|m| m.get(name))
                .is_none()
            {
                add(name, value.as_str()?)?;
            }
        }
    }
    for cookie in answer
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add("set-cookie", cookie.as_str()?)?;
    }
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_are_joined_and_cookies_moved_as_api_gateway_does() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        let uri: axum::http::Uri = "/oauth/callback/googledrive?state=s%20t&code=c"
            .parse()
            .unwrap();
        let e = event(&Method::GET, &uri, &headers, b"");
        assert_eq!(e["headers"]["x-a"], "1,2");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(e["rawPath"], "/oauth/callback/googledrive");
        assert_eq!(e["rawQueryString"], "state=s%20t&code=c");
        assert!(e["body"].is_null());
        let binary = event(&Method::POST, &uri, &headers, &[0xff, 0x00]);
        assert_eq!(binary["isBase64Encoded"], true);
        assert_eq!(binary["body"], "/wA=");
    }

    #[test]
    fn answers_that_are_not_proxy_responses_are_refused() {
        assert!(response(&Method::GET, &json!({"hello": 1})).is_none());
        let ok = response(
            &Method::GET,
            &json!({"statusCode": 201, "headers": {"x-trace-id": "ab"}, "body": "{}", "isBase64Encoded": false}),
        )
        .unwrap();
        assert_eq!(ok.status(), StatusCode::CREATED);
        assert_eq!(ok.headers()["x-trace-id"], "ab");
    }
}
