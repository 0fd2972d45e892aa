//! Conformance: stampede against servers we did not write (nginx, Node.js's `http`, httpbin on
//! gunicorn, Python's `http.server`) and a raw-socket server that misbehaves on purpose
//! (tests/servers/hostile.py). Each case compares stampede's `http_reqs` and per-status counts
//! (summary.json) with the server's own access log (docs/accounting.md).
//!
//! The servers are installed by `.ci/install-conformance.sh`. Under `CI=true` a missing one
//! fails its test; elsewhere the test says it skipped and why.

use crate::common::{self, Scenario, free_port, have_tool, run, text};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/hostile.py");

/// A server process, killed when dropped.
struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    /// Its access log.
    log: PathBuf,
    _dir: tempfile::TempDir,
    /// Kept open so the server never writes into a closed pipe.
    _stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Is `program` installed? Under CI=true it must be (see `common::have_tool`).
fn have(program: &str, probe: &[&str]) -> bool {
    have_tool(program, probe, "bash .ci/install-conformance.sh")
}

/// Wait until something listens on `port`.
fn wait_listening(port: u16, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited before listening: {status}");
        }
        assert!(Instant::now() < until, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `hostile.py MODE`: its port from its first line.
fn hostile(mode: &str, conns: Option<&Path>) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let mut cmd = Command::new("python3");
    cmd.args(["-u", HOSTILE, mode, "--log"]).arg(&log);
    if let Some(c) = conns {
        cmd.arg("--conns").arg(c);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs tests/servers/hostile.py");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("hostile.py banner");
    let port = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Server {
        name: "hostile",
        child,
        port,
        log,
        _dir: dir,
        _stdout: Some(reader),
    }
}

/// The lines of a server's log once it holds at least `want` of them (servers may write their
/// log line just after the response went out), or after a few seconds.
fn log_lines(path: &Path, want: u64) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        if lines.len() as u64 >= want || Instant::now() > until {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `yaml` (with `TARGET` replaced by the server's URL); the summary and the exit code.
fn load(server: &Server, yaml: &str, extra: &[&str]) -> (serde_json::Value, i32) {
    let s = Scenario::new(&yaml.replace("TARGET", &format!("http://127.0.0.1:{}", server.port)));
    let o = run(&s, extra);
    let code = o.status.code().unwrap_or(-1);
    assert!(
        s.out().join("summary.json").exists(),
        "no summary.json (exit {code}):\n{}",
        text(&o)
    );
    (s.summary(), code)
}

/// What a case saw, printed for the record (`--nocapture`).
fn report(case: &str, s: &serde_json::Value, server: u64) {
    eprintln!(
        "conformance {case}: stampede http_reqs {} · server received {server} · status_codes {} · errors {} · protocol_errors {}",
        reqs(s),
        s["status_codes"],
        serde_json::Value::Object(
            s["errors"]
                .as_object()
                .map(|m| m
                    .iter()
                    .filter(|(_, v)| v.as_u64() != Some(0))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect())
                .unwrap_or_default()
        ),
        s["protocol_errors"]
    );
}

fn reqs(s: &serde_json::Value) -> u64 {
    s["metrics"]["http_reqs"]["count"].as_u64().unwrap_or(0)
}

fn errors(s: &serde_json::Value, kind: &str) -> u64 {
    s["errors"][kind].as_u64().unwrap_or(0)
}

fn failed(s: &serde_json::Value) -> u64 {
    s["errors"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum())
}

fn statuses(s: &serde_json::Value) -> BTreeMap<u16, u64> {
    s["status_codes"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Count a server's access log by status: the status is the first 3-digit word after `field`
/// words (0-based) of each line.
fn log_statuses(lines: &[String], field: usize) -> BTreeMap<u16, u64> {
    let mut m = BTreeMap::new();
    for l in lines {
        if let Some(code) = l.split_whitespace().nth(field).and_then(|w| w.parse().ok()) {
            *m.entry(code).or_insert(0) += 1;
        }
    }
    m
}

const GET_1S: &str = "
name: conformance
target: TARGET
load: { vus: 2, duration: 1s }
flows:
  - name: f
    steps:
      - { name: get, get: /x }
";

/// Every request the server read is in `http_reqs`, every one of them failed as `kind`.
fn all_fail_as(mode: &str, kind: &str) -> serde_json::Value {
    let server = hostile(mode, None);
    let (s, _) = load(&server, GET_1S, &[]);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report(mode, &s, received);
    assert!(received > 0, "{mode}: the server received nothing");
    assert_eq!(reqs(&s), received, "{mode}: http_reqs vs the server's log");
    assert_eq!(errors(&s, kind), received, "{mode}: {}", s["errors"]);
    assert_eq!(failed(&s), received, "{mode}: {}", s["errors"]);
    s
}

/// Every request the server read succeeded with 200.
fn all_succeed(mode: &str) {
    let server = hostile(mode, None);
    let (s, code) = load(&server, GET_1S, &[]);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report(mode, &s, received);
    assert!(received > 0, "{mode}: the server received nothing");
    assert_eq!(reqs(&s), received, "{mode}: http_reqs vs the server's log");
    assert_eq!(failed(&s), 0, "{mode}: {}", s["errors"]);
    assert_eq!(statuses(&s), BTreeMap::from([(200, received)]), "{mode}");
    assert_eq!(code, 0);
}

#[test]
fn hostile_drop_after_reading_the_second_request_of_each_connection() {
    if !have("python3", &["--version"]) {
        return;
    }
    for (name, step, extra_http) in [
        ("GET", "get: /x", ""),
        ("POST", "post: /x, body: hello", ""),
        (
            "pooled",
            "get: /x",
            "http: { connections: pooled, max_connections: 1 }",
        ),
    ] {
        let server = hostile("drop-second", None);
        let yaml = format!(
            "name: c\ntarget: TARGET\n{extra_http}\nload: {{ vus: 1, duration: 1s }}\nflows:\n  - name: f\n    steps:\n      - {{ name: s, {step} }}\n"
        );
        let (s, _) = load(&server, &yaml, &[]);
        let received = log_lines(&server.log, reqs(&s)).len() as u64;
        report(&format!("drop-second {name}"), &s, received);
        assert_eq!(
            reqs(&s),
            received,
            "{name}: every request the server read is counted"
        );
        let dropped = errors(&s, "no_response");
        let answered = statuses(&s).get(&200).copied().unwrap_or(0);
        assert_eq!(dropped + answered, received, "{name}: {}", s["errors"]);
        assert!(
            dropped.abs_diff(answered) <= 1,
            "{name}: half dropped: {dropped} vs {answered}"
        );
        assert!(received > 20, "{name}: {received}");
    }
}

#[test]
fn hostile_a_connection_closed_while_idle_is_replaced_before_writing() {
    if !have("python3", &["--version"]) {
        return;
    }
    // The server closes each connection right after its response (without saying so): with a
    // think time, the close has arrived before the next request, and the check before writing
    // sees it. Nothing fails, nothing is sent twice.
    let server = hostile("close-idle", None);
    let yaml = "
name: c
target: TARGET
load: { vus: 2, duration: 1s, think_time: 20ms }
flows:
  - name: f
    steps:
      - { name: get, get: /x }
";
    let (s, code) = load(&server, yaml, &[]);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report("close-idle", &s, received);
    assert!(received >= 10, "{received}");
    assert_eq!(reqs(&s), received);
    assert_eq!(failed(&s), 0, "{}", s["errors"]);
    assert_eq!(code, 0);
}

#[test]
fn hostile_hung_requests_are_interrupted_and_break_the_threshold() {
    if !have("python3", &["--version"]) {
        return;
    }
    let server = hostile("hang-2pct", None);
    let yaml = "
name: c
target: TARGET
load: { vus: 10, duration: 2s, graceful_stop: 1s }
thresholds:
  http_req_failed: [\"rate < 1%\"]
flows:
  - name: f
    steps:
      - { name: get, get: /x }
";
    let (s, code) = load(&server, yaml, &[]);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report(&format!("hang-2pct (exit code {code})"), &s, received);
    let hung = received / 50;
    assert!(hung >= 1, "{received} requests");
    assert_eq!(reqs(&s), received);
    assert_eq!(errors(&s, "interrupted"), hung, "{}", s["errors"]);
    assert_eq!(failed(&s), hung, "{}", s["errors"]);
    assert_eq!(
        s["metrics"]["iterations_interrupted"]["count"].as_u64(),
        Some(hung)
    );
    assert_eq!(code, 99, "threshold breached");
}

#[test]
fn hostile_hung_requests_keep_the_open_model_accounts_exact() {
    if !have("python3", &["--version"]) {
        return;
    }
    let server = hostile("hang-2pct", None);
    let yaml = "
name: c
target: TARGET
load: { executor: constant-arrival-rate, rate: 100, duration: 2s, pre_allocated_vus: 10, max_vus: 10, graceful_stop: 1s }
flows:
  - name: f
    steps:
      - { name: get, get: /x }
";
    let (s, _) = load(&server, yaml, &[]);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report("hang-2pct open model", &s, received);
    assert_eq!(reqs(&s), received);
    let due = s["iterations_due"].as_u64().expect("iterations_due");
    let completed = s["metrics"]["iterations"]["count"].as_u64().unwrap_or(0);
    let dropped = s["metrics"]["dropped_iterations"]["count"]
        .as_u64()
        .unwrap_or(0);
    let interrupted = s["metrics"]["iterations_interrupted"]["count"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(due, 200);
    assert_eq!(due, completed + dropped + interrupted);
    assert_eq!(interrupted, errors(&s, "interrupted"));
    assert!(interrupted >= 1);
}

#[test]
fn hostile_a_thousand_interim_responses_then_200_is_one_success() {
    if have("python3", &["--version"]) {
        all_succeed("interim-1000");
    }
}

#[test]
fn hostile_70_response_headers_succeed() {
    if have("python3", &["--version"]) {
        all_succeed("headers-70");
    }
}

#[test]
fn hostile_300_response_headers_fail_with_their_reason() {
    if !have("python3", &["--version"]) {
        return;
    }
    let s = all_fail_as("headers-300", "protocol");
    let n = reqs(&s);
    assert_eq!(
        s["protocol_errors"]["too many header lines: 300 > 256"].as_u64(),
        Some(n),
        "{}",
        s["protocol_errors"]
    );
}

#[test]
fn hostile_framing_cases() {
    if !have("python3", &["--version"]) {
        return;
    }
    // TE + CL: TE wins (and the connection is closed after); a final coding other than chunked
    // runs until close; a slow head is still a head; Connection: close is obeyed.
    for mode in ["te-cl", "te-gzip", "slow-head", "close-after"] {
        all_succeed(mode);
    }
    let s = all_fail_as("plus-cl", "protocol");
    assert_eq!(
        s["protocol_errors"]["invalid content-length"].as_u64(),
        Some(reqs(&s))
    );
}

#[test]
fn hostile_the_connection_is_closed_after_101() {
    if !have("python3", &["--version"]) {
        return;
    }
    let conns = tempfile::NamedTempFile::new().expect("temp file");
    let server = hostile("switch", Some(conns.path()));
    let (s, code) = load(&server, GET_1S, &[]);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report("switch (101)", &s, received);
    assert_eq!(code, 0);
    assert_eq!(reqs(&s), received);
    assert_eq!(statuses(&s), BTreeMap::from([(101, received)]));
    let opened = std::fs::read_to_string(conns.path())
        .unwrap_or_default()
        .lines()
        .count() as u64;
    // One connection per request, plus the reachability check.
    assert_eq!(opened, received + 1);
}

#[test]
fn hostile_truncated_bodies_keep_their_status() {
    if !have("python3", &["--version"]) {
        return;
    }
    let s = all_fail_as("truncated", "body_truncated");
    assert_eq!(statuses(&s), BTreeMap::from([(200, reqs(&s))]));
}

#[test]
fn hostile_resets_are_counted() {
    if have("python3", &["--version"]) {
        all_fail_as("reset", "reset");
    }
}

#[test]
fn a_pool_never_opens_more_than_max_connections_whatever_the_workers() {
    if !have("python3", &["--version"]) {
        return;
    }
    let conns = tempfile::NamedTempFile::new().expect("temp file");
    let server = hostile("ok", Some(conns.path()));
    let yaml = "
name: c
target: TARGET
http: { connections: pooled, max_connections: 2 }
load: { vus: 16, duration: 1s }
flows:
  - name: f
    steps:
      - { name: get, get: /x }
";
    let (s, code) = load(&server, yaml, &["--workers", "8"]);
    assert_eq!(code, 0);
    let received = log_lines(&server.log, reqs(&s)).len() as u64;
    report("ok, pooled, max_connections 2, --workers 8", &s, received);
    assert_eq!(reqs(&s), received);
    let opened = std::fs::read_to_string(conns.path())
        .unwrap_or_default()
        .lines()
        .count();
    eprintln!("conformance pool: {opened} connections accepted (one is the reachability check)");
    // One more for the reachability check before the run.
    assert!((1..=3).contains(&opened), "{opened} connections opened");
}

#[test]
fn nginx_counts_match_its_access_log() {
    if !have("nginx", &["-v"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let log = dir.path().join("access.log");
    let conf = dir.path().join("nginx.conf");
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).expect("www");
    std::fs::write(root.join("file.txt"), "x".repeat(5000)).expect("file");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 256; }}\nhttp {{\n  \
             log_format l '$request_method $uri $status';\n  access_log {log} l;\n  \
             client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;\n  \
             uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n  \
             server {{ listen 127.0.0.1:{port}; root {root}; keepalive_requests 50; }}\n}}\n",
            d = dir.path().display(),
            log = log.display(),
            root = root.display(),
        ),
    )
    .expect("nginx.conf");
    let mut child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    wait_listening(port, &mut child);
    let server = Server {
        name: "nginx",
        child,
        port,
        log,
        _dir: dir,
        _stdout: None,
    };
    // keepalive_requests 50: nginx closes each connection after 50 requests; none is lost.
    compare_statuses(&server, "/file.txt", "/nope", 2);
}

#[test]
fn node_http_counts_match_its_log() {
    if !have("node", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let script = r#"
const http = require('http'); const fs = require('fs');
const log = process.argv[1];
let n = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    n++;
    const status = req.url.startsWith('/missing') ? 404 : 200;
    fs.appendFileSync(log, `${req.method} ${req.url} ${status}\n`);
    if (req.url.startsWith('/chunked')) {
      res.writeHead(status); res.write('part one, '); res.end('part two');
    } else if (n % 7 === 0) {
      res.writeHead(status, {'Connection': 'close'}); res.end('bye');
    } else {
      res.writeHead(status, {'Content-Type': 'text/plain'}); res.end('ok');
    }
  });
});
server.keepAliveTimeout = 200;
server.listen(0, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
"#;
    let mut child = Command::new("node")
        .args(["-e", script])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("node banner");
    let port = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let server = Server {
        name: "node http",
        child,
        port,
        log,
        _dir: dir,
        _stdout: Some(reader),
    };
    compare_statuses(&server, "/chunked", "/missing", 2);
}

/// Steps that get a 200 (`ok`) and a 404 (`missing`) from a server: stampede's `http_reqs`
/// and counts by status must equal the server's log (the status is word `field` of a line).
fn compare_statuses(server: &Server, ok: &str, missing: &str, field: usize) {
    let yaml = format!(
        "
name: c
target: TARGET
load: {{ vus: 3, duration: 1s }}
flows:
  - name: f
    steps:
      - {{ name: ok, get: \"{ok}\" }}
      - {{ name: missing, get: \"{missing}\", expect: {{ status: 404 }} }}
"
    );
    let (s, code) = load(server, &yaml, &[]);
    assert_eq!(code, 0, "{}", s["errors"]);
    // Request lines only (Python's http.server also logs a line for each error it sends).
    let lines: Vec<String> = log_lines(&server.log, reqs(&s))
        .into_iter()
        .filter(|l| l.contains("GET "))
        .collect();
    report(
        &format!("{} {ok} {missing}", server.name),
        &s,
        lines.len() as u64,
    );
    assert_eq!(
        reqs(&s),
        lines.len() as u64,
        "http_reqs vs the server's log"
    );
    let by_status = log_statuses(&lines, field);
    assert_eq!(
        statuses(&s),
        by_status,
        "per status: stampede vs the server's log"
    );
    assert_eq!(failed(&s), 0, "{}", s["errors"]);
    assert!(by_status.get(&200).copied().unwrap_or(0) > 0);
    assert!(by_status.get(&404).copied().unwrap_or(0) > 0);
}

#[test]
fn python_http_server_counts_match_its_log() {
    if !have("python3", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("file.txt"), "hello").expect("file");
    let port = free_port();
    let log = dir.path().join("access.log");
    let mut child = Command::new("python3")
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start python3 -m http.server");
    wait_listening(port, &mut child);
    let server = Server {
        name: "python http.server",
        child,
        port,
        log,
        _dir: dir,
        _stdout: None,
    };
    // `127.0.0.1 - - [date time] "GET /file.txt HTTP/1.0" 200 -`: the status is word 8.
    compare_statuses(&server, "/file.txt", "/missing.txt", 8);
}

#[test]
fn httpbin_on_gunicorn_counts_match_its_access_log() {
    if !have("python3", &["-c", "import httpbin, gunicorn"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let log = dir.path().join("access.log");
    let mut child = Command::new("python3")
        .args(["-m", "gunicorn", "--workers", "2", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--access-logformat",
            "%(m)s %(U)s %(s)s",
            "--access-logfile",
        ])
        .arg(&log)
        .arg("httpbin:app")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gunicorn");
    wait_listening(port, &mut child);
    let server = Server {
        name: "httpbin on gunicorn",
        child,
        port,
        log,
        _dir: dir,
        _stdout: None,
    };
    // 70 response headers (as curl reads them), and a 404.
    let query: Vec<String> = (0..70).map(|i| format!("x-h{i}={i}")).collect();
    let ok = format!("/response-headers?{}", query.join("&"));
    compare_statuses(&server, &ok, "/status/404", 2);
}

#[test]
fn hostile_a_second_ctrl_c_records_hung_requests_as_interrupted() {
    if !have("python3", &["--version"]) {
        return;
    }
    let server = hostile("hang-2pct", None);
    let s = Scenario::new(&format!(
        "
name: c
target: http://127.0.0.1:{}
load: {{ vus: 4, duration: 60s, graceful_stop: 60s }}
flows:
  - name: f
    steps:
      - {{ name: get, get: /x }}
",
        server.port
    ));
    let child = Command::new(common::BIN)
        .arg("run")
        .arg(&s.file)
        .arg("--out")
        .arg(s.out())
        .arg("--quiet")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stampede");
    // Wait until at least one request hangs (every 50th), then Ctrl-C twice.
    let until = Instant::now() + Duration::from_secs(20);
    while log_lines(&server.log, 0).len() < 60 {
        assert!(Instant::now() < until, "the server received too little");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().expect("stampede ends");
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let sum = s.summary();
    let received = log_lines(&server.log, reqs(&sum)).len() as u64;
    report("hang-2pct, Ctrl-C twice", &sum, received);
    assert_eq!(reqs(&sum), received);
    assert_eq!(
        errors(&sum, "interrupted"),
        received / 50,
        "{}",
        sum["errors"]
    );
    assert_eq!(failed(&sum), received / 50, "{}", sum["errors"]);
}
