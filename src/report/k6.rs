//! k6's two end-of-test JSON shapes, rendered from a stampede `summary.json`:
//!
//! - the `data` object k6 hands to `handleSummary(data)` (what `k6-html-reporter` and most k6
//!   report tools read): `metrics.<m> = {type, contains, values: {…}, thresholds: {expr: {ok}}}`,
//!   `root_group` with `groups: []` and `checks: [{name, path, id, passes, fails}]`, `options`,
//!   `state`;
//! - k6's `--summary-export` file, made from that object exactly as k6's summary wrapper does:
//!   each metric becomes its `values`, `thresholds[expr] = !ok` (so `true` means FAILED), a rate
//!   metric's `rate` is renamed `value`, and `root_group`'s `groups`/`checks` become objects keyed
//!   by name; `options` and `state` are dropped.
//!
//! As k6 does, sub-metrics (`http_req_duration{step:login}`) appear only when a threshold names
//! them, and metrics that got no sample are left out. Trend statistics follow
//! `--summary-trend-stats` (k6's default `avg,min,med,max,p(90),p(95)`), computed from the
//! summary's HDR histograms, in milliseconds.

use crate::metrics::catalog::{self, MetricKind};
use crate::summary::{CheckRow, Metric, Summary, ThresholdRow};
use hdrhistogram::Histogram;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

/// k6's default `summaryTrendStats`.
pub const DEFAULT_TREND_STATS: &str = "avg,min,med,max,p(90),p(95)";

/// One statistic of a trend, as `--summary-trend-stats` names it.
#[derive(Debug, Clone, PartialEq)]
pub enum TrendStat {
    Avg,
    Min,
    Med,
    Max,
    Count,
    P(f64),
}

/// A `--summary-trend-stats` list that does not parse (clap shows it; exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrendStatsError {
    #[error("`{0}`: a percentile is written p(N) with N a number, e.g. p(99.9)")]
    BadPercentile(String),
    #[error("`{0}`: a percentile must be within 0 and 100")]
    PercentileRange(String),
    #[error("`{0}`: unknown trend statistic; use avg, min, med, max, count or p(N)")]
    Unknown(String),
    #[error("no trend statistic given; e.g. `avg,min,med,max,p(90),p(95)`")]
    Empty,
}

/// The statistics to show for trends, with the names as written (`p(99.9)`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendStats(pub Vec<(String, TrendStat)>);

impl Default for TrendStats {
    fn default() -> Self {
        // The default list is valid by construction.
        TrendStats::parse(DEFAULT_TREND_STATS).unwrap_or(TrendStats(Vec::new()))
    }
}

impl TrendStats {
    /// Parse k6's `--summary-trend-stats` list: `avg,min,med,max,count,p(N)`.
    pub fn parse(s: &str) -> Result<TrendStats, TrendStatsError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let stat = match part {
                "avg" => TrendStat::Avg,
                "min" => TrendStat::Min,
                "med" => TrendStat::Med,
                "max" => TrendStat::Max,
                "count" => TrendStat::Count,
                p if p.starts_with("p(") && p.ends_with(')') => {
                    let n: f64 = p[2..p.len() - 1]
                        .trim()
                        .parse()
                        .map_err(|_| TrendStatsError::BadPercentile(p.to_string()))?;
                    if !(0.0..=100.0).contains(&n) {
                        return Err(TrendStatsError::PercentileRange(p.to_string()));
                    }
                    TrendStat::P(n)
                }
                other => {
                    return Err(TrendStatsError::Unknown(other.to_string()));
                }
            };
            out.push((part.to_string(), stat));
        }
        if out.is_empty() {
            return Err(TrendStatsError::Empty);
        }
        Ok(TrendStats(out))
    }

    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn decode(b64: &str) -> Option<Histogram<u64>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .ok()
}

/// A trend's statistics in ms, from its histogram (µs).
fn trend_values(h: &Histogram<u64>, stats: &TrendStats) -> Map<String, Value> {
    let ms = |us: u64| round6(us as f64 / 1000.0);
    stats
        .0
        .iter()
        .map(|(name, st)| {
            let v = match st {
                TrendStat::Count => json!(h.len()),
                _ if h.is_empty() => json!(0.0),
                TrendStat::Avg => json!(round6(h.mean() / 1000.0)),
                TrendStat::Min => json!(ms(h.min())),
                TrendStat::Max => json!(ms(h.max())),
                TrendStat::Med => json!(ms(h.value_at_quantile(0.5))),
                TrendStat::P(p) => json!(ms(h.value_at_quantile(p / 100.0))),
            };
            (name.clone(), v)
        })
        .collect()
}

/// The base name of `name{tag:value}`.
fn base_name(key: &str) -> &str {
    key.split('{').next().unwrap_or(key)
}

fn contains(name: &str, kind: MetricKind) -> &'static str {
    match (name, kind) {
        (_, MetricKind::Trend) => "time",
        ("data_sent" | "data_received", _) => "data",
        _ => "default",
    }
}

/// The `data` object k6 passes to `handleSummary`, from a stampede summary.json.
///
/// This reads the typed `Summary` and WRITES k6's own JSON shapes (the `json!` values and
/// `Map`s here and in `summary_export` are k6's output, not lookups into the summary).
pub fn handle_summary_data(summary: &Summary, stats: &TrendStats, no_color: bool) -> Value {
    let marks = threshold_marks(&summary.thresholds);
    let mut metrics = Map::new();
    for (key, m) in &summary.metrics {
        let Some(kind) = catalog::kind_of(base_name(key)) else {
            continue;
        };
        let th = marks.get(key);
        if key.contains('{') && th.is_none() {
            continue; // k6 shows a sub-metric only when a threshold names it
        }
        let hist = summary.histograms.get(key).map(String::as_str);
        let Some(values) = metric_values(kind, m, hist, th.is_some(), stats) else {
            continue;
        };
        let mut out = json!({
            "type": kind.name(),
            "contains": contains(base_name(key), kind),
            "values": values,
        });
        if let Some(th) = th {
            out["thresholds"] = th.clone();
        }
        metrics.insert(key.clone(), out);
    }
    let checks: Vec<Value> = summary.checks.iter().map(check).collect();
    use std::io::IsTerminal;
    json!({
        "root_group": {"name": "", "path": "", "id": md5_hex(""), "groups": [], "checks": checks},
        "options": {
            "summaryTrendStats": stats.names(),
            "summaryTimeUnit": "",
            "noColor": no_color,
        },
        "state": {
            "isStdOutTTY": std::io::stdout().is_terminal(),
            "isStdErrTTY": std::io::stderr().is_terminal(),
            "testRunDurationMs": round6(finite(summary.duration_s) * 1000.0),
        },
        "metrics": metrics,
    })
}

/// k6's `thresholds` of each metric key (`{expr: {ok}}`), from the summary's thresholds list.
fn threshold_marks(rows: &[ThresholdRow]) -> Map<String, Value> {
    let mut marks: Map<String, Value> = Map::new();
    for t in rows {
        let entry = marks
            .entry(t.metric.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(t.expression.clone(), json!({"ok": t.passed}));
        }
    }
    marks
}

/// A metric's k6 `values` (by the kind k6 gives its name); None when k6 leaves it out (no
/// sample and no threshold).
fn metric_values(
    kind: MetricKind,
    m: &Metric,
    hist: Option<&str>,
    has_threshold: bool,
    stats: &TrendStats,
) -> Option<Map<String, Value>> {
    let values = match kind {
        MetricKind::Trend => {
            let h = hist.and_then(decode);
            let count = h.as_ref().map_or(0, |h| h.len());
            if count == 0 && !has_threshold {
                return None;
            }
            match h {
                Some(h) => trend_values(&h, stats),
                None => trend_values(&crate::metrics::recorder::new_histogram(), stats),
            }
        }
        MetricKind::Counter => {
            let count = m.count().unwrap_or(0);
            if count == 0 && !has_threshold {
                return None;
            }
            let rate = m.counter().map_or(Value::Null, |c| json!(c.rate));
            [
                ("count".to_string(), json!(count)),
                ("rate".to_string(), rate),
            ]
            .into_iter()
            .collect()
        }
        MetricKind::Rate => {
            let r = m.rate();
            [
                (
                    "rate".to_string(),
                    r.map_or(Value::Null, |r| json!(r.value)),
                ),
                (
                    "passes".to_string(),
                    r.map_or(Value::Null, |r| json!(r.passes)),
                ),
                (
                    "fails".to_string(),
                    r.map_or(Value::Null, |r| json!(r.fails)),
                ),
            ]
            .into_iter()
            .collect()
        }
        MetricKind::Gauge => {
            let g = m.gauge();
            [
                (
                    "value".to_string(),
                    g.map_or(Value::Null, |g| json!(g.value)),
                ),
                ("min".to_string(), g.map_or(Value::Null, |g| json!(g.min))),
                ("max".to_string(), g.map_or(Value::Null, |g| json!(g.max))),
            ]
            .into_iter()
            .collect()
        }
    };
    Some(values)
}

/// One check of `root_group.checks`, named `STEP: CHECK` as k6 names a check.
fn check(c: &CheckRow) -> Value {
    let name = format!("{}: {}", c.step, c.check);
    let path = format!("::{name}");
    json!({
        "name": name,
        "path": path,
        "id": md5_hex(&path),
        "passes": c.passes,
        "fails": c.fails,
    })
}

/// A duration to write: not finite (`null` in summary.json) counts as 0.
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// k6's `--summary-export` file from the `handleSummary` data, as k6's summary wrapper makes it.
///
/// This transforms k6's `handleSummary` object built above (k6's output, not the stampede
/// summary): the lookups below read that object, in k6's shape, to reshape it as k6 does.
pub fn summary_export(data: &Value) -> Value {
    let mut results = data.clone();
    if let Some(obj) = results.as_object_mut() {
        obj.remove("options");
        obj.remove("state");
    }
    if let Some(metrics) = results["metrics"].as_object_mut() {
        for m in metrics.values_mut() {
            let mut old = m["values"].as_object().cloned().unwrap_or_default();
            if let Some(th) = m["thresholds"].as_object()
                && !th.is_empty()
            {
                let flipped: Map<String, Value> = th
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Bool(!v["ok"].as_bool().unwrap_or(false))))
                    .collect();
                old.insert("thresholds".into(), Value::Object(flipped));
            }
            if m["type"] == "rate"
                && let Some(r) = old.remove("rate")
            {
                old.insert("value".into(), r);
            }
            *m = Value::Object(old);
        }
    }
    results["root_group"] = transform_group(&results["root_group"]);
    results
}

/// `groups` and `checks` arrays become objects keyed by name (recursively), as k6's old format.
fn transform_group(g: &Value) -> Value {
    let mut g = g.clone();
    if let Some(groups) = g["groups"].as_array().cloned() {
        let obj: Map<String, Value> = groups
            .iter()
            .map(|x| {
                (
                    x["name"].as_str().unwrap_or("").to_string(),
                    transform_group(x),
                )
            })
            .collect();
        g["groups"] = Value::Object(obj);
    }
    if let Some(checks) = g["checks"].as_array().cloned() {
        let obj: Map<String, Value> = checks
            .iter()
            .map(|x| (x["name"].as_str().unwrap_or("").to_string(), x.clone()))
            .collect();
        g["checks"] = Value::Object(obj);
    }
    g
}

/// Write `text` to `path` through a temporary file beside it, so a reader never sees half a file.
pub fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            anyhow::anyhow!("cannot write {}: {e}", path.display())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_stats_parse_like_k6() {
        let s = TrendStats::parse("avg, p(99.9),count").unwrap();
        assert_eq!(s.names(), vec!["avg", "p(99.9)", "count"]);
        assert!(
            TrendStats::parse("p95")
                .unwrap_err()
                .to_string()
                .contains("unknown")
        );
        assert!(TrendStats::parse("p(101)").is_err());
        assert!(TrendStats::parse("").is_err());
        assert_eq!(TrendStats::default().0.len(), 6);
    }

    #[test]
    fn export_flips_thresholds_renames_rate_and_keys_checks_by_name() {
        let data = json!({
            "root_group": {"name": "", "path": "", "id": md5_hex(""), "groups": [],
                "checks": [{"name": "home: status", "path": "::home: status", "id": "x", "passes": 3, "fails": 0}]},
            "options": {}, "state": {},
            "metrics": {
                "http_req_failed": {"type": "rate", "contains": "default",
                    "values": {"rate": 0.25, "passes": 1, "fails": 3},
                    "thresholds": {"rate<0.1": {"ok": false}}},
                "http_req_duration": {"type": "trend", "contains": "time",
                    "values": {"p(95)": 1.5}, "thresholds": {"p(95)<500": {"ok": true}}},
            }
        });
        let e = summary_export(&data);
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(e["metrics"]["http_req_failed"]["value"], 0.25);
        assert!(e["metrics"]["http_req_failed"].get("rate").is_none());
        assert_eq!(
            e["metrics"]["http_req_failed"]["thresholds"]["rate<0.1"],
            true
        );
        assert_eq!(
            e["metrics"]["http_req_duration"]["thresholds"]["p(95)<500"],
            false
        );
        assert_eq!(e["root_group"]["checks"]["home: status"]["passes"], 3);
        assert!(e["root_group"]["groups"].is_object());
        assert!(e.get("options").is_none() && e.get("state").is_none());
    }
}
