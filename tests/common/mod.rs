//! Helpers for end-to-end tests: the real binary against the built-in target on loopback.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_stampede");

/// `stampede target` on a free loopback port, killed when dropped.
pub struct Target {
    child: Child,
    /// Kept open so the target never writes into a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
    pub url: String,
    pub addr: String,
}

impl Target {
    pub fn start() -> Target {
        Target::start_with(&[])
    }

    /// `stampede target` with extra flags (e.g. `--work-slots 4`).
    pub fn start_with(extra: &[&str]) -> Target {
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
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in banner {line:?}"))
            .to_string();
        let addr = url.trim_start_matches("http://").to_string();
        Target {
            child,
            _stdout: reader,
            url,
            addr,
        }
    }

    /// Plain HTTP GET on a fresh connection; returns the body.
    pub fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).expect("connect to target");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// Requests the target served (its own count), excluding /__stats itself.
    pub fn served(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/__stats")).expect("stats JSON")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
