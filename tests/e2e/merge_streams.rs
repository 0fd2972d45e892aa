//! `stampede merge` carries the stream (`sse:`) and WebSocket (`ws:`) figures of its parts:
//! two segments run against the built-in target, merged, and the merged counts checked against
//! the sum of the parts and the target's own `/__stats`, the merged percentiles against the
//! parts' histograms added here independently.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_stampede");

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn count(s: &serde_json::Value, m: &str) -> u64 {
    s["metrics"][m]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("metrics.{m}.count in {}", s["metrics"]))
}

fn histogram(s: &serde_json::Value, key: &str) -> hdrhistogram::Histogram<u64> {
    use base64::Engine as _;
    let b64 = s["histograms"][key]
        .as_str()
        .unwrap_or_else(|| panic!("histograms.{key}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .unwrap();
    // Each histogram covers up to its own largest value (they grow as they record), so adding
    // a part's into another's may need room: as HdrHistogram's own auto-resizing histograms do.
    h.auto(true);
    h
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

#[test]
fn merge_adds_stream_and_websocket_figures_of_two_segments_exactly() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: streams-merge
target: {url}
load: {{ executor: per-vu-iterations, vus: 6, iterations: 3 }}
flows:
  - name: f
    steps:
      - name: tokens
        get: "/sse?events=12&every=3&first=10"
        sse: {{ content: data, done: none }}
      - name: echo
        ws: "/ws?delay=2"
        actions:
          - send: "hi {{{{vu}}}}"
          - expect: {{ equals: "hi {{{{vu}}}}" }}
          - send: x
          - expect: any
          - close: 1000
thresholds:
  checks: ["rate == 1"]
  stream_ttft: ["p(99) < 5s"]
"#,
        url = t.url
    ));
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let parts: Vec<PathBuf> = (1..=2)
        .map(|i| s.dir.path().join(format!("part-{i}")))
        .collect();
    let children: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Command::new(BIN)
                .args(["run", &path_str(&s.file), "--quiet", "--workers", "1"])
                .args(["--segment", &format!("{}/2", i + 1), "--start-at", &at])
                .args(["--out", &path_str(d)])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a part")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().expect("part ran");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let out = s.dir.path().join("merged");
    let o = stampede(&[
        "merge",
        &path_str(&parts[0]),
        &path_str(&parts[1]),
        "--out",
        &path_str(&out),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a = summary(&parts[0]);
    let b = summary(&parts[1]);
    let m = summary(&out);
    // Parts and merge: typed round trip, schema-valid, every property described.
    for f in [&parts[0], &parts[1], &out] {
        crate::typed_check::check_typed(&f.join("summary.json"));
    }
    let served = t.served();

    // Counts: merged = part 1 + part 2 = what the target counted.
    for name in [
        "streams",
        "stream_events",
        "stream_tokens",
        "stream_parse_errors",
        "ws_sessions",
        "ws_msgs_sent",
        "ws_msgs_received",
        "iterations",
        "iterations_interrupted",
        "http_reqs",
    ] {
        assert_eq!(
            count(&m, name),
            count(&a, name) + count(&b, name),
            "{name}: merged = the sum of the parts"
        );
    }
    assert!(
        count(&a, "streams") > 0 && count(&b, "streams") > 0,
        "both parts streamed"
    );
    assert_eq!(count(&m, "streams"), 18, "6 VUs × 3 iterations");
    assert_eq!(count(&m, "stream_tokens"), 18 * 12);
    assert_eq!(served["sse_events"], count(&m, "stream_tokens"), "{served}");
    assert_eq!(count(&m, "ws_sessions"), 18);
    assert_eq!(served["ws_in"], count(&m, "ws_msgs_sent"), "{served}");
    assert_eq!(served["ws_out"], count(&m, "ws_msgs_received"), "{served}");
    assert_eq!(count(&m, "ws_msgs_sent"), 36);
    println!(
        "parts: streams {} + {}, tokens {} + {}, ws sessions {} + {}, msgs sent {} + {}; merged: streams {}, tokens {}, ws sessions {}, sent {}, received {}; target: sse_events {}, ws_in {}, ws_out {}",
        count(&a, "streams"),
        count(&b, "streams"),
        count(&a, "stream_tokens"),
        count(&b, "stream_tokens"),
        count(&a, "ws_sessions"),
        count(&b, "ws_sessions"),
        count(&a, "ws_msgs_sent"),
        count(&b, "ws_msgs_sent"),
        count(&m, "streams"),
        count(&m, "stream_tokens"),
        count(&m, "ws_sessions"),
        count(&m, "ws_msgs_sent"),
        count(&m, "ws_msgs_received"),
        served["sse_events"],
        served["ws_in"],
        served["ws_out"],
    );

    // The sections: present, and their counts add up.
    let sec = |s: &serde_json::Value, k: &str| s["streams"][k].as_u64().unwrap();
    for k in ["streams", "good", "events", "tokens", "streams_with_usage"] {
        assert_eq!(sec(&m, k), sec(&a, k) + sec(&b, k), "streams.{k}");
    }
    assert_eq!(m["streams"]["steps"][0]["step"], "tokens");
    let ws = |s: &serde_json::Value, k: &str| s["websockets"]["steps"][0][k].as_u64().unwrap();
    for k in ["sessions", "msgs_sent", "msgs_received"] {
        assert_eq!(ws(&m, k), ws(&a, k) + ws(&b, k), "websockets.steps[0].{k}");
    }
    let closes = |s: &serde_json::Value| {
        s["websockets"]["steps"][0]["close_codes"]["1000"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(closes(&m), closes(&a) + closes(&b));
    assert_eq!(closes(&m), 18);
    assert_eq!(m["protocol_errors"], serde_json::json!({}));

    // Percentiles: the merged trends are the percentiles of the parts' histograms added here.
    for name in [
        "stream_ttfb",
        "stream_ttft",
        "stream_inter_token",
        "stream_tpot",
        "stream_duration",
        "ws_connecting",
        "ws_msg_rtt",
        "ws_session_duration",
    ] {
        for key in [name.to_string(), format!("{name}{{step:tokens}}")] {
            if name.starts_with("ws_") && key.contains("tokens") {
                continue;
            }
            let mut sum = histogram(&a, &key);
            sum.add(histogram(&b, &key)).unwrap();
            assert_eq!(histogram(&m, &key), sum, "histograms.{key}");
            for (q, f) in [("p(50)", 0.5), ("p(99)", 0.99), ("max", 1.0)] {
                let got = m["metrics"][&key][q].as_f64().unwrap();
                assert_eq!(got, ms(sum.value_at_quantile(f)), "{key} {q}");
            }
            assert_eq!(m["metrics"][&key]["count"], sum.len(), "{key} count");
            if key == "ws_msg_rtt" || key == "stream_ttft" {
                println!(
                    "{key}: parts p99 {} / {} ms; merged p99 {} ms = added histograms' p99 {} ms (n = {})",
                    a["metrics"][&key]["p(99)"],
                    b["metrics"][&key]["p(99)"],
                    m["metrics"][&key]["p(99)"],
                    ms(sum.value_at_quantile(0.99)),
                    sum.len()
                );
            }
        }
    }
    // Each stream's own tokens per second, added the same way.
    let mut tps = histogram(&a, "stream_tokens_per_s_milli");
    tps.add(histogram(&b, "stream_tokens_per_s_milli")).unwrap();
    assert_eq!(tps.len(), 18);
    let med = m["streams"]["tokens_per_s_per_stream"]["med"]
        .as_f64()
        .unwrap();
    assert_eq!(med, ms(tps.value_at_quantile(0.5)));
}
