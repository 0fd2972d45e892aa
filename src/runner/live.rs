//! The live loop's decisions, apart from the channels and the terminal: what a Ctrl-C count
//! asks, the phase shown, when a new second of the timeline has arrived, and which failed
//! `abort_on_fail` threshold stops the run. `execute` feeds it and carries out the notices it
//! returns; the tests below drive it directly.

use crate::engine::Control;
use crate::sla::Outcome;
use crate::tui::state::Phase;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What the live loop keeps between two snapshots.
#[derive(Debug)]
pub(super) struct LiveLoop {
    /// Interrupts counted before this run began (the counter is process-wide).
    seen_interrupts: usize,
    /// A stop was asked by Ctrl-C, SIGTERM, SIGHUP or `q`.
    pub interrupted: bool,
    /// The threshold (`metric expression`) whose `abort_on_fail` stopped the run.
    pub aborted_by: Option<String>,
    /// Seconds of the timeline seen so far.
    last_second: usize,
    /// The live threshold outcomes of the last complete second.
    pub outcomes: Vec<Outcome>,
    shown_phase: Phase,
}

impl LiveLoop {
    pub(super) fn new(seen_interrupts: usize) -> Self {
        LiveLoop {
            seen_interrupts,
            interrupted: false,
            aborted_by: None,
            last_second: 0,
            outcomes: Vec::new(),
            shown_phase: Phase::Running,
        }
    }

    /// The process's interrupt count now: the first stops gracefully, the second at once.
    /// Returns the notices to show.
    pub(super) fn interrupts(&mut self, count: usize, control: &Control) -> Vec<&'static str> {
        let n = count.saturating_sub(self.seen_interrupts);
        let mut notices = Vec::new();
        if n >= 1 && !self.interrupted {
            self.interrupted = true;
            control.stop.store(true, Ordering::SeqCst);
            notices.push(
                "stopping: letting VUs finish their iteration (Ctrl-C again to stop at once)",
            );
        }
        if n >= 2 && !control.hard_stop.load(Ordering::SeqCst) {
            control.hard_stop.store(true, Ordering::SeqCst);
            notices.push("stopping at once: interrupting running iterations");
        }
        notices
    }

    /// What the run is doing at `elapsed` of a schedule `planned` long.
    pub(super) fn phase(control: &Control, elapsed: Duration, planned: Duration) -> Phase {
        if control.stop.load(Ordering::SeqCst) || elapsed >= planned {
            Phase::Stopping
        } else if control.pause.load(Ordering::Relaxed) {
            Phase::Paused
        } else {
            Phase::Running
        }
    }

    /// True once per new second of the timeline (`seconds` long now).
    pub(super) fn new_second(&mut self, seconds: usize) -> bool {
        let new = seconds != self.last_second;
        self.last_second = seconds;
        new
    }

    /// After the outcomes of a new second: the first failed `abort_on_fail` threshold past its
    /// `delay_abort_eval` stops the run (never in a segment, which does not judge alone).
    /// Returns the notice to show.
    pub(super) fn abort_on_fail(
        &mut self,
        elapsed: Duration,
        judged_here: bool,
        control: &Control,
    ) -> Option<String> {
        if !judged_here || self.aborted_by.is_some() {
            return None;
        }
        let t = self
            .outcomes
            .iter()
            .filter(|o| o.observed.is_some() && !o.passed)
            .map(|o| &o.threshold)
            .find(|t| t.abort_on_fail && elapsed >= t.delay_abort_eval)?;
        self.aborted_by = Some(format!("{} {}", t.metric, t.expression));
        control.stop.store(true, Ordering::SeqCst);
        Some(format!(
            "aborting: threshold {} {} failed (abort_on_fail)",
            t.metric, t.expression
        ))
    }

    /// Whether an active view should be redrawn: at each new second and when the phase changes.
    pub(super) fn redraw(&mut self, new_second: bool, phase: Phase) -> bool {
        if new_second || phase != self.shown_phase {
            self.shown_phase = phase;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::{MetricRef, Threshold};

    fn outcome(expr: &str, observed: Option<f64>, passed: bool, abort: bool) -> Outcome {
        let metric = MetricRef::parse("http_req_duration").expect("metric");
        let mut threshold = Threshold::parse(metric, expr).expect("threshold");
        threshold.abort_on_fail = abort;
        threshold.delay_abort_eval = Duration::from_secs(10);
        Outcome {
            threshold,
            observed,
            passed,
            worst_window: None,
        }
    }

    #[test]
    fn first_interrupt_stops_gracefully_second_at_once_and_earlier_ones_do_not_count() {
        let control = Control::default();
        let mut live = LiveLoop::new(3);
        assert!(live.interrupts(3, &control).is_empty());
        assert!(!live.interrupted && !control.stop.load(Ordering::SeqCst));
        assert_eq!(live.interrupts(4, &control).len(), 1);
        assert!(live.interrupted && control.stop.load(Ordering::SeqCst));
        assert!(!control.hard_stop.load(Ordering::SeqCst));
        assert!(live.interrupts(4, &control).is_empty(), "said once");
        assert_eq!(
            live.interrupts(5, &control),
            vec!["stopping at once: interrupting running iterations"]
        );
        assert!(control.hard_stop.load(Ordering::SeqCst));
        assert!(live.interrupts(6, &control).is_empty());
    }

    #[test]
    fn phase_follows_stop_pause_and_the_schedule() {
        let control = Control::default();
        let (t, planned) = (Duration::from_secs(5), Duration::from_secs(10));
        assert_eq!(LiveLoop::phase(&control, t, planned), Phase::Running);
        control.pause.store(true, Ordering::Relaxed);
        assert_eq!(LiveLoop::phase(&control, t, planned), Phase::Paused);
        assert_eq!(LiveLoop::phase(&control, planned, planned), Phase::Stopping);
        control.pause.store(false, Ordering::Relaxed);
        control.stop.store(true, Ordering::SeqCst);
        assert_eq!(LiveLoop::phase(&control, t, planned), Phase::Stopping);
    }

    #[test]
    fn a_new_second_is_reported_once_and_redraws_follow_seconds_and_phases() {
        let mut live = LiveLoop::new(0);
        assert!(!live.new_second(0));
        assert!(live.new_second(1));
        assert!(!live.new_second(1));
        assert!(live.new_second(2));
        assert!(!live.redraw(false, Phase::Running));
        assert!(live.redraw(true, Phase::Running));
        assert!(live.redraw(false, Phase::Paused));
        assert!(!live.redraw(false, Phase::Paused));
    }

    #[test]
    fn abort_on_fail_stops_at_the_first_failed_threshold_past_its_delay() {
        let control = Control::default();
        let mut live = LiveLoop::new(0);
        live.outcomes = vec![
            outcome("p(95) < 100ms", Some(50.0), true, true),
            outcome("p(99) < 100ms", Some(150.0), false, false),
            outcome("max < 100ms", None, false, true),
            outcome("avg < 100ms", Some(120.0), false, true),
        ];
        // Before delay_abort_eval: nothing.
        assert_eq!(
            live.abort_on_fail(Duration::from_secs(9), true, &control),
            None
        );
        // A segment never aborts on its own.
        assert_eq!(
            live.abort_on_fail(Duration::from_secs(11), false, &control),
            None
        );
        assert!(!control.stop.load(Ordering::SeqCst));
        let notice = live.abort_on_fail(Duration::from_secs(11), true, &control);
        assert_eq!(
            notice.as_deref(),
            Some("aborting: threshold http_req_duration avg < 100ms failed (abort_on_fail)")
        );
        assert_eq!(
            live.aborted_by.as_deref(),
            Some("http_req_duration avg < 100ms")
        );
        assert!(control.stop.load(Ordering::SeqCst));
        // Said once.
        assert_eq!(
            live.abort_on_fail(Duration::from_secs(12), true, &control),
            None
        );
    }
}
