//! `timeline.csv`: one row per second of the run, overall figures first, then three columns per
//! step (`<step> requests`, `<step> errors`, `<step> p95_ms`), for spreadsheets and plotting.

use super::Exporter;
use crate::summary::{StepSecondRow, Summary};

pub struct TimelineCsv;

impl Exporter for TimelineCsv {
    fn file_name(&self) -> &'static str {
        "timeline.csv"
    }

    fn render(&self, summary: &Summary) -> anyhow::Result<String> {
        render(summary)
    }
}

/// A figure as summary.json writes it (`0.0`, `1.5`).
fn json_number(v: f64) -> String {
    serde_json::Value::from(v).to_string()
}

pub fn render(s: &Summary) -> anyhow::Result<String> {
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
    for st in &s.steps {
        head.push(format!("{} requests", st.name));
        head.push(format!("{} errors", st.name));
        head.push(format!("{} p95_ms", st.name));
    }
    w.write_record(&head)?;
    for p in &s.timeline {
        let mut rec = vec![
            p.second.to_string(),
            p.vus.to_string(),
            p.requests.to_string(),
            p.failures.to_string(),
            json_number(p.p50_ms),
            json_number(p.p95_ms),
            json_number(p.p99_ms),
            p.data_received.to_string(),
            p.data_sent.to_string(),
        ];
        for i in 0..s.steps.len() {
            let st = p.steps.get(i).cloned().unwrap_or(StepSecondRow::default());
            rec.push(st.requests.to_string());
            rec.push(st.failures.to_string());
            rec.push(st.p95_ms.to_string());
        }
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
