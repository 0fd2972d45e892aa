//! SLA thresholds: k6's grammar (`<aggregation> <op> <value>`) with units written out, and their
//! evaluation against a finished (or running) set of metrics.

use crate::metrics::catalog::MetricKind;
// The metric query types live in `metrics` (the layer below); re-exported for the grammar's
// callers.
pub use crate::metrics::query::{Agg, MetricRef, Observe};
use crate::units::duration::DurationError;
use std::time::Duration;

/// Why a threshold expression is refused (`expr`: the expression as written, trimmed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("threshold `{expr}`: expected `<aggregation> <op> <value>`, e.g. `p(95) < 500ms`")]
    Shape { expr: String },
    #[error("threshold `{expr}`: unknown operator (use <, <=, >, >=, ==, !=)")]
    Operator { expr: String },
    #[error("threshold `{expr}`: window `{window}`: {problem}")]
    Window {
        expr: String,
        window: String,
        problem: DurationError,
    },
    #[error(
        "threshold `{expr}`: a window is a whole number of seconds, at least 1s (e.g. `over 30s`, `over 1m`)"
    )]
    WindowLength { expr: String },
    #[error("threshold `{expr}`: `{agg}` needs a number, e.g. `p(95)` or `p(99.9)`")]
    PercentileNumber { expr: String, agg: String },
    #[error("threshold `{expr}`: percentile `{agg}` must be in (0, 100]")]
    PercentileRange { expr: String, agg: String },
    #[error(
        "threshold `{expr}`: unknown aggregation `{agg}` for {metric} (a {kind}); use {allowed}"
    )]
    UnknownAggregation {
        expr: String,
        agg: String,
        metric: String,
        kind: &'static str,
        allowed: &'static str,
    },
    #[error("threshold `{expr}`: `{agg}` does not apply to {metric} (a {kind}); use {allowed}")]
    AggregationKind {
        expr: String,
        agg: String,
        metric: String,
        kind: &'static str,
        allowed: &'static str,
    },
    #[error("threshold `{expr}`: `{value}` is not a number with a unit")]
    NotANumber { expr: String, value: String },
    #[error("threshold `{expr}`: `{value}` is not finite")]
    NotFinite { expr: String, value: String },
    #[error("threshold `{expr}`: `{value}` is out of range")]
    OutOfRange { expr: String, value: String },
    #[error("threshold `{expr}`: unit `{unit}` does not fit here; use {allowed}")]
    Unit {
        expr: String,
        unit: String,
        allowed: &'static str,
    },
    #[error(
        "threshold `{expr}`: a percentage is between 0% and 100% (`{value}` would always pass or always fail)"
    )]
    Percentage { expr: String, value: String },
    #[error("threshold `{expr}`: a rate is a fraction in [0, 1] or a percentage like `0.1%`")]
    Fraction { expr: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }
}

/// One threshold expression on one metric.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub metric: MetricRef,
    /// The expression as written, e.g. `p(95) < 500ms`.
    pub expression: String,
    pub agg: Agg,
    pub op: Op,
    /// The limit in the metric's canonical unit: ms for trends, a fraction for rates, a plain
    /// number for counters and gauges.
    pub limit: f64,
    pub abort_on_fail: bool,
    pub delay_abort_eval: Duration,
    /// `p(95) over 1m < 500ms`: judged on every sliding window of this many whole seconds of the
    /// per-second timeline (see `windows.rs`), not over the whole run.
    pub window: Option<Duration>,
}

/// The outcome of one threshold.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub threshold: Threshold,
    pub observed: Option<f64>,
    pub passed: bool,
    /// A windowed threshold's worst window: seconds `(from, to]` of the run.
    pub worst_window: Option<(u64, u64)>,
}

impl Outcome {
    /// The observed value with its unit (`12.3ms`, `0.05%`, `1200`), or `no data`.
    pub fn observed_display(&self) -> String {
        let v = match self.observed {
            None => return "no data".into(),
            Some(v) => format_value(self.threshold.metric.kind(), self.threshold.agg, v),
        };
        match self.worst_window {
            Some((from, to)) => format!("{v} in {from}s–{to}s"),
            None => v,
        }
    }
}

/// Format a value of a metric in its natural unit.
pub fn format_value(kind: MetricKind, agg: Agg, v: f64) -> String {
    match (kind, agg) {
        (MetricKind::Trend, Agg::Count) => format!("{v:.0}"),
        (MetricKind::Trend, _) => {
            if v >= 1000.0 {
                format!("{:.2}s", v / 1000.0)
            } else {
                format!("{v:.2}ms")
            }
        }
        (MetricKind::Rate, _) => format!("{:.2}%", v * 100.0),
        (MetricKind::Counter, Agg::Rate) => format!("{v:.2}/s"),
        _ => format!("{v:.0}"),
    }
}

impl Threshold {
    /// Parse `expression` for `metric`, e.g. `p(95) < 500ms` on `http_req_duration`.
    pub fn parse(metric: MetricRef, expression: &str) -> Result<Threshold, ThresholdError> {
        let expr = expression.trim();
        let op_at = expr
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| ThresholdError::Shape { expr: expr.into() })?;
        let (agg_text, window) = split_window(expr[..op_at].trim(), expr)?;
        let rest = &expr[op_at..];
        let (op, value_text) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("===", Op::Eq),
            ("==", Op::Eq),
            ("!==", Op::Ne),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v.trim())))
        .ok_or_else(|| ThresholdError::Operator { expr: expr.into() })?;
        let kind = metric.kind();
        let agg = parse_agg(agg_text, kind, expr, &metric.name)?;
        let limit = parse_limit(value_text, kind, agg, expr)?;
        Ok(Threshold {
            metric,
            expression: expr.to_string(),
            agg,
            op,
            limit,
            abort_on_fail: false,
            delay_abort_eval: Duration::ZERO,
            window,
        })
    }

    pub fn evaluate(&self, source: &dyn Observe) -> Outcome {
        let observed = source.observe(&self.metric, self.agg);
        // With no data at all, a threshold on a trend or rate cannot be judged: it fails, as an
        // SLA that was never exercised is not met. Counters and gauges observe zero.
        let passed = match observed {
            Some(v) => self.op.holds(v, self.limit),
            None => false,
        };
        Outcome {
            threshold: self.clone(),
            observed,
            passed,
            worst_window: None,
        }
    }
}

/// `p(95) over 1m` → (`p(95)`, 60 s). A window is whole seconds, at least 1 s.
fn split_window<'a>(
    text: &'a str,
    expr: &str,
) -> Result<(&'a str, Option<Duration>), ThresholdError> {
    let Some(i) = text.find(" over ") else {
        return Ok((text, None));
    };
    let (agg, w) = (text[..i].trim(), text[i + 6..].trim());
    let d =
        crate::units::duration::parse_duration(w).map_err(|problem| ThresholdError::Window {
            expr: expr.into(),
            window: w.into(),
            problem,
        })?;
    if d < Duration::from_secs(1) || d.subsec_nanos() != 0 {
        return Err(ThresholdError::WindowLength { expr: expr.into() });
    }
    Ok((agg, Some(d)))
}

fn parse_agg(
    text: &str,
    kind: MetricKind,
    expr: &str,
    metric: &str,
) -> Result<Agg, ThresholdError> {
    let agg =
        match text {
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "med" => Agg::Med,
            "count" => Agg::Count,
            "rate" => Agg::Rate,
            "value" => Agg::Value,
            t if t.starts_with("p(") && t.ends_with(')') => {
                let n: f64 = t[2..t.len() - 1].trim().parse().map_err(|_| {
                    ThresholdError::PercentileNumber {
                        expr: expr.into(),
                        agg: t.into(),
                    }
                })?;
                if !(n > 0.0 && n <= 100.0) {
                    return Err(ThresholdError::PercentileRange {
                        expr: expr.into(),
                        agg: t.into(),
                    });
                }
                Agg::P(n)
            }
            t => {
                return Err(ThresholdError::UnknownAggregation {
                    expr: expr.into(),
                    agg: t.into(),
                    metric: metric.into(),
                    kind: kind.name(),
                    allowed: allowed_aggs(kind),
                });
            }
        };
    let ok = match kind {
        MetricKind::Trend => matches!(
            agg,
            Agg::Avg | Agg::Min | Agg::Max | Agg::Med | Agg::P(_) | Agg::Count
        ),
        MetricKind::Counter => matches!(agg, Agg::Count | Agg::Rate),
        MetricKind::Rate => matches!(agg, Agg::Rate),
        MetricKind::Gauge => matches!(agg, Agg::Value | Agg::Min | Agg::Max),
    };
    if !ok {
        return Err(ThresholdError::AggregationKind {
            expr: expr.into(),
            agg: text.into(),
            metric: metric.into(),
            kind: kind.name(),
            allowed: allowed_aggs(kind),
        });
    }
    Ok(agg)
}

fn allowed_aggs(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Trend => "avg, min, max, med, p(N) or count",
        MetricKind::Counter => "count or rate",
        MetricKind::Rate => "rate",
        MetricKind::Gauge => "value, min or max",
    }
}

fn parse_limit(text: &str, kind: MetricKind, agg: Agg, expr: &str) -> Result<f64, ThresholdError> {
    let v = parse_limit_units(text, kind, agg, expr)?;
    if !v.is_finite() {
        return Err(ThresholdError::OutOfRange {
            expr: expr.into(),
            value: text.into(),
        });
    }
    Ok(v)
}

fn parse_limit_units(
    text: &str,
    kind: MetricKind,
    agg: Agg,
    expr: &str,
) -> Result<f64, ThresholdError> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(text.len());
    let (num, unit) = (text[..split].trim(), text[split..].trim());
    let n: f64 = num.parse().map_err(|_| ThresholdError::NotANumber {
        expr: expr.into(),
        value: text.into(),
    })?;
    if !n.is_finite() {
        return Err(ThresholdError::NotFinite {
            expr: expr.into(),
            value: text.into(),
        });
    }
    let bad_unit = |allowed: &'static str| {
        Err(ThresholdError::Unit {
            expr: expr.into(),
            unit: unit.into(),
            allowed,
        })
    };
    match (kind, agg) {
        (MetricKind::Trend, Agg::Count) => match unit {
            "" => Ok(n),
            _ => bad_unit("a plain number"),
        },
        (MetricKind::Trend, _) => match unit {
            "" | "ms" => Ok(n),
            "us" | "µs" => Ok(n / 1000.0),
            "s" => Ok(n * 1000.0),
            "m" => Ok(n * 60_000.0),
            _ => bad_unit("us, ms, s or m (a bare number means ms)"),
        },
        (MetricKind::Rate, _) => match unit {
            "%" if (0.0..=100.0).contains(&n) => Ok(n / 100.0),
            "%" => Err(ThresholdError::Percentage {
                expr: expr.into(),
                value: text.into(),
            }),
            "" if (0.0..=1.0).contains(&n) => Ok(n),
            "" => Err(ThresholdError::Fraction { expr: expr.into() }),
            _ => bad_unit("% or a fraction in [0, 1]"),
        },
        (MetricKind::Counter, Agg::Rate) => match unit {
            "" | "/s" => Ok(n),
            _ => bad_unit("a number per second (`/s`)"),
        },
        _ => match unit {
            "" => Ok(n),
            _ => bad_unit("a plain number"),
        },
    }
}

/// Evaluate every threshold.
pub fn evaluate_all(thresholds: &[Threshold], source: &dyn Observe) -> Vec<Outcome> {
    thresholds.iter().map(|t| t.evaluate(source)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(metric: &str, expr: &str) -> Result<Threshold, String> {
        let m = MetricRef::parse(metric).map_err(|e| e.to_string())?;
        Threshold::parse(m, expr).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_k6_expressions_with_units() {
        let p95 = t("http_req_duration", "p(95) < 500ms").unwrap();
        assert_eq!((p95.agg, p95.op, p95.limit), (Agg::P(95.0), Op::Lt, 500.0));
        assert_eq!(t("http_req_duration", "p(99)<1s").unwrap().limit, 1000.0);
        assert_eq!(t("http_req_duration", "avg < 200").unwrap().limit, 200.0);
        assert_eq!(
            t("http_req_duration", "p(99.9) <= 250us").unwrap().limit,
            0.25
        );
        assert!((t("http_req_failed", "rate < 0.1%").unwrap().limit - 0.001).abs() < 1e-12);
        assert_eq!(t("http_req_failed", "rate<0.01").unwrap().limit, 0.01);
        assert_eq!(t("http_reqs", "count >= 100").unwrap().op, Op::Ge);
        assert_eq!(t("vus_max", "value == 10").unwrap().agg, Agg::Value);
    }

    #[test]
    fn windowed_expressions() {
        let w = t("http_req_duration", "p(95) over 1m < 500ms").unwrap();
        assert_eq!(w.window, Some(Duration::from_secs(60)));
        assert_eq!((w.agg, w.limit), (Agg::P(95.0), 500.0));
        let r = t("http_req_failed", "rate over 30s < 1%").unwrap();
        assert_eq!(r.window, Some(Duration::from_secs(30)));
        assert!(t("http_req_failed", "rate < 1%").unwrap().window.is_none());
        assert!(
            t("http_req_duration", "p(95) over 500ms < 1s")
                .unwrap_err()
                .contains("whole number of seconds")
        );
        assert!(t("http_req_duration", "p(95) over soon < 1s").is_err());
    }

    #[test]
    fn rejects_malformed_expressions_with_a_hint() {
        assert!(
            t("http_req_duration", "p95 < 500ms")
                .unwrap_err()
                .contains("unknown aggregation")
        );
        assert!(
            t("http_req_duration", "p(95) 500ms")
                .unwrap_err()
                .contains("expected")
        );
        assert!(
            t("http_req_duration", "p(95) < 500 parsecs")
                .unwrap_err()
                .contains("unit")
        );
        assert!(
            t("http_req_duration", "p(101) < 5ms")
                .unwrap_err()
                .contains("(0, 100]")
        );
        assert!(
            t("http_req_duration", "rate < 5ms")
                .unwrap_err()
                .contains("does not apply")
        );
        assert!(
            t("http_req_failed", "rate < 5")
                .unwrap_err()
                .contains("fraction")
        );
        assert!(t("http_req_failed", "p(95) < 5").is_err());
        assert!(t("http_req_duration", "p(95) < abc").is_err());
    }

    #[test]
    fn metric_refs_and_sub_metrics() {
        let m = MetricRef::parse("http_req_duration{step:login}").unwrap();
        assert_eq!(m.step.as_deref(), Some("login"));
        assert_eq!(m.to_string(), "http_req_duration{step:login}");
        assert!(
            MetricRef::parse("http_req_duraton")
                .unwrap_err()
                .to_string()
                .contains("did you mean `http_req_duration`")
        );
        assert!(
            MetricRef::parse("http_req_duration{status:200}")
                .unwrap_err()
                .to_string()
                .contains("unknown tag")
        );
        assert!(
            MetricRef::parse("vus{step:x}")
                .unwrap_err()
                .to_string()
                .contains("not recorded per step")
        );
        assert!(MetricRef::parse("http_req_duration{step:x").is_err());
    }

    struct Fixed(Option<f64>);
    impl Observe for Fixed {
        fn observe(&self, _: &MetricRef, _: Agg) -> Option<f64> {
            self.0
        }
    }

    #[test]
    fn evaluation_compares_and_fails_without_data() {
        let th = t("http_req_duration", "p(95) < 500ms").unwrap();
        assert!(th.evaluate(&Fixed(Some(499.9))).passed);
        assert!(!th.evaluate(&Fixed(Some(500.0))).passed);
        let none = th.evaluate(&Fixed(None));
        assert!(!none.passed);
        assert_eq!(none.observed_display(), "no data");
        let r = t("http_req_failed", "rate < 0.1%").unwrap();
        assert_eq!(r.evaluate(&Fixed(Some(0.0005))).observed_display(), "0.05%");
    }
}
