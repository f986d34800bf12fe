//! `apuntador-cost`: what the Lambda and Fargate stacks cost per month for the user's traffic, line by
//! line, and which is cheaper; with `--out`, the full Markdown report and the chart.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apuntador::cost::report::{self, parse_volume};
use apuntador::cost::{
    Architecture, AssumptionsFile, CostModel, Deployment, Egress, Measurements, Mix, PRICE_KEYS,
    Prices, REGIONS, chart, variants,
};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};

/// The figures measured on this repository's build (`scripts/bench` writes them), used when
/// `--measurements` is not given.
const COMMITTED_MEASUREMENTS: &str = include_str!("../docs/cost/results.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StackChoice {
    Lambda,
    Fargate,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Switch {
    fn on(self) -> bool {
        self == Switch::On
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Arch {
    Arm64,
    #[value(name = "x86_64")]
    X86_64,
}

impl From<Arch> for Architecture {
    fn from(arch: Arch) -> Self {
        match arch {
            Arch::Arm64 => Architecture::Arm64,
            Arch::X86_64 => Architecture::X86_64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EgressChoice {
    Nat,
    #[value(name = "public_ip", alias = "public-ip")]
    PublicIp,
}

/// Monthly cost of apuntador on the shipped AWS Lambda and ECS Fargate stacks, for your traffic.
///
/// Prints every line of each stack's monthly bill and the cheaper choice. Defaults are what the
/// stacks' terraform.tfvars.example deploy; an assumptions file (TOML) overrides them, and flags
/// override the file. Exit codes: 0 success, 1 the outputs could not be written, 2 bad usage or an
/// unreadable or invalid input.
#[derive(Debug, Parser)]
#[command(name = "apuntador-cost", version)]
struct Cli {
    /// Requests per month: 3M, 250k, 1.5B or a plain number.
    #[arg(long, default_value = "1M", value_name = "VOLUME")]
    requests: String,
    /// AWS region of the prices: us-east-1, eu-west-1 or eu-central-1. A price not found for a
    /// region is the us-east-1 price standing in for it: the list at the end of this help names
    /// them, and the bill marks every line that uses one with †.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Share of each kind of traffic: oauth (login flow), device (enrol, status, renew) and other
    /// (no store access); the shares must add up to 1.
    #[arg(long, default_value = "oauth=0.7,device=0.3")]
    mix: String,
    /// Which stack's bill to print.
    #[arg(long, value_enum, default_value = "both")]
    stack: StackChoice,
    /// TOML file of assumptions and stack switches ([assumptions], [lambda], [fargate] tables and
    /// requests/region/mix keys); flags override it [default: none].
    #[arg(long, value_name = "FILE")]
    assumptions: Option<PathBuf>,
    /// Override one modelling assumption, NAME=VALUE (repeatable); the report lists every name and
    /// its default [default: none].
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Price table replacing the embedded one of --region (same shape as src/cost/prices/*.json)
    /// [default: none].
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Benchmark results with a `measurements` object [default: the committed docs/cost/results.json].
    #[arg(long, value_name = "FILE")]
    measurements: Option<PathBuf>,
    /// Also write cost-report.md and cost-chart.svg into DIR [default: none].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Lambda: function architecture.
    #[arg(
        long,
        value_enum,
        default_value = "arm64",
        help_heading = "Lambda stack"
    )]
    lambda_arch: Arch,
    /// Lambda: function memory in MB.
    #[arg(long, default_value_t = 512, help_heading = "Lambda stack")]
    lambda_memory: u32,
    /// Lambda: X-Ray active tracing.
    #[arg(long, value_enum, default_value = "on", help_heading = "Lambda stack")]
    tracing: Switch,
    /// Lambda: provisioned concurrency on the live alias, in execution environments. Priced for
    /// x86_64 in every embedded region; the arm64 prices were not found, so arm64 needs --prices FILE.
    #[arg(long, default_value_t = 0, help_heading = "Lambda stack")]
    provisioned_concurrency: u32,

    /// Fargate: task architecture (Fargate Spot runs x86_64 only).
    #[arg(
        long,
        value_enum,
        default_value = "x86_64",
        help_heading = "Fargate stack"
    )]
    fargate_arch: Arch,
    /// Fargate: task CPU units (1024 = one vCPU).
    #[arg(long, default_value_t = 256, help_heading = "Fargate stack")]
    fargate_cpu: u32,
    /// Fargate: task memory in MiB.
    #[arg(long, default_value_t = 512, help_heading = "Fargate stack")]
    fargate_memory: u32,
    /// Fargate: minimum task count (autoscaling min_capacity).
    #[arg(long, default_value_t = 2, help_heading = "Fargate stack")]
    min_tasks: u32,
    /// Fargate: availability zones.
    #[arg(long, default_value_t = 2, help_heading = "Fargate stack")]
    zones: u32,
    /// Fargate: internet egress (egress_mode).
    #[arg(
        long,
        value_enum,
        default_value = "nat",
        help_heading = "Fargate stack"
    )]
    egress: EgressChoice,
    /// Fargate: tasks always on regular Fargate (spot.base).
    #[arg(long, default_value_t = 1, help_heading = "Fargate stack")]
    spot_base: u32,
    /// Fargate: regular Fargate weight beyond the base (spot.fargate_weight).
    #[arg(long, default_value_t = 1, help_heading = "Fargate stack")]
    fargate_weight: u32,
    /// Fargate: Spot weight beyond the base (spot.spot_weight; 0 = no Spot).
    #[arg(long, default_value_t = 3, help_heading = "Fargate stack")]
    spot_weight: u32,
    /// Fargate: interface VPC endpoints (ECR, Logs, Secrets Manager, X-Ray with telemetry).
    #[arg(long, value_enum, default_value = "on", help_heading = "Fargate stack")]
    endpoints: Switch,
    /// Fargate: ADOT collector sidecar exporting traces to X-Ray.
    #[arg(
        long,
        value_enum,
        default_value = "off",
        help_heading = "Fargate stack"
    )]
    telemetry: Switch,

    /// Both stacks: app secrets (managed_app_secrets plus existing_app_secret_arns; 3 CA secrets are added).
    #[arg(long, default_value_t = 5, help_heading = "Both stacks")]
    app_secrets: u32,
}

fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

struct Run {
    model: CostModel,
    requests: f64,
    lambda: Deployment,
    fargate: Deployment,
}

fn load(cli: &Cli, matches: &ArgMatches) -> Result<Run, String> {
    let file = match &cli.assumptions {
        Some(path) => AssumptionsFile::from_toml(&read(path)?)
            .map_err(|error| format!("{}: {error}", path.display()))?,
        None => AssumptionsFile::default(),
    };
    let pick = |id: &str, flag: &String, from_file: &Option<String>| -> String {
        if given(matches, id) {
            flag.clone()
        } else {
            from_file.clone().unwrap_or_else(|| flag.clone())
        }
    };
    let requests = parse_volume(&pick("requests", &cli.requests, &file.requests))?;
    let region = pick("region", &cli.region, &file.region);
    let mix = Mix::parse(&pick("mix", &cli.mix, &file.mix)).map_err(|error| error.to_string())?;

    let mut assumptions = file.assumptions.clone();
    for setting in &cli.set {
        let (name, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--set needs NAME=VALUE, not `{setting}`"))?;
        assumptions
            .set(name.trim(), value)
            .map_err(|error| error.to_string())?;
    }

    let mut lambda = file.lambda.clone();
    if given(matches, "lambda_arch") {
        lambda.architecture = cli.lambda_arch.into();
    }
    if given(matches, "lambda_memory") {
        lambda.memory_mb = cli.lambda_memory;
    }
    if given(matches, "tracing") {
        lambda.tracing = cli.tracing.on();
    }
    if given(matches, "provisioned_concurrency") {
        lambda.provisioned_concurrency = cli.provisioned_concurrency;
    }
    let mut fargate = file.fargate.clone();
    if given(matches, "fargate_arch") {
        fargate.architecture = cli.fargate_arch.into();
    }
    if given(matches, "fargate_cpu") {
        fargate.cpu_units = cli.fargate_cpu;
    }
    if given(matches, "fargate_memory") {
        fargate.memory_mib = cli.fargate_memory;
    }
    if given(matches, "min_tasks") {
        fargate.min_tasks = cli.min_tasks;
    }
    if given(matches, "zones") {
        fargate.availability_zones = cli.zones;
    }
    if given(matches, "egress") {
        fargate.egress = match cli.egress {
            EgressChoice::Nat => Egress::NatGateway,
            EgressChoice::PublicIp => Egress::PublicIp,
        };
    }
    if given(matches, "spot_base") {
        fargate.spot_base = cli.spot_base;
    }
    if given(matches, "fargate_weight") {
        fargate.spot_fargate_weight = cli.fargate_weight;
    }
    if given(matches, "spot_weight") {
        fargate.spot_weight = cli.spot_weight;
    }
    if given(matches, "endpoints") {
        fargate.interface_endpoints = cli.endpoints.on();
    }
    if given(matches, "telemetry") {
        fargate.telemetry = cli.telemetry.on();
    }
    if given(matches, "app_secrets") {
        lambda.app_secrets = cli.app_secrets;
        fargate.app_secrets = cli.app_secrets;
    }

    let measurements = match &cli.measurements {
        Some(path) => Measurements::from_json(&read(path)?)
            .map_err(|error| format!("{}: {error}", path.display()))?,
        None => Measurements::from_json(COMMITTED_MEASUREMENTS)
            .map_err(|error| format!("the committed measurements: {error}"))?,
    };
    let prices = match &cli.prices {
        Some(path) => Prices::from_json(&read(path)?)
            .map_err(|error| format!("{}: {error}", path.display()))?,
        None => Prices::for_region(&region).map_err(|error| error.to_string())?,
    };
    let model = CostModel::new(prices, measurements, assumptions, mix);
    let lambda = Deployment::Lambda(lambda);
    let fargate = Deployment::Fargate(fargate);
    for option in [&lambda, &fargate] {
        model.check(option).map_err(|error| error.to_string())?;
    }
    Ok(Run {
        model,
        requests,
        lambda,
        fargate,
    })
}

fn write_outputs(run: &Run, out: &Path) -> std::io::Result<()> {
    let (Deployment::Lambda(lambda), Deployment::Fargate(fargate)) = (&run.lambda, &run.fargate)
    else {
        unreachable!("load builds one option of each target");
    };
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("cost-report.md"),
        report::markdown(&run.model, lambda, fargate),
    )?;
    let all = variants(lambda, fargate);
    let drawn: Vec<_> = [
        all.iter()
            .find(|(_, option)| matches!(option, Deployment::Lambda(_))),
        all.iter()
            .find(|(_, option)| matches!(option, Deployment::Fargate(_))),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    std::fs::write(
        out.join(report::CHART_FILE_NAME),
        chart::svg(&run.model, &run.lambda, &run.fargate, &drawn),
    )
}

/// The end of `--help`: for each embedded region, the prices that are us-east-1 stand-ins and the
/// prices no region has.
fn stand_ins_help() -> String {
    let mut text = String::from(
        "Price stand-ins: where a region's price was not found, the us-east-1 price is used and every \
         bill line that uses it is marked †. By region:\n",
    );
    for (region, _) in REGIONS {
        let Ok(prices) = Prices::for_region(region) else {
            continue;
        };
        let stand_ins = prices.stand_ins();
        let found = PRICE_KEYS.len() - stand_ins.len() - prices.unknown().len();
        text.push_str(&format!(
            "  {region}: {found} of {} prices found; stand-ins: {}\n",
            PRICE_KEYS.len(),
            if stand_ins.is_empty() {
                "none".to_owned()
            } else {
                stand_ins.join(", ")
            }
        ));
    }
    if let Ok(prices) = Prices::for_region(REGIONS[0].0) {
        text.push_str(&format!(
            "Unknown in every region (the option that needs them is refused): {}.\n",
            prices.unknown().join(", ")
        ));
    }
    text.push_str("Every price's source and retrieval date: src/cost/prices/<region>.json and the report (--out).");
    text
}

fn main() -> ExitCode {
    let matches = match Cli::command()
        .after_help(stand_ins_help())
        .try_get_matches()
    {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(2);
        }
    };
    let run = match load(&cli, &matches) {
        Ok(run) => run,
        Err(message) => {
            eprintln!("apuntador-cost: {message}");
            return ExitCode::from(2);
        }
    };
    let shown: Vec<Deployment> = match cli.stack {
        StackChoice::Lambda => vec![run.lambda.clone()],
        StackChoice::Fargate => vec![run.fargate.clone()],
        StackChoice::Both => vec![run.lambda.clone(), run.fargate.clone()],
    };
    print!("{}", report::answer(&run.model, &shown, run.requests));
    if let Some(out) = &cli.out {
        if let Err(error) = write_outputs(&run, out) {
            eprintln!("apuntador-cost: cannot write to {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
        println!(
            "wrote {} and {}",
            out.join("cost-report.md").display(),
            out.join(report::CHART_FILE_NAME).display()
        );
    }
    ExitCode::SUCCESS
}
