//! Snapshots of the dashboard for a fixed metrics state, at several terminal sizes
//! (`cargo insta review` or `INSTA_UPDATE=always cargo test` after an intended change).

use super::{Ui, render};
use crate::tui::state::{Abort, LiveState, Phase, SecondPoint, StepRow, TargetKind, ThresholdRow};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

fn series(open: bool) -> Vec<SecondPoint> {
    (1..=45u64)
        .map(|s| {
            let ramp = (s as f64 * 40.0).min(1200.0);
            let wobble = ((s * 37) % 11) as f64;
            SecondPoint {
                second: s,
                rps: ramp - wobble * 3.0,
                target_rps: open.then_some(ramp),
                p50_ms: 2.0 + wobble * 0.1,
                p95_ms: 6.0 + wobble * 0.4,
                p99_ms: 12.0 + wobble + if s == 30 { 40.0 } else { 0.0 },
                vus: (s as u32 * 2).min(50),
            }
        })
        .collect()
}

pub(crate) fn fixture(open: bool) -> LiveState {
    LiveState {
        name: "shop".into(),
        executor: if open {
            "ramping-arrival-rate".into()
        } else {
            "ramping-vus".into()
        },
        target_url: "http://127.0.0.1:8080".into(),
        started: Instant::now(),
        elapsed: Duration::from_secs(45),
        planned: Duration::from_secs(120),
        graceful_stop: Duration::from_secs(30),
        stage: Some((1, 3)),
        phase: Phase::Running,
        vus: 48,
        vus_target: 50,
        vus_max: 60,
        dropped: if open { 12 } else { 0 },
        requests: 41_234,
        failures: 37,
        rps: 1_187.0,
        p95_ms: 7.6,
        target_kind: if open {
            TargetKind::Rate
        } else {
            TargetKind::Vus
        },
        series: series(open),
        status: vec![(200, 40_110), (201, 1_087), (500, 37)],
        errors: vec![("unexpected_status".into(), 37), ("reset".into(), 2)],
        steps: vec![
            StepRow {
                name: "home".into(),
                requests: 20_600,
                rps: 594.0,
                p50_ms: Some(1.91),
                p95_ms: Some(5.42),
                p99_ms: Some(11.8),
                errors: 0,
                stream: None,
            },
            StepRow {
                name: "search".into(),
                requests: 19_547,
                rps: 563.0,
                p50_ms: Some(21.3),
                p95_ms: Some(44.1),
                p99_ms: Some(131.0),
                errors: 37,
                stream: None,
            },
            StepRow {
                name: "order".into(),
                requests: 1_087,
                rps: 30.0,
                p50_ms: Some(3.2),
                p95_ms: Some(8.9),
                p99_ms: Some(1_250.0),
                errors: 0,
                stream: None,
            },
        ],
        thresholds: vec![
            ThresholdRow {
                metric: "http_req_duration".into(),
                expression: "p(95) < 500ms".into(),
                observed: "7.60ms".into(),
                passed: Some(true),
                abort: Abort::Off,
            },
            ThresholdRow {
                metric: "http_req_duration{step:search}".into(),
                expression: "p(99) < 100ms".into(),
                observed: "131.00ms".into(),
                passed: Some(false),
                abort: Abort::Off,
            },
            ThresholdRow {
                metric: "http_req_failed".into(),
                expression: "rate < 1%".into(),
                observed: "0.09%".into(),
                passed: Some(true),
                abort: Abort::Armed,
            },
            ThresholdRow {
                metric: "checks".into(),
                expression: "rate > 99%".into(),
                observed: "no data".into(),
                passed: None,
                abort: Abort::In(Duration::from_secs(15)),
            },
        ],
        notice: None,
    }
}

fn ui() -> Ui {
    Ui {
        elapsed: Duration::from_secs(45),
        color: false,
        ..Ui::default()
    }
}

fn draw(w: u16, h: u16, state: Option<&LiveState>, ui: &Ui) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| render(f, state, ui)).expect("draw");
    term.backend().to_string()
}

#[test]
fn open_model_160x48() {
    insta::assert_snapshot!(draw(160, 48, Some(&fixture(true)), &ui()));
}

#[test]
fn open_model_80x24() {
    insta::assert_snapshot!(draw(80, 24, Some(&fixture(true)), &ui()));
}

#[test]
fn closed_model_120x32() {
    insta::assert_snapshot!(draw(120, 32, Some(&fixture(false)), &ui()));
}

#[test]
fn paused_and_stopping() {
    let mut s = fixture(false);
    s.phase = Phase::Paused;
    let paused = draw(100, 12, Some(&s), &ui());
    assert!(paused.contains("PAUSED"), "{paused}");
    let stopping = draw(100, 12, Some(&s), &Ui { stops: 1, ..ui() });
    assert!(stopping.contains("STOPPING"), "{stopping}");
}

#[test]
fn help_overlay_and_no_state_yet() {
    insta::assert_snapshot!(draw(
        80,
        24,
        Some(&fixture(true)),
        &Ui { help: true, ..ui() }
    ));
    let empty = draw(80, 24, None, &ui());
    assert!(empty.contains("starting"), "{empty}");
}

#[test]
fn tiny_terminal_does_not_panic() {
    for (w, h) in [(1, 1), (10, 3), (40, 10), (80, 5)] {
        draw(w, h, Some(&fixture(true)), &ui());
        draw(w, h, None, &ui());
    }
}

#[test]
fn colours_only_when_allowed() {
    let s = fixture(true);
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
    term.draw(|f| render(f, Some(&s), &ui())).expect("draw");
    let no_colour = term
        .backend()
        .buffer()
        .content
        .iter()
        .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset);
    assert!(
        no_colour,
        "NO_COLOR must leave every cell in the default colours"
    );
}
