//! The measured inputs of the cost model, read from a JSON results file.
//!
//! The figures come from this repository's benchmarks (`scripts/bench`, which runs `cargo bench
//! --bench latency`, `cargo bench --bench cold_start` and wrk). The committed copy is
//! `docs/cost/results.json`: its `measurements` object is the one place the model's measured
//! figures live, each with the command that produced it in `sources`, so a new measurement is one
//! edit there (or a new results file passed with `--measurements`). The reader accepts either a
//! document that *is* a [`Measurements`] object, or any document with a top-level `measurements`
//! object of that shape (so a benchmark results file can carry it next to its own data, whatever
//! else it holds). When the `measurements` object leaves out `machine` or `commit`, they are taken
//! from a top-level `machine` object of the shape `scripts/measure-foundation` writes (`cpu_model`,
//! `cores`, `git_commit`). This module depends on nothing else in the crate except the cost model's
//! error type.
//!
//! Schema (all durations in milliseconds, sizes in the unit their name says):
//!
//! ```json
//! { "measurements": {
//!     "sample": false,
//!     "lambda_handler_ms": 0.15,
//!     "lambda_init_ms": 9.0,
//!     "lambda_peak_rss_mb": 14.0,
//!     "server_req_per_s_per_vcpu": 5000,
//!     "mean_response_bytes": 420,
//!     "machine": "2 cores, AMD EPYC 7B13",
//!     "commit": "634d43d",
//!     "sources": { "lambda_init_ms": "cargo bench --bench cold_start (AWS mode, median)" } } }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::CostError;

/// The measured figures the cost model needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Measurements {
    /// True when the numbers are illustrative, not measured; the report then says so at the top.
    #[serde(default)]
    pub sample: bool,
    /// Mean duration of one invocation of the Lambda handler, event bytes in to response JSON out,
    /// in milliseconds, measured on one full core (the request mix of the benches).
    #[serde(alias = "handler_ms", alias = "lambda_handler_duration_ms")]
    pub lambda_handler_ms: f64,
    /// Lambda INIT duration (process spawn to ready for the first event), in milliseconds, on one
    /// full core.
    #[serde(
        alias = "init_ms",
        alias = "cold_start_ms",
        alias = "lambda_cold_start_ms"
    )]
    pub lambda_init_ms: f64,
    /// Peak resident set size of `apuntador-lambda`, in MB; a memory size below it is not viable.
    #[serde(alias = "peak_rss_mb", alias = "lambda_rss_mb")]
    pub lambda_peak_rss_mb: f64,
    /// Throughput of `apuntador-server` per vCPU (requests per second at saturation on one core).
    #[serde(alias = "req_per_s_per_vcpu", alias = "server_rps_per_vcpu")]
    pub server_req_per_s_per_vcpu: f64,
    /// Mean size of a response (headers and body), in bytes.
    #[serde(alias = "response_bytes")]
    pub mean_response_bytes: f64,
    /// The machine the figures were measured on (cores, CPU model).
    #[serde(default)]
    pub machine: Option<String>,
    /// The commit the figures were measured at.
    #[serde(default)]
    pub commit: Option<String>,
    /// For each figure (by field name), how it was measured: the command, the variant and the
    /// statistic. The report prints them next to the figures.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

impl Measurements {
    /// Reads measurements from a JSON document: a [`Measurements`] object itself, or a document with a
    /// top-level `measurements` object (other top-level keys are ignored). Every figure must be a
    /// finite number, positive except the response size (which may be zero).
    pub fn from_json(text: &str) -> Result<Self, CostError> {
        let document: Value = serde_json::from_str(text)
            .map_err(|error| CostError::InvalidMeasurements(format!("not JSON: {error}")))?;
        let object = match document.get("measurements") {
            Some(inner) => inner.clone(),
            None => document.clone(),
        };
        let mut measurements: Measurements = serde_json::from_value(object).map_err(|error| {
            CostError::InvalidMeasurements(format!(
                "expected a `measurements` object with lambda_handler_ms, lambda_init_ms, \
                 lambda_peak_rss_mb, server_req_per_s_per_vcpu and mean_response_bytes: {error}"
            ))
        })?;
        if let Some(machine) = document.get("machine") {
            if measurements.machine.is_none() {
                measurements.machine = describe_machine(machine);
            }
            if measurements.commit.is_none() {
                measurements.commit = machine
                    .get("git_commit")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
        }
        measurements.validate()?;
        Ok(measurements)
    }

    fn validate(&self) -> Result<(), CostError> {
        for (name, value, may_be_zero) in [
            ("lambda_handler_ms", self.lambda_handler_ms, false),
            ("lambda_init_ms", self.lambda_init_ms, true),
            ("lambda_peak_rss_mb", self.lambda_peak_rss_mb, false),
            (
                "server_req_per_s_per_vcpu",
                self.server_req_per_s_per_vcpu,
                false,
            ),
            ("mean_response_bytes", self.mean_response_bytes, true),
        ] {
            let valid = value.is_finite() && (value > 0.0 || (may_be_zero && value == 0.0));
            if !valid {
                let expected = if may_be_zero {
                    "non-negative"
                } else {
                    "positive"
                };
                return Err(CostError::InvalidMeasurements(format!(
                    "`{name}` must be a finite, {expected} number, not {value}"
                )));
            }
        }
        Ok(())
    }

    /// The machine description, or `unknown`.
    pub fn machine_or_unknown(&self) -> &str {
        self.machine.as_deref().unwrap_or("unknown")
    }

    /// The commit, or `unknown`.
    pub fn commit_or_unknown(&self) -> &str {
        self.commit.as_deref().unwrap_or("unknown")
    }
}

/// "N cores, CPU model" from a `machine` object of the measure-foundation shape; a string is taken as is.
fn describe_machine(machine: &Value) -> Option<String> {
    if let Some(text) = machine.as_str() {
        return Some(text.to_owned());
    }
    let model = machine.get("cpu_model").and_then(Value::as_str);
    let cores = machine.get("cores").and_then(Value::as_u64);
    match (cores, model) {
        (Some(cores), Some(model)) => Some(format!("{cores} cores, {model}")),
        (None, Some(model)) => Some(model.to_owned()),
        (Some(cores), None) => Some(format!("{cores} cores")),
        (None, None) => None,
    }
}
