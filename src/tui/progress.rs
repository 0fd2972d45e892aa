//! Plain progress lines on stderr: one a second on a terminal, one every 5 s otherwise (CI logs).

use crate::metrics::TimelinePoint;
use crate::plan::Plan;
use crate::scenario::duration::format_duration;
use std::io::{IsTerminal, Write};
use std::time::Duration;

pub struct Progress {
    every: Duration,
    next: Duration,
}

impl Progress {
    pub fn new() -> Self {
        let every = if std::io::stderr().is_terminal() {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(5)
        };
        Progress { every, next: every }
    }

    /// Print a line if one is due. `recent` is the timeline so far; `failing` the thresholds
    /// failing now.
    pub fn tick(
        &mut self,
        plan: &Plan,
        elapsed: Duration,
        recent: &[TimelinePoint],
        failing: &[String],
    ) {
        if elapsed < self.next {
            return;
        }
        while self.next <= elapsed {
            self.next += self.every;
        }
        let Some(last) = recent.last() else { return };
        let window = &recent[recent
            .len()
            .saturating_sub(self.every.as_secs().max(1) as usize)..];
        let reqs: u64 = window.iter().map(|p| p.requests).sum();
        let fails: u64 = window.iter().map(|p| p.failures).sum();
        let rps = reqs as f64 / window.len().max(1) as f64;
        let err = if reqs > 0 {
            fails as f64 * 100.0 / reqs as f64
        } else {
            0.0
        };
        let stage = match plan.load.stage_at(elapsed) {
            Some(i) => format!(" stage {}", i + 1),
            None => " stopping".into(),
        };
        let total = plan.planned_duration();
        let at = elapsed.min(total.saturating_sub(Duration::from_millis(1)));
        let planned_vus: u32 = if plan.parts.is_empty() {
            plan.load.vus_at(at)
        } else {
            plan.parts.iter().map(|p| p.load.vus_at(at)).sum()
        };
        let mut line = format!(
            "[{:>6} / {}]{} vus {}/{} · {:.0} req/s · p95 {:.1}ms · errors {:.2}%",
            format_duration(Duration::from_secs(elapsed.as_secs())),
            format_duration(total),
            stage,
            last.vus,
            planned_vus,
            rps,
            last.p95_ms,
            err
        );
        if !failing.is_empty() {
            line.push_str(&format!(" · failing: {}", failing.join(", ")));
        }
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{line}");
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
