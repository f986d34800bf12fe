//! `apuntador-server healthcheck` (also `--healthcheck`) and `config check`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use apuntador::config::{Config, parse_dotenv};
use apuntador::server;

/// Probes `GET /health` of the server this environment configures (HOST and PORT from the environment,
/// then ./.env). Exit 0 when healthy; otherwise 1 with the reason on stderr — never 2, which container
/// HEALTHCHECKs reserve.
pub fn healthcheck() -> ExitCode {
    let dotenv = std::fs::read_to_string(".env")
        .map(|text| parse_dotenv(&text))
        .unwrap_or_default();
    let read = |name: &str| -> (Option<String>, &'static str) {
        if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            return (Some(value), "(from the environment)");
        }
        match dotenv.iter().rev().find(|(key, _)| key == name) {
            Some((_, value)) if !value.is_empty() => (Some(value.clone()), "(from .env)"),
            _ => (None, "(default)"),
        }
    };
    let (host, host_source) = read("HOST");
    let (port, port_source) = read("PORT");
    let target = match probe_address(host.as_deref(), port.as_deref()) {
        Ok(target) => target,
        Err(why) => {
            eprintln!("unhealthy: {why}");
            return ExitCode::FAILURE;
        }
    };
    let (tls_cert_file, _) = read("TLS_CERT_FILE");
    let tls_cert_file = tls_cert_file.map(std::path::PathBuf::from);
    let scheme = if tls_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    match server::healthcheck(target, tls_cert_file.as_deref()) {
        Ok(()) => {
            println!("healthy: GET {scheme}://{target}/health answered 200");
            ExitCode::SUCCESS
        }
        Err(why) => {
            let host = host.as_deref().unwrap_or("0.0.0.0");
            let port = port.as_deref().unwrap_or("8000");
            eprintln!("unhealthy: {why} (HOST={host} {host_source}, PORT={port} {port_source})");
            ExitCode::FAILURE
        }
    }
}

/// The address to probe: PORT (default 8000) on HOST, where the unspecified addresses and `localhost`
/// become the loopback address of their family (the server listens there too).
pub fn probe_address(host: Option<&str>, port: Option<&str>) -> Result<SocketAddr, String> {
    let port = match port.map(str::trim) {
        None => 8000,
        Some(raw) => raw
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0 && raw.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("PORT={raw:?} is not a port number (1-65535)"))?,
    };
    let ip = match host.map(str::trim) {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(raw) if raw.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(raw) => {
            let bare = raw
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(raw);
            match bare.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                Ok(IpAddr::V6(v6)) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                Ok(ip) => ip,
                Err(_) => return Err(format!("HOST={raw:?} is not an IP address or localhost")),
            }
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// `config check`: validates everything `serve` would (without resolving Secrets Manager references)
/// and prints the effective configuration with every secret redacted. Exit 2 with every problem
/// listed when it is invalid.
pub fn config_check() -> ExitCode {
    let config = match Config::from_env_with_dotenv(Path::new(".env")) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    println!(
        "configuration is valid (ENVIRONMENT={})",
        if config.is_production() {
            "production"
        } else {
            "development"
        }
    );
    for warning in config.warnings() {
        println!("warning: {warning}");
    }
    for (variable, arn) in config.secret_references() {
        println!("note: {variable} is the Secrets Manager reference {arn}, resolved at start-up");
    }
    // Secrets are `SecretString`s, whose Debug form is `[REDACTED]`.
    println!("\neffective configuration (secrets redacted):\n{config:#?}");
    ExitCode::SUCCESS
}
