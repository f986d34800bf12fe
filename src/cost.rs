//! The Lambda-or-Fargate cost model: what each shipped stack costs per month for a given traffic, line
//! by line as the AWS bill would show it, and where the two stacks cost the same.
//!
//! Pure functions over four inputs: the [`Prices`] of one region (one data file per region, every price
//! with its source and retrieval date), the [`Measurements`] of this build (benchmark figures, read from
//! JSON), the [`Assumptions`] (every modelling choice, a named field with a default and a doc comment
//! that the report prints; the measured ones say what measures them) and the stacks' switches
//! ([`LambdaStack`], [`FargateStack`], defaults = the example tfvars). [`report`] renders the Markdown
//! report and the per-option tables, [`chart`] the SVG chart; the `apuntador-cost` binary reads the
//! files and prints. This module does no I/O and depends on nothing else in the crate.
//!
//! The cost lines ([`CostModel::bill`]):
//!
//! - **Lambda**: requests; duration (billed ms = `ceil(handler_ms × max(1, 1769 / memory) + store calls ×
//!   dynamodb_round_trip_ms)`, plus INIT on the cold-start share of invocations); provisioned
//!   concurrency when set (the environments' GB-seconds all month, and the invocations they serve
//!   billed at the lower provisioned duration price instead, with no cold starts); HTTP API requests (one API serves both custom domains; API Gateway has no
//!   charge of its own for a custom domain); DynamoDB; Secrets Manager; CloudWatch Logs (the app's
//!   request log lines, Lambda's START/END/REPORT lines, the API's access log line); X-Ray traces at
//!   the default sampling rule (the first request each second, then 5%).
//! - **Fargate**: task-hours (`max(min_tasks, ceil(peak rate / (req/s per vCPU × vCPU × (1 − headroom))))`
//!   tasks held all month, Spot share at the Spot discount); HTTP API requests (two APIs, one VPC link,
//!   which has no hourly charge); the internal ALB's hours and LCUs; the NAT gateway's hours and data,
//!   or the tasks' public IPv4 addresses; the interface endpoints' hours per zone and data; DynamoDB;
//!   Secrets Manager; CloudWatch Logs (the app's lines and the access log line); X-Ray traces when
//!   telemetry is on (the app samples every request by default).
//!
//! The **break-even** of two options is the monthly volume where their cost curves cross
//! ([`CostModel::break_even`]): a log-spaced scan, then bisection.

pub mod chart;
mod measurements;
mod prices;
pub mod report;
mod stacks;

use std::fmt;

use serde::Deserialize;

pub use measurements::Measurements;
pub use prices::{FALLBACK_REGION, PRICE_KEYS, PriceEntry, Prices, REGIONS};
pub use stacks::{Architecture, CA_SECRETS, Deployment, Egress, FargateStack, LambdaStack, Mix};

/// Bytes in a GB, for data and log-ingestion charges (AWS bills data in binary gigabytes).
pub const BYTES_PER_GB: f64 = 1_073_741_824.0;

/// Monthly request volumes of the report's tables: 100 k, 1 M, 10 M, 100 M and 1 B.
pub const VOLUMES: [f64; 5] = [1e5, 1e6, 1e7, 1e8, 1e9];

/// Monthly volumes between which [`CostModel::break_even`] looks for a crossing.
pub const BREAK_EVEN_SEARCH_RANGE: (f64, f64) = (1e3, 1e11);

/// New connections per second that make one ALB LCU.
pub const ALB_LCU_NEW_CONNECTIONS_PER_SECOND: f64 = 25.0;

/// Processed GB per hour that make one ALB LCU for IP targets (Fargate).
pub const ALB_LCU_GB_PER_HOUR: f64 = 1.0;

/// Lambda's duration billing granularity, in milliseconds.
pub const LAMBDA_BILLING_GRANULARITY_MS: f64 = 1.0;

/// Why an input was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    /// The price table is not valid JSON of the expected shape, or a price is out of range.
    #[error("invalid price table: {0}")]
    InvalidPrices(String),
    /// The measurements are not valid JSON of the expected shape, or a figure is out of range.
    #[error("invalid measurements: {0}")]
    InvalidMeasurements(String),
    /// An assumption or a stack switch is out of range, or the assumptions file is not valid TOML.
    #[error("invalid assumptions: {0}")]
    InvalidAssumptions(String),
    /// The route mix is not `KIND=SHARE,...` with shares adding up to 1.
    #[error("invalid mix: {0}")]
    InvalidMix(String),
    /// A switch needs a price the table does not have.
    #[error("cannot price this option: {0}")]
    MissingPrice(String),
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
        /// printed in the report by [`Assumptions::describe`]. A TOML `[assumptions]` table may
        /// override any of them by name.
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
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

            /// Sets the assumption `name` from text (`--set name=value`).
            pub fn set(&mut self, name: &str, value: &str) -> Result<(), CostError> {
                match name {
                    $( stringify!($name) => {
                        self.$name = value.trim().parse().map_err(|_| CostError::InvalidAssumptions(
                            format!("`{name}` needs a number, not `{value}`")))?;
                    } )*
                    _ => return Err(CostError::InvalidAssumptions(format!("unknown assumption `{name}`"))),
                }
                self.validate()
            }

            /// Every numeric assumption with its name, for validation.
            fn values(&self) -> Vec<(&'static str, f64)> {
                vec![$( (stringify!($name), f64::from(self.$name)), )*]
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
    /// Share of invocations that start a new execution environment (a cold start): each is billed
    /// for INIT (since 2025-08-01) and reads every secret once. A deliberately high figure: with
    /// Lambda keeping an idle environment about 10 minutes, idle gaps alone cause almost none at
    /// the volumes of the tables, so what is left is deployments, scale-out at peaks and AWS
    /// recycling environments (docs/lambda-or-fargate.md gives the arithmetic). Override it with
    /// `--set lambda_cold_start_rate=0.001`.
    lambda_cold_start_rate: f64 = 0.01, "fraction";
    /// Wait per DynamoDB call, added to the Lambda billed duration without CPU scaling (a same-region
    /// round trip; the benches run on the in-memory store, so the handler time does not include it).
    dynamodb_round_trip_ms: f64 = 5.0, "ms";
    /// Mean size of a request (headers and body); with the measured response size it makes the bytes
    /// the Fargate stack's ALB processes.
    mean_request_bytes: f64 = 800.0, "bytes";
    /// New connections to the ALB per request: the VPC link keeps connections alive.
    new_connections_per_request: f64 = 0.05, "connections";
    /// Share of a task's measured capacity left unused at the peak (the stack's CPU target of 60%).
    fargate_headroom: f64 = 0.4, "fraction";
    /// Peak request rate over the monthly mean; the Fargate task count is sized for the peak and held
    /// all month (no scale-in savings, which favours Lambda).
    peak_to_average: f64 = 3.0, "ratio";
    /// Task starts per task per month (deployments, Spot interruptions, scaling): each start reads
    /// every secret once.
    fargate_task_starts_per_month: f64 = 30.0, "starts";
    /// Bytes of a session item as the DynamoDB store writes it, counted by DynamoDB's item-size rule
    /// (attribute names + values). Measured on a real session by `scripts/with-moto cargo test
    /// --locked --test cost measured -- --nocapture` (it prints the figure and fails when this
    /// default is more than 5% away).
    session_item_bytes: f64 = 337.0, "bytes";
    /// Bytes of a certificate item as the DynamoDB store writes it (P-256 leaf PEM and attributes).
    /// Measured on a real enrolment by the same command.
    certificate_item_bytes: f64 = 1101.0, "bytes";
    /// Bytes the app logs per `oauth` request at LOG_LEVEL=info, JSON lines with their newline: the
    /// completion line of each request and the authorization event. Measured through the real
    /// router and log formatter by the same command.
    oauth_log_bytes_per_request: f64 = 358.0, "bytes";
    /// Bytes the app logs per `device` request: the completion lines plus the enrolment and renewal
    /// events (not the once-per-process "certificate authority loaded" line). Measured by the same
    /// command.
    device_log_bytes_per_request: f64 = 518.0, "bytes";
    /// Bytes the app logs per `other` request (health checks log at debug: nothing at info).
    other_log_bytes_per_request: f64 = 0.0, "bytes";
    /// Bytes of Lambda's own log records per invocation in the JSON log format the stack sets (system
    /// log level INFO): `platform.start` and `platform.report` with its metrics and X-Ray trace
    /// (example records, sized in the unit tests; the Text format's START/END/REPORT lines are 355).
    lambda_platform_log_bytes: f64 = 519.0, "bytes";
    /// Bytes of the HTTP API's access log line per request: the JSON format of iac/modules/http_api
    /// (request id, time, domain, method, path, status, latency, integration error, source IP,
    /// certificate serial), an example line for `POST /oauth/authorize/googledrive` on the public
    /// door, sized in the unit tests.
    access_log_bytes: f64 = 241.0, "bytes";
    /// Fixed rate of the X-Ray default sampling rule beyond the reservoir (Lambda active tracing).
    xray_fixed_rate: f64 = 0.05, "fraction";
    /// Requests per second the X-Ray default rule traces before the fixed rate applies.
    xray_reservoir_per_second: f64 = 1.0, "requests/s";
    /// Share of requests the app traces on Fargate with telemetry on (OTEL_TRACES_SAMPLER_ARG, default 1).
    fargate_trace_ratio: f64 = 1.0, "fraction";
    /// Bytes of trace data per traced request sent through the X-Ray endpoint (Fargate telemetry).
    trace_bytes: f64 = 1500.0, "bytes";
    /// Mean bytes an `oauth` request exchanges with the provider (the token call of each login, spread
    /// over its three requests), through the NAT gateway on Fargate.
    provider_bytes_per_oauth_request: f64 = 2000.0, "bytes";
}

impl Assumptions {
    /// Checks every assumption is finite and in range.
    pub fn validate(&self) -> Result<(), CostError> {
        for (name, value) in self.values() {
            if !value.is_finite() || value < 0.0 {
                return Err(CostError::InvalidAssumptions(format!(
                    "`{name}` must be a finite, non-negative number, not {value}"
                )));
            }
        }
        for (name, value) in [
            ("hours_per_month", self.hours_per_month),
            (
                "lambda_full_core_memory_mb",
                self.lambda_full_core_memory_mb,
            ),
            ("peak_to_average", self.peak_to_average),
        ] {
            if value <= 0.0 {
                return Err(CostError::InvalidAssumptions(format!(
                    "`{name}` must be positive"
                )));
            }
        }
        for (name, value) in [
            ("lambda_cold_start_rate", self.lambda_cold_start_rate),
            ("xray_fixed_rate", self.xray_fixed_rate),
            ("fargate_trace_ratio", self.fargate_trace_ratio),
        ] {
            if value > 1.0 {
                return Err(CostError::InvalidAssumptions(format!(
                    "`{name}` is a fraction: at most 1"
                )));
            }
        }
        if self.fargate_headroom >= 1.0 {
            return Err(CostError::InvalidAssumptions(
                "`fargate_headroom` must be below 1".into(),
            ));
        }
        Ok(())
    }
}

/// One line of a monthly bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// What the line charges for, e.g. `HTTP API requests`.
    pub name: &'static str,
    /// The quantity and price it was computed from, e.g. `3.00 M requests × $1.00 per 1M`.
    pub detail: String,
    /// Monthly amount.
    pub amount: f64,
    /// The price keys the line uses.
    pub prices: Vec<String>,
}

/// The monthly bill of one option at one traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    /// Requests per month.
    pub requests: f64,
    /// The lines, in bill order.
    pub lines: Vec<Line>,
}

impl Bill {
    /// The sum of every line.
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|line| line.amount).sum()
    }

    /// The amount of the line called `name` (0 when the bill has no such line).
    pub fn line(&self, name: &str) -> f64 {
        self.lines
            .iter()
            .filter(|line| line.name == name)
            .map(|line| line.amount)
            .sum()
    }

    /// The `n` largest lines, largest first.
    pub fn largest(&self, n: usize) -> Vec<&Line> {
        let mut lines: Vec<&Line> = self.lines.iter().collect();
        lines.sort_by(|a, b| b.amount.total_cmp(&a.amount));
        lines.truncate(n);
        lines
    }
}

/// Where two cost curves cross.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crossing {
    /// The first option is cheaper below this monthly volume and no cheaper from it on.
    At(f64),
    /// The first option is cheaper across the whole [`BREAK_EVEN_SEARCH_RANGE`].
    FirstCheaperThroughout,
    /// The first option is no cheaper even at the bottom of the [`BREAK_EVEN_SEARCH_RANGE`].
    SecondCheaperThroughout,
}

/// DynamoDB request units and calls per request of one kind of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StoreUse {
    /// Read request units per request (strongly consistent reads, as the store makes them).
    pub read_units: f64,
    /// Write request units per request (transactional writes count twice).
    pub write_units: f64,
    /// DynamoDB calls per request.
    pub calls: f64,
}

/// Write request units of one standard write of an item of `bytes`: one per started KB.
pub fn write_units(bytes: f64) -> f64 {
    (bytes / 1024.0 - 1e-9).ceil().max(1.0)
}

/// Read request units of one strongly consistent read of `bytes` in all: one per started 4 KB, at
/// least one (an empty query still costs one).
pub fn read_units(bytes: f64) -> f64 {
    (bytes / 4096.0 - 1e-9).ceil().max(1.0)
}

/// `value` rounded up to a whole number of `granularity` (with a hair of tolerance for float noise).
fn ceil_to(value: f64, granularity: f64) -> f64 {
    let units = (value / granularity - 1e-9).ceil().max(1.0);
    units * granularity
}

/// The cost model: prices, measured figures, assumptions and the route mix.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    /// The price table.
    pub prices: Prices,
    /// The measured figures.
    pub measurements: Measurements,
    /// The modelling assumptions.
    pub assumptions: Assumptions,
    /// The share of each kind of traffic.
    pub mix: Mix,
}

impl CostModel {
    /// A model from its inputs.
    pub fn new(
        prices: Prices,
        measurements: Measurements,
        assumptions: Assumptions,
        mix: Mix,
    ) -> Self {
        Self {
            prices,
            measurements,
            assumptions,
            mix,
        }
    }

    fn seconds_per_month(&self) -> f64 {
        self.assumptions.hours_per_month * 3600.0
    }

    fn price(&self, key: &str) -> f64 {
        self.prices.get(key)
    }

    /// Checks that `option` can be priced: a provisioned-concurrency price exists when it is set,
    /// and the switches are in range.
    pub fn check(&self, option: &Deployment) -> Result<(), CostError> {
        match option {
            Deployment::Lambda(stack) => {
                if !(128..=10240).contains(&stack.memory_mb) {
                    return Err(CostError::InvalidAssumptions(
                        "Lambda memory_mb must be between 128 and 10240".into(),
                    ));
                }
                if stack.provisioned_concurrency > 0 {
                    for prefix in [
                        "lambda.provisioned_gb_second",
                        "lambda.provisioned_duration_gb_second",
                    ] {
                        let key = Prices::per_architecture(prefix, stack.architecture);
                        if self.prices.try_get(&key).is_none() {
                            return Err(CostError::MissingPrice(format!(
                                "provisioned concurrency on {} needs `{key}`, which the {} price \
                                 table does not have (no source was found for it); pass --prices \
                                 FILE with it, or price the x86_64 function (--lambda-arch x86_64)",
                                stack.architecture, self.prices.region
                            )));
                        }
                    }
                }
            }
            Deployment::Fargate(stack) => {
                if stack.cpu_units == 0 || stack.memory_mib == 0 || stack.availability_zones == 0 {
                    return Err(CostError::InvalidAssumptions(
                        "Fargate cpu_units, memory_mib and availability_zones must be positive"
                            .into(),
                    ));
                }
                if stack.uses_spot() && stack.spot_fargate_weight + stack.spot_weight == 0 {
                    return Err(CostError::InvalidAssumptions(
                        "Spot weights must not both be 0".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    // --- Traffic --------------------------------------------------------------------------------

    /// DynamoDB use per request of each kind (oauth, device, other), from the measured item sizes and
    /// the store calls each flow makes (see [`Mix`]).
    pub fn store_use(&self) -> [StoreUse; 3] {
        let session = self.assumptions.session_item_bytes;
        let certificate = self.assumptions.certificate_item_bytes;
        // OAuth login (3 requests): put the session, read it (strongly consistent), delete it (a
        // delete costs write units by the size of the deleted item).
        let oauth = StoreUse {
            read_units: read_units(session) / 3.0,
            write_units: 2.0 * write_units(session) / 3.0,
            // Three calls (put, get, delete) over three requests.
            calls: 1.0,
        };
        // Device (3 requests). Enrol: query the device's records (none), transactional put (2× units),
        // query again (one item). Status: read the presented certificate's record. Renew: read the
        // record, query (one item), transactional put of the new record and update of the old one,
        // query (two items).
        let reads = read_units(0.0)
            + read_units(certificate)
            + read_units(certificate)
            + read_units(certificate)
            + read_units(certificate)
            + read_units(2.0 * certificate);
        let writes = 2.0 * write_units(certificate) + 2.0 * 2.0 * write_units(certificate);
        let device = StoreUse {
            read_units: reads / 3.0,
            write_units: writes / 3.0,
            calls: 8.0 / 3.0,
        };
        [oauth, device, StoreUse::default()]
    }

    /// DynamoDB use per request, averaged over the mix.
    pub fn mean_store_use(&self) -> StoreUse {
        let [oauth, device, other] = self.store_use();
        let mix = self.mix;
        let mean = |f: fn(&StoreUse) -> f64| {
            mix.oauth * f(&oauth) + mix.device * f(&device) + mix.other * f(&other)
        };
        StoreUse {
            read_units: mean(|u| u.read_units),
            write_units: mean(|u| u.write_units),
            calls: mean(|u| u.calls),
        }
    }

    /// Bytes the app logs per request, averaged over the mix.
    pub fn app_log_bytes(&self) -> f64 {
        let a = &self.assumptions;
        self.mix.oauth * a.oauth_log_bytes_per_request
            + self.mix.device * a.device_log_bytes_per_request
            + self.mix.other * a.other_log_bytes_per_request
    }

    // --- Lambda ---------------------------------------------------------------------------------

    /// Share of one vCPU a Lambda function of `memory_mb` gets (capped at 1: the handler is
    /// single-threaded).
    pub fn lambda_cpu_share(&self, memory_mb: u32) -> f64 {
        (f64::from(memory_mb) / self.assumptions.lambda_full_core_memory_mb).min(1.0)
    }

    /// Time per invocation spent waiting on DynamoDB, averaged over the mix, in milliseconds.
    pub fn lambda_io_wait_ms(&self) -> f64 {
        self.mean_store_use().calls * self.assumptions.dynamodb_round_trip_ms
    }

    /// Billed duration of a warm invocation at `memory_mb`, in milliseconds.
    pub fn lambda_billed_ms(&self, memory_mb: u32) -> f64 {
        let cpu_ms = self.measurements.lambda_handler_ms / self.lambda_cpu_share(memory_mb);
        ceil_to(
            cpu_ms + self.lambda_io_wait_ms(),
            LAMBDA_BILLING_GRANULARITY_MS,
        )
    }

    /// Billed duration of a cold invocation (INIT plus the invocation) at `memory_mb`, in milliseconds.
    pub fn lambda_billed_cold_ms(&self, memory_mb: u32) -> f64 {
        let cpu_ms = (self.measurements.lambda_init_ms + self.measurements.lambda_handler_ms)
            / self.lambda_cpu_share(memory_mb);
        ceil_to(
            cpu_ms + self.lambda_io_wait_ms(),
            LAMBDA_BILLING_GRANULARITY_MS,
        )
    }

    /// Traces X-Ray records for `requests` a month under the default rule: in each second with at
    /// least one request the first is traced (the reservoir), then `xray_fixed_rate` of the rest.
    /// Arrivals are taken as Poisson at the mean rate λ, so a second holds a request with probability
    /// 1 − e^(−λ) (for a reservoir of one per second; a larger reservoir scales it).
    pub fn lambda_traces(&self, requests: f64) -> f64 {
        let seconds = self.seconds_per_month();
        let rate = requests / seconds;
        let reservoir = self.assumptions.xray_reservoir_per_second;
        let by_reservoir =
            (seconds * reservoir * (1.0 - (-rate / reservoir.max(1e-12)).exp())).min(requests);
        by_reservoir + self.assumptions.xray_fixed_rate * (requests - by_reservoir)
    }

    /// Share of invocations served by the provisioned execution environments of `stack` at
    /// `requests` a month: the provisioned environments over the concurrency needed at the peak
    /// (peak rate × warm billed duration), at most 1. Sized against the peak, so it is a lower bound:
    /// off the peak more of the traffic fits. 0 without provisioned concurrency.
    pub fn lambda_provisioned_share(&self, stack: &LambdaStack, requests: f64) -> f64 {
        if stack.provisioned_concurrency == 0 {
            return 0.0;
        }
        let peak_rps = requests / self.seconds_per_month() * self.assumptions.peak_to_average;
        let peak_concurrency = peak_rps * self.lambda_billed_ms(stack.memory_mb) / 1000.0;
        if peak_concurrency <= 0.0 {
            return 1.0;
        }
        (f64::from(stack.provisioned_concurrency) / peak_concurrency).min(1.0)
    }

    /// Execution-environment starts a month on `stack`: the cold-start share of the invocations the
    /// provisioned environments do not serve.
    pub fn lambda_cold_starts(&self, stack: &LambdaStack, requests: f64) -> f64 {
        requests
            * (1.0 - self.lambda_provisioned_share(stack, requests))
            * self.assumptions.lambda_cold_start_rate
    }

    fn lambda_bill(&self, stack: &LambdaStack, requests: f64) -> Bill {
        let a = &self.assumptions;
        let million = requests / 1e6;
        let memory_gb = f64::from(stack.memory_mb) / 1024.0;
        let gb_second_key = Prices::per_architecture("lambda.gb_second", stack.architecture);
        let gb_second = self.price(&gb_second_key);
        let warm_ms = self.lambda_billed_ms(stack.memory_mb);
        let cold_extra_ms = self.lambda_billed_cold_ms(stack.memory_mb) - warm_ms;
        let provisioned_share = self.lambda_provisioned_share(stack, requests);
        let on_demand = requests * (1.0 - provisioned_share);
        let billed_seconds =
            on_demand * (warm_ms + a.lambda_cold_start_rate * cold_extra_ms) / 1000.0;
        let mut lines = vec![
            Line {
                name: "Lambda requests",
                detail: format!(
                    "{} M invocations × ${} per 1M",
                    fmt_qty(million),
                    self.price("lambda.requests_per_million")
                ),
                amount: million * self.price("lambda.requests_per_million"),
                prices: vec!["lambda.requests_per_million".into()],
            },
            Line {
                name: "Lambda duration",
                detail: format!(
                    "{}{warm_ms} ms warm (+{cold_extra_ms} ms INIT on {} of invocations, the \
                     cold-start share) × {} GB × ${gb_second} per GB-s",
                    if stack.provisioned_concurrency > 0 {
                        format!("{} M on-demand invocations × ", fmt_qty(on_demand / 1e6))
                    } else {
                        String::new()
                    },
                    a.lambda_cold_start_rate,
                    memory_gb
                ),
                amount: billed_seconds * memory_gb * gb_second,
                prices: vec![gb_second_key],
            },
        ];
        if stack.provisioned_concurrency > 0 {
            let key = Prices::per_architecture("lambda.provisioned_gb_second", stack.architecture);
            let price = self.price(&key);
            lines.push(Line {
                name: "Lambda provisioned concurrency",
                detail: format!(
                    "{} environments × {memory_gb} GB × {} s × ${price} per GB-s",
                    stack.provisioned_concurrency,
                    self.seconds_per_month()
                ),
                amount: f64::from(stack.provisioned_concurrency)
                    * memory_gb
                    * self.seconds_per_month()
                    * price,
                prices: vec![key],
            });
            let key = Prices::per_architecture(
                "lambda.provisioned_duration_gb_second",
                stack.architecture,
            );
            let price = self.price(&key);
            let provisioned = requests * provisioned_share;
            lines.push(Line {
                name: "Lambda provisioned duration",
                detail: format!(
                    "{} M invocations on provisioned environments ({:.1}% of all) × {warm_ms} ms × \
                     {memory_gb} GB × ${price} per GB-s",
                    fmt_qty(provisioned / 1e6),
                    provisioned_share * 100.0
                ),
                amount: provisioned * warm_ms / 1000.0 * memory_gb * price,
                prices: vec![key],
            });
        }
        lines.push(self.http_api_line(requests, "one HTTP API, two custom domains"));
        lines.extend(self.dynamodb_lines(requests));
        let secrets = stack.secrets();
        lines.extend(self.secrets_lines(
            secrets,
            self.lambda_cold_starts(stack, requests),
            "execution-environment starts",
        ));
        let log_bytes = self.app_log_bytes() + a.lambda_platform_log_bytes + a.access_log_bytes;
        lines.push(self.logs_line(
            requests,
            log_bytes,
            format!(
                "app {:.0} + Lambda {:.0} + access log {:.0} bytes per request",
                self.app_log_bytes(),
                a.lambda_platform_log_bytes,
                a.access_log_bytes
            ),
        ));
        if stack.tracing {
            lines.push(self.xray_line(self.lambda_traces(requests), "default rule: 1/s + 5%"));
        }
        Bill { requests, lines }
    }

    // --- Fargate --------------------------------------------------------------------------------

    /// Requests per second one task may take at the peak: measured per-vCPU throughput × task vCPU ×
    /// (1 − headroom).
    pub fn fargate_task_capacity_rps(&self, stack: &FargateStack) -> f64 {
        self.measurements.server_req_per_s_per_vcpu
            * stack.vcpu()
            * (1.0 - self.assumptions.fargate_headroom)
    }

    /// Tasks needed for `requests` per month: sized for the peak rate, never below the minimum.
    pub fn fargate_tasks(&self, stack: &FargateStack, requests: f64) -> u32 {
        let peak_rps = requests / self.seconds_per_month() * self.assumptions.peak_to_average;
        let needed = (peak_rps / self.fargate_task_capacity_rps(stack) - 1e-9)
            .ceil()
            .max(0.0);
        let needed = if needed >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            needed as u32
        };
        needed.max(stack.min_tasks)
    }

    /// LCU-hours per month of the internal ALB serving `requests`: the larger of the new-connection and
    /// processed-bytes dimensions (active connections and rule evaluations stay far below one LCU).
    pub fn alb_lcu_hours(&self, requests: f64) -> f64 {
        let a = &self.assumptions;
        let hours = a.hours_per_month;
        let mean_rps = requests / self.seconds_per_month();
        let connections =
            mean_rps * a.new_connections_per_request / ALB_LCU_NEW_CONNECTIONS_PER_SECOND;
        let bytes = a.mean_request_bytes + self.measurements.mean_response_bytes;
        let processed = requests * bytes / BYTES_PER_GB / hours / ALB_LCU_GB_PER_HOUR;
        connections.max(processed) * hours
    }

    fn fargate_bill(&self, stack: &FargateStack, requests: f64) -> Bill {
        let a = &self.assumptions;
        let hours = a.hours_per_month;
        let tasks = self.fargate_tasks(stack, requests);
        let (on_demand, spot) = stack.spot_split(tasks);
        let vcpu_key = Prices::per_architecture("fargate.vcpu_hour", stack.architecture);
        let gb_key = Prices::per_architecture("fargate.gb_hour", stack.architecture);
        let task_hour =
            stack.vcpu() * self.price(&vcpu_key) + stack.memory_gb() * self.price(&gb_key);
        let discount = self.price("fargate.spot_discount");
        let mut task_prices = vec![vcpu_key, gb_key];
        if spot > 0.0 {
            task_prices.push("fargate.spot_discount".into());
        }
        let mut lines = vec![Line {
            name: "Fargate tasks",
            detail: format!(
                "{tasks} tasks ({} on demand, {} Spot at {}% off) × {hours} h × ${task_hour:.6} per task-hour",
                fmt_qty(on_demand),
                fmt_qty(spot),
                discount * 100.0
            ),
            amount: (on_demand + spot * (1.0 - discount)) * hours * task_hour,
            prices: task_prices,
        }];
        lines.push(self.http_api_line(requests, "two HTTP APIs, one VPC link"));
        lines.push(Line {
            name: "Load balancer hours",
            detail: format!("internal ALB, {hours} h × ${}", self.price("alb.hour")),
            amount: hours * self.price("alb.hour"),
            prices: vec!["alb.hour".into()],
        });
        let lcu_hours = self.alb_lcu_hours(requests);
        lines.push(Line {
            name: "Load balancer capacity units",
            detail: format!(
                "{} LCU-hours × ${}",
                fmt_qty(lcu_hours),
                self.price("alb.lcu_hour")
            ),
            amount: lcu_hours * self.price("alb.lcu_hour"),
            prices: vec!["alb.lcu_hour".into()],
        });
        // Bytes to AWS service endpoints: the log lines and, with telemetry, the traces.
        let traced = if stack.telemetry {
            requests * a.fargate_trace_ratio
        } else {
            0.0
        };
        let service_bytes = requests * (self.app_log_bytes()) + traced * a.trace_bytes;
        let provider_bytes = requests * self.mix.oauth * a.provider_bytes_per_oauth_request;
        match stack.egress {
            Egress::NatGateway => {
                let nat_bytes = provider_bytes
                    + if stack.interface_endpoints {
                        0.0
                    } else {
                        service_bytes
                    };
                lines.push(Line {
                    name: "NAT gateway hours",
                    detail: format!(
                        "1 gateway × {hours} h × ${}",
                        self.price("vpc.nat_gateway_hour")
                    ),
                    amount: hours * self.price("vpc.nat_gateway_hour"),
                    prices: vec!["vpc.nat_gateway_hour".into()],
                });
                lines.push(Line {
                    name: "NAT gateway data",
                    detail: format!(
                        "{} GB × ${} (provider calls{})",
                        fmt_qty(nat_bytes / BYTES_PER_GB),
                        self.price("vpc.nat_gateway_gb"),
                        if stack.interface_endpoints {
                            ""
                        } else {
                            ", logs and traces"
                        }
                    ),
                    amount: nat_bytes / BYTES_PER_GB * self.price("vpc.nat_gateway_gb"),
                    prices: vec!["vpc.nat_gateway_gb".into()],
                });
                lines.push(Line {
                    name: "Public IPv4 addresses",
                    detail: format!(
                        "the NAT gateway's Elastic IP × {hours} h × ${}",
                        self.price("vpc.public_ipv4_hour")
                    ),
                    amount: hours * self.price("vpc.public_ipv4_hour"),
                    prices: vec!["vpc.public_ipv4_hour".into()],
                });
            }
            Egress::PublicIp => {
                lines.push(Line {
                    name: "Public IPv4 addresses",
                    detail: format!(
                        "{tasks} tasks × {hours} h × ${}",
                        self.price("vpc.public_ipv4_hour")
                    ),
                    amount: f64::from(tasks) * hours * self.price("vpc.public_ipv4_hour"),
                    prices: vec!["vpc.public_ipv4_hour".into()],
                });
            }
        }
        let endpoints = stack.interface_endpoint_count();
        if endpoints > 0 {
            let endpoint_hours = f64::from(endpoints * stack.availability_zones) * hours;
            let gb = service_bytes / BYTES_PER_GB;
            lines.push(Line {
                name: "Interface endpoints",
                detail: format!(
                    "{endpoints} endpoints × {} zones × {hours} h × ${} + {} GB × ${}",
                    stack.availability_zones,
                    self.price("vpc.interface_endpoint_az_hour"),
                    fmt_qty(gb),
                    self.price("vpc.interface_endpoint_gb")
                ),
                amount: endpoint_hours * self.price("vpc.interface_endpoint_az_hour")
                    + gb * self.price("vpc.interface_endpoint_gb"),
                prices: vec![
                    "vpc.interface_endpoint_az_hour".into(),
                    "vpc.interface_endpoint_gb".into(),
                ],
            });
        }
        lines.extend(self.dynamodb_lines(requests));
        lines.extend(self.secrets_lines(
            stack.secrets(),
            f64::from(tasks) * a.fargate_task_starts_per_month,
            "task starts",
        ));
        lines.push(self.logs_line(
            requests,
            self.app_log_bytes() + a.access_log_bytes,
            format!(
                "app {:.0} + access log {:.0} bytes per request",
                self.app_log_bytes(),
                a.access_log_bytes
            ),
        ));
        if stack.telemetry {
            lines.push(self.xray_line(traced, "the app's sampler"));
        }
        Bill { requests, lines }
    }

    // --- Lines both stacks have -----------------------------------------------------------------

    fn http_api_line(&self, requests: f64, what: &str) -> Line {
        let price = self.price("api_gateway.http_requests_per_million");
        Line {
            name: "HTTP API requests",
            detail: format!(
                "{} M requests × ${price} per 1M ({what})",
                fmt_qty(requests / 1e6)
            ),
            amount: requests / 1e6 * price,
            prices: vec!["api_gateway.http_requests_per_million".into()],
        }
    }

    fn dynamodb_lines(&self, requests: f64) -> [Line; 2] {
        let used = self.mean_store_use();
        let write_price = self.price("dynamodb.write_request_units_per_million");
        let read_price = self.price("dynamodb.read_request_units_per_million");
        let writes = requests * used.write_units / 1e6;
        let reads = requests * used.read_units / 1e6;
        [
            Line {
                name: "DynamoDB writes",
                detail: format!(
                    "{} M write units ({:.3} per request) × ${write_price} per 1M",
                    fmt_qty(writes),
                    used.write_units
                ),
                amount: writes * write_price,
                prices: vec!["dynamodb.write_request_units_per_million".into()],
            },
            Line {
                name: "DynamoDB reads",
                detail: format!(
                    "{} M read units ({:.3} per request) × ${read_price} per 1M",
                    fmt_qty(reads),
                    used.read_units
                ),
                amount: reads * read_price,
                prices: vec!["dynamodb.read_request_units_per_million".into()],
            },
        ]
    }

    fn secrets_lines(&self, secrets: u32, starts: f64, what: &str) -> [Line; 2] {
        let month = self.price("secrets_manager.secret_month");
        let per_10k = self.price("secrets_manager.api_calls_per_10k");
        let calls = starts * f64::from(secrets);
        [
            Line {
                name: "Secrets Manager secrets",
                detail: format!("{secrets} secrets ({CA_SECRETS} CA + app) × ${month}"),
                amount: f64::from(secrets) * month,
                prices: vec!["secrets_manager.secret_month".into()],
            },
            Line {
                name: "Secrets Manager API calls",
                detail: format!(
                    "{} {what} × {secrets} reads × ${per_10k} per 10k",
                    fmt_qty(starts)
                ),
                amount: calls / 1e4 * per_10k,
                prices: vec!["secrets_manager.api_calls_per_10k".into()],
            },
        ]
    }

    fn logs_line(&self, requests: f64, bytes_per_request: f64, what: String) -> Line {
        let price = self.price("cloudwatch.logs_ingestion_gb");
        let gb = requests * bytes_per_request / BYTES_PER_GB;
        Line {
            name: "CloudWatch Logs ingestion",
            detail: format!("{} GB × ${price} ({what})", fmt_qty(gb)),
            amount: gb * price,
            prices: vec!["cloudwatch.logs_ingestion_gb".into()],
        }
    }

    fn xray_line(&self, traces: f64, what: &str) -> Line {
        let price = self.price("xray.traces_recorded_per_million");
        Line {
            name: "X-Ray traces",
            detail: format!(
                "{} M traces × ${price} per 1M ({what})",
                fmt_qty(traces / 1e6)
            ),
            amount: traces / 1e6 * price,
            prices: vec!["xray.traces_recorded_per_million".into()],
        }
    }

    // --- Totals and break-even ------------------------------------------------------------------

    /// The monthly bill of `option` at `requests` per month.
    pub fn bill(&self, option: &Deployment, requests: f64) -> Bill {
        match option {
            Deployment::Lambda(stack) => self.lambda_bill(stack, requests),
            Deployment::Fargate(stack) => self.fargate_bill(stack, requests),
        }
    }

    /// Monthly cost of `option` at `requests` per month.
    pub fn monthly_cost(&self, option: &Deployment, requests: f64) -> f64 {
        self.bill(option, requests).total()
    }

    /// Where the cost curves of `first` and `second` cross: the lowest monthly volume in
    /// [`BREAK_EVEN_SEARCH_RANGE`] from which `first` is no cheaper. Found by scanning 50 log-spaced
    /// volumes per decade for the first sign change of `first − second`, then bisecting that interval
    /// (in log space) to a relative width of 1e-12.
    pub fn break_even(&self, first: &Deployment, second: &Deployment) -> Crossing {
        let difference = |requests: f64| {
            self.monthly_cost(first, requests) - self.monthly_cost(second, requests)
        };
        let (low, high) = BREAK_EVEN_SEARCH_RANGE;
        if difference(low) >= 0.0 {
            return Crossing::SecondCheaperThroughout;
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
                return Crossing::At(above);
            }
            below = volume;
        }
        Crossing::FirstCheaperThroughout
    }
}

/// An assumptions file (`apuntador-cost --assumptions FILE`), TOML. Every key is optional; what it
/// leaves out keeps its default, and command-line flags override it:
///
/// ```toml
/// requests = "3M"
/// region = "eu-west-1"
/// mix = "oauth=0.7,device=0.3"
///
/// [assumptions]
/// peak_to_average = 4.0
///
/// [lambda]
/// memory_mb = 1024
/// tracing = false
///
/// [fargate]
/// egress = "public_ip"
/// interface_endpoints = false
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssumptionsFile {
    /// Requests per month, as `--requests` takes them (`3M`).
    pub requests: Option<String>,
    /// Price region, as `--region` takes it.
    pub region: Option<String>,
    /// Route mix, as `--mix` takes it.
    pub mix: Option<String>,
    /// Overrides of the modelling assumptions.
    pub assumptions: Assumptions,
    /// The Lambda stack's switches.
    pub lambda: LambdaStack,
    /// The Fargate stack's switches.
    pub fargate: FargateStack,
}

impl AssumptionsFile {
    /// Parses and validates an assumptions file.
    pub fn from_toml(text: &str) -> Result<Self, CostError> {
        let file: AssumptionsFile = toml::from_str(text)
            .map_err(|error| CostError::InvalidAssumptions(error.to_string()))?;
        file.assumptions.validate()?;
        if let Some(mix) = &file.mix {
            Mix::parse(mix)?;
        }
        Ok(file)
    }
}

/// The shipped options: the Lambda stack and the Fargate stack as their example tfvars deploy them.
pub fn shipped() -> (Deployment, Deployment) {
    (
        Deployment::Lambda(LambdaStack::default()),
        Deployment::Fargate(FargateStack::default()),
    )
}

/// Variants of the shipped stacks for the report's tables, each with a name saying what changed from
/// `lambda` or `fargate`. The first of each target is the one the chart draws.
pub fn variants(lambda: &LambdaStack, fargate: &FargateStack) -> Vec<(String, Deployment)> {
    let mut out = Vec::new();
    let lambda_variant = |name: &str, change: &dyn Fn(&mut LambdaStack)| {
        let mut stack = lambda.clone();
        change(&mut stack);
        (name.to_owned(), Deployment::Lambda(stack))
    };
    out.push(lambda_variant("Lambda, X-Ray tracing off", &|s| {
        s.tracing = false
    }));
    out.push(lambda_variant(
        &format!(
            "Lambda, {}",
            match lambda.architecture {
                Architecture::Arm64 => "x86_64",
                Architecture::X86_64 => "arm64",
            }
        ),
        &|s| {
            s.architecture = match s.architecture {
                Architecture::Arm64 => Architecture::X86_64,
                Architecture::X86_64 => Architecture::Arm64,
            }
        },
    ));
    out.push(lambda_variant("Lambda, 128 MB", &|s| s.memory_mb = 128));
    let fargate_variant = |name: &str, change: &dyn Fn(&mut FargateStack)| {
        let mut stack = fargate.clone();
        change(&mut stack);
        (name.to_owned(), Deployment::Fargate(stack))
    };
    out.push(fargate_variant(
        "Fargate, public IPs, no interface endpoints",
        &|s| {
            s.egress = Egress::PublicIp;
            s.interface_endpoints = false;
        },
    ));
    out.push(fargate_variant("Fargate, public IPs", &|s| {
        s.egress = Egress::PublicIp
    }));
    out.push(fargate_variant("Fargate, no interface endpoints", &|s| {
        s.interface_endpoints = false
    }));
    out.push(fargate_variant("Fargate, no Spot", &|s| s.spot_weight = 0));
    out.push(fargate_variant("Fargate, arm64 (no Spot)", &|s| {
        s.architecture = Architecture::Arm64
    }));
    out.push(fargate_variant("Fargate, telemetry on", &|s| {
        s.telemetry = true
    }));
    out
}

/// A quantity with up to three decimals, trailing zeros dropped: `3`, `0.75`, `2.628`.
fn fmt_qty(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.target(), self.describe())
    }
}

#[cfg(test)]
mod tests;
