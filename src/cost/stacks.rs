//! What the two shipped stacks deploy, as the cost model sees it: their switches, with defaults equal
//! to `iac/stacks/*/terraform.tfvars.example` (a test in tests/cost parses those files and compares),
//! and the traffic a user brings (monthly requests and the route mix).
//!
//! - **Lambda stack**: one HTTP API with two custom domains (public, and device with mutual TLS) →
//!   `apuntador-lambda` (alias `live`, optional provisioned concurrency), X-Ray active tracing switch,
//!   its log group, the DynamoDB tables and the Secrets Manager secrets.
//! - **Fargate stack**: two HTTP APIs sharing one VPC link → an internal ALB → ECS Fargate tasks (at
//!   least `min_tasks`), egress through one NAT gateway or public IPs on the tasks, an optional Fargate
//!   Spot mix, interface VPC endpoints (ECR api and dkr, CloudWatch Logs, Secrets Manager, and X-Ray
//!   when telemetry is on) that can be switched off, free gateway endpoints for DynamoDB and S3.

use std::fmt;

use serde::Deserialize;

use super::CostError;

/// CPU architecture of a Lambda function or a Fargate task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// x86_64.
    X86_64,
    /// arm64 (AWS Graviton).
    Arm64,
}

impl Architecture {
    /// `x86_64` or `arm64`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// Parses `x86_64`/`X86_64` or `arm64`/`ARM64` (the spellings of the two stacks' variables).
    pub fn parse(text: &str) -> Result<Self, CostError> {
        match text.to_ascii_lowercase().as_str() {
            "x86_64" => Ok(Architecture::X86_64),
            "arm64" => Ok(Architecture::Arm64),
            _ => Err(CostError::InvalidAssumptions(format!(
                "architecture must be arm64 or x86_64, not `{text}`"
            ))),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Architecture {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Architecture::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How Fargate tasks reach the internet (the OAuth providers): the Fargate stack's `egress_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Egress {
    /// Private subnets and one NAT gateway with its Elastic IP (`egress_mode = "nat"`).
    NatGateway,
    /// A public IPv4 address on every task (`egress_mode = "public_ip"`).
    PublicIp,
}

impl Egress {
    /// The `egress_mode` value: `nat` or `public_ip`.
    pub fn name(self) -> &'static str {
        match self {
            Egress::NatGateway => "nat",
            Egress::PublicIp => "public_ip",
        }
    }

    /// Parses `nat` or `public_ip` (also `public-ip`).
    pub fn parse(text: &str) -> Result<Self, CostError> {
        match text {
            "nat" => Ok(Egress::NatGateway),
            "public_ip" | "public-ip" => Ok(Egress::PublicIp),
            _ => Err(CostError::InvalidAssumptions(format!(
                "egress must be nat or public_ip, not `{text}`"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Egress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Egress::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The CA secrets every stack creates (`ca-private-key`, `ca-certificate`, `ca-previous-certificate`).
pub const CA_SECRETS: u32 = 3;

/// The Lambda stack's switches. `Default` is what `iac/stacks/lambda/terraform.tfvars.example` deploys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaStack {
    /// `architecture`.
    pub architecture: Architecture,
    /// `memory_mb`.
    pub memory_mb: u32,
    /// Provisioned concurrency on the `live` alias (0 = none, the default).
    pub provisioned_concurrency: u32,
    /// X-Ray active tracing on the function.
    pub tracing: bool,
    /// Secrets of `managed_app_secrets` plus `existing_app_secret_arns` (the stack adds the 3 CA secrets).
    pub app_secrets: u32,
}

impl Default for LambdaStack {
    fn default() -> Self {
        LambdaStack {
            architecture: Architecture::Arm64,
            memory_mb: 512,
            provisioned_concurrency: 0,
            tracing: true,
            app_secrets: 5,
        }
    }
}

impl LambdaStack {
    /// Secrets Manager secrets the stack holds: the CA secrets and the app secrets.
    pub fn secrets(&self) -> u32 {
        CA_SECRETS + self.app_secrets
    }
}

/// The Fargate stack's switches. `Default` is what `iac/stacks/fargate/terraform.tfvars.example` deploys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FargateStack {
    /// `cpu_architecture`.
    pub architecture: Architecture,
    /// `cpu`: task CPU units (1,024 = one vCPU).
    pub cpu_units: u32,
    /// `memory`: task memory in MiB.
    pub memory_mib: u32,
    /// `autoscaling.min_capacity`.
    pub min_tasks: u32,
    /// Length of `availability_zones` (interface endpoints are billed per zone).
    pub availability_zones: u32,
    /// `egress_mode`.
    pub egress: Egress,
    /// `spot.base`: tasks always on regular Fargate.
    pub spot_base: u32,
    /// `spot.fargate_weight`.
    pub spot_fargate_weight: u32,
    /// `spot.spot_weight` (0 = no Spot).
    pub spot_weight: u32,
    /// Interface VPC endpoints for ECR (api, dkr), CloudWatch Logs and Secrets Manager (and X-Ray with
    /// telemetry); without them that traffic goes through the NAT gateway or the tasks' public IPs.
    pub interface_endpoints: bool,
    /// `adot_collector_enabled`: the collector sidecar exports traces to X-Ray (adds the X-Ray endpoint).
    pub telemetry: bool,
    /// Secrets of `managed_app_secrets` plus `existing_app_secret_arns` (the stack adds the 3 CA secrets).
    pub app_secrets: u32,
}

impl Default for FargateStack {
    fn default() -> Self {
        FargateStack {
            architecture: Architecture::X86_64,
            cpu_units: 256,
            memory_mib: 512,
            min_tasks: 2,
            availability_zones: 2,
            egress: Egress::NatGateway,
            spot_base: 1,
            spot_fargate_weight: 1,
            spot_weight: 3,
            interface_endpoints: true,
            telemetry: false,
            app_secrets: 5,
        }
    }
}

impl FargateStack {
    /// Task vCPU.
    pub fn vcpu(&self) -> f64 {
        f64::from(self.cpu_units) / 1024.0
    }

    /// Task memory in GB.
    pub fn memory_gb(&self) -> f64 {
        f64::from(self.memory_mib) / 1024.0
    }

    /// Whether any task runs on Fargate Spot. Fargate Spot runs x86_64 tasks only, so an arm64 stack
    /// has no Spot tasks whatever the weights say.
    pub fn uses_spot(&self) -> bool {
        self.spot_weight > 0 && self.architecture == Architecture::X86_64
    }

    /// Of `tasks` running, how many are on regular Fargate and how many on Spot: `spot_base` first,
    /// the rest split by the weights (ECS's capacity-provider strategy, averaged over the month).
    pub fn spot_split(&self, tasks: u32) -> (f64, f64) {
        if !self.uses_spot() {
            return (f64::from(tasks), 0.0);
        }
        let base = tasks.min(self.spot_base);
        let rest = f64::from(tasks - base);
        let weights = f64::from(self.spot_fargate_weight + self.spot_weight);
        let spot = rest * f64::from(self.spot_weight) / weights;
        (f64::from(tasks) - spot, spot)
    }

    /// Interface endpoints the stack creates: ecr.api, ecr.dkr, logs, secretsmanager, and xray with
    /// telemetry; none when they are switched off.
    pub fn interface_endpoint_count(&self) -> u32 {
        if !self.interface_endpoints {
            return 0;
        }
        4 + u32::from(self.telemetry)
    }

    /// Secrets Manager secrets the stack holds: the CA secrets and the app secrets.
    pub fn secrets(&self) -> u32 {
        CA_SECRETS + self.app_secrets
    }
}

/// One deployment option: a stack with its switches, and a label for tables and charts.
#[derive(Debug, Clone, PartialEq)]
pub enum Deployment {
    /// The Lambda stack.
    Lambda(LambdaStack),
    /// The Fargate stack.
    Fargate(FargateStack),
}

impl Deployment {
    /// `Lambda` or `Fargate`.
    pub fn target(&self) -> &'static str {
        match self {
            Deployment::Lambda(_) => "Lambda",
            Deployment::Fargate(_) => "Fargate",
        }
    }

    /// A short description of the switches, e.g. `arm64, 512 MB, X-Ray tracing on`.
    pub fn describe(&self) -> String {
        match self {
            Deployment::Lambda(stack) => {
                let mut parts = vec![
                    stack.architecture.to_string(),
                    format!("{} MB", stack.memory_mb),
                    format!("X-Ray tracing {}", if stack.tracing { "on" } else { "off" }),
                ];
                if stack.provisioned_concurrency > 0 {
                    parts.push(format!(
                        "provisioned concurrency {}",
                        stack.provisioned_concurrency
                    ));
                }
                parts.join(", ")
            }
            Deployment::Fargate(stack) => {
                let mut parts = vec![
                    stack.architecture.to_string(),
                    format!("{} vCPU / {} GB", stack.vcpu(), stack.memory_gb()),
                    format!("min {} tasks", stack.min_tasks),
                    match stack.egress {
                        Egress::NatGateway => "NAT gateway".to_owned(),
                        Egress::PublicIp => "public IPs".to_owned(),
                    },
                ];
                if stack.uses_spot() {
                    parts.push(format!(
                        "Spot base {} then {}:{}",
                        stack.spot_base, stack.spot_fargate_weight, stack.spot_weight
                    ));
                } else {
                    parts.push("no Spot".to_owned());
                }
                parts.push(format!(
                    "interface endpoints {}",
                    if stack.interface_endpoints {
                        "on"
                    } else {
                        "off"
                    }
                ));
                if stack.telemetry {
                    parts.push("telemetry on".to_owned());
                }
                parts.join(", ")
            }
        }
    }
}

/// The share of each kind of traffic. Each kind is a flow of real requests whose store calls, item
/// sizes and log lines were measured (see [`super::Assumptions`]):
///
/// - `oauth`: an OAuth login, three requests — `POST /oauth/authorize/{provider}` (writes the session),
///   `GET /oauth/callback/{provider}` (reads it), `POST /oauth/token/{provider}` (deletes it and calls
///   the provider).
/// - `device`: a device's certificate life, three requests — `POST /device/enroll` (query, transactional
///   put, query), `GET /device/status/{device_id}` (one read to authenticate),
///   `POST /device/renew` (read, query, transactional put and update, query of two items).
/// - `other`: requests that touch no store (health, configuration, OAuth refresh).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Share of `oauth` requests.
    pub oauth: f64,
    /// Share of `device` requests.
    pub device: f64,
    /// Share of `other` requests.
    pub other: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            oauth: 0.7,
            device: 0.3,
            other: 0.0,
        }
    }
}

impl Mix {
    /// Parses `oauth=0.7,device=0.3` (kinds left out are 0; the shares must add up to 1).
    pub fn parse(text: &str) -> Result<Self, CostError> {
        let invalid = |why: String| CostError::InvalidMix(why);
        let mut mix = Mix {
            oauth: 0.0,
            device: 0.0,
            other: 0.0,
        };
        let mut seen = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| invalid(format!("`{part}` is not KIND=SHARE")))?;
            let name = name.trim();
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| invalid(format!("`{value}` is not a number")))?;
            if !value.is_finite() || !(0.0..=1.0).contains(&value) {
                return Err(invalid(format!(
                    "the share of `{name}` must be between 0 and 1"
                )));
            }
            if seen.contains(&name.to_owned()) {
                return Err(invalid(format!("`{name}` is given twice")));
            }
            seen.push(name.to_owned());
            match name {
                "oauth" => mix.oauth = value,
                "device" => mix.device = value,
                "other" => mix.other = value,
                _ => {
                    return Err(invalid(format!(
                        "unknown kind `{name}`; the kinds are oauth, device and other"
                    )));
                }
            }
        }
        let sum = mix.oauth + mix.device + mix.other;
        if (sum - 1.0).abs() > 1e-6 {
            return Err(invalid(format!("the shares add up to {sum}, not 1")));
        }
        Ok(mix)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "oauth={},device={},other={}",
            self.oauth, self.device, self.other
        )
    }
}
