//! Command-line interface (clap derive). Parsing only: `lib::run` does the work.

use crate::units::duration::parse_duration;
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
        Exit codes: 0 thresholds met · 99 a threshold breached · 2 refused before any traffic \
        (bad usage, invalid scenario or input, unreachable target, unwritable --out) · \
        1 the tool failed (also: a report file could not be written) · \
        130 interrupted by Ctrl-C, SIGTERM or SIGHUP (partial report written)"
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
        stampede run scenarios/normal.yaml -u 50 -d 30s --report-dir reports/smoke --quiet\n  \
        stampede run http://127.0.0.1:8080/fast -u 10 -d 10s          # quick test, no file\n  \
        stampede run x.yaml --out json=points.json.gz --out prometheus=127.0.0.1:9464 --summary-export k6.json\n\n\
        Exit codes: 0 thresholds met · 99 a threshold breached · 2 refused before any traffic \
        (bad usage, invalid scenario, unreachable target, unwritable report folder) · 1 the tool failed \
        (also: a report file could not be written; the terminal summary is printed first and \
        stderr names the missing files) · 130 interrupted by Ctrl-C, SIGTERM or SIGHUP (the \
        partial report is still written).\n\
        Press Ctrl-C once to stop gracefully (VUs finish their iteration), twice to stop at once.")]
    Run(RunArgs),
    /// Check a scenario file without sending any traffic.
    #[command(after_help = "Example:\n  stampede validate scenarios/peak.yaml\n\n\
        Prints the normalised plan, or every problem of the file (up to 20, in file order) as \
        `FILE:LINE:COLUMN: problem` and exits 2. Checks keys, types, durations, numbers against \
        their limits, thresholds, templates and the target URL; does not contact the target \
        (`run` does, before any traffic).")]
    Validate(ValidateArgs),
    /// Serve the built-in test target (endpoints with known latency and errors).
    #[command(after_help = "Example:\n  stampede target --addr 127.0.0.1:8080\n\n\
        Endpoints: /fast · /delay?ms=N[&jitter=J] · /status?code=N[&rate=F] · /json · /echo · \
        /reset (drops the connection) · /close · POST /login · /me · /session · /basic · \
        /seen?key=K · /work (saturates at --work-slots / --work-time req/s) · /__stats (counts served) · /__reset")]
    Target(TargetArgs),
    /// Work with saved reports: make report.html again, or compare two runs.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Capacity plan: fit the Universal Scalability Law to measurements, turn a user population
    /// into a request rate (Little's law), and size the fleet.
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    #[command(
        after_help = "Examples:\n  stampede completions bash > /etc/bash_completion.d/stampede\n  \
        stampede completions zsh > \"${fpath[1]}/_stampede\"\n  \
        stampede completions fish > ~/.config/fish/completions/stampede.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Add up the parts of a segmented run (`run --segment i/n`) exactly and judge the
    /// thresholds once, on the whole.
    #[command(
        after_help = "Example:\n  stampede merge part-1/summary.json part-2/summary.json --out reports/merged\n\n\
        Exit codes: 0 thresholds met · 99 a threshold breached · 2 parts of different scenarios or \
        options, overlapping or missing segments, or unreadable files · 130 a part was interrupted."
    )]
    Merge(crate::merge::MergeArgs),
    /// Kubernetes manifests for a distributed run (ConfigMap, headless Service, Indexed Job),
    /// and `k8s collect` to gather and merge the parts.
    #[command(
        after_help = "Examples:\n  stampede k8s scenarios/stress.yaml --workers 8 --image ghcr.io/me/stampede:1 > run.yaml\n  \
        kubectl apply -f run.yaml && kubectl wait --for=condition=complete job/stress --timeout=30m\n  \
        stampede k8s collect stress --out results/\n\nSee docs/distributed.md."
    )]
    K8s(crate::k8s::K8sArgs),
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

pub use crate::scenario::OverrideArgs;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (YAML), `-` to read it from standard input, or an http(s):// URL for a
    /// quick test of that one URL (with -u/-d/--rate).
    pub file: PathBuf,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
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
    #[command(flatten)]
    pub part: crate::part::PartArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (YAML), `-` for standard input, or a URL (the quick test `run URL` makes).
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
    /// `/work` serves at most this many requests at once; the rest queue (a service with a known
    /// limit: it saturates at SLOTS / --work-time requests per second).
    #[arg(long, default_value_t = 4, value_name = "SLOTS", value_parser = clap::value_parser!(u32).range(1..))]
    pub work_slots: u32,
    /// How long `/work` takes to serve one request.
    #[arg(long, default_value = "3ms", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub work_time: Duration,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with a certificate generated at start for
    /// localhost, 127.0.0.1 and ::1; the CA that signed it is written as PEM (see --ca-out) and
    /// its path printed.
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate with --tls (default: $TMPDIR/stampede-target-PORT-ca.pem).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Accept HTTP/2 over cleartext (h2c, prior knowledge) besides HTTP/1.1.
    #[arg(long, conflicts_with = "tls")]
    pub h2c: bool,
    /// Print a line per TLS connection: version, ALPN protocol, full or resumed handshake.
    #[arg(long)]
    pub log_connections: bool,
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

const PLAN_HELP: &str = "Examples:
  # 100,000 concurrent users thinking 3 s, 200 ms responses, 2,400 req/s per instance,
  # 30 % headroom, N+1 → 31,250 req/s and 20 instances
  stampede plan --users 100000 --think-time 3s --response-time 200ms \\
      --per-instance-rps 2400 --headroom 30% --redundancy 1

  # the population from a scenario's `capacity:` block, surviving the loss of one of 3 zones
  stampede plan --scenario examples/capacity.yaml --response-time 200ms \\
      --per-instance-rps 2400 --headroom 30% --redundancy 1 --zones 3

  # fit the USL to measured points (CSV with the header `concurrency,throughput`) and chart it
  stampede plan --points examples/data/usl-points.csv --chart usl.svg

  # from a run: a breakpoint run (its stairs, and its max sustainable rate per instance)
  # or a stepped closed-model run (its VU plateaus)
  stampede plan reports/breakpoint-20261123-101500/summary.json --users 100000 \\
      --think-time between(1s,5s) --response-time 200ms --headroom 30% --redundancy 1 --json

Formulas: required_rps = N / (Z + R) with Z the mean think time (between(1s,5s) → 3 s);
in_flight = required_rps × R; instances = ⌈required_rps / ((1 − H) · X₁)⌉ + r; with --zones Z:
⌈(needed + r) / (Z − 1)⌉ per zone, Z × that in all. USL: X(N) = λN / (1 + σ(N−1) + κN(N−1)),
N* = ⌊√((1−σ)/κ)⌋. Details: docs/capacity-planning.md.

Exit codes: 0 a plan was made · 2 bad usage, unreadable input or a bad CSV row (FILE:LINE)";

/// `stampede plan` inputs. Values are parsed here; `commands::plan` reads the files.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A summary.json of a breakpoint run (its stairs) or of a stepped closed-model run (its
    /// VU plateaus): the measurements for the USL fit.
    #[arg(value_name = "SUMMARY.json")]
    pub summary: Option<PathBuf>,
    /// Measurements as CSV with the header `concurrency,throughput`.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "summary")]
    pub points: Option<PathBuf>,
    /// A scenario whose `capacity:` block gives the users and think time.
    #[arg(long, value_name = "FILE.yaml")]
    pub scenario: Option<PathBuf>,
    /// Concurrent users at the peak (over the scenario's).
    #[arg(long, value_name = "N", value_parser = parse_users)]
    pub users: Option<u64>,
    /// Mean pause between a user's requests: `3s`, `200ms`, `constant(2s)`, `between(1s,5s)`
    /// (mean 3 s) or `pacing(5s)` (over the scenario's).
    #[arg(long, value_name = "THINK", value_parser = parse_think_arg)]
    pub think_time: Option<crate::units::think::ThinkSpec>,
    /// Mean response time to plan for, e.g. `200ms`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub response_time: Option<Duration>,
    /// Requests per second one instance sustains within the SLA (default: a breakpoint
    /// summary's max sustainable rate).
    #[arg(long, value_name = "X", value_parser = parse_positive)]
    pub per_instance_rps: Option<f64>,
    /// Share of each instance kept free: `30%` or `0.3` (default 0).
    #[arg(long, value_name = "H", value_parser = crate::capacity::fleet::parse_headroom)]
    pub headroom: Option<f64>,
    /// Spare instances on top of those needed (N+r; default 0).
    #[arg(long, value_name = "r")]
    pub redundancy: Option<u32>,
    /// Spread over Z zones and survive the loss of any one.
    #[arg(long, value_name = "Z", value_parser = parse_zones)]
    pub zones: Option<u32>,
    /// Read the fitted curve at this concurrency.
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub at_concurrency: Option<f64>,
    /// The concurrency the fitted curve needs for this throughput (per second).
    #[arg(long, value_name = "X", value_parser = parse_positive)]
    pub at_throughput: Option<f64>,
    /// The throughput the fitted curve gives at this mean time in the system, e.g. `50ms`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub at_latency: Option<Duration>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write a chart of the measured points and the fitted curve (`.svg` or `.html`).
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
    /// USL fit: `absolute` least squares on X − X̂, as R's usl package (default), or
    /// `relative` on (X − X̂)/X.
    #[arg(long, value_name = "KIND", default_value = "absolute", value_parser = ["absolute", "relative"])]
    pub fit: String,
}

fn parse_think_arg(
    s: &str,
) -> Result<crate::units::think::ThinkSpec, crate::units::think::ThinkError> {
    crate::units::think::parse_think(s)
}

/// Why a number on the command line is refused (`0`: as written); clap prints it after
/// "invalid value".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArgError {
    #[error("`{0}`: the number of concurrent users is a whole number above zero")]
    Users(String),
    #[error("`{0}`: surviving the loss of a zone needs a whole number of at least 2 zones")]
    Zones(String),
    #[error("`{0}` must be above zero")]
    NotPositive(String),
    #[error("`{0}` is not a number")]
    NotANumber(String),
}

fn parse_users(s: &str) -> Result<u64, ArgError> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ArgError::Users(s.into())),
    }
}

fn parse_zones(s: &str) -> Result<u32, ArgError> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 2 => Ok(n),
        _ => Err(ArgError::Zones(s.into())),
    }
}

fn parse_positive(s: &str) -> Result<f64, ArgError> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err(ArgError::NotPositive(s.into())),
        Err(_) => Err(ArgError::NotANumber(s.into())),
    }
}

fn parse_duration_arg(s: &str) -> Result<Duration, crate::units::duration::DurationError> {
    parse_duration(s)
}
