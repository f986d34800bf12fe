//! Logging (SPEC §10.1-10.3): one line per event on stdout, JSON or human-readable.
//!
//! Every line carries `timestamp` (RFC 3339 UTC, milliseconds), `level`, `target`, `message`, the fields
//! of every enclosing span (so `trace_id`, `method` and `route` of the request span appear on every line
//! logged while handling a request) and the event's own fields. Writes are synchronous: nothing is lost
//! when a Lambda environment freezes. What must never be logged (SPEC §10.2) is kept out at the source:
//! no handler or middleware records headers, bodies or query strings.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// Installs the global subscriber writing to stdout, and a panic hook that logs panics as ERROR events
/// without their payload (which could hold request data).
pub fn init(level: &str, format: LogFormat) -> Result<(), String> {
    let subscriber = subscriber(level, format, std::io::stdout)?;
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())?;
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic.location = %location, "a task panicked");
    }));
    Ok(())
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
        .event_format(LineFormat { format })
        .with_writer(writer);
    Ok(Registry::default()
        .with(filter)
        .with(SpanFieldsLayer)
        .with(fmt))
}

/// The recorded fields of one span, kept in its extensions.
#[derive(Default)]
struct SpanFields(Map<String, Value>);

/// Records span fields as JSON values so every event can repeat them.
struct SpanFieldsLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SpanFieldsLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        attrs.record(&mut JsonVisitor(&mut fields.0));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

/// The line format of SPEC §10.1.
struct LineFormat {
    format: LogFormat,
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
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &span_fields.0 {
                        fields.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::from(""));
        let timestamp = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        match self.format {
            LogFormat::Json => {
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
