//! Plain progress lines on stderr for logs (CI): one every 5 s, no escape codes at all.

use super::fmt::{clock, millis, rate};
use super::state::{LiveState, Phase};
use std::io::Write;
use std::time::Duration;

/// One line of progress, e.g.
/// `[ 00:10 / 01:00] stage 1/3 · vus 50/50 · 1,234 req/s · p95 3.21ms · errors 0.00%`.
pub fn line(s: &LiveState) -> String {
    let stage = match (s.phase, s.stage) {
        (Phase::Paused, _) => " paused".to_string(),
        (Phase::Stopping, _) | (_, None) => " stopping".to_string(),
        (_, Some((i, n))) => format!(" stage {}/{n}", i + 1),
    };
    let mut line = format!(
        "[{:>6} / {}]{} · vus {}/{} · {} req/s · p95 {} · errors {:.2}%",
        clock(s.elapsed),
        clock(s.planned),
        stage,
        s.vus,
        s.vus_target,
        rate(s.rps),
        millis((s.rps > 0.0).then_some(s.p95_ms)),
        s.error_pct()
    );
    if s.dropped > 0 {
        line.push_str(&format!(" · dropped {}", s.dropped));
    }
    let failing = s.failing();
    if !failing.is_empty() {
        line.push_str(&format!(" · failing: {}", failing.join(", ")));
    }
    line
}

/// Prints a line when one is due.
pub struct Progress {
    every: Duration,
    next: Duration,
}

impl Progress {
    pub fn new(every: Duration) -> Self {
        Progress { every, next: every }
    }

    pub fn show(&mut self, s: &LiveState) {
        if s.elapsed < self.next || s.series.is_empty() {
            return;
        }
        while self.next <= s.elapsed {
            self.next += self.every;
        }
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{}", line(s));
    }

    pub fn notice(&mut self, text: &str) {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{text}");
    }
}
