//! The command line of `apuntador-server` (clap derive): what each command takes and which environment
//! variables it reads, as `--help` shows at every level. Parsing only; `main` dispatches.

use apuntador::authority::{CaInitArgs, ExistingCa, InitBackend};
use apuntador::config::{CA_VARIABLES, VARIABLES};
use apuntador::pki::ca::{self, KeyType};
use clap::{Args, Parser, Subcommand};

/// `--version`: the crate version and the git commit it was built from (`unknown` without git).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("APUNTADOR_GIT_COMMIT"),
    ")"
);

const TOP_HELP: &str = "\
Without a command, `serve` runs. Configuration comes from environment variables plus an optional ./.env
file (the environment wins); every variable, its default and its rules are in docs/configuration.md, and
`apuntador-server config check` prints the effective configuration.

Exit codes: 0 success, 1 runtime failure (busy port, failed probe, failed `ca` command),
2 usage or configuration error.";

const HEALTHCHECK_HELP: &str = "\
Environment (and ./.env): HOST, PORT, TLS_CERT_FILE. 0.0.0.0 and :: probe the loopback address of the
same family, localhost probes 127.0.0.1. With TLS_CERT_FILE set the probe speaks https and trusts exactly
that certificate (a server with TLS_CLIENT_AUTH=required refuses it: it has no device certificate).
Exit 0 on a 200 within 3 s, else 1 with the reason on stderr.";

/// apuntador-server: the OAuth proxy, device certificate authority and attestation backend of the
/// Apuntador apps, on HOST:PORT.
#[derive(Debug, Parser)]
#[command(
    name = "apuntador-server",
    version = VERSION,
    after_help = TOP_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Same as the `healthcheck` command (the spelling the container HEALTHCHECK uses).
    #[arg(long)]
    pub healthcheck: bool,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command to run, after the defaults and the old spellings.
    pub fn command(self) -> Command {
        match (self.healthcheck, self.command) {
            (true, _) => Command::Healthcheck,
            (false, Some(command)) => command,
            (false, None) => Command::Serve,
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP on HOST:PORT until SIGTERM or SIGINT (the default command)
    #[command(after_help = serve_help())]
    Serve,
    /// Create, rotate or show the device certificate authority
    #[command(subcommand, after_help = ca_help())]
    Ca(CaCommand),
    /// Probe GET /health of the server on HOST:PORT; exit 0 on a 200 within 3 s, else 1
    #[command(after_help = HEALTHCHECK_HELP)]
    Healthcheck,
    /// Check the configuration
    #[command(subcommand, after_help = all_variables_help())]
    Config(ConfigCommand),
}

/// `ca ...`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the device CA and publish the truststore bundle; refuses to replace a CA you created
    /// unless --rotate or --force (the development CA made by a first start is replaced, with a warning)
    #[command(after_help = ca_help())]
    Init(CaInit),
    /// Create a new CA and keep the current one trusted as the previous CA (same as `ca init --rotate`)
    #[command(after_help = ca_help())]
    Rotate(NewCa),
    /// Show the stored CA: subject, key type, validity, pin, previous CA and locations (never the key)
    #[command(after_help = ca_help())]
    Show(Backend),
}

/// `config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with every secret redacted; exit 2 listing every problem
    #[command(after_help = all_variables_help())]
    Check,
}

/// Where the CA lives; `INFRASTRUCTURE_PROVIDER` decides when neither flag is given.
#[derive(Debug, Clone, Args)]
pub struct Backend {
    /// Files under DATA_DIR
    #[arg(long, conflicts_with = "aws")]
    pub local: bool,
    /// Secrets Manager and S3 (AWS_* variables)
    #[arg(long)]
    pub aws: bool,
}

impl Backend {
    /// The backend the flags name, if any.
    pub fn chosen(&self) -> Option<InitBackend> {
        match (self.local, self.aws) {
            (true, _) => Some(InitBackend::Local),
            (false, true) => Some(InitBackend::Aws),
            (false, false) => None,
        }
    }
}

/// How a new CA is made.
#[derive(Debug, Clone, Args)]
pub struct NewCa {
    #[command(flatten)]
    pub backend: Backend,
    /// Key type of the CA: ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096
    #[arg(long, default_value = "ec-p256", value_parser = parse_key_type)]
    pub key_type: KeyType,
    /// Validity of the CA certificate in days (1-36500)
    #[arg(long, default_value_t = ca::DEFAULT_CA_VALIDITY_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub validity_days: u32,
    /// Subject common name (CN), 1-64 characters
    #[arg(long, default_value = ca::DEFAULT_CA_COMMON_NAME, value_parser = parse_name)]
    pub common_name: String,
    /// Subject organisation (O), 1-64 characters
    #[arg(long, default_value = ca::DEFAULT_CA_ORGANIZATION, value_parser = parse_name)]
    pub organization: String,
    /// Subject country (C): an ISO 3166 two-letter code
    #[arg(long, default_value = ca::DEFAULT_CA_COUNTRY, value_parser = parse_country)]
    pub country: String,
}

impl NewCa {
    /// The `ca init` arguments, with what to do about an existing CA.
    pub fn into_args(self, existing: ExistingCa) -> CaInitArgs {
        CaInitArgs {
            backend: self.backend.chosen(),
            key_type: self.key_type,
            validity_days: self.validity_days,
            common_name: self.common_name,
            organization: self.organization,
            country: self.country,
            existing,
        }
    }
}

/// `ca init`
#[derive(Debug, Clone, Args)]
pub struct CaInit {
    #[command(flatten)]
    pub new: NewCa,
    /// Replace an existing CA without keeping it trusted: certificates it issued stop working
    #[arg(long, conflicts_with = "rotate")]
    pub force: bool,
    /// Rotate: the current CA stays trusted as the previous CA (same as `ca rotate`)
    #[arg(long)]
    pub rotate: bool,
}

impl CaInit {
    /// The `ca init` arguments.
    pub fn into_args(self) -> CaInitArgs {
        let existing = match (self.force, self.rotate) {
            (true, _) => ExistingCa::Replace,
            (false, true) => ExistingCa::Rotate,
            (false, false) => ExistingCa::Refuse,
        };
        self.new.into_args(existing)
    }
}

fn parse_key_type(raw: &str) -> Result<KeyType, String> {
    KeyType::parse(raw)
        .ok_or_else(|| "expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096".to_owned())
}

fn parse_name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 64 {
        return Err("expected 1-64 characters".into());
    }
    Ok(trimmed.to_owned())
}

fn parse_country(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err("expected a two-letter country code such as ES or DE".into())
    }
}

/// `names` as an indented, wrapped list.
fn wrapped(names: &[&str]) -> String {
    let mut out = String::from("  ");
    let mut width = 2;
    for (i, name) in names.iter().enumerate() {
        let piece = if i + 1 < names.len() {
            format!("{name}, ")
        } else {
            (*name).to_owned()
        };
        if width + piece.len() > 100 {
            out = out.trim_end().to_owned();
            out.push_str("\n  ");
            width = 2;
        }
        width += piece.len();
        out.push_str(&piece);
    }
    out
}

fn serve_help() -> String {
    format!(
        "Environment (and ./.env), described in docs/configuration.md:\n{}\n\n\
         The listener: HOST (an IP address or localhost), PORT, MAX_CONCURRENT_REQUESTS. On SIGTERM,\n\
         readiness answers 503 shutting_down; the listener keeps serving for SHUTDOWN_DELAY_SECONDS,\n\
         then stops accepting and in-flight requests get SHUTDOWN_GRACE_SECONDS to finish.",
        wrapped(VARIABLES)
    )
}

fn ca_help() -> String {
    format!(
        "Environment (and ./.env), only these (other settings are not read, so they cannot stop it):\n{}",
        wrapped(&CA_VARIABLES)
    )
}

fn all_variables_help() -> String {
    format!(
        "Environment (and ./.env), described in docs/configuration.md:\n{}\n\n\
         Secrets Manager references (arn:aws:secretsmanager:...) are listed, not resolved.",
        wrapped(VARIABLES)
    )
}
