//! `run --segment` and `--start-at`: what a part of a distributed run does beyond an ordinary
//! run — take its segment of the plan, start on the common clock, and record in its summary.json
//! what `stampede merge` needs (see docs/distributed.md).

use crate::Failure;
use crate::plan::Plan;
use crate::segment::{Part, Segment};
use crate::summary::{LATE_MS, PartInfo, SecondBlob, ThresholdDef};
use chrono::{DateTime, Utc};
use clap::Args;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Args, Clone, Default)]
pub struct PartArgs {
    /// Run one part of a distributed run: `i/n` (the i-th of n equal parts, 1-based) or k6's
    /// `from:to` (e.g. `1/4:1/2`). VUs, arrival-rate iterations and `pick: unique` rows are
    /// striped so that all parts together run exactly the whole; thresholds are judged only
    /// by `stampede merge`.
    #[arg(long, value_name = "i/n", conflicts_with = "segment_of")]
    pub segment: Option<String>,
    /// Kubernetes Indexed Jobs: this process is part `$JOB_COMPLETION_INDEX + 1` of N.
    #[arg(long, value_name = "N")]
    pub segment_of: Option<u64>,
    /// Unequal parts, as k6's `--execution-segment-sequence`: boundaries such as
    /// `0,1/4,1/2,1`; `--segment i/n` then picks the i-th of them.
    #[arg(long, value_name = "0,A,B,...,1", requires = "segment")]
    pub segment_sequence: Option<String>,
    /// Start the load at this wall-clock time (RFC 3339, e.g. 2026-12-01T23:50:00Z), so that
    /// parts on several machines share one clock; a late start is reported.
    #[arg(long, value_name = "RFC3339", conflicts_with = "barrier")]
    pub start_at: Option<String>,
    /// Start barrier (Kubernetes): part 1 listens on this address's port, the others connect
    /// to it; once all n are there, part 1 hands out a common start time.
    #[arg(long, value_name = "HOST:PORT")]
    pub barrier: Option<String>,
    /// Give up (exit 1) when not all parts reached the barrier within this long.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::units::duration::parse_duration)]
    pub barrier_timeout: Duration,
    /// After the reports, print summary.json on one last stdout line prefixed
    /// `STAMPEDE_SUMMARY ` (how `stampede k8s collect` reads parts from pod logs).
    #[arg(long)]
    pub print_summary_line: bool,
    /// Run as N child processes on this machine, one segment each, merged at the end into
    /// one report (for more connections than one process may open).
    #[arg(long, value_name = "N", conflicts_with_all = ["segment", "segment_of", "barrier"])]
    pub processes: Option<u32>,
    /// (internal, set by `--processes` for its children) write each worker's per-second
    /// snapshot to stdout as a `STAMPEDE_LIVE ` line, for the parent's live view.
    #[arg(long, hide = true)]
    pub live_snapshots: bool,
}

/// What a part carries through its run.
#[derive(Debug, Clone)]
pub struct PartRun {
    pub part: Option<Part>,
    pub start_at: Option<DateTime<Utc>>,
    pub scenario_hash: String,
    pub options: IndexMap<String, String>,
    pub barrier: Option<(String, Duration)>,
    pub print_summary_line: bool,
    /// Stream the per-second snapshots to stdout (`--processes` children).
    pub live_snapshots: bool,
}

/// SHA-256 of the scenario file and of every data feed's rows (as loaded, before any
/// segment takes its share).
pub fn scenario_hash(file: &Path, plan: &Plan) -> Result<String, Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    let mut h = Sha256::new();
    h.update(&bytes);
    for f in &plan.feeds {
        h.update(f.name.as_bytes());
        for row in &f.rows {
            for cell in row {
                h.update((cell.len() as u64).to_le_bytes());
                h.update(cell);
            }
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The command-line options that change what runs, for comparing parts.
pub fn options(o: &crate::scenario::Overrides) -> IndexMap<String, String> {
    let mut m = IndexMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("target", o.target.clone());
    put("vus", o.vus.map(|v| v.to_string()));
    put("duration", o.duration.map(|d| format!("{d:?}")));
    put("rate", o.rate.map(|v| v.to_string()));
    put("scale", o.scale.map(|v| v.to_string()));
    put("time_scale", o.time_scale.map(|v| v.to_string()));
    put("insecure", o.insecure.then(|| "true".to_string()));
    if !o.env.is_empty() {
        let mut env = o.env.clone();
        env.sort();
        let mut h = Sha256::new();
        for (k, v) in &env {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        // Values are never written; their hash tells parts apart.
        put("env_sha256", Some(format!("{:x}", h.finalize())));
    }
    m
}

/// Parse `--segment`/`--start-at`, and cut the plan down to its segment.
pub fn prepare(
    args: &PartArgs,
    file: &Path,
    overrides: &crate::scenario::Overrides,
    plan: &mut Plan,
) -> Result<Option<PartRun>, Failure> {
    if args.segment.is_none()
        && args.segment_of.is_none()
        && args.start_at.is_none()
        && !args.print_summary_line
        && !args.live_snapshots
    {
        return Ok(None);
    }
    let from_env;
    let segment_arg = match (&args.segment, args.segment_of) {
        (Some(s), _) => Some(s.as_str()),
        (None, Some(n)) => {
            let raw = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                Failure::Usage(
                    "--segment-of N: JOB_COMPLETION_INDEX is not set (it is, in the pods of a Kubernetes Indexed Job)".into(),
                )
            })?;
            let i: u64 = raw.trim().parse().map_err(|_| {
                Failure::Usage(format!("JOB_COMPLETION_INDEX={raw}: not a whole number"))
            })?;
            from_env = format!("{}/{n}", i + 1);
            Some(from_env.as_str())
        }
        (None, None) => None,
    };
    if args.barrier.is_some() && segment_arg.is_none() {
        return Err(Failure::Usage(
            "--barrier synchronizes the parts of a segmented run: give --segment or --segment-of"
                .into(),
        ));
    }
    let start_at = match &args.start_at {
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|e| {
                    Failure::Usage(format!(
                        "--start-at {s}: not an RFC 3339 time ({e}); e.g. 2026-12-01T23:50:00Z"
                    ))
                })?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let scenario_hash = scenario_hash(file, plan)?;
    let part = match segment_arg {
        Some(s) => {
            let usage = |e: crate::segment::SegmentError| Failure::Usage(e.to_string());
            let seg = Segment::parse(s, args.segment_sequence.as_deref()).map_err(usage)?;
            let part = Part::new(seg).map_err(usage)?;
            crate::plan::apply_segment(plan, part.clone())
                .map_err(|e| Failure::Usage(format!("--segment {s}: {e}")))?;
            Some(part)
        }
        None => None,
    };
    Ok(Some(PartRun {
        part,
        start_at,
        scenario_hash,
        options: options(overrides),
        barrier: args.barrier.clone().map(|b| (b, args.barrier_timeout)),
        print_summary_line: args.print_summary_line,
        live_snapshots: args.live_snapshots,
    }))
}

/// When the load starts: `--start-at`, or the time the barrier hands out, or at once.
pub fn start_time(run: &PartRun, quiet: bool) -> Result<Option<DateTime<Utc>>, Failure> {
    match (&run.barrier, &run.part) {
        (Some((addr, timeout)), Some(part)) => crate::barrier::wait(
            addr,
            part.segment.index,
            part.segment.count(),
            *timeout,
            quiet,
        )
        .map(Some)
        .map_err(|e| Failure::Tool(anyhow::anyhow!("start barrier {addr}: {e}"))),
        _ => Ok(run.start_at),
    }
}

/// Sleep until `at` (returns how late we are, in ms: negative when we waited). A Ctrl-C while
/// waiting returns `None`.
pub fn wait_until(
    at: DateTime<Utc>,
    interrupts: &AtomicUsize,
    seen: usize,
    quiet: bool,
) -> Option<f64> {
    let now = Utc::now();
    if at > now {
        if !quiet {
            eprintln!(
                "waiting for --start-at {} ({:.1} s)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                (at - now).num_milliseconds() as f64 / 1000.0
            );
        }
        loop {
            if interrupts.load(Ordering::SeqCst) > seen {
                return None;
            }
            let left = at - Utc::now();
            let Ok(left) = left.to_std() else { break };
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
    Some((Utc::now() - at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0)
}

/// The `segment` block of a part's summary.json.
pub fn info(
    run: &PartRun,
    start_at: Option<DateTime<Utc>>,
    plan: &Plan,
    engine_started_at: DateTime<Utc>,
    seconds: &[crate::metrics::aggregate::SecondHistograms],
) -> Option<PartInfo> {
    let part = run.part.as_ref()?;
    let start_offset_ms =
        start_at.map(|at| (engine_started_at - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    Some(PartInfo {
        segment: part.segment.label(),
        sequence: part.segment.sequence_label(),
        index: part.segment.index + 1,
        scenario_hash: run.scenario_hash.clone(),
        options: run.options.clone(),
        engine_started_at: engine_started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        start_at: start_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        start_offset_ms,
        late: start_offset_ms.is_some_and(|ms| ms > LATE_MS),
        step_names: plan.step_names.clone(),
        scenarios: plan.scenario_steps(),
        thresholds: plan
            .thresholds
            .iter()
            .map(|t| ThresholdDef {
                metric: t.metric.to_string(),
                expression: t.expression.clone(),
                abort_on_fail: t.abort_on_fail,
            })
            .collect(),
        seconds: seconds
            .iter()
            .map(|(second, all, steps)| SecondBlob {
                second: *second,
                http_req_duration: all.clone(),
                steps: steps.clone(),
            })
            .collect(),
    })
}
