//! One test run from start to verdict: preflight, engine, aggregation, thresholds, reports.

mod describe;
mod limits;
mod live;
mod preflight;
mod signals;

use crate::engine::{self, Control};
use crate::metrics::Aggregator;
use crate::metrics::aggregate::LiveObserve;
use crate::plan::Plan;
use crate::report::{self, CheckReport, RunReport, StepInfo};
use crate::sla;
use crate::tui::state::Publisher;
use crate::tui::{Mode, Views};
use crate::units::duration::format_duration;
use crate::verdict::breakpoint::{Judge, StairResult, StairView};
use crate::{Failure, exit};
use anyhow::Context as _;
pub use describe::describe;
use describe::fmt_rate;
use limits::{check_limits, raise_nofile_limit};
use live::LiveLoop;
use preflight::preflight;
pub(crate) use signals::interrupts;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// The demo profile (also runnable on its own against `stampede target`).
pub const DEMO_SCENARIO: &str = include_str!("../../examples/demo.yaml");

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

pub(crate) fn default_out_dir(name: &str, at: &chrono::DateTime<chrono::Local>) -> PathBuf {
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
    report::files::probe_dir(&out).map_err(|e| Failure::Usage(e.to_string()))?;
    let interrupts = interrupts().clone();
    let seen_interrupts = interrupts.load(Ordering::SeqCst);
    let plan = Arc::new(plan);
    announce(&plan, opts);
    let sinks = crate::output::Opened::open(
        &opts.k6.outputs,
        crate::output::run_info(&plan, &opts.k6.tags, &started_at),
    )
    .map_err(|e| Failure::Usage(format!("{e:#}")))?;
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
    warn_if_late(start_at, engine_started_at);
    let mut judging = Judging::new(&plan, eng.workers);
    let live = watch(
        &plan,
        opts,
        &eng,
        &outputs,
        &mut judging,
        &interrupts,
        LiveLoop::new(seen_interrupts),
    );
    let LiveLoop {
        interrupted,
        aborted_by,
        ..
    } = live;
    let elapsed = eng.started.elapsed();
    let (agg, windows, capacity) = judging.close(&plan, opts.quiet);
    eng.join().map_err(|e| Failure::Tool(anyhow::anyhow!(e)))?;
    let output_notes = outputs.finish();
    let agg_seconds = agg.second_histograms().to_vec();
    let mut result = agg.finish(plan.step_names.clone(), elapsed, plan.peak_vus());
    result.scenarios = plan.scenario_steps();
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
    let tls_certificate = tls_certificate(&plan, first_addr, &result);
    let rep = RunReport {
        name: plan.name.clone(),
        target: plan.target.url(),
        executor: plan.executor_label(),
        started_at,
        planned: plan.planned_duration(),
        interrupted,
        aborted_by,
        steps: steps(&plan),
        checks: checks(&plan, &result),
        result,
        outcomes,
        exit_code,
        capacity,
        tls_certificate,
        segment: segment_info,
        merged: None,
    };
    publish(&rep, &out, opts, &output_notes)?;
    Ok(exit_code)
}

/// The live loop: snapshots to the outputs and the aggregator, interrupts, live thresholds and
/// stairs at each new second, the live view; until the engine has finished.
fn watch(
    plan: &Arc<Plan>,
    opts: &RunOptions,
    eng: &engine::Engine,
    outputs: &crate::output::Outputs,
    judging: &mut Judging,
    interrupts: &Arc<std::sync::atomic::AtomicUsize>,
    mut live: LiveLoop,
) -> LiveLoop {
    let control = eng.control.clone();
    let stair_view = StairView {
        step_names: &plan.step_names,
        scenarios: &plan.scenario_steps(),
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
    let live_out = crate::live_wire::Writer::new(
        opts.part.as_ref().is_some_and(|p| p.live_snapshots),
        eng.workers,
    );
    loop {
        match eng.snapshots.recv_timeout(Duration::from_millis(100)) {
            Ok(snap) => {
                live_out.offer(&snap);
                outputs.offer(&snap);
                judging.agg.add(snap)
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        for notice in live.interrupts(interrupts.load(Ordering::SeqCst), &control) {
            views.notice(notice);
        }
        let elapsed = eng.started.elapsed();
        let phase = LiveLoop::phase(&control, elapsed, plan.planned_duration());
        let new_second = live.new_second(judging.agg.timeline.len());
        if new_second {
            for notice in judging.second(plan, &stair_view, &mut live, &control, elapsed) {
                views.notice(&notice);
            }
        }
        if views.active() && live.redraw(new_second, phase) {
            views.show(publisher.build(
                &judging.agg,
                &live.outcomes,
                elapsed,
                phase,
                views.current_notice(),
            ));
        }
    }
    views.finish();
    live
}

/// The aggregator and what judges the run while it goes: windowed thresholds and the
/// breakpoint's stairs.
struct Judging {
    agg: Aggregator,
    windows: Option<crate::windows::WindowJudge>,
    judge: Option<Judge>,
}

impl Judging {
    fn new(plan: &Plan, workers: usize) -> Self {
        let judge = plan.breakpoint().and_then(Judge::new);
        let mut agg = Aggregator::new(workers, plan.step_names.len());
        let windows = crate::windows::WindowJudge::new(&plan.thresholds);
        if judge.is_some() || windows.is_some() {
            agg = agg.keep_seconds();
        }
        if plan.segment.is_some() {
            agg = agg.keep_second_histograms();
        }
        Judging {
            agg,
            windows,
            judge,
        }
    }

    /// The run is over: the last seconds closed and judged, the last stairs printed.
    fn close(
        self,
        plan: &Plan,
        quiet: bool,
    ) -> (
        Aggregator,
        Option<crate::windows::WindowJudge>,
        Option<crate::verdict::breakpoint::Capacity>,
    ) {
        let Judging {
            mut agg,
            mut windows,
            judge,
        } = self;
        agg.close_all();
        crate::windows::at_end(&mut windows, &agg, plan);
        let stair_view = StairView {
            step_names: &plan.step_names,
            scenarios: &plan.scenario_steps(),
            vus_allowed: plan.peak_vus(),
        };
        let capacity = judge.map(|mut j| {
            for r in j.judge_ready(&agg, &plan.thresholds, &stair_view) {
                if !quiet {
                    eprintln!("{}", stair_line(&r));
                }
            }
            j.finish()
        });
        (agg, windows, capacity)
    }

    /// At each new second: the live thresholds (and `abort_on_fail`), then the stairs judged so
    /// far. Returns the notices to show.
    fn second(
        &mut self,
        plan: &Plan,
        stair_view: &StairView,
        live: &mut LiveLoop,
        control: &Control,
        elapsed: Duration,
    ) -> Vec<String> {
        let mut notices = Vec::new();
        let observe = LiveObserve {
            view: self.agg.view(elapsed),
            step_names: &plan.step_names,
            vus_allowed: plan.peak_vus(),
            scenarios: &plan.scenario_steps(),
        };
        live.outcomes = sla::evaluate_all(&plan.thresholds, &observe);
        crate::windows::live(
            &mut self.windows,
            &mut self.agg,
            plan,
            &mut live.outcomes,
            self.judge.is_some(),
        );
        // A segment alone does not judge thresholds (the merge does).
        if let Some(notice) = live.abort_on_fail(elapsed, plan.segment.is_none(), control) {
            notices.push(notice);
        }
        if let Some(j) = &mut self.judge {
            for r in j.judge_ready(&self.agg, &plan.thresholds, stair_view) {
                notices.push(stair_line(&r));
            }
            if j.broken() && !control.stop.load(Ordering::SeqCst) {
                control.stop.store(true, Ordering::SeqCst);
                notices.push("breakpoint found: stopping the run".to_string());
            }
        }
        notices
    }
}

/// The run's opening lines on stderr (the `--insecure` warning even with `--quiet`).
fn announce(plan: &Plan, opts: &RunOptions) {
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
}

/// A part that starts later than its `--start-at` says so (and summary.json records it).
fn warn_if_late(
    start_at: Option<chrono::DateTime<chrono::Utc>>,
    engine_started_at: chrono::DateTime<chrono::Utc>,
) {
    if let Some(at) = start_at {
        let late_ms = (engine_started_at - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        if late_ms > crate::summary::LATE_MS {
            eprintln!(
                "WARNING: started {late_ms:.0} ms after --start-at {}: this part is late (recorded in summary.json)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
    }
}

/// Each step once (by name, first flow first), of every scenario, for the report.
fn steps(plan: &Plan) -> Vec<StepInfo> {
    plan.all_flows()
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
        })
}

/// Every check with its passes and fails.
fn checks(plan: &Plan, result: &crate::metrics::RunResult) -> Vec<CheckReport> {
    plan.checks
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
        .collect()
}

/// Failed handshakes: one more, accepting anything, to say what the certificate holds.
fn tls_certificate(
    plan: &Plan,
    first_addr: Option<SocketAddr>,
    result: &crate::metrics::RunResult,
) -> Option<String> {
    match first_addr {
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
    }
}

/// The terminal summary, then the report files and the k6 files; the output sinks' warnings.
fn publish(
    rep: &RunReport,
    out: &Path,
    opts: &RunOptions,
    output_notes: &[String],
) -> Result<(), Failure> {
    // The terminal summary first: whatever happens to the files, the verdict is on screen.
    say(&report::text::render(rep));
    if let Some(p) = &rep.segment {
        say(&format!(
            "segment {} ({} of {}): thresholds not judged by a segment alone; merge all parts with `stampede merge PARTS... --out DIR` for the verdict\n",
            p.segment,
            p.index,
            p.sequence.split(',').count() - 1
        ));
    }
    let summary = match report::write_all(rep, out) {
        Ok(s) => {
            // Said once it is true: a report folder that cannot be written is an error instead.
            say(&format!(
                "  report: {}\n",
                out.join("summary.json").display()
            ));
            s
        }
        Err(missing) => {
            return Err(Failure::ReportsLost {
                missing: missing.0,
                verdict: rep.exit_code,
            });
        }
    };
    crate::output::args::write_k6_files(&summary, &opts.k6).map_err(Failure::Tool)?;
    for n in output_notes {
        eprintln!("warning: {n}");
    }
    if opts.part.as_ref().is_some_and(|p| p.print_summary_line) {
        say(&format!("{}{summary}\n", crate::k8s::SUMMARY_LINE));
    }
    Ok(())
}
