//! Segmented runs and `stampede merge`, end to end: parts run as separate processes against the
//! built-in target, and their merge is checked against the server's own count, the exact
//! schedule, and the parts' histograms added here independently.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_stampede");

fn spawn_part(file: &Path, seg: &str, out: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args([
            "run",
            &path_str(file),
            "--segment",
            seg,
            "--quiet",
            "--workers",
            "1",
        ])
        .args(["--out", &path_str(out)])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a part")
}

/// Run parts `1/n..n/n` at once (a common `--start-at` 2 s ahead) and return their folders.
fn run_parts(s: &Scenario, n: usize, extra: &[&str]) -> Vec<PathBuf> {
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut args = vec!["--start-at", at.as_str()];
    args.extend_from_slice(extra);
    let dirs: Vec<PathBuf> = (1..=n)
        .map(|i| s.dir.path().join(format!("part-{i}")))
        .collect();
    let children: Vec<Child> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| spawn_part(&s.file, &format!("{}/{n}", i + 1), d, &args))
        .collect();
    for c in children {
        let o = c.wait_with_output().expect("part ran");
        // A part does not judge thresholds: 0 unless the tool failed.
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            text(&o).contains("thresholds not judged by a segment alone"),
            "{}",
            text(&o)
        );
    }
    dirs
}

fn merge(parts: &[PathBuf], out: &Path) -> std::process::Output {
    let mut args = vec!["merge".to_string()];
    args.extend(parts.iter().map(|p| path_str(p)));
    args.extend(["--out".to_string(), path_str(out), "--quiet".to_string()]);
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    stampede(&refs)
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn count(s: &serde_json::Value, m: &str) -> u64 {
    s["metrics"][m]["count"].as_u64().unwrap()
}

fn histogram(s: &serde_json::Value, key: &str) -> hdrhistogram::Histogram<u64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s["histograms"][key].as_str().unwrap())
        .unwrap();
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .unwrap()
}

fn open_ramp(url: &str, threshold: &str) -> Scenario {
    Scenario::new(&format!(
        r#"
name: open-ramp
target: {url}
load:
  executor: ramping-arrival-rate
  start_rate: 0
  stages: [ {{duration: 2s, target: 300}}, {{duration: 2s, target: 300}} ]
  pre_allocated_vus: 8
  max_vus: 64
  graceful_stop: 3s
flows:
  - steps: [ {{ name: home, get: "/delay?ms=2" }} ]
thresholds:
  http_req_duration: ["{threshold}"]
"#
    ))
}

#[test]
fn four_segments_of_an_open_ramp_run_the_whole_schedule_once_and_merge_exactly() {
    let t = Target::start();
    let s = open_ramp(&t.url, "p(99) < 5s");
    let parts = run_parts(&s, 4, &[]);
    let out = s.dir.path().join("merged");
    let o = merge(&parts, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = summary(&out);
    assert!(schema_errors(&m).is_empty(), "{:?}", schema_errors(&m));
    let p: Vec<serde_json::Value> = parts.iter().map(|d| summary(d)).collect();
    for part in &p {
        assert!(schema_errors(part).is_empty(), "{:?}", schema_errors(part));
        assert_eq!(part["verdict"], "not_judged");
    }
    // The schedule: 0 → 300/s over 2 s (300 iterations), then 300/s for 2 s (600): 900, each
    // run by exactly one part, and each reached the server once.
    let total = count(&m, "http_reqs");
    assert_eq!(total, 900, "the whole schedule, once");
    assert_eq!(p.iter().map(|x| count(x, "http_reqs")).sum::<u64>(), total);
    assert_eq!(
        total,
        t.served()["requests"].as_u64().unwrap(),
        "server count"
    );
    // Striped: each part takes every 4th iteration of the one schedule.
    for x in &p {
        assert_eq!(count(x, "iterations"), 225, "{}", x["segment"]["segment"]);
    }
    // The HDR add is exact: the parts' histograms added here give the merged one, bucket by
    // bucket, and so the same percentiles.
    let mut sum = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    sum.auto(true);
    for x in &p {
        sum.add(histogram(x, "http_req_duration")).unwrap();
    }
    let merged = histogram(&m, "http_req_duration");
    assert_eq!(sum.len(), merged.len());
    for q in [0.5, 0.95, 0.99, 0.999] {
        assert_eq!(
            sum.value_at_quantile(q),
            merged.value_at_quantile(q),
            "quantile {q}"
        );
    }
    assert!(
        sum.iter_recorded()
            .zip(merged.iter_recorded())
            .all(|(a, b)| a.value_iterated_to() == b.value_iterated_to()
                && a.count_at_value() == b.count_at_value())
    );
    let p99 = m["metrics"]["http_req_duration"]["p(99)"].as_f64().unwrap();
    assert_eq!(
        p99,
        (sum.value_at_quantile(0.99) as f64 / 1000.0 * 1000.0).round() / 1000.0
    );
    // One timeline on the common clock: its seconds add up to the total.
    let seconds: u64 = m["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(seconds, total);
    assert_eq!(m["merged"]["parts"].as_array().unwrap().len(), 4);
    assert_eq!(m["verdict"], "passed");
    assert_eq!(m["thresholds"].as_array().unwrap().len(), 1);
}

#[test]
fn a_closed_ramp_is_split_exactly_and_a_breached_threshold_is_judged_on_the_merge() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: closed-ramp
target: {}
load:
  executor: ramping-vus
  start_vus: 0
  stages: [ {{duration: 1s, target: 10}}, {{duration: 2s, target: 10}} ]
  graceful_stop: 2s
  think_time: pacing(100ms)
flows:
  - steps: [ {{ name: slow, get: "/delay?ms=20" }} ]
thresholds:
  http_req_duration: ["p(50) < 5ms"]
"#,
        t.url
    ));
    let parts = run_parts(&s, 3, &[]);
    let out = s.dir.path().join("merged");
    let o = merge(&parts, &out);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let m = summary(&out);
    assert_eq!(m["verdict"], "failed");
    // 10 VUs striped over 3 parts: 4 + 3 + 3, and all of them together at the peak.
    let peaks: Vec<u64> = parts
        .iter()
        .map(|d| summary(d)["metrics"]["vus"]["max"].as_u64().unwrap())
        .collect();
    assert_eq!(peaks, vec![4, 3, 3]);
    assert_eq!(m["metrics"]["vus"]["max"].as_u64(), Some(10));
    assert_eq!(m["metrics"]["vus_max"]["value"].as_u64(), Some(10));
    assert_eq!(
        count(&m, "http_reqs"),
        t.served()["requests"].as_u64().unwrap()
    );
}

#[test]
fn merge_refuses_missing_overlapping_and_foreign_parts_with_exit_2() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: tiny
target: {}
load: {{ executor: constant-arrival-rate, rate: 20, duration: 1s, pre_allocated_vus: 2, max_vus: 4, graceful_stop: 1s }}
flows:
  - steps: [ {{ name: home, get: /fast }} ]
"#,
        t.url
    ));
    let parts = run_parts(&s, 3, &[]);
    let out = s.dir.path().join("merged");

    let o = merge(&parts[..2], &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("segment 2/3:1 is missing"),
        "{}",
        text(&o)
    );

    let o = merge(&[parts[0].clone(), parts[2].clone()], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("segment 1/3:2/3 is missing"),
        "{}",
        text(&o)
    );

    let o = merge(
        &[
            parts[0].clone(),
            parts[1].clone(),
            parts[1].clone(),
            parts[2].clone(),
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("parts overlap"), "{}", text(&o));

    // The same segment of a different scenario.
    let other = Scenario::new(
        &std::fs::read_to_string(&s.file)
            .unwrap()
            .replace("rate: 20", "rate: 21"),
    );
    let foreign = other.dir.path().join("part-2");
    let o = spawn_part(&other.file, "2/3", &foreign, &[])
        .wait_with_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = merge(&[parts[0].clone(), foreign.clone(), parts[2].clone()], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("parts of different runs: the scenarios"),
        "{}",
        text(&o)
    );

    // The same scenario with other options.
    let scaled = s.dir.path().join("scaled-2");
    let o = spawn_part(&s.file, "2/3", &scaled, &["--scale", "2"])
        .wait_with_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = merge(&[parts[0].clone(), scaled, parts[2].clone()], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("command-line options"), "{}", text(&o));

    // An ordinary run is not a part.
    let plain = run(&s, &[]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    let o = merge(&[s.out()], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("not a part of a segmented run"),
        "{}",
        text(&o)
    );
    assert!(
        !out.join("summary.json").exists(),
        "nothing written when refused"
    );

    // And all three together merge.
    let o = merge(&parts, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(count(&summary(&out), "http_reqs"), 20);
}

#[test]
fn unique_rows_are_dealt_out_by_segment_so_each_is_used_once_in_the_whole_run() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..30).map(|i| format!("k{i}\n")).collect();
    std::fs::write(dir.path().join("keys.csv"), format!("key\n{rows}")).unwrap();
    let s = Scenario::new(&format!(
        r#"
name: unique
target: {}
load: {{ executor: shared-iterations, vus: 4, iterations: 1000, max_duration: 10s }}
data:
  keys: {{ csv: {}, pick: unique }}
flows:
  - steps: [ {{ name: seen, get: "/seen?key={{{{data.keys.key}}}}" }} ]
"#,
        t.url,
        path_str(&dir.path().join("keys.csv"))
    ));
    let parts = run_parts(&s, 4, &[]);
    let o = merge(&parts, &s.dir.path().join("merged"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = t.served()["seen"].clone();
    let keys = seen.as_object().expect("seen keys");
    assert_eq!(keys.len(), 30, "{seen}");
    assert!(keys.values().all(|n| n.as_u64() == Some(1)), "{seen}");
}

#[test]
fn a_bad_segment_or_start_time_is_refused_before_any_traffic() {
    let s = open_ramp("http://127.0.0.1:9", "p(99) < 5s");
    for (args, want) in [
        (vec!["--segment", "5/4"], "1 <= i <= n"),
        (vec!["--segment", "1/2:1/4"], "from < to"),
        (
            vec!["--segment", "2/3", "--segment-sequence", "0,1/2,1"],
            "has 2 segments, not 3",
        ),
        (
            vec!["--segment", "1/2", "--start-at", "tomorrow"],
            "RFC 3339",
        ),
    ] {
        let o = run(&s, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
    }
}

#[test]
fn parts_that_start_apart_meet_at_the_barrier_and_a_late_start_is_reported() {
    let t = Target::start();
    let s = open_ramp(&t.url, "p(99) < 5s");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let barrier = format!("127.0.0.1:{port}");
    let dirs: Vec<PathBuf> = (1..=2)
        .map(|i| s.dir.path().join(format!("b-{i}")))
        .collect();
    // Part 2 comes first and waits; part 1 (the barrier's leader) a second later.
    let second = spawn_part(&s.file, "2/2", &dirs[1], &["--barrier", &barrier]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let first = spawn_part(&s.file, "1/2", &dirs[0], &["--barrier", &barrier]);
    for c in [first, second] {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let out = s.dir.path().join("merged");
    let o = merge(&dirs, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = summary(&out);
    let spread = m["merged"]["start_spread_ms"].as_f64().unwrap();
    assert!(spread < 500.0, "parts started {spread} ms apart");
    assert_eq!(count(&m, "http_reqs"), 900);

    // A part that starts after --start-at says so, and the merge shows it.
    let late = s.dir.path().join("late-1");
    let past = (chrono::Utc::now() - chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let o = spawn_part(&s.file, "1/2", &late, &["--start-at", &past])
        .wait_with_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("this part is late"), "{}", text(&o));
    let part = summary(&late);
    assert_eq!(part["segment"]["late"], true);
    assert!(part["segment"]["start_offset_ms"].as_f64().unwrap() >= 3000.0);
    let o = stampede(&[
        "merge",
        &path_str(&late),
        &path_str(&dirs[1]),
        "--out",
        &path_str(&s.dir.path().join("merged-late")),
    ]);
    assert!(
        text(&o).contains("late start (after --start-at)"),
        "{}",
        text(&o)
    );
}

#[test]
fn run_processes_runs_segments_as_children_and_writes_one_merged_report() {
    let t = Target::start();
    let s = open_ramp(&t.url, "p(99) < 5s");
    let o = run(&s, &["--processes", "3", "--workers", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = s.summary();
    assert_eq!(count(&m, "http_reqs"), 900, "the whole schedule, once");
    assert_eq!(
        count(&m, "http_reqs"),
        t.served()["requests"].as_u64().unwrap()
    );
    assert_eq!(m["merged"]["parts"].as_array().unwrap().len(), 3);
    assert_eq!(m["verdict"], "passed");
    for (i, want) in ["0:1/3", "1/3:2/3", "2/3:1"].iter().enumerate() {
        let part = summary(&s.out().join(format!("parts/part-{}", i + 1)));
        assert_eq!(part["segment"]["segment"], *want);
    }
    // An invalid scenario is refused before any child starts.
    let bad = Scenario::new("load: { vus: 1, duration: 1s }\nflows: []\n");
    let o = run(&bad, &["--processes", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
