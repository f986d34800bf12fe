//! The middleware stack shared by every deployment target.
//!
//! Order, outermost first (both binaries build this same stack, so they answer alike):
//!
//! 1. `BASE_PATH` removal — wraps the router as a service, because it must run before routing;
//! 2. [`RequestLayer`], one layer running [`handle`], which does, from the outside in: the trace id,
//!    the request's log fields (with OpenTelemetry, its span) and its completion log, problem
//!    rendering, CORS response headers and the headers every response carries; then panic catching (a
//!    panicking handler becomes a 500 problem and the process keeps serving); CORS preflights,
//!    answered before authentication; load shedding (server binary only, 503); and
//!    `REQUEST_TIMEOUT_SECONDS` over the route (504), armed only when the route does not answer on its
//!    first poll;
//! 3. the router itself, whose handlers carry [`RouteGuardLayer`] (413 on a declared
//!    `Content-Length` over the limit, after 404/405 and before authentication; on the routes that
//!    write, 503 for a request admitted while the embedded store's write queue was full).
//!
//! With OpenTelemetry enabled the request span is named `HTTP <method> <route>`, is
//! parented on the incoming X-Ray/W3C header (or is a root span with the request's trace id), and
//! carries the completion fields as attributes; its trace id is always the `X-Trace-ID`.
//!
//! Axum's `Router::layer` wraps every route and the fallback after the path is matched, which is why
//! [`handle`] knows the matched route template while still answering unknown paths.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::{CatchUnwind, Either};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use pin_project_lite::pin_project;
use tokio::sync::OwnedSemaphorePermit;
use tower::Service;
use tracing::{Instrument, Level};

use crate::config::{AllowedHeaders, AllowedOrigins, CorsConfig};
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::telemetry::{RequestFields, otel};

/// `X-Trace-ID`, on every response.
const X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");
/// The AWS X-Ray trace header.
const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
/// The W3C trace-context header.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace id of a request: 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl TraceId {
    /// 128 random bits: the trace id of a request that names none, when OpenTelemetry is disabled.
    pub fn random() -> TraceId {
        use rand::{Rng as _, SeedableRng as _};
        thread_local! {
            // A trace id must be unique, not secret: a small fast generator, seeded once per thread
            // from the operating system, costs a fraction of the thread's cryptographic generator.
            static RNG: std::cell::RefCell<rand::rngs::SmallRng> =
                std::cell::RefCell::new(rand::rngs::SmallRng::from_os_rng());
        }
        let bits: u128 = RNG.with_borrow_mut(|rng| rng.random());
        let mut digits = [0_u8; 32];
        // Sixteen bytes fill the thirty-two digits exactly, so the encoding cannot fail.
        let _ = hex::encode_to_slice(bits.to_be_bytes(), &mut digits);
        // Hex digits are ASCII, so the conversion cannot fail.
        TraceId(std::str::from_utf8(&digits).unwrap_or_default().to_owned())
    }
}

/// Facts the outermost layer establishes for everything inside it: the context of the request the
/// current task is handling ([`RequestContext::with`]).
///
/// It travels with the request's task rather than in the request's extensions: inserting it there
/// and sharing the device slot cost two allocations per request. The `DeviceIdentity` extractor
/// records the authenticated device here and the completion event reads it, so answers produced after
/// authentication by other extractors or by axum (422, 403 `device_mismatch`) still log the device.
#[derive(Debug)]
pub struct RequestContext {
    /// `BODY_LIMIT_BYTES`.
    pub body_limit: usize,
    /// Whether the request carries an allowed `Origin` (a preflight then gets the allow headers).
    pub origin_allowed: bool,
    /// The authenticated device, `(device_id, serial)`, for the completion log.
    device: std::sync::OnceLock<(String, String)>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

impl RequestContext {
    /// Calls `f` with the context of the request this task is handling; `None` outside [`handle`].
    pub fn with<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
        CONTEXT.try_with(f).ok()
    }

    /// Records the authenticated device for the completion log; later calls are ignored.
    pub fn record_device(&self, device_id: &str, serial: &str) {
        let _ = self.device.set((device_id.to_owned(), serial.to_owned()));
    }
}

/// Applies the whole stack around `routes` (see the module documentation for the order).
pub fn apply(routes: Router<AppState>, state: AppState) -> Router {
    let app = routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(RequestLayer {
            state: state.clone(),
        })
        .with_state(state.clone());
    match state.config.http.base_path.clone() {
        None => app,
        Some(base) => {
            let base: Arc<str> = base.into();
            let svc = tower::ServiceBuilder::new()
                .map_request(move |req: Request| strip_base_path(req, &base))
                .service(app);
            Router::new().fallback_service(svc)
        }
    }
}

/// The layer that runs [`handle`] around every route and the 404/405 fallbacks.
///
/// A hand-written layer rather than `axum::middleware::from_fn`: `from_fn` boxes the inner route a
/// second time and allocates its `Next` on every request, which showed in the instruction count of
/// every request.
#[derive(Clone)]
pub struct RequestLayer {
    state: AppState,
}

impl<S> tower::Layer<S> for RequestLayer {
    type Service = RequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`RequestLayer`]: [`handle`] around `inner` (a route or a fallback).
#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for RequestService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited on the inner service inside `handle` (routes are always ready).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        Box::pin(handle(self.state.clone(), req, self.inner.clone()).map(Ok))
    }
}

/// Removes `BASE_PATH` from the request path: a path equal to it or starting with it
/// followed by `/` loses the prefix (an empty remainder becomes `/`); other paths are unchanged.
pub fn strip_base_path(mut req: Request, base: &str) -> Request {
    let path = req.uri().path();
    let rest = match path.strip_prefix(base) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let new_path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = new_path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Derives the trace id from `X-Amzn-Trace-Id`, then `traceparent`, else random.
pub fn derive_trace_id(headers: &HeaderMap) -> TraceId {
    incoming_trace_id(headers).unwrap_or_else(TraceId::random)
}

/// The trace id named by `X-Amzn-Trace-Id` (its `Root=`), then by a valid `traceparent`; malformed
/// headers are ignored, and so is an incoming `X-Trace-ID`.
pub fn incoming_trace_id(headers: &HeaderMap) -> Option<TraceId> {
    // One pass over the request's few headers costs less than hashing both names for two lookups.
    let (mut xray, mut traceparent) = (None, None);
    for (name, value) in headers {
        if xray.is_none() && name == X_AMZN_TRACE_ID {
            xray = Some(value);
        } else if traceparent.is_none() && name == TRACEPARENT {
            traceparent = Some(value);
        }
    }
    if let Some(id) = xray.and_then(|v| v.to_str().ok()).and_then(xray_root) {
        return Some(TraceId(id));
    }
    traceparent
        .and_then(|v| v.to_str().ok())
        .and_then(w3c_trace_id)
        .map(TraceId)
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Root=1-<8 hex>-<24 hex>` anywhere in an X-Ray header → the 32 hex digits.
fn xray_root(value: &str) -> Option<String> {
    value.split(';').find_map(|part| {
        let root = part.trim().strip_prefix("Root=")?;
        let mut it = root.split('-');
        let (version, time, unique) = (it.next()?, it.next()?, it.next()?);
        let ok = it.next().is_none()
            && version == "1"
            && time.len() == 8
            && unique.len() == 24
            && is_hex(time)
            && is_hex(unique);
        ok.then(|| format!("{time}{unique}").to_ascii_lowercase())
    })
}

/// A valid W3C `traceparent` (version `00`, lower-case hex, non-zero ids) → its trace id.
fn w3c_trace_id(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let [version, trace, parent, flags] = parts.as_slice() else {
        return None;
    };
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let ok = *version == "00"
        && trace.len() == 32
        && parent.len() == 16
        && flags.len() == 2
        && lower_hex(trace)
        && lower_hex(parent)
        && lower_hex(flags)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    ok.then(|| (*trace).to_owned())
}

/// The `Access-Control-Allow-Origin` value for the request's `Origin`, when it is allowed.
fn allowed_origin(cors: &CorsConfig, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    match &cors.allowed_origins {
        AllowedOrigins::Any => Some(HeaderValue::from_static("*")),
        AllowedOrigins::List(list) => {
            let o = origin.to_str().ok()?;
            list.iter().any(|a| a == o).then(|| origin.clone())
        }
    }
}

/// The whole per-request stack in one layer: trace id, log fields or span, completion log, problem
/// rendering and common headers around panic catching, CORS preflights, load shedding and the timeout.
///
/// One layer ([`RequestLayer`]) instead of one per concern: every layer clones the service beneath it
/// on every request, and that cloning dominated the cost of the stack. `inner` is the route (or
/// fallback) this request was routed to.
///
/// What can be decided from the request head is decided here, at once; the rest is a future built of
/// named parts ([`Finish`] around [`Inside`]) rather than nested `async` blocks. Every request's
/// future is moved into a box, and nested `async` code kept several copies of the request and of the
/// futures it awaits: the future was 4 KB, copied on every request.
pub fn handle<S>(state: AppState, req: Request, inner: S) -> impl Future<Output = Response> + Send
where
    S: Service<Request, Response = Response, Error = Infallible> + Send,
    S::Future: Send,
{
    let started = Instant::now();
    let otel = state.config.telemetry.otel_enabled;
    // No usable trace header: with OpenTelemetry the id is the new root span's X-Ray-format trace
    // id, so `X-Trace-ID` always equals the exported trace.
    let trace_id = incoming_trace_id(req.headers()).unwrap_or_else(|| {
        if otel {
            TraceId(otel::new_trace_id())
        } else {
            TraceId::random()
        }
    });
    let cors_origin = allowed_origin(&state.config.cors, req.headers());
    let method = req.method().clone();
    // Routing has happened (`Router::layer` wraps routes), so the template is known; the fallback has
    // none. `MatchedPath` shares its string, so keeping it costs no copy.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = route_template(matched.as_ref());
    let ctx = RequestContext {
        body_limit: state.config.http.body_limit_bytes,
        origin_allowed: cors_origin.is_some(),
        device: std::sync::OnceLock::new(),
    };

    // Every line logged while the request is handled carries its trace id, method and route. With
    // OpenTelemetry they are the fields of the exported request span; without, they travel with the
    // task (`RequestFields`) and no span is made: a span per request cost more than the rest of
    // the request's logging.
    let (span, fields) = if otel {
        let span = request_span(&trace_id, &method, route);
        span.record("otel.name", format!("HTTP {method} {route}"));
        span.record("otel.kind", "server");
        otel::attach_request_span(&span, req.headers(), &trace_id.0);
        (span, None)
    } else {
        let fields = RequestFields::new(&trace_id.0, &method, route);
        (tracing::Span::none(), Some(fields))
    };
    let completion = Completion {
        started,
        trace_id,
        method,
        // A clone of the URI shares its bytes (no copy); its path is the problem's `instance`.
        uri: req.uri().clone(),
        matched,
        cors_origin,
        // With an explicit origin list the answer depends on `Origin`, so caches must key on it.
        vary_origin: matches!(state.config.cors.allowed_origins, AllowedOrigins::List(_)),
        otel,
        span: span.clone(),
        problem: None,
    };
    let inside = Inside::Start {
        state,
        req: Some(req),
        inner,
        started,
    };
    let finish = Finish {
        answer: AssertUnwindSafe(inside).catch_unwind().instrument(span),
        counting: None,
        completion: Some(completion),
    };
    let finish = CONTEXT.scope(ctx, finish);
    match fields {
        Some(fields) => Either::Left(fields.scope(finish)),
        None => Either::Right(finish),
    }
}

/// The matched route's template for logs and spans; `<unmatched>` for the 404 fallback.
fn route_template(matched: Option<&MatchedPath>) -> &str {
    matched.map_or("<unmatched>", MatchedPath::as_str)
}

pin_project! {
    /// The outer part of a request: waits for [`Inside`]'s answer (a panic becomes a 500 problem),
    /// renders problems, answers HEAD without a body, adds the common headers and logs the
    /// completion ([`Completion`]).
    struct Finish<F> {
        #[pin]
        answer: tracing::instrument::Instrumented<CatchUnwind<AssertUnwindSafe<F>>>,
        // A HEAD answer whose body length is not known up front, while its body is counted.
        counting: Option<Pin<Box<dyn Future<Output = Response> + Send>>>,
        // Taken when the request completes.
        completion: Option<Completion>,
    }
}

impl<F: Future<Output = Response>> Future for Finish<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.project();
        let res = match this.counting {
            Some(counting) => std::task::ready!(counting.as_mut().poll(cx)),
            None => {
                let answered = std::task::ready!(this.answer.poll(cx));
                let Some(completion) = this.completion.as_mut() else {
                    // Polled again after completing.
                    return Poll::Pending;
                };
                let mut res = answered.unwrap_or_else(|_| {
                    // A panicking handler becomes a 500 problem; one bad request must not stop the
                    // process.
                    ApiError::Internal {
                        cause: "a request handler panicked".into(),
                    }
                    .into_response()
                });
                completion.render_problem(&mut res);
                if completion.method == Method::HEAD
                    && let Some(body) = head_without_body(&mut res)
                {
                    let mut counting = count_head_body(res, body);
                    let polled = counting.as_mut().poll(cx);
                    *this.counting = Some(counting);
                    std::task::ready!(polled)
                } else {
                    res
                }
            }
        };
        match this.completion.take() {
            Some(completion) => Poll::Ready(completion.finish(res)),
            None => Poll::Pending,
        }
    }
}

/// What a request's completion needs from its head: for the problem document, the common headers
/// and the completion log.
struct Completion {
    started: Instant,
    trace_id: TraceId,
    method: Method,
    uri: http::Uri,
    matched: Option<MatchedPath>,
    /// The `Access-Control-Allow-Origin` value, for an allowed `Origin`.
    cors_origin: Option<HeaderValue>,
    /// Whether answers carry `Vary: Origin` (an explicit origin list).
    vary_origin: bool,
    otel: bool,
    /// The exported request span (OpenTelemetry), else a disabled span.
    span: tracing::Span,
    /// The answer's problem, once rendered.
    problem: Option<Problem>,
}

impl Completion {
    /// Renders an error answer as a problem document with the request's path and trace id, and keeps
    /// the problem for the completion log.
    fn render_problem(&mut self, res: &mut Response) {
        let problem = res.extensions_mut().remove::<Problem>().or_else(|| {
            // Anything that produced an error response without going through `ApiError` (axum's own
            // rejections) is normalised to the generic problem of its status.
            let status = res.status();
            let is_problem = res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
            (status.as_u16() >= 400 && !is_problem).then(|| Problem::generic(status))
        });
        if let Some(problem) = &problem {
            let body = problem.to_body(self.uri.path(), &self.trace_id.0);
            *res.body_mut() = Body::from(body);
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            res.headers_mut().remove(header::CONTENT_LENGTH);
        }
        self.problem = problem;
    }

    /// Adds the headers every answer carries and logs the completion.
    fn finish(self, mut res: Response) -> Response {
        let headers = res.headers_mut();
        // The id's own bytes become the header value (no copy); it is not needed after this.
        if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(self.trace_id.0)) {
            headers.insert(X_TRACE_ID, v);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some(origin) = self.cors_origin {
            let credentials = origin.as_bytes() != b"*";
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if credentials {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("X-Trace-ID"),
            );
        }
        // Also for requests without an allowed origin, whose answer lacks the CORS headers.
        if self.vary_origin {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }

        let _entered = self.span.enter();
        let route = route_template(self.matched.as_ref());
        // OAuth routes name their provider in the last path segment; it is logged as `provider`.
        let provider = route
            .starts_with("/oauth/")
            .then(|| self.uri.path().rsplit('/').next().unwrap_or(""))
            .map(|p| p.char_indices().nth(64).map_or(p, |(i, _)| &p[..i]));
        // One measurement for the log line and the span, so both carry the same latency. Without a
        // span it is measured only if the completion line is written: `/health` lines are DEBUG.
        let started = self.started;
        let measured = self.otel.then(|| crate::telemetry::ms(started.elapsed()));
        let latency_ms = || measured.unwrap_or_else(|| crate::telemetry::ms(started.elapsed()));
        // Only device routes record a device, so this copies two short strings at most.
        let device = RequestContext::with(|c| c.device.get().cloned()).flatten();
        let device = device.as_ref().map(|(d, s)| (d.as_str(), s.as_str()));
        log_completion(
            &self.method,
            route,
            res.status(),
            &latency_ms,
            self.problem.as_ref(),
            provider,
            device,
        );
        if self.otel {
            record_completion(&self.span, res.status(), latency_ms(), provider, device);
        }
        res
    }
}

/// The exported span of a request (with OpenTelemetry). The `otel.*` fields and the completion fields
/// are recorded later; log lines never show `otel.*` fields, and the completion fields are recorded
/// after the last line. `as_str` values are recorded as strings as they are; `%` would format each into
/// a new `String`.
fn request_span(trace_id: &TraceId, method: &Method, route: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        trace_id = trace_id.0.as_str(),
        method = method.as_str(),
        route,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
        provider = tracing::field::Empty,
        device_id = tracing::field::Empty,
        serial = tracing::field::Empty,
    )
}

/// Turns the answer GET would give into the answer to HEAD: the same status and headers, including
/// the `Content-Length` of the body GET would send (RFC 9110 section 8.6), and no body. Both
/// binaries answer through here, so HEAD looks the same on every target. Returns the body when its
/// length is not known up front ([`count_head_body`] counts it).
fn head_without_body(res: &mut Response) -> Option<Body> {
    use axum::body::HttpBody as _;
    let body = std::mem::replace(res.body_mut(), Body::empty());
    let status = res.status();
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return None;
    }
    match body.size_hint().exact() {
        Some(length) => {
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            None
        }
        None => Some(body),
    }
}

/// Sets the `Content-Length` of a HEAD answer to the length of `body`, a body whose length was not
/// known up front. Every body of this service is small and in memory; counting a streamed one is
/// cheap. Boxed: only such answers pay for the counting state.
fn count_head_body(
    mut res: Response,
    body: Body,
) -> Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(async move {
        let length = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_or(0, |bytes| bytes.len() as u64);
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        res
    })
}

/// Copies the completion log's fields onto the request span, for its OpenTelemetry attributes;
/// 5xx answers mark the span as an error.
fn record_completion(
    span: &tracing::Span,
    status: StatusCode,
    latency_ms: f64,
    provider: Option<&str>,
    device: Option<(&str, &str)>,
) {
    span.record("status", status.as_u16());
    span.record("latency_ms", latency_ms);
    if let Some(provider) = provider {
        span.record("provider", provider);
    }
    if let Some((device_id, serial)) = device {
        span.record("device_id", device_id);
        span.record("serial", serial);
    }
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
}

pin_project! {
    /// The first steps of every request and the timeout, run on the first poll (so inside panic
    /// catching): a CORS preflight is answered before routing and authentication, then load
    /// shedding, then the route within `REQUEST_TIMEOUT_SECONDS` of `started`.
    #[project = InsideProj]
    enum Inside<S, F> {
        Start {
            state: AppState,
            req: Option<Request>,
            inner: S,
            started: Instant,
        },
        Route {
            #[pin]
            route: F,
            // Most routes answer on their first poll; the timer is made only when one has to wait.
            timer: Option<Pin<Box<tokio::time::Sleep>>>,
            deadline: tokio::time::Instant,
            limit: std::time::Duration,
            // Held until the route answers.
            permit: Option<OwnedSemaphorePermit>,
        },
        Done,
    }
}

impl<S> Future for Inside<S, S::Future>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        if let InsideProj::Start {
            state,
            req,
            inner,
            started,
        } = self.as_mut().project()
        {
            // Routes are always ready; the error is `Infallible`.
            if inner.poll_ready(cx).is_pending() {
                return Poll::Pending;
            }
            let Some(mut req) = req.take() else {
                return Poll::Pending;
            };
            let early = if is_preflight(&req) {
                Some(preflight(state, &req))
            } else {
                match admit(state, &mut req) {
                    Err(Overloaded) => Some(ApiError::Overloaded.into_response()),
                    Ok(permit) => {
                        let limit = state.config.http.request_timeout;
                        let deadline = tokio::time::Instant::from_std(*started) + limit;
                        let route = inner.call(req);
                        self.set(Inside::Route {
                            route,
                            timer: None,
                            deadline,
                            limit,
                            permit,
                        });
                        None
                    }
                }
            };
            if let Some(res) = early {
                self.set(Inside::Done);
                return Poll::Ready(res);
            }
        }
        let InsideProj::Route {
            route,
            timer,
            deadline,
            limit,
            ..
        } = self.as_mut().project()
        else {
            // Polled again after answering.
            return Poll::Pending;
        };
        let answer = match route.poll(cx) {
            Poll::Ready(Ok(res)) => res,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => {
                let timer =
                    timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(*deadline)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                ApiError::Timeout {
                    seconds: limit.as_secs(),
                }
                .into_response()
            }
        };
        // The route and the load-shedding permit go now, not when the request's future is dropped.
        self.set(Inside::Done);
        Poll::Ready(answer)
    }
}

/// One completion event per request; 401/403 add a WARN, 5xx an ERROR with the cause. `latency_ms` is
/// called only when the completion event is enabled.
fn log_completion(
    method: &Method,
    route: &str,
    status: StatusCode,
    latency_ms: &dyn Fn() -> f64,
    problem: Option<&Problem>,
    provider: Option<&str>,
    device: Option<(&str, &str)>,
) {
    let device_id = device.map(|d| d.0);
    let serial = device.map(|d| d.1);
    let status = status.as_u16();
    let quiet = matches!(route, "/health" | "/health/public" | "/health/ready");
    // The event name routes the line to its purpose-built writer (`telemetry::completion`).
    if quiet {
        tracing::debug!(
            name: crate::telemetry::completion::NAME,
            method = method.as_str(),
            route,
            status,
            latency_ms = latency_ms(),
            "request completed"
        );
    } else {
        tracing::info!(
            name: crate::telemetry::completion::NAME,
            method = method.as_str(),
            route,
            status,
            latency_ms = latency_ms(),
            provider,
            device_id,
            serial,
            "request completed"
        );
    }
    let code = problem.and_then(Problem::error_code).unwrap_or("");
    // A shed request (load, connection limit, CPU pool) is the service protecting itself, not a
    // failure: one ERROR each would turn an overload into a log storm. Its completion line remains.
    let shed = problem.is_some_and(Problem::is_overload);
    if matches!(status, 401 | 403) {
        tracing::warn!(status, error = code, "request rejected");
    } else if status >= 500 && !shed {
        match problem
            .and_then(|p| p.cause.as_deref())
            .filter(|c| !c.is_empty())
        {
            Some(cause) => {
                tracing::event!(Level::ERROR, status, error = code, cause, "request failed");
            }
            None => tracing::event!(Level::ERROR, status, error = code, "request failed"),
        }
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Answers a preflight on any path, before routing and authentication: 200, empty, with the allow
/// headers only for an allowed origin.
fn preflight(state: &AppState, req: &Request) -> Response {
    let mut res = StatusCode::OK.into_response();
    let allowed = RequestContext::with(|c| c.origin_allowed).unwrap_or(false);
    if allowed {
        let cors = &state.config.cors;
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&cors.allowed_methods.join(",")) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        let allow_headers = match &cors.allowed_headers {
            AllowedHeaders::Mirror => req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned(),
            AllowedHeaders::List(list) => HeaderValue::from_str(&list.join(",")).ok(),
        };
        if let Some(v) = allow_headers {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(cors.max_age_seconds),
        );
    }
    res
}

/// Marks a request that arrived on a connection over the server's `MAX_CONNECTIONS` cap: it is answered
/// 503 like a shed request (liveness excepted), and its connection is then closed.
#[derive(Debug, Clone, Copy)]
pub struct OverConnectionLimit;

/// Load shedding (server binary only): a permit while fewer than `MAX_CONCURRENT_REQUESTS`
/// are in flight, else an immediate 503; a request on a connection over `MAX_CONNECTIONS` is shed too.
/// `GET /health` and `GET /health/public` are never shed.
///
/// An admitted request that may write (not `GET`, `HEAD` or `OPTIONS`) while the embedded store's write
/// queue is full is marked [`WritesRefused`]: the routes that write answer it 503 like a shed request,
/// before reading its body, since the store would refuse its write anyway.
fn admit(state: &AppState, req: &mut Request) -> Result<Option<OwnedSemaphorePermit>, Overloaded> {
    let exempt = matches!(*req.method(), Method::GET | Method::HEAD)
        && matches!(req.uri().path(), "/health" | "/health/public");
    if exempt {
        return Ok(None);
    }
    if req.extensions().get::<OverConnectionLimit>().is_some() {
        return Err(Overloaded);
    }
    let Some(limit) = state.load_shedding.as_ref() else {
        return Ok(None);
    };
    let permit = limit.clone().try_acquire_owned().map_err(|_| Overloaded)?;
    if let Some(backlog) = &state.write_backlog
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && backlog.is_full()
    {
        req.extensions_mut().insert(WritesRefused);
    }
    Ok(Some(permit))
}

/// Marks a request admitted while the embedded store's write queue was full (see [`admit`]).
#[derive(Debug, Clone, Copy)]
pub struct WritesRefused;

/// Every permit is taken: the request is shed.
struct Overloaded;

/// Per-route guard, after 404/405 and before authentication: a declared `Content-Length` over
/// `BODY_LIMIT_BYTES` → 413; then, on a route that writes to the store (`writes`), a request marked
/// [`WritesRefused`] → 503 like a shed request, before its body is read.
///
/// A plain tower layer rather than `from_fn`, so a request passes it without cloning anything.
#[derive(Debug, Clone, Copy)]
pub struct RouteGuardLayer {
    /// Whether the route writes to the store.
    pub writes: bool,
}

impl<S> tower::Layer<S> for RouteGuardLayer {
    type Service = RouteGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteGuard {
            inner,
            writes: self.writes,
        }
    }
}

/// The service of [`RouteGuardLayer`].
#[derive(Debug, Clone)]
pub struct RouteGuard<S> {
    inner: S,
    writes: bool,
}

impl<S> tower::Service<Request> for RouteGuard<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let limit = RequestContext::with(|c| c.body_limit);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(limit), Some(declared)) = (limit, declared)
            && declared > limit as u64
        {
            let res = ApiError::PayloadTooLarge { limit }.into_response();
            return futures_util::future::Either::Left(std::future::ready(Ok(res)));
        }
        if self.writes && req.extensions().get::<WritesRefused>().is_some() {
            let res = ApiError::Overloaded.into_response();
            return futures_util::future::Either::Left(std::future::ready(Ok(res)));
        }
        futures_util::future::Either::Right(self.inner.call(req))
    }
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed(method: Method) -> ApiError {
    // Axum adds the `Allow` header listing the route's methods.
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        allow: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn trace_id_comes_from_the_xray_root_first() {
        let h = headers(&[
            (
                "x-amzn-trace-id",
                "Self=1-aaa;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            ),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ]);
        assert_eq!(derive_trace_id(&h).0, "5759e988bd862e3fe1be46a994272793");
    }

    #[test]
    fn trace_id_falls_back_to_traceparent_when_xray_is_malformed() {
        let h = headers(&[
            ("x-amzn-trace-id", "Root=1-5759e98-bd862e3fe1be46a994272793"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ]);
        assert_eq!(derive_trace_id(&h).0, "0af7651916cd43dd8448eb211c80319c");
    }

    #[test]
    fn traceparent_with_zero_trace_id_or_other_version_is_ignored() {
        for tp in [
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        ] {
            let mut h = HeaderMap::new();
            h.insert("traceparent", HeaderValue::from_str(tp).unwrap());
            let id = derive_trace_id(&h).0;
            assert_ne!(id, "0af7651916cd43dd8448eb211c80319c");
            assert_eq!(id.len(), 32);
        }
    }

    #[test]
    fn generated_trace_ids_are_32_lowercase_hex_and_differ() {
        let a = derive_trace_id(&HeaderMap::new()).0;
        let b = derive_trace_id(&HeaderMap::new()).0;
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(a, b);
    }

    #[test]
    fn base_path_is_stripped_only_on_a_segment_boundary() {
        let strip = |p: &str| {
            strip_base_path(
                Request::builder().uri(p).body(Body::empty()).unwrap(),
                "/api",
            )
            .uri()
            .to_string()
        };
        assert_eq!(strip("/api"), "/");
        assert_eq!(strip("/api/health?x=1"), "/health?x=1");
        assert_eq!(strip("/apix/health"), "/apix/health");
        assert_eq!(strip("/health"), "/health");
    }
}
