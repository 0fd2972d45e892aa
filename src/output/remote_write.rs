//! `--out experimental-prometheus-rw=URL` (k6's name): Prometheus remote write (protocol 1.0:
//! a snappy-compressed protobuf `WriteRequest`, POSTed once a second) of the series the scrape
//! endpoint shows (`prometheus.rs`), with the same names and labels, stamped with the end of
//! the second. Plain `http://` URLs (Prometheus with `--web.enable-remote-write-receiver`:
//! `http://HOST:9090/api/v1/write`). A refused or failed POST loses that second's samples and is
//! counted; the run goes on.

use super::prometheus::{CumulativeSeries, Series};
use super::{RunInfo, Second, Sink};
use prost::Message;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

pub struct RwSink {
    url: String,
    host: String,
    path: String,
    info: Arc<RunInfo>,
    series: CumulativeSeries,
    failed: u64,
    last_error: Option<String>,
}

impl RwSink {
    pub fn create(url: &str, info: Arc<RunInfo>) -> anyhow::Result<RwSink> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            anyhow::anyhow!(
                "--out experimental-prometheus-rw={url}: an http:// URL, e.g. http://127.0.0.1:9090/api/v1/write"
            )
        })?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/api/v1/write"),
        };
        if host.is_empty() {
            anyhow::bail!("--out experimental-prometheus-rw={url}: no host");
        }
        Ok(RwSink {
            url: url.to_string(),
            host: host.to_string(),
            path: path.to_string(),
            series: CumulativeSeries::new(&info),
            info,
            failed: 0,
            last_error: None,
        })
    }

    fn post(&self, body: &[u8]) -> anyhow::Result<()> {
        let mut c = TcpStream::connect(&self.host)?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        c.set_write_timeout(Some(Duration::from_secs(5)))?;
        write!(
            c,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nUser-Agent: stampede/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.path,
            self.host,
            env!("CARGO_PKG_VERSION"),
            body.len()
        )?;
        c.write_all(body)?;
        let mut resp = Vec::new();
        c.read_to_end(&mut resp)?;
        let head = String::from_utf8_lossy(&resp[..resp.len().min(200)]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        if !(200..300).contains(&status) {
            anyhow::bail!("{}", head.lines().next().unwrap_or("no answer"));
        }
        Ok(())
    }
}

fn encode(series: &[Series], ts_ms: i64) -> WriteRequest {
    WriteRequest {
        timeseries: series
            .iter()
            .map(|s| {
                let mut labels: Vec<Label> = std::iter::once(Label {
                    name: "__name__".into(),
                    value: s.name.clone(),
                })
                .chain(s.labels.iter().map(|(k, v)| Label {
                    name: k.clone(),
                    value: v.clone(),
                }))
                .collect();
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                TimeSeries {
                    labels,
                    samples: vec![Sample {
                        value: s.value,
                        timestamp: ts_ms,
                    }],
                }
            })
            .collect(),
    }
}

impl Sink for RwSink {
    fn describe(&self) -> String {
        format!("experimental-prometheus-rw ({})", self.url)
    }

    fn second(&mut self, s: &Second) -> anyhow::Result<()> {
        let series = self.series.add(s, self.info.vus_max);
        let ts = s
            .time(&self.info)
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let body = encode(&series, ts).encode_to_vec();
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&body)
            .map_err(|e| anyhow::anyhow!("snappy: {e}"))?;
        if let Err(e) = self.post(&compressed) {
            self.failed += 1;
            self.last_error = Some(format!("{e:#}"));
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        match &self.last_error {
            Some(e) => anyhow::bail!(
                "{} second(s) of samples were not accepted (last: {e})",
                self.failed
            ),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_labelled_with_their_name_first_in_order() {
        let w = encode(
            &[Series {
                name: "k6_vus".into(),
                labels: vec![("testid".into(), "t".into()), ("a".into(), "b".into())],
                value: 3.0,
            }],
            1000,
        );
        let names: Vec<&str> = w.timeseries[0]
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, vec!["__name__", "a", "testid"]);
        let bytes = w.encode_to_vec();
        assert_eq!(WriteRequest::decode(&bytes[..]).unwrap(), w);
    }
}
