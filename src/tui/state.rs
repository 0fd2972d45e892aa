//! `LiveState`: a small, owned picture of a running test that the live views (dashboard,
//! progress bar, plain lines) render. The runner builds one after each aggregation update with
//! a `Publisher` and hands it over; the views never touch the aggregator or the engine.

use crate::metrics::Aggregator;
use crate::metrics::aggregate::ms;
use crate::plan::{Plan, ScenarioPlan};
use crate::sla::Outcome;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most seconds of history the charts keep (one hour).
pub const SERIES_CAP: usize = 3600;

/// One second of the run, as the charts draw it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SecondPoint {
    pub second: u64,
    /// Requests completed in this second.
    pub rps: f64,
    /// What the arrival schedule asks for in this second, in requests (see `TargetKind`).
    pub target_rps: Option<f64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub vus: u32,
}

/// Where the "target" line of the req/s chart comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Closed model: the target is a number of VUs, not a rate; no target line.
    Vus,
    /// Open model: iterations per second from the schedule × requests per iteration.
    Rate,
    /// Several scenarios, some closed: the target line covers the open ones only.
    PartialRate,
}

/// One row of the per-step table. Latencies cover the run so far; `rps` the last second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepRow {
    pub name: String,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: u64,
    /// A streaming or WebSocket step's own figures so far (`ttft p99 156ms · itl p50 20.0ms`).
    pub stream: Option<String>,
}

/// Whether a threshold may stop the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Abort {
    /// No `abort_on_fail`.
    Off,
    /// A failure now stops the run.
    Armed,
    /// `delay_abort_eval` has not passed yet: armed in this long.
    In(Duration),
}

/// One row of the thresholds panel, evaluated live.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRow {
    /// `http_req_duration{step:home}`
    pub metric: String,
    /// `p(95) < 500ms`
    pub expression: String,
    /// `12.34ms`, or `no data`.
    pub observed: String,
    /// `None` while there is nothing to judge yet.
    pub passed: Option<bool>,
    pub abort: Abort,
}

impl ThresholdRow {
    pub fn label(&self) -> String {
        format!("{} {}", self.metric, self.expression)
    }
}

/// What the run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// New iterations are held (the `p` key).
    Paused,
    /// The schedule ended or a stop was asked: running iterations finish within `graceful_stop`.
    Stopping,
}

/// Everything a live view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveState {
    pub name: String,
    pub executor: String,
    pub target_url: String,
    /// When the engine started (views run their clock from it).
    pub started: Instant,
    /// Elapsed when this state was built.
    pub elapsed: Duration,
    pub planned: Duration,
    pub graceful_stop: Duration,
    /// Current stage (0-based) and the number of stages; `None` past the schedule.
    pub stage: Option<(usize, usize)>,
    pub phase: Phase,
    pub vus: u32,
    /// VUs the schedule asks for now (pre-allocated VUs for arrival-rate executors).
    pub vus_target: u32,
    pub vus_max: u32,
    pub dropped: u64,
    pub requests: u64,
    pub failures: u64,
    /// Requests in the last complete second.
    pub rps: f64,
    /// p95 of the last complete second.
    pub p95_ms: f64,
    pub target_kind: TargetKind,
    pub series: Vec<SecondPoint>,
    /// Status codes seen, by code.
    pub status: Vec<(u16, u64)>,
    /// Failures by kind (only kinds seen).
    pub errors: Vec<(String, u64)>,
    pub steps: Vec<StepRow>,
    pub thresholds: Vec<ThresholdRow>,
    /// The last thing worth telling (stopping, aborting).
    pub notice: Option<String>,
}

impl LiveState {
    /// Failures as a percentage of requests so far.
    pub fn error_pct(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 * 100.0 / self.requests as f64
        }
    }

    /// Thresholds failing now, as `metric expression`.
    pub fn failing(&self) -> Vec<String> {
        self.thresholds
            .iter()
            .filter(|t| t.passed == Some(false))
            .map(ThresholdRow::label)
            .collect()
    }
}

/// Builds `LiveState`s for one run; keeps the chart series between builds so each build adds
/// only the seconds completed since the last.
pub struct Publisher {
    plan: Arc<Plan>,
    started: Instant,
    series: Vec<SecondPoint>,
    seen: usize,
    target_kind: TargetKind,
}

impl Publisher {
    pub fn new(plan: Arc<Plan>, started: Instant) -> Self {
        let runs = &plan.scenarios;
        let open = runs.iter().filter(|p| p.load.arrival().is_some()).count();
        let target_kind = if open == 0 {
            TargetKind::Vus
        } else if open == runs.len() {
            TargetKind::Rate
        } else {
            TargetKind::PartialRate
        };
        Publisher {
            plan,
            started,
            series: Vec::new(),
            seen: 0,
            target_kind,
        }
    }

    /// Requests the arrival schedules ask for during second `second` (the interval
    /// `(second-1, second]`), or `None` for a closed-model plan.
    fn target_in_second(&self, second: u64) -> Option<f64> {
        if self.target_kind == TargetKind::Vus {
            return None;
        }
        let (a, b) = (
            Duration::from_secs(second.saturating_sub(1)),
            Duration::from_secs(second),
        );
        Some(
            self.plan
                .scenarios
                .iter()
                .filter_map(|p| {
                    p.load.arrival().map(|arr| {
                        (arr.arrivals_until(b) - arr.arrivals_until(a)) * p.requests_per_iteration()
                    })
                })
                .sum(),
        )
    }

    fn stage(&self, t: Duration) -> Option<(usize, usize)> {
        use crate::plan::Load;
        let count = |p: &ScenarioPlan| match &p.load {
            Load::RampingVus { stages, .. } => stages.len(),
            Load::RampingArrivalRate(a) => a.stages.len(),
            _ => 1,
        };
        // Several scenarios: the longest one's stage.
        let longest = self
            .plan
            .scenarios
            .iter()
            .max_by_key(|p| p.load.duration())?;
        longest.load.stage_at(t).map(|i| (i, count(longest)))
    }

    /// A picture of the run now. `outcomes` are the thresholds as last evaluated.
    pub fn build(
        &mut self,
        agg: &Aggregator,
        outcomes: &[Outcome],
        elapsed: Duration,
        phase: Phase,
        notice: Option<String>,
    ) -> LiveState {
        for p in agg.timeline.iter().skip(self.seen) {
            self.series.push(SecondPoint {
                second: p.second,
                rps: p.requests as f64,
                target_rps: self.target_in_second(p.second),
                p50_ms: p.p50_ms,
                p95_ms: p.p95_ms,
                p99_ms: p.p99_ms,
                vus: p.vus,
            });
        }
        self.seen = agg.timeline.len();
        if self.series.len() > SERIES_CAP {
            let cut = self.series.len() - SERIES_CAP;
            self.series.drain(..cut);
        }
        let plan = &self.plan;
        let planned = plan.planned_duration();
        let at = elapsed.min(planned.saturating_sub(Duration::from_millis(1)));
        let vus_target: u32 = plan.vus_at(at);
        let last = agg.timeline.last();
        let total = &agg.total;
        let q = |h: &hdrhistogram::Histogram<u64>, f: f64| {
            (!h.is_empty()).then(|| ms(h.value_at_quantile(f)))
        };
        let steps = plan
            .step_names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let st = total.steps.get(i);
                StepRow {
                    name: name.clone(),
                    requests: st.map_or(0, |s| s.requests),
                    rps: last
                        .and_then(|p| p.steps.get(i))
                        .map_or(0.0, |s| s.requests as f64),
                    p50_ms: st.and_then(|s| q(&s.duration, 0.50)),
                    p95_ms: st.and_then(|s| q(&s.duration, 0.95)),
                    p99_ms: st.and_then(|s| q(&s.duration, 0.99)),
                    errors: st.map_or(0, |s| s.failures),
                    stream: st.and_then(stream_figures),
                }
            })
            .collect();
        let thresholds = outcomes
            .iter()
            .map(|o| {
                let t = &o.threshold;
                ThresholdRow {
                    metric: t.metric.to_string(),
                    expression: t.expression.clone(),
                    observed: o.observed_display(),
                    passed: o.observed.map(|_| o.passed),
                    abort: if !t.abort_on_fail {
                        Abort::Off
                    } else if elapsed >= t.delay_abort_eval {
                        Abort::Armed
                    } else {
                        Abort::In(t.delay_abort_eval - elapsed)
                    },
                }
            })
            .collect();
        LiveState {
            name: plan.name.clone(),
            executor: plan.executor_label(),
            target_url: plan.target.url(),
            started: self.started,
            elapsed,
            planned,
            graceful_stop: plan.graceful_stop(),
            stage: self.stage(elapsed),
            phase,
            vus: last.map_or(0, |p| p.vus),
            vus_target: if elapsed < planned { vus_target } else { 0 },
            vus_max: plan.peak_vus(),
            dropped: total.dropped_iterations,
            requests: total.requests(),
            failures: total.failures(),
            rps: last.map_or(0.0, |p| p.requests as f64),
            p95_ms: last.map_or(0.0, |p| p.p95_ms),
            target_kind: self.target_kind,
            series: self.series.clone(),
            status: total
                .status
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| (code as u16, *n))
                .collect(),
            errors: crate::metrics::ErrorKind::ALL
                .iter()
                .map(|k| (total.error_label(*k), total.error_count(*k)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            steps,
            thresholds,
            notice,
        }
    }
}

/// The latest state, handed from the runner to the dashboard thread (latest wins; the lock is
/// held only to swap or clone an `Arc`).
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Arc<LiveState>>>>);

impl Slot {
    pub fn publish(&self, state: LiveState) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(Arc::new(state));
        }
    }

    pub fn latest(&self) -> Option<Arc<LiveState>> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

/// The live figures of a streaming (`sse:`) or WebSocket (`ws:`) step.
fn stream_figures(s: &crate::metrics::StepStats) -> Option<String> {
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| {
        (!h.is_empty()).then(|| format!("{:.1}ms", h.value_at_quantile(q) as f64 / 1000.0))
    };
    if let Some(st) = s.stream.as_deref() {
        let mut parts = Vec::new();
        if let Some(v) = ms(&st.ttft, 0.99) {
            parts.push(format!("ttft p99 {v}"));
        }
        if let Some(v) = ms(&st.inter_token, 0.5) {
            parts.push(format!("itl p50 {v}"));
        }
        parts.push(format!("{} tok", st.tokens));
        return Some(parts.join(" · "));
    }
    let ws = s.ws.as_deref()?;
    let mut parts = vec![format!("{} sessions", ws.sessions)];
    if let Some(v) = ms(&ws.msg_rtt, 0.5) {
        parts.push(format!("rtt p50 {v}"));
    }
    Some(parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Overrides, load_str};

    /// The chart's target line adds each scenario's arrivals times its own requests per
    /// iteration (weighted over its own flows), and the VU target adds every scenario's VUs.
    #[test]
    fn the_target_rate_and_vus_add_every_scenario_with_its_own_flows() {
        let plan = load_str(
            "target: http://127.0.0.1:9\nscenarios:\n\
             \x20 one:\n\
             \x20   load: { executor: constant-arrival-rate, rate: 10, duration: 4s, pre_allocated_vus: 2, max_vus: 5 }\n\
             \x20   flows: [ { steps: [ { name: a, get: /a } ] } ]\n\
             \x20 three:\n\
             \x20   load: { executor: constant-arrival-rate, rate: 20, duration: 4s, pre_allocated_vus: 3, max_vus: 5 }\n\
             \x20   flows:\n\
             \x20     - { weight: 1, steps: [ { name: b, get: /b }, { name: c, get: /c }, { name: d, get: /d } ] }\n\
             \x20     - { weight: 3, steps: [ { name: e, get: /e } ] }\n\
             \x20 closed:\n\
             \x20   load: { vus: 7, duration: 2s }\n\
             \x20   flows: [ { steps: [ { name: f, get: /f } ] } ]\n",
            "s.yaml",
            "s",
            &Overrides::default(),
        )
        .expect("a valid file");
        let p = Publisher::new(Arc::new(plan), Instant::now());
        assert!(p.target_kind == TargetKind::PartialRate);
        // 10/s × 1 request + 20/s × (1·3 + 3·1)/4 = 10 + 30 requests per second.
        let rps = p.target_in_second(2).expect("a rate target");
        assert!((rps - 40.0).abs() < 1e-9, "{rps}");
        // 2 and 3 pre-allocated VUs of the open scenarios, 7 of the closed one.
        assert_eq!(p.plan.vus_at(Duration::from_secs(1)), 12);
        // The longest scenario's stage (all have one).
        assert_eq!(p.stage(Duration::from_secs(3)), Some((0, 1)));
    }
}
