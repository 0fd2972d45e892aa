//! The `load` block: executors, stages, arrival rates and breakpoint stairs.

#[allow(unused_imports)]
use super::*;

pub(super) const EXECUTORS: &[&str] = &[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
    "breakpoint",
];
pub(super) const PLANNED_EXECUTORS: &[&str] = &[];

pub(super) fn think(spec: ThinkSpec) -> Think {
    match spec {
        ThinkSpec::Constant(d) if d.is_zero() => Think::None,
        ThinkSpec::Constant(d) => Think::Constant(d),
        ThinkSpec::Between(a, b) => Think::Between(a, b),
        ThinkSpec::Exponential(d) if d.is_zero() => Think::None,
        ThinkSpec::Exponential(d) => Think::Exponential(d),
        ThinkSpec::Pacing(d) => Think::Pacing(d),
    }
}

impl Builder<'_> {
    pub(super) fn load(&self, l: &RawLoad, ov: &Overrides) -> Result<Load, ScenarioError> {
        let executor = self.executor(l)?;
        self.keys_apply(l, &executor)?;
        let graceful_stop = l.graceful_stop.map_or(Duration::from_secs(30), |d| d.0);
        let mut load = if executor.ends_with("arrival-rate") || executor == "breakpoint" {
            self.arrival(l, &executor, graceful_stop, ov)?
        } else if executor.ends_with("iterations") {
            let it = Iterations {
                vus: l.vus.unwrap_or(1),
                iterations: l.iterations.unwrap_or(1),
                max_duration: match (l.max_duration, ov.duration) {
                    (_, Some(d)) => d,
                    (Some(d), None) => d.0,
                    (None, None) => Duration::from_secs(600),
                },
                graceful_stop,
            };
            if it.iterations == 0 {
                return Err(self.at_value("load.iterations", "iterations must be at least 1"));
            }
            if executor == "per-vu-iterations" {
                Load::PerVuIterations(it)
            } else {
                Load::SharedIterations(it)
            }
        } else if executor == "constant-vus" {
            let duration = match (l.duration, ov.duration) {
                (_, Some(d)) => d,
                (Some(d), None) => d.0,
                (None, None) => {
                    return Err(self.at_key(
                        "load",
                        "constant-vus needs `duration` (e.g. `duration: 30s`)",
                    ));
                }
            };
            Load::ConstantVus {
                vus: l.vus.unwrap_or(1),
                duration,
                graceful_stop,
            }
        } else {
            let raw_stages = l.stages.as_deref().unwrap_or_default();
            if raw_stages.is_empty() {
                return Err(self.at_key("load.stages", "ramping-vus needs at least one stage, e.g. `stages: [{duration: 30s, target: 10}]`"));
            }
            Load::RampingVus {
                start_vus: l.start_vus.unwrap_or(1),
                stages: raw_stages
                    .iter()
                    .map(|s| Stage {
                        duration: s.duration.0,
                        target: s.target,
                    })
                    .collect(),
                graceful_ramp_down: l
                    .graceful_ramp_down
                    .map_or(Duration::from_secs(30), |d| d.0),
                graceful_stop,
            }
        };
        apply_overrides(&mut load, ov).map_err(|m| ScenarioError {
            file: "command line".into(),
            pos: None,
            message: m.to_string(),
        })?;
        if load.duration().is_zero() {
            return Err(self.at_key("load", "the load schedule lasts zero seconds"));
        }
        check_load_limits(&load).map_err(|m| self.at_key("load", m))?;
        if load.max_vus() == 0 {
            return Err(self.at_key("load", "the load never starts a VU (every target is 0)"));
        }
        Ok(load)
    }

    /// The executor's name (`constant-vus` by default, `ramping-vus` with `stages`), known.
    fn executor(&self, l: &RawLoad) -> Result<String, ScenarioError> {
        let executor = match &l.executor {
            Some(e) => e.clone(),
            None if l.stages.is_some() => "ramping-vus".into(),
            None => "constant-vus".into(),
        };
        if !EXECUTORS.contains(&executor.as_str()) {
            let msg = if PLANNED_EXECUTORS.contains(&executor.as_str()) {
                format!(
                    "executor `{executor}` is not supported yet; this version runs {}",
                    EXECUTORS.join(", ")
                )
            } else {
                let hint = did_you_mean(
                    &executor,
                    EXECUTORS.iter().chain(PLANNED_EXECUTORS).copied(),
                )
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
                format!(
                    "unknown executor `{executor}`{hint}; use {}",
                    EXECUTORS.join(" or ")
                )
            };
            return Err(self.at_value("load.executor", msg));
        }
        Ok(executor)
    }

    /// Every key set in `load` must be one the executor takes.
    fn keys_apply(&self, l: &RawLoad, executor: &str) -> Result<(), ScenarioError> {
        let allowed = allowed_keys(executor);
        let present = [
            ("vus", l.vus.is_some()),
            ("duration", l.duration.is_some()),
            ("start_vus", l.start_vus.is_some()),
            ("stages", l.stages.is_some()),
            ("graceful_ramp_down", l.graceful_ramp_down.is_some()),
            ("think_time", l.think_time.is_some()),
            ("spread_start", l.spread_start.is_some()),
            ("rate", l.rate.is_some()),
            ("start_rate", l.start_rate.is_some()),
            ("time_unit", l.time_unit.is_some()),
            ("pre_allocated_vus", l.pre_allocated_vus.is_some()),
            ("max_vus", l.max_vus.is_some()),
            ("queue_size", l.queue_size.is_some()),
            ("iterations", l.iterations.is_some()),
            ("max_duration", l.max_duration.is_some()),
            ("step_rate", l.step_rate.is_some()),
            ("step_duration", l.step_duration.is_some()),
            ("max_rate", l.max_rate.is_some()),
            ("warmup", l.warmup.is_some()),
        ];
        for (key, is_set) in present {
            if is_set && !allowed.contains(&key) {
                return Err(self.at_key(
                    &format!("load.{key}"),
                    format!(
                        "`{key}` does not apply to executor {executor}, which takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// An arrival-rate executor's schedule (rates per `time_unit`, stored per second).
    pub(super) fn arrival(
        &self,
        l: &model::RawLoad,
        executor: &str,
        graceful_stop: Duration,
        ov: &Overrides,
    ) -> Result<Load, ScenarioError> {
        let unit = l.time_unit.map_or(Duration::from_secs(1), |d| d.0);
        if unit.is_zero() {
            return Err(self.at_value("load.time_unit", "time_unit must be above zero"));
        }
        let per_s = |r: f64| r / unit.as_secs_f64();
        let (start_rate, stages) = if executor == "constant-arrival-rate" {
            let Some(rate) = l.rate else {
                return Err(self.at_key(
                    "load",
                    "constant-arrival-rate needs `rate` (iterations per time_unit, e.g. `rate: 100`)",
                ));
            };
            let duration = match (l.duration, ov.duration) {
                (_, Some(d)) => d,
                (Some(d), None) => d.0,
                (None, None) => {
                    return Err(self.at_key(
                        "load",
                        "constant-arrival-rate needs `duration` (e.g. `duration: 30s`)",
                    ));
                }
            };
            let r = per_s(rate);
            (
                r,
                vec![RateStage {
                    duration,
                    target: r,
                }],
            )
        } else if executor == "breakpoint" {
            self.stairs(l, &per_s)?
        } else {
            let raw_stages = l.stages.as_deref().unwrap_or_default();
            if raw_stages.is_empty() {
                return Err(self.at_key(
                    "load.stages",
                    "ramping-arrival-rate needs at least one stage, e.g. `stages: [{duration: 30s, target: 100}]`",
                ));
            }
            (
                per_s(l.start_rate.unwrap_or(0.0)),
                raw_stages
                    .iter()
                    .map(|s| RateStage {
                        duration: s.duration.0,
                        target: per_s(s.target as f64),
                    })
                    .collect(),
            )
        };
        let peak = self.check_rates(executor, start_rate, &stages)?;
        if let Some(q) = l.queue_size
            && q > limits::MAX_QUEUE
        {
            return Err(self.at_value(
                "load.queue_size",
                format!("queue_size {q} is above the limit of {}", limits::MAX_QUEUE),
            ));
        }
        let pre = l.pre_allocated_vus;
        let max_vus = match (l.max_vus, pre) {
            (Some(m), _) => m,
            (None, Some(p)) => p,
            (None, None) => {
                return Err(self.at_key(
                    "load",
                    format!(
                        "{executor} needs `pre_allocated_vus` (VUs started up front) and usually `max_vus` (the most it may start), e.g. `pre_allocated_vus: {0}, max_vus: {1}`",
                        (peak / 10.0).ceil().max(1.0) as u64,
                        (peak).ceil().max(1.0) as u64,
                    ),
                ));
            }
        };
        let pre = pre.unwrap_or(max_vus.min(10));
        if pre > max_vus {
            return Err(self.at_value(
                "load.max_vus",
                format!("max_vus ({max_vus}) is below pre_allocated_vus ({pre})"),
            ));
        }
        if max_vus == 0 {
            return Err(self.at_value("load.max_vus", "max_vus must be at least 1"));
        }
        // Deep enough for 5 s of arrivals at the peak rate by default.
        let queue_size = l
            .queue_size
            .unwrap_or_else(|| limits::count(peak * 5.0, limits::MAX_QUEUE).max(1000));
        let stairs = (executor == "breakpoint").then(|| Stairs {
            warmup: l.warmup.map_or(Duration::from_secs(1), |d| d.0),
            min_achieved: 0.97,
        });
        let a = Arrival {
            start_rate,
            stages,
            pre_allocated_vus: pre,
            max_vus,
            queue_size,
            graceful_stop,
            stairs,
        };
        Ok(if executor == "constant-arrival-rate" {
            Load::ConstantArrivalRate(a)
        } else {
            Load::RampingArrivalRate(a)
        })
    }

    /// Every rate of the schedule within the limits, and not 0 throughout; the peak rate.
    fn check_rates(
        &self,
        executor: &str,
        start_rate: f64,
        stages: &[RateStage],
    ) -> Result<f64, ScenarioError> {
        for (i, r) in std::iter::once(start_rate)
            .chain(stages.iter().map(|s| s.target))
            .enumerate()
        {
            if let Err(m) = limits::rate(r, false) {
                let path = if i == 0 {
                    if executor == "constant-arrival-rate" {
                        "load.rate".to_string()
                    } else {
                        "load.start_rate".to_string()
                    }
                } else {
                    format!("load.stages.{}.target", i - 1)
                };
                return Err(self.at_value(&path, m));
            }
        }
        let peak = stages.iter().map(|s| s.target).fold(start_rate, f64::max);
        if peak <= 0.0 {
            let path = if executor == "constant-arrival-rate" {
                "load.rate"
            } else {
                "load.stages"
            };
            return Err(self.at_value(
                path,
                "the rate is 0 throughout: this schedule would start no iteration",
            ));
        }
        Ok(peak)
    }

    /// The breakpoint executor's stairs as stages: a zero-length jump to each stair's rate, then
    /// a hold of `step_duration`, from `start_rate` up by `step_rate` to `max_rate`.
    pub(super) fn stairs(
        &self,
        l: &model::RawLoad,
        per_s: &dyn Fn(f64) -> f64,
    ) -> Result<(f64, Vec<RateStage>), ScenarioError> {
        let need = |key: &str, example: &str| {
            self.at_key(
                "load",
                format!("breakpoint needs `{key}` (e.g. `{key}: {example}`); it takes start_rate, step_rate, step_duration, max_rate"),
            )
        };
        let start = l.start_rate.ok_or_else(|| need("start_rate", "100"))?;
        let step = l.step_rate.ok_or_else(|| need("step_rate", "100"))?;
        let hold = l
            .step_duration
            .ok_or_else(|| need("step_duration", "30s"))?
            .0;
        let max = l.max_rate.ok_or_else(|| need("max_rate", "5000"))?;
        for (key, v) in [
            ("start_rate", start),
            ("step_rate", step),
            ("max_rate", max),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(self.at_value(
                    &format!("load.{key}"),
                    format!("{key} must be a number above 0"),
                ));
            }
        }
        if max < start {
            return Err(self.at_value(
                "load.max_rate",
                format!("max_rate ({max}) is below start_rate ({start})"),
            ));
        }
        if hold.is_zero() {
            return Err(self.at_value("load.step_duration", "step_duration must be above zero"));
        }
        let warmup = l.warmup.map_or(Duration::from_secs(1), |d| d.0);
        if warmup >= hold {
            return Err(self.at_value(
                "load.warmup",
                format!(
                    "warmup ({}) must be shorter than step_duration ({}): what is left of each stair is judged",
                    format_duration(warmup),
                    format_duration(hold)
                ),
            ));
        }
        let count = ((max - start) / step + 1e-9).floor() as usize + 1;
        if count > 1000 {
            return Err(self.at_value(
                "load.step_rate",
                format!("{count} stairs from {start} to {max}: use a larger step_rate"),
            ));
        }
        let mut stages = Vec::with_capacity(count * 2);
        for i in 0..count {
            let r = per_s(start + step * i as f64);
            stages.push(RateStage {
                duration: Duration::ZERO,
                target: r,
            });
            stages.push(RateStage {
                duration: hold,
                target: r,
            });
        }
        Ok((per_s(start), stages))
    }
}

/// The `load` keys each executor takes.
fn allowed_keys(executor: &str) -> &'static [&'static str] {
    match executor {
        "constant-vus" => &["vus", "duration", "think_time", "spread_start"],
        "ramping-vus" => &[
            "start_vus",
            "stages",
            "graceful_ramp_down",
            "think_time",
            "spread_start",
        ],
        "constant-arrival-rate" => &[
            "rate",
            "time_unit",
            "duration",
            "pre_allocated_vus",
            "max_vus",
            "queue_size",
        ],
        "breakpoint" => &[
            "start_rate",
            "step_rate",
            "step_duration",
            "max_rate",
            "warmup",
            "time_unit",
            "pre_allocated_vus",
            "max_vus",
            "queue_size",
        ],
        "per-vu-iterations" | "shared-iterations" => &[
            "vus",
            "iterations",
            "max_duration",
            "think_time",
            "spread_start",
        ],
        _ => &[
            "start_rate",
            "time_unit",
            "stages",
            "pre_allocated_vus",
            "max_vus",
            "queue_size",
        ],
    }
}
