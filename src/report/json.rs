//! `summary.json`: `metrics.<name>` in the shape of k6's summary export (trends in ms, counters
//! as `count`/`rate`, rates as `rate`), per-step sub-metrics `<name>{step:<step>}`, thresholds
//! with observed values, steps, errors, status codes and the per-second timeline.

use super::{Exporter, RunReport};
use crate::metrics::catalog::{METRICS, MetricKind, STEP_TAGGED};
use crate::metrics::{RunResult, StepStats};
use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

pub struct Json;

impl Exporter for Json {
    fn file_name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, summary: &Value) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(summary)? + "\n")
    }
}

/// A histogram in HdrHistogram's V2 deflate format, base64: other tools (and a later merge of
/// runs) can decode it and add histograms exactly.
pub fn encode_histogram(h: &Histogram<u64>) -> Option<String> {
    use base64::Engine as _;
    let mut bytes = Vec::new();
    use hdrhistogram::serialization::Serializer as _;
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Every latency trend's histogram (µs), overall and per step.
fn histograms(res: &crate::metrics::RunResult) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |key: String, h: &Histogram<u64>| {
        if let Some(b64) = encode_histogram(h) {
            out.insert(key, Value::String(b64));
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
pub fn trend(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| round3(us as f64 / 1000.0);
    if h.is_empty() {
        return json!({"avg": 0.0, "min": 0.0, "med": 0.0, "max": 0.0, "p(50)": 0.0, "p(90)": 0.0,
            "p(95)": 0.0, "p(99)": 0.0, "p(99.9)": 0.0, "p(99.99)": 0.0, "count": 0});
    }
    let q = |f: f64| ms(h.value_at_quantile(f));
    json!({
        "avg": round3(h.mean() / 1000.0),
        "min": ms(h.min()),
        "med": q(0.5),
        "max": ms(h.max()),
        "p(50)": q(0.5),
        "p(90)": q(0.9),
        "p(95)": q(0.95),
        "p(99)": q(0.99),
        "p(99.9)": q(0.999),
        "p(99.99)": q(0.9999),
        "count": h.len(),
    })
}

pub(super) fn counter(n: u64, res: &RunResult) -> Value {
    json!({"count": n, "rate": round3(res.rate(n))})
}

pub(super) fn rate(failures: u64, requests: u64) -> Value {
    let r = if requests > 0 {
        failures as f64 / requests as f64
    } else {
        0.0
    };
    json!({"rate": r, "value": r, "passes": failures, "fails": requests - failures})
}

fn step_metric(name: &str, s: &StepStats, res: &RunResult) -> Option<Value> {
    Some(match name {
        "http_req_duration" => trend(&s.duration),
        "http_req_waiting" => trend(&s.waiting),
        "http_req_connecting" => trend(&s.connecting),
        "http_req_tls_handshaking" => trend(&s.tls_handshaking),
        "http_req_blocked" => trend(&s.blocked),
        "http_req_duration_uncorrected" => trend(&s.uncorrected),
        "http_reqs" => counter(s.requests, res),
        "http_req_failed" => rate(s.failures, s.requests),
        n if n.starts_with("stream") => super::streams::metric(n, s.stream.as_deref()?, res)?,
        n if n.starts_with("ws_") => super::streams::ws_metric(n, s.ws.as_deref()?, res)?,
        "checks" if s.checks_passed + s.checks_failed > 0 => json!({
            "rate": s.checks_passed as f64 / (s.checks_passed + s.checks_failed) as f64,
            "value": s.checks_passed as f64 / (s.checks_passed + s.checks_failed) as f64,
            "passes": s.checks_passed,
            "fails": s.checks_failed,
        }),
        _ => return None,
    })
}

fn metrics(r: &RunReport) -> Map<String, Value> {
    let res = &r.result;
    let mut m = Map::new();
    for (name, kind) in METRICS {
        let v = match (*name, kind) {
            (n, _) if STEP_TAGGED.contains(&n) => step_metric(n, &res.overall, res),
            ("iteration_duration", _) => Some(trend(&res.total.iteration)),
            ("iterations", _) => Some(counter(res.total.iterations, res)),
            ("schedule_lag", _) => Some(trend(&res.total.schedule_lag)),
            ("dropped_iterations", _) => Some(counter(res.total.dropped_iterations, res)),
            ("iterations_interrupted", _) => Some(counter(res.total.iterations_interrupted, res)),
            ("http_req_retries", _) => Some(counter(res.total.retries, res)),
            ("data_sent", _) => Some(counter(res.total.data_sent, res)),
            ("data_received", _) => Some(counter(res.total.data_received, res)),
            ("vus", MetricKind::Gauge) => {
                Some(json!({"value": res.vus_last, "min": res.vus_min, "max": res.vus_max}))
            }
            ("vus_max", MetricKind::Gauge) => Some(
                json!({"value": res.vus_allowed, "min": res.vus_allowed, "max": res.vus_allowed}),
            ),
            _ => None,
        };
        if let Some(mut v) = v {
            add_threshold_marks(&mut v, name, None, r);
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
                add_scenario_threshold_marks(&mut v, name, scenario, r);
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
                add_threshold_marks(&mut v, name, Some(step), r);
                m.insert(format!("{name}{{step:{step}}}"), v);
            }
        }
    }
    m
}

/// k6 puts `"thresholds": {"p(95)<500": false}` inside each metric: `true` means the threshold
/// FAILED (k6's summary export: `thresholds[name] = !threshold.ok`), so a k6 jq gate works.
fn add_threshold_marks(v: &mut Value, name: &str, step: Option<&String>, r: &RunReport) {
    let m = |o: &&crate::sla::Outcome| {
        o.threshold.metric.name == name
            && o.threshold.metric.step.as_ref() == step
            && o.threshold.metric.scenario.is_none()
    };
    marks_where(v, r, m);
}

fn add_scenario_threshold_marks(v: &mut Value, name: &str, scenario: &str, r: &RunReport) {
    let m = |o: &&crate::sla::Outcome| {
        o.threshold.metric.name == name && o.threshold.metric.scenario.as_deref() == Some(scenario)
    };
    marks_where(v, r, m);
}

fn marks_where(v: &mut Value, r: &RunReport, keep: impl Fn(&&crate::sla::Outcome) -> bool) {
    let marks: Map<String, Value> = r
        .outcomes
        .iter()
        .filter(keep)
        .map(|o| (o.threshold.expression.clone(), Value::Bool(!o.passed)))
        .collect();
    if !marks.is_empty()
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert("thresholds".into(), Value::Object(marks));
    }
}

pub fn summary(r: &RunReport) -> Value {
    let res = &r.result;
    let thresholds: Vec<Value> = r
        .outcomes
        .iter()
        .map(|o| {
            json!({
                "metric": o.threshold.metric.to_string(),
                "expression": o.threshold.expression,
                "observed": o.observed.map(round3),
                "observed_display": o.observed_display(),
                "passed": o.passed,
                "abort_on_fail": o.threshold.abort_on_fail,
                "window_s": o.threshold.window.map(|w| w.as_secs()),
                "worst_window": o.worst_window.map(|(from, to)| json!({"from_s": from, "to_s": to})),
            })
        })
        .collect();
    let steps: Vec<Value> = r
        .steps
        .iter()
        .map(|info| {
            let s = res
                .step_index(&info.name)
                .and_then(|i| res.total.steps.get(i))
                .cloned()
                .unwrap_or_default();
            let q = |f: f64| if s.duration.is_empty() { 0.0 } else { round3(s.duration.value_at_quantile(f) as f64 / 1000.0) };
            json!({
                "name": info.name,
                "flow": info.flow,
                "request": info.request,
                "requests": s.requests,
                "failures": s.failures,
                "rps": round3(res.rate(s.requests)),
                "error_rate": if s.requests > 0 { s.failures as f64 / s.requests as f64 } else { 0.0 },
                "avg_ms": if s.duration.is_empty() { 0.0 } else { round3(s.duration.mean() / 1000.0) },
                "p50_ms": q(0.5),
                "p90_ms": q(0.9),
                "p95_ms": q(0.95),
                "p99_ms": q(0.99),
                "max_ms": if s.duration.is_empty() { 0.0 } else { round3(s.duration.max() as f64 / 1000.0) },
            })
        })
        .collect();
    let errors: Map<String, Value> = res
        .errors_by_kind()
        .into_iter()
        .map(|(k, n)| (k.name().to_string(), json!(n)))
        .collect();
    let tls_errors: Map<String, Value> = crate::metrics::TlsReason::ALL
        .iter()
        .map(|k| (*k, res.total.tls_reason_count(*k)))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.name().to_string(), json!(n)))
        .collect();
    let protocol_errors: Map<String, Value> = res
        .total
        .protocol_reasons()
        .into_iter()
        .map(|(k, n)| (k, json!(n)))
        .collect();
    let status: Map<String, Value> = res
        .total
        .status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (code.to_string(), json!(n)))
        .collect();
    let timeline: Vec<Value> = res
        .timeline
        .iter()
        .map(|p| {
            json!({
                "second": p.second,
                "vus": p.vus,
                "requests": p.requests,
                "failures": p.failures,
                "iterations": p.iterations,
                "data_sent": p.data_sent,
                "data_received": p.data_received,
                "p50_ms": round3(p.p50_ms),
                "p95_ms": round3(p.p95_ms),
                "p99_ms": round3(p.p99_ms),
                "steps": p.steps.iter().map(|st| json!({
                    "requests": st.requests,
                    "failures": st.failures,
                    "p95_ms": round3(st.p95_ms),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "stampede_version": env!("CARGO_PKG_VERSION"),
        "name": r.name,
        "target": r.target,
        "executor": r.executor,
        "started_at": r.started_at.to_rfc3339(),
        "planned_duration_s": round3(r.planned.as_secs_f64()),
        "duration_s": round3(res.elapsed.as_secs_f64()),
        "interrupted": r.interrupted,
        "aborted_by_threshold": r.aborted_by,
        "verdict": r.verdict().label,
        "exit_code": r.exit_code,
        "metrics": Value::Object(metrics(r)),
        "thresholds": thresholds,
        "steps": steps,
        "errors": errors,
        "tls_errors": tls_errors,
        "tls_certificate": r.tls_certificate,
        "protocol_errors": protocol_errors,
        "iterations_due": r.executor.ends_with("arrival-rate").then_some(res.total.iterations_due),
        "histograms": histograms(res),
        "checks": r.checks.iter().map(|c| json!({
            "step": c.step,
            "check": c.description,
            "passes": c.passes,
            "fails": c.fails,
        })).collect::<Vec<_>>(),
        "status_codes": status,
        "timeline": timeline,
        "capacity": r.capacity.as_ref().map(capacity),
        "streams": super::streams::section(res),
        "websockets": super::streams::ws_section(res),
        "segment": r.segment,
        "merged": r.merged,
    })
}

/// A breakpoint run's findings: every judged stair, the highest sustainable rate, the knee.
fn capacity(c: &crate::stairs::Capacity) -> Value {
    let opt = |v: Option<f64>| v.map(round3);
    json!({
        "max_sustainable_rps": opt(c.max_sustainable_rps),
        "knee_rps": opt(c.knee_rps),
        "broke_at_rps": opt(c.broke_at_rps),
        "stairs_planned": c.stairs_planned,
        "steps": c.steps.iter().map(|s| json!({
            "start_s": round3(s.start.as_secs_f64()),
            "end_s": round3(s.end.as_secs_f64()),
            "offered_rps": round3(s.offered_rps),
            "achieved_rps": round3(s.achieved_rps),
            "requests_per_s": round3(s.requests_per_s),
            "vus_max": s.vus_max,
            "avg_ms": opt(s.avg_ms),
            "p50_ms": opt(s.p50_ms),
            "p95_ms": opt(s.p95_ms),
            "p99_ms": opt(s.p99_ms),
            "error_rate": s.error_rate,
            "dropped_iterations": s.dropped,
            "passed": s.passed,
            "reasons": s.reasons,
        })).collect::<Vec<_>>(),
    })
}
