//! An indicatif progress bar on stderr (a terminal with `--no-tui`), with the figures of the
//! plain progress lines. No colours in the template, so `NO_COLOR` has nothing to switch off.

use super::fmt::{millis, rate};
use super::state::LiveState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(planned: Duration) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(planned.as_secs().max(1)),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        let style =
            ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len}s · {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar { bar }
    }

    pub fn show(&mut self, s: &LiveState) {
        self.bar
            .set_position(s.elapsed.as_secs().min(s.planned.as_secs()));
        let mut msg = format!(
            "vus {}/{} · {} req/s · p95 {} · errors {:.2}%",
            s.vus,
            s.vus_target,
            rate(s.rps),
            millis((s.rps > 0.0).then_some(s.p95_ms)),
            s.error_pct()
        );
        let failing = s.failing();
        if !failing.is_empty() {
            msg.push_str(&format!(" · failing: {}", failing.join(", ")));
        }
        if s.phase == super::state::Phase::Paused {
            msg.push_str(" · paused");
        }
        self.bar.set_message(msg);
    }

    pub fn notice(&mut self, text: &str) {
        self.bar.println(text);
    }

    pub fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
