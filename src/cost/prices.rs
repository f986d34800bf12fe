//! The price table of the cost model: AWS list prices for one region, read from one JSON data file.
//!
//! The default table is `prices-us-east-1.json`, embedded at compile time; a user can pass another
//! file of the same shape (every field required, unknown fields rejected, so a typo cannot silently
//! fall back to a default). Each section names the AWS pricing page it was copied from, and the file
//! carries its retrieval date. This module depends on nothing else in the crate except the cost
//! model's own types.

use serde::Deserialize;

use super::{Architecture, CostError};

/// The embedded default price table (us-east-1 list prices, retrieved 2026-11-28).
pub const DEFAULT_PRICES_JSON: &str = include_str!("prices-us-east-1.json");

/// A price table: every price the cost model uses, with where and when it was read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// AWS region the prices belong to, e.g. `us-east-1`.
    pub region: String,
    /// Currency of every amount, e.g. `USD`.
    pub currency: String,
    /// Date (ISO 8601) the prices were read from the source pages.
    pub retrieved: String,
    /// Free-form remark about the table (which tiers, what is excluded).
    #[serde(default)]
    pub note: Option<String>,
    /// The pages the prices were copied from.
    pub sources: Vec<PriceSource>,
    /// AWS Lambda prices.
    pub lambda: LambdaPrices,
    /// AWS Fargate (ECS) prices.
    pub fargate: FargatePrices,
    /// Application Load Balancer prices and the LCU dimensions.
    pub alb: AlbPrices,
    /// Amazon API Gateway prices.
    pub api_gateway: ApiGatewayPrices,
    /// Interface VPC endpoint (AWS PrivateLink) prices.
    pub vpc_interface_endpoint: VpcEndpointPrices,
    /// NAT gateway prices.
    pub nat_gateway: NatGatewayPrices,
    /// Public IPv4 address prices.
    pub public_ipv4: PublicIpv4Prices,
}

/// One pricing page the table was copied from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSource {
    /// Title of the page, e.g. "AWS Lambda pricing".
    pub name: String,
    /// Address of the page.
    pub url: String,
}

/// One price per CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerArchitecture {
    /// Price on x86_64.
    pub x86_64: f64,
    /// Price on arm64 (Graviton).
    pub arm64: f64,
}

impl PerArchitecture {
    /// The price for `architecture`.
    pub fn get(&self, architecture: Architecture) -> f64 {
        match architecture {
            Architecture::X86_64 => self.x86_64,
            Architecture::Arm64 => self.arm64,
        }
    }
}

/// AWS Lambda prices (on-demand, first duration tier).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaPrices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per 1 million invocations.
    pub per_million_requests: f64,
    /// Dollars per GB-second of billed duration (1 GB = 1,024 MB of configured memory).
    pub per_gb_second: PerArchitecture,
    /// Billing granularity of the duration, in milliseconds (1 ms since December 2020).
    pub billing_granularity_ms: f64,
}

/// AWS Fargate prices (Linux).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FargatePrices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per vCPU-hour.
    pub per_vcpu_hour: PerArchitecture,
    /// Dollars per GB-hour of task memory.
    pub per_gb_hour: PerArchitecture,
    /// Fraction taken off the on-demand price by Fargate Spot (0.70 = 70% off).
    pub spot_discount: f64,
}

/// Application Load Balancer prices and the LCU dimensions used by the model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbPrices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per load-balancer-hour.
    pub per_hour: f64,
    /// Dollars per LCU-hour.
    pub per_lcu_hour: f64,
    /// New connections per second that make one LCU.
    pub lcu_new_connections_per_second: f64,
    /// Processed GB per hour that make one LCU for instance and IP targets (Fargate).
    pub lcu_gb_per_hour_instance_ip_targets: f64,
    /// Processed GB per hour that make one LCU for Lambda targets.
    pub lcu_gb_per_hour_lambda_targets: f64,
}

/// Amazon API Gateway prices (first volume tier).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGatewayPrices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per 1 million HTTP API requests.
    pub http_api_per_million_requests: f64,
    /// Dollars per 1 million REST API requests.
    pub rest_api_per_million_requests: f64,
    /// Dollars per hour of an HTTP API VPC link (none at the time of writing).
    pub http_api_vpc_link_per_hour: f64,
}

/// Interface VPC endpoint (AWS PrivateLink) prices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcEndpointPrices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per endpoint per availability zone per hour.
    pub per_az_hour: f64,
    /// Dollars per GB processed.
    pub per_gb: f64,
}

/// NAT gateway prices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGatewayPrices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per NAT-gateway-hour.
    pub per_hour: f64,
    /// Dollars per GB processed.
    pub per_gb: f64,
}

/// Public IPv4 address prices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicIpv4Prices {
    /// Name of the source page.
    pub source: String,
    /// Dollars per address-hour (in use or idle).
    pub per_hour: f64,
}

impl Prices {
    /// The embedded default table ([`DEFAULT_PRICES_JSON`]).
    pub fn us_east_1() -> Self {
        Self::from_json(DEFAULT_PRICES_JSON).expect("the embedded price table is valid")
    }

    /// Parses and validates a price table.
    pub fn from_json(text: &str) -> Result<Self, CostError> {
        let prices: Prices = serde_json::from_str(text)
            .map_err(|error| CostError::InvalidPrices(error.to_string()))?;
        prices.validate()?;
        Ok(prices)
    }

    fn validate(&self) -> Result<(), CostError> {
        let invalid = |what: String| Err(CostError::InvalidPrices(what));
        if self.sources.is_empty() {
            return invalid("`sources` must name at least one pricing page".into());
        }
        if self.retrieved.trim().is_empty() {
            return invalid("`retrieved` must give the retrieval date".into());
        }
        for (name, value) in self.amounts() {
            if !value.is_finite() || value < 0.0 {
                return invalid(format!(
                    "`{name}` must be a finite, non-negative number, not {value}"
                ));
            }
        }
        if self.lambda.billing_granularity_ms <= 0.0 {
            return invalid("`lambda.billing_granularity_ms` must be positive".into());
        }
        if self.fargate.spot_discount >= 1.0 {
            return invalid(
                "`fargate.spot_discount` must be below 1 (a fraction off the price)".into(),
            );
        }
        for (name, value) in [
            (
                "alb.lcu_new_connections_per_second",
                self.alb.lcu_new_connections_per_second,
            ),
            (
                "alb.lcu_gb_per_hour_instance_ip_targets",
                self.alb.lcu_gb_per_hour_instance_ip_targets,
            ),
            (
                "alb.lcu_gb_per_hour_lambda_targets",
                self.alb.lcu_gb_per_hour_lambda_targets,
            ),
        ] {
            if value <= 0.0 {
                return invalid(format!("`{name}` must be positive"));
            }
        }
        Ok(())
    }

    /// Every amount in the table with its dotted name, in file order (for validation and the report).
    pub fn amounts(&self) -> Vec<(&'static str, f64)> {
        vec![
            (
                "lambda.per_million_requests",
                self.lambda.per_million_requests,
            ),
            (
                "lambda.per_gb_second.x86_64",
                self.lambda.per_gb_second.x86_64,
            ),
            (
                "lambda.per_gb_second.arm64",
                self.lambda.per_gb_second.arm64,
            ),
            (
                "lambda.billing_granularity_ms",
                self.lambda.billing_granularity_ms,
            ),
            (
                "fargate.per_vcpu_hour.x86_64",
                self.fargate.per_vcpu_hour.x86_64,
            ),
            (
                "fargate.per_vcpu_hour.arm64",
                self.fargate.per_vcpu_hour.arm64,
            ),
            (
                "fargate.per_gb_hour.x86_64",
                self.fargate.per_gb_hour.x86_64,
            ),
            ("fargate.per_gb_hour.arm64", self.fargate.per_gb_hour.arm64),
            ("fargate.spot_discount", self.fargate.spot_discount),
            ("alb.per_hour", self.alb.per_hour),
            ("alb.per_lcu_hour", self.alb.per_lcu_hour),
            (
                "alb.lcu_new_connections_per_second",
                self.alb.lcu_new_connections_per_second,
            ),
            (
                "alb.lcu_gb_per_hour_instance_ip_targets",
                self.alb.lcu_gb_per_hour_instance_ip_targets,
            ),
            (
                "alb.lcu_gb_per_hour_lambda_targets",
                self.alb.lcu_gb_per_hour_lambda_targets,
            ),
            (
                "api_gateway.http_api_per_million_requests",
                self.api_gateway.http_api_per_million_requests,
            ),
            (
                "api_gateway.rest_api_per_million_requests",
                self.api_gateway.rest_api_per_million_requests,
            ),
            (
                "api_gateway.http_api_vpc_link_per_hour",
                self.api_gateway.http_api_vpc_link_per_hour,
            ),
            (
                "vpc_interface_endpoint.per_az_hour",
                self.vpc_interface_endpoint.per_az_hour,
            ),
            (
                "vpc_interface_endpoint.per_gb",
                self.vpc_interface_endpoint.per_gb,
            ),
            ("nat_gateway.per_hour", self.nat_gateway.per_hour),
            ("nat_gateway.per_gb", self.nat_gateway.per_gb),
            ("public_ipv4.per_hour", self.public_ipv4.per_hour),
        ]
    }
}

impl Default for Prices {
    fn default() -> Self {
        Self::us_east_1()
    }
}
