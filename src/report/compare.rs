//! `stampede report compare OLD.json NEW.json`: what changed between two runs, overall and per
//! step, with regressions marked (latency up, throughput down, error rate up).

use crate::summary::{Metric, Summary};
use std::fmt::Write;

/// One compared figure.
pub struct Change {
    /// `overall` or the step name.
    pub scope: String,
    pub figure: &'static str,
    pub old: f64,
    pub new: f64,
    /// Relative change in the bad direction (0.12 = 12 % worse); negative when better.
    pub worse_by: f64,
}

impl Change {
    fn new(scope: &str, figure: &'static str, old: f64, new: f64, higher_is_worse: bool) -> Self {
        let rel = if old.abs() > f64::EPSILON {
            (new - old) / old.abs()
        } else if new.abs() > f64::EPSILON {
            // From nothing to something: count it as a 100 % change.
            new.signum()
        } else {
            0.0
        };
        Change {
            scope: scope.to_string(),
            figure,
            old,
            new,
            worse_by: if higher_is_worse { rel } else { -rel },
        }
    }

    /// Worse by more than `limit` (a fraction). Error rates also need to grow by at least 0.1
    /// percentage point, so a single stray error is not a regression.
    pub fn regressed(&self, limit: f64) -> bool {
        if self.figure == "error rate" && (self.new - self.old) < 0.001 {
            return false;
        }
        self.worse_by > limit
    }
}

/// The figures `compare` reads must be there: a summary without them is refused (exit 2)
/// rather than compared on what is left of it, so a cut-down file cannot pass
/// `--fail-on-regression`. (Their types were checked when the file was read.)
/// Why `report compare` refuses a summary or a `--fail-on-regression` limit (exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// The figures compare reads are missing: each a sentence.
    #[error("not a readable stampede summary: {}", .0.join("; "))]
    Unreadable(Vec<String>),
    #[error("`{0}`: give a percentage such as `10%`")]
    NotAPercentage(String),
    #[error("`{0}`: the limit must be 0 % or more")]
    NegativeLimit(String),
}

pub fn readable(s: &Summary) -> Result<(), CompareError> {
    let mut bad: Vec<String> = Vec::new();
    if s.trend("http_req_duration").is_none() {
        bad.push("metrics.http_req_duration (a trend) is missing".into());
    }
    if !matches!(s.metric("http_reqs"), Some(Metric::Counter(_))) {
        bad.push("metrics.http_reqs (a counter) is missing".into());
    }
    if !matches!(s.metric("http_req_failed"), Some(Metric::Rate(_))) {
        bad.push("metrics.http_req_failed (a rate) is missing".into());
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(CompareError::Unreadable(bad))
    }
}

/// Compare two summaries (each checked by `readable` first).
pub fn compare(old: &Summary, new: &Summary) -> Vec<Change> {
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (
        old.trend("http_req_duration"),
        new.trend("http_req_duration"),
    ) {
        for (x, y, label) in [
            (a.p50, b.p50, "p50 ms"),
            (a.p95, b.p95, "p95 ms"),
            (a.p99, b.p99, "p99 ms"),
        ] {
            out.push(Change::new("overall", label, x, y, true));
        }
    }
    let rps = |s: &Summary| match s.metric("http_reqs") {
        Some(Metric::Counter(c)) => Some(c.rate),
        _ => None,
    };
    if let (Some(a), Some(b)) = (rps(old), rps(new)) {
        out.push(Change::new("overall", "req/s", a, b, false));
    }
    if let (Some(a), Some(b)) = (old.rate("http_req_failed"), new.rate("http_req_failed")) {
        out.push(Change::new("overall", "error rate", a, b, true));
    }
    for so in &old.steps {
        let Some(sn) = new.steps.iter().find(|s| s.name == so.name) else {
            continue;
        };
        for (a, b, label, higher_is_worse) in [
            (so.p50_ms, sn.p50_ms, "p50 ms", true),
            (so.p95_ms, sn.p95_ms, "p95 ms", true),
            (so.p99_ms, sn.p99_ms, "p99 ms", true),
            (so.rps, sn.rps, "req/s", false),
            (so.error_rate, sn.error_rate, "error rate", true),
        ] {
            out.push(Change::new(&so.name, label, a, b, higher_is_worse));
        }
    }
    out
}

fn fmt(figure: &str, v: f64) -> String {
    if figure == "error rate" {
        format!("{:.2}%", v * 100.0)
    } else if figure == "req/s" {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The comparison as a table; `limit` marks regressions beyond it.
pub fn render(changes: &[Change], limit: Option<f64>, old_name: &str, new_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "stampede report compare: {old_name} → {new_name}\n");
    let _ = writeln!(
        out,
        "  {:<24} {:<11} {:>12} {:>12} {:>9}",
        "scope", "figure", "old", "new", "change"
    );
    let mut regressions = 0;
    for c in changes {
        let change = if c.old.abs() > f64::EPSILON {
            format!("{:+.1}%", (c.new - c.old) / c.old.abs() * 100.0)
        } else if c.new.abs() > f64::EPSILON {
            "new".to_string()
        } else {
            "=".to_string()
        };
        let mark = match limit {
            Some(l) if c.regressed(l) => {
                regressions += 1;
                "  ✗ regression"
            }
            _ if c.worse_by < -0.05 => "  ✓ better",
            _ => "",
        };
        let scope: String = if c.scope.chars().count() > 24 {
            c.scope.chars().take(23).chain(['…']).collect()
        } else {
            c.scope.clone()
        };
        let _ = writeln!(
            out,
            "  {:<24} {:<11} {:>12} {:>12} {:>9}{mark}",
            scope,
            c.figure,
            fmt(c.figure, c.old),
            fmt(c.figure, c.new),
            change
        );
    }
    match limit {
        Some(l) if regressions > 0 => {
            let _ = writeln!(
                out,
                "\n  REGRESSED: {regressions} figure(s) worse by more than {:.0}% (exit code 99)",
                l * 100.0
            );
        }
        Some(l) => {
            let _ = writeln!(out, "\n  OK: nothing worse by more than {:.0}%", l * 100.0);
        }
        None => {}
    }
    out
}

/// `10%`, `10 %` or `0.1` → 0.1.
pub fn parse_limit(s: &str) -> Result<f64, CompareError> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| CompareError::NotAPercentage(s.to_string()))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(CompareError::NegativeLimit(s.to_string()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p95: f64, rps: f64, err: f64) -> Summary {
        use crate::summary::{Counter, Rate, StepRow, Trend};
        let mut s: Summary = serde_json::from_str(include_str!(
            "../../tests/fixtures/summary/run/summary.json"
        ))
        .unwrap();
        s.metrics.insert(
            "http_req_duration".into(),
            Metric::Trend(Trend {
                p50: 10.0,
                p95,
                p99: p95 * 2.0,
                ..Trend::default()
            }),
        );
        s.metrics.insert(
            "http_reqs".into(),
            Metric::Counter(Counter {
                rate: rps,
                ..Counter::default()
            }),
        );
        s.metrics.insert(
            "http_req_failed".into(),
            Metric::Rate(Rate {
                rate: err,
                value: err,
                ..Rate::default()
            }),
        );
        s.steps = vec![StepRow {
            name: "home".into(),
            p50_ms: 10.0,
            p95_ms: p95,
            p99_ms: p95 * 2.0,
            rps,
            error_rate: err,
            ..StepRow::default()
        }];
        s
    }

    #[test]
    fn the_same_run_has_no_regression() {
        let a = summary(50.0, 100.0, 0.0);
        let c = compare(&a, &a);
        assert!(!c.is_empty());
        assert!(c.iter().all(|c| !c.regressed(0.0)));
    }

    #[test]
    fn slower_fewer_and_failing_are_regressions() {
        let c = compare(&summary(50.0, 100.0, 0.0), &summary(60.0, 85.0, 0.02));
        let bad: Vec<(&str, &str)> = c
            .iter()
            .filter(|c| c.regressed(0.10))
            .map(|c| (c.scope.as_str(), c.figure))
            .collect();
        assert!(bad.contains(&("overall", "p95 ms")));
        assert!(bad.contains(&("home", "p95 ms")));
        assert!(bad.contains(&("overall", "req/s")));
        assert!(bad.contains(&("overall", "error rate")));
        assert!(!bad.contains(&("overall", "p50 ms")));
        // Faster is never a regression.
        let c = compare(&summary(60.0, 85.0, 0.0), &summary(50.0, 100.0, 0.0));
        assert!(c.iter().all(|c| !c.regressed(0.0)));
    }

    #[test]
    fn limits_parse() {
        assert_eq!(parse_limit("10%"), Ok(0.1));
        assert_eq!(parse_limit("0.25"), Ok(0.25));
        assert!(parse_limit("ten").is_err());
    }
}
