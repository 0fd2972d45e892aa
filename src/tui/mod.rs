//! Live views of a running test: the ratatui dashboard (a terminal), an indicatif bar
//! (`--no-tui` on a terminal) or plain lines (logs, CI). The runner builds a `LiveState` after
//! each aggregation update and hands it to `Views`; the views never touch the engine, except
//! the dashboard's keys, which set `Control::pause` and count as interrupts.

pub mod bar;
pub mod dashboard;
pub mod fmt;
pub mod keys;
pub mod progress;
pub mod state;
pub mod term;

use crate::engine::Control;
use state::{LiveState, Slot};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// Which live view a run gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--quiet`: none.
    Quiet,
    /// stdout is a terminal: the dashboard.
    Dashboard,
    /// stderr is a terminal (and `--no-tui`, or stdout is redirected): a progress bar.
    Bar,
    /// Neither: a plain line every 5 s on stderr.
    Lines,
}

impl Mode {
    /// Pick the view for the process's streams and `TERM`.
    pub fn detect(quiet: bool, no_tui: bool) -> Mode {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Mode::choose(
            quiet,
            no_tui,
            std::io::stdout().is_terminal() && !dumb,
            std::io::stderr().is_terminal() && !dumb,
        )
    }

    pub fn choose(quiet: bool, no_tui: bool, stdout_tty: bool, stderr_tty: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if stdout_tty && !no_tui {
            Mode::Dashboard
        } else if stderr_tty {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// `NO_COLOR` set to anything non-empty turns colours off (<https://no-color.org>).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How often plain lines are printed.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

enum View {
    None,
    Dashboard(term::Dashboard, Slot),
    Bar(bar::Bar),
    Lines(progress::Progress),
}

/// The live view of one run.
pub struct Views {
    view: View,
    notice: Option<String>,
}

impl Views {
    /// Start the view for `mode`; a dashboard that cannot take the terminal falls back to lines.
    pub fn start(
        mode: Mode,
        planned: Duration,
        control: Arc<Control>,
        interrupts: Arc<AtomicUsize>,
        started: Instant,
    ) -> Views {
        let view = match mode {
            Mode::Quiet => View::None,
            Mode::Lines => View::Lines(progress::Progress::new(LINE_EVERY)),
            Mode::Bar => View::Bar(bar::Bar::new(planned)),
            Mode::Dashboard => {
                let slot = Slot::default();
                let hooks = term::Hooks {
                    control,
                    interrupts,
                    started,
                    color: color_allowed(),
                };
                match term::Dashboard::start(slot.clone(), hooks) {
                    Ok(d) => View::Dashboard(d, slot),
                    Err(e) => {
                        eprintln!("no dashboard ({e}); plain progress lines instead");
                        View::Lines(progress::Progress::new(LINE_EVERY))
                    }
                }
            }
        };
        Views { view, notice: None }
    }

    /// Whether a state is wanted at all (not under `--quiet`).
    pub fn active(&self) -> bool {
        !matches!(self.view, View::None)
    }

    /// Something to tell the user (stopping, aborting): a line, or the dashboard's header.
    pub fn notice(&mut self, text: &str) {
        match &mut self.view {
            View::None => {}
            View::Lines(p) => p.notice(text),
            View::Bar(b) => b.notice(text),
            View::Dashboard(..) => self.notice = Some(text.to_string()),
        }
    }

    /// The notice to carry in the next state.
    pub fn current_notice(&self) -> Option<String> {
        self.notice.clone()
    }

    pub fn show(&mut self, state: LiveState) {
        match &mut self.view {
            View::None => {}
            View::Lines(p) => p.show(&state),
            View::Bar(b) => b.show(&state),
            View::Dashboard(_, slot) => slot.publish(state),
        }
    }

    /// End the view and give the terminal back (before the summary is printed).
    pub fn finish(&mut self) {
        match &mut self.view {
            View::Dashboard(d, _) => d.finish(),
            View::Bar(b) => b.finish(),
            _ => {}
        }
        self.view = View::None;
    }
}

impl Drop for Views {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn mode_follows_flags_and_terminals() {
        assert_eq!(Mode::choose(true, false, true, true), Mode::Quiet);
        assert_eq!(Mode::choose(false, false, true, true), Mode::Dashboard);
        assert_eq!(Mode::choose(false, true, true, true), Mode::Bar);
        assert_eq!(Mode::choose(false, false, false, true), Mode::Bar);
        assert_eq!(Mode::choose(false, false, false, false), Mode::Lines);
        assert_eq!(Mode::choose(false, true, false, false), Mode::Lines);
    }
}
