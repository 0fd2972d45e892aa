//! Streaming steps end to end: `sse:` against the built-in target's known-timing streams and
//! against servers we did not write (Node.js's `http`, Python's `http.server`), `ws:` against
//! the built-in echo and the `websockets` package's server. Counts are compared with what each
//! server says it sent; timings are checked only for sanity here (the figures against the truth
//! are printed with `--nocapture` and measured on a quiet machine, docs/streaming.md).

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) fn servers_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers").to_string()
}

/// A server process of ours around someone else's server software; prints `port N` first.
pub(crate) struct Server {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    port: u16,
}

impl Server {
    /// None when the interpreter (or its package) is missing outside CI; under CI, a panic.
    pub(crate) fn start(program: &str, script: &str) -> Option<Server> {
        Server::start_with(program, script, &[])
    }

    /// `start`, with arguments for the script.
    pub(crate) fn start_with(program: &str, script: &str, args: &[&str]) -> Option<Server> {
        let spawned = Command::new(program)
            .arg(format!("{}/{script}", servers_dir()))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return missing(&format!("{program}: {e}")),
        };
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(std::time::Duration::from_secs(20));
        let port = match first.as_deref().ok().and_then(|l| l.strip_prefix("port ")) {
            Some(p) => p.trim().parse().expect("a port"),
            None => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                return missing(&format!("{program} {script} did not start: {err}"));
            }
        };
        Some(Server {
            child,
            lines: rx,
            port,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Every line printed so far, once nothing more came for half a second.
    pub(crate) fn drain(&self) -> Vec<String> {
        let quiet = std::time::Duration::from_millis(500);
        std::iter::from_fn(|| self.lines.recv_timeout(quiet).ok()).collect()
    }

    /// The numbers on the lines starting with `word`, waiting up to 10 s for `n` of them.
    pub(crate) fn reports(&self, word: &str, n: usize) -> Vec<Vec<u64>> {
        let mut out = Vec::new();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while out.len() < n {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            if let Some(rest) = line.strip_prefix(word) {
                out.push(
                    rest.split_whitespace()
                        .map(|x| x.parse().expect("a number"))
                        .collect(),
                );
            }
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn missing<T>(what: &str) -> Option<T> {
    assert!(
        std::env::var("CI").is_err(),
        "{what} (CI installs it: .ci/install-streaming.sh)"
    );
    eprintln!("skipped: {what}");
    None
}

fn m(s: &serde_json::Value, name: &str, field: &str) -> f64 {
    s["metrics"][name][field]
        .as_f64()
        .unwrap_or_else(|| panic!("metrics.{name}.{field} in {}", s["metrics"]))
}

/// 4 streams × 50 tokens, first after 150 ms, then one every 20 ms, in a line-end style.
fn openai_stream(style: &str) {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: chat
target: {url}
load: {{ executor: per-vu-iterations, vus: 4, iterations: 1 }}
flows:
  - name: chat
    steps:
      - name: chat
        post: "/v1/chat/completions?first=150&every=20{style}"
        json: {{ model: m, stream: true, max_tokens: 50, messages: [{{ role: user, content: hi }}] }}
        sse: true
        expect: {{ status: 200, body_contains: "tok0 tok1 tok2" }}
thresholds:
  stream_ttft: ["p(99) < 2s"]
"#,
        url = t.url
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sm = s.summary();
    assert!(schema_errors(&sm).is_empty(), "{:?}", schema_errors(&sm));
    let st = &sm["streams"];
    assert_eq!(st["streams"], 4);
    assert_eq!(st["tokens"], 200, "50 tokens per stream, from usage");
    assert_eq!(st["tokens_source"], "usage");
    assert_eq!(st["parse_errors"], 0);
    // role chunk + 50 tokens + finish + usage + [DONE]
    assert_eq!(st["events"], 4 * 54);
    assert_eq!(st["goodput"], 1.0);
    assert_eq!(m(&sm, "stream_inter_token", "count"), 4.0 * 49.0);
    assert_eq!(t.served()["sse_events"], 200, "the target sent 200 tokens");
    let ttft = m(&sm, "stream_ttft", "p(50)");
    let itl = m(&sm, "stream_inter_token", "p(50)");
    let tpot = m(&sm, "stream_tpot", "p(50)");
    println!(
        "{style:>14}: ttft p50 {ttft:.3} ms (truth 150), inter-token p50 {itl:.3} ms (truth 20), tpot p50 {tpot:.3} ms"
    );
    // Sanity only (timing belongs in benchmarks): never early, and not wildly late.
    assert!((150.0..400.0).contains(&ttft), "ttft {ttft}");
    assert!((15.0..60.0).contains(&itl), "inter-token {itl}");
    assert!(
        m(&sm, "stream_ttfb", "p(50)") < ttft,
        "the role chunk comes first"
    );
}

#[test]
fn sse_openai_stream_with_lf_line_ends() {
    openai_stream("");
}

#[test]
fn sse_openai_stream_with_crlf_line_ends_and_no_space_after_data() {
    openai_stream("&crlf=1&nospace=1&comment=1");
}

#[test]
fn sse_from_nodes_http_module_is_counted_as_node_sent_it() {
    let Some(node) = Server::start("node", "sse_node.js") else {
        return;
    };
    let s = Scenario::new(&format!(
        r#"
name: node-sse
target: http://127.0.0.1:{port}
load: {{ executor: shared-iterations, vus: 3, iterations: 9 }}
flows:
  - name: f
    steps:
      - name: chat
        get: "/v1/chat?tokens=20&first=30&every=5&crlf=1"
        sse: {{ content: "$.choices[0].delta.content", timeout: 30s }}
        expect: {{ body_contains: "t19" }}
"#,
        port = node.port
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sm = s.summary();
    let sent: u64 = node.reports("stream", 9).iter().map(|r| r[0]).sum();
    assert_eq!(sent, 180, "node finished 9 streams of 20 tokens");
    assert_eq!(sm["streams"]["tokens"], sent);
    assert_eq!(sm["streams"]["streams"], 9);
    assert_eq!(sm["metrics"]["http_reqs"]["count"], 9);
    assert_eq!(sm["streams"]["parse_errors"], 0);
    assert_eq!(m(&sm, "stream_inter_token", "count"), 9.0 * 19.0);
}

#[test]
fn sse_from_python_http_server_until_close_with_cr_line_ends() {
    let Some(py) = Server::start("python3", "sse_pyserver.py") else {
        return;
    };
    let s = Scenario::new(&format!(
        r#"
name: py-sse
target: http://127.0.0.1:{port}
load: {{ executor: per-vu-iterations, vus: 2, iterations: 2 }}
flows:
  - name: f
    steps:
      - name: events
        get: "/events?events=15&every=10"
        sse: {{ content: data, done: none }}
        expect: {{ body_contains: "tok14\nline2" }}
"#,
        port = py.port
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sm = s.summary();
    let sent: u64 = py.reports("stream", 4).iter().map(|r| r[0]).sum();
    assert_eq!(sent, 60);
    let st = &sm["streams"];
    assert_eq!(st["events"], sent, "every event, multi-line data joined");
    assert_eq!(st["tokens"], sent);
    assert_eq!(st["tokens_source"], "events");
    assert_eq!(sm["metrics"]["http_reqs"]["count"], 4);
}

#[test]
fn a_stream_that_misses_its_ttft_objective_is_not_goodput() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: slo
target: {url}
load: {{ executor: per-vu-iterations, vus: 2, iterations: 2 }}
flows:
  - name: f
    steps:
      - name: fast
        post: "/v1/chat/completions?first=10&every=5"
        json: {{ stream: true, max_tokens: 5 }}
        sse: true
      - name: slow
        post: "/v1/chat/completions?first=300&every=5"
        json: {{ stream: true, max_tokens: 5 }}
        sse: true
thresholds:
  stream_ttft: ["p(95) < 200ms"]
"#,
        url = t.url
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(99), "{}", text(&out));
    let sm = s.summary();
    let steps = sm["streams"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["step"], "fast");
    assert_eq!(steps[0]["good"], 4);
    assert_eq!(steps[1]["good"], 0, "every slow stream missed TTFT < 200ms");
    assert_eq!(sm["streams"]["goodput"], 0.5);
    assert_eq!(sm["metrics"]["stream_goodput"]["rate"], 0.5);
}

fn ws_counts(sm: &serde_json::Value) -> (u64, u64) {
    let w = &sm["websockets"]["steps"][0];
    (
        w["msgs_sent"].as_u64().unwrap(),
        w["msgs_received"].as_u64().unwrap(),
    )
}

#[test]
fn ws_echo_on_the_built_in_target_counts_what_the_server_counts() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: ws
target: {url}
load: {{ executor: per-vu-iterations, vus: 20, iterations: 2 }}
flows:
  - name: f
    steps:
      - name: echo
        ws: "/ws?delay=5"
        actions:
          - send: "hi {{{{vu}}}}"
          - expect: {{ equals: "hi {{{{vu}}}}" }}
          - send_json: {{ n: 1 }}
          - expect: {{ json: {{ "$.n": 1 }} }}
          - wait: 10ms
          - send: x
          - expect: any
          - close: 1000
thresholds:
  checks: ["rate == 1"]
  ws_msg_rtt: ["p(50) < 2s"]
"#,
        url = t.url
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sm = s.summary();
    assert!(schema_errors(&sm).is_empty(), "{:?}", schema_errors(&sm));
    let served = t.served();
    assert_eq!(ws_counts(&sm), (120, 120));
    assert_eq!(served["ws_in"], 120, "{served}");
    assert_eq!(served["ws_out"], 120);
    assert_eq!(sm["metrics"]["ws_sessions"]["count"], 40);
    assert_eq!(sm["metrics"]["http_reqs"]["count"], 40, "one upgrade each");
    assert_eq!(sm["status_codes"]["101"], 40);
    assert_eq!(m(&sm, "ws_msg_rtt", "count"), 120.0);
    assert!(
        m(&sm, "ws_msg_rtt", "min") >= 5.0,
        "the server holds each reply 5 ms"
    );
    assert_eq!(sm["websockets"]["steps"][0]["close_codes"]["1000"], 40);
}

#[test]
fn ws_against_the_websockets_package_server() {
    let Some(py) = Server::start("python3", "ws_echo.py") else {
        return;
    };
    let s = Scenario::new(&format!(
        r#"
name: pyws
target: http://127.0.0.1:{port}
load: {{ executor: per-vu-iterations, vus: 10, iterations: 1 }}
flows:
  - name: f
    steps:
      - name: echo
        ws: {{ url: "/?delay=3", actions: [ {{ send: a }}, {{ expect: {{ equals: a }} }}, {{ send: b }}, {{ expect: {{ equals: b }} }}, {{ send: c }}, {{ expect: {{ equals: c }} }} ] }}
thresholds:
  checks: ["rate == 1"]
"#,
        port = py.port
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sm = s.summary();
    let sessions = py.reports("session", 10);
    assert_eq!(sessions.len(), 10, "the server saw 10 sessions end");
    let (sin, sout) = sessions
        .iter()
        .fold((0, 0), |(a, b), r| (a + r[0], b + r[1]));
    assert_eq!(
        ws_counts(&sm),
        (sin, sout),
        "stampede's counts are the server's"
    );
    assert_eq!(sin, 30);
    assert!(m(&sm, "ws_msg_rtt", "min") >= 3.0);
}

#[test]
fn ws_an_expectation_that_times_out_fails_its_check() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: ws-timeout
target: {url}
load: {{ executor: per-vu-iterations, vus: 1, iterations: 1 }}
flows:
  - name: f
    steps:
      - name: silent
        ws: /ws
        actions:
          - expect: {{ contains: never, timeout: 200ms }}
thresholds:
  checks: ["rate == 1"]
"#,
        url = t.url
    ));
    let out = run(&s, &[]);
    assert_eq!(out.status.code(), Some(99), "{}", text(&out));
    let sm = s.summary();
    assert_eq!(sm["errors"]["check_failed"], 1);
    assert_eq!(sm["checks"][0]["fails"], 1);
}

#[test]
fn bad_streaming_steps_are_refused_at_their_line() {
    for (yaml, want) in [
        (
            "get: /x\n        sse: { contnet: data }",
            "unknown key `contnet` in `sse` (did you mean `content`?)",
        ),
        ("get: /x\n        sse: { content: \"$[\" }", "bad JSONPath"),
        ("get: /x\n        sse: 3", "`sse` is `true`"),
        ("ws: /ws\n        sse: true", "either a WebSocket session"),
        (
            "ws: /ws\n        actions: [ { sned: x } ]",
            "unknown action `sned`",
        ),
        (
            "ws: /ws\n        actions: [ { close: 1006 } ]",
            "a close code",
        ),
        (
            "get: /x\n        actions: [ { send: x } ]",
            "`actions` belong to a WebSocket step",
        ),
    ] {
        let s = Scenario::new(&format!(
            "name: bad\ntarget: http://127.0.0.1:9\nload: {{ vus: 1, duration: 1s }}\nflows:\n  - name: f\n    steps:\n      - name: s\n        {yaml}\n"
        ));
        let out = stampede(&["validate", &path_str(&s.file)]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{yaml}: {t}");
        assert!(t.contains(want), "{yaml}: {t}");
        assert!(
            t.contains("scenario.yaml:8:") || t.contains("scenario.yaml:9:"),
            "{yaml}: located: {t}"
        );
    }
}
