//! Turns `lambda_http` requests into requests for the apuntador router: removes the API Gateway stage
//! and hands the request context's client certificate to the library as a request extension. With
//! OpenTelemetry enabled, the invocation's spans are flushed (at most 1 s) before the response is
//! returned to the runtime, so nothing is left behind when the environment freezes (SPEC §10.5).
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
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::{Service, ServiceExt};
use tracing::Instrument;

/// The service `lambda_http::run` drives: the router behind stage removal and an invocation span.
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
        let req = insert_client_cert(remove_stage(req)).map(Body::new);
        let app = self.app.clone();
        Box::pin(async move {
            let res = app.oneshot(req).instrument(span).await;
            // No cost without OpenTelemetry: there is no pipeline to flush.
            apuntador::telemetry::otel::flush(apuntador::telemetry::otel::LAMBDA_FLUSH_BOUND).await;
            res
        })
    }
}

/// Copies the mutual-TLS client certificate of the request context — HTTP API v2
/// `requestContext.authentication.clientCert.clientCertPem`, REST v1
/// `requestContext.identity.clientCert.clientCertPem` — into the request extensions as
/// [`LambdaClientCert`], the `lambda-context` source of SPEC §5.8. The library never sees
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

/// Removes the API Gateway stage from the path (SPEC §9.3): `lambda_http` puts it there for REST
/// events, and HTTP API events of a named stage carry it in `rawPath`. `$default` has none.
pub fn remove_stage(mut req: Request) -> Request {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return req;
    };
    let prefix = format!("/{stage}");
    let path = req.uri().path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}
