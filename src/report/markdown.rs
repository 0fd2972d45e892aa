//! `summary.md`: a compact Markdown summary (verdict, thresholds, steps) for pull requests and
//! CI job pages; also appended to `$GITHUB_STEP_SUMMARY` when that is set.

use super::Exporter;
use crate::summary::{Metric, Summary, VerdictLabel};
use std::fmt::Write;

pub struct Markdown;

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, summary: &Summary) -> anyhow::Result<String> {
        Ok(render(summary))
    }
}

/// Text in a table cell: kept in one piece, and shown as written (no HTML, no emphasis or
/// links from names that hold `<`, `*`, `_`, `[` or backticks).
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A code span holding `s` verbatim, whatever backticks it holds (fenced by a longer run).
fn code(s: &str) -> String {
    let run = s.chars().fold((0usize, 0usize), |(best, cur), c| {
        if c == '`' {
            (best.max(cur + 1), cur + 1)
        } else {
            (best, 0)
        }
    });
    let fence = "`".repeat(run.0 + 1);
    let body = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    if run.0 > 0 || body.starts_with(' ') || body.ends_with(' ') {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}

pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let passed = s.verdict == VerdictLabel::Passed;
    let _ = writeln!(
        out,
        "## {} stampede · {} — {}\n",
        if passed { "✅" } else { "❌" },
        cell(&s.name),
        if passed { "passed" } else { "failed" }
    );
    let rps = match s.metric("http_reqs") {
        Some(Metric::Counter(c)) => c.rate,
        _ => 0.0,
    };
    let _ = writeln!(
        out,
        "{} · {} · {:.1} s · {} requests ({:.1}/s) · errors {:.2} % · p95 {:.2} ms · exit code {}\n",
        code(&s.target),
        cell(&s.executor),
        s.duration_s,
        super::text::thousands(s.count("http_reqs")),
        rps,
        s.rate("http_req_failed").unwrap_or(0.0) * 100.0,
        s.trend("http_req_duration").map_or(0.0, |t| t.p95),
        s.exit_code
    );
    let errors: Vec<String> = s
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} × {}", code(k), super::text::thousands(*n)))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "**Errors:** {}\n", errors.join(" · "));
    }
    if let Some(cap) = &s.capacity {
        let rate = |v: Option<f64>| v.map_or("not reached".to_string(), |r| format!("{r:.0}/s"));
        let _ = writeln!(
            out,
            "**Breakpoint:** max sustainable rate **{}** · knee {} · broke at {}\n",
            rate(cap.max_sustainable_rps),
            rate(cap.knee_rps),
            rate(cap.broke_at_rps)
        );
        out.push_str(
            "| offered/s | achieved/s | p95 ms | p99 ms | errors | |\n|--:|--:|--:|--:|--:|---|\n",
        );
        for st in &cap.steps {
            let _ = writeln!(
                out,
                "| {:.0} | {:.0} | {:.2} | {:.2} | {:.2} % | {} |",
                st.offered_rps,
                st.achieved_rps,
                st.p95_ms.unwrap_or(0.0),
                st.p99_ms.unwrap_or(0.0),
                st.error_rate * 100.0,
                if st.passed { "✅" } else { "❌" }
            );
        }
        out.push('\n');
    }
    if !s.thresholds.is_empty() {
        out.push_str("| | metric | threshold | observed |\n|---|---|---|---|\n");
        for t in &s.thresholds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                if t.passed { "✅" } else { "❌" },
                code(&t.metric),
                code(&t.expression),
                cell(&t.observed_display)
            );
        }
        out.push('\n');
    }
    out.push_str("| step | requests | req/s | errors | p50 ms | p95 ms | p99 ms |\n|---|--:|--:|--:|--:|--:|--:|\n");
    for st in &s.steps {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} % | {:.2} | {:.2} | {:.2} |",
            cell(&st.name),
            super::text::thousands(st.requests),
            st.rps,
            st.error_rate * 100.0,
            st.p50_ms,
            st.p95_ms,
            st.p99_ms
        );
    }
    let streams = super::streams::rows(s);
    if !streams.is_empty() {
        out.push_str("\n| stream | streams | TTFT p50 ms | TTFT p99 ms | inter-token p50 ms | inter-token p99 ms | TPOT p50 ms | tokens/s | goodput |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for r in streams {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} % |",
                cell(&r.step),
                super::text::thousands(r.streams),
                r.ttft.0,
                r.ttft.1,
                r.inter_token.0,
                r.inter_token.1,
                r.tpot_p50,
                r.tokens_per_s,
                r.goodput * 100.0
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_as_written() {
        assert_eq!(cell("<b>a|b</b>"), "&lt;b&gt;a\\|b&lt;/b&gt;");
        assert_eq!(cell("*x* [y]"), "\\*x\\* \\[y\\]");
        assert_eq!(code("p(95) < 5ms"), "`p(95) < 5ms`");
        assert_eq!(code("a`b"), "`` a`b ``");
        let mut s: Summary = serde_json::from_str(include_str!(
            "../../tests/fixtures/summary/run/summary.json"
        ))
        .unwrap();
        s.name = "<script>".into();
        s.errors = [("reset".to_string(), 3), ("tls".to_string(), 0)]
            .into_iter()
            .collect();
        let md = render(&s);
        assert!(md.contains("&lt;script&gt;"), "{md}");
        assert!(md.contains("**Errors:** `reset` × 3"), "{md}");
        assert!(!md.contains("`tls`"), "{md}");
    }
}
