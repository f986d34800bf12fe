//! An in-process app with OpenTelemetry enabled: the router on in-memory stores, its own pipeline and
//! a dispatcher (installed for the current thread only) that writes log lines to a buffer.

use std::collections::HashMap;
use std::time::Duration;

use apuntador::AppState;
use apuntador::config::{Config, LogFormat};
use apuntador::telemetry::otel::{Pipeline, Target};
use axum::Router;
use tracing::dispatcher::DefaultGuard;

use crate::receiver::Receiver;

/// A valid configuration key.
pub const CONFIG_KEY: &str = "test-config-key-0123456789abcdef0123456789";

pub use crate::log_capture::Capture;

/// The configuration of an OpenTelemetry-enabled app exporting to `endpoint` over `protocol`.
pub fn config(endpoint: &str, protocol: &str, extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::from([
        ("CONFIG_API_KEY".to_owned(), CONFIG_KEY.to_owned()),
        ("LOG_LEVEL".to_owned(), "info".to_owned()),
        ("OTEL_ENABLED".to_owned(), "true".to_owned()),
        ("OTEL_SERVICE_NAME".to_owned(), "apuntador-test".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            endpoint.to_owned(),
        ),
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
            protocol.to_owned(),
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES".to_owned(),
            "team=notes,service.name=ignored".to_owned(),
        ),
    ]);
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|name| env.get(name).cloned()).expect("test configuration is valid")
}

/// The app, its pipeline and its log capture; the dispatcher is the current thread's default while
/// this lives.
pub struct App {
    /// The router.
    pub app: Router,
    /// The pipeline the app exports through.
    pub pipeline: Pipeline,
    /// Log lines.
    pub logs: Capture,
    _guard: DefaultGuard,
}

impl App {
    /// Builds the app for `config` (a tokio runtime must be running).
    pub fn start(config: Config, target: Target) -> App {
        let pipeline = Pipeline::new(&config, target).expect("pipeline");
        let logs = Capture::default();
        let dispatch = apuntador::telemetry::otel_dispatch(
            &config.telemetry.log_level,
            LogFormat::Json,
            logs.clone(),
            &pipeline,
        )
        .expect("dispatcher");
        let guard = tracing::dispatcher::set_default(&dispatch);
        let app = apuntador::router(AppState::in_memory(config));
        App {
            app,
            pipeline,
            logs,
            _guard: guard,
        }
    }

    /// Exports every finished span (and fails the test if that takes longer than 10 s).
    pub async fn flush(&self) {
        assert!(
            self.pipeline.flush(Duration::from_secs(10)).await,
            "the flush to a live receiver succeeds"
        );
    }
}

/// Starts an HTTP/protobuf receiver and an app exporting to it.
pub async fn with_http_receiver(extra: &[(&str, &str)]) -> (Receiver, App) {
    let receiver = Receiver::http().await;
    let app = App::start(
        config(&receiver.endpoint(), "http/protobuf", extra),
        Target::Server,
    );
    (receiver, app)
}

/// Starts a gRPC receiver and an app exporting to it.
pub async fn with_grpc_receiver(extra: &[(&str, &str)]) -> (Receiver, App) {
    let receiver = Receiver::grpc().await;
    let app = App::start(config(&receiver.endpoint(), "grpc", extra), Target::Server);
    (receiver, app)
}

/// An EC P-256 CSR made with the `openssl` CLI.
pub use crate::openssl_csr::p256_csr as csr;
