//! `summary.md`: a compact Markdown summary (verdict, thresholds, steps) for pull requests and
//! CI job pages; also appended to `$GITHUB_STEP_SUMMARY` when that is set.

use super::Exporter;
use serde_json::Value;
use std::fmt::Write;

pub struct Markdown;

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, summary: &Value) -> anyhow::Result<String> {
        Ok(render(summary))
    }
}

/// Keep table cells in one piece.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

pub fn render(s: &Value) -> String {
    let mut out = String::new();
    let passed = s["verdict"] == "passed";
    let m = &s["metrics"];
    let _ = writeln!(
        out,
        "## {} stampede · {} — {}\n",
        if passed { "✅" } else { "❌" },
        cell(s["name"].as_str().unwrap_or("run")),
        if passed { "passed" } else { "failed" }
    );
    let _ = writeln!(
        out,
        "`{}` · {} · {:.1} s · {} requests ({:.1}/s) · errors {:.2} % · p95 {:.2} ms · exit code {}\n",
        cell(s["target"].as_str().unwrap_or("")),
        cell(s["executor"].as_str().unwrap_or("")),
        num(&s["duration_s"]),
        super::text::thousands(m["http_reqs"]["count"].as_u64().unwrap_or(0)),
        num(&m["http_reqs"]["rate"]),
        num(&m["http_req_failed"]["rate"]) * 100.0,
        num(&m["http_req_duration"]["p(95)"]),
        s["exit_code"]
    );
    if let Some(cap) = s["capacity"].as_object() {
        let rate = |v: &Value| {
            v.as_f64()
                .map_or("not reached".to_string(), |r| format!("{r:.0}/s"))
        };
        let _ = writeln!(
            out,
            "**Breakpoint:** max sustainable rate **{}** · knee {} · broke at {}\n",
            rate(&cap["max_sustainable_rps"]),
            rate(&cap["knee_rps"]),
            rate(&cap["broke_at_rps"])
        );
        out.push_str(
            "| offered/s | achieved/s | p95 ms | p99 ms | errors | |\n|--:|--:|--:|--:|--:|---|\n",
        );
        for st in cap
            .get("steps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let _ = writeln!(
                out,
                "| {:.0} | {:.0} | {:.2} | {:.2} | {:.2} % | {} |",
                num(&st["offered_rps"]),
                num(&st["achieved_rps"]),
                num(&st["p95_ms"]),
                num(&st["p99_ms"]),
                num(&st["error_rate"]) * 100.0,
                if st["passed"] == true { "✅" } else { "❌" }
            );
        }
        out.push('\n');
    }
    let ths = s["thresholds"].as_array().cloned().unwrap_or_default();
    if !ths.is_empty() {
        out.push_str("| | metric | threshold | observed |\n|---|---|---|---|\n");
        for t in ths {
            let _ = writeln!(
                out,
                "| {} | `{}` | `{}` | {} |",
                if t["passed"] == true { "✅" } else { "❌" },
                cell(t["metric"].as_str().unwrap_or("")),
                cell(t["expression"].as_str().unwrap_or("")),
                cell(t["observed_display"].as_str().unwrap_or("no data"))
            );
        }
        out.push('\n');
    }
    out.push_str("| step | requests | req/s | errors | p50 ms | p95 ms | p99 ms |\n|---|--:|--:|--:|--:|--:|--:|\n");
    for st in s["steps"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} % | {:.2} | {:.2} | {:.2} |",
            cell(st["name"].as_str().unwrap_or("")),
            super::text::thousands(st["requests"].as_u64().unwrap_or(0)),
            num(&st["rps"]),
            num(&st["error_rate"]) * 100.0,
            num(&st["p50_ms"]),
            num(&st["p95_ms"]),
            num(&st["p99_ms"])
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
