//! The live views end to end: the dashboard on a real terminal (tmux), and plain progress lines
//! without one.
//!
//! The tmux test needs `tmux` (`.ci/run` installs it). Without it the test fails with a message,
//! unless `STAMPEDE_SKIP_TMUX=1` is set, which skips it on purpose (and says so).

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "run"]).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for(file: &Path, limit: Duration) -> Option<String> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(text) = std::fs::read_to_string(file)
            && text.ends_with('\n')
        {
            return Some(text);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn dashboard_under_tmux_shows_steps_and_thresholds_and_q_stops_with_a_report() {
    if !tmux_available() {
        if std::env::var_os("STAMPEDE_SKIP_TMUX").is_some() {
            eprintln!("SKIPPED: tmux is not installed and STAMPEDE_SKIP_TMUX is set");
            return;
        }
        panic!(
            "tmux is required for the dashboard test: `apt-get install -y tmux` \
             (or set STAMPEDE_SKIP_TMUX=1 to skip it on purpose)"
        );
    }
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: tmux
target: {url}
load: {{ executor: constant-vus, vus: 4, duration: 60s, graceful_stop: 5s, think_time: constant(20ms) }}
flows:
  - steps:
      - {{ name: home, get: /fast }}
      - {{ name: search, get: "/delay?ms=2" }}
thresholds:
  http_req_duration: ["p(95) < 500ms"]
  http_req_failed: [{{ threshold: "rate < 5%", abort_on_fail: true }}]
"#,
        url = t.url
    ));
    let code = s.dir.path().join("code");
    let tty = s.dir.path().join("tty");
    // After the run: its exit code, then the terminal's settings (restored: `icanon echo`).
    let shell = format!(
        "'{bin}' run '{file}' --out '{out}'; echo $? > '{code}'; stty -a > '{tty}.tmp'; mv '{tty}.tmp' '{tty}'",
        bin = BIN,
        file = path_str(&s.file),
        out = path_str(&s.out()),
        code = path_str(&code),
        tty = path_str(&tty),
    );
    let tmux = Tmux {
        socket: format!("stampede-test-{}", std::process::id()),
    };
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "run",
        "-x",
        "160",
        "-y",
        "48",
        "sh",
        "-c",
        &shell,
    ]);
    assert!(started.status.success(), "tmux: {started:?}");

    // 5 s into the run (by its own clock: a loaded machine starts it late): every step with
    // its p95 and p99, VUs, req/s and the thresholds.
    let mut screen = String::new();
    crate::common::wait_for("the dashboard at 00:05", Duration::from_secs(30), || {
        screen = tmux.screen();
        ["00:05 / 01:00", "00:06 / 01:00", "00:07 / 01:00"]
            .iter()
            .any(|t| screen.contains(t))
    });
    let wanted = [
        "home",
        "search",
        "p95",
        "p99",
        "VUs 4/4",
        "req/s",
        "thresholds",
        "http_req_duration p(95) < 500ms",
        "http_req_failed rate < 5%",
        "abort: armed",
        "✓",
    ];
    for w in wanted {
        assert!(screen.contains(w), "{w:?} not on the screen:\n{screen}");
    }

    // `p` holds new iterations and says so; `p` again resumes.
    tmux.cmd(&["send-keys", "-t", "run", "p"]);
    let mut paused = String::new();
    crate::common::wait_for("PAUSED on the screen", Duration::from_secs(10), || {
        paused = tmux.screen();
        paused.contains("PAUSED")
    });
    // Once a whole second has passed paused, that second ran no request.
    crate::common::wait_for("a second without requests", Duration::from_secs(10), || {
        paused = tmux.screen();
        paused.contains("│0 req/s")
    });
    assert!(paused.contains("PAUSED"), "resumed by itself:\n{paused}");
    tmux.cmd(&["send-keys", "-t", "run", "p"]);
    crate::common::wait_for("PAUSED gone after p", Duration::from_secs(10), || {
        !tmux.screen().contains("PAUSED")
    });

    // `q`: a graceful stop, the report written, exit 130, the terminal restored.
    let asked = Instant::now();
    tmux.cmd(&["send-keys", "-t", "run", "q"]);
    let exit = wait_for(&code, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit within 10 s of q; screen:\n{}", tmux.screen()));
    let took = asked.elapsed();
    assert_eq!(exit.trim(), "130", "exit code after q");
    assert!(took < Duration::from_secs(10), "q took {took:?}");
    let sum = s.summary();
    assert_eq!(sum["interrupted"], true);
    assert!(sum["metrics"]["http_reqs"]["count"].as_u64().unwrap() > 0);
    let stty = wait_for(&tty, Duration::from_secs(5)).expect("stty output");
    assert!(
        stty.contains(" icanon") && stty.contains(" echo"),
        "terminal not restored: {stty}"
    );
}

#[test]
fn without_a_terminal_progress_is_plain_lines_without_escape_codes() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: plain
target: {url}
load: {{ executor: constant-vus, vus: 3, duration: 6s, graceful_stop: 2s, think_time: constant(20ms) }}
flows:
  - steps: [ {{ name: slow, get: "/delay?ms=3" }} ]
thresholds:
  http_req_duration: ["p(95) < 1ms"]
"#,
        url = t.url
    ));
    let file = path_str(&s.file);
    let out = path_str(&s.out());
    // Not --quiet, and a TERM that would allow colours: still nothing but plain text.
    let o = Command::new(BIN)
        .args(["run", &file, "--out", &out])
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run stampede");
    let all = text(&o);
    assert!(
        !all.contains('\u{1b}'),
        "escape sequence in non-TTY output:\n{all:?}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("[ 00:05 / 00:06]"))
        .unwrap_or_else(|| panic!("no progress line at 5 s:\n{stderr}"));
    for w in ["vus 3/3", "req/s", "p95", "errors 0.00%"] {
        assert!(line.contains(w), "{w:?} not in {line:?}");
    }
    // A failing threshold is named on the line.
    assert!(
        line.contains("failing: http_req_duration p(95) < 1ms"),
        "{line}"
    );
    assert_eq!(o.status.code(), Some(99), "{all}");
}
