//! Logging: one line per event on stdout, JSON or human-readable.
//!
//! Every line carries `timestamp` (RFC 3339 UTC, milliseconds), `level`, `target`, `message`, the fields
//! of every enclosing span, the request's `trace_id`, `method` and `route` on every line logged while a
//! request is handled ([`RequestFields`]), and the event's own fields. The per-request completion event has a
//! purpose-built JSON writer ([`completion`]). On Lambda writes are synchronous: nothing is lost when an
//! environment freezes. The server queues completion events for a background writer thread and writes
//! every other line at once ([`writer`]). What must never be logged is kept out at the
//! source: no handler or middleware records headers, bodies or query strings.
//!
//! With `OTEL_ENABLED=true`, [`init_with_otel`] adds the OpenTelemetry layer of [`otel`] and every line
//! inside an exported span also carries that span's `span_id`. Span fields named `otel.*` steer the
//! OpenTelemetry span (name, kind, status) and are never written to log lines.

pub mod completion;
pub mod otel;
pub mod writer;

use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt as _;

use serde_json::{Map, Value};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Dispatch, Event, Id, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber writing to stdout, and a panic hook that logs panics as ERROR events
/// without their payload (which could hold request data).
pub fn init(level: &str, format: LogFormat) -> Result<(), String> {
    let subscriber = subscriber(level, format, std::io::stdout)?;
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())?;
    install_panic_hook();
    Ok(())
}

/// Logging as [`init`], plus OpenTelemetry export when `OTEL_ENABLED=true`: builds the
/// pipeline, adds its layer to the global subscriber and makes it the process-wide pipeline that
/// [`otel::flush`] and [`otel::shutdown`] act on. Must run inside a tokio runtime when enabled. With
/// OpenTelemetry disabled this is exactly [`init`]: no exporter, no thread, no layer.
///
/// The server (`target` [`otel::Target::Server`]) writes through [`writer::LogWriter::buffered`]; Lambda
/// writes every line at once.
pub fn init_with_otel(config: &Config, target: otel::Target) -> Result<(), String> {
    let telemetry = &config.telemetry;
    let format = telemetry.log_format.resolve(
        config.is_production(),
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
    );
    let log_writer = match target {
        otel::Target::Server => writer::LogWriter::buffered(),
        otel::Target::Lambda => writer::LogWriter::Stdout,
    };
    if !telemetry.otel_enabled {
        let subscriber = subscriber(&telemetry.log_level, format, log_writer)?;
        tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())?;
        install_panic_hook();
        return Ok(());
    }
    let pipeline = otel::Pipeline::new(config, target)?;
    let dispatch = otel_dispatch(&telemetry.log_level, format, log_writer, &pipeline)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|e| e.to_string())?;
    install_panic_hook();
    otel::install_global(pipeline);
    Ok(())
}

/// A dispatcher with the project's line format over any writer plus the OpenTelemetry layer of
/// `pipeline` (tests install it with `tracing::dispatcher::set_default`).
///
/// `LOG_LEVEL` filters the log lines only; which spans are exported is decided by the pipeline's layer.
pub fn otel_dispatch<W>(
    level: &str,
    format: LogFormat,
    writer: W,
    pipeline: &otel::Pipeline,
) -> Result<Dispatch, String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .parse(level)
        .map_err(|e| format!("LOG_LEVEL: {e}"))?;
    let own_dispatch = Arc::new(OnceLock::new());
    let fmt = tracing_subscriber::fmt::layer()
        .fmt_fields(NoFieldText)
        .event_format(LineFormat {
            format,
            otel: Some(own_dispatch.clone()),
        })
        .with_writer(writer);
    let subscriber = Registry::default()
        .with(pipeline.layer())
        .with(SpanFieldsLayer.and_then(fmt).with_filter(filter));
    let dispatch = Dispatch::new(subscriber);
    let _ = own_dispatch.set(dispatch.downgrade());
    Ok(dispatch)
}

/// A duration in milliseconds, to the microsecond: the unit of every `*_ms` field the service logs
/// (request latency, start-up and Lambda INIT step timings).
pub fn ms(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The request a line is logged for: its `trace_id`, `method` and `route`, which every line logged
/// while the request is handled repeats.
///
/// They travel with the request's task ([`RequestFields::scope`]) rather than as the fields of a
/// `tracing` span: creating, entering, leaving and closing a span with three recorded fields cost
/// more than anything else the logging of a request did. With OpenTelemetry the request has its
/// exported span anyway, and that span carries these fields instead (the HTTP layer then sets none).
#[derive(Debug)]
pub struct RequestFields {
    trace_id: String,
    method: http::Method,
    route: Box<str>,
    /// The span that was current when the request began (on Lambda the invocation span). The request's
    /// fields come after its fields and before those of spans opened while the request is handled, the
    /// place a request span's fields would have.
    parent: Option<Id>,
}

tokio::task_local! {
    static REQUEST: RequestFields;
}

impl RequestFields {
    /// The fields of a request, placed after the fields of the span that is current now.
    pub fn new(trace_id: &str, method: &http::Method, route: &str) -> RequestFields {
        let parent =
            tracing::dispatcher::get_default(|dispatch| dispatch.current_span().id().cloned());
        RequestFields {
            trace_id: trace_id.to_owned(),
            method: method.clone(),
            route: route.into(),
            parent,
        }
    }

    /// Runs `work` with these fields on every line it logs (lines logged by other tasks or threads,
    /// such as the store's writer thread, do not carry them).
    ///
    /// The task-local future itself, not an `async fn` awaiting it: that would hold `work` twice (its
    /// argument and the future it awaits), and every request's future is moved into a box.
    pub fn scope<F: Future>(self, work: F) -> impl Future<Output = F::Output> {
        REQUEST.scope(self, work)
    }

    /// The fields as `(name, value)` pairs, in the order they are written.
    fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            ("trace_id", self.trace_id.as_str()),
            ("method", self.method.as_str()),
            ("route", &self.route),
        ]
    }
}

/// Calls `f` with the fields of the request being handled on this task, if any.
fn with_request<R>(mut f: impl FnMut(Option<&RequestFields>) -> R) -> R {
    REQUEST
        .try_with(|request| f(Some(request)))
        .unwrap_or_else(|_| f(None))
}

/// A field value of a line, as the span and request fields hold it.
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    /// A value recorded on a span.
    Json(&'a Value),
    /// A text value of the request ([`RequestFields`]).
    Text(&'a str),
}

impl FieldValue<'_> {
    fn to_value(self) -> Value {
        match self {
            FieldValue::Json(value) => value.clone(),
            FieldValue::Text(text) => Value::from(text),
        }
    }
}

/// Logs panics as ERROR events without their payload (which could hold request data).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic.location = %location, "a task panicked");
    }));
}

/// A subscriber with the project's line format over any writer (tests capture logs with it).
pub fn subscriber<W>(
    level: &str,
    format: LogFormat,
    writer: W,
) -> Result<impl Subscriber + Send + Sync, String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .parse(level)
        .map_err(|e| format!("LOG_LEVEL: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer()
        .fmt_fields(NoFieldText)
        .event_format(LineFormat { format, otel: None })
        .with_writer(writer);
    Ok(Registry::default()
        .with(filter)
        .with(SpanFieldsLayer)
        .with(fmt))
}

/// The recorded fields of one span, kept in its extensions: names as `tracing` gives them (static, so
/// no key is allocated per span), values as JSON, in recording order.
#[derive(Default)]
struct SpanFields(Vec<(&'static str, Value)>);

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, Value::from(format!("{value:?}")));
    }
}

impl SpanFields {
    fn set(&mut self, field: &Field, value: Value) {
        // `otel.name`, `otel.kind`, `otel.status_code` are instructions to the OpenTelemetry layer.
        let name = field.name();
        if name.starts_with("otel.") {
            return;
        }
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = value,
            None => self.0.push((name, value)),
        }
    }
}

/// Records span fields as JSON values so every event can repeat them.
struct SpanFieldsLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SpanFieldsLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields(Vec::with_capacity(attrs.fields().len()));
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(fields);
        }
    }
}

/// The fmt layer's field formatter: writes nothing. The fmt layer would otherwise format every span's
/// fields into a text copy when the span is created (one allocation and a `Debug` pass per field),
/// which [`LineFormat`] never reads: it takes the fields from [`SpanFields`].
struct NoFieldText;

impl<'w> FormatFields<'w> for NoFieldText {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        _writer: Writer<'w>,
        _fields: R,
    ) -> std::fmt::Result {
        Ok(())
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        // `otel.name`, `otel.kind`, `otel.status_code` are instructions to the OpenTelemetry layer.
        if !field.name().starts_with("otel.") {
            self.0.insert(field.name().into(), value);
        }
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, Value::from(format!("{value:?}")));
    }
}

/// The line format: one JSON object per line (`timestamp`, `level`, `target`, `message`,
/// `trace_id`, then event and span fields), or the same fields as one readable `key=value` line.
struct LineFormat {
    format: LogFormat,
    /// With OpenTelemetry: the dispatcher this format is part of, to read span ids from.
    otel: Option<Arc<OnceLock<WeakDispatch>>>,
}

impl LineFormat {
    /// The OpenTelemetry span id of the innermost exported span around the event.
    fn span_id<S, N>(&self, ctx: &FmtContext<'_, S, N>) -> Option<String>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let dispatch = self.otel.as_ref()?.get()?.upgrade()?;
        // Collect the ids first: reading the OpenTelemetry context locks each span's extensions.
        let ids: Vec<Id> = ctx.event_scope()?.map(|span| span.id()).collect();
        ids.iter().find_map(|id| {
            let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
            let span = cx.span();
            let sc = span.span_context();
            sc.is_valid().then(|| sc.span_id().to_string())
        })
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let span_id = self.span_id(ctx);
        with_request(|request| {
            let spans: Vec<_> = ctx
                .event_scope()
                .into_iter()
                .flat_map(|s| s.from_root())
                .collect();
            let extensions: Vec<_> = spans.iter().map(|span| span.extensions()).collect();
            // The request's fields follow the span the request began in, or come first.
            let at = request
                .and_then(|r| r.parent.as_ref())
                .and_then(|parent| spans.iter().position(|span| span.id() == *parent))
                .map_or(0, |index| index + 1);
            let span_fields = |range: std::ops::Range<usize>| {
                extensions[range]
                    .iter()
                    .filter_map(|ext| ext.get::<SpanFields>())
                    .flat_map(|fields| fields.0.iter().map(|(k, v)| (*k, FieldValue::Json(v))))
            };
            let request_fields = request.map(RequestFields::pairs);
            let fields = span_fields(0..at)
                .chain(
                    request_fields
                        .iter()
                        .flatten()
                        .map(|(k, v)| (*k, FieldValue::Text(v))),
                )
                .chain(span_fields(at..extensions.len()));
            if self.format == LogFormat::Json && completion::is_completion(meta) {
                return completion::write_json(&mut writer, event, fields, span_id.as_deref());
            }
            let mut map = Map::new();
            for (k, v) in fields {
                map.insert(k.to_owned(), v.to_value());
            }
            self.write_general(&mut writer, event, map, span_id.as_deref())
        })
    }
}

impl LineFormat {
    /// Writes any event but the JSON completion event: `fields` holds the span and request fields.
    fn write_general(
        &self,
        writer: &mut Writer<'_>,
        event: &Event<'_>,
        mut fields: Map<String, Value>,
        span_id: Option<&str>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::from(""));
        if let Some(span_id) = span_id {
            fields.insert("span_id".into(), Value::from(span_id));
        }
        let timestamp = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        match self.format {
            // `Auto` is resolved before logging starts; unresolved, it means JSON.
            LogFormat::Json | LogFormat::Auto => {
                let mut line = Map::with_capacity(fields.len() + 4);
                line.insert("timestamp".into(), Value::from(timestamp));
                line.insert("level".into(), Value::from(meta.level().as_str()));
                line.insert("target".into(), Value::from(meta.target()));
                line.insert("message".into(), message);
                line.extend(fields);
                writeln!(writer, "{}", Value::Object(line))
            }
            LogFormat::Human => {
                let message = message
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| message.to_string());
                let mut line = format!(
                    "{timestamp} {:>5} {}: {message}",
                    meta.level().as_str(),
                    meta.target()
                );
                for (k, v) in fields {
                    match v {
                        Value::String(s) => write!(line, " {k}={s}")?,
                        other => write!(line, " {k}={other}")?,
                    }
                }
                writeln!(writer, "{line}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tracing::Instrument as _;

    use super::*;

    /// A line sink the test reads back.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lines").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        /// Each line's keys after `message`, in the order written.
        fn keys(&self) -> Vec<Vec<String>> {
            let text = String::from_utf8(self.0.lock().expect("lines").clone()).expect("UTF-8");
            text.lines()
                .map(|line| {
                    let value: Value = serde_json::from_str(line).expect("a JSON line");
                    let object = value.as_object().expect("an object");
                    object.keys().skip(4).cloned().collect()
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn request_fields_follow_the_span_the_request_began_in_and_precede_spans_opened_inside_it()
     {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = subscriber("info", LogFormat::Json, move || sink.clone()).expect("format");
        let _default = tracing::subscriber::set_default(subscriber);

        let invocation = tracing::info_span!("invocation", aws_request_id = "r-1");
        async {
            let fields =
                RequestFields::new("0af7651916cd43dd8448eb211c80319c", &http::Method::GET, "/x");
            fields
                .scope(async {
                    let inner = tracing::info_span!("attest.desktop", device_id = "d-1");
                    inner.in_scope(|| tracing::warn!(status = 401_u16, "request rejected"));
                    tracing::info!(name: completion::NAME, status = 200_u16, "request completed");
                })
                .await;
            tracing::info!("after the request");
        }
        .instrument(invocation)
        .await;

        let keys = lines.keys();
        assert_eq!(
            keys,
            [
                vec![
                    "aws_request_id",
                    "trace_id",
                    "method",
                    "route",
                    "device_id",
                    "status"
                ],
                vec!["aws_request_id", "trace_id", "method", "route", "status"],
                vec!["aws_request_id"],
            ]
        );
    }

    #[tokio::test]
    async fn request_fields_come_first_when_the_request_began_outside_any_span() {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = subscriber("info", LogFormat::Json, move || sink.clone()).expect("format");
        let _default = tracing::subscriber::set_default(subscriber);

        let fields = RequestFields::new(
            "0af7651916cd43dd8448eb211c80319c",
            &http::Method::POST,
            "/y",
        );
        fields
            .scope(async {
                let inner = tracing::info_span!("ca.sign", serial = "01");
                inner.in_scope(|| tracing::warn!("inside"));
                tracing::info!(name: completion::NAME, status = 201_u16, "request completed");
            })
            .await;

        assert_eq!(
            lines.keys(),
            [
                vec!["trace_id", "method", "route", "serial"],
                vec!["trace_id", "method", "route", "status"],
            ]
        );
    }
}
