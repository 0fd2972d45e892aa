//! Windowed thresholds (`p(95) over 1m < 500ms`, `rate over 30s < 1%`): judged on every sliding
//! window of whole seconds of the per-second timeline — the window ending at each second, once
//! that many seconds have passed — live (for `abort_on_fail`) and at the end. A window with no
//! data (nothing recorded in it) is not judged; a run shorter than the window is judged as one
//! window. The outcome is the worst window (highest value for `<`/`<=`, lowest for `>`/`>=`),
//! and when it was: seconds `(from, to]` of the run.

use crate::metrics::Aggregator;
use crate::metrics::aggregate::ScenarioSteps;
use crate::metrics::aggregate::{LiveObserve, LiveView};
use crate::sla::{Observe, Op, Outcome, Threshold};
use std::time::Duration;

/// What a window needs besides the seconds.
pub struct WindowView<'a> {
    pub step_names: &'a [String],
    pub scenarios: &'a [ScenarioSteps],
    pub vus_allowed: u32,
}

#[derive(Debug, Clone)]
struct State {
    /// Index into the plan's thresholds.
    index: usize,
    secs: u64,
    worst: Option<(f64, u64, u64)>,
    failed: bool,
    /// The first failing window, for abort_on_fail.
    first_failure: Option<(u64, u64)>,
}

/// The windowed thresholds of a run and what their windows showed so far.
pub struct WindowJudge {
    states: Vec<State>,
    /// Windows ending at seconds up to this one were judged.
    judged_through: u64,
}

fn worse(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Lt | Op::Le => a > b,
        Op::Gt | Op::Ge => a < b,
        Op::Eq | Op::Ne => false,
    }
}

impl WindowJudge {
    /// `None` when no threshold has a window.
    pub fn new(thresholds: &[Threshold]) -> Option<WindowJudge> {
        let states: Vec<State> = thresholds
            .iter()
            .enumerate()
            .filter_map(|(index, t)| {
                t.window.map(|w| State {
                    index,
                    secs: w.as_secs().max(1),
                    worst: None,
                    failed: false,
                    first_failure: None,
                })
            })
            .collect();
        (!states.is_empty()).then_some(WindowJudge {
            states,
            judged_through: 0,
        })
    }

    fn longest(&self) -> u64 {
        self.states.iter().map(|s| s.secs).max().unwrap_or(1)
    }

    fn judge_one(
        st: &mut State,
        t: &Threshold,
        agg: &Aggregator,
        from: u64,
        to: u64,
        view: &WindowView,
    ) {
        let Some(rec) = agg.window(from + 1, to) else {
            return;
        };
        let live = LiveObserve {
            view: LiveView {
                total: &rec,
                elapsed: Duration::from_secs(to - from),
                vus_max: 0,
                vus_now: 0,
            },
            step_names: view.step_names,
            vus_allowed: view.vus_allowed,
            scenarios: view.scenarios,
        };
        let Some(v) = live.observe(&t.metric, t.agg) else {
            return;
        };
        if !t.evaluate(&Fixed(v)).passed {
            st.failed = true;
            st.first_failure.get_or_insert((from, to));
        }
        match st.worst {
            Some((w, _, _)) if !worse(t.op, v, w) => {}
            _ => st.worst = Some((v, from, to)),
        }
    }

    /// Judge every window that ends at a second completed since the last call. Returns the
    /// thresholds (indices) with `abort_on_fail` whose window failed, with that window.
    pub fn update(
        &mut self,
        agg: &Aggregator,
        thresholds: &[Threshold],
        view: &WindowView,
    ) -> Vec<(usize, (u64, u64))> {
        let done = agg.timeline.last().map_or(0, |p| p.second);
        let mut aborts = Vec::new();
        for end in self.judged_through + 1..=done {
            for st in &mut self.states {
                if end < st.secs {
                    continue;
                }
                let Some(t) = thresholds.get(st.index) else {
                    continue;
                };
                let was = st.failed;
                Self::judge_one(st, t, agg, end - st.secs, end, view);
                if st.failed && !was && t.abort_on_fail {
                    aborts.push((st.index, st.first_failure.unwrap_or((0, end))));
                }
            }
        }
        self.judged_through = self.judged_through.max(done);
        // Seconds older than the longest window are not needed again (unless a breakpoint judge
        // also keeps them: the caller decides by calling `forget`).
        aborts
    }

    /// The oldest second still needed.
    pub fn needed_from(&self) -> u64 {
        (self.judged_through + 1).saturating_sub(self.longest())
    }

    /// At the end: a threshold none of whose windows was full is judged over the whole run.
    pub fn finish(&mut self, agg: &Aggregator, thresholds: &[Threshold], view: &WindowView) {
        let last = agg.timeline.last().map_or(0, |p| p.second);
        for st in &mut self.states {
            if st.worst.is_none()
                && last > 0
                && last < st.secs
                && let Some(t) = thresholds.get(st.index)
            {
                Self::judge_one(st, t, agg, 0, last, view);
            }
        }
    }

    /// Replace the whole-run outcomes of windowed thresholds by their worst window.
    pub fn patch(&self, outcomes: &mut [Outcome]) {
        for st in &self.states {
            if let Some(o) = outcomes.get_mut(st.index) {
                match st.worst {
                    Some((v, from, to)) => {
                        o.observed = Some(v);
                        o.passed = !st.failed;
                        o.worst_window = Some((from, to));
                    }
                    None => {
                        // No window had data yet: nothing judged (it fails at the end, as any
                        // threshold without data).
                        o.observed = None;
                        o.passed = false;
                        o.worst_window = None;
                    }
                }
            }
        }
    }
}

struct Fixed(f64);

impl Observe for Fixed {
    fn observe(&self, _: &crate::sla::MetricRef, _: crate::sla::Agg) -> Option<f64> {
        Some(self.0)
    }
}

fn view_of<'a>(plan: &'a crate::plan::Plan, scenarios: &'a [ScenarioSteps]) -> WindowView<'a> {
    WindowView {
        step_names: &plan.step_names,
        scenarios,
        vus_allowed: plan.peak_vus(),
    }
}

/// After each new second of a run: judge the new windows, put their verdicts in `outcomes`
/// (where the runner's `abort_on_fail` check sees them), and forget seconds no window needs
/// (unless `keep_all`: a breakpoint judge reads them too).
pub fn live(
    judge: &mut Option<WindowJudge>,
    agg: &mut Aggregator,
    plan: &crate::plan::Plan,
    outcomes: &mut [Outcome],
    keep_all: bool,
) {
    let Some(w) = judge else { return };
    w.update(
        agg,
        &plan.thresholds,
        &view_of(plan, &plan.scenario_steps()),
    );
    w.patch(outcomes);
    if !keep_all {
        agg.forget_before(w.needed_from());
    }
}

/// At the end of a run (every second closed): judge the last windows.
pub fn at_end(judge: &mut Option<WindowJudge>, agg: &Aggregator, plan: &crate::plan::Plan) {
    let Some(w) = judge else { return };
    let scenarios = plan.scenario_steps();
    let view = view_of(plan, &scenarios);
    w.update(agg, &plan.thresholds, &view);
    w.finish(agg, &plan.thresholds, &view);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::aggregate::Snapshot;
    use crate::metrics::recorder::{Recorder, Sample};
    use crate::sla::MetricRef;

    fn second(s: u64, ms: u64) -> Snapshot {
        let mut r = Recorder::new(1);
        for _ in 0..100 {
            r.record(
                0,
                &Sample {
                    duration: Some(Duration::from_millis(ms)),
                    status: Some(200),
                    ..Sample::default()
                },
            );
        }
        Snapshot {
            worker: 0,
            second: s,
            data: r,
            vus: 1,
            vus_peak: 1,
        }
    }

    #[test]
    fn the_worst_sliding_window_is_found_and_named() {
        let th =
            |e: &str| Threshold::parse(MetricRef::parse("http_req_duration").unwrap(), e).unwrap();
        let thresholds = vec![th("p(95) over 3s < 100ms"), th("p(95) < 100ms")];
        let mut judge = WindowJudge::new(&thresholds).unwrap();
        let mut agg = Aggregator::new(1, 1).keep_seconds();
        let names = vec!["s".to_string()];
        let view = WindowView {
            step_names: &names,
            scenarios: &[],
            vus_allowed: 1,
        };
        for s in 1..=20 {
            // Second 12 is slow: every window holding it fails; the whole run does not.
            agg.add(second(s, if s == 12 { 900 } else { 10 }));
            judge.update(&agg, &thresholds, &view);
            agg.forget_before(judge.needed_from());
        }
        let whole = LiveObserve {
            view: agg.view(Duration::from_secs(20)),
            step_names: &names,
            vus_allowed: 1,
            scenarios: &[],
        };
        let mut outcomes = crate::sla::evaluate_all(&thresholds, &whole);
        judge.patch(&mut outcomes);
        assert!(!outcomes[0].passed);
        let (from, to) = outcomes[0].worst_window.unwrap();
        assert!(from < 12 && to >= 12 && to - from == 3, "{from}–{to}");
        assert!(outcomes[0].observed.unwrap() > 800.0);
        assert!(
            outcomes[1].passed,
            "the whole run's p95 hides the slow second"
        );
        assert!(outcomes[1].worst_window.is_none());
    }
}
