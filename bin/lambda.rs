//! `apuntador-lambda`: the apuntador router on AWS Lambda through `lambda_http`.
//!
//! Everything is built once, before the runtime loop (Lambda INIT): configuration, stores, router.
//! API Gateway REST (1.0), HTTP API (2.0), ALB and Function URL events all arrive as the same
//! `http::Request` ([`adapter::events`] keeps the repeated headers of REST events);
//! [`adapter::handler`] routes on the event's raw path without the API Gateway stage, tags the logs of
//! each invocation with its `aws_request_id` and, with OpenTelemetry enabled, flushes the invocation's
//! spans before its response goes back to the runtime.
//!
//! The runtime is tokio's current-thread flavour: an execution environment serves one invocation at a
//! time, so worker threads would only add their stacks and allocator arenas to the memory the function
//! is billed for. CPU-heavy work still leaves the async thread through the blocking pool (`src/cpu.rs`).
//! With `LOG_LEVEL=debug` the end of INIT is logged with the time each step took (`init.*_ms`).

#[path = "lambda/adapter.rs"]
mod adapter;

use std::process::ExitCode;
use std::time::Instant;

use apuntador::config::Config;
use apuntador::startup;
use apuntador::telemetry::ms;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let started = Instant::now();
    let config = match Config::from_env_for_lambda() {
        Ok(config) => config,
        Err(err) => {
            startup::report_config_error(&err);
            return ExitCode::from(2);
        }
    };
    let configured = Instant::now();
    let state = match startup::start(config, startup::Target::Lambda).await {
        Ok(state) => state,
        Err(startup::StartupError::Config(err)) => {
            startup::report_config_error(&err);
            return ExitCode::from(2);
        }
        Err(err) => {
            eprintln!("start-up failed: {err}");
            tracing::error!(error = %err, "start-up failed");
            return ExitCode::from(err.exit_code());
        }
    };
    let built = Instant::now();
    let app = apuntador::router(state);
    let routed = Instant::now();
    tracing::debug!(
        init.config_ms = ms(configured - started),
        init.start_ms = ms(built - configured),
        init.router_ms = ms(routed - built),
        init.total_ms = ms(routed - started),
        "Lambda INIT done"
    );
    match lambda_http::lambda_runtime::run(adapter::events(app)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the Lambda runtime loop failed");
            ExitCode::FAILURE
        }
    }
}
