//! Keys of the dashboard, as oha and htop users expect them.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `q`, `Ctrl-C`, `F10`: stop gracefully (a second time: stop at once). Exit code 130.
    Stop,
    /// `p` or space: hold / resume new iterations.
    TogglePause,
    /// `+`: show fewer seconds in the charts.
    ZoomIn,
    /// `-`: show more seconds in the charts.
    ZoomOut,
    /// `h`, `?`, `F1`: show / hide the key list. `Esc` hides it.
    ToggleHelp,
    CloseHelp,
    None,
}

/// The key line at the bottom of the dashboard.
/// `{window}` stands for the chart window.
pub const HELP_LINE: &str = "q/Ctrl-C stop · p pause · +/- chart window ({window}) · h help";

/// The key list of the help overlay.
pub const HELP: &[(&str, &str)] = &[
    (
        "q  Ctrl-C  F10",
        "stop gracefully, reports are written (exit 130)",
    ),
    ("q again", "stop at once: interrupt running iterations"),
    ("p  space", "pause / resume starting new iterations"),
    ("+  -", "chart window: fewer / more seconds"),
    ("h  ?  F1", "this help (Esc closes it)"),
];

pub fn action(key: &KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('c') | KeyCode::Char('C') if ctrl => Action::Stop,
        _ if ctrl => Action::None,
        KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::F(10) => Action::Stop,
        KeyCode::Char('p') | KeyCode::Char('P') | KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::ZoomIn,
        KeyCode::Char('-') | KeyCode::Char('_') => Action::ZoomOut,
        KeyCode::Char('h') | KeyCode::Char('?') | KeyCode::F(1) => Action::ToggleHelp,
        KeyCode::Esc => Action::CloseHelp,
        _ => Action::None,
    }
}

/// Chart windows `+` and `-` step through, in seconds (0: the whole run).
pub const WINDOWS: &[u64] = &[30, 60, 120, 300, 600, 0];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn stop_keys() {
        assert_eq!(
            action(&key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Action::Stop
        );
        assert_eq!(
            action(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Stop
        );
        assert_eq!(
            action(&key(KeyCode::F(10), KeyModifiers::NONE)),
            Action::Stop
        );
        // A plain `c` is nothing, nor is Ctrl-P.
        assert_eq!(
            action(&key(KeyCode::Char('c'), KeyModifiers::NONE)),
            Action::None
        );
        assert_eq!(
            action(&key(KeyCode::Char('p'), KeyModifiers::CONTROL)),
            Action::None
        );
    }

    #[test]
    fn other_keys() {
        assert_eq!(
            action(&key(KeyCode::Char('p'), KeyModifiers::NONE)),
            Action::TogglePause
        );
        assert_eq!(
            action(&key(KeyCode::Char(' '), KeyModifiers::NONE)),
            Action::TogglePause
        );
        assert_eq!(
            action(&key(KeyCode::Char('+'), KeyModifiers::SHIFT)),
            Action::ZoomIn
        );
        assert_eq!(
            action(&key(KeyCode::Char('-'), KeyModifiers::NONE)),
            Action::ZoomOut
        );
        assert_eq!(
            action(&key(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Action::ToggleHelp
        );
        assert_eq!(
            action(&key(KeyCode::Esc, KeyModifiers::NONE)),
            Action::CloseHelp
        );
        let mut release = key(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(action(&release), Action::None);
    }
}
