//! The HTTP/2 connection state of a VU's own connection (`h2vu`) and the frames it reads: what
//! the server's frames mean for the connection (SETTINGS, PING, GOAWAY, windows) and for the one
//! stream in flight (its header blocks, DATA, RST_STREAM). No I/O here: bytes in, frames to
//! write out, so every rule is unit-tested on byte strings.

use super::h2frame::{self as f, Head, Violation};
use super::h2vu::Failed;
use super::hpack;
use super::http1::{MAX_INTERIM, Response};
use super::request::{Outgoing, Typed};
use crate::metrics::protocol::ProtocolError;
use bytes::Bytes;
use tokio::time::Instant;

/// The largest header block we gather from HEADERS and CONTINUATION frames.
const MAX_BLOCK: usize = 1 << 20;
/// Our HPACK table size (SETTINGS_HEADER_TABLE_SIZE, left at its initial value).
const TABLE: usize = 4096;
/// Stream ids run out here (§5.1.1): the connection takes no new stream.
const LAST_STREAM: u32 = (1 << 31) - 1;

fn violation(reason: Violation) -> Failed {
    Failed::Protocol(ProtocolError::H2(reason))
}

/// The connection's state.
pub struct Proto {
    decoder: hpack::Decoder,
    /// Our next stream id.
    next: u32,
    /// The server's SETTINGS_MAX_FRAME_SIZE, SETTINGS_INITIAL_WINDOW_SIZE and
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    max_frame: usize,
    initial_window: i64,
    max_concurrent: u32,
    /// What we may still send on the connection.
    send_window: i64,
    /// DATA bytes received since we last opened the connection window again.
    recv_used: u64,
    /// The last stream id of the server's GOAWAY.
    goaway: Option<u32>,
    /// A header block continued in CONTINUATION frames: its stream, END_STREAM, and the block.
    cont: Option<(u32, bool)>,
    block: Vec<u8>,
    /// The request's header block, built here before it is framed.
    enc: Vec<u8>,
}

impl Proto {
    pub fn new() -> Proto {
        Proto {
            decoder: hpack::Decoder::new(TABLE),
            next: 1,
            max_frame: f::MAX_FRAME,
            initial_window: 65_535,
            max_concurrent: u32::MAX,
            send_window: 65_535,
            recv_used: 0,
            goaway: None,
            cont: None,
            block: Vec::new(),
            enc: Vec::new(),
        }
    }

    /// May a new stream start?
    pub fn open(&self) -> bool {
        self.goaway.is_none() && self.next <= LAST_STREAM && self.max_concurrent > 0
    }

    /// The id of a new stream, or `None` when the connection takes no more.
    pub fn next_stream(&mut self) -> Option<u32> {
        if !self.open() {
            return None;
        }
        let id = self.next;
        self.next += 2;
        Some(id)
    }

    pub fn initial_window(&self) -> i64 {
        self.initial_window
    }

    /// Frame the request `out` as stream `id` into `wire` (HEADERS, CONTINUATION past the
    /// server's frame size); its body is returned, sent as DATA while the windows allow.
    pub fn encode(
        &mut self,
        out: &Outgoing<'_>,
        origin: &str,
        id: u32,
        wire: &mut Vec<u8>,
    ) -> Result<Bytes, Failed> {
        self.enc.clear();
        let body = match out.typed {
            Typed::Built(req, cookie) => {
                self.enc.extend_from_slice(req.block());
                if let Some(c) = cookie {
                    hpack::encode_field(&mut self.enc, b"cookie", c);
                }
                req.body().clone()
            }
            Typed::Parts(step, parts) => {
                let req = super::request::H2Request::from_parts(step, parts, origin)
                    .ok_or(Failed::Protocol(ProtocolError::Http2))?;
                self.enc.extend_from_slice(req.block());
                req.body().clone()
            }
            Typed::Invalid => return Err(Failed::Protocol(ProtocolError::Http2)),
        };
        f::headers(wire, id, &self.enc, body.is_empty(), self.max_frame);
        Ok(body)
    }

    /// How many body bytes may go in the next DATA frame.
    pub fn send_room(&self, s: &Stream<'_>) -> usize {
        let room = s
            .send_window
            .min(self.send_window)
            .min(self.max_frame as i64);
        usize::try_from(room).unwrap_or(0)
    }

    pub fn send_data(&mut self, s: &mut Stream<'_>, chunk: &[u8], end: bool, wire: &mut Vec<u8>) {
        f::data(wire, s.id, chunk, end);
        s.send_window -= chunk.len() as i64;
        self.send_window -= chunk.len() as i64;
    }

    /// Handle the whole frames at the start of `buf` (for `stream`, the one in flight, if any);
    /// frames to send back go to `wire`. Returns the bytes used: a frame cut short stays.
    pub fn frames(
        &mut self,
        buf: &[u8],
        mut stream: Option<&mut Stream<'_>>,
        wire: &mut Vec<u8>,
    ) -> Result<usize, Failed> {
        let mut at = 0;
        while let Some(h) = Head::parse(&buf[at..]) {
            if h.len > f::MAX_FRAME {
                return Err(violation("frame larger than SETTINGS_MAX_FRAME_SIZE"));
            }
            let end = at + 9 + h.len;
            if end > buf.len() {
                break;
            }
            let payload = &buf[at + 9..end];
            at = end;
            if let Some((id, _)) = self.cont
                && (h.kind != f::CONTINUATION || h.stream != id)
            {
                return Err(violation("header block not continued by CONTINUATION"));
            }
            if h.stream == 0 {
                self.connection_frame(h, payload, stream.as_deref_mut(), wire)?;
            } else {
                self.stream_frame(h, payload, stream.as_deref_mut(), wire)?;
            }
        }
        Ok(at)
    }

    fn connection_frame(
        &mut self,
        h: Head,
        payload: &[u8],
        stream: Option<&mut Stream<'_>>,
        wire: &mut Vec<u8>,
    ) -> Result<(), Failed> {
        match h.kind {
            f::SETTINGS if h.flags & f::ACK != 0 && !payload.is_empty() => {
                return Err(violation("SETTINGS acknowledgement with a payload"));
            }
            f::SETTINGS if h.flags & f::ACK != 0 => {}
            f::SETTINGS => {
                let s = f::parse_settings(payload).map_err(violation)?;
                if let Some(v) = s.max_frame {
                    self.max_frame = v as usize;
                }
                if let Some(v) = s.max_concurrent {
                    self.max_concurrent = v;
                }
                if let Some(v) = s.initial_window {
                    // §6.9.2: open streams' windows move by the difference.
                    let delta = i64::from(v) - self.initial_window;
                    self.initial_window = i64::from(v);
                    if let Some(s) = stream {
                        s.send_window += delta;
                    }
                }
                f::settings_ack(wire);
            }
            f::PING => {
                if payload.len() != 8 {
                    return Err(violation("PING payload not 8 bytes"));
                }
                if h.flags & f::ACK == 0 {
                    f::ping_ack(wire, payload);
                }
            }
            f::GOAWAY => {
                let last =
                    f::u32_at(payload, 0).ok_or(violation("GOAWAY cut short"))? & LAST_STREAM;
                self.goaway = Some(last);
                // Streams above `last` were not processed (§6.8), unless the server already
                // answered: a response head proves it did, and such a request is never re-sent.
                if let Some(s) = stream
                    && s.id > last
                    && !s.has_head()
                {
                    s.fail(Failed::Refused);
                }
            }
            f::WINDOW_UPDATE => {
                let inc = window_increment(payload)?;
                self.send_window += inc;
                if self.send_window > i64::from(LAST_STREAM) {
                    return Err(violation("connection window above 2^31-1"));
                }
            }
            f::DATA
            | f::HEADERS
            | f::CONTINUATION
            | f::RST_STREAM
            | f::PRIORITY
            | f::PUSH_PROMISE => {
                return Err(violation("stream frame on stream 0"));
            }
            _ => {}
        }
        Ok(())
    }

    fn stream_frame(
        &mut self,
        h: Head,
        payload: &[u8],
        stream: Option<&mut Stream<'_>>,
        wire: &mut Vec<u8>,
    ) -> Result<(), Failed> {
        if h.stream.is_multiple_of(2) || h.stream >= self.next {
            // Streams we never opened: the server may not start streams (push is off).
            if !matches!(h.kind, f::PRIORITY) && f::is_known(h.kind) {
                return Err(violation("frame on a stream the client did not open"));
            }
            return Ok(());
        }
        // Frames of an earlier stream (ended) only keep the connection's state in step.
        let ours = stream.filter(|s| s.id == h.stream && !s.ended());
        match h.kind {
            f::HEADERS => {
                let frag = f::header_fragment(h.flags, payload).map_err(violation)?;
                let end_stream = h.flags & f::END_STREAM != 0;
                if h.flags & f::END_HEADERS != 0 {
                    self.header_block(frag, end_stream, ours)?;
                } else {
                    self.block.clear();
                    self.block.extend_from_slice(frag);
                    self.cont = Some((h.stream, end_stream));
                }
            }
            f::CONTINUATION => {
                let Some((_, end_stream)) = self.cont else {
                    return Err(violation("CONTINUATION without HEADERS"));
                };
                if self.block.len() + payload.len() > MAX_BLOCK {
                    return Err(violation("header block larger than 1 MiB"));
                }
                self.block.extend_from_slice(payload);
                if h.flags & f::END_HEADERS != 0 {
                    self.cont = None;
                    let block = std::mem::take(&mut self.block);
                    let r = self.header_block(&block, end_stream, ours);
                    self.block = block;
                    r?;
                }
            }
            f::DATA => self.data(h, payload, ours, wire)?,
            f::RST_STREAM => {
                let code = f::u32_at(payload, 0).filter(|_| payload.len() == 4);
                let code = code.ok_or(violation("RST_STREAM payload not 4 bytes"))?;
                if let Some(s) = ours {
                    s.reset(code);
                }
            }
            f::WINDOW_UPDATE => {
                let inc = window_increment(payload)?;
                if let Some(s) = ours {
                    s.send_window += inc;
                }
            }
            f::PUSH_PROMISE => return Err(violation("PUSH_PROMISE with push disabled")),
            _ => {}
        }
        Ok(())
    }

    /// A whole header block: decoded for the stream in flight; for an ended stream only to
    /// keep the decoder's table in step.
    fn header_block(
        &mut self,
        block: &[u8],
        end_stream: bool,
        stream: Option<&mut Stream<'_>>,
    ) -> Result<(), Failed> {
        let Some(s) = stream else {
            return self
                .decoder
                .decode(block, |_: hpack::Field<'_>| Ok::<(), ProtocolError>(()))
                .map_err(|_| violation("HPACK decoding failed"));
        };
        s.start_block();
        match self
            .decoder
            .decode(block, |field: hpack::Field<'_>| s.field(field))
        {
            Ok(()) => {}
            Err(hpack::DecodeError::Field(e)) => return Err(Failed::Protocol(e)),
            Err(hpack::DecodeError::Hpack(_)) => return Err(violation("HPACK decoding failed")),
        }
        s.end_block(end_stream);
        Ok(())
    }

    fn data(
        &mut self,
        h: Head,
        payload: &[u8],
        stream: Option<&mut Stream<'_>>,
        wire: &mut Vec<u8>,
    ) -> Result<(), Failed> {
        // Flow control counts the whole payload, padding too (§6.9.1).
        self.recv_used += h.len as u64;
        if self.recv_used >= u64::from(f::WINDOW / 2) {
            f::window_update(wire, 0, self.recv_used as u32);
            self.recv_used = 0;
        }
        let bytes = f::unpad(h.flags, payload).map_err(violation)?;
        let Some(s) = stream else {
            return Ok(());
        };
        let end = h.flags & f::END_STREAM != 0;
        s.recv_used += h.len as u64;
        if !end && s.recv_used >= u64::from(f::WINDOW / 2) {
            f::window_update(wire, s.id, s.recv_used as u32);
            s.recv_used = 0;
        }
        s.data(bytes, end);
        Ok(())
    }
}

fn window_increment(payload: &[u8]) -> Result<i64, Failed> {
    let inc = f::u32_at(payload, 0).filter(|_| payload.len() == 4);
    let inc = inc.ok_or(violation("WINDOW_UPDATE payload not 4 bytes"))? & LAST_STREAM;
    if inc == 0 {
        return Err(violation("WINDOW_UPDATE of 0"));
    }
    Ok(i64::from(inc))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body,
    Ended,
}

/// The stream in flight and its response.
pub struct Stream<'a> {
    pub id: u32,
    out: Outgoing<'a>,
    resp: &'a mut Response,
    send_window: i64,
    recv_used: u64,
    phase: Phase,
    interim: u32,
    failure: Option<Failed>,
    first_byte: Option<Instant>,
    // The header block being read.
    status: Option<u16>,
    content_length: Option<u64>,
    fields: u32,
    /// A regular (not pseudo-) field was seen in this block.
    regular: bool,
    kept: Vec<(String, Vec<u8>)>,
    value: Vec<u8>,
    // The body.
    body_len: u64,
    bytes: Vec<u8>,
    over: bool,
}

impl<'a> Stream<'a> {
    pub fn new(id: u32, out: &Outgoing<'a>, resp: &'a mut Response, send_window: i64) -> Self {
        Stream {
            id,
            out: *out,
            resp,
            send_window,
            recv_used: 0,
            phase: Phase::Head,
            interim: 0,
            failure: None,
            first_byte: None,
            status: None,
            content_length: None,
            fields: 0,
            regular: false,
            kept: Vec::new(),
            value: Vec::new(),
            body_len: 0,
            bytes: Vec::new(),
            over: false,
        }
    }

    pub fn ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    pub fn first_byte(&self) -> Option<Instant> {
        self.first_byte
    }

    /// Has the stream failed (not yet taken by `failure`)?
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Why the stream failed, once it did.
    pub fn failure(&mut self) -> Option<Failed> {
        self.failure.take()
    }

    fn fail(&mut self, f: Failed) {
        if self.failure.is_none() && !self.ended() {
            self.failure = Some(f);
        }
    }

    pub fn has_head(&self) -> bool {
        self.phase != Phase::Head
    }

    /// I/O failed with `e` (before the head): after the head, the body was cut short.
    pub fn broken(&self, e: Failed) -> Failed {
        if self.has_head() {
            Failed::Truncated
        } else {
            e
        }
    }

    /// The connection closed.
    pub fn closed(&mut self) -> Result<(), Failed> {
        if let Some(f) = self.failure.take() {
            return Err(f);
        }
        match self.phase {
            Phase::Ended => Ok(()),
            Phase::Body => Err(Failed::Truncated),
            Phase::Head => Err(Failed::NoResponse),
        }
    }

    fn reset(&mut self, code: u32) {
        let f = match self.phase {
            Phase::Ended => return,
            Phase::Head if code == f::REFUSED_STREAM => Failed::Refused,
            Phase::Head => Failed::Reset,
            Phase::Body => Failed::Truncated,
        };
        self.fail(f);
    }

    /// A header block begins: an interim or final head starts afresh; trailers keep the
    /// head's content-length, which the body is still judged against.
    fn start_block(&mut self) {
        self.fields = 0;
        self.regular = false;
        if self.phase == Phase::Head {
            self.status = None;
            self.content_length = None;
            self.kept.clear();
        }
    }

    /// One field of a header block.
    fn field(&mut self, field: hpack::Field<'_>) -> Result<(), ProtocolError> {
        self.fields += 1;
        let limit = self.resp.max_header_lines;
        if self.fields > limit {
            return Err(ProtocolError::TooManyHeaderLines {
                lines: self.fields,
                limit,
            });
        }
        let name = field.name;
        let value = field.value;
        // §8.2.1, §8.3: lowercase names, pseudo-headers before every regular field.
        if name.iter().any(u8::is_ascii_uppercase) {
            return Err(ProtocolError::H2("uppercase header field name"));
        }
        let pseudo = name.first() == Some(&b':');
        if pseudo && (self.regular || self.phase != Phase::Head) {
            return Err(ProtocolError::H2(
                "pseudo-header after a regular field or in trailers",
            ));
        }
        self.regular |= !pseudo;
        if self.phase != Phase::Head {
            // Trailers: nothing of them is kept.
            return Ok(());
        }
        if pseudo {
            if name != b":status" || self.status.is_some() {
                return Err(ProtocolError::H2("unexpected pseudo-header in a response"));
            }
            self.status = Some(parse_status(plain(value, &mut self.value)?)?);
            return Ok(());
        }
        if name == b"content-length" {
            let n = parse_length(plain(value, &mut self.value)?);
            let n = n.ok_or(ProtocolError::BadContentLength)?;
            if self.content_length.is_some_and(|c| c != n) {
                return Err(ProtocolError::ConflictingContentLength);
            }
            self.content_length = Some(n);
        }
        let capture = self.out.capture;
        if capture.headers
            || (capture.cookies && name == b"set-cookie")
            || (capture.location && name == b"location")
        {
            let mut v = Vec::new();
            value
                .decode_into(&mut v)
                .map_err(|_| ProtocolError::H2("HPACK decoding failed"))?;
            self.kept
                .push((String::from_utf8_lossy(name).into_owned(), v));
        }
        Ok(())
    }

    /// The end of a header block: an interim response, the response's head, or its trailers.
    fn end_block(&mut self, end_stream: bool) {
        if let Err(e) = self.judge_block(end_stream) {
            self.fail(Failed::Protocol(e));
        }
    }

    fn judge_block(&mut self, end_stream: bool) -> Result<(), ProtocolError> {
        if self.phase == Phase::Body {
            if !end_stream {
                return Err(ProtocolError::H2("trailers without END_STREAM"));
            }
            return self.end();
        }
        let status = self
            .status
            .ok_or(ProtocolError::H2("response without :status"))?;
        if (100..200).contains(&status) {
            if status == 101 {
                return Err(ProtocolError::H2("101 Switching Protocols over HTTP/2"));
            }
            if end_stream {
                return Err(ProtocolError::H2("interim response ends the stream"));
            }
            self.interim += 1;
            if self.interim > MAX_INTERIM {
                return Err(ProtocolError::TooManyInterim { limit: MAX_INTERIM });
            }
            return Ok(());
        }
        self.first_byte = Some(Instant::now());
        self.resp
            .complete(status, std::mem::take(&mut self.kept), Vec::new());
        self.phase = Phase::Body;
        if end_stream {
            return self.end();
        }
        Ok(())
    }

    fn data(&mut self, bytes: &[u8], end_stream: bool) {
        if self.phase == Phase::Head {
            self.fail(Failed::Protocol(ProtocolError::H2(
                "DATA before the response's HEADERS",
            )));
            return;
        }
        self.body_len += bytes.len() as u64;
        if !self.out.head && !bytes.is_empty() {
            if let Some(scan) = self.resp.scan.as_mut() {
                scan.feed(bytes);
            }
            if let Some(stream) = self.out.stream {
                stream.feed(bytes, Instant::now());
            } else if self.out.capture.body {
                super::scan::keep_bounded(
                    &mut self.bytes,
                    &mut self.over,
                    self.out.capture.max_body,
                    bytes,
                );
            }
        }
        if end_stream && let Err(e) = self.end() {
            self.fail(Failed::Protocol(e));
        }
    }

    /// END_STREAM: the body must be as long as its content-length said (§8.1.1). Shorter, it
    /// was cut short (`body_truncated`, as over HTTP/1.1 and on a pooled connection); longer,
    /// it breaks the protocol.
    fn end(&mut self) -> Result<(), ProtocolError> {
        let bodiless = self.out.head || matches!(self.resp.status, 204 | 304);
        match self.content_length {
            Some(n) if !bodiless && self.body_len < n => {
                self.fail(Failed::Truncated);
                return Ok(());
            }
            Some(n) if !bodiless && self.body_len > n => {
                return Err(ProtocolError::H2("more DATA than content-length"));
            }
            _ => {}
        }
        self.phase = Phase::Ended;
        Ok(())
    }

    /// Hand the kept body to the response.
    pub fn finish(self) {
        self.resp.body_bytes = self.bytes;
        self.resp.body_over = self.over;
    }
}

/// A value's bytes: as they came, or Huffman-decoded into `buf`.
fn plain<'v>(value: hpack::Value<'v>, buf: &'v mut Vec<u8>) -> Result<&'v [u8], ProtocolError> {
    if let hpack::Value::Plain(b) = value {
        return Ok(b);
    }
    buf.clear();
    value
        .decode_into(buf)
        .map_err(|_| ProtocolError::H2("HPACK decoding failed"))?;
    Ok(buf)
}

fn parse_status(v: &[u8]) -> Result<u16, ProtocolError> {
    match v {
        [a @ b'1'..=b'9', b, c] if b.is_ascii_digit() && c.is_ascii_digit() => {
            Ok(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => Err(ProtocolError::H2("invalid :status")),
    }
}

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}
