//! OpenTelemetry export with X-Ray ids and propagation.
//!
//! Built only when `OTEL_ENABLED=true`; otherwise none of this runs: no exporter, no background thread,
//! no tracing layer. When enabled, [`Pipeline::new`] builds:
//!
//! * an OTLP span exporter (`OTEL_EXPORTER_OTLP_PROTOCOL`: gRPC through tonic, or HTTP/protobuf through
//!   the project's reqwest/rustls client) wrapped in [`Guarded`], which runs every export on the
//!   application's tokio runtime under a time bound, remembers whether the collector is failing and
//!   reports failures at WARN at most once a minute. The OpenTelemetry crates are built without their
//!   internal logs, so this is the only export diagnostic;
//! * the SDK's batch span processor (its own thread, 5 s schedule, 2 048-span queue);
//! * a tracer provider with X-Ray trace ids (`opentelemetry-aws`'s generator, first 8 hex digits =
//!   epoch seconds), parent-based ratio sampling (`OTEL_TRACES_SAMPLER_ARG`) and the [`resource`];
//! * a `tracing` layer exporting the spans of the apuntador crates (never events, never other crates'
//!   spans, so the exporter's own HTTP/gRPC machinery can never feed itself).
//!
//! Propagation is composite, X-Ray first and W3C second ([`Propagator`]): on an incoming request
//! the first header that yields a valid parent wins (the same order as the `X-Trace-ID`
//! derivation), and outgoing provider calls carry both `X-Amzn-Trace-Id` and `traceparent` of the
//! same span. When the request's trace id comes from a header that names no usable parent (an ALB
//! `Root=` without `Parent=`), or is generated, the request span becomes a root span *with that
//! trace id* ([`attach_request_span`]), so `X-Trace-ID` always equals the OpenTelemetry trace id.
//!
//! Lambda: [`Pipeline::flush`] force-flushes before each response goes back to the runtime,
//! waiting at most the given bound (1 s). While the collector is failing (an export failed or a flush
//! overran in the last minute) the flush is started but not awaited, so a dead collector costs requests
//! nothing; the first successful export restores waiting. An invocation whose request span was not
//! sampled has nothing to export and skips the flush altogether.
//!
//! Depends on `config` and the OpenTelemetry crates; nothing here knows axum or the stores.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_aws::trace::{XrayIdGenerator, XrayPropagator};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, Sampler, SdkTracerProvider, SpanData,
    SpanExporter,
};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, OtlpProtocol};

/// How long one export may take before it counts as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// After an export failure, flushes are not awaited and no further WARN is logged for this long.
const FAILURE_QUIET_PERIOD: Duration = Duration::from_secs(60);

/// The bound on the per-invocation flush of the Lambda binary.
pub const LAMBDA_FLUSH_BOUND: Duration = Duration::from_secs(1);

/// Which binary runs the pipeline; it decides the exporter's retry behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `apuntador-server`: exports in the background; a failed export is retried with back-off.
    Server,
    /// `apuntador-lambda`: every invocation flushes; exports are tried once (a retry would outlast the
    /// 1 s flush bound).
    Lambda,
}

/// A running OpenTelemetry pipeline: the tracer provider and the exporter's health. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Pipeline {
    provider: SdkTracerProvider,
    health: Arc<Health>,
}

impl Pipeline {
    /// Builds the exporter, the batch processor and the tracer provider for `config`.
    ///
    /// Must be called inside a tokio runtime: exports run on it. No network I/O happens here (the gRPC
    /// channel connects lazily).
    pub fn new(config: &Config, target: Target) -> Result<Pipeline, String> {
        let telemetry = &config.telemetry;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "OpenTelemetry needs a tokio runtime".to_owned())?;
        let retry = match target {
            Target::Server => opentelemetry_otlp::RetryPolicy::recommended(),
            Target::Lambda => opentelemetry_otlp::RetryPolicy::disabled(),
        };
        let exporter = match telemetry.otel_protocol {
            OtlpProtocol::Grpc => {
                let mut builder = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(telemetry.otel_endpoint.clone())
                    .with_protocol(Protocol::Grpc)
                    .with_timeout(EXPORT_TIMEOUT)
                    .with_retry_policy(retry);
                if telemetry.otel_endpoint.starts_with("https://") {
                    builder = builder.with_tls_config(
                        opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new()
                            .with_enabled_roots(),
                    );
                }
                builder.build()
            }
            OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(http_traces_endpoint(&telemetry.otel_endpoint))
                .with_protocol(Protocol::HttpBinary)
                .with_timeout(EXPORT_TIMEOUT)
                .with_retry_policy(retry)
                .with_http_client(ReqwestClient::new(EXPORT_TIMEOUT, runtime.clone())?)
                .build(),
        }
        .map_err(|e| format!("could not build the OTLP exporter: {e}"))?;

        let health = Arc::new(Health::new());
        let guarded = Guarded {
            inner: Arc::new(exporter),
            runtime,
            health: health.clone(),
        };
        let processor = BatchSpanProcessor::builder(guarded)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(2048)
                    .with_max_export_batch_size(512)
                    .with_scheduled_delay(Duration::from_secs(5))
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_id_generator(RequestIdGenerator::default())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                telemetry.otel_sampler_ratio,
            ))))
            .with_resource(resource(config, |name| std::env::var(name).ok()))
            .build();
        Ok(Pipeline { provider, health })
    }

    /// The `tracing` layer that turns apuntador spans into OpenTelemetry spans of this pipeline.
    ///
    /// Only spans (no events) of the apuntador crates at INFO or above are exported, except the Lambda
    /// adapter's `invocation` span: the request span below it is parented on the runtime's X-Ray header
    /// instead. Span fields become attributes; `otel.name`, `otel.kind` and `otel.status_code` set the
    /// span's name, kind and status.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let tracer = self.provider.tracer("apuntador");
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            .with_error_events_to_status(false)
            .with_error_events_to_exceptions(false)
            .with_filter(filter_fn(|meta| {
                meta.is_span()
                    && *meta.level() <= tracing::Level::INFO
                    && meta.target().starts_with("apuntador")
                    && meta.name() != "invocation"
            }))
    }

    /// Exports every finished span now, waiting at most `bound`.
    ///
    /// While the collector is failing the flush is started but not awaited. Returns whether every
    /// pending span was handed to the collector within the bound.
    pub async fn flush(&self, bound: Duration) -> bool {
        let provider = self.provider.clone();
        let task = tokio::task::spawn_blocking(move || provider.force_flush());
        if self.health.failing() {
            return false;
        }
        match tokio::time::timeout(bound, task).await {
            Ok(Ok(Ok(()))) => true,
            Ok(_) => false,
            Err(_) => {
                self.health
                    .record_failure("the flush did not finish within its bound");
                false
            }
        }
    }

    /// Flushes and stops the pipeline, waiting at most `bound` (the server's shutdown).
    pub async fn shutdown(&self, bound: Duration) {
        let provider = self.provider.clone();
        let task = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(bound));
        let _ = tokio::time::timeout(bound + Duration::from_millis(100), task).await;
    }

    /// How many exports have failed since the pipeline started.
    pub fn failed_exports(&self) -> u64 {
        self.health.failures.load(Ordering::Relaxed)
    }
}

/// The process-wide pipeline, installed by [`crate::telemetry::init_with_otel`].
static GLOBAL: OnceLock<Pipeline> = OnceLock::new();

/// Makes `pipeline` the process-wide one that [`flush`] and [`shutdown`] act on; a second call is
/// ignored.
pub fn install_global(pipeline: Pipeline) {
    let _ = GLOBAL.set(pipeline);
}

/// Set when a sampled request span starts; cleared by [`flush`].
static SAMPLED_SINCE_FLUSH: AtomicBool = AtomicBool::new(false);

/// Flushes the process-wide pipeline within `bound`; nothing to do (and no cost) when OpenTelemetry is
/// disabled, or when no sampled request ran since the last flush (an unsampled invocation has nothing
/// to export).
pub async fn flush(bound: Duration) {
    if let Some(pipeline) = GLOBAL.get()
        && SAMPLED_SINCE_FLUSH.swap(false, Ordering::Relaxed)
    {
        pipeline.flush(bound).await;
    }
}

/// Writes the queued log lines ([`super::writer::flush`]), then flushes and stops the process-wide
/// pipeline within `bound`, when there is one. The server calls this once its requests are done.
pub async fn shutdown(bound: Duration) {
    super::writer::flush();
    if let Some(pipeline) = GLOBAL.get() {
        pipeline.shutdown(bound).await;
    }
}

/// The resource of every exported span: service name and version, `deployment.environment.name`,
/// `cloud.provider=aws`, the detected `cloud.platform` (with region and function name on Lambda), then
/// `OTEL_RESOURCE_ATTRIBUTES`, which may add to or override all but `service.name`.
pub fn resource(config: &Config, env: impl Fn(&str) -> Option<String>) -> Resource {
    let telemetry = &config.telemetry;
    let mut attributes = vec![
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("deployment.environment.name", config.environment.as_str()),
        KeyValue::new("cloud.provider", "aws"),
    ];
    attributes.extend(platform_attributes(env));
    attributes.extend(
        telemetry
            .otel_resource_attributes
            .iter()
            .filter(|(k, _)| k != "service.name")
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    Resource::builder_empty()
        .with_attributes(attributes)
        .with_service_name(telemetry.otel_service_name.clone())
        .build()
}

/// `cloud.platform` and friends, detected from the environment the platforms set: Lambda sets
/// `AWS_LAMBDA_FUNCTION_NAME`; ECS sets `ECS_CONTAINER_METADATA_URI_V4` (or the v3 variable). Nothing is
/// fetched over the network.
pub fn platform_attributes(env: impl Fn(&str) -> Option<String>) -> Vec<KeyValue> {
    let present = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut attributes = Vec::new();
    if let Some(function) = present("AWS_LAMBDA_FUNCTION_NAME") {
        attributes.push(KeyValue::new("cloud.platform", "aws_lambda"));
        attributes.push(KeyValue::new("faas.name", function));
        if let Some(version) = present("AWS_LAMBDA_FUNCTION_VERSION") {
            attributes.push(KeyValue::new("faas.version", version));
        }
    } else if present("ECS_CONTAINER_METADATA_URI_V4")
        .or_else(|| present("ECS_CONTAINER_METADATA_URI"))
        .is_some()
    {
        attributes.push(KeyValue::new("cloud.platform", "aws_ecs"));
    }
    if let Some(region) = present("AWS_REGION").or_else(|| present("AWS_DEFAULT_REGION")) {
        attributes.push(KeyValue::new("cloud.region", region));
    }
    attributes
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL; OTLP/HTTP sends traces to `<base>/v1/traces`.
fn http_traces_endpoint(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// A new X-Ray-format trace id (first 8 hex digits = epoch seconds) as 32 lower-case hex digits: the
/// generated `X-Trace-ID` of a request when OpenTelemetry is enabled.
pub fn new_trace_id() -> String {
    format!("{}", XrayIdGenerator::default().new_trace_id())
}

thread_local! {
    /// The trace id the next root span built on this thread must take (see [`attach_request_span`]).
    static NEXT_ROOT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// X-Ray ids, except that a root span built by [`attach_request_span`] takes the request's trace id.
#[derive(Debug, Default)]
struct RequestIdGenerator {
    xray: XrayIdGenerator,
}

impl IdGenerator for RequestIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        NEXT_ROOT_TRACE_ID
            .with(Cell::take)
            .unwrap_or_else(|| self.xray.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.xray.new_span_id()
    }
}

/// Ties the request span to the request's trace: when the composite propagator finds
/// a valid parent of trace `trace_id` in `headers`, the span becomes its child; otherwise it becomes a
/// root span whose trace id is `trace_id`. Without an OpenTelemetry layer this does nothing.
pub fn attach_request_span(span: &tracing::Span, headers: &http::HeaderMap, trace_id: &str) {
    let Ok(trace_id) = TraceId::from_hex(trace_id) else {
        return;
    };
    let parent = Propagator.extract(&HeaderExtractor(headers));
    let remote = parent.span().span_context().clone();
    let cx = if remote.is_valid() && remote.trace_id() == trace_id {
        let _ = span.set_parent(parent);
        span.context()
    } else {
        // Build the span now, on this thread, so the id generator hands it this trace id.
        NEXT_ROOT_TRACE_ID.with(|next| next.set(Some(trace_id)));
        let _ = span.set_parent(Context::new());
        let cx = span.context();
        NEXT_ROOT_TRACE_ID.with(|next| next.set(None));
        cx
    };
    if cx.span().span_context().is_sampled() {
        SAMPLED_SINCE_FLUSH.store(true, Ordering::Relaxed);
    }
}

/// The `X-Amzn-Trace-Id` and `traceparent` headers naming `span` as the parent, for an outgoing call;
/// empty when the span is not exported.
pub fn outgoing_headers(span: &tracing::Span) -> Vec<(&'static str, String)> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut headers = HeaderInjector(Vec::with_capacity(2));
    Propagator.inject_context(&cx, &mut headers);
    headers.0
}

/// Composite propagation, X-Ray first and W3C Trace Context second.
///
/// Extraction takes the first propagator that yields a valid span context — the stock composite
/// propagator lets the last one win, which would put `traceparent` before `X-Amzn-Trace-Id`. Injection
/// writes both headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Propagator;

impl Propagator {
    fn extract(&self, extractor: &dyn Extractor) -> Context {
        let empty = Context::new();
        let xray = XrayPropagator::default().extract_with_context(&empty, extractor);
        if xray.span().span_context().is_valid() {
            return xray;
        }
        let w3c = TraceContextPropagator::new().extract_with_context(&empty, extractor);
        if w3c.span().span_context().is_valid() {
            return w3c;
        }
        empty
    }

    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        XrayPropagator::default().inject_context(cx, injector);
        TraceContextPropagator::new().inject_context(cx, injector);
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector(Vec<(&'static str, String)>);

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        let key = match key.to_ascii_lowercase().as_str() {
            "x-amzn-trace-id" => "x-amzn-trace-id",
            "traceparent" => "traceparent",
            "tracestate" => "tracestate",
            _ => return,
        };
        if key == "tracestate" && value.is_empty() {
            return;
        }
        self.0.push((key, value));
    }
}

/// Whether exports are failing, and when a failure was last reported.
#[derive(Debug)]
struct Health {
    started: Instant,
    /// Milliseconds since `started` of the last failure; `u64::MAX` when the last export succeeded.
    last_failure_ms: AtomicU64,
    /// Milliseconds since `started` of the last WARN; `u64::MAX` before the first.
    last_warn_ms: AtomicU64,
    failures: AtomicU64,
    failures_at_last_warn: AtomicU64,
}

impl Health {
    fn new() -> Health {
        Health {
            started: Instant::now(),
            last_failure_ms: AtomicU64::new(u64::MAX),
            last_warn_ms: AtomicU64::new(u64::MAX),
            failures: AtomicU64::new(0),
            failures_at_last_warn: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// An export failed, or a flush overran, within the quiet period.
    fn failing(&self) -> bool {
        let last = self.last_failure_ms.load(Ordering::Relaxed);
        last != u64::MAX
            && self.now_ms().saturating_sub(last) < FAILURE_QUIET_PERIOD.as_millis() as u64
    }

    fn record_success(&self) {
        self.last_failure_ms.store(u64::MAX, Ordering::Relaxed);
    }

    /// Records a failure; logs one WARN unless one was logged within the quiet period.
    fn record_failure(&self, reason: &str) {
        let now = self.now_ms();
        self.last_failure_ms.store(now, Ordering::Relaxed);
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let last_warn = self.last_warn_ms.load(Ordering::Relaxed);
        let due = last_warn == u64::MAX
            || now.saturating_sub(last_warn) >= FAILURE_QUIET_PERIOD.as_millis() as u64;
        if due
            && self
                .last_warn_ms
                .compare_exchange(last_warn, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let since_last =
                failures - self.failures_at_last_warn.swap(failures, Ordering::Relaxed);
            tracing::warn!(
                error = reason,
                failed_exports = since_last,
                "OpenTelemetry export failed; spans are being dropped (reported at most once a minute)"
            );
        }
    }
}

/// The OTLP exporter as the batch processor sees it: every export runs on the application's tokio
/// runtime (the processor's thread has none, and both tonic and reqwest need one), bounded by
/// [`EXPORT_TIMEOUT`], and its outcome feeds [`Health`].
#[derive(Debug)]
struct Guarded<E> {
    inner: Arc<E>,
    runtime: tokio::runtime::Handle,
    health: Arc<Health>,
}

impl<E: SpanExporter + 'static> SpanExporter for Guarded<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = self.inner.clone();
        let health = self.health.clone();
        // The outcome is recorded on the runtime too, so the WARN goes through the application's
        // subscriber rather than the processor thread's.
        let task = self.runtime.spawn(async move {
            let result = match tokio::time::timeout(EXPORT_TIMEOUT, inner.export(batch)).await {
                Ok(result) => result,
                Err(_) => Err(OTelSdkError::Timeout(EXPORT_TIMEOUT)),
            };
            match &result {
                Ok(()) => health.record_success(),
                Err(err) => health.record_failure(&err.to_string()),
            }
            result
        });
        async move {
            task.await.unwrap_or_else(|_| {
                Err(OTelSdkError::InternalFailure(
                    "the export task was cancelled".into(),
                ))
            })
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called once while the provider is built, before anything else holds the exporter.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

/// OTLP/HTTP over the project's reqwest 0.12 client (rustls, bundled roots), driven on the application's
/// runtime.
#[derive(Debug, Clone)]
struct ReqwestClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ReqwestClient {
    fn new(timeout: Duration, runtime: tokio::runtime::Handle) -> Result<ReqwestClient, String> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(1))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("could not build the OTLP HTTP client: {e}"))?;
        Ok(ReqwestClient { http, runtime })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ReqwestClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let http = self.http.clone();
        let task = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let response = http.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = task.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_endpoint_is_the_base_url_plus_the_traces_path() {
        assert_eq!(
            http_traces_endpoint("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            http_traces_endpoint("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
    }

    #[test]
    fn the_platform_is_lambda_or_ecs_when_their_variables_are_set() {
        let attrs = |pairs: &'static [(&'static str, &'static str)]| {
            platform_attributes(|name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect::<Vec<_>>()
        };
        let lambda = attrs(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "apuntador"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        assert!(lambda.contains(&("cloud.platform".into(), "aws_lambda".into())));
        assert!(lambda.contains(&("faas.name".into(), "apuntador".into())));
        assert!(lambda.contains(&("cloud.region".into(), "eu-west-1".into())));
        let ecs = attrs(&[(
            "ECS_CONTAINER_METADATA_URI_V4",
            "http://169.254.170.2/v4/abc",
        )]);
        assert_eq!(ecs, vec![("cloud.platform".into(), "aws_ecs".into())]);
        assert!(attrs(&[]).is_empty());
    }

    #[test]
    fn generated_trace_ids_are_xray_ids_starting_with_the_epoch_seconds() {
        let id = new_trace_id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        let seconds = u64::from_str_radix(&id[..8], 16).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(seconds) <= 2, "{id}");
    }

    #[test]
    fn extraction_prefers_a_valid_xray_parent_and_falls_back_to_traceparent() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                .parse()
                .unwrap(),
        );
        headers.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        let cx = Propagator.extract(&HeaderExtractor(&headers));
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
        assert!(sc.is_sampled() && sc.is_remote());

        // A root without a parent is no usable parent: traceparent is used instead.
        headers.insert(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap(),
        );
        let cx = Propagator.extract(&HeaderExtractor(&headers));
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }

    #[test]
    fn failures_are_reported_once_per_quiet_period_and_cleared_by_a_success() {
        let health = Health::new();
        assert!(!health.failing());
        health.record_failure("connection refused");
        health.record_failure("connection refused");
        assert!(health.failing());
        assert_eq!(health.failures.load(Ordering::Relaxed), 2);
        // The second failure did not move the WARN clock.
        assert_ne!(health.last_warn_ms.load(Ordering::Relaxed), u64::MAX);
        assert_eq!(health.failures_at_last_warn.load(Ordering::Relaxed), 1);
        health.record_success();
        assert!(!health.failing());
    }
}
