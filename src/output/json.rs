//! `--out json=FILE`: k6's JSON lines. A `Metric` line the first time a metric appears
//! (`{"type":"Metric","data":{"name","type","contains","thresholds","submetrics"},"metric"}`),
//! then `Point` lines (`{"metric","type":"Point","data":{"time","value","tags"}}`).
//!
//! As in k6, `http_reqs` has one Point (value 1) per request, `http_req_failed` one per request
//! (1 failed, 0 not), `checks` one per check (1 held, 0 not), and `http_req_duration` and
//! `http_req_waiting` one per timed request, so counting Points gives the same totals as the
//! summary. Unlike k6, a Point carries the end of the second it was recorded in (the engine keeps
//! histograms, not events), and trend values are the HDR histogram's (3 significant digits, µs
//! resolution). `iterations`, `data_sent`, `data_received` are one Point per second with the
//! second's total; `vus` and `vus_max` one per second. `FILE` ending in `.gz` is gzipped; `-`
//! is standard output.

use super::{RunInfo, Second, Sink};
use crate::metrics::catalog::{self, MetricKind};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

pub struct JsonSink {
    target: String,
    out: Box<dyn Write + Send>,
    info: Arc<RunInfo>,
    seen: HashSet<&'static str>,
    /// Per step: the tags object, serialized once.
    step_tags: Vec<String>,
    run_tags: String,
}

/// Open FILE (`-` = stdout, `.gz` = gzipped) for a streaming output.
pub fn open_target(target: &str) -> anyhow::Result<Box<dyn Write + Send>> {
    if target == "-" {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    }
    let f = std::fs::File::create(target)
        .map_err(|e| anyhow::anyhow!("cannot create {target}: {e}"))?;
    let w = std::io::BufWriter::with_capacity(256 * 1024, f);
    if target.ends_with(".gz") {
        Ok(Box::new(flate2::write::GzEncoder::new(
            w,
            flate2::Compression::fast(),
        )))
    } else {
        Ok(Box::new(w))
    }
}

fn tags_json(pairs: &[(&str, &str)], extra: &[(String, String)]) -> String {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    for (k, v) in extra {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m).to_string()
}

impl JsonSink {
    pub fn create(target: &str, info: Arc<RunInfo>) -> anyhow::Result<JsonSink> {
        let out = open_target(target)?;
        let step_tags = info
            .steps
            .iter()
            .map(|s| {
                tags_json(
                    &[
                        ("name", &s.name),
                        ("step", &s.name),
                        ("scenario", &s.scenario),
                        ("method", &s.method),
                        ("url", &s.url),
                        ("group", ""),
                    ],
                    &info.tags,
                )
            })
            .collect();
        let run_tags = tags_json(&[], &info.tags);
        Ok(JsonSink {
            target: target.to_string(),
            out,
            info,
            seen: HashSet::new(),
            step_tags,
            run_tags,
        })
    }

    fn metric_line(&mut self, name: &'static str) -> std::io::Result<()> {
        if !self.seen.insert(name) {
            return Ok(());
        }
        let kind = catalog::kind_of(name).unwrap_or(MetricKind::Counter);
        let thresholds: Vec<&str> = self
            .info
            .thresholds
            .iter()
            .filter(|(m, _)| m == name)
            .map(|(_, e)| e.as_str())
            .collect();
        let contains = match (name, kind) {
            (_, MetricKind::Trend) => "time",
            ("data_sent" | "data_received", _) => "data",
            _ => "default",
        };
        let line = json!({
            "type": "Metric",
            "data": {"name": name, "type": kind.name(), "contains": contains,
                     "thresholds": thresholds, "submetrics": null},
            "metric": name,
        });
        writeln!(self.out, "{line}")
    }

    /// `n` Points of the same value.
    fn points(
        &mut self,
        name: &'static str,
        time: &str,
        value: f64,
        tags: &str,
        n: u64,
    ) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.metric_line(name)?;
        let line = format!(
            "{{\"metric\":\"{name}\",\"type\":\"Point\",\"data\":{{\"time\":\"{time}\",\"value\":{},\"tags\":{tags}}}}}\n",
            fmt_num(value)
        );
        for _ in 0..n {
            self.out.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

/// Every sample of one second, as k6 would have emitted them: `f(metric, value, step, n)` means
/// `n` samples of `value` with the tags of `step` (`None`: run-level tags only).
pub fn for_each_sample(
    s: &Second,
    vus_max: u32,
    mut f: impl FnMut(&'static str, f64, Option<usize>, u64) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let trend =
        |name: &'static str,
         h: &Histogram<u64>,
         step: Option<usize>,
         f: &mut dyn FnMut(&'static str, f64, Option<usize>, u64) -> std::io::Result<()>|
         -> std::io::Result<()> {
            for v in h.iter_recorded() {
                f(
                    name,
                    v.value_iterated_to() as f64 / 1000.0,
                    step,
                    v.count_at_value(),
                )?;
            }
            Ok(())
        };
    for (i, st) in s.data.steps.iter().enumerate() {
        let step = Some(i);
        f("http_reqs", 1.0, step, st.requests)?;
        trend("http_req_duration", &st.duration, step, &mut f)?;
        trend("http_req_waiting", &st.waiting, step, &mut f)?;
        f("http_req_failed", 1.0, step, st.failures)?;
        f(
            "http_req_failed",
            0.0,
            step,
            st.requests - st.failures.min(st.requests),
        )?;
        f("checks", 1.0, step, st.checks_passed)?;
        f("checks", 0.0, step, st.checks_failed)?;
    }
    let d = &s.data;
    if d.iterations > 0 {
        f("iterations", d.iterations as f64, None, 1)?;
        trend("iteration_duration", &d.iteration, None, &mut f)?;
    }
    f("data_sent", d.data_sent as f64, None, 1)?;
    f("data_received", d.data_received as f64, None, 1)?;
    if s.reported > 0 {
        f("vus", s.vus as f64, None, 1)?;
        f("vus_max", vus_max as f64, None, 1)?;
    }
    Ok(())
}

/// A number as JSON writes it (integers without `.0`).
fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Sink for JsonSink {
    fn describe(&self) -> String {
        format!("json ({})", self.target)
    }

    fn second(&mut self, s: &Second) -> anyhow::Result<()> {
        let time = super::rfc3339(s.time(&self.info));
        let run = std::mem::take(&mut self.run_tags);
        let steps = std::mem::take(&mut self.step_tags);
        let r = for_each_sample(s, self.info.vus_max, |name, value, step, n| {
            let tags = match step {
                Some(i) => steps.get(i).map_or(run.as_str(), String::as_str),
                None => run.as_str(),
            };
            self.points(name, &time, value, tags, n)
        });
        self.run_tags = run;
        self.step_tags = steps;
        r?;
        self.out.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
