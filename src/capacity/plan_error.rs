//! Why `stampede plan` refuses to plan (`PlanError`): kept out of planner.rs, which is long
//! enough.

use super::fit::FitError;
use super::fleet::FleetError;
use super::little::DemandError;

/// Why `stampede plan` cannot plan from what it was given (a usage problem: exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "nothing to plan: give measurements (--points FILE.csv or a summary.json) and/or a population (--users N --think-time Z --response-time R, or --scenario FILE with a `capacity:` block); see `stampede plan --help`"
    )]
    NothingToPlan,
    #[error(
        "--at-concurrency, --at-throughput and --at-latency read the fitted curve: give measurements (--points FILE.csv or a summary.json)"
    )]
    ReadingWithoutFit,
    #[error(
        "--think-time and --response-time size a population: give --users N (or --scenario FILE with a `capacity:` block)"
    )]
    NoUsers,
    #[error(
        "Little's law needs a think time: give --think-time (e.g. `3s` or `between(1s,5s)`), or set `think_time` in the scenario's `capacity:` or `load:`"
    )]
    NoThinkTime,
    #[error(
        "Little's law needs the response time you plan for: give --response-time (e.g. `200ms`)"
    )]
    NoResponseTime,
    #[error(
        "sizing a fleet needs the required rate: give --users N --think-time Z --response-time R (or --scenario FILE with a `capacity:` block)"
    )]
    FleetWithoutDemand,
    #[error(
        "sizing a fleet needs what one instance sustains: give --per-instance-rps X, or a breakpoint run's summary.json (or measurements whose fit has a peak)"
    )]
    FleetWithoutInstanceRate,
    #[error("no confidence intervals with {0} degrees of freedom: give 4 or more points")]
    NoIntervals(usize),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error(transparent)]
    Demand(#[from] DemandError),
    #[error(transparent)]
    Fleet(#[from] FleetError),
}
