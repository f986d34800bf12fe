//! `apuntador-server`: the apuntador router on a TCP listener (ECS Fargate containers, local runs).
//!
//! A dispatcher: [`cli`] defines the command line (clap), [`ca`] the CA commands, [`checks`] the
//! health probe and `config check`; serving is `run` below over `apuntador::server`.

#[path = "server/ca.rs"]
mod ca;
#[path = "server/checks.rs"]
mod checks;
#[path = "server/cli.rs"]
mod cli;

use std::path::Path;
use std::process::ExitCode;

use apuntador::config::Config;
use apuntador::{server, startup};
use clap::Parser as _;
use tokio::net::TcpListener;

use crate::cli::{CaCommand, Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    // Usage errors exit 2, --help and --version exit 0 (clap's own codes).
    match Cli::parse().command() {
        Command::Serve => run(),
        Command::Healthcheck => checks::healthcheck(),
        Command::Config(ConfigCommand::Check) => checks::config_check(),
        Command::Ca(CaCommand::Init(init)) => ca::init(&init.into_args()),
        Command::Ca(CaCommand::Rotate(new)) => {
            ca::init(&new.into_args(apuntador::authority::ExistingCa::Rotate))
        }
        Command::Ca(CaCommand::Show(backend)) => ca::show(backend.chosen()),
    }
}

/// How often, in polls, each async worker takes its next task from the runtime's shared queue rather
/// than its own: every other poll. Tasks woken from outside the runtime land in the shared queue,
/// above all the requests whose write the store's writer thread has just committed. Under overload
/// hundreds of ready connections stand in each worker's own queue, and with tokio's self-tuned
/// default (about 200 µs of polling, 2 to 127 polls) a committed write waited 6.4–7.1 ms (median) at
/// 500 connections before its request ran again; every other poll, 0.8–1.5 ms (docs/performance.md,
/// "Answering committed writes sooner").
const SHARED_QUEUE_INTERVAL: u32 = 2;

fn run() -> ExitCode {
    let config = match Config::from_env_with_dotenv(Path::new(".env")) {
        Ok(config) => config,
        Err(err) => {
            startup::report_config_error(&err);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(SHARED_QUEUE_INTERVAL)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = (config.server.host, config.server.port);
        let grace = config.server.shutdown_grace;
        let delay = config.server.shutdown_delay;
        let state = match startup::start(config, startup::Target::Server).await {
            Ok(state) => state.with_load_shedding(),
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
        // The TLS door (TLS_CERT_FILE/TLS_KEY_FILE), if configured: files and device CA read now.
        let tls = match server::tls::door(&state).await {
            Ok(tls) => tls,
            Err(err) => {
                eprintln!("start-up failed: {err}");
                tracing::error!(error = %err, "start-up failed");
                return ExitCode::from(err.exit_code());
            }
        };
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(error = %err, address = %format!("{}:{}", addr.0, addr.1), "could not bind");
                eprintln!("could not bind {}:{}: {err}", addr.0, addr.1);
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let url = listening_url(&listener, tls.is_some());
        tracing::info!(
            address = %local,
            url = %url,
            version = env!("CARGO_PKG_VERSION"),
            environment = if state.config.is_production() { "production" } else { "development" },
            storage = match state.config.storage.provider {
                apuntador::config::StorageProvider::Local => "local",
                apuntador::config::StorageProvider::Aws => "aws",
            },
            "apuntador-server listening on {url}"
        );
        if state.config.http.enable_docs {
            tracing::info!("API documentation at {url}docs");
        }
        let lifecycle = state.lifecycle.clone();
        let app = apuntador::router(state);
        let shutdown = server::delay_after(server::shutdown_signal(), lifecycle.clone(), delay);
        server::serve_door(listener, app, lifecycle, shutdown, grace, tls).await;
        // Telemetry is flushed only once the in-flight requests are done, so their spans are
        // exported.
        apuntador::telemetry::otel::shutdown(std::time::Duration::from_secs(5)).await;
        tracing::info!("apuntador-server stopped");
        ExitCode::SUCCESS
    })
}

/// The URL to open for `listener` (`https` when the server terminates TLS itself): `localhost` for
/// the unspecified addresses.
fn listening_url(listener: &TcpListener, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    match listener.local_addr() {
        Ok(addr) if addr.ip().is_unspecified() => format!("{scheme}://localhost:{}/", addr.port()),
        Ok(addr) => format!("{scheme}://{addr}/"),
        Err(_) => "(unknown address)".to_owned(),
    }
}
