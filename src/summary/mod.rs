//! The typed `summary.json`: what `stampede run` and `stampede merge` write and what every
//! reader (the report formats, `report compare|html`, `plan`, `merge`) reads back. A file that
//! does not fit these types is refused with the JSON path of the bad field.
//!
//! `metric.rs`: the four metric shapes; `rows.rs`: thresholds, steps, checks, timeline;
//! `sections.rs`: capacity, streams, websockets; `part.rs`: the segment and merged blocks;
//! `recorder.rs`: a summary read back into the engine's `Recorder` (for `merge`).

mod metric;
mod part;
mod recorder;
mod rows;
mod sections;

pub use metric::{Counter, Gauge, Marks, Metric, Rate, Trend};
pub use part::{LATE_MS, MergeInfo, MergedPart, PartInfo, SecondBlob, ThresholdDef};
pub use recorder::{HistogramError, RebuildError, decode_histogram, protocol_reason};
pub use rows::{CheckRow, SecondRow, StepRow, StepSecondRow, ThresholdRow, Window};
pub use sections::{
    CapacitySection, PerStream, StairRow, StreamFigures, WebsocketsSection, WsStepRow,
};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A summary.json, field for field, in the order it is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub stampede_version: String,
    pub name: String,
    pub target: String,
    /// The executor, or `NAME: executor + ...` for a file with several scenarios.
    pub executor: String,
    /// RFC 3339, local time.
    pub started_at: String,
    pub planned_duration_s: f64,
    pub duration_s: f64,
    pub interrupted: bool,
    #[serde(default)]
    pub aborted_by_threshold: Option<String>,
    pub verdict: VerdictLabel,
    pub exit_code: i32,
    /// Metric name, or `name{step:STEP}` / `name{scenario:NAME}` for sub-metrics.
    pub metrics: IndexMap<String, Metric>,
    pub thresholds: Vec<ThresholdRow>,
    pub steps: Vec<StepRow>,
    pub errors: IndexMap<String, u64>,
    #[serde(default)]
    pub tls_errors: IndexMap<String, u64>,
    #[serde(default)]
    pub tls_certificate: Option<String>,
    /// Protocol failures by reason (`too many header lines: 300 > 256`).
    #[serde(default)]
    pub protocol_errors: IndexMap<String, u64>,
    /// Iterations that fell due (arrival-rate executors only).
    #[serde(default)]
    pub iterations_due: Option<u64>,
    /// Each trend's histogram (HdrHistogram V2 deflate, base64), overall and per step.
    pub histograms: IndexMap<String, String>,
    pub checks: Vec<CheckRow>,
    pub status_codes: IndexMap<String, u64>,
    pub timeline: Vec<SecondRow>,
    #[serde(default)]
    pub capacity: Option<CapacitySection>,
    #[serde(default)]
    pub streams: Option<StreamFigures>,
    #[serde(default)]
    pub websockets: Option<WebsocketsSection>,
    #[serde(default)]
    pub segment: Option<PartInfo>,
    #[serde(default)]
    pub merged: Option<MergeInfo>,
}

/// `verdict`: what the thresholds (or the breakpoint search) said; a segment is not judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictLabel {
    Passed,
    Failed,
    NotJudged,
}

/// A summary whose JSON does not have a summary's shape: the JSON path of the field that does
/// not fit (`metrics.http_reqs: at .count: invalid type: string "x", expected u64`).
#[derive(Debug, thiserror::Error)]
#[error("at `{path}`: {message}")]
pub struct ShapeError {
    pub path: String,
    pub message: String,
}

/// Why a summary.json could not be read: each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not JSON: {source}", path.display())]
    NotJson {
        path: std::path::PathBuf,
        line: usize,
        column: usize,
        source: serde_json::Error,
    },
    #[error("{}: not a stampede summary.json: {source}", path.display())]
    NotSummary {
        path: std::path::PathBuf,
        source: ShapeError,
    },
}

/// Type a summary already parsed as JSON; the error names the JSON path of the bad field.
pub fn from_value(v: serde_json::Value) -> Result<Summary, ShapeError> {
    serde_path_to_error::deserialize(v).map_err(|e| ShapeError {
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}

/// Read and type a summary.json; errors name the file, and the line:column for bad JSON or the
/// JSON path of a field that does not fit.
pub fn read(path: &Path) -> Result<Summary, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ReadError::NotJson {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        source: e,
    })?;
    from_value(v).map_err(|source| ReadError::NotSummary {
        path: path.to_path_buf(),
        source,
    })
}

impl Summary {
    /// A metric by name (`http_reqs`, `http_req_duration{step:home}`).
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.get(name)
    }

    /// A trend by name.
    pub fn trend(&self, name: &str) -> Option<&Trend> {
        self.metric(name).and_then(Metric::trend)
    }

    /// A counter's count (or a trend's samples); 0 when the metric is absent.
    pub fn count(&self, name: &str) -> u64 {
        self.metric(name).and_then(Metric::count).unwrap_or(0)
    }

    /// A rate's fraction; None when absent.
    pub fn rate(&self, name: &str) -> Option<f64> {
        self.metric(name).and_then(Metric::rate).map(|r| r.value)
    }
}

/// summary.json on one line (as `serde_json::Value` prints it): the k8s `STAMPEDE_SUMMARY` line.
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

/// The histogram key of each stream's tokens per second (in milli-tokens per second).
pub const TOKENS_PER_S_MILLI: &str = "stream_tokens_per_s_milli";

#[cfg(test)]
mod tests {
    use super::*;

    /// The `STAMPEDE_SUMMARY` line printed from the typed summary is the very line the JSON
    /// value printed before (k8s.rs reads it back from pod logs).
    #[test]
    fn display_is_the_one_line_json_of_the_value() {
        for part in ["run", "part"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/summary")
                .join(part)
                .join("summary.json");
            let s = read(&path).unwrap();
            let line = s.to_string();
            assert_eq!(line, serde_json::to_value(&s).unwrap().to_string());
            assert!(!line.contains('\n') && line.len() > 1000, "{line}");
            assert_eq!(from_value(serde_json::from_str(&line).unwrap()).unwrap(), s);
        }
    }
}
