//! `stampede run --processes N`: the run as N child processes on this machine, each a segment
//! (`--segment i/N`, a common `--start-at`), merged at the end into one report — for more
//! connections than one process may open. The children draw no live view: they stream each
//! worker's per-second snapshot to the parent (`live_wire`, on their stdout), and the parent
//! adds them up into one live view (dashboard, bar or plain lines) of the whole run. Ctrl-C in
//! the parent stops the children gracefully (they write their parts) and the merge still runs;
//! a child that dies fails the run as a tool (exit 1) with the other parts left on disk.

mod mux;

use crate::engine::Control;
use crate::live_wire;
use crate::metrics::Aggregator;
use crate::metrics::aggregate::{LiveObserve, Snapshot};
use crate::plan::Plan;
use crate::sla;
use crate::tui::state::{Phase, Publisher};
use crate::tui::{Mode, Views};
use crate::{Failure, exit};
use mux::Mux;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The command line of `run` without `--processes` and `--out` (and their values): what every
/// child gets, before its own segment and report folder.
fn child_args(argv: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in argv {
        if skip {
            skip = false;
            continue;
        }
        let s = a.to_string_lossy();
        if s == "--processes" || s == "--out" {
            skip = true;
            continue;
        }
        if s.starts_with("--processes=") || s.starts_with("--out=") {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// What the children's stdout readers tell the parent's loop.
enum Msg {
    Hello(usize, usize),
    Snap(usize, Box<Snapshot>),
    /// A line the parent could not read (told once per child).
    Bad(usize, String),
    Eof(usize),
}

/// The children's `STAMPEDE_LIVE` lines to the parent; anything else to the part's log.
fn read_child(i: usize, stdout: ChildStdout, mut log: File, steps: usize, tx: Sender<Msg>) {
    let mut told = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let msg = if let Some(body) = line.strip_prefix(live_wire::SNAPSHOT) {
            live_wire::decode(body, steps).map(|s| Msg::Snap(i, Box::new(s)))
        } else if let Some(body) = line.strip_prefix(live_wire::HELLO) {
            live_wire::decode_hello(body).map(|w| Msg::Hello(i, w))
        } else {
            let _ = writeln!(log, "{line}");
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) if !told => {
                told = true;
                Msg::Bad(i, e.to_string())
            }
            Err(_) => continue,
        };
        if tx.send(msg).is_err() {
            break;
        }
    }
    let _ = tx.send(Msg::Eof(i));
}

fn tool(e: impl std::fmt::Display) -> Failure {
    Failure::Tool(anyhow::anyhow!("{e}"))
}

/// What `run --processes N` needs, built by the commands layer from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many child processes (segments).
    pub processes: u32,
    /// The merged report's folder; the parts and their logs go in its `parts/`.
    pub out: PathBuf,
    /// `--start-at` as given (RFC 3339); without it the children start 3 s from now.
    pub start_at: Option<String>,
    /// `--segment`, `--segment-of` or `--barrier` was given too (refused: the parent makes
    /// the segments and the start).
    pub segment_flags: bool,
    pub quiet: bool,
    pub no_tui: bool,
}

/// `run --processes N`: spawn the children, show their sum live, wait for them, merge their parts.
pub fn run(cfg: &Config, plan: Plan, interrupts: Arc<AtomicUsize>) -> Result<i32, Failure> {
    let n = cfg.processes;
    if n < 1 {
        return Err(Failure::Usage("--processes N: at least 1".into()));
    }
    if cfg.segment_flags {
        return Err(Failure::Usage(
            "--processes makes its own segments: leave out --segment, --segment-of and --barrier"
                .into(),
        ));
    }
    let seen_interrupts = interrupts.load(Ordering::SeqCst);
    let start_at = start_time(cfg)?;
    let parts_dir = cfg.out.join("parts");
    std::fs::create_dir_all(&parts_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", parts_dir.display())))?;
    if !cfg.quiet {
        eprintln!(
            "stampede · {n} processes, one segment each, starting at {} · logs and parts in {}",
            start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            parts_dir.display()
        );
    }
    let steps = plan.step_names.len();
    let (mut children, readers, rx) = spawn_all(cfg, &parts_dir, start_at, steps)?;
    let until_start = (start_at - chrono::Utc::now()).to_std().unwrap_or_default();
    let started = Instant::now() + until_start;
    let mut live = Live::start(cfg, Arc::new(plan), started, interrupts, seen_interrupts);
    live.watch(&rx, &mut children, readers.len());
    for r in readers {
        let _ = r.join();
    }
    let agg = live.finish(cfg.quiet);
    let parts = finished_parts(cfg, &parts_dir, &children, &agg)?;
    // The live view's state goes before the merge reads the parts (the peak RSS is then the
    // larger of the two, not their sum).
    drop(agg);
    let code = crate::merge::merge_command(crate::merge::MergeArgs {
        parts,
        out: cfg.out.clone(),
        quiet: cfg.quiet,
    });
    if !cfg.quiet {
        print_rss(&children);
    }
    code
}

/// When the children start their load: `--start-at`, or 3 s from now.
fn start_time(cfg: &Config) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    Ok(match &cfg.start_at {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .map_err(|e| {
                Failure::Usage(format!(
                    "--start-at {s}: not an RFC 3339 time ({e}); e.g. 2026-12-01T23:50:00Z"
                ))
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now() + chrono::Duration::seconds(3),
    })
}

/// A child process: its number (1..=N), its part's folder, and once it ended its exit code
/// (`None` inside: killed by a signal) and its peak RSS.
struct Child {
    i: u32,
    dir: PathBuf,
    process: std::process::Child,
    status: Option<Option<i32>>,
    rss_kib: u64,
}

type Spawned = (Vec<Child>, Vec<JoinHandle<()>>, Receiver<Msg>);

/// Start the N children, each with a thread reading its stdout into one channel.
fn spawn_all(
    cfg: &Config,
    parts_dir: &Path,
    start_at: chrono::DateTime<chrono::Utc>,
    steps: usize,
) -> Result<Spawned, Failure> {
    let n = cfg.processes;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Tool(anyhow::anyhow!("cannot find the stampede binary: {e}")))?;
    // `stampede run FILE ...`: everything after the program name.
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let base = child_args(&argv);
    let start_text = start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (tx, rx) = channel::<Msg>();
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for i in 1..=n {
        let dir = parts_dir.join(format!("part-{i}"));
        let log = File::create(parts_dir.join(format!("part-{i}.log")))
            .map_err(|e| tool(format!("cannot create a log file: {e}")))?;
        let err = log.try_clone().map_err(tool)?;
        let mut cmd = Command::new(&exe);
        cmd.args(&base)
            .arg("--segment")
            .arg(format!("{i}/{n}"))
            .arg("--out")
            .arg(&dir)
            .arg("--live-snapshots")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            // Their own process group: a Ctrl-C on the terminal reaches the parent only, which
            // passes each one on exactly once (a second one would stop the children at once).
            .process_group(0);
        if !cfg.quiet {
            // The children draw no live view: the parent does.
            cmd.arg("--quiet");
        }
        if cfg.start_at.is_none() {
            cmd.arg("--start-at").arg(&start_text);
        }
        let mut process = cmd
            .spawn()
            .map_err(|e| tool(format!("cannot start part {i}: {e}")))?;
        if let Some(stdout) = process.stdout.take() {
            let tx = tx.clone();
            let idx = (i - 1) as usize;
            readers.push(
                std::thread::Builder::new()
                    .name(format!("stampede-part-{i}"))
                    .spawn(move || read_child(idx, stdout, log, steps, tx))
                    .map_err(tool)?,
            );
        }
        children.push(Child {
            i,
            dir,
            process,
            status: None,
            rss_kib: 0,
        });
    }
    Ok((children, readers, rx))
}

/// The parent's live view of the sum of the children, and what it passes on to them.
struct Live {
    n: u32,
    plan: Arc<Plan>,
    started: Instant,
    control: Arc<Control>,
    interrupts: Arc<AtomicUsize>,
    seen_interrupts: usize,
    forwarded: usize,
    views: Views,
    publisher: Publisher,
    agg: Aggregator,
    mux: Mux,
    outcomes: Vec<sla::Outcome>,
    last_second: usize,
    shown_phase: Phase,
}

impl Live {
    /// The live view, from the moment the children start their load.
    fn start(
        cfg: &Config,
        plan: Arc<Plan>,
        started: Instant,
        interrupts: Arc<AtomicUsize>,
        seen_interrupts: usize,
    ) -> Live {
        let steps = plan.step_names.len();
        let control = Arc::new(Control::default());
        let views = Views::start(
            Mode::detect(cfg.quiet, cfg.no_tui),
            plan.planned_duration(),
            control.clone(),
            interrupts.clone(),
            started,
        );
        Live {
            n: cfg.processes,
            publisher: Publisher::new(plan.clone(), started),
            plan,
            started,
            control,
            interrupts,
            seen_interrupts,
            forwarded: 0,
            views,
            agg: Aggregator::new(1, steps),
            mux: Mux::new(cfg.processes as usize, steps),
            outcomes: Vec::new(),
            last_second: 0,
            shown_phase: Phase::Running,
        }
    }

    /// Until every child has exited and every line of theirs is read: add their snapshots,
    /// pass Ctrl-C on, reap them, and show the whole.
    fn watch(&mut self, rx: &Receiver<Msg>, children: &mut [Child], readers: usize) {
        let mut eofs = 0usize;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Hello(c, w)) => self.mux.hello(c, w, &mut self.agg),
                Ok(Msg::Snap(c, s)) => self.mux.add(c, *s, &mut self.agg),
                Ok(Msg::Bad(c, e)) => self.views.notice(&format!("part {}: {e}", c + 1)),
                Ok(Msg::Eof(c)) => {
                    // Every line of it is read: its seconds no longer wait for it.
                    eofs += 1;
                    self.mux.gone(c, &mut self.agg);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => eofs = readers,
            }
            self.forward_interrupts(children);
            self.reap(children);
            if children.iter().all(|c| c.status.is_some()) && eofs >= readers {
                break;
            }
            if Instant::now() >= self.started {
                self.show();
            }
        }
    }

    /// Ctrl-C (or the dashboard's q): each one to every child still running.
    fn forward_interrupts(&mut self, children: &[Child]) {
        let asked = self.interrupts.load(Ordering::SeqCst) - self.seen_interrupts;
        while self.forwarded < asked {
            self.forwarded += 1;
            self.control.stop.store(true, Ordering::SeqCst);
            for c in children.iter().filter(|c| c.status.is_none()) {
                // SAFETY: kill(2) on our own child's pid; it has not been reaped (no status
                // yet), so the pid is still ours.
                unsafe { libc::kill(c.process.id() as libc::pid_t, libc::SIGINT) };
            }
            self.views.notice(if self.forwarded == 1 {
                "stopping: the parts let their VUs finish the iteration (Ctrl-C again to stop at once)"
            } else {
                "stopping the parts at once"
            });
        }
    }

    /// The children that ended since the last look; a death is told on the live view.
    fn reap(&mut self, children: &mut [Child]) {
        for c in children.iter_mut().filter(|c| c.status.is_none()) {
            let Some((code, rss)) = reap(c.process.id()) else {
                continue;
            };
            c.status = Some(code);
            c.rss_kib = rss;
            if !matches!(code, Some(exit::OK) | Some(exit::INTERRUPTED)) {
                let how = code.map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
                self.views.notice(&format!(
                    "part {}/{} died ({how}); the others go on",
                    c.i, self.n
                ));
            }
        }
    }

    /// A new frame when a new second is complete (thresholds judged live) or the phase changed.
    fn show(&mut self) {
        let elapsed = self.started.elapsed();
        let phase = if self.control.stop.load(Ordering::SeqCst)
            || elapsed >= self.plan.planned_duration()
        {
            Phase::Stopping
        } else {
            Phase::Running
        };
        let new_second = self.agg.timeline.len() != self.last_second;
        if new_second {
            self.last_second = self.agg.timeline.len();
            let live = LiveObserve {
                view: self.agg.view(elapsed),
                step_names: &self.plan.step_names,
                vus_allowed: self.plan.peak_vus(),
                scenarios: &self.plan.scenario_steps(),
            };
            self.outcomes = sla::evaluate_all(&self.plan.thresholds, &live);
        }
        if self.views.active() && (new_second || phase != self.shown_phase) {
            self.shown_phase = phase;
            let state = self.publisher.build(
                &self.agg,
                &self.outcomes,
                elapsed,
                phase,
                self.views.current_notice(),
            );
            self.views.show(state);
        }
    }

    /// The view closed, every pending second added: the sum of what the children streamed.
    fn finish(mut self, quiet: bool) -> Aggregator {
        self.views.finish();
        self.mux.flush_through(u64::MAX, &mut self.agg);
        self.agg.close_all();
        if !quiet {
            eprintln!(
                "live view of all parts: {} requests, {} failures, {} iterations",
                self.agg.total.requests(),
                self.agg.total.failures(),
                self.agg.total.iterations
            );
        }
        self.agg
    }
}

/// The parts' folders once every child ended well; a child that failed fails the run (as bad
/// usage when every part failed alike before any traffic: an invalid scenario, say).
fn finished_parts(
    cfg: &Config,
    parts_dir: &Path,
    children: &[Child],
    agg: &Aggregator,
) -> Result<Vec<PathBuf>, Failure> {
    let n = cfg.processes;
    let mut parts = Vec::new();
    let mut failed = Vec::new();
    for c in children {
        let code = c.status.flatten();
        if !cfg.quiet {
            eprintln!(
                "part {}/{n} ended (exit {}, max RSS {:.1} MiB)",
                c.i,
                code.map_or("signal".into(), |c| c.to_string()),
                c.rss_kib as f64 / 1024.0
            );
        }
        match code {
            Some(exit::OK) | Some(exit::INTERRUPTED) => parts.push(c.dir.clone()),
            _ => failed.push(c.i),
        }
    }
    if failed.is_empty() {
        return Ok(parts);
    }
    let list: Vec<String> = failed
        .iter()
        .map(|i| {
            parts_dir
                .join(format!("part-{i}.log"))
                .display()
                .to_string()
        })
        .collect();
    let msg = format!(
        "part(s) {failed:?} failed; see {}; the other parts are in {}",
        list.join(", "),
        parts_dir.display()
    );
    // An invalid scenario or bad usage fails every part alike, before any traffic.
    if parts.is_empty() && failed.len() == n as usize && !any_traffic(agg) {
        Err(Failure::Usage(msg))
    } else {
        Err(Failure::Tool(anyhow::anyhow!(msg)))
    }
}

/// The peak RSS of the parent and of each child.
fn print_rss(children: &[Child]) {
    let own = own_max_rss_kib();
    let parts: u64 = children.iter().map(|c| c.rss_kib).sum();
    eprintln!(
        "  max RSS: parent {:.1} MiB + parts {} = {:.1} MiB for all {} processes",
        own as f64 / 1024.0,
        children
            .iter()
            .map(|c| format!("{:.1}", c.rss_kib as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(" + "),
        (own + parts) as f64 / 1024.0,
        children.len() + 1
    );
}

/// Whether child `pid` has ended: its exit code (`None`: ended by a signal) and its peak
/// resident set size in KiB (from `wait4`, exact: the kernel's high-water mark of that process).
fn reap(pid: u32) -> Option<(Option<i32>, u64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid pointers to locals; WNOHANG never blocks.
    let got = unsafe { libc::wait4(pid as libc::pid_t, &mut status, libc::WNOHANG, &mut usage) };
    if got == 0 {
        return None;
    }
    if got < 0 {
        // Not ours to wait for any more (already reaped): ended, code unknown.
        return Some((None, 0));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Some((code, usage.ru_maxrss.max(0) as u64))
}

/// This process's peak resident set size in KiB.
fn own_max_rss_kib() -> u64 {
    // SAFETY: as in `reap`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_maxrss.max(0) as u64
}

fn any_traffic(agg: &Aggregator) -> bool {
    agg.total.requests() > 0 || agg.total.iterations > 0
}

#[cfg(test)]
mod tests {
    use super::child_args;
    use std::ffi::OsString;

    #[test]
    fn processes_and_out_are_left_to_the_parent() {
        let argv: Vec<OsString> = [
            "run",
            "s.yaml",
            "--processes",
            "4",
            "--out=x",
            "--vus",
            "10",
            "--out",
            "y",
            "--processes=2",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let got: Vec<String> = child_args(&argv)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, vec!["run", "s.yaml", "--vus", "10"]);
    }
}
