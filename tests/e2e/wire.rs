//! What reaches a server we did not write: Python's `http.server` (tests/servers/wire_server.py)
//! logs every request-target, Cookie, User-Agent and body it RECEIVED, and each test compares
//! that with what was intended — redirects resolved by RFC 3986, template values escaped by
//! context, RFC 6265 cookies, and TLS with an `openssl req -x509` certificate as `ca_file`.
//!
//! Python 3 and openssl are needed: without them these tests fail under `CI=true` (and are
//! skipped, with a note, elsewhere). `.ci/install-15b.sh` installs them.

use crate::common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Is `tool` here? Under `CI=true` its absence is a failure (see `common::have_tool`).
fn have(tool: &str, version_arg: &str) -> bool {
    have_tool(tool, &[version_arg], ".ci/install-15b.sh")
}

/// wire_server.py on a free loopback port, killed when dropped.
struct PyServer {
    child: Child,
    port: u16,
    log: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl PyServer {
    fn start(tls: Option<(&Path, &Path)>) -> PyServer {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("received.jsonl");
        let stderr = dir.path().join("access.log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/wire_server.py");
        let mut cmd = Command::new("python3");
        cmd.args([script, "--port", "0", "--log", log.to_str().unwrap()]);
        if let Some((cert, key)) = tls {
            cmd.args([
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the server's banner");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        PyServer {
            child,
            port,
            log,
            stderr,
            _dir: dir,
        }
    }

    /// Every request the server received, in order.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    fn targets(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r["target"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Python's own access log (`"GET /x HTTP/1.1" 200 -` lines).
    fn access_log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One VU, one iteration of `steps`, against `target`.
fn once(target: &str, http: &str, head: &str, steps: &str) -> Scenario {
    Scenario::new(&format!(
        "name: wire\ntarget: {target}\nhttp: {http}\n{head}load: {{ executor: per-vu-iterations, vus: 1, iterations: 1 }}\nflows:\n  - steps:\n{steps}"
    ))
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn http_reqs(sum: &Value) -> u64 {
    count(&sum["metrics"]["http_reqs"]["count"])
}

/// A Cookie header as a sorted list of `name=value` (the order of same-length paths is free).
fn cookie_set(v: &Value) -> Vec<String> {
    let mut c: Vec<String> = v
        .as_str()
        .unwrap_or_default()
        .split("; ")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    c.sort();
    c
}

#[test]
fn redirects_are_resolved_by_rfc_3986_as_the_server_receives_them() {
    if !have("python3", "--version") {
        return;
    }
    let srv = PyServer::start(None);
    let p = srv.port;
    let s = once(
        &format!("http://127.0.0.1:{p}"),
        "{}",
        "",
        &format!(
            "      - {{ name: query, get: \"/a/b/c?loc=%3Fx%3D1\" }}\n\
             \x20     - {{ name: dotdot, get: \"/a/b/c?loc=..%2Fx\" }}\n\
             \x20     - {{ name: fragment, get: \"/a/b/c?loc=%2Fx%23frag\" }}\n\
             \x20     - {{ name: absolute, get: \"/a/b/c?loc=http%3A%2F%2F127.0.0.1%3A{p}%2Fabs\" }}\n\
             \x20     - {{ name: schemeless, get: \"/a/b/c?loc=%2F%2F127.0.0.1%3A{p}%2Fsr%3Fq%3D1%23f\" }}\n\
             \x20     - {{ name: cross, get: \"/a/b/c?loc=http%3A%2F%2Flocalhost%3A{p}%2Fcross\" }}\n"
        ),
    );
    let o = run(&s, &[]);
    let sum = s.summary();
    let got = srv.targets();
    let want = [
        "/a/b/c?loc=%3Fx%3D1".to_string(),
        "/a/b/c?x=1".into(),
        "/a/b/c?loc=..%2Fx".into(),
        "/a/x".into(),
        "/a/b/c?loc=%2Fx%23frag".into(),
        "/x".into(),
        format!("/a/b/c?loc=http%3A%2F%2F127.0.0.1%3A{p}%2Fabs"),
        "/abs".into(),
        format!("/a/b/c?loc=%2F%2F127.0.0.1%3A{p}%2Fsr%3Fq%3D1%23f"),
        "/sr?q=1".into(),
        format!("/a/b/c?loc=http%3A%2F%2Flocalhost%3A{p}%2Fcross"),
    ];
    assert_eq!(got, want, "{}", text(&o));
    assert_eq!(
        http_reqs(&sum),
        got.len() as u64,
        "the report counts what the server received"
    );
    // Another origin (localhost is not 127.0.0.1) is not followed, and says so.
    assert_eq!(
        count(&sum["errors"]["cross_origin_redirect"]),
        1,
        "{}",
        sum["errors"]
    );
    assert_eq!(sum["metrics"]["http_req_failed{step:cross}"]["rate"], 1.0);
    assert_eq!(sum["metrics"]["http_req_failed{step:query}"]["rate"], 0.0);
    assert!(schema_errors(&sum).is_empty(), "{:?}", schema_errors(&sum));
}

#[test]
fn template_values_are_escaped_by_where_they_go() {
    if !have("python3", "--version") {
        return;
    }
    let srv = PyServer::start(None);
    let body_q = "%3Cv%3Eline1%0D%0Aline2%0Aline3%3C%2Fv%3E";
    let s = once(
        &format!("http://127.0.0.1:{}", srv.port),
        "{}",
        "variables: { v: \"a b/ü#?&=%\" }\n",
        &format!(
            "      - {{ name: path, get: \"/p/{{{{v}}}}?q={{{{v}}}}\" }}\n\
             \x20     - {{ name: raw, get: \"/r/{{{{raw v}}}}\" }}\n\
             \x20     - name: multi\n\
             \x20       get: \"/m?body={body_q}\"\n\
             \x20       extract: {{ m: {{ regex: \"(?s)<v>(.*)</v>\" }} }}\n\
             \x20     - name: same\n\
             \x20       get: \"/m?body={body_q}\"\n\
             \x20       expect: {{ body_contains: \"{{{{m}}}}\" }}\n\
             \x20     - name: echo\n\
             \x20       post: /echo\n\
             \x20       body: \"{{{{m}}}}\"\n\
             \x20       headers: {{ x-v: \"{{{{m}}}}\", user-agent: mine/1 }}\n"
        ),
    );
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let got = srv.received();
    assert_eq!(got.len(), 5, "{got:#?}");
    assert_eq!(http_reqs(&sum), 5);
    // In a path segment `/ ? # %` and spaces and non-ASCII are encoded; in the query `& =` too.
    assert_eq!(
        got[0]["target"],
        "/p/a%20b%2F%C3%BC%23%3F&=%25?q=a%20b%2F%C3%BC%23%3F%26%3D%25",
        "{}",
        srv.access_log()
    );
    assert_eq!(got[0]["status"], 200);
    assert!(
        srv.access_log().contains(
            "\"GET /p/a%20b%2F%C3%BC%23%3F&=%25?q=a%20b%2F%C3%BC%23%3F%26%3D%25 HTTP/1.1\" 200"
        ),
        "{}",
        srv.access_log()
    );
    // `raw` keeps the URL syntax and encodes only what cannot be on the wire.
    assert_eq!(got[1]["target"], "/r/a%20b/%C3%BC%23?&=%");
    assert_eq!(
        got[1]["user_agent"],
        concat!("stampede/", env!("CARGO_PKG_VERSION"))
    );
    // A multi-line value passes its own check, reaches a body intact, and loses CR/LF in a header.
    assert_eq!(
        sum["metrics"]["checks{step:same}"]["rate"],
        1.0,
        "{}",
        text(&o)
    );
    assert_eq!(got[4]["body"], "line1\r\nline2\nline3");
    assert_eq!(got[4]["x_v"], "line1line2line3");
    assert_eq!(
        got[4]["user_agent"], "mine/1",
        "a scenario's user-agent wins"
    );
    assert_eq!(count(&sum["metrics"]["http_req_failed"]["passes"]), 0);
}

#[test]
fn cookies_follow_rfc_6265_as_the_server_receives_them() {
    if !have("python3", "--version") {
        return;
    }
    let srv = PyServer::start(None);
    let set = [
        "a%3D1",
        "old%3Dx%3B%20Expires%3DWed%2C%2021%20Oct%202015%2007%3A28%3A00%20GMT",
        "api%3D2%3B%20Path%3D%2Fapi",
        "sec%3D3%3B%20Secure",
        "dom%3D4%3B%20Domain%3Dexample.com",
        "gone%3D5%3B%20Max-Age%3D0",
    ]
    .map(|c| format!("set={c}"))
    .join("&");
    let s = once(
        &format!("http://127.0.0.1:{}", srv.port),
        "{}",
        "",
        &format!(
            "      - {{ name: login, get: \"/login?{set}\" }}\n\
             \x20     - {{ name: root, get: / }}\n\
             \x20     - {{ name: api, get: /api/x }}\n\
             \x20     - {{ name: hop, get: \"/r?loc=%2Fnext&set=s%3D9\" }}\n\
             \x20     - {{ name: logout, get: \"/logout?set=a%3D1%3B%20Max-Age%3D0&set=s%3D%3B%20Expires%3DThu%2C%2001%20Jan%201970%2000%3A00%3A00%20GMT\" }}\n\
             \x20     - {{ name: after, get: /after }}\n"
        ),
    );
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = srv.received();
    let by = |t: &str| -> Vec<String> {
        let r = got
            .iter()
            .find(|r| r["target"].as_str().is_some_and(|x| x.starts_with(t)))
            .unwrap_or_else(|| panic!("no request to {t} in {got:#?}"));
        cookie_set(&r["cookie"])
    };
    assert_eq!(by("/login"), Vec::<String>::new());
    // Expired (past Expires, Max-Age=0), other-domain and Secure-over-http cookies are not sent.
    assert_eq!(cookie_set(&got[1]["cookie"]), ["a=1"]);
    assert_eq!(
        by("/api/x"),
        ["a=1", "api=2"],
        "Path=/api applies under /api"
    );
    // A cookie set by a redirect goes with the hop.
    assert_eq!(by("/next"), ["a=1", "s=9"]);
    assert_eq!(by("/logout"), ["a=1", "s=9"]);
    assert_eq!(
        by("/after"),
        Vec::<String>::new(),
        "Max-Age=0 and a past Expires delete"
    );
    assert_eq!(http_reqs(&s.summary()), got.len() as u64);
}

/// `openssl req -x509` development certificate (CA:TRUE, SAN localhost and 127.0.0.1) in `dir`.
fn openssl_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}

#[test]
fn an_openssl_development_certificate_as_ca_file_is_trusted_and_a_wrong_one_says_why() {
    if !have("python3", "--version") || !have("openssl", "version") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_cert(certs.path(), "dev");
    let (other, _) = openssl_cert(certs.path(), "other");
    let srv = PyServer::start(Some((&cert, &key)));
    let url = format!("https://127.0.0.1:{}", srv.port);
    let steps = "      - { name: login, get: \"/login?set=sec%3D3%3B%20Secure\" }\n\
                 \x20     - { name: me, get: /me }\n";
    let many = |http: &str| {
        Scenario::new(&format!(
            "name: tls\ntarget: {url}\nhttp: {http}\nload: {{ executor: per-vu-iterations, vus: 2, iterations: 10 }}\nflows:\n  - steps:\n{steps}"
        ))
    };

    // The certificate itself as ca_file: pinned, every request succeeds.
    let s = many(&format!("{{ tls: {{ ca_file: {} }} }}", cert.display()));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    assert_eq!(http_reqs(&sum), 40, "{}", text(&o));
    assert_eq!(
        count(&sum["metrics"]["http_req_failed"]["passes"]),
        0,
        "{}",
        text(&o)
    );
    assert_eq!(srv.received().len(), 40, "the server's own count");
    assert!(sum["tls_certificate"].is_null(), "no failure, no diagnosis");
    // A Secure cookie goes over https.
    let me: Vec<Value> = srv
        .received()
        .into_iter()
        .filter(|r| r["target"] == "/me")
        .collect();
    assert_eq!(me.len(), 20);
    assert!(me.iter().all(|r| r["cookie"] == "sec=3"), "{me:#?}");

    // Another certificate as ca_file: every request fails, and the reason is printed.
    let s = many(&format!("{{ tls: {{ ca_file: {} }} }}", other.display()));
    let o = run(&s, &[]);
    let out = text(&o);
    let sum = s.summary();
    let reqs = http_reqs(&sum);
    assert!(reqs > 0, "{out}");
    assert_eq!(
        count(&sum["tls_errors"]["not_in_ca_file"]),
        reqs,
        "{}",
        sum["tls_errors"]
    );
    assert!(
        out.contains("neither one of the certificates in http.tls.ca_file nor issued by one")
            && out.contains("put the server's certificate itself (pinned) or the CA that issued it in http.tls.ca_file"),
        "{out}"
    );
    assert!(schema_errors(&sum).is_empty(), "{:?}", schema_errors(&sum));

    // The pinned certificate is still checked for its name.
    let s = many(&format!(
        "{{ tls: {{ ca_file: {}, server_name: api.example.com }} }}",
        cert.display()
    ));
    let o = run(&s, &[]);
    let sum = s.summary();
    assert_eq!(
        count(&sum["tls_errors"]["name_mismatch"]),
        http_reqs(&sum),
        "{}",
        text(&o)
    );
    // What the certificate holds is printed, and kept in summary.json.
    let holds =
        "the server's certificate is for DNS:localhost, IP:127.0.0.1 (subject CN=localhost)";
    let cert_line = sum["tls_certificate"].as_str().unwrap_or_default();
    assert!(
        cert_line.starts_with(holds)
            && cert_line.contains("CA:TRUE, self-signed; stampede asked for `api.example.com`"),
        "{cert_line}"
    );
    assert!(
        text(&o).contains(&format!("tls certificate ... {holds}")),
        "{}",
        text(&o)
    );

    // Without ca_file: a CA:TRUE certificate as the server's own, named as such.
    let s = many("{}");
    let o = run(&s, &[]);
    let sum = s.summary();
    let reqs = http_reqs(&sum);
    assert!(reqs > 0);
    assert_eq!(
        count(&sum["tls_errors"]["ca_used_as_end_entity"]),
        reqs,
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("pin that very certificate with http.tls.ca_file"),
        "{}",
        text(&o)
    );
    assert_eq!(
        srv.received().len(),
        40,
        "no failed handshake reached the server"
    );
}
