//! HTTP/2 and TLS churn end to end against nginx (a server we did not write): h2c with prior
//! knowledge, HTTP/2 over TLS by ALPN, pooled connections carrying many concurrent streams, and
//! a new TLS connection per request. Every run's counts are checked against nginx's own access
//! log (protocol, status, connection serial number and Content-Length per request).
//!
//! Needs nginx and openssl (`.ci/install-conformance.sh`, `.ci/install-15b.sh`); without them
//! the tests fail under CI=true and are skipped (with a note) otherwise.

use crate::common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn have(program: &str, probe: &[&str]) -> bool {
    have_tool(
        program,
        probe,
        "bash .ci/install-conformance.sh and .ci/install-15b.sh",
    )
}

/// nginx with an h2c listener, a TLS listener speaking HTTP/2 by ALPN and a TLS listener speaking
/// HTTP/1.1, logging `protocol status connection content-length uri` per request. Every
/// connection ends after 300 requests (an HTTP/2 GOAWAY), so each run also goes through
/// connections closing under load, and none of their requests may be lost or counted twice.
struct Nginx {
    h2c: u16,
    h2_tls: u16,
    h1_tls: u16,
    log: PathBuf,
    _server: Spawned,
}

impl Nginx {
    fn start() -> Option<Nginx> {
        if !have("nginx", &["-v"]) || !have("openssl", &["version"]) {
            return None;
        }
        let (h2c, h2_tls, h1_tls) = (free_port(), free_port(), free_port());
        let (server, log) = nginx(
            "$server_protocol $status $connection $http_content_length $uri",
            512,
            &[h2c, h2_tls, h1_tls],
            |d| {
                self_signed(d);
                format!(
                    "keepalive_requests 300;\n  \
                     ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n  \
                     ssl_protocols TLSv1.2 TLSv1.3;\n  \
                     server {{\n    listen 127.0.0.1:{h2c} http2;\n    \
                     listen 127.0.0.1:{h2_tls} ssl http2;\n    listen 127.0.0.1:{h1_tls} ssl;\n    \
                     location = /ok {{ return 200 \"ok\"; }}\n    \
                     location = /post {{ return 201 \"made\"; }}\n    \
                     location / {{ return 404; }}\n  }}",
                    d = d.display(),
                )
            },
        );
        Some(Nginx {
            h2c,
            h2_tls,
            h1_tls,
            log,
            _server: server,
        })
    }
}

/// One access-log line.
#[derive(Debug)]
struct Line {
    protocol: String,
    status: u16,
    connection: u64,
    content_length: String,
    uri: String,
}

/// The log's lines, once it holds at least `expected` (nginx writes a line just after the
/// response, so the last ones may trail the run by a moment), or whatever it holds after 10 s.
fn lines(log: &Path, expected: u64) -> Vec<Line> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let n = text.lines().count() as u64;
        if n >= expected || Instant::now() > until {
            return text
                .lines()
                .map(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    assert_eq!(f.len(), 5, "log line {l:?}");
                    Line {
                        protocol: f[0].to_string(),
                        status: f[1].parse().expect("status"),
                        connection: f[2].parse().expect("connection"),
                        content_length: f[3].to_string(),
                        uri: f[4].to_string(),
                    }
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn requests(s: &Value) -> u64 {
    count(&s["metrics"]["http_reqs"]["count"])
}

fn by_status(s: &Value) -> BTreeMap<u16, u64> {
    s["status_codes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.parse().expect("status key"), count(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// Run `yaml` (with `TARGET` replaced) and return its summary, after checking it passed.
fn run_ok(yaml: &str, target: &str) -> (Value, String) {
    let s = Scenario::new(&yaml.replace("TARGET", target));
    let o = run(&s, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    (s.summary(), out)
}

/// stampede's counts equal nginx's: requests, statuses, every request HTTP/2.
fn same_counts(s: &Value, log: &[Line], protocol: &str, out: &str) {
    let reqs = requests(s);
    assert!(reqs > 0, "{out}");
    assert_eq!(
        reqs,
        log.len() as u64,
        "http_reqs vs nginx's access log: {out}"
    );
    let mut logged = BTreeMap::new();
    for l in log {
        assert_eq!(l.protocol, protocol, "{l:?}");
        *logged.entry(l.status).or_insert(0u64) += 1;
    }
    assert_eq!(by_status(s), logged, "statuses: stampede vs nginx: {out}");
    assert_eq!(
        count(&s["metrics"]["http_req_failed"]["passes"]),
        0,
        "{out}"
    );
}

const STEPS: &str = "
flows:
  - steps:
      - { name: ok, get: /ok }
      - { name: missing, get: /missing, expect: { status: 404 } }
      - { name: post, post: /post, body: 'hello', headers: { content-type: text/plain }, expect: { status: 201 } }
";

#[test]
fn h2c_per_vu_counts_match_nginx() {
    let Some(n) = Nginx::start() else { return };
    let yaml = format!(
        "name: h2c\ntarget: TARGET\nhttp: {{ version: \"2\", h2c: true }}\n\
         load: {{ vus: 4, duration: 1s }}\n{STEPS}"
    );
    let (s, out) = run_ok(&yaml, &format!("http://127.0.0.1:{}", n.h2c));
    let log = lines(&n.log, requests(&s));
    same_counts(&s, &log, "HTTP/2.0", &out);
    // One connection per VU at a time, each carrying requests until nginx's
    // keepalive_requests (300) ends it.
    per_vu_connections(&log, 4);
    // Each POST said its body's length (5 bytes), and only POSTs had one.
    let posts: Vec<&Line> = log.iter().filter(|l| l.uri == "/post").collect();
    assert!(!posts.is_empty());
    for l in &log {
        let expected = if l.uri == "/post" { "5" } else { "-" };
        assert_eq!(l.content_length, expected, "{l:?}");
    }
    assert_eq!(
        posts.len() as u64,
        count(&s["metrics"]["http_reqs{step:post}"]["count"]),
        "{out}"
    );
}

#[test]
fn h2_over_tls_counts_match_nginx() {
    let Some(n) = Nginx::start() else { return };
    let yaml = format!(
        "name: h2tls\ntarget: TARGET\nhttp: {{ version: \"2\", tls: {{ insecure: true }} }}\n\
         load: {{ vus: 3, duration: 1s }}\n{STEPS}"
    );
    let (s, out) = run_ok(&yaml, &format!("https://127.0.0.1:{}", n.h2_tls));
    let log = lines(&n.log, requests(&s));
    same_counts(&s, &log, "HTTP/2.0", &out);
    per_vu_connections(&log, 3);
}

/// Each VU keeps one connection until nginx ends it after `keepalive_requests` (300) streams:
/// at most one connection per VU plus one per 300 requests, and none carries more than 300.
fn per_vu_connections(log: &[Line], vus: usize) {
    let mut per: BTreeMap<u64, usize> = BTreeMap::new();
    for l in log {
        *per.entry(l.connection).or_default() += 1;
    }
    let allowed = vus + log.len() / 300;
    assert!(
        per.len() <= allowed,
        "{} connections for {} requests of {vus} VUs (at most {allowed})",
        per.len(),
        log.len()
    );
    assert!(per.values().all(|&n| n <= 300), "{per:?}");
}

#[test]
fn pooled_h2_multiplexes_streams_on_few_connections() {
    let Some(n) = Nginx::start() else { return };
    // 40 VUs on at most 2 connections: the requests can only have been streams at once.
    let yaml = "name: mux\ntarget: TARGET\n\
                http: { version: \"2\", h2c: true, connections: pooled, max_connections: 2 }\n\
                load: { vus: 40, duration: 1s }\n\
                flows:\n  - steps:\n      - { name: ok, get: /ok }\n";
    let (s, out) = run_ok(yaml, &format!("http://127.0.0.1:{}", n.h2c));
    let log = lines(&n.log, requests(&s));
    same_counts(&s, &log, "HTTP/2.0", &out);
    // nginx ends each connection after 300 requests (keepalive_requests, a GOAWAY): the pool
    // replaces it within its limit and re-sends the streams nginx refused unprocessed (counted
    // once, above). Within the limit, connections serve close to 300 requests each; a pool that
    // opened connections of its own past the limit would show far fewer per connection.
    let conns: BTreeSet<u64> = log.iter().map(|l| l.connection).collect();
    let per_conn = log.len() / conns.len().max(1);
    assert!(
        per_conn >= 150,
        "{} connections for {} requests ({per_conn} each) with max_connections 2: {out}",
        conns.len(),
        log.len()
    );
    // With 40 VUs and no think time, requests waited for a free stream, not for a connection.
    let blocked_p50 = s["metrics"]["http_req_blocked"]["p(50)"]
        .as_f64()
        .unwrap_or(f64::MAX);
    assert!(blocked_p50 < 1.0, "p50 blocked {blocked_p50} ms: {out}");
}

#[test]
fn a_new_tls_connection_per_request_is_counted_as_handshakes() {
    let Some(n) = Nginx::start() else { return };
    // `connection: close`: nginx closes after each response, so each request is a handshake
    // (resumed from the second on, by default).
    for resumption in [true, false] {
        let before = lines(&n.log, 0).len();
        let yaml = format!(
            "name: churn\ntarget: TARGET\n\
             http: {{ tls: {{ insecure: true, resumption: {resumption} }}, headers: {{ connection: close }} }}\n\
             load: {{ vus: 2, duration: 1s }}\n\
             flows:\n  - steps:\n      - {{ name: ok, get: /ok }}\n"
        );
        let (s, out) = run_ok(&yaml, &format!("https://127.0.0.1:{}", n.h1_tls));
        let all = lines(&n.log, before as u64 + requests(&s));
        let log = &all[before..];
        same_counts(&s, log, "HTTP/1.1", &out);
        let conns: BTreeSet<u64> = log.iter().map(|l| l.connection).collect();
        assert_eq!(conns.len(), log.len(), "one connection per request: {out}");
        let reqs = requests(&s);
        let shown = format!("tls_handshaking ... {} handshakes for", thousands(reqs));
        assert!(out.contains(&shown), "expected {shown:?} in {out}");
        assert!(out.contains("handshakes/s)"), "{out}");
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
