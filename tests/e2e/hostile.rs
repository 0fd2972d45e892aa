//! The hostile corpus (tests/hostile/): every scenario file there is invalid and every command
//! line is bad usage. Each must be refused with exit 2 — a scenario problem as
//! `FILE:LINE:COLUMN: message` — in under 10 s, never a panic (101) or an abort (134). Only
//! `validate`, `plan`, `report` and refused `run`s: no traffic. The scenario files are loaded
//! in-process (their messages pinned by a snapshot), a few of them and every command line
//! through the binary, in parallel.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(10);

struct Outcome {
    label: String,
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Run the binary with `args`, killed after `LIMIT`.
fn run_bounded(label: String, args: Vec<String>) -> Outcome {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stampede");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        label,
        code,
        stderr: reader.join().unwrap_or_default(),
        took: start.elapsed(),
    }
}

/// Run every job on a few threads.
fn run_all(jobs: Vec<(String, Vec<String>)>) -> Vec<Outcome> {
    let jobs = std::sync::Mutex::new(jobs);
    let out = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let job = jobs.lock().unwrap().pop();
                    let Some((label, args)) = job else { break };
                    let o = run_bounded(label, args);
                    out.lock().unwrap().push(o);
                }
            });
        }
    });
    out.into_inner().unwrap()
}

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// `error: FILE:LINE:COLUMN: ` at the start of the first line.
fn located(stderr: &str, file: &str) -> bool {
    let Some(rest) = stderr.strip_prefix(&format!("error: {file}:")) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let (l, c) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    !l.is_empty()
        && l.chars().all(|ch| ch.is_ascii_digit())
        && !c.is_empty()
        && c.chars().all(|ch| ch.is_ascii_digit())
}

#[test]
fn every_hostile_scenario_is_refused_at_its_line_and_column() {
    let dir = hostile_dir().join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/hostile/scenarios")
        .map(|e| e.unwrap().path())
        .collect();
    // Too large to be a scenario (made here rather than committed).
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("too-large.yaml");
    let mut text = String::from("name: big\nflows:\n");
    while text.len() < 5 * 1024 * 1024 {
        text.push_str("  - { steps: [ { get: /fast } ] }\n");
    }
    std::fs::write(&big, text).unwrap();
    files.push(big);
    files.sort();
    assert!(files.len() >= 150, "only {} hostile files", files.len());
    // In-process, through the loader `validate` and `run` call: a panic is caught and reported
    // with its file; every message is pinned by the snapshot.
    let mut bad = Vec::new();
    let mut messages = Vec::new();
    for f in &files {
        let label = path_str(f);
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stampede::output::quick::load(f, &stampede::scenario::Overrides::default())
        }));
        let took = start.elapsed();
        let (why, msg) = match outcome {
            Err(_) => (Some("panicked".to_string()), String::new()),
            Ok(Ok(_)) => (Some("loaded: expected an error".to_string()), String::new()),
            Ok(Err(e)) => {
                let msg = format!("error: {e}");
                let why = if took > LIMIT {
                    Some(format!("refused only after {took:?}"))
                } else if !located(&msg, &label) {
                    Some("no FILE:LINE:COLUMN".into())
                } else {
                    [
                        "RawScenario",
                        "OneOrMany",
                        "struct Raw",
                        "panicked",
                        "untagged enum",
                    ]
                    .iter()
                    .find(|w| msg.contains(*w))
                    .map(|w| format!("message shows `{w}`"))
                };
                (why, msg)
            }
        };
        if let Some(why) = why {
            bad.push(format!(
                "{label}: {why}\n    {}",
                msg.lines().next().unwrap_or("")
            ));
        }
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        messages.push(
            msg.replace(root, "")
                .replace(&path_str(tmp.path()), "<tmp>"),
        );
    }
    assert!(
        bad.is_empty(),
        "{} of {} files:\n{}",
        bad.len(),
        files.len(),
        bad.join("\n")
    );
    // Sorted after the paths are replaced: the temporary directory sorts before or after
    // `tests/` depending on where the machine puts it.
    messages.sort();
    insta::assert_snapshot!(messages.join("\n"));

    // A few through the binary, for the exit code: 2, located, within the limit.
    let jobs = files
        .iter()
        .step_by(files.len() / 5)
        .map(|f| {
            let p = path_str(f);
            (p.clone(), vec!["validate".to_string(), p])
        })
        .collect();
    for o in run_all(jobs) {
        assert_eq!(o.code, Some(2), "{}: {}", o.label, o.stderr);
        assert!(located(&o.stderr, &o.label), "{}: {}", o.label, o.stderr);
    }
}

#[test]
fn every_hostile_command_line_exits_2() {
    let dir = hostile_dir();
    let d = path_str(&dir);
    let list = std::fs::read_to_string(dir.join("commands.txt")).unwrap();
    let jobs: Vec<(String, Vec<String>)> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let line = l.replace("{d}", &d);
            (
                line.clone(),
                line.split_whitespace().map(String::from).collect(),
            )
        })
        .collect();
    assert!(
        jobs.len() >= 50,
        "only {} hostile command lines",
        jobs.len()
    );
    let outcomes = run_all(jobs);
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| o.code != Some(2) || o.stderr.contains("panicked"))
        .map(|o| {
            format!(
                "{}: exit {:?} after {:?}\n    {}",
                o.label,
                o.code,
                o.took,
                o.stderr.trim()
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} command lines:\n{}",
        bad.len(),
        outcomes.len(),
        bad.join("\n")
    );
}

#[test]
fn three_independent_mistakes_are_listed_in_file_order() {
    let file = path_str(&hostile_dir().join("scenarios/yaml-many-errors.yaml"));
    let o = stampede(&["validate", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<(usize, usize)> = err
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("error: {file}:")))
        .map(|rest| {
            let mut p = rest.split(':');
            (
                p.next().unwrap().parse().unwrap(),
                p.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(lines.len() >= 3, "{err}");
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "not in file order: {err}"
    );
    for words in ["5 minutes", "vuss", "parsec", "200%"] {
        assert!(err.contains(words), "{words} missing from {err}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // The reader is gone before stampede writes: its write fails with EPIPE, as under `| head -1`.
    for cmd in [
        "plan --users 100000 --think-time 3s --response-time 200ms --per-instance-rps 2400",
        "validate examples/quickstart.yaml",
    ] {
        let script = format!("{{ sleep 0.3; '{BIN}' {cmd}; echo \"exit=$?\" >&2; }} | true",);
        let o = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("exit=0"), "{cmd}: {err}");
        assert!(!err.contains("panicked"), "{cmd}: {err}");
    }
}
