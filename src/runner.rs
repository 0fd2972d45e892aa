//! One test run from start to verdict: preflight, engine, aggregation, thresholds, reports.

use crate::cli::{DemoArgs, OverrideArgs, RunArgs, ValidateArgs};
use crate::engine::{self, Control};
use crate::metrics::Aggregator;
use crate::metrics::aggregate::LiveObserve;
use crate::plan::{Connections, Load, Plan, Think};
use crate::report::{self, CheckReport, RunReport, StepInfo};
use crate::scenario::duration::format_duration;
use crate::scenario::{self, Overrides};
use crate::sla;
use crate::stairs::{Judge, StairResult, StairView};
use crate::tui::state::{Phase, Publisher};
use crate::tui::{Mode, Views};
use crate::{Failure, exit};
use anyhow::Context as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The demo profile (also runnable on its own against `stampede target`).
pub const DEMO_SCENARIO: &str = include_str!("../examples/demo.yaml");

use crate::say;

/// How a run should behave, beyond the plan.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    /// `--out KIND=TARGET` live outputs, `--summary-export`, `--tag`, `--no-thresholds`...
    pub k6: crate::output::args::K6Options,
    pub quiet: bool,
    /// No dashboard even on a terminal (a progress bar instead).
    pub no_tui: bool,
    pub workers: Option<usize>,
    /// `--segment` / `--start-at`: this run is a part of a distributed run.
    pub part: Option<crate::part::PartRun>,
}

fn overrides(a: &OverrideArgs) -> Overrides {
    Overrides {
        target: a.target.clone(),
        vus: a.vus,
        duration: a.duration,
        rate: a.rate,
        scale: a.scale,
        time_scale: a.time_scale,
        env: a.env.clone(),
        insecure: a.insecure,
        iterations: a.iterations,
    }
}

pub fn run_command(args: RunArgs) -> Result<i32, Failure> {
    let (out, k6) = crate::output::args::K6Options::from_args(&args.output)?;
    if k6.no_color {
        // SAFETY: nothing else runs yet (the engine, the signal and output threads start later),
        // so no thread reads the environment while it changes.
        unsafe { std::env::set_var("NO_COLOR", "1") };
    }
    engine::debug::set(k6.http_debug);
    let debugging = k6.http_debug > 0;
    let mut plan = crate::output::quick::load(&args.file, &overrides(&args.overrides))?;
    if let Some(n) = args.part.processes {
        // Ctrl-C reaches the children (one process group): they stop gracefully and the
        // parent merges what they wrote.
        let _ = interrupts();
        let out = out
            .clone()
            .unwrap_or_else(|| default_out_dir(&plan.name, &chrono::Local::now()));
        return crate::processes::run(n, &args, out);
    }
    let part = crate::part::prepare(&args.part, &args.file, &args.overrides, &mut plan)?;
    execute(
        plan,
        &RunOptions {
            out,
            k6,
            quiet: args.quiet,
            no_tui: args.no_tui || debugging,
            workers: args.workers,
            part,
        },
    )
}

/// `stampede report html|compare`.
pub fn report_command(cmd: crate::cli::ReportCommand) -> Result<i32, Failure> {
    use crate::cli::ReportCommand;
    let load = |p: &Path| crate::summary::read(p).map_err(Failure::Usage);
    match cmd {
        ReportCommand::Html { summary, out } => {
            let v = load(&summary)?;
            let out = out.unwrap_or_else(|| {
                summary
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join("report.html")
            });
            report::files::write_atomic(&out, report::html::render(&v).as_bytes()).map_err(
                |e| Failure::ReportsLost {
                    missing: vec![format!("cannot write {}: {e}", out.display())],
                    verdict: exit::OK,
                },
            )?;
            say(&format!("wrote {}\n", out.display()));
            Ok(exit::OK)
        }
        ReportCommand::Compare {
            old,
            new,
            fail_on_regression,
        } => {
            let (a, b) = (load(&old)?, load(&new)?);
            for (v, p) in [(&a, &old), (&b, &new)] {
                report::compare::readable(v)
                    .map_err(|m| Failure::Usage(format!("{}: {m}", p.display())))?;
            }
            let changes = report::compare::compare(&a, &b);
            say(&report::compare::render(
                &changes,
                fail_on_regression,
                &old.display().to_string(),
                &new.display().to_string(),
            ));
            let regressed =
                fail_on_regression.is_some_and(|l| changes.iter().any(|c| c.regressed(l)));
            Ok(if regressed {
                exit::THRESHOLDS
            } else {
                exit::OK
            })
        }
    }
}

pub fn validate_command(args: ValidateArgs) -> Result<i32, Failure> {
    let plan = crate::output::quick::load(&args.file, &overrides(&args.overrides))?;
    say(&format!(
        "{}: valid\n{}",
        args.file.display(),
        describe(&plan)
    ));
    Ok(exit::OK)
}

pub fn demo_command(args: DemoArgs) -> Result<i32, Failure> {
    let (addr, _stats) = crate::target::spawn_background(SocketAddr::from(([127, 0, 0, 1], 0)), 1)
        .context("cannot start the built-in target")?;
    if !args.quiet {
        eprintln!("built-in target listening on http://{addr}");
    }
    let ov = Overrides {
        target: Some(format!("http://{addr}")),
        time_scale: args.time_scale,
        ..Overrides::default()
    };
    let plan = scenario::load_str(DEMO_SCENARIO, "examples/demo.yaml", "demo", &ov)?;
    execute(
        plan,
        &RunOptions {
            out: args.out,
            quiet: args.quiet,
            no_tui: args.no_tui,
            workers: None,
            ..RunOptions::default()
        },
    )
}

fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.3}")
    }
}

/// A readable description of a plan (used by `validate` and before a run).
pub fn describe(plan: &Plan) -> String {
    if plan.parts.is_empty() {
        return describe_one(plan, "");
    }
    let mut s = format!(
        "  name:       {}\n  target:     {}{}\n",
        plan.name,
        plan.target.url(),
        protocol_note(plan)
    );
    for ((name, _), part) in plan.scenarios.iter().zip(&plan.parts) {
        s.push_str(&format!("  scenario {name}:\n"));
        let one = describe_one(part, "  ");
        // Name and target were said once above.
        s.extend(
            one.lines()
                .skip(2)
                .filter(|l| !l.contains("threshold:"))
                .map(|l| format!("{l}\n")),
        );
    }
    for line in describe_one(plan, "")
        .lines()
        .filter(|l| l.contains("threshold:"))
    {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// How the target is spoken to, when it is not plain HTTP/1.1 with the defaults.
fn protocol_note(plan: &Plan) -> String {
    use crate::plan::HttpVersion;
    let h = &plan.http;
    let mut parts: Vec<String> = Vec::new();
    match (h.version, plan.target.tls) {
        (HttpVersion::Http1, true) => parts.push("HTTP/1.1 over TLS".into()),
        (HttpVersion::Http2, true) => parts.push("HTTP/2 over TLS".into()),
        (HttpVersion::Auto, true) => parts.push("HTTP/2 or 1.1 by ALPN over TLS".into()),
        (HttpVersion::Http2, false) => parts.push("HTTP/2 cleartext (h2c)".into()),
        _ => {}
    }
    if plan.target.tls {
        parts.push(if h.tls.insecure {
            "certificate NOT verified".into()
        } else if h.tls.ca.is_some() {
            "verified against http.tls.ca_file".into()
        } else {
            "verified against the system roots".into()
        });
        if let Some(n) = &h.tls.server_name {
            parts.push(format!("server name {n}"));
        }
        if h.tls.client_cert.is_some() {
            parts.push("client certificate".into());
        }
        if !h.tls.resumption {
            parts.push("no session resumption".into());
        }
    }
    if let Some(p) = &h.proxy {
        parts.push(format!("via proxy {}:{} from {}", p.host, p.port, p.origin));
    }
    if h.max_redirects != 10 {
        parts.push(match h.max_redirects {
            0 => "redirects not followed".into(),
            n => format!("up to {n} redirects"),
        });
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn describe_one(plan: &Plan, indent: &str) -> String {
    let mut s = String::new();
    let load = match &plan.load {
        Load::ConstantVus { vus, duration, .. } => {
            format!("constant-vus: {vus} VUs for {}", format_duration(*duration))
        }
        Load::RampingVus {
            start_vus, stages, ..
        } => {
            let st: Vec<String> = stages
                .iter()
                .map(|x| format!("{}→{}", format_duration(x.duration), x.target))
                .collect();
            format!(
                "ramping-vus: from {start_vus}, stages {} (peak {} VUs, {})",
                st.join(", "),
                plan.load.max_vus(),
                format_duration(plan.load.duration())
            )
        }
        Load::PerVuIterations(i) => format!(
            "per-vu-iterations: {} VUs × {} iterations (at most {})",
            i.vus,
            i.iterations,
            format_duration(i.max_duration)
        ),
        Load::SharedIterations(i) => format!(
            "shared-iterations: {} iterations shared by {} VUs (at most {})",
            i.iterations,
            i.vus,
            format_duration(i.max_duration)
        ),
        Load::ConstantArrivalRate(a) => format!(
            "constant-arrival-rate: {}/s for {} ({} VUs pre-allocated, up to {}; queue {})",
            fmt_rate(a.start_rate),
            format_duration(a.duration()),
            a.pre_allocated_vus,
            a.max_vus,
            a.queue_size
        ),
        Load::RampingArrivalRate(a) if a.stairs.is_some() => {
            let st = a.stair_list();
            let (first, last) = (st.first(), st.last());
            format!(
                "breakpoint: {} stairs from {}/s to {}/s, {} each (first {} not judged), stopping at the first that fails ({} VUs pre-allocated, up to {}; queue {})",
                st.len(),
                fmt_rate(first.map_or(0.0, |s| s.rate)),
                fmt_rate(last.map_or(0.0, |s| s.rate)),
                format_duration(first.map_or(Duration::ZERO, |s| s.end - s.start)),
                format_duration(a.stairs.map_or(Duration::ZERO, |s| s.warmup)),
                a.pre_allocated_vus,
                a.max_vus,
                a.queue_size
            )
        }
        Load::RampingArrivalRate(a) => {
            let st: Vec<String> = a
                .stages
                .iter()
                .map(|x| format!("{}→{}/s", format_duration(x.duration), fmt_rate(x.target)))
                .collect();
            format!(
                "ramping-arrival-rate: from {}/s, stages {} ({} VUs pre-allocated, up to {}; queue {})",
                fmt_rate(a.start_rate),
                st.join(", "),
                a.pre_allocated_vus,
                a.max_vus,
                a.queue_size
            )
        }
    };
    let think = match plan.think {
        Think::None => "none".to_string(),
        Think::Constant(d) => format!("constant({})", format_duration(d)),
        Think::Between(a, b) => format!("between({}, {})", format_duration(a), format_duration(b)),
        Think::Exponential(d) => format!("exponential({})", format_duration(d)),
        Think::Pacing(d) => format!("pacing({})", format_duration(d)),
    };
    s.push_str(&format!(
        "  name:       {}\n  target:     {}{}\n{indent}  load:       {load}\n{indent}  think time: {think}\n",
        plan.name,
        plan.target.url(),
        protocol_note(plan)
    ));
    for f in &plan.flows {
        s.push_str(&format!(
            "{indent}  flow {} (weight {}): {} steps\n",
            f.name,
            f.weight,
            f.steps.len()
        ));
        for st in &f.steps {
            s.push_str(&format!(
                "{indent}    - {} [{}]\n",
                st.source, plan.step_names[st.metric]
            ));
        }
    }
    for t in &plan.thresholds {
        s.push_str(&format!(
            "  threshold:  {} {}{}\n",
            t.metric,
            t.expression,
            if t.abort_on_fail {
                " (abort on fail)"
            } else {
                ""
            }
        ));
    }
    s
}

/// Resolve the target (or its proxy) and check that it accepts connections, before any load
/// is sent.
fn preflight(plan: &Plan) -> Result<Vec<SocketAddr>, Failure> {
    if let Some(p) = &plan.http.proxy {
        let addrs: Vec<SocketAddr> = (p.host.as_str(), p.port)
            .to_socket_addrs()
            .map_err(|e| {
                Failure::Usage(format!(
                    "{}: cannot resolve proxy {}:{}: {e}",
                    p.origin, p.host, p.port
                ))
            })?
            .collect();
        for a in &addrs {
            if TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok() {
                return Ok(addrs);
            }
        }
        return Err(Failure::Usage(format!(
            "{}: proxy {}:{} is unreachable",
            p.origin, p.host, p.port
        )));
    }
    let url = plan.target.url();
    let addrs: Vec<SocketAddr> = match plan.resolve_override() {
        Some(a) => Ok(vec![a]),
        None => (plan.target.host.as_str(), plan.target.port)
            .to_socket_addrs()
            .map(|a| a.collect()),
    }
    .map_err(|e| {
        Failure::Usage(format!(
            "{}: cannot resolve target {url}: {e}",
            plan.target_origin
        ))
    })?;
    if addrs.is_empty() {
        return Err(Failure::Usage(format!(
            "{}: target {url} resolves to no address",
            plan.target_origin
        )));
    }
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(3)) {
            Ok(_) => return Ok(addrs),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map(|e| e.to_string()).unwrap_or_default();
    Err(Failure::Usage(format!(
        "{}: target {url} is unreachable ({why}); is the service running? (`stampede target --addr {}:{}` starts a test target)",
        plan.target_origin, plan.target.host, plan.target.port
    )))
}

/// Files kept for everything but the load's sockets (stdio, reports, the runtime's epoll...).
const FD_RESERVE: u64 = 64;

/// Refuse, before any traffic, a plan that would run out of file descriptors or source ports.
fn check_limits(plan: &Plan, nofile: u64) -> Result<(), Failure> {
    let peak = plan.peak_connections();
    let mode = match plan.http.connections {
        Connections::PerVu => format!(
            "per-vu connections: one per VU, {} VUs at peak",
            plan.peak_vus()
        ),
        Connections::Pooled { max } => format!("a pool of {max}"),
    };
    if nofile > 0 && peak + FD_RESERVE > nofile {
        let room = nofile.saturating_sub(FD_RESERVE);
        return Err(Failure::Usage(format!(
            "{} needs up to {peak} connections at once ({mode}), but this process may open only {nofile} files (hard limit, `ulimit -Hn`; {FD_RESERVE} kept for other files). Ways out:\n  \
             - share connections: `http: {{ connections: pooled, max_connections: {} }}` (or fewer)\n  \
             - raise the hard limit (`ulimit -Hn`, `nofile` in /etc/security/limits.conf or the container runtime)\n  \
             - split the load over several processes or machines, each with a part of the VUs",
            plan.name,
            room.min(peak).max(1)
        )));
    }
    // Each (source address, target address) pair has one ephemeral port range of its own.
    let ports = ephemeral_ports();
    let pairs = plan.http.local_ips.len().max(1) as u64;
    if ports > 0 && peak > ports * pairs {
        return Err(Failure::Usage(format!(
            "{} needs up to {peak} connections at once ({mode}), but {pairs} source address(es) give only {} ports towards one target address (ephemeral range {ports} per address). Spread them with `http.local_ips: [127.0.0.1, 127.0.0.2, ...]` (or a CIDR such as 127.0.0.0/28) or use pooled connections",
            plan.name,
            ports * pairs
        )));
    }
    Ok(())
}

/// How many ephemeral ports the kernel hands out per address pair (0 when unknown).
fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u64>());
            match (it.next(), it.next()) {
                (Some(Ok(lo)), Some(Ok(hi))) if hi >= lo => Some(hi - lo + 1),
                _ => None,
            }
        })
        .unwrap_or(0)
}

/// Raise the soft open-files limit to the hard one (each VU holds a socket).
fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

/// Ctrl-C / SIGTERM count for the whole process (first: graceful stop, second: stop now).
fn interrupts() -> &'static Arc<AtomicUsize> {
    static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    COUNT.get_or_init(|| {
        let count = Arc::new(AtomicUsize::new(0));
        // SIGHUP (the terminal went away) stops the same graceful way: the report is written.
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ]) {
            let c = count.clone();
            // The run loop tells the user (through its live view, which may own the terminal).
            let _ = std::thread::Builder::new()
                .name("stampede-signals".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                });
        }
        count
    })
}

fn default_out_dir(name: &str, at: &chrono::DateTime<chrono::Local>) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Path::new("reports").join(format!("{safe}-{}", at.format("%Y%m%d-%H%M%S")))
}

/// One judged stair of a breakpoint run, as a progress line.
fn stair_line(r: &StairResult) -> String {
    let p99 = r.p99_ms.map_or("-".into(), |v| format!("{v:.1}ms"));
    if r.passed {
        format!(
            "stair {}/s passed: achieved {:.0}/s · p99 {p99} · errors {:.2}%",
            fmt_rate(r.offered_rps),
            r.achieved_rps,
            r.error_rate * 100.0
        )
    } else {
        format!(
            "stair {}/s FAILED: {}",
            fmt_rate(r.offered_rps),
            r.reasons.join("; ")
        )
    }
}

/// Run a plan to the end and report; returns the exit code.
pub fn execute(mut plan: Plan, opts: &RunOptions) -> Result<i32, Failure> {
    if opts.k6.no_thresholds {
        plan.thresholds.clear();
    }
    check_limits(&plan, raise_nofile_limit())?;
    let addrs = preflight(&plan)?;
    let first_addr = addrs.first().copied();
    let started_at = chrono::Local::now();
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&plan.name, &started_at));
    report::files::probe_dir(&out).map_err(Failure::Usage)?;
    let interrupts = interrupts().clone();
    let seen_interrupts = interrupts.load(Ordering::SeqCst);
    let plan = Arc::new(plan);
    if !opts.quiet {
        eprintln!(
            "stampede · {} · {} · peak {} VUs · {} (+{} graceful stop) · target {}",
            plan.name,
            plan.executor_label(),
            plan.peak_vus(),
            format_duration(plan.planned_duration()),
            format_duration(plan.graceful_stop()),
            plan.target.url()
        );
    }
    if plan.target.tls && plan.http.tls.insecure {
        // Loud on purpose, and even with --quiet: nothing about the server is verified.
        eprintln!(
            "WARNING: TLS certificate verification is OFF (--insecure / http.tls.insecure): \
             any certificate from {} is accepted, including a forged one. Use for test setups only; \
             prefer http.tls.ca_file.",
            plan.target.url()
        );
    }
    let sinks = crate::output::Opened::open(
        &opts.k6.outputs,
        crate::output::run_info(&plan, &opts.k6.tags, &started_at),
    )
    .map_err(|e| Failure::Usage(format!("{e:#}")))?;
    if let Some(seg) = &plan.segment
        && !opts.quiet
    {
        eprintln!(
            "segment {} (part {} of {}): thresholds are judged by `stampede merge` on all parts",
            seg.segment.label(),
            seg.segment.index + 1,
            seg.segment.count(),
        );
    }
    let start_at = match &opts.part {
        Some(p) => crate::part::start_time(p, opts.quiet)?,
        None => None,
    };
    if let Some(at) = start_at
        && crate::part::wait_until(at, &interrupts, seen_interrupts, opts.quiet).is_none()
    {
        eprintln!("interrupted while waiting for --start-at: nothing was sent");
        return Ok(exit::INTERRUPTED);
    }
    let workers = opts.workers.unwrap_or_else(engine::default_workers);
    let eng = engine::start(plan.clone(), addrs, workers).context("cannot start the engine")?;
    let outputs = sinks.start(eng.workers);
    let engine_started_at =
        chrono::Utc::now() - chrono::Duration::from_std(eng.started.elapsed()).unwrap_or_default();
    if let Some(at) = start_at {
        let late_ms = (engine_started_at - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        if late_ms > crate::summary::LATE_MS {
            eprintln!(
                "WARNING: started {late_ms:.0} ms after --start-at {}: this part is late (recorded in summary.json)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
    }
    let control: Arc<Control> = eng.control.clone();
    let mut judge = plan.load.arrival().and_then(Judge::new);
    let mut agg = Aggregator::new(eng.workers, plan.step_names.len());
    let mut windows = crate::windows::WindowJudge::new(&plan.thresholds);
    if judge.is_some() || windows.is_some() {
        agg = agg.keep_seconds();
    }
    if plan.segment.is_some() {
        agg = agg.keep_second_histograms();
    }
    let stair_view = StairView {
        step_names: &plan.step_names,
        scenarios: &plan.scenarios,
        vus_allowed: plan.peak_vus(),
    };
    let mut views = Views::start(
        Mode::detect(opts.quiet, opts.no_tui),
        plan.planned_duration(),
        control.clone(),
        interrupts.clone(),
        eng.started,
    );
    let mut publisher = Publisher::new(plan.clone(), eng.started);
    let mut outcomes: Vec<sla::Outcome> = Vec::new();
    let mut shown_phase = Phase::Running;
    let mut interrupted = false;
    let mut aborted_by: Option<String> = None;
    let mut last_second = 0usize;
    loop {
        match eng.snapshots.recv_timeout(Duration::from_millis(100)) {
            Ok(snap) => {
                outputs.offer(&snap);
                agg.add(snap)
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let n = interrupts.load(Ordering::SeqCst) - seen_interrupts;
        if n >= 1 && !interrupted {
            interrupted = true;
            control.stop.store(true, Ordering::SeqCst);
            views.notice(
                "stopping: letting VUs finish their iteration (Ctrl-C again to stop at once)",
            );
        }
        if n >= 2 && !control.hard_stop.load(Ordering::SeqCst) {
            control.hard_stop.store(true, Ordering::SeqCst);
            views.notice("stopping at once: interrupting running iterations");
        }
        let elapsed = eng.started.elapsed();
        let phase = if control.stop.load(Ordering::SeqCst) || elapsed >= plan.planned_duration() {
            Phase::Stopping
        } else if control.pause.load(Ordering::Relaxed) {
            Phase::Paused
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
            crate::windows::live(
                &mut windows,
                &mut agg,
                &plan,
                &mut outcomes,
                judge.is_some(),
            );
            for o in &outcomes {
                let t = &o.threshold;
                if o.observed.is_some()
                    && !o.passed
                    && t.abort_on_fail
                    // A segment alone does not judge thresholds (the merge does).
                    && plan.segment.is_none()
                    && aborted_by.is_none()
                    && elapsed >= t.delay_abort_eval
                {
                    aborted_by = Some(format!("{} {}", t.metric, t.expression));
                    control.stop.store(true, Ordering::SeqCst);
                    views.notice(&format!(
                        "aborting: threshold {} {} failed (abort_on_fail)",
                        t.metric, t.expression
                    ));
                }
            }
            if let Some(j) = &mut judge {
                for r in j.judge_ready(&agg, &plan.thresholds, &stair_view) {
                    views.notice(&stair_line(&r));
                }
                if j.broken() && !control.stop.load(Ordering::SeqCst) {
                    control.stop.store(true, Ordering::SeqCst);
                    views.notice("breakpoint found: stopping the run");
                }
            }
        }
        if views.active() && (new_second || phase != shown_phase) {
            shown_phase = phase;
            views.show(publisher.build(&agg, &outcomes, elapsed, phase, views.current_notice()));
        }
    }
    views.finish();
    let elapsed = eng.started.elapsed();
    agg.close_all();
    crate::windows::at_end(&mut windows, &agg, &plan);
    let capacity = judge.map(|mut j| {
        for r in j.judge_ready(&agg, &plan.thresholds, &stair_view) {
            if !opts.quiet {
                eprintln!("{}", stair_line(&r));
            }
        }
        j.finish()
    });
    eng.join().map_err(|e| Failure::Tool(anyhow::anyhow!(e)))?;
    let output_notes = outputs.finish();
    let agg_seconds = agg.second_histograms().to_vec();
    let mut result = agg.finish(plan.step_names.clone(), elapsed, plan.peak_vus());
    result.scenarios = plan.scenarios.clone();
    let segment_info = opts.part.as_ref().and_then(|p| {
        crate::part::info(
            p,
            start_at,
            &plan,
            engine_started_at,
            agg_seconds.as_slice(),
        )
    });
    // A segment's thresholds are judged only on the merged result.
    let mut outcomes = if segment_info.is_some() {
        Vec::new()
    } else {
        sla::evaluate_all(&plan.thresholds, &result)
    };
    if segment_info.is_none()
        && let Some(w) = &windows
    {
        w.patch(&mut outcomes);
    }
    let exit_code = crate::verdict::Verdict::of(&crate::verdict::Judged {
        outcomes: &outcomes,
        aborted_by: aborted_by.as_deref(),
        capacity: capacity.as_ref(),
        segment: segment_info.is_some(),
        interrupted,
    })
    .exit_code();
    let steps = plan
        .flows
        .iter()
        .flat_map(|f| {
            f.steps.iter().map(|s| StepInfo {
                name: plan.step_names[s.metric].clone(),
                flow: f.name.clone(),
                request: s.source.clone(),
            })
        })
        .fold(Vec::<StepInfo>::new(), |mut acc, s| {
            if !acc.iter().any(|a| a.name == s.name) {
                acc.push(s);
            }
            acc
        });
    let checks = plan
        .checks
        .iter()
        .enumerate()
        .map(|(id, c)| {
            let [passes, fails] = result.total.checks.get(id).copied().unwrap_or([0, 0]);
            CheckReport {
                step: plan.step_names[c.metric].clone(),
                description: c.description.clone(),
                passes,
                fails,
            }
        })
        .collect();
    // Failed handshakes: one more, accepting anything, to say what the certificate holds.
    let tls_certificate = match first_addr {
        Some(a)
            if plan.target.tls
                && plan.http.proxy.is_none()
                && result.total.error_count(crate::metrics::ErrorKind::Tls) > 0 =>
        {
            crate::engine::tls::describe_server_certificate(
                a,
                &plan.target,
                &plan.http.tls,
                Duration::from_secs(3),
            )
        }
        _ => None,
    };
    let rep = RunReport {
        name: plan.name.clone(),
        target: plan.target.url(),
        executor: plan.executor_label(),
        started_at,
        planned: plan.planned_duration(),
        interrupted,
        aborted_by,
        steps,
        result,
        outcomes,
        exit_code,
        checks,
        capacity,
        tls_certificate,
        segment: segment_info,
        merged: None,
    };
    // The terminal summary first: whatever happens to the files, the verdict is on screen.
    say(&format!(
        "{}  report: {}\n",
        report::text::render(&rep),
        out.join("summary.json").display()
    ));
    if let Some(p) = &rep.segment {
        say(&format!(
            "segment {} ({} of {}): thresholds not judged by a segment alone; merge all parts with `stampede merge PARTS... --out DIR` for the verdict\n",
            p.segment,
            p.index,
            p.sequence.split(',').count() - 1
        ));
    }
    let summary = match report::write_all(&rep, &out) {
        Ok(s) => s,
        Err(missing) => {
            return Err(Failure::ReportsLost {
                missing: missing.0,
                verdict: exit_code,
            });
        }
    };
    crate::output::args::write_k6_files(&summary, &opts.k6).map_err(Failure::Tool)?;
    for n in &output_notes {
        eprintln!("warning: {n}");
    }
    if opts.part.as_ref().is_some_and(|p| p.print_summary_line) {
        say(&format!("{}{summary}\n", crate::k8s::SUMMARY_LINE));
    }
    Ok(exit_code)
}
