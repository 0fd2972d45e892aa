//! End to end over HTTPS: the real binary against `stampede target --tls` (a certificate signed
//! by a CA generated at start), and redirects.

use crate::common::*;
use serde_json::Value;

fn metric<'a>(s: &'a Value, name: &str) -> &'a Value {
    &s["metrics"][name]
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// A scenario against `url` with `vus` VUs for `secs`, with an `http:` block and steps.
fn scenario(url: &str, vus: u32, secs: u32, http: &str, steps: &str) -> String {
    format!(
        "name: tls\ntarget: {url}\nhttp: {http}\nload: {{ executor: constant-vus, vus: {vus}, duration: {secs}s, graceful_stop: 2s }}\nflows:\n  - steps:\n{steps}"
    )
}

fn check_schema(summary: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/summary.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "summary.json breaks its schema: {errors:#?}"
    );
}

#[test]
fn without_the_ca_every_request_fails_as_tls_and_the_run_says_why() {
    let t = Target::start_tls();
    let s = Scenario::new(&scenario(
        &t.url,
        2,
        1,
        "{}",
        "      - { name: fast, get: /fast }\n",
    ));
    let o = run(&s, &[]);
    let out = text(&o);
    let sum = s.summary();
    let reqs = count(&metric(&sum, "http_reqs")["count"]);
    assert!(reqs > 0, "{out}");
    assert_eq!(count(&sum["errors"]["tls"]), reqs, "{out}");
    assert_eq!(count(&sum["tls_errors"]["unknown_issuer"]), reqs);
    assert!(
        out.contains(&format!(
            "all {} requests failed: tls (invalid peer certificate: UnknownIssuer (not issued by a root this system trusts)) — pass http.tls.ca_file or --insecure",
            thousands(reqs)
        )),
        "{out}"
    );
    assert_eq!(count(&t.served()["requests"]), 0);
    check_schema(&sum);

    // The right CA but another name: a name mismatch.
    std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
    std::fs::write(
        &s.file,
        scenario(
            &t.url,
            1,
            1,
            "{ tls: { ca_file: ca.pem, server_name: wrong.example } }",
            "      - { name: fast, get: /fast }\n",
        ),
    )
    .unwrap();
    let o = run(&s, &[]);
    let sum = s.summary();
    let reqs = count(&metric(&sum, "http_reqs")["count"]);
    assert!(reqs > 0);
    assert_eq!(
        count(&sum["tls_errors"]["name_mismatch"]),
        reqs,
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("NotValidForName"), "{}", text(&o));

    // --insecure: everything goes through, with a warning.
    std::fs::write(
        &s.file,
        scenario(&t.url, 1, 1, "{}", "      - { name: fast, get: /fast }\n"),
    )
    .unwrap();
    let o = run(&s, &["--insecure"]);
    let sum = s.summary();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(count(&metric(&sum, "http_reqs")["count"]) > 0);
    assert_eq!(count(&metric(&sum, "http_req_failed")["passes"]), 0);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("WARNING: TLS certificate verification is OFF"),
        "{}",
        text(&o)
    );
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

#[test]
fn with_the_ca_file_all_succeed_over_tls13_http11_with_one_handshake_per_vu() {
    let t = Target::start_tls();
    let s = Scenario::new(&scenario(
        &t.url,
        5,
        2,
        "{ tls: { ca_file: ca.pem } }",
        "      - { name: fast, get: /fast, expect: { status: 200 } }\n",
    ));
    // Relative to the scenario file.
    std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let reqs = count(&metric(&sum, "http_reqs")["count"]);
    assert!(reqs > 200, "requests ≫ VUs: {reqs}");
    assert_eq!(count(&metric(&sum, "http_req_failed")["passes"]), 0);
    let served = t.served();
    assert_eq!(count(&served["requests"]), reqs);
    // Per-VU keep-alive connections: one handshake per VU, not per request.
    assert_eq!(count(&served["tls_handshakes"]), 5, "{served}");
    assert_eq!(served["tls_versions"], serde_json::json!({"TLSv1_3": 5}));
    assert_eq!(served["alpn"], serde_json::json!({"http/1.1": 5}));
    assert_eq!(count(&served["http_versions"]["HTTP/1.1"]), reqs);
    // The trend: one value per request, zero for those on a reused connection (k6's way).
    let hs = metric(&sum, "http_req_tls_handshaking");
    assert_eq!(count(&hs["count"]), reqs);
    assert!(hs["max"].as_f64().unwrap() > 0.0, "{hs}");
    assert_eq!(hs["p(90)"].as_f64(), Some(0.0), "{hs}");
    assert!(sum["histograms"]["http_req_tls_handshaking"].is_string());
    check_schema(&sum);
    assert!(
        text(&o).contains("tls_handshaking ... 5 handshakes for"),
        "{}",
        text(&o)
    );
}

#[test]
fn reconnecting_vus_resume_their_tls_sessions_unless_told_not_to() {
    let t = Target::start_tls();
    // /close ends each connection: every request needs a new handshake.
    let s = Scenario::new(&scenario(
        &t.url,
        2,
        1,
        "{ tls: { ca_file: ca.pem } }",
        "      - { name: close, get: /close }\n",
    ));
    std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reqs = count(&metric(&s.summary(), "http_reqs")["count"]);
    let served = t.served();
    assert_eq!(count(&served["tls_handshakes"]), reqs, "{served}");
    assert!(
        count(&served["tls_resumed"]) * 2 > reqs,
        "most reconnects resume: {served}"
    );

    let _ = t.get("/__reset");
    std::fs::write(
        &s.file,
        scenario(
            &t.url,
            2,
            1,
            "{ tls: { ca_file: ca.pem, resumption: false } }",
            "      - { name: close, get: /close }\n",
        ),
    )
    .unwrap();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let served = t.served();
    assert!(count(&served["tls_handshakes"]) > 0);
    assert_eq!(count(&served["tls_resumed"]), 0, "{served}");
}

#[test]
fn a_301_is_followed_to_its_200_and_max_redirects_0_shows_the_301() {
    let t = Target::start();
    let s = Scenario::new(&scenario(
        &t.url,
        2,
        1,
        "{}",
        "      - { name: moved, get: \"/redirect?to=/fast&code=301\", expect: { status: 200 } }\n",
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let reqs = count(&metric(&sum, "http_reqs{step:moved}")["count"]);
    let iterations = count(&metric(&sum, "iterations")["count"]);
    assert_eq!(
        count(&metric(&sum, "http_req_failed")["passes"]),
        0,
        "{}",
        text(&o)
    );
    // Each hop is a request of the step.
    assert_eq!(reqs, 2 * iterations);
    assert_eq!(count(&sum["status_codes"]["301"]), iterations);
    assert_eq!(count(&sum["status_codes"]["200"]), iterations);
    let served = t.served();
    assert_eq!(count(&served["by_path"]["/redirect"]), iterations);
    assert_eq!(count(&served["by_path"]["/fast"]), iterations);

    // Never follow: the step sees the 301 (and its expectation of 200 fails).
    std::fs::write(
        &s.file,
        scenario(
            &t.url,
            1,
            1,
            "{ max_redirects: 0 }",
            "      - { name: moved, get: \"/redirect?to=/fast&code=301\", expect: { status: 200 } }\n      - { name: seen, get: \"/redirect?to=/fast&code=301\", expect: { status: 301 } }\n",
        ),
    )
    .unwrap();
    let o = run(&s, &[]);
    let sum = s.summary();
    let moved = count(&metric(&sum, "http_reqs{step:moved}")["count"]);
    assert!(moved > 0);
    assert_eq!(
        count(&metric(&sum, "http_req_failed{step:moved}")["passes"]),
        moved,
        "{}",
        text(&o)
    );
    assert_eq!(
        count(&metric(&sum, "http_req_failed{step:seen}")["passes"]),
        0
    );
    assert_eq!(count(&sum["status_codes"]["200"]), 0);
}

#[test]
fn a_missing_ca_file_is_a_located_scenario_error() {
    let s = Scenario::new(
        "target: https://127.0.0.1:1\nhttp:\n  tls:\n    ca_file: nowhere.pem\nload: { vus: 1, duration: 1s }\nflows:\n  - steps: [ { get: / } ]\n",
    );
    let o = stampede(&["validate", s.file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("scenario.yaml:4:14: cannot read"),
        "{}",
        text(&o)
    );
}

#[test]
fn version_2_speaks_http2_over_tls_and_auto_picks_it_by_alpn() {
    let t = Target::start_tls();
    for (version, vus) in [("\"2\"", 3), ("auto", 2)] {
        let _ = t.get("/__reset");
        let s = Scenario::new(&scenario(
            &t.url,
            vus,
            1,
            &format!("{{ version: {version}, tls: {{ ca_file: ca.pem }} }}"),
            "      - { name: json, get: /json, expect: { status: 200, json: { \"$.id\": 42 } } }\n      - { name: moved, get: \"/redirect?to=/fast\", expect: { status: 200 } }\n",
        ));
        std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
        let o = run(&s, &[]);
        assert_eq!(o.status.code(), Some(0), "{version}: {}", text(&o));
        let sum = s.summary();
        let reqs = count(&metric(&sum, "http_reqs")["count"]);
        assert!(reqs > 50, "{version}: {reqs}");
        assert_eq!(count(&metric(&sum, "http_req_failed")["passes"]), 0);
        assert!(count(&metric(&sum, "checks")["passes"]) > 0);
        let served = t.served();
        assert_eq!(
            count(&served["http_versions"]["HTTP/2.0"]),
            reqs,
            "{version}: {served}"
        );
        assert_eq!(served["alpn"], serde_json::json!({ "h2": vus }), "{served}");
        assert_eq!(count(&served["tls_handshakes"]), u64::from(vus));
    }
}

#[test]
fn h2c_speaks_http2_over_cleartext_when_allowed() {
    let t = Target::start_with(&["--h2c"], None);
    let s = Scenario::new(&scenario(
        &t.url,
        2,
        1,
        "{ version: \"2\", h2c: true }",
        "      - { name: fast, get: /fast, expect: { status: 200 } }\n",
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reqs = count(&metric(&s.summary(), "http_reqs")["count"]);
    assert!(reqs > 50);
    assert_eq!(count(&t.served()["http_versions"]["HTTP/2.0"]), reqs);
    // Without the flag, HTTP/2 over http:// is refused before any traffic.
    std::fs::write(
        &s.file,
        scenario(
            &t.url,
            1,
            1,
            "{ version: \"2\" }",
            "      - { get: /fast }\n",
        ),
    )
    .unwrap();
    let o = stampede(&["validate", s.file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("http.h2c: true"), "{}", text(&o));
}

#[test]
fn pooled_http2_connections_carry_many_vus_streams_at_once() {
    let t = Target::start_tls();
    let s = Scenario::new(&scenario(
        &t.url,
        10,
        1,
        "{ version: \"2\", connections: pooled, max_connections: 2, tls: { ca_file: ca.pem } }",
        "      - { name: slow, get: \"/delay?ms=20\", expect: { status: 200 } }\n",
    ));
    std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
    let o = run(&s, &["--workers", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reqs = count(&metric(&s.summary(), "http_reqs")["count"]);
    let served = t.served();
    assert_eq!(count(&served["tls_handshakes"]), 2, "{served}");
    assert_eq!(count(&served["http_versions"]["HTTP/2.0"]), reqs);
    // 10 VUs on 2 connections, 20 ms each: far more than 2 requests per 20 ms went through.
    assert!(reqs > 250, "streams were shared: {reqs} requests in 1 s");
}

#[test]
fn resolve_sends_a_host_name_to_a_given_address() {
    let t = Target::start_tls();
    let port = t.addr.rsplit_once(':').unwrap().1;
    // The name does not exist in DNS: only `http.resolve` makes it reachable. The certificate
    // holds `localhost`, checked through `server_name`.
    let s = Scenario::new(&scenario(
        &format!("https://api.stampede.test:{port}"),
        1,
        1,
        &format!(
            "{{ resolve: {{ \"api.stampede.test:{port}\": 127.0.0.1 }}, tls: {{ ca_file: ca.pem, server_name: localhost }} }}"
        ),
        "      - { name: fast, get: /fast, expect: { status: 200 } }\n",
    ));
    std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    assert!(count(&metric(&sum, "http_reqs")["count"]) > 10);
    assert_eq!(count(&metric(&sum, "http_req_failed")["passes"]), 0);
}

#[test]
fn compressed_bodies_are_decoded_for_checks() {
    let t = Target::start();
    for enc in ["gzip", "deflate"] {
        let s = Scenario::new(&scenario(
            &t.url,
            1,
            1,
            &format!("{{ compression: {enc} }}"),
            "      - name: json\n        get: /json\n        expect: { status: 200, json: { \"$.id\": 42 }, header: { content-encoding: ENC } }\n"
                .replace("ENC", enc)
                .as_str(),
        ));
        let o = run(&s, &[]);
        assert_eq!(o.status.code(), Some(0), "{enc}: {}", text(&o));
        let sum = s.summary();
        assert!(count(&metric(&sum, "checks")["passes"]) > 10);
        assert_eq!(
            count(&metric(&sum, "checks")["fails"]),
            0,
            "{enc}: {}",
            text(&o)
        );
    }
}

/// A CONNECT proxy on loopback (a thread per connection) counting the tunnels it opened; with
/// `refuse`, it answers 403 instead.
fn connect_proxy(refuse: bool) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = tunnels.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let Some(to) = text
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split_whitespace().next())
                else {
                    return;
                };
                if refuse {
                    let _ =
                        client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
                    return;
                }
                let Ok(upstream) = std::net::TcpStream::connect(to) else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c_in, mut u_out) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut u_out);
                    let _ = u_out.shutdown(std::net::Shutdown::Write);
                });
                let (mut u_in, mut c_out) = (upstream, client);
                let _ = std::io::copy(&mut u_in, &mut c_out);
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, tunnels)
}

#[test]
fn https_goes_through_an_http_proxy_as_connect_tunnels() {
    let t = Target::start_tls();
    let (proxy, tunnels) = connect_proxy(false);
    let s = Scenario::new(&scenario(
        &t.url,
        3,
        1,
        &format!("{{ proxy: \"http://{proxy}\", tls: {{ ca_file: ca.pem }} }}"),
        "      - { name: fast, get: /fast, expect: { status: 200 } }\n",
    ));
    std::fs::copy(t.ca.as_ref().unwrap(), s.dir.path().join("ca.pem")).unwrap();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reqs = count(&metric(&s.summary(), "http_reqs")["count"]);
    assert!(reqs > 30);
    assert_eq!(count(&t.served()["requests"]), reqs);
    // One tunnel per VU connection.
    assert_eq!(tunnels.load(std::sync::atomic::Ordering::SeqCst), 3);

    let (refusing, _) = connect_proxy(true);
    std::fs::write(
        &s.file,
        scenario(
            &t.url,
            1,
            1,
            &format!("{{ proxy: \"http://{refusing}\", tls: {{ ca_file: ca.pem }} }}"),
            "      - { name: fast, get: /fast }\n",
        ),
    )
    .unwrap();
    let o = run(&s, &[]);
    let sum = s.summary();
    let reqs = count(&metric(&sum, "http_reqs")["count"]);
    assert!(reqs > 0);
    assert_eq!(count(&sum["errors"]["proxy_error"]), reqs, "{}", text(&o));
    assert!(
        text(&o).contains("requests failed: proxy_error"),
        "{}",
        text(&o)
    );
}
