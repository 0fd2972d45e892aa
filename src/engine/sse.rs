//! Server-Sent Events on the load path: a `text/event-stream` parser that follows the WHATWG
//! rules (LF, CRLF and CR line ends, comments, multi-line `data`, `event`/`id`/`retry`), and the
//! per-stream observer that times what the events carry (first byte, first token, every gap
//! between tokens) as the bytes arrive.
//!
//! The parser is fed the response body (de-chunked) in whatever pieces the reads give; an event
//! completes at the blank line that ends it and is stamped with the arrival time of the read
//! that completed it.

use crate::plan::stream::{Content, Slo, SloMetric, StreamSpec};
use std::time::Duration;
use tokio::time::Instant;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// `event:` (empty: the default type, `message`).
    pub kind: String,
    /// The `data:` lines joined with LF.
    pub data: String,
    /// The last event id seen so far (`id:`), as the stream's state.
    pub id: String,
}

/// An incremental event-stream parser.
#[derive(Debug, Default)]
pub struct Parser {
    /// The line being read (bytes: a UTF-8 sequence may be split across reads).
    line: Vec<u8>,
    /// The previous byte was a CR: an LF right after it belongs to the same line end.
    after_cr: bool,
    /// Still at the start of the stream (a UTF-8 BOM there is dropped).
    at_start: bool,
    data: String,
    has_data: bool,
    kind: String,
    last_id: String,
    /// The server's reconnection time (`retry:`), in ms.
    pub retry: Option<u64>,
    /// Lines longer than the cap were cut (the stream is not held whole in memory).
    pub truncated_lines: u64,
}

/// The longest line kept; the rest of a longer line is dropped (and counted).
const MAX_LINE: usize = 1 << 20;

impl Parser {
    pub fn new() -> Self {
        Parser {
            at_start: true,
            ..Parser::default()
        }
    }

    /// Feed the next bytes; every event they complete is passed to `on_event`.
    pub fn feed(&mut self, mut bytes: &[u8], on_event: &mut dyn FnMut(Event)) {
        if self.at_start && !bytes.is_empty() {
            // The BOM may itself arrive split; a stream that starts with part of one is rare
            // enough to keep simple: drop it only when it arrives whole.
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()) {
                bytes = rest;
            }
            self.at_start = false;
        }
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' => self.end_line(on_event),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(on_event);
                }
                _ => {
                    self.after_cr = false;
                    if self.line.len() < MAX_LINE {
                        self.line.push(b);
                    } else if self.line.len() == MAX_LINE {
                        self.truncated_lines += 1;
                        self.line.push(b);
                    }
                }
            }
        }
    }

    /// The body ended: an event without its blank line is discarded, as the WHATWG rules say.
    pub fn finish(&mut self) {
        self.line.clear();
        self.data.clear();
        self.has_data = false;
        self.kind.clear();
    }

    fn end_line(&mut self, on_event: &mut dyn FnMut(Event)) {
        if self.line.len() > MAX_LINE {
            self.line.truncate(MAX_LINE);
        }
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(on_event);
        } else if line[0] != b':' {
            let (field, value) = match line.iter().position(|&c| c == b':') {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ".as_slice()).unwrap_or(v))
                }
                None => (&line[..], &[][..]),
            };
            let value = String::from_utf8_lossy(value);
            match field {
                b"data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(&value);
                    self.has_data = true;
                }
                b"event" => self.kind = value.into_owned(),
                b"id" if !value.contains('\0') => self.last_id = value.into_owned(),
                b"retry" if !value.is_empty() && value.bytes().all(|c| c.is_ascii_digit()) => {
                    self.retry = value.parse().ok();
                }
                _ => {}
            }
        }
        // Reuse the line's allocation.
        self.line = line;
        self.line.clear();
    }

    fn dispatch(&mut self, on_event: &mut dyn FnMut(Event)) {
        if !self.has_data {
            self.kind.clear();
            return;
        }
        self.has_data = false;
        on_event(Event {
            kind: std::mem::take(&mut self.kind),
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        });
    }
}

/// The most assembled text kept per stream for checks and extraction.
const MAX_TEXT: usize = 1 << 20;

/// What one stream showed, as it arrived.
#[derive(Debug)]
pub struct Stream<'a> {
    spec: &'a StreamSpec,
    parser: Parser,
    /// The first content event, and the one before the current.
    pub first_token: Option<Instant>,
    last_token: Option<Instant>,
    /// Every gap between consecutive content events.
    pub gaps: Vec<Duration>,
    pub events: u64,
    /// Events that carried content.
    pub content_events: u64,
    /// The output token count the server reported (`usage`), if it did.
    pub usage_tokens: Option<u64>,
    /// Data that should have been JSON (a content path is set) but was not.
    pub parse_errors: u64,
    /// The end marker (`[DONE]`) was seen.
    pub done: bool,
    /// The content of every event, joined (up to `MAX_TEXT`).
    pub text: Vec<u8>,
    /// The last event's data that was not the end marker.
    pub last_data: String,
}

impl<'a> Stream<'a> {
    pub fn new(spec: &'a StreamSpec) -> Self {
        Stream {
            spec,
            parser: Parser::new(),
            first_token: None,
            last_token: None,
            gaps: Vec::new(),
            events: 0,
            content_events: 0,
            usage_tokens: None,
            parse_errors: 0,
            done: false,
            text: Vec::new(),
            last_data: String::new(),
        }
    }

    /// Body bytes that arrived at `at`.
    pub fn feed(&mut self, bytes: &[u8], at: Instant) {
        let mut parser = std::mem::take(&mut self.parser);
        parser.feed(bytes, &mut |e| self.event(e, at));
        self.parser = parser;
    }

    /// The body ended.
    pub fn finish(&mut self) {
        self.parser.finish();
    }

    fn event(&mut self, e: Event, at: Instant) {
        self.events += 1;
        if self.done {
            return;
        }
        if self.spec.done.as_deref() == Some(e.data.trim()) {
            self.done = true;
            return;
        }
        let content: Option<String> = match &self.spec.content {
            Content::Data => Some(e.data.clone()),
            Content::Json(path) => match serde_json::from_str::<serde_json::Value>(&e.data) {
                Ok(v) => {
                    if let Some(usage) = &self.spec.usage
                        && let Some(n) = usage.query(&v).first().and_then(|n| n.as_u64())
                    {
                        self.usage_tokens = Some(n);
                    }
                    path.query(&v).first().and_then(|c| match c {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Null => None,
                        other => Some(other.to_string()),
                    })
                }
                Err(_) => {
                    self.parse_errors += 1;
                    None
                }
            },
        };
        if let Some(c) = content.filter(|c| !c.is_empty()) {
            self.content_events += 1;
            if self.first_token.is_none() {
                self.first_token = Some(at);
            }
            if let Some(prev) = self.last_token {
                self.gaps.push(at.saturating_duration_since(prev));
            }
            self.last_token = Some(at);
            let room = MAX_TEXT.saturating_sub(self.text.len());
            self.text
                .extend_from_slice(&c.as_bytes()[..c.len().min(room)]);
        }
        self.last_data = e.data;
    }

    /// Output tokens: the server's own count when it gave one, else the content events.
    pub fn tokens(&self) -> u64 {
        self.usage_tokens.unwrap_or(self.content_events)
    }
}

/// Where the engine hands a streaming response's body as it arrives.
pub trait Sink {
    fn feed(&self, bytes: &[u8], at: Instant);
}

impl Sink for std::cell::RefCell<Stream<'_>> {
    fn feed(&self, bytes: &[u8], at: Instant) {
        self.borrow_mut().feed(bytes, at);
    }
}

/// The per-stream figures, once a stream has ended (all from the request's start, which for the
/// first request of a scheduled iteration is its intended start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub ttfb: Option<Duration>,
    pub ttft: Option<Duration>,
    pub duration: Duration,
    /// (duration − TTFT) / (tokens − 1), for streams of two tokens or more.
    pub tpot: Option<Duration>,
    pub tokens: u64,
    /// Tokens per second of the stream's whole duration.
    pub tokens_per_second: Option<f64>,
}

impl Figures {
    /// `start` is when the request counts as started, `end` when its body ended.
    pub fn of(s: &Stream<'_>, start: Instant, first_byte: Option<Instant>, end: Instant) -> Self {
        let since = |t: Instant| t.saturating_duration_since(start);
        let duration = since(end);
        let ttft = s.first_token.map(since);
        let tokens = s.tokens();
        let tpot = match ttft {
            Some(t) if tokens >= 2 => Some(duration.saturating_sub(t) / (tokens - 1) as u32),
            _ => None,
        };
        let secs = duration.as_secs_f64();
        Figures {
            ttfb: first_byte.map(since),
            ttft,
            duration,
            tpot,
            tokens,
            tokens_per_second: (tokens > 0 && secs > 0.0).then(|| tokens as f64 / secs),
        }
    }

    /// Did this stream meet every per-request SLO of its step?
    pub fn meets(&self, slos: &[Slo]) -> bool {
        slos.iter().all(|slo| {
            let v = match slo.metric {
                SloMetric::Ttfb => self.ttfb,
                SloMetric::Ttft => self.ttft,
                SloMetric::Tpot => self.tpot,
                SloMetric::Duration => Some(self.duration),
            };
            match v {
                Some(v) if slo.inclusive => v <= slo.bound,
                Some(v) => v < slo.bound,
                // A stream without a first token misses a TTFT objective; a one-token stream
                // has no TPOT to miss.
                None => slo.metric == SloMetric::Tpot,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut |e| out.push(e));
        }
        out
    }

    fn data(chunks: &[&[u8]]) -> Vec<String> {
        events(chunks).into_iter().map(|e| e.data).collect()
    }

    #[test]
    fn every_line_end_is_a_line_end() {
        assert_eq!(
            data(&[b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n"]),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn a_crlf_split_between_reads_is_one_line_end() {
        assert_eq!(
            data(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n", b"\r\n"]),
            ["a", "b"]
        );
    }

    #[test]
    fn the_space_after_the_colon_is_optional_and_only_one_is_dropped() {
        assert_eq!(data(&[b"data:x\n\ndata:  y\n\n"]), ["x", " y"]);
    }

    #[test]
    fn comments_fields_and_multi_line_data() {
        let e = events(&[
            b": keep-alive\n",
            b"event: delta\nid: 7\nretry: 3000\ndata: one\ndata\ndata: two\n\n",
            b"data: three\n\n",
        ]);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kind, "delta");
        assert_eq!(e[0].id, "7");
        assert_eq!(e[0].data, "one\n\ntwo");
        assert_eq!(e[1].kind, "", "the event type resets after dispatch");
        assert_eq!(e[1].id, "7", "the last event id persists");
    }

    #[test]
    fn a_blank_line_without_data_dispatches_nothing_and_an_unfinished_event_is_dropped() {
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(b"event: x\n\nid: 1\n\ndata: half", &mut |e| out.push(e));
        p.finish();
        assert!(out.is_empty());
    }

    #[test]
    fn a_bom_at_the_start_is_dropped_and_bytes_split_anywhere_give_the_same_events() {
        let whole: &[u8] = b"\xEF\xBB\xBFdata: h\xC3\xA9\r\n\r\n: c\ndata: {\"a\":1}\n\n";
        let expect = data(&[whole]);
        assert_eq!(expect, ["hé", "{\"a\":1}"]);
        for cut in 3..whole.len() {
            assert_eq!(
                data(&[&whole[..cut], &whole[cut..]]),
                expect,
                "cut at {cut}"
            );
        }
    }

    fn spec() -> StreamSpec {
        StreamSpec::openai()
    }

    #[test]
    fn openai_chunks_give_tokens_gaps_and_usage() {
        let spec = spec();
        let mut s = Stream::new(&spec);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
            at(100),
        );
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            at(150),
        );
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
            at(170),
        );
        s.feed(
            b"data: {\"choices\":[],\"usage\":{\"completion_tokens\":5}}\n\ndata: [DONE]\n\n",
            at(190),
        );
        s.finish();
        assert_eq!(s.events, 5);
        assert_eq!(s.content_events, 2);
        assert_eq!(s.tokens(), 5, "usage wins over counted events");
        assert_eq!(s.text, b"Hello");
        assert!(s.done);
        assert_eq!(s.gaps, [Duration::from_millis(20)]);
        let f = Figures::of(&s, t0, Some(at(100)), at(200));
        assert_eq!(f.ttft, Some(Duration::from_millis(150)));
        assert_eq!(f.ttfb, Some(Duration::from_millis(100)));
        // (200 − 150) / (5 − 1)
        assert_eq!(f.tpot, Some(Duration::from_micros(12_500)));
        assert_eq!(s.parse_errors, 0);
    }

    #[test]
    fn data_that_is_not_json_is_a_parse_error_with_a_content_path() {
        let spec = spec();
        let mut s = Stream::new(&spec);
        s.feed(b"data: not json\n\n", Instant::now());
        assert_eq!(s.parse_errors, 1);
        assert_eq!(s.content_events, 0);
    }

    #[test]
    fn slos_judge_each_stream() {
        let f = Figures {
            ttft: Some(Duration::from_millis(150)),
            duration: Duration::from_secs(1),
            ..Figures::default()
        };
        let slo = |metric, ms, inclusive| Slo {
            metric,
            bound: Duration::from_millis(ms),
            inclusive,
        };
        assert!(f.meets(&[slo(SloMetric::Ttft, 200, false)]));
        assert!(!f.meets(&[slo(SloMetric::Ttft, 150, false)]));
        assert!(f.meets(&[slo(SloMetric::Ttft, 150, true)]));
        assert!(
            f.meets(&[slo(SloMetric::Tpot, 1, false)]),
            "no TPOT to miss"
        );
        assert!(!f.meets(&[slo(SloMetric::Ttfb, 1, false)]), "no first byte");
    }
}
