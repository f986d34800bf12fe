//! Logs and OpenTelemetry: the log filter and format, and the OTLP exporter (endpoint, protocol, sampling,
//! resource attributes). `LOG_LEVEL` is checked here so that a typo cannot silence every log.

use super::Reader;
use super::values::check_url;

/// Logs and OpenTelemetry.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `LOG_LEVEL`, default `info`: a level or an `EnvFilter` directive (validated).
    pub log_level: String,
    /// `LOG_FORMAT`, default `auto`: human lines on a terminal in development, JSON otherwise.
    pub log_format: LogFormat,
    /// `OTEL_ENABLED`, default false.
    pub otel_enabled: bool,
    /// `OTEL_SERVICE_NAME`, default `apuntador`.
    pub otel_service_name: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, default `http://localhost:4317`.
    pub otel_endpoint: String,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, default grpc.
    pub otel_protocol: OtlpProtocol,
    /// `OTEL_TRACES_SAMPLER_ARG`, default 1.0, 0.0-1.0.
    pub otel_sampler_ratio: f64,
    /// `OTEL_RESOURCE_ATTRIBUTES`: `k=v` pairs.
    pub otel_resource_attributes: Vec<(String, String)>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// One readable line per event.
    Human,
    /// `auto` (the default): [`LogFormat::Human`] when stdout is a terminal in development,
    /// [`LogFormat::Json`] otherwise; see [`LogFormat::resolve`].
    Auto,
}

impl LogFormat {
    /// The concrete format: `Auto` becomes human lines only when `stdout_is_terminal` outside
    /// production, so containers, Lambda and log files always get JSON.
    pub fn resolve(self, production: bool, stdout_is_terminal: bool) -> LogFormat {
        match self {
            LogFormat::Auto if stdout_is_terminal && !production => LogFormat::Human,
            LogFormat::Auto => LogFormat::Json,
            concrete => concrete,
        }
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `grpc`
    Grpc,
    /// `http/protobuf`
    HttpProtobuf,
}

impl Reader<'_> {
    /// The log and OpenTelemetry settings.
    pub(super) fn telemetry(&mut self) -> TelemetryConfig {
        TelemetryConfig {
            log_level: self.value("LOG_LEVEL", "info".to_owned(), check_log_level),
            log_format: self.choice(
                "LOG_FORMAT",
                LogFormat::Auto,
                &[
                    ("json", LogFormat::Json),
                    ("human", LogFormat::Human),
                    ("auto", LogFormat::Auto),
                ],
            ),
            otel_enabled: self.boolean("OTEL_ENABLED", false),
            otel_service_name: self.string("OTEL_SERVICE_NAME", "apuntador"),
            otel_endpoint: self.value(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://localhost:4317".to_owned(),
                |raw| check_url(raw).map(|()| raw.to_owned()),
            ),
            otel_protocol: self.choice(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                OtlpProtocol::Grpc,
                &[
                    ("grpc", OtlpProtocol::Grpc),
                    ("http/protobuf", OtlpProtocol::HttpProtobuf),
                ],
            ),
            otel_sampler_ratio: self.value("OTEL_TRACES_SAMPLER_ARG", 1.0, |raw| {
                match raw.trim().parse::<f64>() {
                    Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
                    _ => Err(format!("{raw:?} is not a ratio (0.0-1.0)")),
                }
            }),
            otel_resource_attributes: self.resource_attributes(),
        }
    }

    /// `OTEL_RESOURCE_ATTRIBUTES`: `k=v` pairs; values are percent-decoded as the OpenTelemetry spec says.
    fn resource_attributes(&mut self) -> Vec<(String, String)> {
        let mut attributes = Vec::new();
        for item in self.list("OTEL_RESOURCE_ATTRIBUTES", "") {
            let Some((key, value)) = item
                .split_once('=')
                .filter(|(key, _)| !key.trim().is_empty())
            else {
                self.problem(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    format!("{item:?} is not a key=value pair"),
                );
                continue;
            };
            match percent_encoding::percent_decode_str(value.trim()).decode_utf8() {
                Ok(value) => attributes.push((key.trim().to_owned(), value.into_owned())),
                Err(_) => self.problem(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    format!("{item:?}: the value is not percent-encoded UTF-8"),
                ),
            }
        }
        attributes
    }
}

/// `LOG_LEVEL`: an `EnvFilter` directive; a lone word must be a level (a typo such as `warning` would
/// otherwise parse as a target name and silence every log).
fn check_log_level(raw: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let value = raw.trim();
    if value.chars().all(|c| c.is_ascii_alphabetic())
        && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(value))
    {
        return Err(format!(
            "{raw:?} is not a log level (trace, debug, info, warn, error, off) or a filter directive"
        ));
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| format!("{raw:?} is not a log filter directive: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_telemetry_default() {
        let c = ok(&[]);
        assert_eq!(c.telemetry.log_level, "info");
        assert_eq!(c.telemetry.log_format, LogFormat::Auto);
        assert!(!c.telemetry.otel_enabled);
        assert_eq!(c.telemetry.otel_service_name, "apuntador");
        assert_eq!(c.telemetry.otel_endpoint, "http://localhost:4317");
        assert_eq!(c.telemetry.otel_protocol, OtlpProtocol::Grpc);
        assert_eq!(c.telemetry.otel_sampler_ratio, 1.0);
        assert!(c.telemetry.otel_resource_attributes.is_empty());
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_telemetry_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            ("LOG_LEVEL", "verbose", "\"verbose\" is not a log level"),
            ("LOG_LEVEL", "warning", "is not a log level"),
            (
                "LOG_LEVEL",
                "info,apuntador=loud",
                "is not a log filter directive",
            ),
            ("LOG_FORMAT", "text", "is not one of: json, human, auto"),
            ("OTEL_ENABLED", "enable", "is not a boolean"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "localhost:4317",
                "is not an absolute http/https URL",
            ),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "http/json",
                "is not one of: grpc, http/protobuf",
            ),
            (
                "OTEL_TRACES_SAMPLER_ARG",
                "1.5",
                "\"1.5\" is not a ratio (0.0-1.0)",
            ),
            ("OTEL_TRACES_SAMPLER_ARG", "-0.1", "is not a ratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "NaN", "is not a ratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "half", "is not a ratio"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "team=notes,region",
                "\"region\" is not a key=value pair",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "=value",
                "is not a key=value pair",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "k=%FF",
                "is not percent-encoded UTF-8",
            ),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_telemetry_value_is_accepted() {
        assert_each_accepted(&[
            ("LOG_LEVEL", "debug"),
            ("LOG_LEVEL", "WARN"),
            ("LOG_LEVEL", "info,apuntador=debug,tower_http=warn"),
            ("LOG_FORMAT", "Human"),
            ("OTEL_ENABLED", "true"),
            ("OTEL_SERVICE_NAME", "apuntador-staging"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://otel.example.com:4318/v1",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_TRACES_SAMPLER_ARG", "0"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=notes,owner=a%20b"),
        ]);
    }

    #[test]
    fn resource_attributes_are_split_and_percent_decoded() {
        let c = ok(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=notes, owner = a%20b ,empty=",
        )]);
        assert_eq!(
            c.telemetry.otel_resource_attributes,
            [
                ("team".to_owned(), "notes".to_owned()),
                ("owner".to_owned(), "a b".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn log_format_auto_is_human_only_on_a_terminal_outside_production() {
        assert_eq!(LogFormat::Auto.resolve(false, true), LogFormat::Human);
        assert_eq!(LogFormat::Auto.resolve(false, false), LogFormat::Json);
        assert_eq!(LogFormat::Auto.resolve(true, true), LogFormat::Json);
        assert_eq!(LogFormat::Json.resolve(false, true), LogFormat::Json);
        assert_eq!(LogFormat::Human.resolve(true, false), LogFormat::Human);
    }
}
