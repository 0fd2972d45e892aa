//! HTTP/2 against Node.js's own `http2` server (nghttp2 inside, a server we did not write), h2c:
//! streams refused unprocessed (REFUSED_STREAM), streams reset after their head, graceful GOAWAYs
//! that end connections, and request bodies larger than the server's 64 KiB window. stampede's
//! counts must equal the server's: every answered or reset stream is one request, a refused one
//! is sent again on a new connection and not counted. Both HTTP/2 paths: a VU's own connection
//! (our framing) and pooled connections (the `h2` crate).

use crate::common::*;
use crate::streaming::Server;

/// What the server printed: answered, refused and reset streams, and the request body bytes
/// it read from the answered ones.
fn tally(lines: &[String]) -> (u64, u64, u64, u64) {
    let (mut answered, mut refused, mut reset, mut bytes) = (0, 0, 0, 0);
    for l in lines {
        match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["answered", n] => {
                answered += 1;
                bytes += n.parse::<u64>().expect("a byte count");
            }
            ["refused"] => refused += 1,
            ["reset"] => reset += 1,
            _ => {}
        }
    }
    (answered, refused, reset, bytes)
}

fn case(http: &str, body: usize) {
    let Some(node) = Server::start_with("node", "h2_node.js", &["7", "11", "13"]) else {
        return;
    };
    let payload = "b".repeat(body);
    let s = Scenario::new(&format!(
        r#"
name: h2-node
target: http://127.0.0.1:{port}
http: {http}
load: {{ executor: constant-vus, vus: 8, duration: 2s, graceful_stop: 5s }}
flows:
  - steps:
      - {{ name: up, post: "/up?size=3000", body: "{payload}", expect: {{ status: 200 }} }}
"#,
        port = node.port()
    ));
    let out = run(&s, &[]);
    let sm = s.summary();
    let (answered, refused, reset, bytes) = tally(&node.drain());
    let reqs = sm["metrics"]["http_reqs"]["count"].as_u64().unwrap_or(0);
    let cut = sm["errors"]["body_truncated"].as_u64().unwrap_or(0);
    let failed: u64 = sm["errors"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    let msg = format!(
        "{http}: stampede {reqs} requests, errors {} {} · node answered {answered}, refused {refused}, reset {reset}\n{}",
        sm["errors"],
        sm["protocol_errors"],
        text(&out)
    );
    // A request refused 4 times in a row (1 in 7^3 of them) is given up as `reset`, counted.
    let given_up = sm["errors"]["reset"].as_u64().unwrap_or(0);
    assert!(answered > 50 && refused > 0 && reset > 0, "{msg}");
    assert!(given_up * 20 < refused, "{msg}");
    assert_eq!(reqs, answered + reset + given_up, "{msg}");
    assert_eq!(
        cut, reset,
        "a head, then a short body or RST_STREAM, is a cut body: {msg}"
    );
    assert_eq!(failed, reset + given_up, "nothing else failed: {msg}");
    assert_eq!(
        bytes,
        answered * body as u64,
        "every body arrived whole: {msg}"
    );
    assert_eq!(out.status.code(), Some(0), "{msg}");
}

#[test]
fn own_connections_count_what_node_http2_saw() {
    case(r#"{ version: "2", h2c: true }"#, 100_000);
}

#[test]
fn pooled_connections_count_what_node_http2_saw() {
    case(
        r#"{ version: "2", h2c: true, connections: pooled, max_connections: 3 }"#,
        100_000,
    );
}
