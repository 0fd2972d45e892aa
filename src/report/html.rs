//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) rendered
//! from `summary.json`, so `stampede report html SUMMARY.json` can make it again later.

use super::Exporter;
use super::svg::{Series, line_chart, line_chart_x};
use crate::summary::{
    CapacitySection, CheckRow, Metric, SecondRow, StairRow, StepRow, Summary, ThresholdRow, Trend,
    VerdictLabel,
};
use std::fmt::Write;

pub struct Html;

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, summary: &Summary) -> anyhow::Result<String> {
        Ok(render(summary))
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A figure to show: a value that is not finite shows as 0 (it is `null` in summary.json).
fn num(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn thousands(n: u64) -> String {
    super::text::thousands(n)
}

const CSS: &str = r#"
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;--ok:#15803d;--okbg:#dcfce7;--bad:#b91c1c;--badbg:#fee2e2}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:28px 32px 48px}
header{display:flex;align-items:center;gap:16px;flex-wrap:wrap;margin-bottom:8px}
h1{font-size:22px;margin:0;font-weight:650}h2{font-size:16px;margin:28px 0 10px;font-weight:650}
.badge{font-weight:700;padding:4px 12px;border-radius:999px;font-size:13px;letter-spacing:.02em}
.pass{color:var(--ok);background:var(--okbg)}.fail{color:var(--bad);background:var(--badbg)}
.meta{color:var(--muted);margin:4px 0 18px}.meta b{color:var(--fg);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:20px;font-weight:650;margin-top:2px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:10px;overflow:hidden}
th,td{padding:8px 12px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{background:#f3f4f6;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr:last-child td{border-bottom:0}
td.wrap{white-space:normal}
td.ok{color:var(--ok);font-weight:700}td.bad{color:var(--bad);font-weight:700}
.charts{margin-top:14px;display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
.chart{width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:10px}
.ct{font-size:13px;font-weight:650;fill:#111827}.yl{font-size:10px;fill:#6b7280;text-anchor:end}.xl{font-size:10px;fill:#6b7280;text-anchor:middle}
.unit{font-size:10px;fill:#6b7280}.lg{font-size:11px;fill:#374151}.grid{stroke:#eef0f3}.tick{stroke:#9ca3af}
.none{color:var(--muted);font-style:italic}footer{color:var(--muted);font-size:12px;margin-top:32px}
"#;

pub fn render(summary: &Summary) -> String {
    let mut h = String::new();
    head(&mut h, summary);
    cards(&mut h, summary);
    thresholds(&mut h, &summary.thresholds);
    if let Some(cap) = &summary.capacity {
        stairs(&mut h, cap);
    }
    steps(&mut h, &summary.steps);
    streams(&mut h, summary);
    over_time(&mut h, &summary.timeline);
    errors_and_codes(&mut h, summary);
    checks(&mut h, &summary.checks);
    let _ = writeln!(
        h,
        "<footer>stampede {} · this page is self-contained: no scripts, no network.</footer></main></body></html>",
        esc(&summary.stampede_version)
    );
    h
}

/// The page head, the verdict badge and the line about the run.
fn head(h: &mut String, s: &Summary) {
    let passed = s.verdict == VerdictLabel::Passed;
    let name = esc(&s.name);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>stampede · {name}</title><style>{CSS}</style></head><body><main>"
    );
    let verdict = if passed {
        "<span class=\"badge pass\">PASSED</span>"
    } else {
        "<span class=\"badge fail\">FAILED</span>"
    };
    let _ = write!(h, "<header><h1>stampede · {name}</h1>{verdict}</header>");
    let state = if s.interrupted {
        " · <b>interrupted</b>"
    } else if s.aborted_by_threshold.is_some() {
        " · <b>aborted by a threshold</b>"
    } else {
        ""
    };
    let _ = write!(
        h,
        "<p class=\"meta\">target <b>{}</b> · {} · started {} · {}{state} · exit code <b>{}</b></p>",
        esc(&s.target),
        esc(&s.executor),
        esc(&started(&s.started_at)),
        super::ran_of(
            &s.executor,
            &format!("<b>{:.1} s</b>", num(s.duration_s)),
            &format!("{:.1} s", num(s.planned_duration_s))
        ),
        s.exit_code
    );
}

/// The headline figures.
fn cards(h: &mut String, s: &Summary) {
    let reqs = s.metric("http_reqs").and_then(Metric::counter);
    let dur = s.trend("http_req_duration");
    let pct = |f: fn(&Trend) -> f64| ms(num(dur.map_or(0.0, f)));
    let cards = [
        ("requests", thousands(reqs.map_or(0, |c| c.count))),
        ("req/s", format!("{:.1}", num(reqs.map_or(0.0, |c| c.rate)))),
        (
            "errors",
            format!(
                "{:.2} %",
                num(s.rate("http_req_failed").unwrap_or(0.0)) * 100.0
            ),
        ),
        ("p50", pct(|t| t.p50)),
        ("p95", pct(|t| t.p95)),
        ("p99", pct(|t| t.p99)),
        (
            "max VUs",
            format!(
                "{}",
                s.metric("vus").and_then(Metric::gauge).map_or(0, |g| g.max)
            ),
        ),
    ];
    h.push_str("<div class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"k\">{k}</div><div class=\"v\">{v}</div></div>"
        );
    }
    h.push_str("</div>");
}

fn thresholds(h: &mut String, ths: &[ThresholdRow]) {
    h.push_str("<h2>Thresholds</h2>");
    if ths.is_empty() {
        h.push_str("<p class=\"none\">No thresholds set.</p>");
        return;
    }
    h.push_str("<table><tr><th>metric</th><th>threshold</th><th class=\"n\">observed</th><th>result</th></tr>");
    for t in ths {
        let ok = t.passed;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>",
            esc(&t.metric),
            esc(&t.expression),
            esc(&t.observed_display),
            if ok { "ok" } else { "bad" },
            if ok { "✓ met" } else { "✗ breached" }
        );
    }
    h.push_str("</table>");
}

/// A breakpoint run's stairs: the table, then two charts when there is more than one stair.
fn stairs(h: &mut String, cap: &CapacitySection) {
    let rate = |v: Option<f64>| v.map_or("not reached".to_string(), |r| format!("{r:.0}/s"));
    let _ = write!(
        h,
        "<h2>Breakpoint stairs</h2><p class=\"meta\">max sustainable rate <b>{}</b> · knee {} · broke at {}</p>",
        rate(cap.max_sustainable_rps),
        rate(cap.knee_rps),
        rate(cap.broke_at_rps)
    );
    h.push_str("<table><tr><th class=\"n\">offered/s</th><th class=\"n\">achieved/s</th><th class=\"n\">VUs</th><th class=\"n\">p50</th><th class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">errors</th><th>verdict</th></tr>");
    let opt = |v: Option<f64>| num(v.unwrap_or(0.0));
    for st in &cap.steps {
        let ok = st.passed;
        let _ = write!(
            h,
            "<tr><td class=\"n\">{:.0}</td><td class=\"n\">{:.0}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2} %</td><td class=\"wrap {}\">{}</td></tr>",
            num(st.offered_rps),
            num(st.achieved_rps),
            st.vus_max,
            ms(opt(st.p50_ms)),
            ms(opt(st.p95_ms)),
            ms(opt(st.p99_ms)),
            num(st.error_rate) * 100.0,
            if ok { "ok" } else { "bad" },
            if ok {
                "✓ passed".to_string()
            } else {
                format!("✗ {}", esc(&st.reasons.join("; ")))
            }
        );
    }
    h.push_str("</table>");
    if cap.steps.len() > 1 {
        stair_charts(h, &cap.steps);
    }
}

fn stair_charts(h: &mut String, stairs: &[StairRow]) {
    let xs: Vec<f64> = stairs.iter().map(|st| num(st.offered_rps)).collect();
    let achieved: Vec<f64> = stairs.iter().map(|st| num(st.achieved_rps)).collect();
    let p99: Vec<f64> = stairs
        .iter()
        .map(|st| num(st.p99_ms.unwrap_or(0.0)))
        .collect();
    h.push_str("<div class=\"charts\">");
    h.push_str(&line_chart_x(
        "Achieved vs offered rate",
        "per s",
        "/s",
        &xs,
        &[
            Series {
                name: "offered",
                color: "#9ca3af",
                values: &xs,
            },
            Series {
                name: "achieved",
                color: "#2563eb",
                values: &achieved,
            },
        ],
    ));
    h.push_str(&line_chart_x(
        "p99 latency by stair",
        "ms",
        "/s",
        &xs,
        &[Series {
            name: "p99",
            color: "#dc2626",
            values: &p99,
        }],
    ));
    h.push_str("</div>");
}

fn steps(h: &mut String, steps: &[StepRow]) {
    h.push_str("<h2>Steps</h2><table><tr><th>step</th><th>request</th><th class=\"n\">requests</th><th class=\"n\">req/s</th><th class=\"n\">errors</th><th class=\"n\">p50</th><th class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">max</th></tr>");
    for st in steps {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.2} %</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&st.name),
            esc(&st.request),
            thousands(st.requests),
            num(st.rps),
            num(st.error_rate) * 100.0,
            ms(num(st.p50_ms)),
            ms(num(st.p95_ms)),
            ms(num(st.p99_ms)),
            ms(num(st.max_ms)),
        );
    }
    h.push_str("</table>");
}

fn streams(h: &mut String, summary: &Summary) {
    let streams = super::streams::rows(summary);
    if streams.is_empty() {
        return;
    }
    h.push_str("<h2>Streams</h2><table><tr><th>step</th><th class=\"n\">streams</th><th class=\"n\">TTFT p50</th><th class=\"n\">TTFT p99</th><th class=\"n\">inter-token p50</th><th class=\"n\">inter-token p99</th><th class=\"n\">TPOT p50</th><th class=\"n\">tokens/s</th><th class=\"n\">goodput</th></tr>");
    for r in streams {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.2} %</td></tr>",
            esc(&r.step),
            thousands(r.streams),
            ms(r.ttft.0),
            ms(r.ttft.1),
            ms(r.inter_token.0),
            ms(r.inter_token.1),
            ms(r.tpot_p50),
            r.tokens_per_s,
            r.goodput * 100.0,
        );
    }
    h.push_str("</table>");
}

/// Charts from the per-second timeline.
fn over_time(h: &mut String, tl: &[SecondRow]) {
    h.push_str("<h2>Over time</h2>");
    if tl.is_empty() {
        h.push_str("<p class=\"none\">The run was shorter than one second: no timeline.</p>");
        return;
    }
    let xs: Vec<f64> = tl.iter().map(|p| p.second as f64).collect();
    let col = |f: fn(&SecondRow) -> f64| -> Vec<f64> { tl.iter().map(|p| num(f(p))).collect() };
    let reqs = col(|p| p.requests as f64);
    let fails = col(|p| p.failures as f64);
    let vus = col(|p| f64::from(p.vus));
    // Seconds without a response have no latency: leave a gap rather than draw a 0.
    let latency = |f: fn(&SecondRow) -> f64| -> Vec<f64> {
        tl.iter()
            .map(|p| if p.requests > 0 { num(f(p)) } else { f64::NAN })
            .collect()
    };
    let p50 = latency(|p| p.p50_ms);
    let p95 = latency(|p| p.p95_ms);
    let p99 = latency(|p| p.p99_ms);
    let one = |name, color, values| {
        [Series {
            name,
            color,
            values,
        }]
    };
    h.push_str("<div class=\"charts\">");
    h.push_str(&line_chart(
        "Throughput",
        "req/s",
        &xs,
        &one("achieved req/s", "#2563eb", &reqs),
    ));
    h.push_str(&line_chart(
        "Latency (http_req_duration)",
        "ms",
        &xs,
        &[
            Series {
                name: "p50",
                color: "#16a34a",
                values: &p50,
            },
            Series {
                name: "p95",
                color: "#d97706",
                values: &p95,
            },
            Series {
                name: "p99",
                color: "#dc2626",
                values: &p99,
            },
        ],
    ));
    h.push_str(&line_chart(
        "Errors",
        "errors/s",
        &xs,
        &one("failed requests/s", "#dc2626", &fails),
    ));
    h.push_str(&line_chart(
        "Virtual users",
        "VUs",
        &xs,
        &one("running VUs", "#7c3aed", &vus),
    ));
    h.push_str("</div>");
}

fn errors_and_codes(h: &mut String, s: &Summary) {
    h.push_str("<h2>Errors and status codes</h2>");
    h.push_str("<table><tr><th>kind</th><th class=\"n\">count</th></tr>");
    let errors: Vec<(&String, &u64)> = s.errors.iter().filter(|(_, n)| **n > 0).collect();
    if errors.is_empty() {
        h.push_str("<tr><td class=\"none\">no errors</td><td></td></tr>");
    }
    for (k, n) in errors {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(k),
            thousands(*n)
        );
    }
    for (k, n) in &s.status_codes {
        let _ = write!(
            h,
            "<tr><td>status {}</td><td class=\"n\">{}</td></tr>",
            esc(k),
            thousands(*n)
        );
    }
    h.push_str("</table>");
}

fn checks(h: &mut String, checks: &[CheckRow]) {
    if checks.is_empty() {
        return;
    }
    h.push_str("<h2>Checks</h2><table><tr><th>step</th><th>check</th><th class=\"n\">passed</th><th class=\"n\">failed</th></tr>");
    for c in checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n {}\">{}</td></tr>",
            esc(&c.step),
            esc(&c.check),
            thousands(c.passes),
            if c.fails > 0 { "bad" } else { "" },
            thousands(c.fails)
        );
    }
    h.push_str("</table>");
}

/// `2026-11-23T03:08:50.455378020+00:00` → `2026-11-23 03:08:50 +00:00`: seconds are enough here.
fn started(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::StairRow;

    fn stair(offered: f64, achieved: f64, p: Option<f64>, passed: bool) -> StairRow {
        StairRow {
            start_s: 0.0,
            end_s: 10.0,
            offered_rps: offered,
            achieved_rps: achieved,
            requests_per_s: achieved,
            vus_max: 12,
            avg_ms: p,
            p50_ms: p,
            p95_ms: p.map(|v| v * 2.5),
            p99_ms: p.map(|v| v * 30.0),
            error_rate: if passed { 0.001 } else { 0.2 },
            dropped_iterations: 0,
            passed,
            reasons: if passed {
                vec![]
            } else {
                vec!["p(95)<100: 2 s".into(), "errors <1%".into()]
            },
        }
    }

    /// The stairs section (not in the snapshot fixtures): rates, latencies, a stair without
    /// latency (null: 0), the reasons escaped, and both charts.
    #[test]
    fn breakpoint_stairs_table_and_charts() {
        let cap = CapacitySection {
            max_sustainable_rps: Some(100.0),
            knee_rps: None,
            broke_at_rps: Some(200.0),
            stairs_planned: 3,
            steps: vec![
                stair(100.0, 99.6, Some(5.0), true),
                stair(200.0, 150.0, None, false),
            ],
        };
        let mut h = String::new();
        stairs(&mut h, &cap);
        assert!(h.starts_with("<h2>Breakpoint stairs</h2><p class=\"meta\">max sustainable rate <b>100/s</b> · knee not reached · broke at 200/s</p>"), "{h}");
        assert!(h.contains("<tr><td class=\"n\">100</td><td class=\"n\">100</td><td class=\"n\">12</td><td class=\"n\">5.00 ms</td><td class=\"n\">12.50 ms</td><td class=\"n\">150 ms</td><td class=\"n\">0.10 %</td><td class=\"wrap ok\">✓ passed</td></tr>"), "{h}");
        assert!(h.contains("<tr><td class=\"n\">200</td><td class=\"n\">150</td><td class=\"n\">12</td><td class=\"n\">0.00 ms</td><td class=\"n\">0.00 ms</td><td class=\"n\">0.00 ms</td><td class=\"n\">20.00 %</td><td class=\"wrap bad\">✗ p(95)&lt;100: 2 s; errors &lt;1%</td></tr>"), "{h}");
        assert!(h.contains("Achieved vs offered rate") && h.contains("p99 latency by stair"));
        // One stair: no charts.
        let mut one = String::new();
        stairs(
            &mut one,
            &CapacitySection {
                steps: vec![stair(100.0, 99.6, Some(5.0), true)],
                ..cap
            },
        );
        assert!(!one.contains("<svg"), "{one}");
    }
}
