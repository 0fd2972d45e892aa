//! The stream metrics of `summary.json` (`stream_*` trends and counters, `stream_goodput`), the
//! stream histograms, and the `streams` section: per streaming step, tokens per second (overall
//! and per stream), goodput and where the token counts came from.

use super::json::{counter, rate, round3, trend};
use crate::metrics::RunResult;
use crate::metrics::stream::StreamStats;
use crate::metrics::ws::WsStats;
use crate::summary::{
    Metric, PerStream, StreamFigures, Summary, Trend, WebsocketsSection, WsStepRow,
};
use hdrhistogram::Histogram;

/// `metrics.<name>` for a `stream_*` metric of one step (or of all steps merged).
pub fn metric(name: &str, s: &StreamStats, res: &RunResult) -> Option<Metric> {
    if name == "stream_goodput" {
        // As k6 writes rates: `passes` are the true values (good streams).
        return Some(Metric::Rate(rate(s.good, s.streams)));
    }
    match s.trend(name) {
        Some(h) => Some(Metric::Trend(trend(h))),
        None => Some(Metric::Counter(counter(s.counter(name)?, res))),
    }
}

/// `metrics.<name>` for a `ws_*` metric of one step (or of all steps merged).
pub fn ws_metric(name: &str, s: &WsStats, res: &RunResult) -> Option<Metric> {
    match s.trend(name) {
        Some(h) => Some(Metric::Trend(trend(h))),
        None => Some(Metric::Counter(counter(s.counter(name)?, res))),
    }
}

/// `websockets`: none when no step opens sessions; else sessions and close codes per step.
pub fn ws_section(res: &RunResult) -> Option<WebsocketsSection> {
    let steps: Vec<WsStepRow> = res
        .step_names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let s = res.total.steps.get(i)?.ws.as_deref()?;
            Some(WsStepRow {
                step: n.clone(),
                sessions: s.sessions,
                msgs_sent: s.sent,
                msgs_received: s.received,
                close_codes: s.closes.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            })
        })
        .collect();
    (!steps.is_empty()).then_some(WebsocketsSection { steps })
}

pub use crate::summary::TOKENS_PER_S_MILLI;

/// Every stream histogram (µs, HdrHistogram V2 deflate), overall and per step.
pub fn histograms(res: &RunResult) -> Vec<(String, &Histogram<u64>)> {
    let mut sources: Vec<(String, &StreamStats)> = Vec::new();
    if let Some(s) = res.overall.stream.as_deref() {
        sources.push((String::new(), s));
    }
    for (i, step) in res.step_names.iter().enumerate() {
        if let Some(s) = res.total.steps.get(i).and_then(|s| s.stream.as_deref()) {
            sources.push((format!("{{step:{step}}}"), s));
        }
    }
    let mut out = Vec::new();
    let mut ws: Vec<(String, &WsStats)> = Vec::new();
    if let Some(s) = res.overall.ws.as_deref() {
        ws.push((String::new(), s));
    }
    for (i, step) in res.step_names.iter().enumerate() {
        if let Some(s) = res.total.steps.get(i).and_then(|s| s.ws.as_deref()) {
            ws.push((format!("{{step:{step}}}"), s));
        }
    }
    for (suffix, s) in ws {
        for name in crate::metrics::ws::TRENDS {
            if let Some(h) = s.trend(name) {
                out.push((format!("{name}{suffix}"), h));
            }
        }
    }
    for (suffix, s) in sources {
        for name in crate::metrics::stream::TRENDS {
            if let Some(h) = s.trend(name) {
                out.push((format!("{name}{suffix}"), h));
            }
        }
        // Each stream's own tokens per second (milli-tokens/s, not µs): what
        // `tokens_per_s_per_stream` is read from, kept so `stampede merge` can add it exactly.
        out.push((
            format!("{TOKENS_PER_S_MILLI}{suffix}"),
            &s.tokens_per_second_milli,
        ));
    }
    out
}

fn per_second(h: &Histogram<u64>) -> Option<PerStream> {
    // Recorded in milli-tokens per second.
    let v = |x: u64| round3(x as f64 / 1000.0);
    if h.is_empty() {
        return None;
    }
    Some(PerStream {
        avg: round3(h.mean() / 1000.0),
        min: v(h.min()),
        med: v(h.value_at_quantile(0.5)),
        p10: v(h.value_at_quantile(0.1)),
        p90: v(h.value_at_quantile(0.9)),
        max: v(h.max()),
    })
}

fn one(name: Option<&str>, s: &StreamStats, res: &RunResult) -> StreamFigures {
    StreamFigures {
        step: name.map(String::from),
        streams: s.streams,
        good: s.good,
        goodput: if s.streams > 0 {
            s.good as f64 / s.streams as f64
        } else {
            0.0
        },
        good_per_s: round3(res.rate(s.good)),
        events: s.events,
        tokens: s.tokens,
        tokens_per_s: round3(res.rate(s.tokens)),
        tokens_source: if s.streams == 0 {
            "none"
        } else if s.tokens_from_usage == s.streams {
            "usage"
        } else if s.tokens_from_usage == 0 {
            "events"
        } else {
            "mixed"
        }
        .to_string(),
        streams_with_usage: s.tokens_from_usage,
        parse_errors: s.parse_errors,
        tokens_per_s_per_stream: per_second(&s.tokens_per_second_milli),
        steps: None,
    }
}

/// `streams`: none when no step streams; else the whole run and each streaming step.
pub fn section(res: &RunResult) -> Option<StreamFigures> {
    let all = res.overall.stream.as_deref()?;
    let steps: Vec<StreamFigures> = res
        .step_names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let s = res.total.steps.get(i)?.stream.as_deref()?;
            Some(one(Some(n), s, res))
        })
        .collect();
    Some(StreamFigures {
        steps: Some(steps),
        ..one(None, all, res)
    })
}

/// One row per streaming step, from a summary: name, streams, TTFT p50/p99, inter-token
/// p50/p99, TPOT p50 (ms), tokens per second, goodput (a fraction).
pub struct Row {
    pub step: String,
    pub streams: u64,
    pub ttft: (f64, f64),
    pub inter_token: (f64, f64),
    pub tpot_p50: f64,
    pub tokens_per_s: f64,
    pub goodput: f64,
}

/// The streaming steps of a summary, for the Markdown and HTML reports.
pub fn rows(summary: &Summary) -> Vec<Row> {
    let steps = summary
        .streams
        .as_ref()
        .and_then(|s| s.steps.as_deref())
        .unwrap_or_default();
    steps
        .iter()
        .map(|st| {
            let step = st.step.clone().unwrap_or_default();
            let t = |name: &str| summary.trend(&format!("{name}{{step:{step}}}"));
            let q = |name: &str, f: fn(&Trend) -> f64| t(name).map_or(0.0, f);
            Row {
                streams: st.streams,
                ttft: (q("stream_ttft", |t| t.p50), q("stream_ttft", |t| t.p99)),
                inter_token: (
                    q("stream_inter_token", |t| t.p50),
                    q("stream_inter_token", |t| t.p99),
                ),
                tpot_p50: q("stream_tpot", |t| t.p50),
                tokens_per_s: st.tokens_per_s,
                goodput: st.goodput,
                step,
            }
        })
        .collect()
}
