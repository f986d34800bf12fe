//! `apuntador-server`: the apuntador router on a TCP listener (ECS Fargate containers, local runs).
//! See SPEC §9.2 and `apuntador::server`.

use std::path::Path;
use std::process::ExitCode;

use apuntador::config::Config;
use apuntador::{server, startup};
use tokio::net::TcpListener;

const USAGE: &str = "\
apuntador-server — OAuth proxy, device CA and attestation backend of the Apuntador apps

USAGE:
    apuntador-server                  serve HTTP on HOST:PORT (configuration from the environment and ./.env)
    apuntador-server --healthcheck    probe GET http://127.0.0.1:$PORT/health; exit 0 on 200 within 3 s, else 1
    apuntador-server --help | --version

Exit codes: 0 normal, 1 runtime failure, 2 usage or configuration error.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => run(),
        ["--help" | "-h"] => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        ["--version" | "-V"] => {
            println!("apuntador-server {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["--healthcheck"] => {
            let port = std::env::var("PORT")
                .ok()
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or(8000);
            if server::healthcheck(port) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprint!("unrecognised arguments\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

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
        let state = match startup::start(config).await {
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
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(error = %err, address = %format!("{}:{}", addr.0, addr.1), "could not bind");
                eprintln!("could not bind {}:{}: {err}", addr.0, addr.1);
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(
            address = %local,
            version = env!("CARGO_PKG_VERSION"),
            environment = if state.config.is_production() { "production" } else { "development" },
            storage = match state.config.storage.provider {
                apuntador::config::StorageProvider::Local => "local",
                apuntador::config::StorageProvider::Aws => "aws",
            },
            "apuntador-server listening"
        );
        let lifecycle = state.lifecycle.clone();
        let app = apuntador::router(state);
        server::serve(listener, app, lifecycle, server::shutdown_signal(), grace).await;
        tracing::info!("apuntador-server stopped");
        ExitCode::SUCCESS
    })
}
