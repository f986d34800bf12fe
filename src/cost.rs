//! The Lambda-vs-Fargate cost model (SPEC §12.4): monthly cost of each deployment option across
//! request volumes, from this build's measured figures and a price table.
//!
//! Pure functions over three inputs: the [`Prices`] (one data file, AWS list prices with their source
//! and retrieval date), the [`Measurements`] (the benchmark figures of SPEC §12.3, read from JSON) and
//! the [`Assumptions`] (every modelling choice, a named field with a default and a doc comment that the
//! report prints). [`report`] renders the Markdown report and [`chart`] the SVG chart; the
//! `apuntador-cost` binary only reads the files and writes the outputs. This module does no I/O and
//! depends on nothing else in the crate (no axum, no tokio).
//!
//! How the costs are computed:
//!
//! - **Lambda** pays the request charge plus the billed duration in GB-seconds. The handler duration is
//!   measured on one full core; Lambda gives a function CPU in proportion to its memory (1,769 MB = one
//!   vCPU), so the rule is `billed = ceil_to_granularity(handler_ms × max(1, 1769 / memory_mb) +
//!   lambda_io_wait_ms)` — a CPU-bound handler slows down in inverse proportion to its CPU share, with no
//!   burst credit, while time spent waiting on the network does not scale. A cold invocation is billed
//!   for INIT plus the invocation (INIT is billed since 2025-08-01): `ceil_to_granularity((init_ms +
//!   handler_ms) × max(1, 1769 / memory_mb) + lambda_io_wait_ms)`, for `lambda_cold_start_rate` of the
//!   invocations. The front door adds API Gateway's per-request charge (HTTP API, REST API), nothing
//!   (Function URL), or an internet-facing ALB (hours, LCUs for Lambda targets, one public IPv4 address
//!   per availability zone).
//! - **Fargate** runs tasks of `fargate_task_vcpu` / `fargate_task_memory_gb` behind an internal ALB
//!   reached by an HTTP API through a VPC link (the Fargate stack of `iac/`). The task count is sized
//!   for the peak: `max(fargate_min_tasks, ceil(mean_req_per_s × peak_to_average / (req_per_s_per_vcpu ×
//!   fargate_task_vcpu × (1 − fargate_headroom))))`, held all month. Add the ALB (hours and LCUs), the
//!   HTTP API per request, the interface VPC endpoints the stack needs (per AZ-hour and per GB), and the
//!   egress: a NAT gateway with its Elastic IP (hours and per GB), or one public IPv4 address per task.
//!
//! The **Fargate floor** is the Fargate option that costs least at its minimum size (minimum task
//! count, no traffic); its whole cost curve is the reference each Lambda front door is compared with.
//! A front door's **break-even volume** is where the cost curve of its cheapest Lambda configuration
//! crosses the floor's: found numerically by a log-spaced scan and bisection ([`CostModel::break_even`]).

pub mod chart;
mod measurements;
mod prices;
pub mod report;

use std::fmt;

pub use measurements::Measurements;
pub use prices::{
    AlbPrices, ApiGatewayPrices, DEFAULT_PRICES_JSON, FargatePrices, LambdaPrices,
    NatGatewayPrices, PerArchitecture, PriceSource, Prices, PublicIpv4Prices, VpcEndpointPrices,
};

/// Bytes in a GB, for data-processing charges (AWS bills data in binary gigabytes).
pub const BYTES_PER_GB: f64 = 1_073_741_824.0;

/// Lambda memory sizes the model compares, in MB.
pub const LAMBDA_MEMORY_SIZES_MB: [u32; 3] = [128, 256, 512];

/// Monthly request volumes of the report's table: 100 k, 1 M, 10 M, 100 M and 1 B.
pub const VOLUMES: [f64; 5] = [1e5, 1e6, 1e7, 1e8, 1e9];

/// Monthly volumes between which [`CostModel::break_even`] looks for a crossing.
pub const BREAK_EVEN_SEARCH_RANGE: (f64, f64) = (1e3, 1e13);

/// Why a price table or a measurements file was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    /// The price table is not valid JSON of the expected shape, or a price is out of range.
    #[error("invalid price table: {0}")]
    InvalidPrices(String),
    /// The measurements are not valid JSON of the expected shape, or a figure is out of range.
    #[error("invalid measurements: {0}")]
    InvalidMeasurements(String),
}

/// One modelling assumption as the report prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assumption {
    /// Field name in [`Assumptions`].
    pub name: &'static str,
    /// Current value, formatted.
    pub value: String,
    /// Unit of the value.
    pub unit: &'static str,
    /// The field's doc comment, on one line.
    pub description: String,
}

macro_rules! assumptions {
    ($( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr, $unit:literal; )*) => {
        /// Every modelling choice of the cost model: a named field with a default, documented, and
        /// printed in the report by [`Assumptions::describe`].
        #[derive(Debug, Clone, PartialEq)]
        pub struct Assumptions {
            $( $(#[doc = $doc])+ pub $name: $ty, )*
        }

        impl Default for Assumptions {
            fn default() -> Self {
                Self { $( $name: $default, )* }
            }
        }

        impl Assumptions {
            /// Every assumption with its value, unit and doc comment, in declaration order.
            pub fn describe(&self) -> Vec<Assumption> {
                vec![$(
                    Assumption {
                        name: stringify!($name),
                        value: self.$name.to_string(),
                        unit: $unit,
                        description: [$($doc),+].iter().map(|line| line.trim()).collect::<Vec<_>>().join(" "),
                    },
                )*]
            }
        }
    };
}

assumptions! {
    /// Hours in a billing month (AWS's convention: 8,760 / 12).
    hours_per_month: f64 = 730.0, "h";
    /// Memory at which a Lambda function gets one full vCPU; below it CPU is allocated in proportion
    /// to memory, so the measured one-core handler duration is multiplied by 1769 / memory.
    lambda_full_core_memory_mb: f64 = 1769.0, "MB";
    /// Time per invocation spent waiting on downstream calls (DynamoDB, Secrets Manager, OAuth
    /// providers), added to the billed duration without CPU scaling. 0 because the benches run on the
    /// in-memory store; set it to the store's round trip for a production estimate.
    lambda_io_wait_ms: f64 = 0.0, "ms";
    /// Share of invocations that start a new execution environment and so are also billed for the
    /// INIT duration (billed since 2025-08-01).
    lambda_cold_start_rate: f64 = 0.01, "fraction";
    /// Mean size of a request (headers and body); with the measured response size it makes the bytes
    /// an ALB processes.
    mean_request_bytes: f64 = 800.0, "bytes";
    /// New connections to an ALB per request: clients and the VPC link keep connections alive, so
    /// one request in 20 opens one.
    new_connections_per_request: f64 = 0.05, "connections";
    /// vCPU of one Fargate task.
    fargate_task_vcpu: f64 = 0.25, "vCPU";
    /// Memory of one Fargate task.
    fargate_task_memory_gb: f64 = 0.5, "GB";
    /// Minimum Fargate task count (the stack's autoscaling min_capacity: one task per AZ).
    fargate_min_tasks: u32 = 2, "tasks";
    /// Share of a task's measured capacity left unused at the peak: tasks run at most 60% busy, the
    /// Fargate stack's CPU target-tracking target. One measured core counts as one Fargate vCPU on
    /// either architecture.
    fargate_headroom: f64 = 0.4, "fraction";
    /// Peak request rate over the monthly mean; the Fargate task count is sized for the peak and held
    /// all month (no scale-in savings, which favours Lambda).
    peak_to_average: f64 = 3.0, "ratio";
    /// Tasks kept on regular Fargate in the Spot options (the stack's spot.base); the rest run on
    /// Fargate Spot. Fargate Spot does not run arm64 tasks, so the Spot options are x86_64 only.
    fargate_spot_on_demand_base: u32 = 1, "tasks";
    /// Availability zones: interface endpoints are billed per AZ, and an internet-facing ALB (the
    /// Lambda ALB front door) holds one public IPv4 address per AZ.
    availability_zones: u32 = 2, "AZs";
    /// Interface VPC endpoints of the Fargate stack: ecr.api, ecr.dkr, logs, secretsmanager
    /// (iac/modules/network; DynamoDB and S3 use free gateway endpoints; X-Ray adds a fifth).
    fargate_interface_endpoints: u32 = 4, "endpoints";
    /// Bytes per request through the interface endpoints (an access-log line to CloudWatch Logs).
    endpoint_bytes_per_request: f64 = 300.0, "bytes";
    /// Mean bytes per request the Fargate tasks exchange with the internet (OAuth provider calls: a
    /// few per cent of requests at a few KB each), processed by the NAT gateway when egress is NAT.
    egress_bytes_per_request: f64 = 200.0, "bytes";
    /// NAT gateways of the NAT egress option (the stack creates one, with one Elastic IP).
    nat_gateways: u32 = 1, "gateways";
}

/// CPU architecture of a Lambda function or a Fargate task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// x86_64.
    X86_64,
    /// arm64 (AWS Graviton).
    Arm64,
}

impl Architecture {
    /// Both architectures, arm64 first.
    pub const ALL: [Architecture; 2] = [Architecture::Arm64, Architecture::X86_64];

    /// `x86_64` or `arm64`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What receives the HTTPS requests in front of a Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrontDoor {
    /// API Gateway HTTP API (payload v2).
    HttpApi,
    /// API Gateway REST API (payload v1).
    RestApi,
    /// An internet-facing Application Load Balancer with a Lambda target group.
    Alb,
    /// A Lambda function URL (no charge of its own).
    FunctionUrl,
}

impl FrontDoor {
    /// Every front door, in report order.
    pub const ALL: [FrontDoor; 4] = [
        FrontDoor::HttpApi,
        FrontDoor::RestApi,
        FrontDoor::Alb,
        FrontDoor::FunctionUrl,
    ];

    /// Human name, e.g. `HTTP API`.
    pub fn name(self) -> &'static str {
        match self {
            FrontDoor::HttpApi => "HTTP API",
            FrontDoor::RestApi => "REST API",
            FrontDoor::Alb => "ALB",
            FrontDoor::FunctionUrl => "Function URL",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            FrontDoor::HttpApi => "http-api",
            FrontDoor::RestApi => "rest-api",
            FrontDoor::Alb => "alb",
            FrontDoor::FunctionUrl => "function-url",
        }
    }
}

impl fmt::Display for FrontDoor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How Fargate tasks reach the internet (the OAuth providers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Egress {
    /// Private subnets and NAT gateways (`egress_mode = "nat"`).
    NatGateway,
    /// A public IPv4 address on every task (`egress_mode = "public_ip"`).
    PublicIp,
}

impl Egress {
    /// Human name, e.g. `NAT gateway`.
    pub fn name(self) -> &'static str {
        match self {
            Egress::NatGateway => "NAT gateway",
            Egress::PublicIp => "public IP",
        }
    }
}

/// One deployment option of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeploymentOption {
    /// `apuntador-lambda` on AWS Lambda.
    Lambda {
        /// Configured memory in MB.
        memory_mb: u32,
        /// CPU architecture.
        architecture: Architecture,
        /// What receives the requests.
        front_door: FrontDoor,
    },
    /// `apuntador-server` on ECS Fargate behind an internal ALB and an HTTP API (VPC link).
    Fargate {
        /// CPU architecture.
        architecture: Architecture,
        /// Whether tasks beyond `fargate_spot_on_demand_base` run on Fargate Spot.
        spot: bool,
        /// How tasks reach the internet.
        egress: Egress,
    },
}

impl DeploymentOption {
    /// Every option of the comparison, in report order: the 24 Lambda options (by front door,
    /// architecture, memory), then the 6 Fargate options (arm64, x86_64, x86_64 Spot; NAT, public IP).
    pub fn all() -> Vec<DeploymentOption> {
        let mut options = Vec::new();
        for front_door in FrontDoor::ALL {
            for architecture in Architecture::ALL {
                for memory_mb in LAMBDA_MEMORY_SIZES_MB {
                    options.push(DeploymentOption::Lambda {
                        memory_mb,
                        architecture,
                        front_door,
                    });
                }
            }
        }
        for (architecture, spot) in [
            (Architecture::Arm64, false),
            (Architecture::X86_64, false),
            (Architecture::X86_64, true),
        ] {
            for egress in [Egress::NatGateway, Egress::PublicIp] {
                options.push(DeploymentOption::Fargate {
                    architecture,
                    spot,
                    egress,
                });
            }
        }
        options
    }

    /// Whether this is a Fargate option.
    pub fn is_fargate(&self) -> bool {
        matches!(self, DeploymentOption::Fargate { .. })
    }

    /// A stable identifier, e.g. `lambda-arm64-128mb-http-api` or `fargate-x86_64-spot-nat`.
    pub fn id(&self) -> String {
        match *self {
            DeploymentOption::Lambda {
                memory_mb,
                architecture,
                front_door,
            } => format!("lambda-{architecture}-{memory_mb}mb-{}", front_door.slug()),
            DeploymentOption::Fargate {
                architecture,
                spot,
                egress,
            } => format!(
                "fargate-{architecture}{}-{}",
                if spot { "-spot" } else { "" },
                match egress {
                    Egress::NatGateway => "nat",
                    Egress::PublicIp => "public-ip",
                }
            ),
        }
    }

    /// A human label, e.g. `Lambda arm64 128 MB, HTTP API` or `Fargate x86_64 Spot, NAT gateway`.
    pub fn label(&self) -> String {
        match *self {
            DeploymentOption::Lambda {
                memory_mb,
                architecture,
                front_door,
            } => format!("Lambda {architecture} {memory_mb} MB, {front_door}"),
            DeploymentOption::Fargate {
                architecture,
                spot,
                egress,
            } => format!(
                "Fargate {architecture}{}, {}",
                if spot { " Spot" } else { "" },
                egress.name()
            ),
        }
    }
}

impl fmt::Display for DeploymentOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The monthly cost of one option at one volume, by component, in the price table's currency.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CostBreakdown {
    /// Lambda warm billed duration, or Fargate task-hours.
    pub compute: f64,
    /// Lambda INIT duration billed on cold starts (the extra over a warm invocation).
    pub cold_start: f64,
    /// Lambda request charge.
    pub requests: f64,
    /// API Gateway per-request charge (and VPC link hours).
    pub front_door: f64,
    /// Application Load Balancer hours, LCUs and, when internet-facing, its public IPv4 addresses.
    pub load_balancer: f64,
    /// Interface VPC endpoints, NAT gateway (hours, its Elastic IP, per GB) or task public IPv4 addresses.
    pub network: f64,
}

impl CostBreakdown {
    /// The sum of every component.
    pub fn total(&self) -> f64 {
        self.compute
            + self.cold_start
            + self.requests
            + self.front_door
            + self.load_balancer
            + self.network
    }
}

/// Where a Lambda option's cost curve crosses a Fargate option's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crossing {
    /// Lambda is cheaper below this monthly volume and no cheaper from it on.
    At(f64),
    /// Lambda is cheaper across the whole [`BREAK_EVEN_SEARCH_RANGE`].
    LambdaCheaperThroughout,
    /// Lambda is no cheaper even at the bottom of the [`BREAK_EVEN_SEARCH_RANGE`].
    FargateCheaperThroughout,
}

/// The break-even of one Lambda option against one Fargate option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakEven {
    /// The Lambda option.
    pub lambda: DeploymentOption,
    /// The Fargate option (the floor, for [`CostModel::front_door_break_evens`]).
    pub fargate: DeploymentOption,
    /// Where the two cost curves cross.
    pub crossing: Crossing,
}

/// The cost model: prices, measured figures and assumptions.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    /// The price table.
    pub prices: Prices,
    /// The measured figures.
    pub measurements: Measurements,
    /// The modelling assumptions.
    pub assumptions: Assumptions,
}

/// `value` rounded up to a whole number of `granularity` (a hair of tolerance so that 2.0000000001 ms
/// from floating-point noise bills as 2 ms, not 3).
fn ceil_to(value: f64, granularity: f64) -> f64 {
    let units = (value / granularity - 1e-9).ceil().max(1.0);
    units * granularity
}

impl CostModel {
    /// A model from its three inputs.
    pub fn new(prices: Prices, measurements: Measurements, assumptions: Assumptions) -> Self {
        Self {
            prices,
            measurements,
            assumptions,
        }
    }

    fn seconds_per_month(&self) -> f64 {
        self.assumptions.hours_per_month * 3600.0
    }

    /// Share of one vCPU a Lambda function of `memory_mb` gets (capped at 1: the handler is
    /// single-threaded, so more cores do not shorten it).
    pub fn lambda_cpu_share(&self, memory_mb: u32) -> f64 {
        (f64::from(memory_mb) / self.assumptions.lambda_full_core_memory_mb).min(1.0)
    }

    /// Billed duration of a warm invocation at `memory_mb`, in milliseconds.
    pub fn lambda_billed_ms(&self, memory_mb: u32) -> f64 {
        let cpu_ms = self.measurements.lambda_handler_ms / self.lambda_cpu_share(memory_mb);
        ceil_to(
            cpu_ms + self.assumptions.lambda_io_wait_ms,
            self.prices.lambda.billing_granularity_ms,
        )
    }

    /// Billed duration of a cold invocation (INIT plus the invocation) at `memory_mb`, in milliseconds.
    pub fn lambda_billed_cold_ms(&self, memory_mb: u32) -> f64 {
        let cpu_ms = (self.measurements.lambda_init_ms + self.measurements.lambda_handler_ms)
            / self.lambda_cpu_share(memory_mb);
        ceil_to(
            cpu_ms + self.assumptions.lambda_io_wait_ms,
            self.prices.lambda.billing_granularity_ms,
        )
    }

    /// Whether the measured peak RSS fits in `memory_mb` (a smaller size would fail, not just be slow).
    pub fn lambda_fits(&self, memory_mb: u32) -> bool {
        self.measurements.lambda_peak_rss_mb < f64::from(memory_mb)
    }

    /// Requests per second one Fargate task is allowed at the peak: measured per-vCPU throughput ×
    /// task vCPU × (1 − headroom).
    pub fn fargate_task_capacity_rps(&self) -> f64 {
        self.measurements.server_req_per_s_per_vcpu
            * self.assumptions.fargate_task_vcpu
            * (1.0 - self.assumptions.fargate_headroom)
    }

    /// Fargate tasks needed for `requests` per month: sized for the peak rate, never below the minimum.
    pub fn fargate_tasks(&self, requests: f64) -> u32 {
        let peak_rps = requests / self.seconds_per_month() * self.assumptions.peak_to_average;
        let needed = (peak_rps / self.fargate_task_capacity_rps() - 1e-9)
            .ceil()
            .max(0.0);
        let needed = if needed >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            needed as u32
        };
        needed.max(self.assumptions.fargate_min_tasks)
    }

    /// LCU-hours per month of an ALB serving `requests`, with `gb_per_lcu_hour` the processed-bytes
    /// dimension of the target type; the larger of the new-connection and processed-bytes dimensions
    /// (active connections and rule evaluations stay far below one LCU for this service).
    fn alb_lcu_hours(&self, requests: f64, gb_per_lcu_hour: f64) -> f64 {
        let assumptions = &self.assumptions;
        let hours = assumptions.hours_per_month;
        let mean_rps = requests / self.seconds_per_month();
        let connections = mean_rps * assumptions.new_connections_per_request
            / self.prices.alb.lcu_new_connections_per_second;
        let bytes_per_request =
            assumptions.mean_request_bytes + self.measurements.mean_response_bytes;
        let gb_per_hour = requests * bytes_per_request / BYTES_PER_GB / hours;
        let processed = gb_per_hour / gb_per_lcu_hour;
        connections.max(processed) * hours
    }

    /// Monthly cost of `option` at `requests` per month, by component.
    pub fn breakdown(&self, option: DeploymentOption, requests: f64) -> CostBreakdown {
        match option {
            DeploymentOption::Lambda {
                memory_mb,
                architecture,
                front_door,
            } => self.lambda_breakdown(memory_mb, architecture, front_door, requests),
            DeploymentOption::Fargate {
                architecture,
                spot,
                egress,
            } => self.fargate_breakdown(architecture, spot, egress, requests),
        }
    }

    fn lambda_breakdown(
        &self,
        memory_mb: u32,
        architecture: Architecture,
        front_door: FrontDoor,
        requests: f64,
    ) -> CostBreakdown {
        let prices = &self.prices;
        let hours = self.assumptions.hours_per_month;
        let gb_second =
            f64::from(memory_mb) / 1024.0 / 1000.0 * prices.lambda.per_gb_second.get(architecture);
        let warm_ms = self.lambda_billed_ms(memory_mb);
        let cold_extra_ms = self.lambda_billed_cold_ms(memory_mb) - warm_ms;
        let per_million = requests / 1e6;
        let front_door_charge = match front_door {
            FrontDoor::HttpApi => per_million * prices.api_gateway.http_api_per_million_requests,
            FrontDoor::RestApi => per_million * prices.api_gateway.rest_api_per_million_requests,
            FrontDoor::Alb | FrontDoor::FunctionUrl => 0.0,
        };
        let load_balancer = match front_door {
            FrontDoor::Alb => {
                hours * prices.alb.per_hour
                    + self.alb_lcu_hours(requests, prices.alb.lcu_gb_per_hour_lambda_targets)
                        * prices.alb.per_lcu_hour
                    + f64::from(self.assumptions.availability_zones)
                        * hours
                        * prices.public_ipv4.per_hour
            }
            _ => 0.0,
        };
        CostBreakdown {
            compute: requests * warm_ms * gb_second,
            cold_start: requests
                * self.assumptions.lambda_cold_start_rate
                * cold_extra_ms
                * gb_second,
            requests: per_million * prices.lambda.per_million_requests,
            front_door: front_door_charge,
            load_balancer,
            network: 0.0,
        }
    }

    fn fargate_breakdown(
        &self,
        architecture: Architecture,
        spot: bool,
        egress: Egress,
        requests: f64,
    ) -> CostBreakdown {
        let prices = &self.prices;
        let assumptions = &self.assumptions;
        let hours = assumptions.hours_per_month;
        let tasks = self.fargate_tasks(requests);
        let task_hour = assumptions.fargate_task_vcpu
            * prices.fargate.per_vcpu_hour.get(architecture)
            + assumptions.fargate_task_memory_gb * prices.fargate.per_gb_hour.get(architecture);
        let (on_demand, spot_tasks) = if spot {
            let on_demand = tasks.min(assumptions.fargate_spot_on_demand_base);
            (on_demand, tasks - on_demand)
        } else {
            (tasks, 0)
        };
        let task_hours =
            f64::from(on_demand) + f64::from(spot_tasks) * (1.0 - prices.fargate.spot_discount);
        let endpoints = f64::from(assumptions.fargate_interface_endpoints)
            * f64::from(assumptions.availability_zones)
            * hours
            * prices.vpc_interface_endpoint.per_az_hour
            + requests * assumptions.endpoint_bytes_per_request / BYTES_PER_GB
                * prices.vpc_interface_endpoint.per_gb;
        let egress_cost = match egress {
            Egress::NatGateway => {
                f64::from(assumptions.nat_gateways)
                    * hours
                    * (prices.nat_gateway.per_hour + prices.public_ipv4.per_hour)
                    + requests * assumptions.egress_bytes_per_request / BYTES_PER_GB
                        * prices.nat_gateway.per_gb
            }
            Egress::PublicIp => f64::from(tasks) * hours * prices.public_ipv4.per_hour,
        };
        CostBreakdown {
            compute: task_hours * task_hour * hours,
            cold_start: 0.0,
            requests: 0.0,
            front_door: requests / 1e6 * prices.api_gateway.http_api_per_million_requests
                + hours * prices.api_gateway.http_api_vpc_link_per_hour,
            load_balancer: hours * prices.alb.per_hour
                + self.alb_lcu_hours(requests, prices.alb.lcu_gb_per_hour_instance_ip_targets)
                    * prices.alb.per_lcu_hour,
            network: endpoints + egress_cost,
        }
    }

    /// Monthly cost of `option` at `requests` per month.
    pub fn monthly_cost(&self, option: DeploymentOption, requests: f64) -> f64 {
        self.breakdown(option, requests).total()
    }

    /// The Fargate floor: the Fargate option of [`DeploymentOption::all`] that costs least at its
    /// minimum size (minimum task count, no traffic). Ties go to the first in report order.
    pub fn fargate_floor(&self) -> DeploymentOption {
        let mut best: Option<(DeploymentOption, f64)> = None;
        for option in DeploymentOption::all()
            .into_iter()
            .filter(DeploymentOption::is_fargate)
        {
            let cost = self.monthly_cost(option, 0.0);
            if best.is_none_or(|(_, best_cost)| cost < best_cost) {
                best = Some((option, cost));
            }
        }
        best.map(|(option, _)| option)
            .expect("all() has Fargate options")
    }

    /// The cheapest Lambda configuration (memory, architecture) behind `front_door` among those whose
    /// memory holds the measured peak RSS. All configurations behind one front door share its fixed
    /// costs, so the cheapest is the one with the lowest cost per request, compared at 1 B requests.
    /// `None` when no memory size fits.
    pub fn cheapest_lambda(&self, front_door: FrontDoor) -> Option<DeploymentOption> {
        let mut best: Option<(DeploymentOption, f64)> = None;
        for option in DeploymentOption::all() {
            let DeploymentOption::Lambda {
                memory_mb,
                front_door: door,
                ..
            } = option
            else {
                continue;
            };
            if door != front_door || !self.lambda_fits(memory_mb) {
                continue;
            }
            let cost = self.monthly_cost(option, 1e9);
            if best.is_none_or(|(_, best_cost)| cost < best_cost) {
                best = Some((option, cost));
            }
        }
        best.map(|(option, _)| option)
    }

    /// Where the cost curves of `lambda` and `fargate` cross: the lowest monthly volume in
    /// [`BREAK_EVEN_SEARCH_RANGE`] from which Lambda is no cheaper. Found by scanning 50 log-spaced
    /// volumes per decade for the first sign change of `lambda − fargate`, then bisecting that
    /// interval (in log space) to a relative width of 1e-12.
    pub fn break_even(&self, lambda: DeploymentOption, fargate: DeploymentOption) -> BreakEven {
        let difference = |requests: f64| {
            self.monthly_cost(lambda, requests) - self.monthly_cost(fargate, requests)
        };
        let (low, high) = BREAK_EVEN_SEARCH_RANGE;
        let result = |crossing| BreakEven {
            lambda,
            fargate,
            crossing,
        };
        if difference(low) >= 0.0 {
            return result(Crossing::FargateCheaperThroughout);
        }
        const STEPS_PER_DECADE: f64 = 50.0;
        let steps = ((high / low).log10() * STEPS_PER_DECADE).round() as i32;
        let mut below = low;
        for step in 1..=steps {
            let volume = low * 10f64.powf(f64::from(step) / STEPS_PER_DECADE);
            if difference(volume) >= 0.0 {
                let mut above = volume;
                while above / below - 1.0 > 1e-12 {
                    let middle = (below * above).sqrt();
                    if difference(middle) < 0.0 {
                        below = middle;
                    } else {
                        above = middle;
                    }
                }
                return result(Crossing::At(above));
            }
            below = volume;
        }
        result(Crossing::LambdaCheaperThroughout)
    }

    /// Each front door's break-even: its [`cheapest_lambda`](Self::cheapest_lambda) against the
    /// [`fargate_floor`](Self::fargate_floor), in [`FrontDoor::ALL`] order (front doors where no memory
    /// size fits are left out).
    pub fn front_door_break_evens(&self) -> Vec<BreakEven> {
        let floor = self.fargate_floor();
        FrontDoor::ALL
            .into_iter()
            .filter_map(|door| self.cheapest_lambda(door))
            .map(|lambda| self.break_even(lambda, floor))
            .collect()
    }
}

#[cfg(test)]
mod tests;
