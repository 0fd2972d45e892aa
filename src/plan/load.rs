//! The load schedule (`Load`) and its maths: VUs at `t`, arrival rates and the time of the
//! k-th iteration, breakpoint stairs.

#[allow(unused_imports)]
use super::*;

/// The load schedule: how many VUs run over time (closed model), or when iterations start
/// (open model, arrival-rate executors).
#[derive(Debug, Clone)]
pub enum Load {
    ConstantArrivalRate(Arrival),
    RampingArrivalRate(Arrival),
    /// Each of `vus` VUs runs `iterations` iterations (closed model, fixed work).
    PerVuIterations(Iterations),
    /// `vus` VUs share `iterations` iterations: whoever is free takes the next.
    SharedIterations(Iterations),
    ConstantVus {
        vus: u32,
        duration: Duration,
        graceful_stop: Duration,
    },
    RampingVus {
        start_vus: u32,
        stages: Vec<Stage>,
        graceful_ramp_down: Duration,
        graceful_stop: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: u32,
}

/// Fixed work for the iterations executors.
#[derive(Debug, Clone, PartialEq)]
pub struct Iterations {
    pub vus: u32,
    pub iterations: u64,
    /// The run stops here even if iterations are left.
    pub max_duration: Duration,
    pub graceful_stop: Duration,
}

/// An open-model schedule: iteration k is due at `due(k)`, whatever the target does. A
/// constant rate is one stage from `start_rate` to the same rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Iterations per second at the start.
    pub start_rate: f64,
    /// Linear ramps of the rate (iterations per second) over each stage.
    pub stages: Vec<RateStage>,
    /// VUs started before the run; more are started when none is free, up to `max_vus`.
    pub pre_allocated_vus: u32,
    pub max_vus: u32,
    /// Due iterations waiting for a VU; beyond this many, they are dropped (`dropped_iterations`).
    pub queue_size: u32,
    pub graceful_stop: Duration,
    /// Set for the `breakpoint` executor: the stages are stairs (a jump, then a hold), each
    /// judged on its own and the run stops at the first that fails.
    pub stairs: Option<Stairs>,
}

/// How a breakpoint run judges its stairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stairs {
    /// The first part of each stair not judged (the system settles on the new rate).
    pub warmup: Duration,
    /// A stair passes only when the achieved rate is at least this share of the offered one.
    pub min_achieved: f64,
}

/// One stair of a breakpoint run: `[start, end)` since the start, offered at `rate`/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stair {
    pub start: Duration,
    pub end: Duration,
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStage {
    pub duration: Duration,
    /// Iterations per second at the end of the stage.
    pub target: f64,
}

impl Arrival {
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Iterations per second at `t`.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let mut from = self.start_rate;
        let mut stage_start = Duration::ZERO;
        for s in &self.stages {
            let end = stage_start + s.duration;
            if t < end {
                let frac = (t - stage_start).as_secs_f64() / s.duration.as_secs_f64();
                return from + (s.target - from) * frac;
            }
            from = s.target;
            stage_start = end;
        }
        0.0
    }

    /// Iterations due in `[0, t)`: the integral of the rate.
    pub fn arrivals_until(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        let mut from = self.start_rate;
        let mut start = 0.0;
        let mut total = 0.0;
        for s in &self.stages {
            let len = s.duration.as_secs_f64();
            let x = (t - start).clamp(0.0, len);
            if len > 0.0 {
                total += from * x + (s.target - from) * x * x / (2.0 * len);
            }
            if t < start + len {
                return total;
            }
            from = s.target;
            start += len;
        }
        total
    }

    /// When iteration `k` (from 0) is due: the time at which `k` iterations have arrived before
    /// it, so iteration 0 starts at once and a constant rate r spaces them 1/r apart. `None` when
    /// it falls after the schedule's end.
    pub fn due(&self, k: u64) -> Option<Duration> {
        let k = k as f64;
        let mut from = self.start_rate;
        let mut start = 0.0;
        let mut before = 0.0;
        for s in &self.stages {
            let len = s.duration.as_secs_f64();
            let a = (s.target - from) / (2.0 * len.max(1e-12));
            let in_stage = from * len + a * len * len;
            if k < before + in_stage {
                // Solve a x^2 + from x = k - before for the smallest x >= 0 (stable form).
                let need = k - before;
                let x = if need <= 0.0 {
                    0.0
                } else {
                    let disc = (from * from + 4.0 * a * need).max(0.0);
                    2.0 * need / (from + disc.sqrt()).max(1e-300)
                };
                let t = start + x.min(len);
                return (t < start + len).then(|| Duration::from_secs_f64(t));
            }
            before += in_stage;
            from = s.target;
            start += len;
        }
        None
    }

    /// The stairs of a breakpoint schedule: every stage that holds its rate (a zero-length
    /// stage before it makes the jump). Empty for other schedules.
    pub fn stair_list(&self) -> Vec<Stair> {
        if self.stairs.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut at = Duration::ZERO;
        for s in &self.stages {
            if !s.duration.is_zero() {
                out.push(Stair {
                    start: at,
                    end: at + s.duration,
                    rate: s.target,
                });
            }
            at += s.duration;
        }
        out
    }

    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start_rate, f64::max)
    }
}

impl Load {
    pub fn executor_name(&self) -> &'static str {
        match self {
            Load::ConstantVus { .. } => "constant-vus",
            Load::RampingVus { .. } => "ramping-vus",
            Load::ConstantArrivalRate(_) => "constant-arrival-rate",
            Load::RampingArrivalRate(a) if a.stairs.is_some() => "breakpoint",
            Load::RampingArrivalRate(_) => "ramping-arrival-rate",
            Load::PerVuIterations(_) => "per-vu-iterations",
            Load::SharedIterations(_) => "shared-iterations",
        }
    }

    /// The open-model schedule, for arrival-rate executors.
    pub fn arrival(&self) -> Option<&Arrival> {
        match self {
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => Some(a),
            _ => None,
        }
    }

    /// Length of the scheduled part of the run (without the graceful stop).
    pub fn duration(&self) -> Duration {
        match self {
            Load::ConstantVus { duration, .. } => *duration,
            Load::RampingVus { stages, .. } => stages.iter().map(|s| s.duration).sum(),
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.duration(),
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.max_duration,
        }
    }

    pub fn graceful_stop(&self) -> Duration {
        match self {
            Load::ConstantVus { graceful_stop, .. } | Load::RampingVus { graceful_stop, .. } => {
                *graceful_stop
            }
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.graceful_stop,
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.graceful_stop,
        }
    }

    /// Fixed work, for the iterations executors.
    pub fn iterations(&self) -> Option<&Iterations> {
        match self {
            Load::PerVuIterations(i) | Load::SharedIterations(i) => Some(i),
            _ => None,
        }
    }

    /// How long a VU removed by a ramp-down may take to finish its iteration.
    pub fn graceful_ramp_down(&self) -> Duration {
        match self {
            Load::ConstantVus { graceful_stop, .. } => *graceful_stop,
            Load::RampingVus {
                graceful_ramp_down, ..
            } => *graceful_ramp_down,
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.graceful_stop,
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.graceful_stop,
        }
    }

    /// The number of VUs that should be running at `t` since the start (linear ramps, as k6);
    /// for arrival-rate executors, the VUs allocated at the start.
    pub fn vus_at(&self, t: Duration) -> u32 {
        match self {
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
                if t < a.duration() {
                    a.pre_allocated_vus
                } else {
                    0
                }
            }
            Load::PerVuIterations(i) | Load::SharedIterations(i) => {
                if t < i.max_duration {
                    i.vus
                } else {
                    0
                }
            }
            Load::ConstantVus { vus, duration, .. } => {
                if t < *duration {
                    *vus
                } else {
                    0
                }
            }
            Load::RampingVus {
                start_vus, stages, ..
            } => {
                let mut from = *start_vus as f64;
                let mut stage_start = Duration::ZERO;
                for stage in stages {
                    let end = stage_start + stage.duration;
                    if t < end {
                        let frac = (t - stage_start).as_secs_f64() / stage.duration.as_secs_f64();
                        let to = stage.target as f64;
                        return (from + (to - from) * frac).round().max(0.0) as u32;
                    }
                    from = stage.target as f64;
                    stage_start = end;
                }
                0
            }
        }
    }

    /// The most VUs this load ever asks for.
    pub fn max_vus(&self) -> u32 {
        match self {
            Load::ConstantVus { vus, .. } => *vus,
            Load::RampingVus {
                start_vus, stages, ..
            } => stages.iter().map(|s| s.target).fold(*start_vus, u32::max),
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.max_vus,
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.vus,
        }
    }

    /// Index of the stage running at `t` (0-based), if any.
    pub fn stage_at(&self, t: Duration) -> Option<usize> {
        match self {
            Load::ConstantVus { duration, .. } => (t < *duration).then_some(0),
            Load::ConstantArrivalRate(a) => (t < a.duration()).then_some(0),
            Load::PerVuIterations(i) | Load::SharedIterations(i) => {
                (t < i.max_duration).then_some(0)
            }
            Load::RampingArrivalRate(a) if a.stairs.is_some() => a
                .stair_list()
                .iter()
                .position(|st| t >= st.start && t < st.end),
            Load::RampingArrivalRate(Arrival { stages, .. }) => {
                let mut end = Duration::ZERO;
                for (i, s) in stages.iter().enumerate() {
                    end += s.duration;
                    if t < end {
                        return Some(i);
                    }
                }
                None
            }
            Load::RampingVus { stages, .. } => {
                let mut end = Duration::ZERO;
                for (i, s) in stages.iter().enumerate() {
                    end += s.duration;
                    if t < end {
                        return Some(i);
                    }
                }
                None
            }
        }
    }
}
