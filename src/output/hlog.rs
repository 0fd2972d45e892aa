//! `--out hlog=FILE`: an HdrHistogram interval log (the HistogramLogWriter format that jHiccup
//! writes and HistogramLogAnalyzer and every HdrHistogram library's log reader read): one
//! interval histogram per second of the run. The untagged histograms are `http_req_duration`
//! over all steps; `Tag=http_req_duration{step:NAME}` lines are each step's, and
//! `Tag=iteration_duration` the iterations'. Values are microseconds (`#[MaxValueDivisor:
//! 1000.000]`: the max column reads in ms); histograms are V2 compressed. Summing the untagged
//! intervals gives the summary's `http_req_duration` histogram exactly.

use super::{RunInfo, Second, Sink};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub struct HlogSink {
    target: String,
    /// The log's text so far for the current second, written out at once.
    out: Box<dyn Write + Send>,
    info: Arc<RunInfo>,
    step_tags: Vec<String>,
    serializer: V2DeflateSerializer,
}

/// A tag may not hold `,`, space, CR or LF.
fn clean_tag(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

impl HlogSink {
    pub fn create(target: &str, info: Arc<RunInfo>) -> anyhow::Result<HlogSink> {
        let mut out = super::json::open_target(target)?;
        let mut serializer = V2DeflateSerializer::new();
        // The header: written once, by a writer that is then dropped (each second's lines are
        // written by a fresh writer with no header).
        IntervalLogWriterBuilder::new()
            .add_comment("[Histogram log format version 1.3]")
            .add_comment(&format!(
                "stampede {} run `{}`: http_req_duration (untagged: all steps) per second, in microseconds",
                env!("CARGO_PKG_VERSION"),
                clean_tag(&info.name)
            ))
            .with_start_time(info.started)
            .with_base_time(info.started)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut serializer)?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        let step_tags = info
            .steps
            .iter()
            .map(|s| clean_tag(&format!("http_req_duration{{step:{}}}", s.name)))
            .collect();
        Ok(HlogSink {
            target: target.to_string(),
            out,
            info,
            step_tags,
            serializer,
        })
    }
}

impl Sink for HlogSink {
    fn describe(&self) -> String {
        format!("hlog ({})", self.target)
    }

    fn second(&mut self, s: &Second) -> anyhow::Result<()> {
        let start = Duration::from_secs(s.second.saturating_sub(1));
        let len = Duration::from_secs(1);
        let mut all: Histogram<u64> = crate::metrics::recorder::new_histogram();
        for st in &s.data.steps {
            let _ = all.add(&st.duration);
        }
        let mut buf: Vec<u8> = Vec::new();
        {
            let mut w = IntervalLogWriterBuilder::new()
                .with_max_value_divisor(1000.0)
                .begin_log_with(&mut buf, &mut self.serializer)?;
            let err = |e| anyhow::anyhow!("cannot encode a histogram: {e:?}");
            w.write_histogram(&all, start, len, None).map_err(err)?;
            for (i, st) in s.data.steps.iter().enumerate() {
                if st.duration.is_empty() {
                    continue;
                }
                let tag = self.step_tags.get(i).and_then(|t| Tag::new(t));
                w.write_histogram(&st.duration, start, len, tag)
                    .map_err(err)?;
            }
            if !s.data.iteration.is_empty() {
                w.write_histogram(
                    &s.data.iteration,
                    start,
                    len,
                    Tag::new("iteration_duration"),
                )
                .map_err(err)?;
            }
        }
        // The per-second writer repeats the divisor line; keep only the interval lines.
        for line in buf
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
        {
            self.out.write_all(line)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        let _ = &self.info;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
