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
    apuntador-server                  serve HTTP on HOST:PORT (HTTPS with TLS_CERT_FILE/TLS_KEY_FILE;
                                      configuration from the environment and ./.env)
    apuntador-server --healthcheck    probe GET http://127.0.0.1:$PORT/health; exit 0 on 200 within 3 s, else 1
    apuntador-server ca init [--local | --aws] [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096]
                     [--validity-days N] [--common-name NAME] [--force | --rotate]
                                      create the device CA (refuses when one exists unless --force or --rotate)
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
        ["ca", "init", ..] => ca_init(&args[2..]),
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
        tracing::info!(
            address = %local,
            scheme = if tls.is_some() { "https" } else { "http" },
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
        server::serve_door(listener, app, lifecycle, server::shutdown_signal(), grace, tls).await;
        // SPEC §9.2: telemetry is flushed once the in-flight requests are done.
        apuntador::telemetry::otel::shutdown(std::time::Duration::from_secs(5)).await;
        tracing::info!("apuntador-server stopped");
        ExitCode::SUCCESS
    })
}

/// `apuntador-server ca init` (SPEC §5.2): creates the device CA in the local data directory. Prints the
/// subject, key type, expiry, pin and file locations — never the key.
fn ca_init(args: &[String]) -> ExitCode {
    use apuntador::authority::{self, CaInitArgs, InitBackend};
    use apuntador::config::StorageProvider;
    use apuntador::store::files::{
        CA_CERTIFICATE_FILE, CA_PREVIOUS_CERTIFICATE_FILE, CA_PRIVATE_KEY_FILE, LocalBlobStore,
        LocalSecretStore,
    };

    let parsed = match CaInitArgs::parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprint!("{message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env_with_dotenv(Path::new(".env")) {
        Ok(config) => config,
        Err(err) => {
            startup::report_config_error(&err);
            return ExitCode::from(2);
        }
    };
    let backend = parsed.backend.unwrap_or(match config.storage.provider {
        StorageProvider::Local => InitBackend::Local,
        StorageProvider::Aws => InitBackend::Aws,
    });
    if backend == InitBackend::Aws {
        return ca_init_aws(&parsed, &config);
    }
    let dir = config.storage.data_dir.clone();
    let Some(runtime) = ca_init_runtime() else {
        return ExitCode::FAILURE;
    };
    let secrets = LocalSecretStore::new(&dir);
    let blobs = LocalBlobStore::new(&dir);
    let report = match runtime.block_on(authority::init_ca(
        &secrets,
        &blobs,
        &parsed,
        chrono::Utc::now(),
    )) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("ca init failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    let path = |name: &str| dir.join(name).display().to_string();
    print_ca_report(
        &report,
        &CaLocations {
            backend: format!("local ({})", dir.display()),
            private_key: format!("{} (mode 0600)", path(CA_PRIVATE_KEY_FILE)),
            certificate: path(CA_CERTIFICATE_FILE),
            previous: path(CA_PREVIOUS_CERTIFICATE_FILE),
            truststore: path(authority::TRUSTSTORE_BUNDLE_KEY),
        },
    );
    ExitCode::SUCCESS
}

/// The runtime `ca init` runs on; `None` (reported) when it cannot start.
fn ca_init_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|err| eprintln!("could not start the async runtime: {err}"))
        .ok()
}

/// Where `ca init` wrote each piece, as printed.
struct CaLocations {
    backend: String,
    private_key: String,
    certificate: String,
    previous: String,
    truststore: String,
}

/// Prints what `ca init` did: the CA's subject, key type, expiry and pin, and where each piece went —
/// never the key itself.
fn print_ca_report(report: &apuntador::authority::CaInitReport, at: &CaLocations) {
    println!(
        "Certificate authority {}",
        if report.rotated {
            "rotated (the previous certificate stays trusted)"
        } else {
            "created"
        }
    );
    println!("  backend:     {}", at.backend);
    println!("  subject:     {}", report.subject);
    println!("  key type:    {}", report.key_type.as_str());
    println!("  not after:   {}", report.not_after.to_rfc3339());
    println!(
        "  SPKI pin:    {} (sha256, base64)",
        report.pin.sha256_base64
    );
    println!("               {} (sha256, hex)", report.pin.sha256_hex);
    println!("  private key: {}", at.private_key);
    println!("  certificate: {}", at.certificate);
    if report.rotated {
        println!("  previous:    {}", at.previous);
    }
    println!(
        "  truststore:  {} (version {})",
        at.truststore, report.bundle_version
    );
}

/// `apuntador-server ca init --aws` (SPEC §5.2, §7.5–7.7): writes the CA to Secrets Manager (create or new
/// version) and publishes the truststore bundle to S3, creating the tables and the bucket first when
/// `AUTO_CREATE_RESOURCES=true`. Prints the secret names and the bundle's S3 version — never the key.
fn ca_init_aws(parsed: &apuntador::authority::CaInitArgs, config: &Config) -> ExitCode {
    use apuntador::authority::{self, TRUSTSTORE_BUNDLE_KEY};
    use apuntador::store::aws::AwsStores;
    use apuntador::store::aws::secrets_manager::{
        CA_CERTIFICATE_SECRET, CA_PREVIOUS_CERTIFICATE_SECRET, CA_PRIVATE_KEY_SECRET,
    };

    let Some(runtime) = ca_init_runtime() else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        let aws = AwsStores::new(&config.storage.aws).await;
        if config.storage.aws.auto_create_resources {
            aws.create_missing_resources()
                .await
                .map_err(|err| format!("AUTO_CREATE_RESOURCES failed: {err}"))?;
        }
        let report = authority::init_ca(
            aws.secrets.as_ref(),
            aws.blobs.as_ref(),
            parsed,
            chrono::Utc::now(),
        )
        .await
        .map_err(|err| err.to_string())?;
        Ok::<_, String>((aws, report))
    });
    let (aws, report) = match result {
        Ok(done) => done,
        Err(err) => {
            eprintln!("ca init failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    let secret = |name: &str| format!("Secrets Manager {}", aws.secrets.secret_name(name));
    print_ca_report(
        &report,
        &CaLocations {
            backend: format!("aws (region {})", aws.region()),
            private_key: secret(CA_PRIVATE_KEY_SECRET),
            certificate: secret(CA_CERTIFICATE_SECRET),
            previous: secret(CA_PREVIOUS_CERTIFICATE_SECRET),
            truststore: format!("s3://{}/{}", aws.blobs.bucket(), TRUSTSTORE_BUNDLE_KEY),
        },
    );
    ExitCode::SUCCESS
}
