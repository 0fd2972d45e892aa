//! End-to-end checks of the engine's connection handling: the real binary against the built-in
//! target, with the target's own connection counts as the witness. Those counts include one
//! connection of stampede's reachability probe and one of the `/__stats` request itself, both
//! from 127.0.0.1.

use crate::common::*;
use std::process::Command;

/// Run stampede under a lowered open-files limit (`sh -c 'ulimit -n N; exec ...'`).
fn run_with_nofile(limit: u32, s: &Scenario) -> std::process::Output {
    let script = format!("ulimit -n {limit} && exec \"$0\" run \"$1\" --out \"$2\" --quiet");
    Command::new("sh")
        .args(["-c", &script, BIN])
        .arg(&s.file)
        .arg(s.out())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run stampede under sh")
}

#[test]
fn preflight_refuses_more_connections_than_files_before_any_traffic() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ vus: 3000, duration: 2s }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run_with_nofile(1024, &s);
    let msg = text(&o);
    assert_eq!(o.status.code(), Some(2), "{msg}");
    assert!(msg.contains("3000 connections"), "{msg}");
    assert!(msg.contains("only 1024 files"), "{msg}");
    assert!(msg.contains("connections: pooled"), "{msg}");
    assert!(msg.contains("ulimit -Hn"), "{msg}");
    assert!(!s.out().join("summary.json").exists());
    let served = t.served();
    assert_eq!(served["requests"], 0, "{served}");
    assert_eq!(
        served["connections"], 1,
        "only the /__stats request itself: {served}"
    );

    // The same VUs sharing a pool fit, and run.
    let s = Scenario::new(&format!(
        "target: {}\nhttp: {{ connections: pooled, max_connections: 500 }}\n\
         load: {{ vus: 3000, duration: 1s, think_time: 100ms }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run_with_nofile(1024, &s);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn pooled_vus_share_a_bounded_pool_and_wait_for_it() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nhttp: {{ connections: pooled, max_connections: 4 }}\n\
         load: {{ vus: 200, duration: 2s }}\nflows:\n  - steps: [ {{ name: slow, get: \"/delay?ms=5\" }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let served = t.served();
    let reqs = sum["metrics"]["http_reqs"]["count"].as_u64().unwrap();
    assert_eq!(Some(reqs), served["requests"].as_u64(), "{served}");
    assert!(served["open_peak"].as_u64().unwrap() <= 4, "{served}");
    assert!(served["connections"].as_u64().unwrap() <= 4 + 2, "{served}");
    // 200 VUs on 4 connections of a 5 ms endpoint: most of a request's life is the wait.
    let blocked = sum["metrics"]["http_req_blocked"]["p(50)"]
        .as_f64()
        .unwrap();
    assert!(blocked > 50.0, "median wait for a connection {blocked} ms");
    assert_eq!(sum["metrics"]["http_req_failed"]["rate"], 0.0);
}

#[test]
fn local_ips_spread_connections_over_source_addresses() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nhttp: {{ local_ips: 127.0.0.2/31 }}\n\
         load: {{ vus: 20, duration: 1s, think_time: 50ms }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let served = t.served();
    assert_eq!(served["by_peer"]["127.0.0.2"], 10, "{served}");
    assert_eq!(served["by_peer"]["127.0.0.3"], 10, "{served}");
    assert_eq!(
        served["connections"],
        20 + 2,
        "one connection per VU: {served}"
    );
    assert_eq!(served["by_peer"]["127.0.0.1"], 2, "{served}");
}

#[test]
fn connections_closed_by_the_target_are_reopened_without_errors() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ vus: 10, duration: 1s }}\nflows:\n  - steps: [ {{ get: /close }}, {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let served = t.served();
    let reqs = sum["metrics"]["http_reqs"]["count"].as_u64().unwrap();
    assert!(reqs > 100, "{reqs}");
    assert_eq!(Some(reqs), served["requests"].as_u64(), "{served}");
    assert_eq!(
        sum["metrics"]["http_req_failed"]["rate"],
        0.0,
        "{}",
        text(&o)
    );
    // Every /close ends its connection, so each iteration opens one.
    let closes = served["by_path"]["/close"].as_u64().unwrap();
    let conns = served["connections"].as_u64().unwrap();
    assert!(
        conns >= closes && conns <= closes + 10 + 2,
        "{conns} connections for {closes} closes"
    );
}

#[test]
fn the_initial_population_is_spread_over_one_think_time_unless_asked_not_to() {
    let t = Target::start();
    let first_second = |spread: &str| {
        let s = Scenario::new(&format!(
            "target: {}\nload: {{ vus: 1000, duration: 1500ms, graceful_stop: 1s, think_time: 2s{spread} }}\n\
             flows:\n  - steps: [ {{ get: /fast }} ]\n",
            t.url
        ));
        let o = run(&s, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let sum = s.summary();
        sum["timeline"][0]["requests"].as_u64().unwrap()
    };
    // Spread: each VU starts after a uniform part of 2 s, so about half start in the first second.
    let spread = first_second("");
    assert!(
        (300..=700).contains(&spread),
        "{spread} of 1000 in the first second"
    );
    // At once: every VU sends its first request at the start.
    let herd = first_second(", spread_start: false");
    assert_eq!(herd, 1000);
}
