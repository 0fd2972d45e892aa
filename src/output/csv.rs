//! `--out csv=FILE`: k6's CSV output, with k6's default columns
//! (`metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata`),
//! Unix-seconds timestamps and `%f` values as k6 writes them. The rows are the samples of
//! `--out json` (see `json.rs`): `step` and `--tag` tags go to `extra_tags` as `k=v&k=v`.

use super::json::{for_each_sample, open_target};
use super::{RunInfo, Second, Sink};
use std::io::Write;
use std::sync::Arc;

pub const HEADER: &[&str] = &[
    "metric_name",
    "timestamp",
    "metric_value",
    "check",
    "error",
    "error_code",
    "expected_response",
    "group",
    "method",
    "name",
    "proto",
    "scenario",
    "service",
    "status",
    "subproto",
    "tls_version",
    "url",
    "extra_tags",
    "metadata",
];

pub struct CsvSink {
    target: String,
    out: csv::Writer<Box<dyn Write + Send>>,
    info: Arc<RunInfo>,
}

impl CsvSink {
    pub fn create(target: &str, info: Arc<RunInfo>) -> anyhow::Result<CsvSink> {
        let mut out = csv::Writer::from_writer(open_target(target)?);
        out.write_record(HEADER)?;
        Ok(CsvSink {
            target: target.to_string(),
            out,
            info,
        })
    }
}

impl Sink for CsvSink {
    fn describe(&self) -> String {
        format!("csv ({})", self.target)
    }

    fn second(&mut self, s: &Second) -> anyhow::Result<()> {
        let ts = s
            .time(&self.info)
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let extra_run: Vec<String> = self
            .info
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let info = self.info.clone();
        let out = &mut self.out;
        for_each_sample(s, info.vus_max, |name, value, step, n| {
            let value = format!("{value:.6}");
            let st = step.and_then(|i| info.steps.get(i));
            let mut extra = extra_run.clone();
            if let Some(st) = st {
                extra.insert(0, format!("step={}", st.name));
            }
            let extra = extra.join("&");
            let (method, sname, scenario, url) = match st {
                Some(st) => (
                    st.method.as_str(),
                    st.name.as_str(),
                    st.scenario.as_str(),
                    st.url.as_str(),
                ),
                None => ("", "", "", ""),
            };
            for _ in 0..n {
                out.write_record([
                    name, &ts, &value, "", "", "", "", "", method, sname, "", scenario, "", "", "",
                    "", url, &extra, "",
                ])
                .map_err(std::io::Error::other)?;
            }
            Ok(())
        })?;
        self.out.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
