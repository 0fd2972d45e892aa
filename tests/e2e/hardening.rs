//! Reports are never lost: SIGHUP stops a run the graceful way (exit 130, complete report), a
//! report file that cannot be written is named on stderr after the terminal summary (exit 1,
//! the others written, no half file), an unwritable `--out` is refused before any traffic
//! (exit 2), and `http.max_body` fails a step whose body is too large.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scenario(t: &Target, duration: &str, steps: &str) -> Scenario {
    Scenario::new(&format!(
        "name: hardening\ntarget: {}\nload: {{ vus: 2, duration: {duration}, graceful_stop: 2s }}\nflows:\n  - name: f\n    steps:\n{steps}",
        t.url
    ))
}

fn requests(t: &Target) -> u64 {
    t.served()["requests"].as_u64().unwrap_or(0)
}

#[test]
fn sighup_stops_gracefully_and_the_report_is_complete() {
    let t = Target::start();
    let s = scenario(&t, "60s", "      - { name: home, get: /fast }\n");
    let out = path_str(&s.out());
    let child = Command::new(BIN)
        .args(["run", &path_str(&s.file), "--out", &out, "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while requests(&t) < 100 {
        assert!(start.elapsed() < Duration::from_secs(20), "no traffic");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(start.elapsed() < Duration::from_secs(30));
    let v = s.summary();
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["exit_code"], 130);
    assert_eq!(
        v["metrics"]["http_reqs"]["count"].as_u64(),
        Some(requests(&t)),
        "the report counts what the server served"
    );
    for f in ["timeline.csv", "junit.xml", "summary.md", "report.html"] {
        assert!(s.out().join(f).is_file(), "{f} missing");
    }
}

#[test]
fn a_report_file_that_cannot_be_written_is_named_and_the_summary_still_printed() {
    let t = Target::start();
    let s = scenario(&t, "1s", "      - { name: home, get: /fast }\n");
    // report.html cannot be renamed into place: a folder holds its name.
    std::fs::create_dir_all(s.out().join("report.html").join("x")).unwrap();
    let o = run(&s, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("http_reqs"), "terminal summary: {stdout}");
    assert!(stderr.contains("report.html"), "{stderr}");
    let v = s.summary();
    assert_eq!(
        v["metrics"]["http_reqs"]["count"].as_u64(),
        Some(requests(&t))
    );
    // No temporary file left behind.
    let left: Vec<String> = std::fs::read_dir(s.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_unwritable_out_is_refused_before_any_traffic() {
    let t = Target::start();
    let s = scenario(&t, "1s", "      - { name: home, get: /fast }\n");
    let file = s.dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = path_str(&file.join("out"));
    let o = stampede(&["run", &path_str(&s.file), "--out", &out, "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("report folder"), "{}", text(&o));
    assert_eq!(requests(&t), 0);
}

#[test]
fn a_body_past_max_body_fails_as_body_too_large_and_body_contains_streams() {
    body_limits(Target::start(), "");
}

#[test]
fn over_http2_too() {
    body_limits(
        Target::start_with(&["--h2c"], None),
        ", version: \"2\", h2c: true",
    );
}

fn body_limits(t: Target, http: &str) {
    // /json's body is a few dozen bytes: an 8-byte limit is passed by every response.
    let s = Scenario::new(&format!(
        "name: body\ntarget: {}\nhttp: {{ max_body: 8{http} }}\nload: {{ executor: shared-iterations, vus: 1, iterations: 5 }}\nflows:\n  - name: f\n    steps:\n      - {{ name: kept, get: /json, expect: {{ json: {{ \"$.id\": 42 }} }} }}\n      - {{ name: streamed, get: /json, expect: {{ body_contains: \"{{\" }} }}\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = s.summary();
    let steps = v["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|x| x["name"] == name).unwrap().clone();
    assert_eq!(step("kept")["failures"], 5, "{}", step("kept"));
    assert_eq!(step("streamed")["failures"], 0, "{}", step("streamed"));
    assert_eq!(v["errors"]["body_too_large"], 5, "{}", v["errors"]);
    assert_eq!(requests(&t), 10);
}
