//! The price tables of the cost model: AWS list prices for one region, one JSON file per region.
//!
//! Every price is a keyed entry (`"fargate.vcpu_hour.x86_64"`) with its value, unit, the address of the
//! page it was read from and the date it was read. A regional price that could not be found is stored
//! as `null` with a note saying so; the model then uses the us-east-1 price in its place and marks every
//! cost line that depends on it ([`Prices::is_fallback`]), so nothing is invented and nothing is
//! hidden. The tables of [`REGIONS`] are embedded at compile time; a user can pass another file of the
//! same shape (every key required, unknown keys rejected, so a typo cannot silently fall back). This
//! module depends on nothing else in the crate except the cost model's own types.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Architecture, CostError};

/// The embedded price tables: region code and file text. us-east-1 is complete except the Arm
/// provisioned-concurrency prices; the other regions carry what could be found, `null` elsewhere.
pub const REGIONS: [(&str, &str); 3] = [
    ("us-east-1", include_str!("prices/us-east-1.json")),
    ("eu-west-1", include_str!("prices/eu-west-1.json")),
    ("eu-central-1", include_str!("prices/eu-central-1.json")),
];

/// Region whose prices stand in for a regional price that was not found.
pub const FALLBACK_REGION: &str = "us-east-1";

/// Every price key the model reads, in report order.
pub const PRICE_KEYS: [&str; 26] = [
    "lambda.requests_per_million",
    "lambda.gb_second.x86_64",
    "lambda.gb_second.arm64",
    "lambda.provisioned_gb_second.x86_64",
    "lambda.provisioned_gb_second.arm64",
    "lambda.provisioned_duration_gb_second.x86_64",
    "lambda.provisioned_duration_gb_second.arm64",
    "fargate.vcpu_hour.x86_64",
    "fargate.vcpu_hour.arm64",
    "fargate.gb_hour.x86_64",
    "fargate.gb_hour.arm64",
    "fargate.spot_discount",
    "alb.hour",
    "alb.lcu_hour",
    "api_gateway.http_requests_per_million",
    "vpc.interface_endpoint_az_hour",
    "vpc.interface_endpoint_gb",
    "vpc.nat_gateway_hour",
    "vpc.nat_gateway_gb",
    "vpc.public_ipv4_hour",
    "dynamodb.write_request_units_per_million",
    "dynamodb.read_request_units_per_million",
    "secrets_manager.secret_month",
    "secrets_manager.api_calls_per_10k",
    "cloudwatch.logs_ingestion_gb",
    "xray.traces_recorded_per_million",
];

/// One price as the file stores it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// The amount, or `None` when the regional price was not found.
    pub value: Option<f64>,
    /// What the amount is per, e.g. `USD per vCPU-hour`.
    pub unit: String,
    /// Address of the page the amount was read from (`None` when not found).
    pub source: Option<String>,
    /// Date (ISO 8601) the page was read, or the search was made.
    pub retrieved: String,
    /// Remark: which tier, or why the price is missing.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    region: String,
    currency: String,
    #[serde(default)]
    note: Option<String>,
    prices: BTreeMap<String, PriceEntry>,
}

/// A resolved price table: every key has an amount, either the region's own or the us-east-1 one.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    /// AWS region the table belongs to, e.g. `eu-west-1`.
    pub region: String,
    /// Currency of every amount, e.g. `USD`.
    pub currency: String,
    /// Free-form remark about the table.
    pub note: Option<String>,
    /// The entries as the region's file gives them (values may be `None`).
    pub entries: BTreeMap<String, PriceEntry>,
    /// The amount used for each key: the region's, or the fallback region's when the region's is `None`.
    resolved: BTreeMap<String, (f64, bool)>,
}

impl Prices {
    /// The embedded table of `region`, resolved against us-east-1.
    pub fn for_region(region: &str) -> Result<Self, CostError> {
        let text = REGIONS
            .iter()
            .find(|(name, _)| *name == region)
            .map(|(_, text)| *text)
            .ok_or_else(|| {
                CostError::InvalidPrices(format!(
                    "no price table for region `{region}`; embedded regions: {} (or pass --prices FILE)",
                    REGIONS.map(|(name, _)| name).join(", ")
                ))
            })?;
        Self::from_json(text)
    }

    /// The embedded us-east-1 table.
    pub fn us_east_1() -> Self {
        Self::for_region(FALLBACK_REGION).expect("the embedded us-east-1 table is valid")
    }

    /// Parses and validates a price table; `null` prices are resolved against the embedded us-east-1
    /// table (which must itself be complete except for prices no region has).
    pub fn from_json(text: &str) -> Result<Self, CostError> {
        let file: PriceFile = serde_json::from_str(text)
            .map_err(|error| CostError::InvalidPrices(error.to_string()))?;
        for key in file.prices.keys() {
            if !PRICE_KEYS.contains(&key.as_str()) {
                return Err(CostError::InvalidPrices(format!("unknown price `{key}`")));
            }
        }
        let fallback = if file.region == FALLBACK_REGION {
            None
        } else {
            let text = REGIONS[0].1;
            let base: PriceFile = serde_json::from_str(text).expect("embedded us-east-1 parses");
            Some(base.prices)
        };
        let mut resolved = BTreeMap::new();
        for key in PRICE_KEYS {
            let entry = file.prices.get(key).ok_or_else(|| {
                CostError::InvalidPrices(format!("missing price `{key}` (write null if not found)"))
            })?;
            if entry.retrieved.trim().is_empty() {
                return Err(CostError::InvalidPrices(format!(
                    "`{key}` must give its retrieval date"
                )));
            }
            match entry.value {
                Some(value) => {
                    if !value.is_finite() || value < 0.0 {
                        return Err(CostError::InvalidPrices(format!(
                            "`{key}` must be a finite, non-negative number, not {value}"
                        )));
                    }
                    if entry.source.as_deref().is_none_or(|s| s.trim().is_empty()) {
                        return Err(CostError::InvalidPrices(format!(
                            "`{key}` has a value but no source"
                        )));
                    }
                    resolved.insert(key.to_owned(), (value, false));
                }
                None => {
                    let base = fallback
                        .as_ref()
                        .and_then(|base| base.get(key))
                        .and_then(|entry| entry.value);
                    match base {
                        Some(value) => {
                            resolved.insert(key.to_owned(), (value, true));
                        }
                        // Only the provisioned-concurrency prices may stay unknown: the model refuses
                        // to price that switch without them (CostModel::check). Any other price must
                        // be known here or in us-east-1, or a line would silently cost nothing.
                        None if key.starts_with("lambda.provisioned_") => {}
                        None => {
                            return Err(CostError::InvalidPrices(format!(
                                "`{key}` is null and has no us-east-1 price to stand in for it"
                            )));
                        }
                    }
                }
            }
        }
        if let Some(discount) = resolved.get("fargate.spot_discount")
            && discount.0 >= 1.0
        {
            return Err(CostError::InvalidPrices(
                "`fargate.spot_discount` must be below 1 (a fraction off the price)".into(),
            ));
        }
        Ok(Prices {
            region: file.region,
            currency: file.currency,
            note: file.note,
            entries: file.prices,
            resolved,
        })
    }

    /// The amount for `key`, or `None` when neither the region nor us-east-1 has one.
    pub fn try_get(&self, key: &str) -> Option<f64> {
        self.resolved.get(key).map(|(value, _)| *value)
    }

    /// The amount for `key`; 0 when no price is known (the lines that need such a price check
    /// [`Prices::try_get`] first and refuse to compute).
    pub fn get(&self, key: &str) -> f64 {
        self.try_get(key).unwrap_or(0.0)
    }

    /// Whether the amount for `key` is the us-east-1 price standing in for a missing regional one.
    pub fn is_fallback(&self, key: &str) -> bool {
        self.resolved
            .get(key)
            .is_some_and(|(_, fallback)| *fallback)
    }

    /// The keys whose amount is the us-east-1 price standing in for a regional one that was not found,
    /// in report order (empty for us-east-1 itself).
    pub fn stand_ins(&self) -> Vec<&'static str> {
        PRICE_KEYS
            .into_iter()
            .filter(|key| self.is_fallback(key))
            .collect()
    }

    /// The keys with no amount at all (neither the region nor us-east-1 has one), in report order.
    pub fn unknown(&self) -> Vec<&'static str> {
        PRICE_KEYS
            .into_iter()
            .filter(|key| self.try_get(key).is_none())
            .collect()
    }

    /// `key` with the architecture suffix, e.g. `fargate.vcpu_hour` + arm64 → `fargate.vcpu_hour.arm64`.
    pub fn per_architecture(prefix: &str, architecture: Architecture) -> String {
        format!("{prefix}.{}", architecture.name())
    }
}

impl Default for Prices {
    fn default() -> Self {
        Self::us_east_1()
    }
}
