//! End to end: the real binary, the built-in target on loopback, numbers read from summary.json.

use crate::common::*;

fn metric<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &s["metrics"][name]
}

#[test]
fn passing_thresholds_exit_0_and_every_served_request_is_counted_once() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: count
target: {url}
load:
  executor: ramping-vus
  start_vus: 0
  stages: [ {{duration: 1s, target: 20}}, {{duration: 2s, target: 20}}, {{duration: 1s, target: 0}} ]
  think_time: between(5ms, 20ms)
flows:
  - name: browse
    weight: 3
    steps:
      - {{ name: fast, get: /fast, expect: {{ status: 200 }} }}
      - {{ name: json, get: /json }}
  - name: write
    weight: 1
    steps:
      - {{ name: echo, post: /echo, json: {{ a: 1 }}, expect: {{ status: [200, 201] }} }}
thresholds:
  http_req_duration: ["p(95) < 500ms", "avg < 200ms"]
  http_req_failed: ["rate < 0.1%"]
  "http_req_duration{{step:fast}}": ["p(99) < 1s"]
"#,
        url = t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let served = t.served();
    let counted = metric(&sum, "http_reqs")["count"].as_u64().unwrap();
    assert!(
        counted > 500,
        "too few requests for a meaningful check: {counted}"
    );
    assert_eq!(
        counted,
        served["requests"].as_u64().unwrap(),
        "client count vs server count"
    );
    // Per step too: what the target saw on each path is what the step metrics say.
    for (step, path) in [("fast", "/fast"), ("json", "/json"), ("echo", "/echo")] {
        let c = metric(&sum, &format!("http_reqs{{step:{step}}}"))["count"]
            .as_u64()
            .unwrap();
        assert_eq!(c, served["by_path"][path].as_u64().unwrap(), "step {step}");
    }
    assert_eq!(sum["verdict"], "passed");
    assert_eq!(sum["thresholds"].as_array().unwrap().len(), 4);
    assert!(
        sum["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["passed"] == true)
    );
    assert_eq!(metric(&sum, "http_req_failed")["rate"].as_f64(), Some(0.0));
    assert_eq!(sum["status_codes"]["200"].as_u64(), Some(counted));
    let d = metric(&sum, "http_req_duration");
    for k in [
        "avg", "min", "med", "max", "p(50)", "p(90)", "p(95)", "p(99)", "p(99.9)", "p(99.99)",
    ] {
        assert!(d[k].is_number(), "http_req_duration.{k} missing");
    }
    assert!(metric(&sum, "data_received")["count"].as_u64().unwrap() > counted * 30);
    assert_eq!(metric(&sum, "vus")["max"].as_u64(), Some(20));
    // The terminal summary shows the step table and each threshold with its observed value.
    let out = text(&o);
    assert!(out.contains("fast") && out.contains("echo"), "{out}");
    assert!(out.contains("✓ http_req_failed"), "{out}");
}

#[test]
fn a_breached_threshold_exits_99_and_says_which() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
load: {{ vus: 5, duration: 2s }}
flows:
  - steps: [ {{ name: slow, get: "/delay?ms=30" }} ]
thresholds:
  http_req_duration: ["p(95) < 10ms", "p(99) < 5s"]
"#,
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let sum = s.summary();
    assert_eq!(sum["verdict"], "failed");
    let th = sum["thresholds"].as_array().unwrap();
    assert_eq!(th[0]["passed"], false);
    assert!(th[0]["observed"].as_f64().unwrap() >= 30.0);
    assert_eq!(th[1]["passed"], true);
    assert!(text(&o).contains("✗ http_req_duration"), "{}", text(&o));
}

#[test]
fn a_20ms_server_delay_shows_as_p50_between_20_and_25ms() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
load: {{ vus: 10, duration: 3s }}
flows:
  - steps:
      - {{ name: delayed, get: "/delay?ms=20" }}
      - {{ name: quick, get: /fast }}
"#,
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let d = metric(&sum, "http_req_duration{step:delayed}");
    let p50 = d["p(50)"].as_f64().unwrap();
    assert!((20.0..25.0).contains(&p50), "p50 of a 20 ms step: {p50}");
    assert!(d["min"].as_f64().unwrap() >= 20.0);
    let w = metric(&sum, "http_req_waiting{step:delayed}")["p(50)"]
        .as_f64()
        .unwrap();
    assert!((20.0..25.0).contains(&w), "waiting p50 {w}");
    let quick = metric(&sum, "http_req_duration{step:quick}")["p(50)"]
        .as_f64()
        .unwrap();
    assert!(
        quick < 5.0,
        "the fast step is not slowed by the slow one: {quick}"
    );
}

#[test]
fn failures_are_classified_by_kind() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
http: {{ timeout: 300ms }}
load: {{ vus: 2, duration: 2s }}
think_time_is_not_here: true
"#,
        t.url
    ));
    // (the scenario above is invalid on purpose: first check that, then the real one)
    let bad = run(&s, &[]);
    assert_eq!(bad.status.code(), Some(2));
    let s = Scenario::new(&format!(
        r#"
target: {}
http: {{ timeout: 300ms }}
load: {{ vus: 2, duration: 2s, think_time: constant(50ms) }}
flows:
  - name: errors
    steps:
      - {{ name: teapot, get: "/status?code=418" }}
      - {{ name: wrong, get: /fast, expect: {{ status: 201 }} }}
      - {{ name: missing, get: /nope }}
      - {{ name: dropped, get: /reset }}
      - {{ name: after_drop, get: /fast }}
      - {{ name: stalled, get: "/delay?ms=2000" }}
thresholds:
  http_req_failed: ["rate < 10%"]
"#,
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let sum = s.summary();
    let e = &sum["errors"];
    let its = metric(&sum, "iterations")["count"].as_u64().unwrap();
    assert!(its >= 2, "iterations {its}");
    // teapot, wrong and missing are status failures; dropped is `no_response` (the target
    // closes the connection without answering, which ends the iteration, so after_drop and
    // stalled never run).
    assert_eq!(e["unexpected_status"].as_u64().unwrap(), 3 * its);
    assert_eq!(e["no_response"].as_u64().unwrap(), its);
    assert_eq!(e["reset"].as_u64(), Some(0));
    assert_eq!(
        metric(&sum, "http_reqs{step:after_drop}")["count"].as_u64(),
        Some(0)
    );
    assert_eq!(sum["status_codes"]["418"].as_u64(), Some(its));
    assert_eq!(sum["status_codes"]["404"].as_u64(), Some(its));

    // A request timeout, on its own.
    let s2 = Scenario::new(&format!(
        r#"
target: {}
http: {{ timeout: 200ms }}
load: {{ vus: 2, duration: 1s }}
flows:
  - steps: [ {{ name: stalled, get: "/delay?ms=1000" }} ]
"#,
        t.url
    ));
    let o2 = run(&s2, &[]);
    assert_eq!(
        o2.status.code(),
        Some(0),
        "no thresholds: exit 0 {}",
        text(&o2)
    );
    let sum2 = s2.summary();
    let timeouts = sum2["errors"]["request_timeout"].as_u64().unwrap();
    assert!(timeouts >= 2, "{timeouts}");
    assert_eq!(metric(&sum2, "http_req_failed")["rate"].as_f64(), Some(1.0));
    // A timed-out request is recorded with the time it was waited for, not hidden. The timeout
    // covers connect + request, so a request that opened its connection waited the rest.
    let min = metric(&sum2, "http_req_duration")["min"].as_f64().unwrap();
    let connect_max = metric(&sum2, "http_req_connecting")["max"]
        .as_f64()
        .unwrap();
    assert!(
        min + connect_max >= 199.0,
        "min {min} + connect {connect_max}"
    );
}

#[test]
fn a_target_that_dies_mid_run_gives_connect_refused_not_a_crash() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
http: {{ timeout: 1s }}
load: {{ vus: 3, duration: 3s, think_time: constant(20ms) }}
flows:
  - steps: [ {{ get: /fast }} ]
"#,
        t.url
    ));
    let file = path_str(&s.file);
    let out = path_str(&s.out());
    let child = std::process::Command::new(BIN)
        .args(["run", &file, "--out", &out, "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run is under way (the target has served some of it), then the target dies.
    wait_for(
        "traffic at the target",
        std::time::Duration::from_secs(20),
        || t.served()["requests"].as_u64().unwrap_or(0) >= 20,
    );
    drop(t);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let e = &sum["errors"];
    let refused = e["connect_refused"].as_u64().unwrap();
    assert!(refused > 0, "{e}");
    assert!(metric(&sum, "http_reqs")["count"].as_u64().unwrap() > refused);
}

#[test]
fn abort_on_fail_stops_the_run_early_with_99() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
load: {{ vus: 2, duration: 30s, graceful_stop: 1s }}
flows:
  - steps: [ {{ get: "/status?code=500" }} ]
thresholds:
  http_req_failed:
    - {{ threshold: "rate < 1%", abort_on_fail: true, delay_abort_eval: 1s }}
"#,
        t.url
    ));
    let started = std::time::Instant::now();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    assert!(
        started.elapsed().as_secs() < 10,
        "abort took {:?}",
        started.elapsed()
    );
    let sum = s.summary();
    assert!(
        sum["aborted_by_threshold"]
            .as_str()
            .unwrap()
            .contains("rate < 1%")
    );
    assert!(sum["duration_s"].as_f64().unwrap() < 10.0);
}

#[test]
fn ctrl_c_stops_gracefully_writes_the_partial_summary_and_exits_130() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
load: {{ vus: 4, duration: 60s, think_time: constant(10ms) }}
flows:
  - steps: [ {{ get: /fast }} ]
thresholds:
  http_req_failed: ["rate < 1%"]
"#,
        t.url
    ));
    let file = path_str(&s.file);
    let out = path_str(&s.out());
    let child = std::process::Command::new(BIN)
        .args(["run", &file, "--out", &out])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        "traffic at the target",
        std::time::Duration::from_secs(20),
        || t.served()["requests"].as_u64().unwrap_or(0) >= 50,
    );
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let sum = s.summary();
    assert_eq!(sum["interrupted"], true);
    let counted = metric(&sum, "http_reqs")["count"].as_u64().unwrap();
    assert!(counted > 0);
    // Graceful: every request the target served was counted.
    assert_eq!(counted, t.served()["requests"].as_u64().unwrap());
    assert!(sum["duration_s"].as_f64().unwrap() < 10.0);
}
