//! `run --processes N` end to end: the children stream their per-second snapshots to the
//! parent, which draws one live view of the whole run (here: plain progress lines, as stderr is
//! not a terminal) and merges the parts at the end. Checked against the built-in target's own
//! count; Ctrl-C and a child that dies are sent as real signals.

use crate::common::*;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// 6 closed-model VUs, each paced at one request per 100 ms: 60 req/s in all, 2 VUs (20 req/s)
/// per part of 3.
fn paced(url: &str, duration: &str) -> Scenario {
    Scenario::new(&format!(
        "name: live-processes\ntarget: {url}\nload:\n  executor: constant-vus\n  vus: 6\n  duration: {duration}\n  think_time: pacing(100ms)\n  graceful_stop: 2s\nflows:\n  - name: f\n    steps:\n      - {{ name: home, get: \"/delay?ms=2\" }}\nthresholds:\n  http_req_failed: [\"rate < 1%\"]\n"
    ))
}

/// `stampede run FILE --processes 3 --out OUT` with progress lines (not `--quiet`).
fn spawn(s: &Scenario) -> Child {
    Command::new(BIN)
        .args([
            "run",
            &path_str(&s.file),
            "--processes",
            "3",
            "--workers",
            "1",
        ])
        .args(["--out", &path_str(&s.out())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stampede")
}

/// Wait (polling, up to 60 s) until the target has served at least `n` requests.
fn wait_served(t: &Target, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while t.served()["requests"].as_u64().unwrap_or(0) < n {
        assert!(
            Instant::now() < deadline,
            "the target never saw {n} requests"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count(s: &serde_json::Value, m: &str) -> u64 {
    s["metrics"][m]["count"].as_u64().unwrap()
}

/// `[ 00:05 / 00:12] stage 1/1 · vus 6/6 · 60 req/s · ...` → (vus, vus target, req/s).
fn progress(line: &str) -> Option<(u64, u64, f64)> {
    if !line.starts_with('[') || !line.contains(" stage ") {
        return None;
    }
    let vus = line.split("· vus ").nth(1)?.split_whitespace().next()?;
    let (now, target) = vus.split_once('/')?;
    let rps = line.split(" · ").find(|p| p.ends_with("req/s"))?;
    let rps = rps.trim_end_matches(" req/s").replace(',', "");
    Some((now.parse().ok()?, target.parse().ok()?, rps.parse().ok()?))
}

/// "live view of all parts: N requests, ..." → N.
fn live_total(out: &Output) -> u64 {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("live view of all parts: "))
        .unwrap_or_else(|| panic!("no live total in\n{err}"));
    line.trim_start_matches("live view of all parts: ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_parent_shows_the_sum_of_its_children_live_and_merges_them() {
    let t = Target::start();
    let s = paced(&t.url, "12s");
    let o = spawn(&s).wait_with_output().expect("ran");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<(u64, u64, f64)> = err.lines().filter_map(progress).collect();
    // Lines at 5 s and 10 s of a 12 s run, each over the whole run: 6 VUs (2 + 2 + 2) at
    // 60 req/s (20 + 20 + 20); one part alone would show 2 VUs and 20 req/s.
    assert!(lines.len() >= 2, "progress lines expected in\n{err}");
    for (vus, target, rps) in &lines {
        assert_eq!((*vus, *target), (6, 6), "{err}");
        assert!((50.0..=70.0).contains(rps), "req/s {rps} in\n{err}");
    }
    let m = s.summary();
    let served = t.served()["requests"].as_u64().unwrap();
    assert_eq!(
        count(&m, "http_reqs"),
        served,
        "merged = the target's count"
    );
    assert_eq!(live_total(&o), served, "the live view saw every request");
    assert_eq!(m["merged"]["parts"].as_array().unwrap().len(), 3);
    assert_eq!(m["verdict"], "passed");
    let mut parts = 0;
    for i in 1..=3 {
        let p: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(s.out().join(format!("parts/part-{i}/summary.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            p["metrics"]["vus"]["max"], 2,
            "each part runs 2 of the 6 VUs"
        );
        parts += count(&p, "http_reqs");
    }
    assert_eq!(parts, served);
    // The children's live lines go to the parent, not into their logs.
    let log = std::fs::read_to_string(s.out().join("parts/part-1.log")).unwrap();
    assert!(!log.contains("STAMPEDE_LIVE"), "{log}");
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn ctrl_c_in_the_parent_stops_the_children_and_still_merges() {
    let t = Target::start();
    let s = paced(&t.url, "60s");
    let child = spawn(&s);
    let started = Instant::now();
    wait_served(&t, 60);
    signal(child.id(), "-INT");
    let o = child.wait_with_output().expect("ran");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "stopped long before the 60 s"
    );
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let m = s.summary();
    assert_eq!(
        count(&m, "http_reqs"),
        t.served()["requests"].as_u64().unwrap()
    );
    assert_eq!(live_total(&o), count(&m, "http_reqs"));
    assert!(text(&o).contains("stopping"), "{}", text(&o));
}

/// The pids of `parent`'s children (procfs).
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{parent}/task")).unwrap() {
        let p = task.unwrap().path().join("children");
        if let Ok(s) = std::fs::read_to_string(p) {
            out.extend(s.split_whitespace().filter_map(|w| w.parse::<u32>().ok()));
        }
    }
    out
}

#[test]
fn a_dead_child_is_reported_and_fails_the_run_as_a_tool() {
    let t = Target::start();
    let s = paced(&t.url, "8s");
    let child = spawn(&s);
    wait_served(&t, 30);
    let kids = children_of(child.id());
    assert_eq!(kids.len(), 3, "three children: {kids:?}");
    signal(kids[0], "-KILL");
    let o = child.wait_with_output().expect("ran");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("died (killed by a signal)"), "{err}");
    assert!(err.contains("failed; see"), "{err}");
    // The surviving parts are written; no merged report claims to be the whole run.
    let written = (1..=3)
        .filter(|i| {
            s.out()
                .join(format!("parts/part-{i}/summary.json"))
                .exists()
        })
        .count();
    assert_eq!(written, 2, "{err}");
    assert!(!s.out().join("summary.json").exists());
}
