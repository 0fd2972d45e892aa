//! Changes asked for on the command line (`--vus`, `--duration`, `--rate`, `--scale`,
//! `--time-scale`, `-i`), applied to the `Load` before the plan is built.

#[allow(unused_imports)]
use super::*;

/// The override options as clap reads them (flattened into `run`, `validate` and `k8s`);
/// `Overrides::from` is what the plan is built with.
#[derive(Debug, clap::Args, Clone, Default)]
pub struct OverrideArgs {
    /// Send the load here instead of the scenario's `target` (http://HOST:PORT).
    #[arg(long, value_name = "URL", env = "STAMPEDE_TARGET")]
    pub target: Option<String>,
    /// Run this many VUs (with --duration: a constant-vus run; alone: stages scaled to this peak).
    #[arg(
        long,
        short = 'u',
        value_name = "N",
        env = "STAMPEDE_VUS",
        allow_negative_numbers = true,
        value_parser = parse_vus
    )]
    pub vus: Option<u32>,
    /// Run this long (with --vus: constant-vus; alone: stages stretched to this total), e.g. 30s.
    #[arg(long, short = 'd', value_name = "DURATION", value_parser = crate::units::duration::parse_duration, env = "STAMPEDE_DURATION")]
    pub duration: Option<Duration>,
    /// Run exactly N iterations shared by the VUs (k6's -i: a shared-iterations run with --vus
    /// VUs, 1 by default; --duration is then its max_duration).
    #[arg(long, short = 'i', value_name = "N", env = "STAMPEDE_ITERATIONS")]
    pub iterations: Option<u64>,
    /// Iterations per second (open model). With --duration: a constant-arrival-rate run of any
    /// scenario (--vus then sets max_vus); alone: an arrival-rate schedule rescaled to peak at R.
    #[arg(
        long,
        value_name = "R",
        allow_negative_numbers = true,
        env = "STAMPEDE_RATE"
    )]
    pub rate: Option<f64>,
    /// Multiply every VU target by F (0.01 turns 50k VUs into 500), and every rate of an
    /// arrival-rate executor, for smoke runs of big profiles.
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub scale: Option<f64>,
    /// Multiply every duration of the schedule by F (0.05 turns 10m into 30s).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub time_scale: Option<f64>,
    /// Set `{{env.NAME}}` for templates (repeatable; wins over the process environment).
    /// Values from the environment are never written to reports.
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE", value_parser = parse_env_arg)]
    pub env: Vec<(String, String)>,
    /// Accept any TLS certificate of an https:// target (self-signed, expired, wrong name):
    /// nothing is verified. For test setups only.
    #[arg(long)]
    pub insecure: bool,
}

/// Why the command line's changes to the load are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    #[error("`{0}`: the number of VUs is a whole number from 1 to {max}", max = limits::MAX_VUS)]
    VusRange(String),
    #[error("`{0}` is not a whole number of VUs")]
    VusNotANumber(String),
    #[error("`{0}`: use NAME=VALUE")]
    EnvArg(String),
    #[error("--rate: {0}")]
    Rate(limits::LimitError),
    #[error("--vus must be at least 1 with --rate")]
    RateWithoutVus,
    #[error(
        "--rate: this schedule's rate is 0 throughout; give --duration to run a constant rate instead"
    )]
    RateOfZeroSchedule,
    #[error(
        "--rate: a breakpoint run climbs by its own stairs (start_rate, step_rate, max_rate); use --scale to scale them, or --rate with --duration for a constant rate"
    )]
    RateOfBreakpoint,
    #[error(
        "--rate {0} sets an arrival rate, but this scenario's executor is a closed model (VUs); add --duration to run constant-arrival-rate at {0}/s instead"
    )]
    RateOfClosedModel(f64),
    #[error(
        "--vus {0} sets the VUs of constant-vus/ramping-vus; an arrival-rate executor's load is its rate: use --rate or --scale (or --vus with --duration to run constant-vus instead)"
    )]
    VusOfArrivalRate(u32),
    #[error(
        "--iterations and --rate do not go together: -i runs a fixed number of iterations, --rate a schedule"
    )]
    IterationsWithRate,
    #[error("--iterations must be at least 1")]
    ZeroIterations,
    /// `0`: the schedule's length, as printed.
    #[error("the schedule lasts {0}: the longest is one year")]
    ScheduleTooLong(String),
    #[error("{vus} VUs: at most {max} in one process", max = limits::MAX_VUS)]
    TooManyVus { vus: u32 },
    #[error(transparent)]
    Limit(#[from] limits::LimitError),
}

pub(crate) fn parse_vus(s: &str) -> Result<u32, OverrideError> {
    let max = crate::scenario::limits::MAX_VUS;
    match s.trim().parse::<i128>() {
        Ok(n) if n >= 1 && n <= max as i128 => Ok(n as u32),
        Ok(_) => Err(OverrideError::VusRange(s.to_string())),
        Err(_) => Err(OverrideError::VusNotANumber(s.to_string())),
    }
}

pub(crate) fn parse_env_arg(s: &str) -> Result<(String, String), OverrideError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(OverrideError::EnvArg(s.to_string())),
    }
}

/// Changes asked for on the command line, applied while building the plan.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub target: Option<String>,
    pub vus: Option<u32>,
    pub duration: Option<Duration>,
    /// `--rate`: iterations per second (open model; see `apply_rate`).
    pub rate: Option<f64>,
    /// Multiplies every VU target.
    pub scale: Option<f64>,
    /// Multiplies every duration of the load schedule (stages, duration, graceful stops).
    pub time_scale: Option<f64>,
    /// `--env NAME=VALUE`: values of `{{env.NAME}}` over the process environment.
    pub env: Vec<(String, String)>,
    /// `--insecure`: accept any TLS certificate.
    pub insecure: bool,
    /// `-i/--iterations N` (k6's): a shared-iterations run of N iterations by `--vus` VUs (1
    /// by default), `--duration` its max_duration (10m by default).
    pub iterations: Option<u64>,
}

impl From<&OverrideArgs> for Overrides {
    fn from(a: &OverrideArgs) -> Self {
        Overrides {
            target: a.target.clone(),
            vus: a.vus,
            duration: a.duration,
            rate: a.rate,
            scale: a.scale,
            time_scale: a.time_scale,
            env: a.env.clone(),
            insecure: a.insecure,
            iterations: a.iterations,
        }
    }
}

pub(super) fn scale_vus(v: u32, f: f64) -> u32 {
    if v == 0 {
        0
    } else {
        ((v as f64 * f).round() as u32).max(1)
    }
}

/// Multiply an open-model schedule's rates by `f`, and its VUs and queue with them.
pub(super) fn scale_arrival(a: &mut crate::plan::Arrival, f: f64) {
    a.start_rate *= f;
    for s in a.stages.iter_mut() {
        s.target *= f;
    }
    a.pre_allocated_vus = scale_vus(a.pre_allocated_vus, f);
    a.max_vus = scale_vus(a.max_vus, f).max(a.pre_allocated_vus);
    a.queue_size = scale_vus(a.queue_size, f);
}

/// The most VUs `--rate R --duration D` starts when `--vus` does not say: enough for a second
/// of latency at that rate, at most 10,000, and never fewer than the scenario's own peak.
pub(super) const RATE_DEFAULT_MAX_VUS: f64 = 10_000.0;

/// `--rate R` (iterations per second). With `--duration D` (and optionally `--vus N` as the most
/// VUs), any executor becomes `constant-arrival-rate` at R for D, as `--vus` with `--duration`
/// makes a `constant-vus` run. Alone, it rescales an arrival-rate schedule to peak at R (its
/// VUs in proportion, unless `--vus` sets `max_vus`).
pub(super) fn apply_rate(load: &mut Load, rate: f64, ov: &Overrides) -> Result<(), OverrideError> {
    use crate::plan::{Arrival, RateStage};
    let rate = limits::rate(rate, true).map_err(OverrideError::Rate)?;
    if let Some(duration) = ov.duration {
        let max_vus = ov.vus.unwrap_or_else(|| {
            limits::count(rate, RATE_DEFAULT_MAX_VUS as u32).max(load.max_vus())
        });
        if max_vus == 0 {
            return Err(OverrideError::RateWithoutVus);
        }
        *load = Load::ConstantArrivalRate(Arrival {
            start_rate: rate,
            stages: vec![RateStage {
                duration,
                target: rate,
            }],
            pre_allocated_vus: max_vus.min(limits::count(rate / 10.0, u32::MAX).max(10)),
            max_vus,
            queue_size: limits::count(rate * 5.0, limits::MAX_QUEUE).max(1000),
            graceful_stop: load.graceful_stop(),
            stairs: None,
        });
        return Ok(());
    }
    match load {
        Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) if a.stairs.is_none() => {
            let peak = a
                .stages
                .iter()
                .map(|s| s.target)
                .fold(a.start_rate, f64::max);
            if peak <= 0.0 {
                return Err(OverrideError::RateOfZeroSchedule);
            }
            scale_arrival(a, rate / peak);
            if let Some(vus) = ov.vus {
                a.max_vus = vus.max(1);
                a.pre_allocated_vus = a.pre_allocated_vus.min(a.max_vus);
            }
            Ok(())
        }
        Load::ConstantArrivalRate(_) | Load::RampingArrivalRate(_) => {
            Err(OverrideError::RateOfBreakpoint)
        }
        _ => Err(OverrideError::RateOfClosedModel(rate)),
    }
}

/// The limits of `limits` on a built schedule (after the command line's changes, which may
/// have multiplied it past them).
pub(super) fn check_load_limits(load: &Load) -> Result<(), OverrideError> {
    if load.duration() > limits::MAX_SCHEDULE {
        return Err(OverrideError::ScheduleTooLong(format_duration(
            load.duration(),
        )));
    }
    if load.max_vus() > limits::MAX_VUS {
        return Err(OverrideError::TooManyVus {
            vus: load.max_vus(),
        });
    }
    if let Some(a) = load.arrival() {
        let peak = a
            .stages
            .iter()
            .map(|s| s.target)
            .fold(a.start_rate, f64::max);
        limits::rate(peak, false)?;
    }
    Ok(())
}

/// Apply --rate/--vus/--duration/--scale/--time-scale to the schedule.
pub(super) fn apply_overrides(load: &mut Load, ov: &Overrides) -> Result<(), OverrideError> {
    if let Some(n) = ov.iterations {
        if ov.rate.is_some() {
            return Err(OverrideError::IterationsWithRate);
        }
        if n == 0 {
            return Err(OverrideError::ZeroIterations);
        }
        *load = Load::SharedIterations(Iterations {
            vus: ov.vus.unwrap_or(1).max(1),
            iterations: n,
            max_duration: ov.duration.unwrap_or(Duration::from_secs(600)),
            graceful_stop: load.graceful_stop(),
        });
    } else if let Some(rate) = ov.rate {
        apply_rate(load, rate, ov)?;
    } else if let (Some(vus), Some(duration)) = (ov.vus, ov.duration) {
        *load = Load::ConstantVus {
            vus,
            duration,
            graceful_stop: load.graceful_stop(),
        };
    } else if let Some(vus) = ov.vus {
        set_vus(load, vus)?;
    } else if let Some(d) = ov.duration {
        set_duration(load, d)?;
    }
    if let Some(f) = ov.scale {
        let f = limits::factor(f, "--scale", limits::MAX_SCALE)?;
        scale_load(load, f);
    }
    if let Some(f) = ov.time_scale {
        let f = limits::factor(f, "--time-scale", f64::MAX)?;
        time_scale_load(load, f)?;
    }
    Ok(())
}

/// `--vus N` alone: the VUs of a closed-model schedule (stages scaled to peak at N).
fn set_vus(load: &mut Load, vus: u32) -> Result<(), OverrideError> {
    match load {
        Load::PerVuIterations(it) | Load::SharedIterations(it) => it.vus = vus,
        Load::ConstantArrivalRate(_) | Load::RampingArrivalRate(_) => {
            return Err(OverrideError::VusOfArrivalRate(vus));
        }
        Load::ConstantVus { vus: v, .. } => *v = vus,
        Load::RampingVus {
            start_vus, stages, ..
        } => {
            let peak = stages
                .iter()
                .map(|s| s.target)
                .fold(*start_vus, u32::max)
                .max(1);
            let f = vus as f64 / peak as f64;
            *start_vus = scale_vus(*start_vus, f).min(vus);
            for s in stages.iter_mut() {
                s.target = scale_vus(s.target, f).min(vus);
            }
        }
    }
    Ok(())
}

/// `--duration D` alone: the schedule stretched (or cut) to last D.
fn set_duration(load: &mut Load, d: Duration) -> Result<(), OverrideError> {
    let scale_d = |d: Duration, f: f64| {
        limits::scale_duration(d, f, "with --duration or --time-scale, the schedule")
    };
    match load {
        Load::PerVuIterations(it) | Load::SharedIterations(it) => it.max_duration = d,
        Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
            let total = a.duration().as_secs_f64();
            let f = if total > 0.0 {
                d.as_secs_f64() / total
            } else {
                1.0
            };
            for s in a.stages.iter_mut() {
                s.duration = scale_d(s.duration, f)?;
            }
        }
        Load::ConstantVus { duration, .. } => *duration = d,
        Load::RampingVus { stages, .. } => {
            let total: f64 = stages.iter().map(|s| s.duration.as_secs_f64()).sum();
            let f = if total > 0.0 {
                d.as_secs_f64() / total
            } else {
                1.0
            };
            for s in stages.iter_mut() {
                s.duration = scale_d(s.duration, f)?;
            }
        }
    }
    Ok(())
}

/// `--scale F`: every VU target and rate times F.
fn scale_load(load: &mut Load, f: f64) {
    match load {
        Load::PerVuIterations(it) | Load::SharedIterations(it) => {
            it.vus = scale_vus(it.vus, f);
        }
        Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => scale_arrival(a, f),
        Load::ConstantVus { vus, .. } => *vus = scale_vus(*vus, f),
        Load::RampingVus {
            start_vus, stages, ..
        } => {
            *start_vus = scale_vus(*start_vus, f);
            for s in stages.iter_mut() {
                s.target = scale_vus(s.target, f);
            }
        }
    }
}

/// `--time-scale F`: every duration of the schedule times F.
fn time_scale_load(load: &mut Load, f: f64) -> Result<(), OverrideError> {
    let scale_d = |d: Duration, f: f64| {
        limits::scale_duration(d, f, "with --duration or --time-scale, the schedule")
    };
    match load {
        Load::PerVuIterations(it) | Load::SharedIterations(it) => {
            it.max_duration = scale_d(it.max_duration, f)?;
            it.graceful_stop = scale_d(it.graceful_stop, f)?;
        }
        Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
            for s in a.stages.iter_mut() {
                s.duration = scale_d(s.duration, f)?;
            }
            a.graceful_stop = scale_d(a.graceful_stop, f)?;
        }
        Load::ConstantVus {
            duration,
            graceful_stop,
            ..
        } => {
            *duration = scale_d(*duration, f)?;
            *graceful_stop = scale_d(*graceful_stop, f)?;
        }
        Load::RampingVus {
            stages,
            graceful_ramp_down,
            graceful_stop,
            ..
        } => {
            for s in stages.iter_mut() {
                s.duration = scale_d(s.duration, f)?;
            }
            *graceful_ramp_down = scale_d(*graceful_ramp_down, f)?;
            *graceful_stop = scale_d(*graceful_stop, f)?;
        }
    }
    Ok(())
}
