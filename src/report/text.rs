//! The summary printed in the terminal after a run: per-step table, totals, errors, thresholds.

use super::RunReport;
use crate::metrics::{ErrorKind, RunResult, StepStats, TlsReason};
use crate::scenario::duration::format_duration;
use std::fmt::Write;

fn ms(us: u64) -> String {
    let v = us as f64 / 1000.0;
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.2}ms")
    }
}

pub use crate::units::number::thousands;

pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

/// Width of the step column: the longest name, between 9 and 17 characters, so that a row fits
/// 80 columns.
fn name_width(names: &[String]) -> usize {
    names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(9, 17)
}

fn row(out: &mut String, name: &str, s: &StepStats, secs: f64, w: usize) {
    let q = |f: f64| {
        if s.duration.is_empty() {
            "-".to_string()
        } else {
            ms(s.duration.value_at_quantile(f))
        }
    };
    let fail = if s.requests > 0 {
        s.failures as f64 * 100.0 / s.requests as f64
    } else {
        0.0
    };
    let name: String = if name.chars().count() > w {
        name.chars().take(w - 1).chain(['…']).collect()
    } else {
        name.to_string()
    };
    let _ = writeln!(
        out,
        "  {:<w$} {:>8} {:>8.1} {:>6.2}% {:>8} {:>8} {:>8} {:>8}",
        name,
        thousands(s.requests),
        if secs > 0.0 {
            s.requests as f64 / secs
        } else {
            0.0
        },
        fail,
        q(0.5),
        q(0.95),
        q(0.99),
        if s.duration.is_empty() {
            "-".into()
        } else {
            ms(s.duration.max())
        },
    );
}

pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    head(&mut out, r);
    requests(&mut out, r);
    iterations(&mut out, r);
    let res = &r.result;
    let _ = writeln!(out, "  vus ............... max {}", res.vus_max);
    let _ = writeln!(
        out,
        "  data .............. sent {}, received {}",
        bytes(res.total.data_sent),
        bytes(res.total.data_received)
    );
    failures(&mut out, r);
    streams(&mut out, res);
    thresholds(&mut out, r);
    if let Some(c) = &r.capacity {
        capacity(&mut out, c);
    }
    let _ = writeln!(out, "\n  {} (exit code {})", verdict(r), r.exit_code);
    out
}

/// The title line and the per-step table.
fn head(out: &mut String, r: &RunReport) {
    let res = &r.result;
    let secs = res.elapsed.as_secs_f64();
    let state = if r.interrupted {
        " · interrupted"
    } else if r.aborted_by.is_some() {
        " · aborted by threshold"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "\nstampede · {} · {} · {}{} · {}",
        r.name,
        r.executor,
        super::ran_of(
            &r.executor,
            &format_duration(res.elapsed),
            &format_duration(r.planned)
        ),
        state,
        r.target
    );
    let w = name_width(&res.step_names);
    let _ = writeln!(
        out,
        "\n  {:<w$} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "step", "requests", "req/s", "failed", "p50", "p95", "p99", "max"
    );
    for (i, name) in res.step_names.iter().enumerate() {
        if let Some(s) = res.total.steps.get(i) {
            row(out, name, s, secs, w);
        }
    }
    if res.step_names.len() > 1 {
        row(out, "all steps", &res.overall, secs, w);
    }
    let _ = writeln!(out);
}

/// `http_reqs`, and the TLS handshakes of an https target.
fn requests(out: &mut String, r: &RunReport) {
    let res = &r.result;
    let _ = writeln!(
        out,
        "  http_reqs ......... {} ({:.1}/s)",
        thousands(res.overall.requests),
        res.rate(res.overall.requests)
    );
    if r.target.starts_with("https://") {
        // Requests on a reused connection record a zero handshake (k6's convention).
        let h = &res.overall.tls_handshaking;
        let n = h.count_between(1, u64::MAX);
        let _ = writeln!(
            out,
            "  tls_handshaking ... {} handshakes for {} requests ({:.1} handshakes/s){}",
            thousands(n),
            thousands(res.overall.requests),
            res.rate(n),
            if n > 0 {
                let mut hs = hdrhistogram::Histogram::<u64>::new(3)
                    .unwrap_or_else(|_| unreachable!("3 significant digits are valid"));
                hs.auto(true);
                for v in h.iter_recorded().filter(|v| v.value_iterated_to() > 0) {
                    let _ = hs.record_n(v.value_iterated_to(), v.count_at_value());
                }
                format!(
                    ", each p50 {} p95 {} max {}",
                    ms(hs.value_at_quantile(0.5)),
                    ms(hs.value_at_quantile(0.95)),
                    ms(hs.max())
                )
            } else {
                String::new()
            }
        );
    }
}

/// Iterations; for scheduled ones, their lag and what became of every due iteration; retries.
fn iterations(out: &mut String, r: &RunReport) {
    let res = &r.result;
    let _ = writeln!(
        out,
        "  iterations ........ {} ({:.1}/s)",
        thousands(res.total.iterations),
        res.rate(res.total.iterations)
    );
    // Scheduled iterations (open model, pacing): how late they started, what a closed-loop
    // measurement would have shown, and what was dropped.
    let lag = &res.total.schedule_lag;
    if !lag.is_empty() {
        let o = &res.overall;
        let q = |h: &hdrhistogram::Histogram<u64>, f: f64| {
            if h.is_empty() {
                "-".to_string()
            } else {
                ms(h.value_at_quantile(f))
            }
        };
        let _ = writeln!(
            out,
            "  latency ........... from intended start p50 {} p95 {} p99 {}; from actual send (uncorrected) p50 {} p95 {} p99 {}",
            q(&o.duration, 0.5),
            q(&o.duration, 0.95),
            q(&o.duration, 0.99),
            q(&o.uncorrected, 0.5),
            q(&o.uncorrected, 0.95),
            q(&o.uncorrected, 0.99),
        );
        let _ = writeln!(
            out,
            "  schedule_lag ...... p50 {} p95 {} p99 {} max {}",
            q(lag, 0.5),
            q(lag, 0.95),
            q(lag, 0.99),
            ms(lag.max())
        );
    }
    if r.executor.ends_with("arrival-rate") {
        let _ = writeln!(
            out,
            "  dropped_iterations  {}",
            thousands(res.total.dropped_iterations)
        );
        // Every due iteration is accounted for (docs/accounting.md).
        let t = &res.total;
        let _ = writeln!(
            out,
            "  iterations due .... {} = {} completed + {} dropped + {} interrupted",
            thousands(t.iterations_due),
            thousands(t.iterations),
            thousands(t.dropped_iterations),
            thousands(t.iterations_interrupted)
        );
    } else if res.total.iterations_interrupted > 0 {
        let _ = writeln!(
            out,
            "  iterations_interrupted {}",
            thousands(res.total.iterations_interrupted)
        );
    }
    if res.total.retries > 0 {
        let _ = writeln!(
            out,
            "  http_req_retries .. {} (http.retry: idempotent; each attempt is counted in http_reqs)",
            thousands(res.total.retries)
        );
    }
}

/// Failed requests (with a hint when all failed the same way), checks, errors, status codes.
fn failures(out: &mut String, r: &RunReport) {
    let res = &r.result;
    let failed = res.overall.failures;
    let pct = if res.overall.requests > 0 {
        failed as f64 * 100.0 / res.overall.requests as f64
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "  http_req_failed ... {pct:.2}% ({} of {})",
        thousands(failed),
        thousands(res.overall.requests)
    );
    let by_kind: Vec<(ErrorKind, u64)> = res
        .errors_by_kind()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    // Every request failed the same way: say so plainly, with what to do about it.
    if failed > 0
        && failed == res.overall.requests
        && let [(kind, _)] = by_kind.as_slice()
    {
        let hint = match kind {
            ErrorKind::Tls => top_tls_reason(res).and_then(|r| r.hint()),
            ErrorKind::ConnectRefused => Some("is the target running on that port?"),
            ErrorKind::Proxy => Some(
                "the proxy refused the CONNECT tunnel: check http.proxy / HTTPS_PROXY / NO_PROXY",
            ),
            ErrorKind::CrossOriginRedirect => Some(
                "redirects are followed on the target's origin only: set the target to where it redirects, or http.max_redirects: 0 and expect the 3xx",
            ),
            _ => None,
        };
        let _ = writeln!(
            out,
            "  all {} requests failed: {}{}",
            thousands(failed),
            error_label(res, *kind),
            hint.map_or(String::new(), |h| format!(" — {h}"))
        );
    }
    let errors: Vec<String> = by_kind
        .iter()
        .map(|(k, n)| format!("{} {}", error_label(res, *k), thousands(*n)))
        .collect();
    checks(out, r);
    if !errors.is_empty() {
        let _ = writeln!(out, "  errors ............ {}", errors.join(", "));
    }
    if let Some(c) = &r.tls_certificate {
        let _ = writeln!(out, "  tls certificate ... {c}");
    }
    let codes: Vec<String> = res
        .total
        .status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} × {}", thousands(*n)))
        .collect();
    if !codes.is_empty() {
        let _ = writeln!(out, "  status codes ...... {}", codes.join(", "));
    }
}

/// The checks' pass rate and each check that failed.
fn checks(out: &mut String, r: &RunReport) {
    let (passes, fails) = r
        .checks
        .iter()
        .fold((0, 0), |(p, f), c| (p + c.passes, f + c.fails));
    if passes + fails > 0 {
        let _ = writeln!(
            out,
            "  checks ............ {:.2}% ({} of {} held)",
            passes as f64 * 100.0 / (passes + fails) as f64,
            thousands(passes),
            thousands(passes + fails)
        );
        for c in r.checks.iter().filter(|c| c.fails > 0) {
            let _ = writeln!(
                out,
                "    ✗ {}: {} — failed {} of {}",
                c.step,
                c.description,
                thousands(c.fails),
                thousands(c.passes + c.fails)
            );
        }
    }
}

/// Each threshold with what was observed.
fn thresholds(out: &mut String, r: &RunReport) {
    if r.outcomes.is_empty() {
        return;
    }
    {
        let _ = writeln!(out, "\n  thresholds");
        let mw = r
            .outcomes
            .iter()
            .map(|o| o.threshold.metric.to_string().chars().count())
            .max()
            .unwrap_or(0);
        let ew = r
            .outcomes
            .iter()
            .map(|o| o.threshold.expression.chars().count())
            .max()
            .unwrap_or(0);
        for o in &r.outcomes {
            let _ = writeln!(
                out,
                "  {} {:<mw$} {:<ew$} {}",
                if o.passed { "✓" } else { "✗" },
                o.threshold.metric.to_string(),
                o.threshold.expression,
                o.observed_display()
            );
        }
    }
}

/// The last line's verdict.
fn verdict(r: &RunReport) -> String {
    let failed_n = r.outcomes.iter().filter(|o| !o.passed).count();
    if r.interrupted {
        "INTERRUPTED: partial results".to_string()
    } else if let Some(c) = &r.capacity {
        match (c.max_sustainable_rps, c.broke_at_rps) {
            (Some(max), Some(broke)) => format!(
                "BREAKPOINT FOUND: sustains {max:.0}/s, broke at {broke:.0}/s (thresholds above are over the whole run, stairs past the breakpoint included)"
            ),
            (Some(max), None) => format!(
                "NO BREAKPOINT: every stair up to {max:.0}/s passed; raise max_rate to find the limit"
            ),
            (None, _) => "FAILED: not even the first stair passed; lower start_rate".to_string(),
        }
    } else if let Some(t) = &r.aborted_by {
        format!("FAILED: aborted by threshold {t}")
    } else if failed_n > 0 {
        format!(
            "FAILED: {failed_n} of {} thresholds breached",
            r.outcomes.len()
        )
    } else if let Some(p) = &r.segment {
        format!(
            "DONE: segment {} — {} thresholds judged only on the merged parts",
            p.segment,
            p.thresholds.len()
        )
    } else if r.outcomes.is_empty() {
        "DONE: no thresholds set".to_string()
    } else {
        format!("PASSED: all {} thresholds met", r.outcomes.len())
    }
}

/// The stairs of a breakpoint run, one row each.
/// Streaming steps: time to first token, the gaps between tokens, TPOT, tokens and goodput.
fn streams(out: &mut String, res: &RunResult) {
    for (i, name) in res.step_names.iter().enumerate() {
        let Some(s) = res.total.steps.get(i).and_then(|s| s.stream.as_deref()) else {
            continue;
        };
        let q = |h: &hdrhistogram::Histogram<u64>| {
            if h.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "p50 {} p99 {}",
                    ms(h.value_at_quantile(0.5)),
                    ms(h.value_at_quantile(0.99))
                )
            }
        };
        let _ = writeln!(out, "\n  stream {name}");
        let _ = writeln!(
            out,
            "    ttft {} · inter-token {} · tpot {}",
            q(&s.ttft),
            q(&s.inter_token),
            q(&s.tpot)
        );
        let source = if s.tokens_from_usage == s.streams {
            "from usage"
        } else {
            "counted events"
        };
        let _ = writeln!(
            out,
            "    {} streams · {} tokens ({source}, {:.1}/s) · goodput {:.2}% · parse errors {}",
            thousands(s.streams),
            thousands(s.tokens),
            res.rate(s.tokens),
            if s.streams > 0 {
                100.0 * s.good as f64 / s.streams as f64
            } else {
                0.0
            },
            thousands(s.parse_errors)
        );
    }
}

fn capacity(out: &mut String, c: &crate::verdict::breakpoint::Capacity) {
    let _ = writeln!(
        out,
        "\n  breakpoint stairs ({} of {} run)\n  {:>10} {:>10} {:>6} {:>9} {:>9} {:>9} {:>8}  verdict",
        c.steps.len(),
        c.stairs_planned,
        "offered/s",
        "achieved/s",
        "vus",
        "p50",
        "p95",
        "p99",
        "errors"
    );
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}ms"));
    for s in &c.steps {
        let _ = writeln!(
            out,
            "  {:>10.0} {:>10.0} {:>6} {:>9} {:>9} {:>9} {:>7.2}%  {}",
            s.offered_rps,
            s.achieved_rps,
            s.vus_max,
            f(s.p50_ms),
            f(s.p95_ms),
            f(s.p99_ms),
            s.error_rate * 100.0,
            if s.passed {
                "✓".to_string()
            } else {
                format!("✗ {}", s.reasons.join("; "))
            }
        );
    }
    let rate = |v: Option<f64>| v.map_or("not reached".to_string(), |v| format!("{v:.0}/s"));
    let _ = writeln!(
        out,
        "  max sustainable rate: {} · knee: {}",
        rate(c.max_sustainable_rps),
        rate(c.knee_rps)
    );
}

/// The most frequent TLS failure reason of a run.
fn top_tls_reason(res: &RunResult) -> Option<TlsReason> {
    TlsReason::ALL
        .iter()
        .map(|r| (*r, res.total.tls_reason_count(*r)))
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
        .map(|(r, _)| r)
}

/// An error kind's name; for `tls`, with its reasons (`tls (invalid peer certificate:
/// UnknownIssuer)`).
fn error_label(res: &RunResult, kind: ErrorKind) -> String {
    if kind != ErrorKind::Tls {
        return res.total.error_label(kind);
    }
    let reasons: Vec<&str> = TlsReason::ALL
        .iter()
        .filter(|r| res.total.tls_reason_count(**r) > 0)
        .map(|r| r.describe())
        .collect();
    if reasons.is_empty() {
        return kind.name().to_string();
    }
    format!("tls ({})", reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(bytes(1500), "1.5 kB");
        assert_eq!(ms(20_345), "20.34ms");
        assert_eq!(ms(1_500_000), "1.50s");
    }
}
