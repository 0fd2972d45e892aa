//! The `segment` block a part of a segmented run writes and the `merged` block of a merge.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The `segment` block of a part's summary.json: what `stampede merge` needs beyond the usual
/// figures to check that parts belong together and to add them up exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    /// k6's notation: `1/4:1/2`.
    pub segment: String,
    /// The boundaries of every segment of the run: `0,1/4,1/2,3/4,1`.
    pub sequence: String,
    /// Which segment of the sequence (1-based, as `--segment i/n`).
    pub index: usize,
    /// SHA-256 of the scenario file and of the data files it reads.
    pub scenario_hash: String,
    /// The command-line options that change what runs (`--target`, `--vus`, `--scale`, ...;
    /// `--env` values only as a hash).
    pub options: IndexMap<String, String>,
    /// When this part's second 0 was, by the wall clock (RFC 3339, UTC, microseconds).
    pub engine_started_at: String,
    /// `--start-at`, when given.
    pub start_at: Option<String>,
    /// How long after `--start-at` the engine started (negative: early), in ms.
    pub start_offset_ms: Option<f64>,
    /// Started more than `LATE_MS` after `--start-at`.
    pub late: bool,
    /// Metric tags of the steps, by index.
    pub step_names: Vec<String>,
    /// The scenarios of a multi-scenario file: name and step indices.
    pub scenarios: Vec<(String, Vec<usize>)>,
    /// The scenario's thresholds, judged only on the merged result.
    pub thresholds: Vec<ThresholdDef>,
    /// Each second's request durations (HdrHistogram V2 deflate, base64): all steps, then by
    /// step index.
    pub seconds: Vec<SecondBlob>,
}

/// A start this much after `--start-at` is reported as late.
pub const LATE_MS: f64 = 100.0;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdDef {
    pub metric: String,
    pub expression: String,
    pub abort_on_fail: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecondBlob {
    pub second: u64,
    pub http_req_duration: String,
    pub steps: Vec<String>,
}

/// The `merged` block of a merged summary.json: which parts it adds up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeInfo {
    pub parts: Vec<MergedPart>,
    /// Latest engine start minus earliest, in ms.
    pub start_spread_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergedPart {
    pub file: String,
    pub segment: String,
    pub engine_started_at: String,
    pub start_offset_ms: Option<f64>,
    pub late: bool,
    pub interrupted: bool,
}
