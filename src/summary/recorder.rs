//! A summary read back into the engine's `Recorder`: every histogram and counter as the
//! aggregator held them at the end of the run (what `stampede merge` adds up).

use super::TOKENS_PER_S_MILLI;
use super::{Metric, Summary};
use crate::engine::http1::ProtocolError;
use crate::metrics::recorder::new_histogram;
use crate::metrics::stream::StreamStats;
use crate::metrics::ws::WsStats;
use crate::metrics::{ErrorKind, Recorder, StepStats, TlsReason};
use hdrhistogram::Histogram;

/// Why a histogram of a summary could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    #[error("histogram is not base64: {0}")]
    NotBase64(String),
    #[error("histogram is not HdrHistogram V2: {0}")]
    NotHdr(String),
    #[error("histogram cannot be added: {0}")]
    NotAddable(String),
}

/// Why a summary could not be turned back into the `Recorder` of its run.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("histograms.{key}: {source}")]
    Histogram { key: String, source: HistogramError },
    #[error("histograms.{0} is missing")]
    MissingHistogram(String),
    #[error("status_codes: `{0}` is not a status code")]
    StatusCode(String),
    #[error("errors.{0}: an error kind this stampede does not know")]
    UnknownErrorKind(String),
    #[error("streams.steps: no row for streaming step `{0}`")]
    NoStreamRow(String),
    #[error("websockets.steps: no row for WebSocket step `{0}`")]
    NoWsRow(String),
    #[error("websockets.steps.{step}.close_codes: `{code}` is not a close code")]
    CloseCode { step: String, code: String },
}

/// A histogram from its base64 HdrHistogram V2 (deflate) form, able to grow when added to.
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, HistogramError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| HistogramError::NotBase64(e.to_string()))?;
    let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| HistogramError::NotHdr(format!("{e:?}")))?;
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| HistogramError::NotAddable(format!("{e:?}")))?;
    Ok(out)
}

impl Summary {
    fn histogram(&self, key: &str) -> Result<Histogram<u64>, RebuildError> {
        match self.histograms.get(key) {
            Some(b64) => decode_histogram(b64).map_err(|source| RebuildError::Histogram {
                key: key.to_string(),
                source,
            }),
            None => Err(RebuildError::MissingHistogram(key.to_string())),
        }
    }

    /// Everything the run recorded, rebuilt from its histograms and counters: what the engine's
    /// aggregator held at the end of the run.
    pub fn recorder(&self, step_names: &[String]) -> Result<Recorder, RebuildError> {
        let mut r = Recorder::with_checks(step_names.len(), self.checks.len());
        for (i, name) in step_names.iter().enumerate() {
            let h = |m: &str| self.histogram(&format!("{m}{{step:{name}}}"));
            let rate = |m: String| self.metrics.get(&m).and_then(Metric::rate).cloned();
            let failed = rate(format!("http_req_failed{{step:{name}}}")).unwrap_or_default();
            let checks = rate(format!("checks{{step:{name}}}")).unwrap_or_default();
            r.steps[i] = StepStats {
                duration: h("http_req_duration")?,
                waiting: h("http_req_waiting")?,
                connecting: h("http_req_connecting")?,
                tls_handshaking: h("http_req_tls_handshaking")?,
                blocked: h("http_req_blocked")?,
                uncorrected: h("http_req_duration_uncorrected")?,
                requests: self.count(&format!("http_reqs{{step:{name}}}")),
                // A rate's `passes` are its true values: here, failed requests.
                failures: failed.passes,
                checks_passed: checks.passes,
                checks_failed: checks.fails,
                stream: self.stream_stats(name)?.map(Box::new),
                ws: self.ws_stats(name)?.map(Box::new),
            };
        }
        r.iteration = self.histogram("iteration_duration")?;
        r.schedule_lag = self.histogram("schedule_lag")?;
        r.iterations = self.count("iterations");
        r.iterations_interrupted = self.count("iterations_interrupted");
        r.iterations_due = self.iterations_due.unwrap_or(0);
        r.retries = self.count("http_req_retries");
        for (reason, n) in &self.protocol_errors {
            r.protocol_reasons.push((protocol_reason(reason), *n));
        }
        r.dropped_iterations = self.count("dropped_iterations");
        r.data_sent = self.count("data_sent");
        r.data_received = self.count("data_received");
        for (code, n) in &self.status_codes {
            let c: usize = code
                .parse()
                .map_err(|_| RebuildError::StatusCode(code.clone()))?;
            if let Some(slot) = r.status.get_mut(c) {
                *slot += n;
            }
        }
        for (i, c) in self.checks.iter().enumerate() {
            r.checks[i] = [c.passes, c.fails];
        }
        for (name, n) in &self.errors {
            match ErrorKind::ALL.iter().position(|k| k.name() == name) {
                Some(i) => r.errors[i] += n,
                None if *n == 0 => {}
                None => {
                    return Err(RebuildError::UnknownErrorKind(name.clone()));
                }
            }
        }
        for (name, n) in &self.tls_errors {
            if let Some(i) = TlsReason::ALL.iter().position(|k| k.name() == name) {
                r.tls_reasons[i] += n;
            }
        }
        Ok(r)
    }

    /// A streaming step's figures: its `stream_*` histograms and counters, the good streams
    /// (`stream_goodput`'s passes) and the streams counted from `usage` (`streams.steps`).
    /// `None` for a step that did not stream.
    fn stream_stats(&self, step: &str) -> Result<Option<StreamStats>, RebuildError> {
        let key = |m: &str| format!("{m}{{step:{step}}}");
        if !self.histograms.contains_key(&key("stream_duration")) {
            return Ok(None);
        }
        let h = |m: &str| self.histogram(&key(m));
        let usage = self
            .streams
            .as_ref()
            .and_then(|s| s.steps.as_ref())
            .and_then(|steps| steps.iter().find(|r| r.step.as_deref() == Some(step)))
            .map(|r| r.streams_with_usage)
            .ok_or_else(|| RebuildError::NoStreamRow(step.to_string()))?;
        Ok(Some(StreamStats {
            ttfb: h("stream_ttfb")?,
            ttft: h("stream_ttft")?,
            inter_token: h("stream_inter_token")?,
            tpot: h("stream_tpot")?,
            duration: h("stream_duration")?,
            tokens_per_second_milli: h(TOKENS_PER_S_MILLI)?,
            streams: self.count(&key("streams")),
            events: self.count(&key("stream_events")),
            tokens: self.count(&key("stream_tokens")),
            parse_errors: self.count(&key("stream_parse_errors")),
            good: self
                .metrics
                .get(&key("stream_goodput"))
                .and_then(Metric::rate)
                .map_or(0, |r| r.passes),
            tokens_from_usage: usage,
        }))
    }

    /// A WebSocket step's figures: its `ws_*` histograms and counters and its close codes
    /// (`websockets.steps`). `None` for a step that opened no sessions.
    fn ws_stats(&self, step: &str) -> Result<Option<WsStats>, RebuildError> {
        let key = |m: &str| format!("{m}{{step:{step}}}");
        if !self.histograms.contains_key(&key("ws_session_duration")) {
            return Ok(None);
        }
        let h = |m: &str| self.histogram(&key(m));
        let row = self
            .websockets
            .as_ref()
            .and_then(|s| s.steps.iter().find(|r| r.step == step))
            .ok_or_else(|| RebuildError::NoWsRow(step.to_string()))?;
        let mut closes = std::collections::BTreeMap::new();
        for (code, n) in &row.close_codes {
            let c: u16 = code.parse().map_err(|_| RebuildError::CloseCode {
                step: step.to_string(),
                code: code.clone(),
            })?;
            closes.insert(c, *n);
        }
        Ok(Some(WsStats {
            connecting: h("ws_connecting")?,
            msg_rtt: h("ws_msg_rtt")?,
            session: h("ws_session_duration")?,
            sessions: self.count(&key("ws_sessions")),
            sent: self.count(&key("ws_msgs_sent")),
            received: self.count(&key("ws_msgs_received")),
            closes,
        }))
    }
}

/// A protocol failure's reason back from its text in `protocol_errors` (the inverse of
/// `ProtocolError`'s Display); a reason this stampede does not write is counted as `unknown`.
pub fn protocol_reason(text: &str) -> ProtocolError {
    use ProtocolError as P;
    const HEAD_REASONS: [&str; 7] = [
        "invalid header name",
        "invalid header value",
        "invalid new line",
        "invalid response status",
        "invalid token",
        "too many headers",
        "invalid HTTP version",
    ];
    let num = |s: &str| s.trim().parse::<u32>().ok();
    if let Some(why) = text.strip_prefix("malformed response head: ") {
        return HEAD_REASONS
            .iter()
            .find(|r| **r == why)
            .map_or(P::Unknown, |r| P::MalformedHead(r));
    }
    if let Some(rest) = text.strip_prefix("too many header lines: ")
        && let Some((a, b)) = rest.split_once(" > ")
        && let (Some(lines), Some(limit)) = (num(a), num(b))
    {
        return P::TooManyHeaderLines { lines, limit };
    }
    if let Some(rest) = text.strip_prefix("response head larger than ")
        && let Some(limit) = rest.strip_suffix(" bytes").and_then(num)
    {
        return P::HeadTooLarge { limit };
    }
    if let Some(rest) = text.strip_prefix("more than ")
        && let Some(limit) = rest.strip_suffix(" interim (1xx) responses").and_then(num)
    {
        return P::TooManyInterim { limit };
    }
    [
        P::BadContentLength,
        P::ConflictingContentLength,
        P::BadChunkSize,
        P::ChunkTooLarge,
        P::BadChunkEnd,
        P::BadTrailer,
        P::ClosedInHead,
        P::UnsolicitedBytes,
        P::Http2,
    ]
    .into_iter()
    .find(|p| p.to_string() == text)
    .unwrap_or(P::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_reason_reads_back_from_its_text() {
        use ProtocolError as P;
        for p in [
            P::MalformedHead("invalid header name"),
            P::MalformedHead("invalid HTTP version"),
            P::TooManyHeaderLines {
                lines: 300,
                limit: 256,
            },
            P::HeadTooLarge { limit: 65536 },
            P::TooManyInterim { limit: 10000 },
            P::BadContentLength,
            P::ConflictingContentLength,
            P::BadChunkSize,
            P::ChunkTooLarge,
            P::BadChunkEnd,
            P::BadTrailer,
            P::ClosedInHead,
            P::UnsolicitedBytes,
            P::Http2,
            P::Unknown,
        ] {
            assert_eq!(protocol_reason(&p.to_string()), p, "{p}");
        }
        assert_eq!(protocol_reason("something new"), P::Unknown);
    }
}
