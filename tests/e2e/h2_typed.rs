//! Requests made per request, over HTTP/2 (issue 17: built from their typed parts, never read
//! back from an HTTP/1.1 encoding): templated paths and headers, the VU's cookies on static and
//! templated steps, and redirect hops (303 switching a POST to GET without its body, 307
//! keeping it). nginx (a server we did not write) logs what it received per request; every line
//! is checked against what the scenario should have sent, and the count against the summary.
//!
//! Needs nginx (`.ci/install-conformance.sh`); without it the test fails under CI=true and is
//! skipped (with a note) otherwise.

use crate::common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// nginx speaking h2c (prior knowledge), logging per request
/// `protocol|method|request-uri|cookie|x-id|content-length|content-type`.
struct Nginx {
    port: u16,
    log: PathBuf,
    _server: Spawned,
}

impl Nginx {
    fn start() -> Option<Nginx> {
        if !have_tool("nginx", &["-v"], "bash .ci/install-conformance.sh") {
            return None;
        }
        let port = free_port();
        let (server, log) = nginx(
            "$server_protocol|$request_method|$request_uri|$http_cookie|$http_x_id|$http_content_length|$http_content_type",
            64,
            &[port],
            |_| {
                format!(
                    "absolute_redirect off;\n  \
                     server {{\n    listen 127.0.0.1:{port} http2;\n    \
                     location = /login {{ add_header Set-Cookie \"sid=s1; Path=/\" always; return 200 \"in\"; }}\n    \
                     location /users/ {{ return 200 \"user\"; }}\n    \
                     location /old/ {{ return 303 /new; }}\n    \
                     location = /new {{ return 200 \"new\"; }}\n    \
                     location = /keep {{ return 307 /kept; }}\n    \
                     location = /kept {{ return 201 \"kept\"; }}\n    \
                     location / {{ return 404; }}\n  }}"
                )
            },
        );
        Some(Nginx {
            port,
            log,
            _server: server,
        })
    }
}

/// One access-log line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    protocol: String,
    method: String,
    uri: String,
    cookie: String,
    x_id: String,
    content_length: String,
    content_type: String,
}

/// The log's lines once it holds `expected` (nginx writes a line just after its response).
fn lines(log: &Path, expected: usize) -> Vec<Line> {
    let mut text = String::new();
    wait_for("nginx's access log", Duration::from_secs(10), || {
        text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines().count() >= expected
    });
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 7, "{l}");
            Line {
                protocol: f[0].into(),
                method: f[1].into(),
                uri: f[2].into(),
                cookie: f[3].into(),
                x_id: f[4].into(),
                content_length: f[5].into(),
                content_type: f[6].into(),
            }
        })
        .collect()
}

const VUS: u64 = 2;
const ITERATIONS: u64 = 3;

#[test]
fn templated_cookie_and_redirected_requests_over_http2_reach_the_server_as_meant() {
    let Some(n) = Nginx::start() else { return };
    let yaml = format!(
        "name: h2-typed\ntarget: http://127.0.0.1:{port}\n\
         http: {{ version: \"2\", h2c: true }}\n\
         load: {{ executor: per-vu-iterations, vus: {VUS}, iterations: {ITERATIONS}, max_duration: 1m }}\n\
         flows:\n  - steps:\n\
         \x20     - {{ name: login, get: /login }}\n\
         \x20     - {{ name: user, get: \"/users/{{{{vu}}}}-{{{{iteration}}}}?q=a\", headers: {{ x-id: \"{{{{vu}}}}\" }} }}\n\
         \x20     - {{ name: see-other, post: \"/old/{{{{vu}}}}\", body: hello, headers: {{ content-type: text/plain }} }}\n\
         \x20     - {{ name: keep, post: /keep, body: hello, headers: {{ content-type: text/plain }}, expect: {{ status: 201 }} }}\n",
        port = n.port
    );
    let s = Scenario::new(&yaml);
    let o = run(&s, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let summary = s.summary();
    let reqs = summary["metrics"]["http_reqs"]["count"]
        .as_u64()
        .expect("http_reqs");
    // Per iteration: login, user, /old/V and its 303 hop, /keep and its 307 hop.
    let iterations = (VUS * ITERATIONS) as usize;
    assert_eq!(reqs, 6 * iterations as u64, "{out}");
    let log = lines(&n.log, reqs as usize);
    assert_eq!(log.len() as u64, reqs, "http_reqs vs nginx's log: {log:#?}");
    assert_eq!(
        summary["metrics"]["http_req_failed"]["passes"].as_u64(),
        Some(0),
        "{out}"
    );
    let with = |uri: &str| -> Vec<&Line> { log.iter().filter(|l| l.uri == uri).collect() };
    for l in &log {
        assert_eq!(l.protocol, "HTTP/2.0", "{l:?}");
    }

    // Static step: the first login of each VU has no cookie, every later one carries the jar's.
    let logins = with("/login");
    assert_eq!(logins.len(), iterations);
    assert_eq!(
        logins.iter().filter(|l| l.cookie == "-").count(),
        VUS as usize
    );
    assert!(
        logins
            .iter()
            .all(|l| l.cookie == "-" || l.cookie == "sid=s1"),
        "{logins:#?}"
    );

    // Templated path and header, rendered per VU and iteration, with the cookie.
    let users: Vec<&Line> = log
        .iter()
        .filter(|l| l.uri.starts_with("/users/"))
        .collect();
    let seen: BTreeSet<String> = users.iter().map(|l| l.uri.clone()).collect();
    let expected: BTreeSet<String> = (1..=VUS)
        .flat_map(|v| (0..ITERATIONS).map(move |i| format!("/users/{v}-{i}?q=a")))
        .collect();
    assert_eq!(seen, expected, "{users:#?}");
    for l in &users {
        let vu = l.uri["/users/".len()..].split('-').next().unwrap_or("");
        assert_eq!(l.x_id, vu, "the templated header names the same VU: {l:?}");
        assert_eq!(
            (
                l.method.as_str(),
                l.cookie.as_str(),
                l.content_length.as_str()
            ),
            ("GET", "sid=s1", "-"),
            "{l:?}"
        );
    }

    // A templated POST redirected by 303: the hop is a GET without the body or its headers.
    let old: Vec<&Line> = log.iter().filter(|l| l.uri.starts_with("/old/")).collect();
    assert_eq!(old.len(), iterations);
    for l in &old {
        assert_eq!(
            (
                l.method.as_str(),
                l.cookie.as_str(),
                l.content_length.as_str(),
                l.content_type.as_str()
            ),
            ("POST", "sid=s1", "5", "text/plain"),
            "{l:?}"
        );
    }
    let new = with("/new");
    assert_eq!(new.len(), iterations);
    for l in &new {
        assert_eq!(
            (
                l.method.as_str(),
                l.cookie.as_str(),
                l.content_length.as_str(),
                l.content_type.as_str()
            ),
            ("GET", "sid=s1", "-", "-"),
            "{l:?}"
        );
    }

    // A static POST redirected by 307: the hop keeps the method, the body and its headers.
    for uri in ["/keep", "/kept"] {
        let ls = with(uri);
        assert_eq!(ls.len(), iterations, "{uri}");
        for l in &ls {
            assert_eq!(
                (
                    l.method.as_str(),
                    l.cookie.as_str(),
                    l.content_length.as_str(),
                    l.content_type.as_str()
                ),
                ("POST", "sid=s1", "5", "text/plain"),
                "{l:?}"
            );
        }
    }
    // Each step's count (its hops included) is what nginx saw.
    for (step, n) in [("login", 1), ("user", 1), ("see-other", 2), ("keep", 2)] {
        assert_eq!(
            summary["metrics"][format!("http_reqs{{step:{step}}}")]["count"].as_u64(),
            Some(n * iterations as u64),
            "{step}: {out}"
        );
    }
}

/// A `host` header of the scenario is the Host (HTTP/1.1) and the `:authority` (HTTP/2, own
/// and pooled connections) nginx routes by: its `server_name api.test` answers 200, the default
/// server 404. Before, the header was dropped and every request went to the default server.
#[test]
fn a_host_header_reaches_the_virtual_host_over_http1_and_http2() {
    if !have_tool("nginx", &["-v"], "bash .ci/install-conformance.sh") {
        return;
    }
    let (h2c, h1) = (free_port(), free_port());
    let (_nginx, log) = nginx("$server_protocol $host $status", 64, &[h2c, h1], |_| {
        format!(
            "server {{ listen 127.0.0.1:{h2c} http2 default_server; listen 127.0.0.1:{h1} default_server; return 404; }}\n  \
             server {{ listen 127.0.0.1:{h2c} http2; listen 127.0.0.1:{h1}; server_name api.test; return 200 \"vhost\"; }}"
        )
    });
    for (port, http, protocol) in [
        (h1, "{}", "HTTP/1.1"),
        (h2c, r#"{ version: "2", h2c: true }"#, "HTTP/2.0"),
        (
            h2c,
            r#"{ version: "2", h2c: true, connections: pooled, max_connections: 1 }"#,
            "HTTP/2.0",
        ),
    ] {
        std::fs::write(&log, "").expect("empty the log");
        let s = Scenario::new(&format!(
            "name: vhost\ntarget: http://127.0.0.1:{port}\nhttp: {http}\n\
             load: {{ executor: shared-iterations, vus: 2, iterations: 10 }}\n\
             flows:\n  - steps: [ {{ get: /, headers: {{ host: api.test }} }} ]\n"
        ));
        let out = run(&s, &[]);
        assert_eq!(out.status.code(), Some(0), "{http}: {}", text(&out));
        assert_eq!(s.summary()["status_codes"]["200"], 10, "{http}");
        let mut text = String::new();
        wait_for("nginx's access log", Duration::from_secs(10), || {
            text = std::fs::read_to_string(&log).unwrap_or_default();
            text.lines().count() >= 10
        });
        let want = format!("{protocol} api.test 200");
        assert!(text.lines().all(|l| l == want), "{http}: {text}");
        assert_eq!(text.lines().count(), 10, "{http}: {text}");
    }
}
