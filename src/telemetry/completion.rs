//! The per-request completion event and its purpose-built JSON line.
//!
//! Every request logs one `request completed` event. It stays a `tracing` event — so `LOG_LEVEL`, the
//! human format and every subscriber (tests capture logs with one) see it like any other — but it is
//! emitted under the event name [`NAME`], and the JSON line format writes it with [`write_json`]
//! instead of the general path: no map of fields is built, nothing is cloned, the timestamp is formatted
//! by hand, and strings are escaped straight into the line buffer. The line is the one the general
//! path writes, key for key and in the same order: `timestamp`, `level`, `target`, `message`, the
//! fields of the enclosing spans from the outermost with the request's among them (on Lambda
//! `aws_request_id`, then the request's `trace_id`, `method`, `route`), the event's own fields, and
//! `span_id` with OpenTelemetry.
//!
//! [`NAME`] also lets the server's writer ([`super::writer`]) recognise the event and queue it instead
//! of writing it at once. Depends on `tracing` only; nothing here knows axum.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::Event;

use super::FieldValue;
use tracing::field::{Field, Visit};

/// The `tracing` event name of the completion event (its `message` is `request completed`).
pub const NAME: &str = "request.completed";

/// Whether `meta` is the completion event's.
pub fn is_completion(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_event() && meta.name() == NAME
}

/// At most this many event fields are expected (the completion event declares seven).
const MAX_FIELDS: usize = 12;

/// The event's fields rendered as JSON values, in a reused buffer: `(name, start, end)` of each.
struct EventFields {
    rendered: String,
    spans: [(&'static str, usize, usize); MAX_FIELDS],
    len: usize,
    message: Option<(usize, usize)>,
}

impl EventFields {
    fn push(&mut self, field: &Field, render: impl FnOnce(&mut String)) {
        let start = self.rendered.len();
        render(&mut self.rendered);
        let end = self.rendered.len();
        if field.name() == "message" {
            self.message = Some((start, end));
        } else if !field.name().starts_with("otel.") && self.len < MAX_FIELDS {
            self.spans[self.len] = (field.name(), start, end);
            self.len += 1;
        }
    }

    fn has(&self, name: &str) -> bool {
        self.spans[..self.len].iter().any(|(n, _, _)| *n == name)
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, |out| write_f64(out, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, |out| {
            let _ = write!(out, "{value}");
        });
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, |out| {
            let _ = write!(out, "{value}");
        });
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, |out| {
            out.push_str(if value { "true" } else { "false" })
        });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, |out| write_json_str(out, value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, |out| {
            // Render first, then escape: `Debug` output (a `Display` of `%method`) may need escaping.
            let mut text = String::new();
            let _ = write!(text, "{value:?}");
            write_json_str(out, &text);
        });
    }
}

/// Writes the JSON line of a completion `event` (with its trailing newline) into `out`.
///
/// `span_fields` yields the enclosing spans' recorded fields from the outermost, with the request's
/// fields among them; a name the event also
/// carries is written once, with the event's value, at the position of its first appearance, as the
/// general path's ordered map does. `span_id` is the OpenTelemetry span id, when there is one.
pub fn write_json<'a>(
    out: &mut dyn fmt::Write,
    event: &Event<'_>,
    span_fields: impl Iterator<Item = (&'a str, FieldValue<'a>)>,
    span_id: Option<&str>,
) -> fmt::Result {
    let meta = event.metadata();
    let mut fields = EventFields {
        rendered: String::with_capacity(160),
        spans: [("", 0, 0); MAX_FIELDS],
        len: 0,
        message: None,
    };
    event.record(&mut fields);

    let mut line = String::with_capacity(384);
    line.push_str("{\"timestamp\":\"");
    write_timestamp(&mut line, SystemTime::now());
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push_str("\",\"target\":");
    write_json_str(&mut line, meta.target());
    line.push_str(",\"message\":");
    match fields.message {
        Some((start, end)) => line.push_str(&fields.rendered[start..end]),
        None => line.push_str("\"\""),
    }
    // Span fields first (outermost span first); a field repeated by an inner span or by the event
    // keeps its first position and takes the innermost value.
    let mut written: [&str; MAX_FIELDS * 2] = [""; MAX_FIELDS * 2];
    let mut count = 0;
    let span_fields: Vec<(&str, FieldValue<'_>)> = span_fields.collect();
    for (index, (name, value)) in span_fields.iter().enumerate() {
        if written[..count].contains(name) {
            continue;
        }
        line.push_str(",\"");
        line.push_str(name);
        line.push_str("\":");
        if let Some((_, start, end)) = fields.spans[..fields.len].iter().find(|f| f.0 == *name) {
            line.push_str(&fields.rendered[*start..*end]);
        } else {
            let latest = span_fields[index..]
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map_or(*value, |(_, v)| *v);
            write_value(&mut line, latest);
        }
        if count < written.len() {
            written[count] = name;
            count += 1;
        }
    }
    for (name, start, end) in &fields.spans[..fields.len] {
        if written[..count].contains(name) {
            continue;
        }
        line.push_str(",\"");
        line.push_str(name);
        line.push_str("\":");
        line.push_str(&fields.rendered[*start..*end]);
    }
    if let Some(span_id) = span_id
        && !fields.has("span_id")
    {
        line.push_str(",\"span_id\":");
        write_json_str(&mut line, span_id);
    }
    line.push_str("}\n");
    out.write_str(&line)
}

/// A span or request field's JSON value (strings escaped, numbers and booleans as they are).
fn write_value(out: &mut String, value: FieldValue<'_>) {
    let value = match value {
        FieldValue::Text(text) => return write_json_str(out, text),
        FieldValue::Json(value) => value,
    };
    match value {
        Value::String(s) => write_json_str(out, s),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// `value` as a JSON number, or `null` when it is not finite (JSON has no NaN or infinity).
fn write_f64(out: &mut String, value: f64) {
    match serde_json::Number::from_f64(value) {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped (RFC 8259 section 7).
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut clean_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[clean_from..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        clean_from = i + 1;
    }
    out.push_str(&s[clean_from..]);
    out.push('"');
}

/// `at` as RFC 3339 UTC with milliseconds (`2026-12-04T06:37:46.123Z`), the format of every log line.
pub fn write_timestamp(out: &mut String, at: SystemTime) {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_match_chrono_to_the_millisecond() {
        for secs in [
            0u64,
            951_782_400,   // 2000-02-29
            1_795_848_000, // 2026-11-28
            4_107_542_399, // 2100-02-28T23:59:59
            4_102_444_800, // 2100-01-01
            253_402_300_799,
        ] {
            let at = UNIX_EPOCH + Duration::from_millis(secs * 1000 + 987);
            let mut ours = String::new();
            write_timestamp(&mut ours, at);
            let theirs = chrono::DateTime::<chrono::Utc>::from(at)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "plain",
            "quote \" and backslash \\",
            "new\nline\ttab\rcr",
            "\u{1}\u{1f} control",
            "ünïcödé ✓",
            "",
        ] {
            let mut ours = String::new();
            write_json_str(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).unwrap());
        }
    }
}
