//! stampede: load testing and capacity planning driven by YAML scenarios.
//!
//! Data flows one way: scenario → plan → engine → metrics → (progress, SLA verdict, reports).

pub mod barrier;
pub mod capacity;
pub mod cli;
pub mod engine;
pub mod k8s;
pub mod merge;
pub mod metrics;
pub mod output;
pub mod part;
pub mod plan;
pub mod processes;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod segment;
pub mod sla;
pub mod summary;
pub mod target;
pub mod tui;
pub mod verdict;
pub mod windows;

/// The breakpoint judge, under its old name (it lives with the other verdicts).
pub use verdict::breakpoint as stairs;

use cli::{Cli, Command};

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

impl From<scenario::ScenarioError> for Failure {
    fn from(e: scenario::ScenarioError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Tool(e)
    }
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => runner::run_command(args),
        Command::Validate(args) => runner::validate_command(args),
        Command::Target(args) => target::serve_forever(&args)
            .map(|_| exit::OK)
            .map_err(Failure::Tool),
        Command::Demo(args) => runner::demo_command(args),
        Command::Merge(args) => merge::merge_command(args),
        Command::K8s(args) => k8s::command(args),
        Command::Plan(args) => capacity::command::plan_command(args),
        Command::Report(cmd) => runner::report_command(cmd),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "stampede",
                &mut std::io::stdout(),
            );
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            exit::USAGE
        }
        Err(Failure::Tool(e)) => {
            eprintln!("error: {e:#}");
            exit::TOOL_FAILURE
        }
        Err(Failure::ReportsLost { missing, verdict }) => {
            for m in &missing {
                eprintln!("error: report file missing: {m}");
            }
            eprintln!(
                "error: {} report file(s) not written; the summary printed above is the run's result (its verdict was exit code {verdict}); exiting {}",
                missing.len(),
                exit::TOOL_FAILURE
            );
            exit::TOOL_FAILURE
        }
    }
}
