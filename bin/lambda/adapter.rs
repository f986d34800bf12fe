//! Turns `lambda_http` requests into requests for the apuntador router: routes on the path exactly as
//! the event carried it (without the API Gateway stage), never on `lambda_http`'s normalised URI, and
//! hands the request context's client certificate to the library as a request extension. With
//! OpenTelemetry enabled, the invocation's spans are flushed (at most 1 s) before the response is
//! returned to the runtime, so nothing is left behind when the environment freezes.
//!
//! Kept apart from `main` so the parity tests and benches drive exactly this code with event JSON.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use apuntador::http::extract::LambdaClientCert;
use axum::Router;
use axum::body::Body;
use axum::response::Response;
use lambda_http::lambda_runtime::LambdaEvent;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Adapter, Request, RequestExt};
use tower::{Service, ServiceExt};
use tracing::Instrument;

/// The router behind raw-path routing, the client-certificate extension and an invocation span; the
/// inner service of [`Events`].
#[derive(Clone)]
pub struct Handler {
    app: Router,
}

/// Wraps the application router for Lambda.
pub fn handler(app: Router) -> Handler {
    Handler { app }
}

impl Service<Request> for Handler {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let span = tracing::info_span!("invocation", aws_request_id = %request_id);
        let req = insert_client_cert(route_on_raw_path(req)).map(Body::new);
        let app = self.app.clone();
        Box::pin(async move {
            let res = app.oneshot(req).instrument(span).await;
            // No cost without OpenTelemetry: there is no pipeline to flush.
            apuntador::telemetry::otel::flush(apuntador::telemetry::otel::LAMBDA_FLUSH_BOUND).await;
            res
        })
    }
}

/// The service the Lambda runtime drives: `lambda_http`'s adapter (event → `http::Request` → response
/// JSON) around [`Handler`], with one repair of the event first.
///
/// REST (payload 1.0) events carry every header twice: `multiValueHeaders` with all copies and
/// `headers` with the last one. `lambda_http` merges them so that the single value replaces the
/// list, which would hide a repeated header (two `Authorization` or client-certificate headers) that
/// the server binary sees and refuses. The list is kept instead.
pub struct Events {
    adapter: Adapter<'static, Response, Handler>,
}

/// The runtime's service for the application router.
pub fn events(app: Router) -> Events {
    Events {
        adapter: Adapter::from(handler(app)),
    }
}

impl Service<LambdaEvent<LambdaRequest>> for Events {
    type Response =
        <Adapter<'static, Response, Handler> as Service<LambdaEvent<LambdaRequest>>>::Response;
    type Error = Infallible;
    type Future =
        <Adapter<'static, Response, Handler> as Service<LambdaEvent<LambdaRequest>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.adapter.poll_ready(cx)
    }

    fn call(&mut self, mut event: LambdaEvent<LambdaRequest>) -> Self::Future {
        if let LambdaRequest::ApiGatewayV1(rest) = &mut event.payload {
            let listed: Vec<_> = rest.multi_value_headers.keys().cloned().collect();
            for name in listed {
                rest.headers.remove(name);
            }
        }
        self.adapter.call(event)
    }
}

/// Copies the mutual-TLS client certificate of the request context — HTTP API v2
/// `requestContext.authentication.clientCert.clientCertPem`, REST v1
/// `requestContext.identity.clientCert.clientCertPem` — into the request extensions as
/// [`LambdaClientCert`], the `lambda-context` certificate source. The library never sees
/// `lambda_http` types.
pub fn insert_client_cert(mut req: Request) -> Request {
    let pem = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authentication
            .as_ref()
            .and_then(|a| a.client_cert.as_ref())
            .and_then(|c| c.client_cert_pem.clone()),
        // The REST identity type has no `clientCert` member; `catch-all-fields` keeps it in `other`.
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx
            .identity
            .other
            .get("clientCert")
            .and_then(|c| c.get("clientCertPem"))
            .and_then(|p| p.as_str())
            .map(str::to_owned),
        _ => None,
    };
    if let Some(pem) = pem.filter(|p| !p.trim().is_empty()) {
        req.extensions_mut().insert(LambdaClientCert(pem));
    }
    req
}

/// Routes on the path exactly as the event carried it, minus the API Gateway stage.
///
/// `lambda_http` rebuilds the request URI with `Url::parse`, which resolves dot-segments (`/x/../health`
/// and `/x/%2e%2e/health` become `/health`), turns `\` into `/` and may re-encode: the router would see
/// another path than the client sent, and than `apuntador-server` sees for the same request. So the path
/// is taken from the event's raw path instead (`rawPath` of HTTP API and Function URL events, `path` of
/// REST and ALB events); only the query of the rebuilt URI is kept. The stage prefix is removed as
/// before (REST events of a named stage get it added by `lambda_http`, HTTP API events of a named stage
/// carry it in `rawPath`; `$default` has none).
///
/// Bytes an HTTP/1.1 request target cannot carry (controls, space, `"<>\`^{|}` outside the accepted set,
/// `?` and `#`) are percent-encoded, so the router sees a well-formed path that matches no route.
pub fn route_on_raw_path(mut req: Request) -> Request {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let raw = req.raw_http_path();
    let raw = match stage.filter(|s| !s.is_empty() && s != "$default") {
        Some(stage) => match raw
            .strip_prefix('/')
            .and_then(|r| r.strip_prefix(stage.as_str()))
        {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => raw,
        },
        None => raw,
    };
    let mut path_and_query = request_target_path(raw);
    if let Some(query) = req.uri().query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// `raw` as the path of a request target: a leading `/`, and every byte `http::Uri` would refuse in a
/// path (or read as the start of a query or fragment) percent-encoded. Everything else, dot-segments,
/// backslashes, doubled slashes and existing percent-escapes included, is kept byte for byte.
pub fn request_target_path(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 1);
    if !raw.starts_with('/') {
        out.push('/');
    }
    for c in raw.chars() {
        // Non-ASCII is accepted as sent by `http::Uri`, as it is when hyper reads a request line.
        let keep = !c.is_ascii()
            || matches!(c as u8,
                0x21 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7C | 0x7E | b'"' | b'{' | b'}');
        if keep {
            out.push(c);
        } else {
            out.push_str(&format!("%{:02X}", c as u8));
        }
    }
    out
}
