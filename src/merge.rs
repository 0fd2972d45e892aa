//! `stampede merge PARTS... --out DIR`: add up the parts of a segmented run — histograms and
//! counters exactly, the per-second timeline on the common clock — and judge every threshold
//! once, on the whole.

use crate::Failure;
use crate::metrics::aggregate::{StepSecond, TimelinePoint, ms};
use crate::metrics::recorder::new_histogram;
use crate::metrics::{Recorder, RunResult};
use crate::report::{self, CheckReport, RunReport, StepInfo};
use crate::segment::{Ratio, parse_sequence};
use crate::sla::{self, MetricRef, Threshold};
use crate::summary::{self, MergeInfo, MergedPart, PartInfo, Summary, decode_histogram};
use chrono::{DateTime, Utc};
use clap::Args;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The parts' summary.json files (or their report folders), one per segment.
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// Where to write the merged reports (every format `run` writes).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print only the verdict line.
    #[arg(long, short)]
    pub quiet: bool,
}

struct Loaded {
    file: String,
    summary: Summary,
    part: PartInfo,
    from: Ratio,
    to: Ratio,
    started: DateTime<Utc>,
}

fn usage(msg: String) -> Failure {
    Failure::Usage(msg)
}

fn load(path: &Path) -> Result<Loaded, Failure> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let name = file.display().to_string();
    let summary = summary::read(&file).map_err(|e| usage(e.to_string()))?;
    let part = summary.segment.clone().ok_or_else(|| {
        usage(format!(
            "{name}: not a part of a segmented run (no `segment` block): run each part with `stampede run --segment i/n`"
        ))
    })?;
    let (a, b) = part
        .segment
        .split_once(':')
        .ok_or_else(|| usage(format!("{name}: segment `{}` is not from:to", part.segment)))?;
    let from = Ratio::parse(a).map_err(|e| usage(format!("{name}: segment: {e}")))?;
    let to = Ratio::parse(b).map_err(|e| usage(format!("{name}: segment: {e}")))?;
    let started = DateTime::parse_from_rfc3339(&part.engine_started_at)
        .map_err(|e| usage(format!("{name}: segment.engine_started_at: {e}")))?
        .with_timezone(&Utc);
    Ok(Loaded {
        file: name,
        summary,
        part,
        from,
        to,
        started,
    })
}

/// Parts that cannot be added up: from different scenarios or options, overlapping, or not
/// covering the whole.
fn check_parts(parts: &[Loaded]) -> Result<(), Failure> {
    let first = &parts[0];
    for p in &parts[1..] {
        let differ = |what: &str, a: &str, b: &str| {
            usage(format!(
                "{} and {} are parts of different runs: {what} differ ({a} vs {b})",
                first.file, p.file
            ))
        };
        if p.part.scenario_hash != first.part.scenario_hash {
            return Err(differ(
                "the scenarios (scenario file or data files)",
                &format!(
                    "sha256 {}",
                    &first.part.scenario_hash[..12.min(first.part.scenario_hash.len())]
                ),
                &format!(
                    "sha256 {}",
                    &p.part.scenario_hash[..12.min(p.part.scenario_hash.len())]
                ),
            ));
        }
        if p.part.options != first.part.options {
            let show = |o: &indexmap::IndexMap<String, String>| {
                let v: Vec<String> = o.iter().map(|(k, v)| format!("--{k} {v}")).collect();
                if v.is_empty() {
                    "no options".to_string()
                } else {
                    v.join(" ")
                }
            };
            return Err(differ(
                "the command-line options",
                &show(&first.part.options),
                &show(&p.part.options),
            ));
        }
        if p.part.sequence != first.part.sequence {
            return Err(differ(
                "the segment sequences",
                &first.part.sequence,
                &p.part.sequence,
            ));
        }
        if p.part.step_names != first.part.step_names || p.part.thresholds != first.part.thresholds
        {
            return Err(differ("the steps or thresholds", "", ""));
        }
    }
    let mut order: Vec<&Loaded> = parts.iter().collect();
    order.sort_by(|a, b| a.from.cmp(&b.from).then(a.to.cmp(&b.to)));
    let mut covered = Ratio::ZERO;
    let mut last: Option<&Loaded> = None;
    for p in order {
        if p.from < covered {
            let other = last.map_or(String::new(), |l| {
                format!("{} ({})", l.file, l.part.segment)
            });
            return Err(usage(format!(
                "parts overlap: {} ({}) and {other} both run part of the load; give each segment once",
                p.file, p.part.segment
            )));
        }
        if p.from > covered {
            return Err(usage(format!(
                "segment {covered}:{} is missing: no part covers it (parts must tile 0:1; sequence {})",
                p.from, p.part.sequence
            )));
        }
        covered = p.to;
        last = Some(p);
    }
    if covered != Ratio::ONE {
        let seq = parse_sequence(&first.part.sequence).unwrap_or_default();
        let missing: Vec<String> = seq
            .windows(2)
            .filter(|w| w[0] >= covered)
            .map(|w| format!("{}:{}", w[0], w[1]))
            .collect();
        return Err(usage(format!(
            "segment {covered}:1 is missing: no part covers it ({} of {} parts given; missing {})",
            parts.len(),
            seq.len().saturating_sub(1),
            missing.join(", ")
        )));
    }
    Ok(())
}

/// `stampede merge`: read the parts, check they tile 0:1 and belong together, add them up,
/// judge the thresholds on the whole, write the reports and print the summary.
pub fn merge_command(args: MergeArgs) -> Result<i32, Failure> {
    let parts = read_parts(&args.parts)?;
    check_parts(&parts)?;
    let clock = Clock::of(&parts);
    let result = add_up(&parts, &clock)?;
    let rep = judge(&parts, &clock, result)?;
    // The summary first: whatever happens to the files, the verdict is on screen.
    print(&parts, &clock, &rep, &args);
    write(&rep, &args.out)?;
    println!("  report: {}", args.out.join("summary.json").display());
    Ok(rep.exit_code)
}

/// Every part's summary.json, in the order given.
fn read_parts(paths: &[PathBuf]) -> Result<Vec<Loaded>, Failure> {
    paths.iter().map(|p| load(p)).collect()
}

/// The parts' common clock: the earliest and the latest engine start.
struct Clock {
    t0: DateTime<Utc>,
    t_last: DateTime<Utc>,
}

impl Clock {
    fn of(parts: &[Loaded]) -> Clock {
        let first = parts[0].started;
        let starts = || parts.iter().map(|p| p.started);
        Clock {
            t0: starts().min().unwrap_or(first),
            t_last: starts().max().unwrap_or(first),
        }
    }

    /// When part `p` started after the first one, in seconds.
    fn offset(&self, p: &Loaded) -> f64 {
        (p.started - self.t0).num_microseconds().unwrap_or(0) as f64 / 1e6
    }

    /// How far apart the parts started, in milliseconds.
    fn spread_ms(&self) -> f64 {
        (self.t_last - self.t0).num_microseconds().unwrap_or(0) as f64 / 1000.0
    }
}

/// The whole run's result: every histogram and counter added, the timeline on the common clock.
fn add_up(parts: &[Loaded], clock: &Clock) -> Result<RunResult, Failure> {
    let first = &parts[0];
    let step_names = first.part.step_names.clone();
    let mut total = Recorder::with_checks(step_names.len(), first.summary.checks.len());
    for p in parts {
        let r = p
            .summary
            .recorder(&step_names)
            .map_err(|e| usage(format!("{}: {e}", p.file)))?;
        total.add(&r);
    }
    let timeline = merge_timeline(parts, clock, step_names.len())?;
    let elapsed = parts
        .iter()
        .map(|p| clock.offset(p) + p.summary.duration_s)
        .fold(0.0, f64::max);
    let gauge = |p: &Loaded, name: &str| {
        p.summary
            .metric(name)
            .and_then(|m| m.gauge())
            .cloned()
            .unwrap_or_default()
    };
    let vus_allowed: u64 = parts.iter().map(|p| gauge(p, "vus_max").value).sum();
    // The parts ramp together: the whole's peak is the sum of theirs.
    let vus_max: u64 = parts.iter().map(|p| gauge(p, "vus").max).sum();
    let vus_min = timeline.iter().map(|p| p.vus).min().unwrap_or(0);
    Ok(RunResult {
        step_names,
        overall: total.overall(),
        elapsed: Duration::from_secs_f64(elapsed.max(0.0)),
        vus_last: timeline.last().map_or(0, |p| p.vus),
        vus_min,
        vus_max: vus_max as u32,
        vus_allowed: vus_allowed as u32,
        total,
        timeline,
        scenarios: first.part.scenarios.clone(),
    })
}

/// One second of the merged timeline while the parts are added into it.
struct Sec {
    point: TimelinePoint,
    all: Histogram<u64>,
    steps: Vec<Histogram<u64>>,
}

impl Sec {
    fn new(second: u64, steps: usize) -> Sec {
        Sec {
            point: TimelinePoint {
                second,
                steps: vec![StepSecond::default(); steps],
                ..TimelinePoint::default()
            },
            all: new_histogram(),
            steps: (0..steps).map(|_| new_histogram()).collect(),
        }
    }

    /// A part's row of that second, and its histograms when the part kept them.
    fn add(
        &mut self,
        row: &summary::SecondRow,
        blob: Option<&summary::SecondBlob>,
        file: &str,
    ) -> Result<(), Failure> {
        let pt = &mut self.point;
        pt.vus += row.vus;
        pt.requests += row.requests;
        pt.failures += row.failures;
        pt.iterations += row.iterations;
        pt.data_sent += row.data_sent;
        pt.data_received += row.data_received;
        for (a, b) in pt.steps.iter_mut().zip(&row.steps) {
            a.requests += b.requests;
            a.failures += b.failures;
        }
        let Some(b) = blob else { return Ok(()) };
        let decode = |blob: &str| {
            decode_histogram(blob).map_err(|e| usage(format!("{file}: second {}: {e}", row.second)))
        };
        let _ = self.all.add(&decode(&b.http_req_duration)?);
        for (i, sb) in b.steps.iter().enumerate() {
            let h = decode(sb)?;
            if let Some(acc) = self.steps.get_mut(i) {
                let _ = acc.add(&h);
            }
        }
        Ok(())
    }

    /// The second's row with its percentiles.
    fn finish(self) -> TimelinePoint {
        let q = |h: &Histogram<u64>, f: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(f))
            }
        };
        let mut pt = self.point;
        pt.p50_ms = q(&self.all, 0.50);
        pt.p95_ms = q(&self.all, 0.95);
        pt.p99_ms = q(&self.all, 0.99);
        for (st, h) in pt.steps.iter_mut().zip(&self.steps) {
            st.p95_ms = q(h, 0.95);
        }
        pt
    }
}

/// The timeline on the common clock: a part's second s is second s + its start offset
/// (rounded to whole seconds; parts started with --start-at are within milliseconds).
fn merge_timeline(
    parts: &[Loaded],
    clock: &Clock,
    steps: usize,
) -> Result<Vec<TimelinePoint>, Failure> {
    // Which part's row lands in which second of the common clock: indexes only. The seconds are
    // then added up one at a time, so only one second's histograms (a few hundred KiB each,
    // one per step) are decoded at once: adding part after part kept every second's alive,
    // 91 MiB for six parts of bench/stress-100k.yaml's 90 s.
    let mut at: BTreeMap<u64, Vec<(usize, usize)>> = BTreeMap::new();
    let mut blobs: Vec<BTreeMap<u64, &summary::SecondBlob>> = Vec::with_capacity(parts.len());
    for (pi, p) in parts.iter().enumerate() {
        let shift = clock.offset(p).round() as u64;
        blobs.push(p.part.seconds.iter().map(|b| (b.second, b)).collect());
        for (ri, row) in p.summary.timeline.iter().enumerate() {
            at.entry(row.second + shift).or_default().push((pi, ri));
        }
    }
    at.into_iter()
        .map(|(second, rows)| {
            let mut sec = Sec::new(second, steps);
            for (pi, ri) in rows {
                let (p, row) = (&parts[pi], &parts[pi].summary.timeline[ri]);
                sec.add(row, blobs[pi].get(&row.second).copied(), &p.file)?;
            }
            Ok(sec.finish())
        })
        .collect()
}

/// The thresholds the parts carry (the same in each: `check_parts`), parsed again.
fn thresholds(first: &Loaded) -> Result<Vec<Threshold>, Failure> {
    first
        .part
        .thresholds
        .iter()
        .map(|t| {
            let m = MetricRef::parse(&t.metric)
                .map_err(|e| usage(format!("{}: threshold {}: {e}", first.file, t.metric)))?;
            let mut th = Threshold::parse(m, &t.expression).map_err(|e| {
                usage(format!(
                    "{}: threshold {} {}: {e}",
                    first.file, t.metric, t.expression
                ))
            })?;
            th.abort_on_fail = t.abort_on_fail;
            Ok(th)
        })
        .collect()
}

/// The thresholds judged on the whole, and the report of the whole run with its verdict.
fn judge(parts: &[Loaded], clock: &Clock, result: RunResult) -> Result<RunReport, Failure> {
    let first = &parts[0];
    let outcomes = sla::evaluate_all(&thresholds(first)?, &result);
    let interrupted = parts.iter().any(|p| p.summary.interrupted);
    let aborted_by = parts
        .iter()
        .find_map(|p| p.summary.aborted_by_threshold.clone());
    let exit_code = crate::verdict::Verdict::of(&crate::verdict::Judged {
        outcomes: &outcomes,
        aborted_by: aborted_by.as_deref(),
        capacity: None,
        segment: false,
        interrupted,
    })
    .exit_code();
    let checks = first
        .summary
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let [passes, fails] = result.total.checks.get(i).copied().unwrap_or([0, 0]);
            CheckReport {
                step: c.step.clone(),
                description: c.check.clone(),
                passes,
                fails,
            }
        })
        .collect();
    let started_at = DateTime::parse_from_rfc3339(&first.summary.started_at)
        .map(|d| d.with_timezone(&chrono::Local))
        .unwrap_or_else(|_| clock.t0.with_timezone(&chrono::Local));
    Ok(RunReport {
        name: first.summary.name.clone(),
        target: first.summary.target.clone(),
        executor: first.summary.executor.clone(),
        started_at,
        planned: Duration::from_secs_f64(first.summary.planned_duration_s.max(0.0)),
        interrupted,
        aborted_by,
        steps: first
            .summary
            .steps
            .iter()
            .map(|s| StepInfo {
                name: s.name.clone(),
                flow: s.flow.clone(),
                request: s.request.clone(),
            })
            .collect(),
        result,
        outcomes,
        exit_code,
        checks,
        capacity: None,
        segment: None,
        merged: Some(merge_info(parts, clock)),
        tls_certificate: None,
    })
}

/// The `merged` block of the summary: which parts, and how far apart they started.
fn merge_info(parts: &[Loaded], clock: &Clock) -> MergeInfo {
    MergeInfo {
        parts: parts
            .iter()
            .map(|p| MergedPart {
                file: p.file.clone(),
                segment: p.part.segment.clone(),
                engine_started_at: p.part.engine_started_at.clone(),
                start_offset_ms: p.part.start_offset_ms,
                late: p.part.late,
                interrupted: p.summary.interrupted,
            })
            .collect(),
        start_spread_ms: clock.spread_ms(),
    }
}

/// Every report format into `out`.
fn write(rep: &RunReport, out: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(out).map_err(|e| {
        usage(format!(
            "cannot create report folder {}: {e}",
            out.display()
        ))
    })?;
    report::write_all(rep, out).map_err(|missing| Failure::ReportsLost {
        missing: missing.0,
        verdict: rep.exit_code,
    })?;
    Ok(())
}

/// The terminal summary (nothing with `--quiet`); where the report is follows once written.
fn print(parts: &[Loaded], clock: &Clock, rep: &RunReport, args: &MergeArgs) {
    let late: Vec<&str> = parts
        .iter()
        .filter(|p| p.part.late)
        .map(|p| p.file.as_str())
        .collect();
    let mut text = String::new();
    if !args.quiet {
        text.push_str(&format!(
            "merged {} parts of {} (starts within {:.0} ms)\n",
            parts.len(),
            parts[0].summary.name,
            (clock.t_last - clock.t0).num_milliseconds()
        ));
        if !late.is_empty() {
            text.push_str(&format!(
                "late start (after --start-at): {}\n",
                late.join(", ")
            ));
        }
        text.push_str(&report::text::render(rep));
    }
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
