//! The tables of summary.json: thresholds, steps, checks and the per-second timeline.

use serde::{Deserialize, Serialize};

/// `thresholds[]`: one threshold with what was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    pub metric: String,
    pub expression: String,
    /// ms for trends, a fraction for rates; null without data.
    pub observed: Option<f64>,
    pub observed_display: String,
    pub passed: bool,
    pub abort_on_fail: bool,
    #[serde(default)]
    pub window_s: Option<u64>,
    #[serde(default)]
    pub worst_window: Option<Window>,
}

/// A windowed threshold's worst window: seconds (from_s, to_s] of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from_s: u64,
    pub to_s: u64,
}

/// `steps[]`: one step's totals and latency (ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub name: String,
    pub flow: String,
    /// The request as written, templates unexpanded.
    pub request: String,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub error_rate: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// `checks[]`: one expectation of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    pub step: String,
    pub check: String,
    pub passes: u64,
    pub fails: u64,
}

/// `timeline[]`: one second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondRow {
    pub second: u64,
    pub vus: u32,
    pub requests: u64,
    pub failures: u64,
    pub iterations: u64,
    pub data_sent: u64,
    pub data_received: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Per step, in the order of `steps`.
    #[serde(default)]
    pub steps: Vec<StepSecondRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepSecondRow {
    pub requests: u64,
    pub failures: u64,
    pub p95_ms: f64,
}
