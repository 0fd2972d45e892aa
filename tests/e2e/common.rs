//! Helpers for end-to-end tests: the real binary against the built-in target on loopback.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_stampede");

/// `stampede target` on a free loopback port, killed when dropped.
pub struct Target {
    child: Child,
    /// Kept open so the target never writes into a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
    pub url: String,
    pub addr: String,
    /// With `--tls`: the CA certificate the target wrote (PEM).
    pub ca: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub fn start() -> Target {
        Self::start_with(&[], None)
    }

    /// `stampede target --tls`, its CA written into a temporary folder.
    pub fn start_tls() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let ca_arg = ca.to_str().unwrap().to_string();
        let mut t = Self::start_with(&["--tls", "--ca-out", &ca_arg], Some(ca));
        t._dir = Some(dir);
        t
    }

    pub fn start_with(extra: &[&str], ca: Option<PathBuf>) -> Target {
        let mut child = Command::new(BIN)
            .args(["target", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stampede target");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("read target banner");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no URL in banner {line:?}"))
            .to_string();
        let addr = url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string();
        if let Some(ca) = &ca {
            let mut l = String::new();
            reader.read_line(&mut l).expect("read the CA line");
            assert!(l.contains(ca.to_str().unwrap()), "CA path in {l:?}");
        }
        Target {
            child,
            _stdout: reader,
            url,
            addr,
            ca,
            _dir: None,
        }
    }

    /// GET on a fresh connection (over TLS, trusting the target's CA, with `--tls`); returns
    /// the body.
    pub fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).expect("connect to target");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        let mut resp = Vec::new();
        match &self.ca {
            None => {
                s.write_all(req.as_bytes()).unwrap();
                s.read_to_end(&mut resp).unwrap();
            }
            Some(ca) => {
                use rustls::pki_types::{CertificateDer, pem::PemObject};
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca).unwrap() {
                    roots.add(c.unwrap()).unwrap();
                }
                let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
                let cfg = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let name = "127.0.0.1".try_into().unwrap();
                let mut conn =
                    rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
                let mut tls = rustls::Stream::new(&mut conn, &mut s);
                tls.write_all(req.as_bytes()).unwrap();
                // The server may close without close_notify: what was read is the answer.
                let _ = tls.read_to_end(&mut resp);
            }
        }
        let resp = String::from_utf8_lossy(&resp).into_owned();
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// Requests the target served (its own count), excluding /__stats itself. With `--tls`,
    /// the handshake of this very probe is taken out of the TLS counts.
    pub fn served(&self) -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&self.get("/__stats")).expect("stats JSON");
        if self.ca.is_some() {
            let dec = |x: &mut serde_json::Value| {
                if let Some(n) = x.as_u64() {
                    *x = (n - 1).into();
                }
            };
            dec(&mut v["tls_handshakes"]);
            dec(&mut v["alpn"]["none"]);
            dec(&mut v["tls_versions"]["TLSv1_3"]);
            for k in ["tls_versions", "alpn"] {
                if let Some(m) = v[k].as_object_mut() {
                    m.retain(|_, n| n.as_u64() != Some(0));
                }
            }
        }
        v
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server process a test started (nginx, a script), with its temporary folder: killed and
/// reaped when dropped.
pub struct Spawned {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Spawned {
    /// Start `cmd` (its output discarded) and wait up to 30 s until each of `ports` accepts a
    /// connection. If it exits first: a panic with its status and the text of `diag` (a file
    /// in `dir`, e.g. nginx's error.log).
    pub fn listening(
        mut cmd: Command,
        dir: tempfile::TempDir,
        ports: &[u16],
        diag: &str,
    ) -> Spawned {
        let what = format!("{:?}", cmd.get_program());
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut s = Spawned { child, dir };
        let until = Instant::now() + Duration::from_secs(30);
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = s.child.try_wait() {
                    panic!(
                        "{what} exited before listening: {status}: {}",
                        std::fs::read_to_string(s.dir.path().join(diag)).unwrap_or_default()
                    );
                }
                assert!(Instant::now() < until, "{what} does not listen on {port}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx (a server we did not write) in the foreground, in a temporary folder of its own,
/// logging each request as `log_format` to the returned access log. `http` gets the folder
/// (after `prepare` made what it needs there, e.g. a certificate) and returns the rest of the
/// `http {}` block: its servers and any directive. Waits until each of `ports` listens.
pub fn nginx(
    log_format: &str,
    worker_connections: u32,
    ports: &[u16],
    http: impl FnOnce(&Path) -> String,
) -> (Spawned, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let log = d.join("access.log");
    let conf = d.join("nginx.conf");
    let rest = http(&d);
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
             events {{ worker_connections {worker_connections}; }}\nhttp {{\n  \
             log_format l '{log_format}';\n  access_log {log} l;\n  \
             client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;\n  \
             uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n  {rest}\n}}\n",
            d = d.display(),
            log = log.display(),
        ),
    )
    .expect("nginx.conf");
    let mut cmd = Command::new("nginx");
    cmd.arg("-c").arg(&conf).arg("-p").arg(&d);
    (Spawned::listening(cmd, dir, ports, "error.log"), log)
}

/// A self-signed certificate for 127.0.0.1 and localhost (P-256, two days), made by openssl in
/// `dir`: (cert.pem, key.pem).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(made.success(), "openssl could not make a certificate");
    (cert, key)
}

/// A temporary folder with a scenario file in it.
pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
}

impl Scenario {
    pub fn new(yaml: &str) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scenario.yaml");
        std::fs::write(&file, yaml).unwrap();
        Scenario { dir, file }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn summary(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.out().join("summary.json")).expect("summary.json written");
        serde_json::from_str(&text).expect("summary.json is JSON")
    }
}

pub fn stampede(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run stampede")
}

/// `stampede run FILE --out OUT --quiet EXTRA...`
pub fn run(s: &Scenario, extra: &[&str]) -> Output {
    let file = s.file.to_str().unwrap().to_string();
    let out = s.out().to_str().unwrap().to_string();
    let mut args = vec!["run", file.as_str(), "--out", out.as_str(), "--quiet"];
    args.extend_from_slice(extra);
    stampede(&args)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What is wrong with a summary.json against docs/summary.schema.json (empty when it is valid).
pub fn schema_errors(summary: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/summary.schema.json"
        ))
        .expect("docs/summary.schema.json"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(summary)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The serial group for real-time tests whose figures (per-second counts, latency quantiles
/// against a stall) suffer when two of them share the cores: hold the guard for the whole test.
/// Light tests still run beside them. A test that panicked while holding it does not poison it.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Poll `cond` every 20 ms until it holds; panics naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is `program` installed (`program PROBE...` runs and succeeds)? Under `CI=true` it must be:
/// the test fails and names `installer`; elsewhere the test is skipped with a message.
pub fn have_tool(program: &str, probe: &[&str], installer: &str) -> bool {
    let ok = std::process::Command::new(program)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is required under CI=true: run {installer}"
        );
        eprintln!("SKIPPED: {program} is not installed ({installer} installs it)");
    }
    ok
}

/// A free loopback port (for servers that cannot be told to pick one themselves).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}
