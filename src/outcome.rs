//! Leaf layer: how a command ends (exit codes, `Failure`) and `say` for stdout. Imports nothing
//! of the crate; `scenario` adds `From<ScenarioError> for Failure`.

/// Exit codes (DESIGN.md §5; 99 is k6's code for breached thresholds). `run` below is the one
/// place that turns an outcome into a code; README.md and `--help` list the same table.
pub mod exit {
    /// The run finished and every threshold holds (or: the command did its job).
    pub const OK: i32 = 0;
    /// The tool failed, including a report file that could not be written (the terminal
    /// summary is printed first and the missing files are named on stderr).
    pub const TOOL_FAILURE: i32 = 1;
    /// Bad usage, an invalid scenario or input file, an unreachable target or an unwritable
    /// `--out`: refused before any traffic.
    pub const USAGE: i32 = 2;
    /// A threshold was breached.
    pub const THRESHOLDS: i32 = 99;
    /// Stopped by Ctrl-C, SIGTERM, SIGHUP or `q`: the partial report is written.
    pub const INTERRUPTED: i32 = 130;
}

/// Write to stdout; a closed pipe (`stampede plan … | head -1`) is not an error: like ripgrep,
/// the command goes on quietly and exits 0 (or with its verdict).
pub fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Why a command could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or an invalid scenario: exit 2.
    Usage(String),
    /// The tool itself failed: exit 1.
    Tool(anyhow::Error),
    /// The run ended (its verdict was `verdict`) but report files could not be written: exit 1.
    ReportsLost { missing: Vec<String>, verdict: i32 },
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Tool(e)
    }
}
