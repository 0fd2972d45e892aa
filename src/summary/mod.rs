//! The typed `summary.json`: what `stampede merge` reads back (and the blocks a segmented run
//! and a merge write, with the same types). Readers tolerate fields they do not know, so a newer
//! summary with more metrics or counters still reads.

use crate::metrics::recorder::new_histogram;
use crate::metrics::{ErrorKind, Recorder, StepStats, TlsReason};
use hdrhistogram::Histogram;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::Path;

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

/// A summary.json as `stampede run` writes it (the parts `merge` reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub stampede_version: String,
    pub name: String,
    pub target: String,
    pub executor: String,
    pub started_at: String,
    pub planned_duration_s: f64,
    pub duration_s: f64,
    pub interrupted: bool,
    #[serde(default)]
    pub aborted_by_threshold: Option<String>,
    pub metrics: IndexMap<String, Metric>,
    pub steps: Vec<StepRow>,
    #[serde(default)]
    pub errors: IndexMap<String, u64>,
    #[serde(default)]
    pub tls_errors: IndexMap<String, u64>,
    #[serde(default)]
    pub histograms: IndexMap<String, String>,
    #[serde(default)]
    pub checks: Vec<CheckRow>,
    #[serde(default)]
    pub status_codes: IndexMap<String, u64>,
    #[serde(default)]
    pub timeline: Vec<SecondRow>,
    #[serde(default)]
    pub segment: Option<PartInfo>,
}

/// `metrics.<name>`: any of k6's shapes (trend, counter, rate, gauge); only the fields a merge
/// needs are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metric {
    pub count: Option<u64>,
    pub passes: Option<u64>,
    pub fails: Option<u64>,
    pub value: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StepRow {
    pub name: String,
    pub flow: String,
    pub request: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckRow {
    pub step: String,
    pub check: String,
    pub passes: u64,
    pub fails: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecondRow {
    pub second: u64,
    pub vus: u32,
    pub requests: u64,
    pub failures: u64,
    pub iterations: u64,
    pub data_sent: u64,
    pub data_received: u64,
    #[serde(default)]
    pub steps: Vec<StepSecondRow>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StepSecondRow {
    pub requests: u64,
    pub failures: u64,
}

/// Read and type a summary.json; errors name the file (and line:column for bad JSON).
pub fn read(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a stampede summary.json: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// A histogram from its base64 HdrHistogram V2 (deflate) form, able to grow when added to.
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| format!("histogram cannot be added: {e:?}"))?;
    Ok(out)
}

impl Summary {
    fn histogram(&self, key: &str) -> Result<Histogram<u64>, String> {
        match self.histograms.get(key) {
            Some(b64) => decode_histogram(b64).map_err(|e| format!("histograms.{key}: {e}")),
            None => Err(format!("histograms.{key} is missing")),
        }
    }

    fn count(&self, key: &str) -> u64 {
        self.metrics.get(key).and_then(|m| m.count).unwrap_or(0)
    }

    /// Everything the run recorded, rebuilt from its histograms and counters: what the engine's
    /// aggregator held at the end of the run.
    pub fn recorder(&self, step_names: &[String]) -> Result<Recorder, String> {
        let mut r = Recorder::with_checks(step_names.len(), self.checks.len());
        for (i, name) in step_names.iter().enumerate() {
            let h = |m: &str| self.histogram(&format!("{m}{{step:{name}}}"));
            let failed = self
                .metrics
                .get(&format!("http_req_failed{{step:{name}}}"))
                .cloned()
                .unwrap_or_default();
            let checks = self
                .metrics
                .get(&format!("checks{{step:{name}}}"))
                .cloned()
                .unwrap_or_default();
            r.steps[i] = StepStats {
                duration: h("http_req_duration")?,
                waiting: h("http_req_waiting")?,
                connecting: h("http_req_connecting")?,
                tls_handshaking: h("http_req_tls_handshaking")?,
                blocked: h("http_req_blocked")?,
                uncorrected: h("http_req_duration_uncorrected")?,
                requests: self.count(&format!("http_reqs{{step:{name}}}")),
                // A rate's `passes` are its true values: here, failed requests.
                failures: failed.passes.unwrap_or(0),
                checks_passed: checks.passes.unwrap_or(0),
                checks_failed: checks.fails.unwrap_or(0),
                // Stream and WebSocket figures are not merged yet (docs/distributed.md).
                stream: None,
                ws: None,
            };
        }
        r.iteration = self.histogram("iteration_duration")?;
        r.schedule_lag = self.histogram("schedule_lag")?;
        r.iterations = self.count("iterations");
        r.dropped_iterations = self.count("dropped_iterations");
        r.data_sent = self.count("data_sent");
        r.data_received = self.count("data_received");
        for (code, n) in &self.status_codes {
            let c: usize = code
                .parse()
                .map_err(|_| format!("status_codes: `{code}` is not a status code"))?;
            if let Some(slot) = r.status.get_mut(c) {
                *slot += n;
            }
        }
        for (i, c) in self.checks.iter().enumerate() {
            r.checks[i] = [c.passes, c.fails];
        }
        for (name, n) in &self.errors {
            match ErrorKind::ALL.iter().position(|k| k.name() == name) {
                Some(i) => r.errors[i] += n,
                None if *n == 0 => {}
                None => {
                    return Err(format!(
                        "errors.{name}: an error kind this stampede does not know"
                    ));
                }
            }
        }
        for (name, n) in &self.tls_errors {
            if let Some(i) = TlsReason::ALL.iter().position(|k| k.name() == name) {
                r.tls_reasons[i] += n;
            }
        }
        Ok(r)
    }
}
