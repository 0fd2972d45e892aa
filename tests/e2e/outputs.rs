//! k6 compatibility end to end: `--summary-export` read as k6 tools read it, the live outputs
//! (`--out json=`, `csv=`, `hlog=`, `prometheus=`) checked against summary.json and the server's
//! own count, and windowed thresholds against a stalling target.

use crate::common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_stampede");

fn scenario(url: &str, thresholds: &str) -> Scenario {
    Scenario::new(&format!(
        r#"
name: k6compat
target: {url}
load: {{ executor: constant-arrival-rate, rate: 200, duration: 3s, pre_allocated_vus: 10, max_vus: 50 }}
flows:
  - name: f
    steps:
      - {{ name: home, get: /fast, expect: {{ status: 200 }} }}
      - {{ name: api, get: /json }}
thresholds:
{thresholds}
"#
    ))
}

/// k6's jq gate: `[.metrics[].thresholds // {{}} | to_entries[] | select(.value)] | length`.
fn breached_marks(v: &serde_json::Value) -> usize {
    v["metrics"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|m| m["thresholds"].as_object())
        .flat_map(|t| t.values())
        .filter(|b| b.as_bool() == Some(true))
        .count()
}

fn read_json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn summary_export_has_k6s_shape_and_a_k6_gate_counts_breaches() {
    let t = Target::start();
    let pass = scenario(
        &t.url,
        "  http_req_duration: [\"p(95) < 5s\"]\n  http_req_failed: [\"rate < 1%\"]\n  checks: [\"rate > 99%\"]",
    );
    let export = pass.dir.path().join("export.json");
    let data = pass.dir.path().join("data.json");
    let o = run(
        &pass,
        &[
            "--summary-export",
            &path_str(&export),
            "--summary-data",
            &path_str(&data),
            "--summary-trend-stats",
            "avg,p(99.9),count",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let e = read_json(&export);
    let sum = pass.summary();
    assert_eq!(breached_marks(&e), 0);
    assert_eq!(
        breached_marks(&sum),
        0,
        "summary.json uses k6's meaning too"
    );
    // k6's shape: rates carry `value` (no `rate`), trends the asked statistics only.
    let failed = &e["metrics"]["http_req_failed"];
    assert_eq!(failed["value"], 0.0);
    assert!(failed.get("rate").is_none());
    assert_eq!(sum["metrics"]["http_req_failed"]["value"], 0.0);
    let d = e["metrics"]["http_req_duration"].as_object().unwrap();
    let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["avg", "count", "p(99.9)", "thresholds"]);
    assert_eq!(
        d["count"].as_u64(),
        sum["metrics"]["http_req_duration"]["count"].as_u64()
    );
    assert_eq!(
        e["metrics"]["http_reqs"]["count"].as_u64(),
        t.served()["requests"].as_u64(),
        "the export's count is what the server saw"
    );
    // root_group: checks keyed by name, the root's id is md5("").
    assert_eq!(e["root_group"]["id"], "d41d8cd98f00b204e9800998ecf8427e");
    let checks = e["root_group"]["checks"].as_object().unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert!(e["root_group"]["groups"].is_object());
    assert!(e.get("options").is_none());
    // handleSummary data: arrays, {ok} thresholds, options.
    let d = read_json(&data);
    assert!(d["root_group"]["checks"].is_array());
    assert_eq!(
        d["metrics"]["http_req_duration"]["thresholds"]["p(95) < 5s"]["ok"],
        true
    );
    assert_eq!(d["metrics"]["http_req_duration"]["type"], "trend");
    assert_eq!(d["options"]["summaryTrendStats"][1], "p(99.9)");

    // Two of three thresholds breached: the gate says 2, in the export and in summary.json.
    let fail = scenario(
        &t.url,
        "  http_req_duration: [\"p(95) < 1us\", \"avg < 1us\", \"max < 60s\"]",
    );
    let export = fail.dir.path().join("export.json");
    let o = run(&fail, &["--summary-export", &path_str(&export)]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    assert_eq!(breached_marks(&read_json(&export)), 2);
    assert_eq!(breached_marks(&fail.summary()), 2);
    // --no-thresholds: nothing judged, exit 0.
    let o = run(&fail, &["--no-thresholds"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(fail.summary()["thresholds"].as_array().unwrap().len(), 0);
}

/// One `GET /metrics` on a fresh connection; `None` when nothing answers.
fn scrape(addr: &str) -> Option<String> {
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut s = String::new();
    c.read_to_string(&mut s).ok()?;
    s.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The sum of a metric's samples in an OpenMetrics text.
fn prom_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn live_outputs_count_what_the_summary_and_the_server_count() {
    let t = Target::start();
    let s = scenario(&t.url, "  http_req_duration: [\"p(95) < 5s\"]");
    let dir = s.dir.path();
    let (json, csv, hlog) = (
        dir.join("points.json.gz"),
        dir.join("points.csv"),
        dir.join("lat.hlog"),
    );
    let prom = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .args([
            "run",
            &path_str(&s.file),
            "--report-dir",
            &path_str(&s.out()),
        ])
        .args(["--quiet", "--tag", "testid=t1", "--tag", "env=ci"])
        .arg(format!("--out=json={}", path_str(&json)))
        .arg(format!("--out=csv={}", path_str(&csv)))
        .arg(format!("--out=hlog={}", path_str(&hlog)))
        .arg(format!("--out=prometheus={prom}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Scrape while it runs (as Prometheus would); the endpoint then waits for one last scrape.
    let mut last = String::new();
    let mut during = 0;
    let status = loop {
        if let Some(b) = scrape(&prom) {
            if prom_sum(&b, "k6_http_reqs_total", "") > 0.0 {
                during += 1;
            }
            last = b;
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(150));
    };
    assert_eq!(status.code(), Some(0));
    assert!(during > 0, "scraped figures while the run went");
    let sum = s.summary();
    let reqs = sum["metrics"]["http_reqs"]["count"].as_u64().unwrap();
    assert_eq!(reqs, t.served()["requests"].as_u64().unwrap());

    // Prometheus: the final scrape has the run's totals and its p95, with the testid label.
    assert_eq!(
        prom_sum(&last, "k6_http_reqs_total", "testid=\"t1\"") as u64,
        reqs,
        "{last}"
    );
    assert!(last.contains("env=\"ci\""));
    let p95 = last
        .lines()
        .find(|l| l.starts_with("k6_http_req_duration_p95{") && !l.contains("name="))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .expect("overall p95 gauge");
    let want = sum["metrics"]["http_req_duration"]["p(95)"]
        .as_f64()
        .unwrap();
    assert!((p95 * 1000.0 - want).abs() < 0.01, "{p95} s vs {want} ms");
    assert!(last.contains("k6_http_req_duration_seconds_bucket{"));

    // JSON lines (gzipped): every line parses; http_reqs Points = requests; Metric lines once.
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&json).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut points = std::collections::HashMap::<String, u64>::new();
    let mut metrics = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        match v["type"].as_str() {
            Some("Point") => {
                assert!(v["data"]["time"].as_str().unwrap().ends_with('Z'));
                assert_eq!(v["data"]["tags"]["testid"], "t1");
                *points
                    .entry(v["metric"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
            Some("Metric") => metrics += 1,
            other => panic!("unexpected line type {other:?}"),
        }
    }
    assert_eq!(points["http_reqs"], reqs);
    assert_eq!(points["http_req_failed"], reqs);
    assert_eq!(
        points["http_req_duration"],
        sum["metrics"]["http_req_duration"]["count"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(metrics, points.len(), "one Metric line per metric");

    // CSV: k6's header, and one http_reqs row per request.
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert!(csv_text.starts_with("metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"));
    let rows = csv_text
        .lines()
        .filter(|l| l.starts_with("http_reqs,"))
        .count() as u64;
    assert_eq!(rows, reqs);

    // hlog: the untagged intervals add up to the summary's histogram, exactly.
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let log = std::fs::read(&hlog).unwrap();
    let mut total: hdrhistogram::Histogram<u64> = hdrhistogram::Histogram::new(3).unwrap();
    let mut intervals = 0;
    for e in IntervalLogIterator::new(&log) {
        if let Ok(LogEntry::Interval(h)) = e
            && h.tag().is_none()
        {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(h.encoded_histogram())
                .unwrap();
            let d: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut &bytes[..])
                .unwrap();
            total.add(&d).unwrap();
            intervals += 1;
        }
    }
    assert!(intervals >= 3, "{intervals} intervals");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sum["histograms"]["http_req_duration"].as_str().unwrap())
        .unwrap();
    let want: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .unwrap();
    let recorded = |h: &hdrhistogram::Histogram<u64>| -> Vec<(u64, u64)> {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    };
    assert_eq!(total.len(), want.len());
    assert_eq!(recorded(&total), recorded(&want));
}

#[test]
fn a_windowed_threshold_fails_on_a_stall_the_whole_run_hides() {
    // Every response is held during the target's first 600 ms: the run's first seconds are slow
    // (the first 3 s window's p95 is ~480 ms), the whole run's p95 is not (30 of 800 requests).
    // 300 ms, not 200: on a loaded 2-core machine a later window's p95 reached 200 ms.
    let t = Target::start_with(&["--stall", "600ms/120s"], None);
    let s = Scenario::new(&format!(
        r#"
name: windowed
target: {url}
load: {{ executor: constant-arrival-rate, rate: 50, duration: 16s, pre_allocated_vus: 10, max_vus: 100 }}
flows:
  - name: f
    steps:
      - {{ name: home, get: /fast }}
thresholds:
  http_req_duration: ["p(95) < 300ms", "p(95) over 3s < 300ms"]
  http_req_failed: ["rate over 5s < 1%"]
"#,
        url = t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let sum = s.summary();
    let th = sum["thresholds"].as_array().unwrap();
    assert_eq!(th[0]["passed"], true, "{th:?}");
    assert_eq!(th[1]["passed"], false, "{th:?}");
    assert_eq!(th[1]["window_s"], 3);
    let from = th[1]["worst_window"]["from_s"].as_u64().unwrap();
    let to = th[1]["worst_window"]["to_s"].as_u64().unwrap();
    assert_eq!(to - from, 3);
    assert!(
        to <= 4,
        "the stall is in the first second: worst window {from}–{to}"
    );
    assert!(th[1]["observed_display"].as_str().unwrap().contains("s–"));
    assert_eq!(th[2]["passed"], true);
    assert!(text(&o).contains("over 3s"), "{}", text(&o));
}

#[test]
fn out_without_a_known_kind_is_refused_before_any_traffic() {
    let o = stampede(&["run", "nope.yaml", "--out", "jsn=x.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown output `jsn`"), "{}", text(&o));
    let o = stampede(&[
        "run",
        "http://127.0.0.1:1/",
        "-u",
        "1",
        "-d",
        "1s",
        "--out",
        "prometheus=",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn a_url_or_stdin_runs_without_a_scenario_file() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let url = format!("{}/fast", t.url);
    let o = stampede(&[
        "run",
        &url,
        "-u",
        "2",
        "-d",
        "1s",
        "--report-dir",
        &path_str(&out),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum: serde_json::Value = read_json(&out.join("summary.json"));
    assert_eq!(
        sum["metrics"]["http_reqs"]["count"].as_u64(),
        t.served()["by_path"]["/fast"].as_u64()
    );
    // `-`: the scenario from standard input.
    let yaml = format!(
        "name: piped\ntarget: {}\nload: {{ executor: shared-iterations, vus: 1, iterations: 5 }}\nflows:\n  - name: f\n    steps:\n      - {{ get: /json }}\n",
        t.url
    );
    let out2 = dir.path().join("r2");
    let mut child = Command::new(BIN)
        .args(["run", "-", "--quiet", "--report-dir", &path_str(&out2)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        read_json(&out2.join("summary.json"))["metrics"]["http_reqs"]["count"],
        5
    );
}

#[test]
fn completions_and_http_debug() {
    for shell in ["bash", "zsh", "fish"] {
        let o = stampede(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0));
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.contains("summary-export"), "{shell}: {s}");
    }
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
target: {}
http: {{ headers: {{ authorization: "Bearer s3cr3t-token" }} }}
load: {{ executor: shared-iterations, vus: 1, iterations: 2 }}
flows:
  - steps: [ {{ name: echo, post: /echo, json: {{ hello: 1 }} }} ]
"#,
        t.url
    ));
    let o = run(&s, &["--http-debug=full", "-i", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("Request (echo):").count(), 3, "{err}");
    assert_eq!(
        err.matches("Response (echo):\nHTTP 200").count(),
        3,
        "{err}"
    );
    assert!(err.contains("authorization: ***"), "{err}");
    assert!(!err.contains("s3cr3t"), "the secret is masked: {err}");
    assert!(err.contains("{\"hello\":1}"), "bodies with =full: {err}");
    assert_eq!(s.summary()["metrics"]["iterations"]["count"], 3, "-i 3");
}

#[test]
fn a_dead_output_says_so_and_the_others_and_the_run_go_on() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ok.csv");
    let url = format!("{}/fast", t.url);
    let o = stampede(&[
        "run",
        &url,
        "-u",
        "2",
        "-d",
        "2s",
        "--quiet",
        "--report-dir",
        &path_str(&dir.path().join("r")),
        "--out",
        "json=/dev/full",
        "--out",
        &format!("csv={}", path_str(&csv)),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: json (/dev/full):") && err.contains("nothing more is written"),
        "{err}"
    );
    let rows = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("http_reqs,"))
        .count() as u64;
    let sum = read_json(&dir.path().join("r/summary.json"));
    assert_eq!(Some(rows), sum["metrics"]["http_reqs"]["count"].as_u64());
}
