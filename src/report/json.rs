//! `summary.json`: `metrics.<name>` in the shape of k6's summary export (trends in ms, counters
//! as `count`/`rate`, rates as `rate`), per-step sub-metrics `<name>{step:<step>}`, thresholds
//! with observed values, steps, errors, status codes and the per-second timeline.

use super::{Exporter, RunReport};
use crate::metrics::catalog::{METRICS, MetricKind, STEP_TAGGED};
use crate::metrics::{RunResult, StepStats};
use crate::summary::{
    CapacitySection, CheckRow, Counter, Gauge, Marks, Metric, Rate, SecondRow, StairRow, StepRow,
    StepSecondRow, Summary, ThresholdRow, Trend, Window,
};
use hdrhistogram::Histogram;
use indexmap::IndexMap;

pub struct Json;

impl Exporter for Json {
    fn file_name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, summary: &Summary) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(summary)? + "\n")
    }
}

/// A histogram in HdrHistogram's V2 deflate format, base64: other tools (and a later merge of
/// runs) can decode it and add histograms exactly.
pub fn encode_histogram(h: &Histogram<u64>) -> Option<String> {
    crate::metrics::hdr::encode(h)
}

/// Every latency trend's histogram (µs), overall and per step.
fn histograms(res: &crate::metrics::RunResult) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    let mut put = |key: String, h: &Histogram<u64>| {
        if let Some(b64) = encode_histogram(h) {
            out.insert(key, b64);
        }
    };
    let per_step = |s: &StepStats| {
        [
            ("http_req_duration", s.duration.clone()),
            ("http_req_duration_uncorrected", s.uncorrected.clone()),
            ("http_req_waiting", s.waiting.clone()),
            ("http_req_connecting", s.connecting.clone()),
            ("http_req_tls_handshaking", s.tls_handshaking.clone()),
            ("http_req_blocked", s.blocked.clone()),
        ]
    };
    for (name, h) in per_step(&res.overall) {
        put(name.to_string(), &h);
    }
    for (key, h) in super::streams::histograms(res) {
        put(key, h);
    }
    put("iteration_duration".into(), &res.total.iteration);
    put("schedule_lag".into(), &res.total.schedule_lag);
    for (i, step) in res.step_names.iter().enumerate() {
        if let Some(s) = res.total.steps.get(i) {
            for (name, h) in per_step(s) {
                put(format!("{name}{{step:{step}}}"), &h);
            }
        }
    }
    out
}

pub(super) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Trend figures in ms, as k6 names them.
pub fn trend(h: &Histogram<u64>) -> Trend {
    if h.is_empty() {
        return Trend::default();
    }
    let ms = |us: u64| round3(us as f64 / 1000.0);
    let q = |f: f64| ms(h.value_at_quantile(f));
    Trend {
        avg: round3(h.mean() / 1000.0),
        min: ms(h.min()),
        med: q(0.5),
        max: ms(h.max()),
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
        p9999: q(0.9999),
        count: h.len(),
        thresholds: None,
    }
}

pub(super) fn counter(n: u64, res: &RunResult) -> Counter {
    Counter {
        count: n,
        rate: round3(res.rate(n)),
        thresholds: None,
    }
}

/// A rate: `passes` are its true values (failed requests, good streams).
pub(super) fn rate(passes: u64, total: u64) -> Rate {
    let r = if total > 0 {
        passes as f64 / total as f64
    } else {
        0.0
    };
    Rate {
        rate: r,
        value: r,
        passes,
        fails: total - passes,
        thresholds: None,
    }
}

fn step_metric(name: &str, s: &StepStats, res: &RunResult) -> Option<Metric> {
    Some(match name {
        "http_req_duration" => Metric::Trend(trend(&s.duration)),
        "http_req_waiting" => Metric::Trend(trend(&s.waiting)),
        "http_req_connecting" => Metric::Trend(trend(&s.connecting)),
        "http_req_tls_handshaking" => Metric::Trend(trend(&s.tls_handshaking)),
        "http_req_blocked" => Metric::Trend(trend(&s.blocked)),
        "http_req_duration_uncorrected" => Metric::Trend(trend(&s.uncorrected)),
        "http_reqs" => Metric::Counter(counter(s.requests, res)),
        "http_req_failed" => Metric::Rate(rate(s.failures, s.requests)),
        n if n.starts_with("stream") => super::streams::metric(n, s.stream.as_deref()?, res)?,
        n if n.starts_with("ws_") => super::streams::ws_metric(n, s.ws.as_deref()?, res)?,
        // Checks: `passes` are the checks that held.
        "checks" if s.checks_passed + s.checks_failed > 0 => {
            Metric::Rate(rate(s.checks_passed, s.checks_passed + s.checks_failed))
        }
        _ => return None,
    })
}

fn metrics(r: &RunReport) -> IndexMap<String, Metric> {
    let res = &r.result;
    let mut m = IndexMap::new();
    let gauge = |value: u32, min: u32, max: u32| {
        Metric::Gauge(Gauge {
            value: value.into(),
            min: min.into(),
            max: max.into(),
            thresholds: None,
        })
    };
    for (name, kind) in METRICS {
        let c = |n: u64| Some(Metric::Counter(counter(n, res)));
        let v = match (*name, kind) {
            (n, _) if STEP_TAGGED.contains(&n) => step_metric(n, &res.overall, res),
            ("iteration_duration", _) => Some(Metric::Trend(trend(&res.total.iteration))),
            ("iterations", _) => c(res.total.iterations),
            ("schedule_lag", _) => Some(Metric::Trend(trend(&res.total.schedule_lag))),
            ("dropped_iterations", _) => c(res.total.dropped_iterations),
            ("iterations_interrupted", _) => c(res.total.iterations_interrupted),
            ("http_req_retries", _) => c(res.total.retries),
            ("data_sent", _) => c(res.total.data_sent),
            ("data_received", _) => c(res.total.data_received),
            ("vus", MetricKind::Gauge) => Some(gauge(res.vus_last, res.vus_min, res.vus_max)),
            ("vus_max", MetricKind::Gauge) => {
                Some(gauge(res.vus_allowed, res.vus_allowed, res.vus_allowed))
            }
            _ => None,
        };
        if let Some(mut v) = v {
            v.set_marks(marks(r, |t| {
                t.name == *name && t.step.is_none() && t.scenario.is_none()
            }));
            m.insert(name.to_string(), v);
        }
    }
    for (scenario, steps) in &res.scenarios {
        let mut all = StepStats::default();
        for &i in steps {
            if let Some(s) = res.total.steps.get(i) {
                all.add(s);
            }
        }
        for name in STEP_TAGGED {
            if let Some(mut v) = step_metric(name, &all, res) {
                v.set_marks(marks(r, |t| {
                    t.name == *name && t.scenario.as_deref() == Some(scenario)
                }));
                m.insert(format!("{name}{{scenario:{scenario}}}"), v);
            }
        }
    }
    for (i, step) in res.step_names.iter().enumerate() {
        let Some(s) = res.total.steps.get(i) else {
            continue;
        };
        for name in STEP_TAGGED {
            if let Some(mut v) = step_metric(name, s, res) {
                v.set_marks(marks(r, |t| {
                    t.name == *name && t.step.as_ref() == Some(step) && t.scenario.is_none()
                }));
                m.insert(format!("{name}{{step:{step}}}"), v);
            }
        }
    }
    m
}

/// k6 puts `"thresholds": {"p(95)<500": false}` inside each metric: `true` means the threshold
/// FAILED (k6's summary export: `thresholds[name] = !threshold.ok`), so a k6 jq gate works.
fn marks(r: &RunReport, on: impl Fn(&crate::metrics::query::MetricRef) -> bool) -> Marks {
    r.outcomes
        .iter()
        .filter(|o| on(&o.threshold.metric))
        .map(|o| (o.threshold.expression.clone(), !o.passed))
        .collect()
}

/// The typed summary of a finished run (or a merge): what summary.json holds.
pub fn summary(r: &RunReport) -> Summary {
    let res = &r.result;
    let thresholds = threshold_rows(r);
    let steps = step_rows(r);
    let errors = res
        .errors_by_kind()
        .into_iter()
        .map(|(k, n)| (k.name().to_string(), n))
        .collect();
    let tls_errors = crate::metrics::TlsReason::ALL
        .iter()
        .map(|k| (*k, res.total.tls_reason_count(*k)))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.name().to_string(), n))
        .collect();
    let status_codes = res
        .total
        .status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (code.to_string(), *n))
        .collect();
    let timeline = timeline_rows(res);
    Summary {
        stampede_version: env!("CARGO_PKG_VERSION").to_string(),
        name: r.name.clone(),
        target: r.target.clone(),
        executor: r.executor.clone(),
        started_at: r.started_at.to_rfc3339(),
        planned_duration_s: round3(r.planned.as_secs_f64()),
        duration_s: round3(res.elapsed.as_secs_f64()),
        interrupted: r.interrupted,
        aborted_by_threshold: r.aborted_by.clone(),
        verdict: r.verdict().label,
        exit_code: r.exit_code,
        metrics: metrics(r),
        thresholds,
        steps,
        errors,
        tls_errors,
        tls_certificate: r.tls_certificate.clone(),
        protocol_errors: res.total.protocol_reasons().into_iter().collect(),
        iterations_due: r
            .executor
            .ends_with("arrival-rate")
            .then_some(res.total.iterations_due),
        histograms: histograms(res),
        checks: r
            .checks
            .iter()
            .map(|c| CheckRow {
                step: c.step.clone(),
                check: c.description.clone(),
                passes: c.passes,
                fails: c.fails,
            })
            .collect(),
        status_codes,
        timeline,
        capacity: r.capacity.as_ref().map(capacity),
        streams: super::streams::section(res),
        websockets: super::streams::ws_section(res),
        segment: r.segment.clone(),
        merged: r.merged.clone(),
    }
}

/// `thresholds[]`: each threshold with what was observed.
fn threshold_rows(r: &RunReport) -> Vec<ThresholdRow> {
    r.outcomes
        .iter()
        .map(|o| ThresholdRow {
            metric: o.threshold.metric.to_string(),
            expression: o.threshold.expression.clone(),
            observed: o.observed.map(round3),
            observed_display: o.observed_display(),
            passed: o.passed,
            abort_on_fail: o.threshold.abort_on_fail,
            window_s: o.threshold.window.map(|w| w.as_secs()),
            worst_window: o.worst_window.map(|(from_s, to_s)| Window { from_s, to_s }),
        })
        .collect()
}

/// `steps[]`: each step's totals and latency (ms).
fn step_rows(r: &RunReport) -> Vec<StepRow> {
    let res = &r.result;
    r.steps
        .iter()
        .map(|info| {
            let s = res
                .step_index(&info.name)
                .and_then(|i| res.total.steps.get(i))
                .cloned()
                .unwrap_or_default();
            let d = &s.duration;
            let q = |f: f64| {
                if d.is_empty() {
                    0.0
                } else {
                    round3(d.value_at_quantile(f) as f64 / 1000.0)
                }
            };
            StepRow {
                name: info.name.clone(),
                flow: info.flow.clone(),
                request: info.request.clone(),
                requests: s.requests,
                failures: s.failures,
                rps: round3(res.rate(s.requests)),
                error_rate: if s.requests > 0 {
                    s.failures as f64 / s.requests as f64
                } else {
                    0.0
                },
                avg_ms: if d.is_empty() {
                    0.0
                } else {
                    round3(d.mean() / 1000.0)
                },
                p50_ms: q(0.5),
                p90_ms: q(0.9),
                p95_ms: q(0.95),
                p99_ms: q(0.99),
                max_ms: if d.is_empty() {
                    0.0
                } else {
                    round3(d.max() as f64 / 1000.0)
                },
            }
        })
        .collect()
}

/// `timeline[]`: each second of the run.
fn timeline_rows(res: &RunResult) -> Vec<SecondRow> {
    res.timeline
        .iter()
        .map(|p| SecondRow {
            second: p.second,
            vus: p.vus,
            requests: p.requests,
            failures: p.failures,
            iterations: p.iterations,
            data_sent: p.data_sent,
            data_received: p.data_received,
            p50_ms: round3(p.p50_ms),
            p95_ms: round3(p.p95_ms),
            p99_ms: round3(p.p99_ms),
            steps: p
                .steps
                .iter()
                .map(|st| StepSecondRow {
                    requests: st.requests,
                    failures: st.failures,
                    p95_ms: round3(st.p95_ms),
                })
                .collect(),
        })
        .collect()
}

/// A breakpoint run's findings: every judged stair, the highest sustainable rate, the knee.
fn capacity(c: &crate::verdict::breakpoint::Capacity) -> CapacitySection {
    let opt = |v: Option<f64>| v.map(round3);
    CapacitySection {
        max_sustainable_rps: opt(c.max_sustainable_rps),
        knee_rps: opt(c.knee_rps),
        broke_at_rps: opt(c.broke_at_rps),
        stairs_planned: c.stairs_planned as u64,
        steps: c
            .steps
            .iter()
            .map(|s| StairRow {
                start_s: round3(s.start.as_secs_f64()),
                end_s: round3(s.end.as_secs_f64()),
                offered_rps: round3(s.offered_rps),
                achieved_rps: round3(s.achieved_rps),
                requests_per_s: round3(s.requests_per_s),
                vus_max: s.vus_max,
                avg_ms: opt(s.avg_ms),
                p50_ms: opt(s.p50_ms),
                p95_ms: opt(s.p95_ms),
                p99_ms: opt(s.p99_ms),
                error_rate: s.error_rate,
                dropped_iterations: s.dropped,
                passed: s.passed,
                reasons: s.reasons.clone(),
            })
            .collect(),
    }
}
