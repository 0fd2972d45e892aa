//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) rendered
//! from `summary.json`, so `stampede report html SUMMARY.json` can make it again later.

use super::Exporter;
use super::svg::{Series, line_chart, line_chart_x};
use serde_json::Value;
use std::fmt::Write;

pub struct Html;

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, summary: &crate::summary::Summary) -> anyhow::Result<String> {
        Ok(render(summary))
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
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

pub fn render(summary: &crate::summary::Summary) -> String {
    // Still read by key here (the typed fields are in `summary`; see docs/reports.md).
    let json = super::as_json(summary).unwrap_or_default();
    let s = &json;
    let mut h = String::new();
    let passed = s["verdict"] == "passed";
    let name = esc(s["name"].as_str().unwrap_or("run"));
    let m = &s["metrics"];
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
    let state = if s["interrupted"] == true {
        " · <b>interrupted</b>"
    } else if s["aborted_by_threshold"].is_string() {
        " · <b>aborted by a threshold</b>"
    } else {
        ""
    };
    let _ = write!(
        h,
        "<p class=\"meta\">target <b>{}</b> · {} · started {} · ran <b>{:.1} s</b> of {:.1} s{state} · exit code <b>{}</b></p>",
        esc(s["target"].as_str().unwrap_or("")),
        esc(s["executor"].as_str().unwrap_or("")),
        esc(&started(s["started_at"].as_str().unwrap_or(""))),
        num(&s["duration_s"]),
        num(&s["planned_duration_s"]),
        s["exit_code"]
    );

    // Headline figures.
    let reqs = m["http_reqs"]["count"].as_u64().unwrap_or(0);
    let cards = [
        ("requests", thousands(reqs)),
        ("req/s", format!("{:.1}", num(&m["http_reqs"]["rate"]))),
        (
            "errors",
            format!(
                "{:.2} %",
                num(super::rate_of(&m["http_req_failed"])) * 100.0
            ),
        ),
        ("p50", ms(num(&m["http_req_duration"]["p(50)"]))),
        ("p95", ms(num(&m["http_req_duration"]["p(95)"]))),
        ("p99", ms(num(&m["http_req_duration"]["p(99)"]))),
        (
            "max VUs",
            format!("{}", m["vus"]["max"].as_u64().unwrap_or(0)),
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

    // Thresholds.
    h.push_str("<h2>Thresholds</h2>");
    let ths = s["thresholds"].as_array().cloned().unwrap_or_default();
    if ths.is_empty() {
        h.push_str("<p class=\"none\">No thresholds set.</p>");
    } else {
        h.push_str("<table><tr><th>metric</th><th>threshold</th><th class=\"n\">observed</th><th>result</th></tr>");
        for t in &ths {
            let ok = t["passed"] == true;
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>",
                esc(t["metric"].as_str().unwrap_or("")),
                esc(t["expression"].as_str().unwrap_or("")),
                esc(t["observed_display"].as_str().unwrap_or("no data")),
                if ok { "ok" } else { "bad" },
                if ok { "✓ met" } else { "✗ breached" }
            );
        }
        h.push_str("</table>");
    }

    // A breakpoint run's stairs.
    if let Some(cap) = s["capacity"].as_object() {
        let rate = |v: &Value| {
            v.as_f64()
                .map_or("not reached".to_string(), |r| format!("{r:.0}/s"))
        };
        let _ = write!(
            h,
            "<h2>Breakpoint stairs</h2><p class=\"meta\">max sustainable rate <b>{}</b> · knee {} · broke at {}</p>",
            rate(&cap["max_sustainable_rps"]),
            rate(&cap["knee_rps"]),
            rate(&cap["broke_at_rps"])
        );
        h.push_str("<table><tr><th class=\"n\">offered/s</th><th class=\"n\">achieved/s</th><th class=\"n\">VUs</th><th class=\"n\">p50</th><th class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">errors</th><th>verdict</th></tr>");
        let stairs = cap
            .get("steps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for st in &stairs {
            let ok = st["passed"] == true;
            let reasons: Vec<&str> = st["reasons"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td class=\"n\">{:.0}</td><td class=\"n\">{:.0}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2} %</td><td class=\"wrap {}\">{}</td></tr>",
                num(&st["offered_rps"]),
                num(&st["achieved_rps"]),
                st["vus_max"].as_u64().unwrap_or(0),
                ms(num(&st["p50_ms"])),
                ms(num(&st["p95_ms"])),
                ms(num(&st["p99_ms"])),
                num(&st["error_rate"]) * 100.0,
                if ok { "ok" } else { "bad" },
                if ok {
                    "✓ passed".to_string()
                } else {
                    format!("✗ {}", esc(&reasons.join("; ")))
                }
            );
        }
        h.push_str("</table>");
        if stairs.len() > 1 {
            let xs: Vec<f64> = stairs.iter().map(|st| num(&st["offered_rps"])).collect();
            let achieved: Vec<f64> = stairs.iter().map(|st| num(&st["achieved_rps"])).collect();
            let p99: Vec<f64> = stairs.iter().map(|st| num(&st["p99_ms"])).collect();
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
    }

    // Steps.
    h.push_str("<h2>Steps</h2><table><tr><th>step</th><th>request</th><th class=\"n\">requests</th><th class=\"n\">req/s</th><th class=\"n\">errors</th><th class=\"n\">p50</th><th class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">max</th></tr>");
    for st in s["steps"].as_array().cloned().unwrap_or_default() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.2} %</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(st["name"].as_str().unwrap_or("")),
            esc(st["request"].as_str().unwrap_or("")),
            thousands(st["requests"].as_u64().unwrap_or(0)),
            num(&st["rps"]),
            num(&st["error_rate"]) * 100.0,
            ms(num(&st["p50_ms"])),
            ms(num(&st["p95_ms"])),
            ms(num(&st["p99_ms"])),
            ms(num(&st["max_ms"])),
        );
    }
    h.push_str("</table>");
    let streams = super::streams::rows(summary);
    if !streams.is_empty() {
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

    // Charts from the per-second timeline.
    let tl = s["timeline"].as_array().cloned().unwrap_or_default();
    h.push_str("<h2>Over time</h2>");
    if tl.is_empty() {
        h.push_str("<p class=\"none\">The run was shorter than one second: no timeline.</p>");
    } else {
        let xs: Vec<f64> = tl.iter().map(|p| num(&p["second"])).collect();
        let col = |k: &str| -> Vec<f64> { tl.iter().map(|p| num(&p[k])).collect() };
        let (reqs, fails, vus) = (col("requests"), col("failures"), col("vus"));
        // Seconds without a response have no latency: leave a gap rather than draw a 0.
        let latency = |k: &str| -> Vec<f64> {
            tl.iter()
                .map(|p| {
                    if num(&p["requests"]) > 0.0 {
                        num(&p[k])
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        };
        let (p50, p95, p99) = (latency("p50_ms"), latency("p95_ms"), latency("p99_ms"));
        h.push_str("<div class=\"charts\">");
        h.push_str(&line_chart(
            "Throughput",
            "req/s",
            &xs,
            &[Series {
                name: "achieved req/s",
                color: "#2563eb",
                values: &reqs,
            }],
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
            &[Series {
                name: "failed requests/s",
                color: "#dc2626",
                values: &fails,
            }],
        ));
        h.push_str(&line_chart(
            "Virtual users",
            "VUs",
            &xs,
            &[Series {
                name: "running VUs",
                color: "#7c3aed",
                values: &vus,
            }],
        ));
        h.push_str("</div>");
    }

    // Errors, status codes, checks.
    h.push_str("<h2>Errors and status codes</h2>");
    let errors: Vec<(String, u64)> = s["errors"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default();
    let codes: Vec<(String, u64)> = s["status_codes"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    h.push_str("<table><tr><th>kind</th><th class=\"n\">count</th></tr>");
    if errors.is_empty() {
        h.push_str("<tr><td class=\"none\">no errors</td><td></td></tr>");
    }
    for (k, n) in &errors {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(k),
            thousands(*n)
        );
    }
    for (k, n) in &codes {
        let _ = write!(
            h,
            "<tr><td>status {}</td><td class=\"n\">{}</td></tr>",
            esc(k),
            thousands(*n)
        );
    }
    h.push_str("</table>");
    let checks = s["checks"].as_array().cloned().unwrap_or_default();
    if !checks.is_empty() {
        h.push_str("<h2>Checks</h2><table><tr><th>step</th><th>check</th><th class=\"n\">passed</th><th class=\"n\">failed</th></tr>");
        for c in checks {
            let fails = c["fails"].as_u64().unwrap_or(0);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n {}\">{}</td></tr>",
                esc(c["step"].as_str().unwrap_or("")),
                esc(c["check"].as_str().unwrap_or("")),
                thousands(c["passes"].as_u64().unwrap_or(0)),
                if fails > 0 { "bad" } else { "" },
                thousands(fails)
            );
        }
        h.push_str("</table>");
    }
    let _ = writeln!(
        h,
        "<footer>stampede {} · this page is self-contained: no scripts, no network.</footer></main></body></html>",
        esc(s["stampede_version"].as_str().unwrap_or(""))
    );
    h
}

/// `2026-11-23T03:08:50.455378020+00:00` → `2026-11-23 03:08:50 +00:00`: seconds are enough here.
fn started(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}
