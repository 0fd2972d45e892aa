//! The optional sections of summary.json: a breakpoint run's `capacity`, the `streams` and
//! `websockets` figures.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// `capacity`: a breakpoint run's judged stairs and what they add up to (rates in iterations
/// per second).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySection {
    pub max_sustainable_rps: Option<f64>,
    pub knee_rps: Option<f64>,
    pub broke_at_rps: Option<f64>,
    pub stairs_planned: u64,
    pub steps: Vec<StairRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StairRow {
    pub start_s: f64,
    pub end_s: f64,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub requests_per_s: f64,
    pub vus_max: u32,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_rate: f64,
    pub dropped_iterations: u64,
    pub passed: bool,
    pub reasons: Vec<String>,
}

/// `streams` (the whole run, with `steps`) and each of `streams.steps`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamFigures {
    /// The step; null for the whole run.
    pub step: Option<String>,
    pub streams: u64,
    pub good: u64,
    pub goodput: f64,
    pub good_per_s: f64,
    pub events: u64,
    pub tokens: u64,
    pub tokens_per_s: f64,
    /// `usage`, `events`, `mixed` or `none`.
    pub tokens_source: String,
    pub streams_with_usage: u64,
    pub parse_errors: u64,
    pub tokens_per_s_per_stream: Option<PerStream>,
    /// The streaming steps (only in the whole run's block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StreamFigures>>,
}

/// Each stream's own tokens per second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerStream {
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    #[serde(rename = "p(10)")]
    pub p10: f64,
    #[serde(rename = "p(90)")]
    pub p90: f64,
    pub max: f64,
}

/// `websockets`: sessions, messages and close codes per step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebsocketsSection {
    pub steps: Vec<WsStepRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsStepRow {
    pub step: String,
    pub sessions: u64,
    pub msgs_sent: u64,
    pub msgs_received: u64,
    /// Close code (`"0"`: no close frame) → sessions.
    pub close_codes: IndexMap<String, u64>,
}
