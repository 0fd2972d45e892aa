//! HTTP/2 against a hostile raw server (tests/servers/h2_hostile.py: frames written by hand, HPACK
//! by the `hpack` PyPI package), on a VU's own connection (our framing): every misbehaviour must
//! end each request exactly as docs/accounting.md says, and stampede's count must equal what the
//! server logged. Cases found by a hostile review of the own HTTP/2 path (issue 22).

use crate::common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

struct Hostile {
    port: u16,
    log: std::path::PathBuf,
    /// Over TLS (ALPN h2), trusting this certificate; else h2c.
    ca: Option<std::path::PathBuf>,
    _server: Spawned,
}

impl Hostile {
    fn start() -> Option<Hostile> {
        Hostile::start_with("plain", false)
    }

    /// The server in connection mode `conn` (`plain`, `bigwin`, `mcs0`), over TLS if `tls`.
    fn start_with(conn: &str, tls: bool) -> Option<Hostile> {
        let ok = Command::new("python3")
            .args(["-c", "import hpack"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").is_err(),
                "python3 with the hpack package (CI installs it: .ci/install-streaming.sh)"
            );
            eprintln!("skipped: python3 -c 'import hpack' failed");
            return None;
        }
        if tls && !have_tool("openssl", &["version"], "apt-get install openssl") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let port = free_port();
        let script = format!("{}/tests/servers/h2_hostile.py", env!("CARGO_MANIFEST_DIR"));
        let mut cmd = Command::new("python3");
        cmd.args([
            script.as_str(),
            &port.to_string(),
            log.to_str().unwrap(),
            conn,
        ]);
        let ca = tls.then(|| {
            let (cert, key) = self_signed(dir.path());
            cmd.arg(&cert).arg(key);
            cert
        });
        Some(Hostile {
            port,
            log,
            ca,
            _server: Spawned::listening(cmd, dir, &[port], "server.log"),
        })
    }

    /// Run 2 VUs for 1 s on `path` (`post` with a body of `body` bytes), each on its own
    /// connection; the summary and what the server logged for the run, counted by line kind
    /// (`got`, `out answered`, ...).
    fn run(
        &self,
        method: &str,
        path: &str,
        body: usize,
    ) -> (serde_json::Value, BTreeMap<String, u64>) {
        self.run_in("", "1s", method, path, body)
    }

    /// `run` with more `http` settings (`extra`, e.g. `connections: pooled, `), for `duration`.
    fn run_in(
        &self,
        extra: &str,
        duration: &str,
        method: &str,
        path: &str,
        body: usize,
    ) -> (serde_json::Value, BTreeMap<String, u64>) {
        std::fs::write(&self.log, "").unwrap();
        let body = if body > 0 {
            format!(", body: \"{}\"", "x".repeat(body))
        } else {
            String::new()
        };
        let s = Scenario::new(&format!(
            r#"
name: hostile-h2
target: {scheme}://127.0.0.1:{port}
http: {{ version: "2", {extra}{how}, timeout: 5s }}
load: {{ executor: constant-vus, vus: 2, duration: {duration}, graceful_stop: 3s }}
flows:
  - steps:
      - {{ name: s, {method}: "{path}"{body} }}
"#,
            port = self.port,
            scheme = if self.ca.is_some() { "https" } else { "http" },
            how = match &self.ca {
                Some(ca) => format!("tls: {{ ca_file: \"{}\" }}", ca.display()),
                None => "h2c: true".into(),
            }
        ));
        let out = run(&s, &["--no-thresholds"]);
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 99),
            "{}",
            text(&out)
        );
        // The server logs as it goes; what it logged for the last request may trail the run.
        std::thread::sleep(Duration::from_millis(300));
        let mut seen = BTreeMap::new();
        for line in std::fs::read_to_string(&self.log).unwrap().lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let key = match w.as_slice() {
                ["out", kind, ..] => format!("out {kind}"),
                [first, ..] => first.to_string(),
                [] => continue,
            };
            *seen.entry(key).or_default() += 1;
        }
        (s.summary(), seen)
    }
}

fn reqs(s: &serde_json::Value) -> u64 {
    s["metrics"]["http_reqs"]["count"].as_u64().unwrap_or(0)
}

fn errors(s: &serde_json::Value) -> BTreeMap<String, u64> {
    s["errors"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .filter(|(_, v)| *v > 0)
                .collect()
        })
        .unwrap_or_default()
}

fn n(seen: &BTreeMap<String, u64>, key: &str) -> u64 {
    seen.get(key).copied().unwrap_or(0)
}

#[test]
fn every_hostile_http2_ending_is_counted_as_the_server_saw_it() {
    let Some(h) = Hostile::start() else {
        return;
    };
    let only = |kind: &str, count: u64| BTreeMap::from([(kind.to_string(), count)]);
    // Well-formed oddities: interim responses, trailers, padding, CONTINUATION, a dynamic table
    // that evicts, a table size update, a PING flood: all answered, all counted, none failed.
    for mode in [
        "c100",
        "trailers",
        "padded",
        "cont",
        "evict",
        "tsu",
        "pingflood?pings=200&",
    ] {
        let path = format!(
            "/{mode}{}size=1000",
            if mode.contains('?') { "" } else { "?" }
        );
        let (s, seen) = h.run("get", &path, 0);
        let answered = n(&seen, "out answered");
        assert!(answered > 10, "{mode}: {seen:?}");
        assert_eq!(reqs(&s), answered, "{mode}: {seen:?} {}", s["errors"]);
        assert!(errors(&s).is_empty(), "{mode}: {:?}", errors(&s));
    }
    // Head and half the body, then a GOAWAY naming no stream: the head proves the request was
    // processed, so it is never re-sent; the body was cut.
    let (s, seen) = h.run("post", "/goawaylie?size=5000", 100);
    assert_eq!(n(&seen, "got"), reqs(&s), "no request re-sent: {seen:?}");
    assert_eq!(errors(&s), only("body_truncated", reqs(&s)));
    // content-length 5000, 2500 bytes of DATA, then trailers ending the stream: cut short.
    let (s, seen) = h.run("get", "/trailshort?size=5000", 0);
    assert_eq!(n(&seen, "got"), reqs(&s), "{seen:?}");
    assert_eq!(errors(&s), only("body_truncated", reqs(&s)));
    // Every other POST refused by a GOAWAY on its HEADERS, the connection closed (reset) while
    // its body still flows: not processed, so sent again on a new connection and not counted.
    let (s, seen) = h.run("post", "/goaway_hdr?size=100", 30_000);
    assert!(n(&seen, "out refused_goaway_hdr") > 10, "{seen:?}");
    assert_eq!(
        reqs(&s),
        n(&seen, "out answered"),
        "{seen:?} {:?}",
        errors(&s)
    );
    assert!(errors(&s).is_empty(), "{:?}", errors(&s));
    // RST_STREAM INTERNAL_ERROR on every third: `reset`; the others answered.
    let (s, seen) = h.run("get", "/rstint?size=100", 0);
    assert_eq!(reqs(&s), n(&seen, "got"), "{seen:?}");
    assert_eq!(errors(&s), only("reset", n(&seen, "out rst_internal")));
    // The connection closed in the middle of the body: `body_truncated`, status counted.
    let (s, seen) = h.run("get", "/closemid?size=4000", 0);
    assert_eq!(reqs(&s), n(&seen, "got"), "{seen:?}");
    assert_eq!(errors(&s), only("body_truncated", reqs(&s)));
    // Malformed heads (RFC 9113 §8.2.1, §8.3): `protocol`, with the reason.
    for (mode, reason) in [
        ("uppercase", "HTTP/2: uppercase header field name"),
        (
            "pseudoafter",
            "HTTP/2: pseudo-header after a regular field or in trailers",
        ),
        ("cllong", "HTTP/2: more DATA than content-length"),
    ] {
        let (s, seen) = h.run("get", &format!("/{mode}"), 0);
        assert_eq!(reqs(&s), n(&seen, "got"), "{mode}: {seen:?}");
        assert_eq!(errors(&s), only("protocol", reqs(&s)), "{mode}");
        assert_eq!(
            s["protocol_errors"][reason],
            reqs(&s),
            "{mode}: {}",
            s["protocol_errors"]
        );
    }
}

/// A server whose windows let a 1 MB request body flow at once refuses every second POST by a
/// GOAWAY on its HEADERS and closes while the body still flows, so stampede's write fails: what
/// arrived before (the GOAWAY) still says the request was not processed, over h2c and over TLS
/// (where the records are read from the socket straight into the TLS session). Before that
/// read, over TLS 1 to 7 of ~170 such POSTs a run were counted `reset` (sent, never processed);
/// this test failed 1 run in 2 on that code.
#[test]
fn a_goaway_read_after_a_failed_write_refuses_the_request_over_h2c_and_tls() {
    for tls in [false, true] {
        let Some(h) = Hostile::start_with("bigwin", tls) else {
            return;
        };
        for _ in 0..3 {
            let (s, seen) = h.run("post", "/goaway_hdr?size=100", 1_000_000);
            let refused = n(&seen, "out refused_goaway_hdr");
            assert!(refused > 10, "tls {tls}: {seen:?}");
            assert_eq!(
                reqs(&s),
                n(&seen, "out answered"),
                "tls {tls}: {seen:?} {:?}",
                errors(&s)
            );
            assert!(errors(&s).is_empty(), "tls {tls}: {:?}", errors(&s));
        }
    }
}

/// Pooled connections (the `h2` crate, many VUs' streams on each): the same endings counted as
/// on a VU's own connection, and as the server saw them. Before: a malformed head was `reset`;
/// a body cut after the head lost its status; a connection the server closed before any head
/// was `reset`, not `no_response`; and after 1,024 streams the library reset for the server's
/// errors (DATA after the end of a stream) it closed the connection with ENHANCE_YOUR_CALM,
/// failing streams the server had answered and counting one it never received.
#[test]
fn pooled_http2_counts_each_hostile_ending_as_the_server_saw_it() {
    let Some(h) = Hostile::start() else {
        return;
    };
    let pooled = "connections: pooled, max_connections: 2, ";
    let only = |kind: &str, count: u64| BTreeMap::from([(kind.to_string(), count)]);
    let malformed = "HTTP/2: malformed response (the h2 library reset the stream)";
    for mode in ["uppercase", "pseudoafter", "idle?size=100"] {
        let (s, seen) = h.run_in(pooled, "1s", "get", &format!("/{mode}"), 0);
        assert!(reqs(&s) > 10, "{mode}: {seen:?}");
        assert_eq!(reqs(&s), n(&seen, "got"), "{mode}: {seen:?}");
        assert_eq!(errors(&s), only("protocol", reqs(&s)), "{mode}");
        assert_eq!(s["protocol_errors"][malformed], reqs(&s), "{mode}");
    }
    for mode in [
        "clshort",
        "trailshort?size=5000",
        "closemid?size=4000",
        "rsthead?size=4000",
    ] {
        let (s, seen) = h.run_in(pooled, "1s", "get", &format!("/{mode}"), 0);
        assert!(reqs(&s) > 10, "{mode}: {seen:?}");
        assert_eq!(reqs(&s), n(&seen, "got"), "{mode}: {seen:?}");
        assert_eq!(errors(&s), only("body_truncated", reqs(&s)), "{mode}");
        assert_eq!(s["status_codes"]["200"], reqs(&s), "{mode}: status counted");
    }
    let (s, seen) = h.run_in(pooled, "1s", "get", "/goawayerr?size=100", 0);
    assert_eq!(reqs(&s), n(&seen, "got"), "{seen:?}");
    assert_eq!(errors(&s), only("no_response", reqs(&s)));
    // Thousands of streams on one connection, each answered and then sent DATA after its end:
    // over h2's old limit of 1,024 (3 s, so that a loaded machine gets there too).
    let one = "connections: pooled, max_connections: 1, ";
    let (s, seen) = h.run_in(one, "3s", "get", "/extradata?size=100", 0);
    assert!(n(&seen, "client_rst") > 1024, "{seen:?}");
    assert_eq!(reqs(&s), n(&seen, "hdr"), "{seen:?}");
    assert_eq!(reqs(&s), n(&seen, "out answered_then_data_on_closed"));
    assert!(errors(&s).is_empty(), "{:?}", errors(&s));
}
