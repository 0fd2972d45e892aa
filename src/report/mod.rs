//! Reports read a finished run and write it for people and machines. `summary.json` is built
//! from the run; every other file (timeline.csv, junit.xml, summary.md, report.html) is rendered
//! from that JSON, so each can be made again later from a saved summary. One file per format
//! behind one trait; the terminal summary is `text.rs`.

pub mod compare;
pub mod files;
pub mod html;
pub mod json;
pub mod junit;
pub mod k6;
pub mod markdown;
pub mod streams;
pub(crate) mod svg;
pub mod text;
pub mod timeline;

use crate::metrics::RunResult;
use crate::sla::Outcome;
use crate::summary::Summary;
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
    /// What a breakpoint run found, stair by stair.
    pub capacity: Option<crate::verdict::breakpoint::Capacity>,
    /// When TLS handshakes failed: what the server's certificate says (names, validity, CA).
    pub tls_certificate: Option<String>,
    /// `--segment`: this run is one part of a whole; its thresholds are not judged alone.
    pub segment: Option<crate::summary::PartInfo>,
    /// `stampede merge`: the parts this report adds up.
    pub merged: Option<crate::summary::MergeInfo>,
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
    /// The verdict (thresholds, or a breakpoint run's stairs; a segment is not judged).
    pub fn verdict(&self) -> crate::verdict::Verdict {
        crate::verdict::Verdict::of(&crate::verdict::Judged {
            outcomes: &self.outcomes,
            aborted_by: self.aborted_by.as_deref(),
            capacity: self.capacity.as_ref(),
            segment: self.segment.is_some(),
            interrupted: self.interrupted,
        })
    }

    /// The verdict passed. A breakpoint run is expected to break: it passes when it found a
    /// sustainable rate (its thresholds are judged stair by stair, not over the whole run).
    pub fn passed(&self) -> bool {
        self.verdict().passed()
    }
}

/// A report format written into the run folder, rendered from the run's typed summary.
pub trait Exporter {
    /// File name inside the run folder.
    fn file_name(&self) -> &'static str;
    fn render(&self, summary: &Summary) -> anyhow::Result<String>;

    fn write(&self, summary: &Summary, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join(self.file_name());
        let text = self.render(summary)?;
        files::write_atomic(&path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}

/// The formats written after every run.
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(json::Json),
        Box::new(timeline::TimelineCsv),
        Box::new(junit::Junit),
        Box::new(markdown::Markdown),
        Box::new(html::Html),
    ]
}

/// Report files that could not be written (each with its reason); the others were written.
#[derive(Debug)]
pub struct Missing(pub Vec<String>);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.join("; "))
    }
}

/// Write every format into `dir` (each whole or not at all: one failing does not stop the
/// others), and append the Markdown summary to the file named by `$GITHUB_STEP_SUMMARY` when
/// that is set (GitHub Actions' job summary).
pub fn write_all(report: &RunReport, dir: &Path) -> Result<Summary, Missing> {
    let summary = json::summary(report);
    let mut missing = Vec::new();
    // The folder was probed at start; if it was removed during the run, make it again.
    let _ = std::fs::create_dir_all(dir);
    for e in exporters() {
        if let Err(err) = e.write(&summary, dir) {
            missing.push(format!("{err:#}"));
        }
    }
    if let Err(err) = append_step_summary(&summary) {
        missing.push(format!("{err:#}"));
    }
    if missing.is_empty() {
        Ok(summary)
    } else {
        Err(Missing(missing))
    }
}

fn append_step_summary(summary: &Summary) -> anyhow::Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        use std::io::Write;
        let text = markdown::render(summary);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot append to $GITHUB_STEP_SUMMARY ({}): {e}",
                    Path::new(&path).display()
                )
            })?;
        writeln!(f, "{text}")?;
    }
    Ok(())
}

/// `ran X of Y`, or for the iteration executors (which end when the iterations are done, and
/// whose planned length is only their `max_duration` cap) `ran X (max_duration Y)`.
pub fn ran_of(executor: &str, ran: &str, planned: &str) -> String {
    if executor.ends_with("-iterations") {
        format!("ran {ran} (max_duration {planned})")
    } else {
        format!("ran {ran} of {planned}")
    }
}
