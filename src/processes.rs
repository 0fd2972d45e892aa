//! `stampede run --processes N`: the run as N child processes on this machine, each a segment
//! (`--segment i/N`, a common `--start-at`), merged at the end into one report — for more
//! connections than one process may open. The children draw no live view: they stream each
//! worker's per-second snapshot to the parent (`live_wire`, on their stdout), and the parent
//! adds them up into one live view (dashboard, bar or plain lines) of the whole run. Ctrl-C in
//! the parent stops the children gracefully (they write their parts) and the merge still runs;
//! a child that dies fails the run as a tool (exit 1) with the other parts left on disk.

use crate::cli::RunArgs;
use crate::engine::Control;
use crate::live_wire;
use crate::metrics::Aggregator;
use crate::metrics::aggregate::{LiveObserve, Snapshot};
use crate::metrics::recorder::Recorder;
use crate::plan::Plan;
use crate::sla;
use crate::tui::state::{Phase, Publisher};
use crate::tui::{Mode, Views};
use crate::{Failure, exit};
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
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

/// Adds the children's worker snapshots into one snapshot per second: a second is handed to
/// the aggregator once every worker of every live child has reported it (so the live view
/// shows whole seconds of the whole run), or once a later second is complete.
struct Mux {
    /// Per child: its worker count once it said hello; whether it still runs.
    workers: Vec<Option<usize>>,
    alive: Vec<bool>,
    steps: usize,
    pending: BTreeMap<u64, (Snapshot, HashSet<(usize, usize)>)>,
    /// The last second handed over.
    closed: u64,
}

impl Mux {
    fn new(children: usize, steps: usize) -> Mux {
        Mux {
            workers: vec![None; children],
            alive: vec![true; children],
            steps,
            pending: BTreeMap::new(),
            closed: 0,
        }
    }

    fn expected(&self) -> Option<usize> {
        let mut n = 0;
        for (w, alive) in self.workers.iter().zip(&self.alive) {
            match (w, alive) {
                (Some(w), true) => n += w,
                (None, true) => return None,
                _ => {}
            }
        }
        Some(n)
    }

    fn add(&mut self, child: usize, snap: Snapshot, agg: &mut Aggregator) {
        if snap.second <= self.closed {
            // A worker's last flush for a second already shown: joins that second's row.
            agg.add(Snapshot { worker: 0, ..snap });
            return;
        }
        let steps = self.steps;
        let (acc, seen) = self.pending.entry(snap.second).or_insert_with(|| {
            (
                Snapshot {
                    worker: 0,
                    second: snap.second,
                    data: Recorder::new(steps),
                    vus: 0,
                    vus_peak: 0,
                },
                HashSet::new(),
            )
        });
        acc.data.add(&snap.data);
        acc.vus += snap.vus;
        acc.vus_peak += snap.vus_peak;
        seen.insert((child, snap.worker));
        self.settle(agg);
    }

    /// Hand over every second up to the last complete one, and any second that has waited
    /// while `STALL` later ones arrived (a child that hangs does not freeze the view; what it
    /// sends late joins its second's row).
    fn settle(&mut self, agg: &mut Aggregator) {
        const STALL: u64 = 3;
        let complete = self.expected().and_then(|expected| {
            self.pending
                .iter()
                .filter(|(_, (_, seen))| seen.len() >= expected)
                .map(|(s, _)| *s)
                .next_back()
        });
        let stalled = self
            .pending
            .keys()
            .next_back()
            .map(|newest| newest.saturating_sub(STALL))
            .filter(|s| *s > 0);
        if let Some(last) = complete.max(stalled) {
            self.flush_through(last, agg);
        }
    }

    fn flush_through(&mut self, second: u64, agg: &mut Aggregator) {
        let rest = self.pending.split_off(&(second.saturating_add(1)));
        for (s, (snap, _)) in std::mem::replace(&mut self.pending, rest) {
            agg.add(snap);
            self.closed = s;
        }
    }

    fn hello(&mut self, child: usize, workers: usize, agg: &mut Aggregator) {
        self.workers[child] = Some(workers);
        self.settle(agg);
    }

    /// A child ended (or died): its seconds no longer wait for it.
    fn gone(&mut self, child: usize, agg: &mut Aggregator) {
        self.alive[child] = false;
        self.settle(agg);
    }
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

pub fn run(
    n: u32,
    args: &RunArgs,
    out: PathBuf,
    plan: Plan,
    interrupts: Arc<AtomicUsize>,
) -> Result<i32, Failure> {
    if n < 1 {
        return Err(Failure::Usage("--processes N: at least 1".into()));
    }
    let p = &args.part;
    if p.segment.is_some() || p.segment_of.is_some() || p.barrier.is_some() {
        return Err(Failure::Usage(
            "--processes makes its own segments: leave out --segment, --segment-of and --barrier"
                .into(),
        ));
    }
    let seen_interrupts = interrupts.load(Ordering::SeqCst);
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Tool(anyhow::anyhow!("cannot find the stampede binary: {e}")))?;
    // `stampede run FILE ...`: everything after the program name.
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let base = child_args(&argv);
    let parts_dir = out.join("parts");
    std::fs::create_dir_all(&parts_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", parts_dir.display())))?;
    let start_at = match &p.start_at {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .map_err(|e| {
                Failure::Usage(format!(
                    "--start-at {s}: not an RFC 3339 time ({e}); e.g. 2026-12-01T23:50:00Z"
                ))
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now() + chrono::Duration::seconds(3),
    };
    let start_text = start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let has_start = p.start_at.is_some();
    if !args.quiet {
        eprintln!(
            "stampede · {n} processes, one segment each, starting at {start_text} · logs and parts in {}",
            parts_dir.display()
        );
    }
    let steps = plan.step_names.len();
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
        if !args.quiet {
            // The children draw no live view: the parent does.
            cmd.arg("--quiet");
        }
        if !has_start {
            cmd.arg("--start-at").arg(&start_text);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| tool(format!("cannot start part {i}: {e}")))?;
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            let idx = (i - 1) as usize;
            readers.push(
                std::thread::Builder::new()
                    .name(format!("stampede-part-{i}"))
                    .spawn(move || read_child(idx, stdout, log, steps, tx))
                    .map_err(tool)?,
            );
        }
        children.push((i, dir, child, None::<Option<i32>>));
    }
    drop(tx);

    // The live view, from the moment the children start their load.
    let plan = Arc::new(plan);
    let until_start = (start_at - chrono::Utc::now()).to_std().unwrap_or_default();
    let started = Instant::now() + until_start;
    let control = Arc::new(Control::default());
    let mut views = Views::start(
        Mode::detect(args.quiet, args.no_tui),
        plan.planned_duration(),
        control.clone(),
        interrupts.clone(),
        started,
    );
    let mut publisher = Publisher::new(plan.clone(), started);
    let mut agg = Aggregator::new(1, steps);
    let mut mux = Mux::new(n as usize, steps);
    let mut outcomes: Vec<sla::Outcome> = Vec::new();
    let mut forwarded = 0usize;
    let mut eofs = 0usize;
    let mut last_second = 0usize;
    let mut shown_phase = Phase::Running;
    let mut dead: Vec<(u32, String)> = Vec::new();
    let mut rss_kib = vec![0u64; n as usize];
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Hello(c, w)) => mux.hello(c, w, &mut agg),
            Ok(Msg::Snap(c, s)) => mux.add(c, *s, &mut agg),
            Ok(Msg::Bad(c, e)) => views.notice(&format!("part {}: {e}", c + 1)),
            Ok(Msg::Eof(c)) => {
                // Every line of it is read: its seconds no longer wait for it.
                eofs += 1;
                mux.gone(c, &mut agg);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => eofs = readers.len(),
        }
        // Ctrl-C (or the dashboard's q): each one to every child still running.
        let asked = interrupts.load(Ordering::SeqCst) - seen_interrupts;
        while forwarded < asked {
            forwarded += 1;
            control.stop.store(true, Ordering::SeqCst);
            for (_, _, child, status) in &children {
                if status.is_none() {
                    // SAFETY: kill(2) on our own child's pid; it has not been reaped (no status
                    // yet), so the pid is still ours.
                    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                }
            }
            views.notice(if forwarded == 1 {
                "stopping: the parts let their VUs finish the iteration (Ctrl-C again to stop at once)"
            } else {
                "stopping the parts at once"
            });
        }
        for (i, _, child, status) in children.iter_mut() {
            if status.is_some() {
                continue;
            }
            if let Some((code, rss)) = reap(child.id()) {
                *status = Some(code);
                rss_kib[(*i - 1) as usize] = rss;
                if !matches!(code, Some(exit::OK) | Some(exit::INTERRUPTED)) {
                    let how =
                        code.map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
                    views.notice(&format!("part {i}/{n} died ({how}); the others go on"));
                    dead.push((*i, how));
                }
            }
        }
        let all_exited = children.iter().all(|c| c.3.is_some());
        if all_exited && eofs >= readers.len() {
            break;
        }
        let elapsed = started.elapsed();
        if Instant::now() < started {
            continue;
        }
        let phase = if control.stop.load(Ordering::SeqCst) || elapsed >= plan.planned_duration() {
            Phase::Stopping
        } else {
            Phase::Running
        };
        let new_second = agg.timeline.len() != last_second;
        if new_second {
            last_second = agg.timeline.len();
            let live = LiveObserve {
                view: agg.view(elapsed),
                step_names: &plan.step_names,
                vus_allowed: plan.peak_vus(),
                scenarios: &plan.scenarios,
            };
            outcomes = sla::evaluate_all(&plan.thresholds, &live);
        }
        if views.active() && (new_second || phase != shown_phase) {
            shown_phase = phase;
            views.show(publisher.build(&agg, &outcomes, elapsed, phase, views.current_notice()));
        }
    }
    for r in readers {
        let _ = r.join();
    }
    views.finish();
    mux.flush_through(u64::MAX, &mut agg);
    agg.close_all();
    if !args.quiet {
        eprintln!(
            "live view of all parts: {} requests, {} failures, {} iterations",
            agg.total.requests(),
            agg.total.failures(),
            agg.total.iterations
        );
    }
    let mut parts = Vec::new();
    let mut failed = Vec::new();
    for (i, dir, _, status) in children {
        let code = status.flatten();
        if !args.quiet {
            eprintln!(
                "part {i}/{n} ended (exit {}, max RSS {:.1} MiB)",
                code.map_or("signal".into(), |c| c.to_string()),
                rss_kib[(i - 1) as usize] as f64 / 1024.0
            );
        }
        match code {
            Some(exit::OK) | Some(exit::INTERRUPTED) => parts.push(dir),
            _ => failed.push(i),
        }
    }
    if !failed.is_empty() {
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
        return if parts.is_empty() && dead.len() == n as usize && !any_traffic(&agg) {
            Err(Failure::Usage(msg))
        } else {
            Err(Failure::Tool(anyhow::anyhow!(msg)))
        };
    }
    // The live view's state goes before the merge reads the parts (the peak RSS is then the
    // larger of the two, not their sum).
    drop((agg, mux, publisher, views, outcomes));
    let code = crate::merge::merge_command(crate::merge::MergeArgs {
        parts,
        out,
        quiet: args.quiet,
    });
    if !args.quiet {
        let own = own_max_rss_kib();
        let parts: u64 = rss_kib.iter().sum();
        eprintln!(
            "  max RSS: parent {:.1} MiB + parts {} = {:.1} MiB for all {} processes",
            own as f64 / 1024.0,
            rss_kib
                .iter()
                .map(|k| format!("{:.1}", *k as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(" + "),
            (own + parts) as f64 / 1024.0,
            n + 1
        );
    }
    code
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
    use super::{Mux, child_args};
    use crate::metrics::Aggregator;
    use crate::metrics::aggregate::Snapshot;
    use crate::metrics::recorder::{Recorder, Sample};

    fn snap(worker: usize, second: u64, requests: u64, vus: u32) -> Snapshot {
        let mut data = Recorder::new(1);
        for _ in 0..requests {
            data.record(
                0,
                &Sample {
                    duration: Some(std::time::Duration::from_millis(2)),
                    status: Some(200),
                    ..Default::default()
                },
            );
        }
        Snapshot {
            worker,
            second,
            data,
            vus,
            vus_peak: vus,
        }
    }

    #[test]
    fn a_second_is_shown_once_every_worker_of_every_child_reported_it() {
        let mut agg = Aggregator::new(1, 1);
        let mut mux = Mux::new(2, 1);
        mux.hello(0, 2, &mut agg);
        mux.add(0, snap(0, 1, 5, 1), &mut agg);
        mux.add(0, snap(1, 1, 6, 1), &mut agg);
        assert!(
            agg.timeline.is_empty(),
            "child 2 has not said how many workers it has"
        );
        mux.hello(1, 1, &mut agg);
        assert!(agg.timeline.is_empty(), "child 2 has not reported second 1");
        mux.add(1, snap(0, 1, 7, 2), &mut agg);
        assert_eq!(agg.timeline.len(), 1);
        assert_eq!((agg.timeline[0].requests, agg.timeline[0].vus), (18, 4));
        // A worker's last flush for a second already shown joins that row.
        mux.add(0, snap(0, 1, 2, 0), &mut agg);
        assert_eq!(agg.timeline[0].requests, 20);
        // Child 1 ends: its seconds no longer wait for it.
        mux.add(1, snap(0, 2, 3, 2), &mut agg);
        assert_eq!(agg.timeline.len(), 1);
        mux.gone(0, &mut agg);
        assert_eq!(agg.timeline.len(), 2);
        assert_eq!(agg.total.requests(), 23);
    }

    #[test]
    fn a_child_that_hangs_does_not_freeze_the_view() {
        let mut agg = Aggregator::new(1, 1);
        let mut mux = Mux::new(2, 1);
        mux.hello(0, 1, &mut agg);
        mux.hello(1, 1, &mut agg);
        for s in 1..=4 {
            mux.add(0, snap(0, s, 1, 1), &mut agg);
        }
        // Second 1 waited while 3 later seconds arrived.
        assert_eq!(agg.timeline.len(), 1);
        assert_eq!(agg.timeline[0].requests, 1);
    }
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
