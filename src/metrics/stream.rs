//! What streaming steps (`sse:`) record, per step: HDR histograms of the stream timings and
//! counts of streams, events and tokens. Kept apart from `StepStats`'s request metrics and
//! created only for steps that stream, so other steps pay nothing for it.

use super::recorder::new_histogram;
use hdrhistogram::Histogram;
use std::time::Duration;

#[derive(Clone)]
pub struct StreamStats {
    /// Request start → first response byte.
    pub ttfb: Histogram<u64>,
    /// Request start → first event carrying content.
    pub ttft: Histogram<u64>,
    /// Every gap between consecutive content events.
    pub inter_token: Histogram<u64>,
    /// Per stream: (duration − TTFT) / (tokens − 1).
    pub tpot: Histogram<u64>,
    /// Request start → end of the stream.
    pub duration: Histogram<u64>,
    /// Per stream: output tokens per second of its duration, in milli-tokens per second (so
    /// the histogram keeps three significant digits of a rate like 48.7/s).
    pub tokens_per_second_milli: Histogram<u64>,
    pub streams: u64,
    pub events: u64,
    pub tokens: u64,
    /// Streams whose token count came from the server's `usage` (the rest were counted events).
    pub tokens_from_usage: u64,
    /// Streams that met every per-stream objective of their step, with no error.
    pub good: u64,
    /// Event data that should have been JSON and was not.
    pub parse_errors: u64,
}

impl Default for StreamStats {
    fn default() -> Self {
        StreamStats {
            ttfb: new_histogram(),
            ttft: new_histogram(),
            inter_token: new_histogram(),
            tpot: new_histogram(),
            duration: new_histogram(),
            tokens_per_second_milli: new_histogram(),
            streams: 0,
            events: 0,
            tokens: 0,
            tokens_from_usage: 0,
            good: 0,
            parse_errors: 0,
        }
    }
}

/// One finished stream, as the engine measured it.
#[derive(Debug, Clone, Default)]
pub struct StreamSample {
    pub ttfb: Option<Duration>,
    pub ttft: Option<Duration>,
    pub gaps: Vec<Duration>,
    pub tpot: Option<Duration>,
    pub duration: Duration,
    pub tokens_per_second: Option<f64>,
    pub events: u64,
    pub tokens: u64,
    pub tokens_from_usage: bool,
    pub good: bool,
    pub parse_errors: u64,
}

fn rec(h: &mut Histogram<u64>, d: Duration) {
    let v = d.as_micros().min(u64::MAX as u128) as u64;
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

impl StreamStats {
    pub fn record(&mut self, s: &StreamSample) {
        self.streams += 1;
        if let Some(d) = s.ttfb {
            rec(&mut self.ttfb, d);
        }
        if let Some(d) = s.ttft {
            rec(&mut self.ttft, d);
        }
        for g in &s.gaps {
            rec(&mut self.inter_token, *g);
        }
        if let Some(d) = s.tpot {
            rec(&mut self.tpot, d);
        }
        rec(&mut self.duration, s.duration);
        if let Some(r) = s.tokens_per_second {
            let v = (r * 1000.0).round().clamp(1.0, 1e15) as u64;
            if self.tokens_per_second_milli.record(v).is_err() {
                self.tokens_per_second_milli.saturating_record(v);
            }
        }
        self.events += s.events;
        self.tokens += s.tokens;
        self.tokens_from_usage += u64::from(s.tokens_from_usage);
        self.good += u64::from(s.good);
        self.parse_errors += s.parse_errors;
    }

    pub fn add(&mut self, o: &StreamStats) {
        let _ = self.ttfb.add(&o.ttfb);
        let _ = self.ttft.add(&o.ttft);
        let _ = self.inter_token.add(&o.inter_token);
        let _ = self.tpot.add(&o.tpot);
        let _ = self.duration.add(&o.duration);
        let _ = self.tokens_per_second_milli.add(&o.tokens_per_second_milli);
        self.streams += o.streams;
        self.events += o.events;
        self.tokens += o.tokens;
        self.tokens_from_usage += o.tokens_from_usage;
        self.good += o.good;
        self.parse_errors += o.parse_errors;
    }

    pub fn reset(&mut self) {
        for h in [
            &mut self.ttfb,
            &mut self.ttft,
            &mut self.inter_token,
            &mut self.tpot,
            &mut self.duration,
            &mut self.tokens_per_second_milli,
        ] {
            h.reset();
        }
        self.streams = 0;
        self.events = 0;
        self.tokens = 0;
        self.tokens_from_usage = 0;
        self.good = 0;
        self.parse_errors = 0;
    }

    /// The histogram behind a `stream_*` trend metric.
    pub fn trend(&self, metric: &str) -> Option<&Histogram<u64>> {
        Some(match metric {
            "stream_ttfb" => &self.ttfb,
            "stream_ttft" => &self.ttft,
            "stream_inter_token" => &self.inter_token,
            "stream_tpot" => &self.tpot,
            "stream_duration" => &self.duration,
            _ => return None,
        })
    }

    /// The count behind a `stream_*` counter metric.
    pub fn counter(&self, metric: &str) -> Option<u64> {
        Some(match metric {
            "streams" => self.streams,
            "stream_events" => self.events,
            "stream_tokens" => self.tokens,
            "stream_parse_errors" => self.parse_errors,
            _ => return None,
        })
    }
}

/// The `stream_*` trend metrics, in report order.
pub const TRENDS: [&str; 5] = [
    "stream_ttfb",
    "stream_ttft",
    "stream_inter_token",
    "stream_tpot",
    "stream_duration",
];

/// The `stream_*` counters, in report order.
pub const COUNTERS: [&str; 4] = [
    "streams",
    "stream_events",
    "stream_tokens",
    "stream_parse_errors",
];
