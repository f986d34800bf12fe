//! The start-up sequence shared by both binaries: validate the configuration, resolve
//! secret references, initialise logging, build the state. Each failure knows its exit code:
//! 2 for configuration problems, 1 for runtime failures.

use std::time::Instant;

use crate::config::{Config, ConfigError, ConfigProblem, LogFormat};
use crate::state::{AppState, BuildError};
use crate::store::StoreError;
use crate::store::aws;
use crate::telemetry;
pub use crate::telemetry::otel::Target;

/// Why start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid (every problem listed); exit code 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Logging or OpenTelemetry could not be initialised; exit code 1.
    #[error("could not initialise logging: {0}")]
    Telemetry(String),
    /// A store or client could not be built; exit code 1.
    #[error(transparent)]
    State(#[from] BuildError),
}

impl StartupError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartupError::Config(_) => 2,
            StartupError::State(BuildError::CertificateAuthority(err)) => err.exit_code(),
            StartupError::Telemetry(_) | StartupError::State(_) => 1,
        }
    }
}

/// Resolves every secret reference of `config`, in both storage modes: all ARNs are read
/// together through Secrets Manager (at most 20 per call) and applied with
/// [`Config::apply_resolved_secrets`]. A reference that cannot be resolved is a configuration problem
/// naming the variable and the ARN (exit code 2). Values are never logged. Without references nothing is
/// built and nothing is sent.
pub async fn resolve_secret_references(config: &mut Config) -> Result<(), ConfigError> {
    let references = config.secret_references();
    if references.is_empty() {
        return Ok(());
    }
    let arns: Vec<String> = references.iter().map(|(_, arn)| arn.clone()).collect();
    let results = aws::resolve_secret_references(&config.storage.aws, &arns).await;
    let mut resolved = Vec::new();
    let mut problems = Vec::new();
    for ((variable, arn), result) in references.into_iter().zip(results) {
        match result {
            Ok(value) => resolved.push((variable, value)),
            Err(error) => problems.push(ConfigProblem {
                variable: variable.to_owned(),
                message: format!(
                    "secret reference {arn} cannot be resolved: {}",
                    reason(&error)
                ),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError(problems));
    }
    config.apply_resolved_secrets(resolved)
}

/// Why a secret could not be read, without the store error's prefix.
fn reason(error: &StoreError) -> &str {
    match error {
        StoreError::Conflict(reason)
        | StoreError::Unavailable(reason)
        | StoreError::Busy(reason)
        | StoreError::Internal(reason) => reason,
    }
}

/// Reports a configuration error on stderr, and as one ERROR log line (never a secret value).
pub fn report_config_error(err: &ConfigError) {
    eprintln!("{err}");
    if let Ok(subscriber) = telemetry::subscriber("error", LogFormat::Json, std::io::stdout) {
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(problems = err.0.len(), "{err}");
        });
    }
}

/// Runs the shared start-up sequence on an already parsed configuration, for the binary `target`
/// (which decides how OpenTelemetry exports).
///
/// With `LOG_LEVEL=debug` it logs how long each step took (`start.*_ms`), once the state is built.
pub async fn start(mut config: Config, target: Target) -> Result<AppState, StartupError> {
    let started = Instant::now();
    resolve_secret_references(&mut config).await?;
    let resolved = Instant::now();
    telemetry::init_with_otel(&config, target).map_err(StartupError::Telemetry)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let logging = Instant::now();
    let state = AppState::build(config).await?;
    let built = Instant::now();
    tracing::debug!(
        start.secret_references_ms = telemetry::ms(resolved - started),
        start.telemetry_ms = telemetry::ms(logging - resolved),
        start.state_ms = telemetry::ms(built - logging),
        "start-up steps done"
    );
    Ok(state)
}
