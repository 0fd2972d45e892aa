//! Reports read a finished run and write it for people (terminal summary) and machines
//! (`summary.json`). One file per format behind one trait.

pub mod json;
pub mod text;

use crate::metrics::RunResult;
use crate::sla::Outcome;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything a report may show about a finished run.
pub struct RunReport {
    pub name: String,
    pub target: String,
    pub executor: String,
    pub started_at: chrono::DateTime<chrono::Local>,
    /// The scheduled length (without graceful stop).
    pub planned: Duration,
    pub interrupted: bool,
    /// The threshold that stopped the run, when one with `abort_on_fail` did.
    pub aborted_by: Option<String>,
    pub steps: Vec<StepInfo>,
    pub result: RunResult,
    pub outcomes: Vec<Outcome>,
    pub exit_code: i32,
    /// Every check (expectation) with its counts.
    pub checks: Vec<CheckReport>,
}

/// One expectation of one step, and how often it held.
pub struct CheckReport {
    pub step: String,
    pub description: String,
    pub passes: u64,
    pub fails: u64,
}

/// How a step was written, for tables.
pub struct StepInfo {
    pub name: String,
    pub flow: String,
    pub request: String,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.passed) && self.aborted_by.is_none()
    }
}

/// A report format written into the run folder.
pub trait Exporter {
    /// File name inside the run folder.
    fn file_name(&self) -> &'static str;
    fn render(&self, report: &RunReport) -> anyhow::Result<String>;

    fn write(&self, report: &RunReport, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join(self.file_name());
        let text = self.render(report)?;
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}

/// The formats written after every run.
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![Box::new(json::Json)]
}
