//! `timeline.csv`: one row per second of the run, overall figures first, then three columns per
//! step (`<step> requests`, `<step> errors`, `<step> p95_ms`), for spreadsheets and plotting.

use super::Exporter;
use serde_json::Value;

pub struct TimelineCsv;

impl Exporter for TimelineCsv {
    fn file_name(&self) -> &'static str {
        "timeline.csv"
    }

    fn render(&self, summary: &Value) -> anyhow::Result<String> {
        render(summary)
    }
}

pub fn render(s: &Value) -> anyhow::Result<String> {
    let steps: Vec<String> = s["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = [
        "elapsed_s",
        "vus",
        "rps",
        "errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "bytes_in",
        "bytes_out",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    for st in &steps {
        head.push(format!("{st} requests"));
        head.push(format!("{st} errors"));
        head.push(format!("{st} p95_ms"));
    }
    w.write_record(&head)?;
    for p in s["timeline"].as_array().cloned().unwrap_or_default() {
        let f = |k: &str| p[k].to_string();
        let mut rec = vec![
            f("second"),
            f("vus"),
            f("requests"),
            f("failures"),
            f("p50_ms"),
            f("p95_ms"),
            f("p99_ms"),
            f("data_received"),
            f("data_sent"),
        ];
        let per = p["steps"].as_array().cloned().unwrap_or_default();
        for i in 0..steps.len() {
            let st = per.get(i).cloned().unwrap_or(Value::Null);
            rec.push(st["requests"].as_u64().unwrap_or(0).to_string());
            rec.push(st["failures"].as_u64().unwrap_or(0).to_string());
            rec.push(st["p95_ms"].as_f64().unwrap_or(0.0).to_string());
        }
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
