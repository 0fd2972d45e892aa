//! Command-line interface (clap derive). Parsing only: `lib::run` does the work.

use crate::scenario::duration::parse_duration;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "stampede",
    version,
    about = "Load testing and capacity planning for HTTP services, driven by YAML scenarios.",
    long_about = "Load testing and capacity planning for HTTP services, driven by YAML scenarios.\n\n\
        Describe users in a scenario file (executor, stages, flows of steps, SLA thresholds), run it, \
        and get HDR-histogram latencies per step, errors by kind and a pass/fail verdict.",
    after_help = "Examples:\n  stampede demo                                   # built-in target + 15 s demo run, no setup\n  \
        stampede run examples/quickstart.yaml --target http://127.0.0.1:8080\n  \
        stampede validate scenarios/peak.yaml\n  stampede target --addr 127.0.0.1:8080\n\n\
        Exit codes: 0 thresholds met · 99 a threshold breached · 2 bad usage or invalid scenario · \
        1 the tool failed · 130 interrupted (partial report written)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario against its target and write a report folder.
    #[command(after_help = "Examples:\n  stampede run examples/quickstart.yaml\n  \
        stampede run scenarios/peak.yaml --target http://127.0.0.1:8080 --scale 0.01 --time-scale 0.05\n  \
        stampede run scenarios/normal.yaml --vus 50 --duration 30s --out reports/smoke --quiet\n\n\
        Exit codes: 0 thresholds met · 99 a threshold breached · 2 invalid scenario or usage · \
        1 the tool failed · 130 interrupted by Ctrl-C (the partial summary is still written).\n\
        Press Ctrl-C once to stop gracefully (VUs finish their iteration), twice to stop at once.")]
    Run(RunArgs),
    /// Check a scenario file without sending any traffic.
    #[command(after_help = "Example:\n  stampede validate scenarios/peak.yaml\n\n\
        Prints the normalised plan, or `FILE:LINE:COLUMN: problem` and exits 2.")]
    Validate(ValidateArgs),
    /// Serve the built-in test target (endpoints with known latency and errors).
    #[command(after_help = "Example:\n  stampede target --addr 127.0.0.1:8080\n\n\
        Endpoints: /fast · /delay?ms=N[&jitter=J] · /status?code=N[&rate=F] · /json · /echo · \
        /reset (drops the connection) · /close · POST /login · /me · /session · /basic · \
        /seen?key=K · /__stats (counts served) · /__reset")]
    Target(TargetArgs),
    /// Work with saved reports: make report.html again, or compare two runs.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Start the built-in target and run a ~15 s demo against it: no setup needed.
    #[command(after_help = "Example:\n  cargo run --release -- demo")]
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render report.html from a summary.json (next to it, or at --out).
    #[command(
        after_help = "Example:\n  stampede report html reports/shop-20261123-101500/summary.json"
    )]
    Html {
        /// A summary.json written by `stampede run`.
        summary: PathBuf,
        /// Where to write the page (default: report.html beside the summary).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Compare two runs: per-metric and per-step changes (p50/p95/p99, req/s, error rate).
    #[command(
        after_help = "Examples:\n  stampede report compare before/summary.json after/summary.json\n  \
        stampede report compare main.json pr.json --fail-on-regression 10%\n\n\
        Exit codes: 0 no regression beyond the limit (or no limit given) · 99 a figure worsened \
        by more than --fail-on-regression · 2 a file is missing or not a stampede summary."
    )]
    Compare {
        /// The baseline summary.json.
        old: PathBuf,
        /// The summary.json to judge.
        new: PathBuf,
        /// Exit 99 when any latency percentile, req/s or error rate is worse by more than this
        /// (e.g. `10%`).
        #[arg(long, value_name = "PERCENT", value_parser = crate::report::compare::parse_limit)]
        fail_on_regression: Option<f64>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct OverrideArgs {
    /// Send the load here instead of the scenario's `target` (http://HOST:PORT).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Run this many VUs (with --duration: a constant-vus run; alone: stages scaled to this peak).
    #[arg(long, value_name = "N")]
    pub vus: Option<u32>,
    /// Run this long (with --vus: constant-vus; alone: stages stretched to this total), e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub duration: Option<Duration>,
    /// Multiply every VU target by F (0.01 turns 50k VUs into 500), for smoke runs of big profiles.
    #[arg(long, value_name = "F")]
    pub scale: Option<f64>,
    /// Multiply every duration of the schedule by F (0.05 turns 10m into 30s).
    #[arg(long, value_name = "F")]
    pub time_scale: Option<f64>,
    /// Set `{{env.NAME}}` for templates (repeatable; wins over the process environment).
    /// Values from the environment are never written to reports.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env_arg)]
    pub env: Vec<(String, String)>,
}

fn parse_env_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}`: use NAME=VALUE")),
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (YAML).
    pub file: PathBuf,
    /// Report folder (default: reports/<name>-<timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Print only the final summary (no dashboard, bar or progress lines).
    #[arg(long, short)]
    pub quiet: bool,
    /// No live dashboard on a terminal: an indicatif progress bar instead. Without a terminal
    /// (CI) a plain line is printed every 5 s either way.
    #[arg(long)]
    pub no_tui: bool,
    /// Engine threads (default: one per core).
    #[arg(long, value_name = "N", hide = true)]
    pub workers: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (YAML).
    pub file: PathBuf,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub addr: SocketAddr,
    /// Stall: hold every response during the first HOLD of every EVERY (e.g. `1s/5s`), to see
    /// how a load test reports a stalling service.
    #[arg(long, value_name = "HOLD/EVERY", value_parser = crate::target::Stall::parse)]
    pub stall: Option<crate::target::Stall>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Report folder (default: reports/demo-<timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// No live dashboard on a terminal: a progress bar instead.
    #[arg(long)]
    pub no_tui: bool,
    /// Multiply the demo's durations by F (0.2 runs it in ~3 s).
    #[arg(long, value_name = "F", hide = true)]
    pub time_scale: Option<f64>,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}
