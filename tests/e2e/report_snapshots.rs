//! insta snapshots of every export format rendered from fixed summaries
//! (tests/fixtures/summary/run: a finished run with a failing threshold, a failing check, a
//! windowed threshold, a streaming step and a WebSocket step; .../part: a `--segment 1/1` part
//! of the same scenario). The fixtures are files, so every rendering is deterministic; a change
//! to a format shows up as a snapshot diff (`cargo insta review`).

use stampede::report::{self, Exporter};
use stampede::summary::Summary;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/summary"
    ))
    .join(name)
}

/// A fixture, typed (a fixture that drifts from the types fails here).
fn typed(name: &str) -> Summary {
    stampede::summary::read(&fixture(name).join("summary.json")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn markdown() {
    insta::assert_snapshot!(report::markdown::Markdown.render(&typed("run")).unwrap());
}

#[test]
fn html() {
    insta::assert_snapshot!(report::html::Html.render(&typed("run")).unwrap());
}

#[test]
fn junit() {
    insta::assert_snapshot!(report::junit::Junit.render(&typed("run")).unwrap());
}

#[test]
fn timeline_csv() {
    insta::assert_snapshot!(report::timeline::TimelineCsv.render(&typed("run")).unwrap());
}

#[test]
fn k6_summary_export() {
    let data = report::k6::handle_summary_data(&typed("run"), &Default::default(), true);
    let export = report::k6::summary_export(&data);
    insta::assert_snapshot!(serde_json::to_string_pretty(&export).unwrap());
}

#[test]
fn k6_handle_summary_data() {
    let data = report::k6::handle_summary_data(&typed("run"), &Default::default(), true);
    insta::assert_snapshot!(serde_json::to_string_pretty(&data).unwrap());
}

#[test]
fn compare() {
    let (old, new) = (typed("part"), typed("run"));
    let changes = report::compare::compare(&old, &new);
    insta::assert_snapshot!(report::compare::render(
        &changes,
        Some(0.10),
        "before/summary.json",
        "after/summary.json"
    ));
}

/// The terminal summary (text.rs renders a run, not a file): `stampede merge` of the part
/// fixture rebuilds the run from it and prints the same summary `run` printed.
#[test]
fn text() {
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["merge"])
        .arg(fixture("part"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(99), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    // Drop the last line: the report path (a temporary folder).
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("report:"))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}
