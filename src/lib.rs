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
pub mod stairs;
pub mod summary;
pub mod target;
pub mod tui;
pub mod windows;

use cli::{Cli, Command};

/// Exit codes (DESIGN.md §5; 99 is k6's code for breached thresholds).
pub mod exit {
    pub const OK: i32 = 0;
    pub const TOOL_FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const THRESHOLDS: i32 = 99;
    pub const INTERRUPTED: i32 = 130;
}

/// Why a command could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or an invalid scenario: exit 2.
    Usage(String),
    /// The tool itself failed: exit 1.
    Tool(anyhow::Error),
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
    }
}
