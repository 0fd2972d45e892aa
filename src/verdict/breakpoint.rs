//! Judging a breakpoint run stair by stair: each stair of offered load passes when every threshold
//! holds on that stair's own metrics (its warm-up left out), the achieved rate keeps up with the
//! offered one and no iteration was dropped. The run stops at the first stair that fails.

use crate::metrics::aggregate::{LiveObserve, LiveView, ScenarioSteps, ms};
use crate::metrics::{Aggregator, Recorder, TimelinePoint};
use crate::plan::{Arrival, Stair, Stairs};
use crate::sla::{Observe, Threshold};
use std::time::Duration;

/// The verdict on one stair.
#[derive(Debug, Clone, PartialEq)]
pub struct StairResult {
    /// The stair's place in the run (seconds since the start).
    pub start: Duration,
    pub end: Duration,
    /// Iterations per second offered (the schedule) and completed in the judged part.
    pub offered_rps: f64,
    pub achieved_rps: f64,
    /// Requests per second completed in the judged part.
    pub requests_per_s: f64,
    pub vus_max: u32,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_rate: f64,
    /// Iterations dropped during the whole stair (the warm-up included).
    pub dropped: u64,
    pub passed: bool,
    /// Why it failed, one reason each (empty when it passed).
    pub reasons: Vec<String>,
}

/// What a breakpoint run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub steps: Vec<StairResult>,
    /// The offered rate of the highest stair that passed.
    pub max_sustainable_rps: Option<f64>,
    /// The offered rate after which each extra offered iteration adds less than half an
    /// achieved one, if the run got there.
    pub knee_rps: Option<f64>,
    /// The offered rate of the first stair that failed (the run stopped there).
    pub broke_at_rps: Option<f64>,
    /// Stairs the schedule had; fewer were run when one failed.
    pub stairs_planned: usize,
}

/// Follows a breakpoint run and judges each stair once all of its seconds are in.
pub struct Judge {
    stairs: Vec<Stair>,
    rules: Stairs,
    results: Vec<StairResult>,
}

/// What the thresholds see of one stair.
pub struct StairView<'a> {
    pub step_names: &'a [String],
    pub scenarios: &'a [ScenarioSteps],
    pub vus_allowed: u32,
}

impl Judge {
    /// A judge for a breakpoint schedule; `None` for any other load.
    pub fn new(a: &Arrival) -> Option<Judge> {
        let rules = a.stairs?;
        Some(Judge {
            stairs: a.stair_list(),
            rules,
            results: Vec::new(),
        })
    }

    /// The timeline seconds (1-based, the interval `(s-1, s]`) inside `[from, to]`.
    fn seconds(from: Duration, to: Duration) -> (u64, u64) {
        let first = from.as_secs_f64().ceil() as u64 + 1;
        let last = (to.as_secs_f64() + 1e-9).floor() as u64;
        (first, last)
    }

    /// Judge every stair whose seconds have all been closed in `agg`'s timeline, up to and
    /// including the first that fails. Returns the stairs judged now.
    pub fn judge_ready(
        &mut self,
        agg: &Aggregator,
        thresholds: &[Threshold],
        view: &StairView<'_>,
    ) -> Vec<StairResult> {
        let closed = agg.timeline.last().map_or(0, |p| p.second);
        let mut now = Vec::new();
        while let Some(stair) = self.stairs.get(self.results.len()).copied() {
            if self.results.last().is_some_and(|r| !r.passed) {
                break;
            }
            let (_, last) = Self::seconds(stair.start, stair.end);
            if closed < last {
                break;
            }
            let r = self.judge(&stair, agg, thresholds, view);
            self.results.push(r.clone());
            now.push(r);
        }
        now
    }

    /// Whether a stair has failed (the run should stop).
    pub fn broken(&self) -> bool {
        self.results.iter().any(|r| !r.passed)
    }

    fn judge(
        &self,
        stair: &Stair,
        agg: &Aggregator,
        thresholds: &[Threshold],
        view: &StairView<'_>,
    ) -> StairResult {
        let (first, last) = Self::seconds(stair.start + self.rules.warmup, stair.end);
        let (whole_first, _) = Self::seconds(stair.start, stair.end);
        let judged = agg
            .window(first, last)
            .unwrap_or_else(|| Recorder::new(view.step_names.len()));
        let dropped = agg
            .window(whole_first, last)
            .map_or(0, |r| r.dropped_iterations);
        let secs = (last + 1).saturating_sub(first).max(1) as f64;
        let points: Vec<&TimelinePoint> = agg
            .timeline
            .iter()
            .filter(|p| p.second >= first && p.second <= last)
            .collect();
        let vus_max = points.iter().map(|p| p.vus).max().unwrap_or(0);
        let overall = judged.overall();
        let q = |f: f64| {
            (!overall.duration.is_empty()).then(|| ms(overall.duration.value_at_quantile(f)))
        };
        let requests = overall.requests;
        let error_rate = if requests > 0 {
            overall.failures as f64 / requests as f64
        } else {
            0.0
        };
        let achieved = judged.iterations as f64 / secs;
        let mut reasons = Vec::new();
        if achieved < self.rules.min_achieved * stair.rate {
            reasons.push(format!(
                "achieved {:.0}/s of {:.0}/s offered (below {:.0} %)",
                achieved,
                stair.rate,
                self.rules.min_achieved * 100.0
            ));
        }
        if dropped > 0 {
            reasons.push(format!("{dropped} iterations dropped"));
        }
        let live = LiveObserve {
            view: LiveView {
                total: &judged,
                elapsed: Duration::from_secs_f64(secs),
                vus_max,
                vus_now: points.last().map_or(0, |p| p.vus),
            },
            step_names: view.step_names,
            vus_allowed: view.vus_allowed,
            scenarios: view.scenarios,
        };
        for t in thresholds {
            let o = t.evaluate(&live as &dyn Observe);
            if o.observed.is_some() && !o.passed {
                reasons.push(format!(
                    "{} {} (observed {})",
                    t.metric,
                    t.expression,
                    o.observed_display()
                ));
            }
        }
        StairResult {
            start: stair.start,
            end: stair.end,
            offered_rps: stair.rate,
            achieved_rps: achieved,
            requests_per_s: requests as f64 / secs,
            vus_max,
            avg_ms: (!overall.duration.is_empty()).then(|| overall.duration.mean() / 1000.0),
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            error_rate,
            dropped,
            passed: reasons.is_empty(),
            reasons,
        }
    }

    /// The stairs judged so far and what they add up to.
    pub fn finish(self) -> Capacity {
        let steps = self.results;
        let max_sustainable_rps = steps
            .iter()
            .filter(|s| s.passed)
            .map(|s| s.offered_rps)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        let broke_at_rps = steps.iter().find(|s| !s.passed).map(|s| s.offered_rps);
        let knee_rps = steps.windows(2).find_map(|w| {
            let offered = w[1].offered_rps - w[0].offered_rps;
            let gained = w[1].achieved_rps - w[0].achieved_rps;
            (offered > 0.0 && gained / offered < 0.5).then_some(w[0].offered_rps)
        });
        Capacity {
            steps,
            max_sustainable_rps,
            knee_rps,
            broke_at_rps,
            stairs_planned: self.stairs.len(),
        }
    }
}

/// The verdict of a breakpoint run: it is expected to break, so it passes when it found a
/// sustainable rate (and was not interrupted before it could be sure).
pub fn passed(c: &Capacity, interrupted: bool) -> bool {
    c.max_sustainable_rps.is_some() && !interrupted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stair(offered: f64, achieved: f64, passed: bool) -> StairResult {
        StairResult {
            start: Duration::ZERO,
            end: Duration::ZERO,
            offered_rps: offered,
            achieved_rps: achieved,
            requests_per_s: achieved,
            vus_max: 0,
            avg_ms: None,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            error_rate: 0.0,
            dropped: 0,
            passed,
            reasons: Vec::new(),
        }
    }

    #[test]
    fn the_highest_passing_stair_and_the_knee() {
        let j = Judge {
            stairs: Vec::new(),
            rules: Stairs {
                warmup: Duration::from_secs(1),
                min_achieved: 0.97,
            },
            results: vec![
                stair(200.0, 200.0, true),
                stair(400.0, 399.0, true),
                stair(600.0, 480.0, true),
                stair(800.0, 500.0, false),
            ],
        };
        let c = j.finish();
        assert_eq!(c.max_sustainable_rps, Some(600.0));
        assert_eq!(c.broke_at_rps, Some(800.0));
        // 400 → 600 offered gained 81 of 200: below half, so the knee is at 400.
        assert_eq!(c.knee_rps, Some(400.0));
    }

    #[test]
    fn stair_seconds_leave_out_the_warmup() {
        // A 5 s stair from 10 s with 1 s warm-up is judged on seconds 12..=15, i.e. (11, 15].
        let (first, last) = Judge::seconds(Duration::from_secs(11), Duration::from_secs(15));
        assert_eq!((first, last), (12, 15));
    }
}
