//! `stampede report compare OLD.json NEW.json`: what changed between two runs, overall and per
//! step, with regressions marked (latency up, throughput down, error rate up).

use serde_json::Value;
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

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Every figure `compare` reads, checked: present, and a finite number (or null: not
/// measured). A summary that fails this is refused (exit 2) rather than compared on what is
/// left of it, so a corrupted file cannot pass `--fail-on-regression`.
pub fn readable(v: &Value) -> Result<(), String> {
    let mut bad: Vec<String> = Vec::new();
    let mut need = |x: Option<&Value>, path: String| match x {
        Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {}
        Some(other) => bad.push(format!("{path} is not a number ({other})")),
        None => bad.push(format!("{path} is missing")),
    };
    let m = &v["metrics"];
    for q in ["p(50)", "p(95)", "p(99)"] {
        need(
            m["http_req_duration"].get(q),
            format!("metrics.http_req_duration.{q}"),
        );
    }
    for k in ["http_reqs", "http_req_failed"] {
        need(m[k].get("rate"), format!("metrics.{k}.rate"));
    }
    let mut names = Vec::new();
    for (i, st) in v["steps"].as_array().into_iter().flatten().enumerate() {
        if !st["name"].is_string() {
            names.push(format!("steps.{i}.name is not text"));
        }
        for k in ["p50_ms", "p95_ms", "p99_ms", "rps", "error_rate"] {
            need(st.get(k), format!("steps.{i}.{k}"));
        }
    }
    bad.extend(names);
    if bad.is_empty() {
        Ok(())
    } else {
        bad.truncate(10);
        Err(format!(
            "not a readable stampede summary: {}",
            bad.join("; ")
        ))
    }
}

/// Compare two summaries (each checked by `readable` first).
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    let (mo, mn) = (&old["metrics"], &new["metrics"]);
    let trend = |m: &Value, q: &str| num(&m["http_req_duration"][q]);
    for (q, label) in [
        ("p(50)", "p50 ms"),
        ("p(95)", "p95 ms"),
        ("p(99)", "p99 ms"),
    ] {
        if let (Some(a), Some(b)) = (trend(mo, q), trend(mn, q)) {
            out.push(Change::new("overall", label, a, b, true));
        }
    }
    if let (Some(a), Some(b)) = (num(&mo["http_reqs"]["rate"]), num(&mn["http_reqs"]["rate"])) {
        out.push(Change::new("overall", "req/s", a, b, false));
    }
    if let (Some(a), Some(b)) = (
        num(super::rate_of(&mo["http_req_failed"])),
        num(super::rate_of(&mn["http_req_failed"])),
    ) {
        out.push(Change::new("overall", "error rate", a, b, true));
    }
    let steps = |s: &Value| s["steps"].as_array().cloned().unwrap_or_default();
    let new_steps = steps(new);
    for so in steps(old) {
        let Some(name) = so["name"].as_str() else {
            continue;
        };
        let Some(sn) = new_steps.iter().find(|s| s["name"] == name) else {
            continue;
        };
        for (k, label, higher_is_worse) in [
            ("p50_ms", "p50 ms", true),
            ("p95_ms", "p95 ms", true),
            ("p99_ms", "p99 ms", true),
            ("rps", "req/s", false),
            ("error_rate", "error rate", true),
        ] {
            if let (Some(a), Some(b)) = (num(&so[k]), num(&sn[k])) {
                out.push(Change::new(name, label, a, b, higher_is_worse));
            }
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
pub fn parse_limit(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{s}`: give a percentage such as `10%`"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("`{s}`: the limit must be 0 % or more"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(p95: f64, rps: f64, err: f64) -> Value {
        json!({
            "metrics": {
                "http_req_duration": {"p(50)": 10.0, "p(95)": p95, "p(99)": p95 * 2.0},
                "http_reqs": {"rate": rps},
                "http_req_failed": {"rate": err},
            },
            "steps": [{"name": "home", "p50_ms": 10.0, "p95_ms": p95, "p99_ms": p95 * 2.0, "rps": rps, "error_rate": err}],
        })
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
