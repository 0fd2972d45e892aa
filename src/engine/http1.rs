//! HTTP/1.1 on the wire, for the load path: requests encoded once, responses parsed
//! incrementally (headers with `httparse`, bodies counted and discarded), so a request costs one
//! write and usually one read, and a VU keeps no buffer of its own between requests.

use crate::plan::Step;
use crate::plan::template::RenderEnv;
use bytes::Bytes;
use http::Method;

/// A request encoded once: the bytes, and where the blank line ending the head starts (so a
/// cookie header can be slipped in without encoding again).
#[derive(Debug, Clone)]
pub struct Encoded {
    pub wire: Bytes,
    pub head_end: usize,
}

/// Encode a step's request (request line, headers, Host, Content-Length, body) once.
pub fn encode(step: &Step, host: &str) -> Encoded {
    let mut b = Vec::with_capacity(64 + step.path.len() + step.body.len());
    head(step, host, step.path.as_bytes(), &mut b);
    finish(step, &step.body, None, &mut b)
}

/// The request line, Host and the step's fixed headers.
fn head(step: &Step, host: &str, path: &[u8], b: &mut Vec<u8>) {
    b.extend_from_slice(step.method.as_str().as_bytes());
    b.push(b' ');
    b.extend_from_slice(path);
    b.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    b.extend_from_slice(host.as_bytes());
    b.extend_from_slice(b"\r\n");
    for (name, value) in &step.headers {
        if name == http::header::HOST || name == http::header::CONTENT_LENGTH {
            continue;
        }
        header(b, name.as_str().as_bytes(), value.as_bytes());
    }
}

fn header(b: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    b.extend_from_slice(name);
    b.extend_from_slice(b": ");
    b.extend_from_slice(value);
    b.extend_from_slice(b"\r\n");
}

/// Content-Length, an optional cookie header, the blank line and the body.
fn finish(step: &Step, body: &[u8], cookie: Option<&[u8]>, b: &mut Vec<u8>) -> Encoded {
    let has_body =
        !body.is_empty() || matches!(step.method, Method::POST | Method::PUT | Method::PATCH);
    if has_body {
        header(b, b"content-length", body.len().to_string().as_bytes());
    }
    if let Some(c) = cookie {
        header(b, b"cookie", c);
    }
    let head_end = b.len();
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(body);
    Encoded {
        wire: Bytes::from(std::mem::take(b)),
        head_end,
    }
}

/// Render a step whose request changes per request into `out` (reused between requests;
/// `body` is scratch space for the body).
pub fn render(
    step: &Step,
    host: &str,
    env: &dyn RenderEnv,
    cookie: Option<&[u8]>,
    out: &mut Vec<u8>,
    body: &mut Vec<u8>,
) {
    out.clear();
    body.clear();
    let Some(d) = &step.dynamic else {
        return;
    };
    d.body.render(env, body);
    let mut path = Vec::new();
    d.path.render(env, &mut path);
    head(step, host, &path, out);
    for (name, t) in &d.headers {
        let mut v = Vec::new();
        t.render(env, &mut v);
        header(out, name.as_str().as_bytes(), &v);
    }
    let has_body =
        !body.is_empty() || matches!(step.method, Method::POST | Method::PUT | Method::PATCH);
    if has_body {
        header(out, b"content-length", body.len().to_string().as_bytes());
    }
    if let Some(c) = cookie {
        header(out, b"cookie", c);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// A static request with a cookie header added.
pub fn with_cookie(e: &Encoded, cookie: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&e.wire[..e.head_end]);
    header(out, b"cookie", cookie);
    out.extend_from_slice(&e.wire[e.head_end..]);
}

/// Why a response could not be read as HTTP/1.1 (RFC 9112): shown as
/// `protocol (<reason>)` in the summary, the dashboard and `summary.json`'s `protocol_errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The status line or a header line is not valid HTTP/1.x (httparse's reason).
    MalformedHead(&'static str),
    /// More header lines than `http.max_header_lines`.
    TooManyHeaderLines { lines: u32, limit: u32 },
    /// A head (status line and headers) larger than the limit, in bytes.
    HeadTooLarge { limit: u32 },
    /// More interim (1xx) responses before the final one than the cap.
    TooManyInterim { limit: u32 },
    /// A Content-Length that is not a plain decimal number (`+5`, `0x10`, `5 5`).
    BadContentLength,
    /// Several Content-Length values that differ.
    ConflictingContentLength,
    /// A chunk-size line that is not `HEXDIG... [;ext] CRLF` (`1 0`, `-1`, empty).
    BadChunkSize,
    /// A chunk size beyond 2^64.
    ChunkTooLarge,
    /// Chunk data not followed by CRLF.
    BadChunkEnd,
    /// A trailer line with a bare CR or LF.
    BadTrailer,
    /// The connection closed after some bytes of the head, before its end.
    ClosedInHead,
    /// Bytes after a complete response that no request asked for.
    UnsolicitedBytes,
    /// An HTTP/2 stream the server refused or broke.
    Http2,
    /// A protocol failure recorded without a reason (never expected).
    Unknown,
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::MalformedHead(why) => write!(f, "malformed response head: {why}"),
            ProtocolError::TooManyHeaderLines { lines, limit } => {
                write!(f, "too many header lines: {lines} > {limit}")
            }
            ProtocolError::HeadTooLarge { limit } => {
                write!(f, "response head larger than {limit} bytes")
            }
            ProtocolError::TooManyInterim { limit } => {
                write!(f, "more than {limit} interim (1xx) responses")
            }
            ProtocolError::BadContentLength => f.write_str("invalid content-length"),
            ProtocolError::ConflictingContentLength => f.write_str("conflicting content-length"),
            ProtocolError::BadChunkSize => f.write_str("invalid chunk size line"),
            ProtocolError::ChunkTooLarge => f.write_str("chunk size overflows"),
            ProtocolError::BadChunkEnd => f.write_str("chunk data not followed by CRLF"),
            ProtocolError::BadTrailer => f.write_str("invalid trailer line"),
            ProtocolError::ClosedInHead => {
                f.write_str("connection closed inside the response head")
            }
            ProtocolError::UnsolicitedBytes => f.write_str("bytes after the response"),
            ProtocolError::Http2 => f.write_str("HTTP/2 stream error"),
            ProtocolError::Unknown => f.write_str("unknown"),
        }
    }
}

/// Header lines allowed in a response head by default (`http.max_header_lines`).
pub const DEFAULT_MAX_HEADER_LINES: u32 = 256;
/// Bytes allowed in a response head (status line and headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Interim (1xx) responses allowed before the final one.
pub const MAX_INTERIM: u32 = 10_000;
/// Header slots parsed on the stack; a larger `http.max_header_lines` uses the heap.
const STACK_HEADERS: usize = 256;

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// This many bytes still to come.
    Length(u64),
    Chunked(Chunk),
    /// Until the peer closes the connection.
    UntilClose,
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the size line: the size so far, whether any digit came, whether whitespace came
    /// after the digits (then only `;` or CR may follow), whether an extension started.
    Size {
        size: u64,
        digits: bool,
        ws: bool,
        ext: bool,
    },
    /// Expecting the LF that ends the size line.
    SizeLf {
        size: u64,
    },
    /// Chunk data still to come.
    Data(u64),
    /// The CR LF after chunk data.
    DataCr,
    DataLf,
    /// After the last (zero) chunk: trailer lines until an empty one. `start` is true at the
    /// start of a line.
    Trailer {
        start: bool,
        cr: bool,
    },
}

const CHUNK_START: Chunk = Chunk::Size {
    size: 0,
    digits: false,
    ws: false,
    ext: false,
};

/// What of a response to keep (by default nothing: the load path only counts bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capture {
    /// Every header (for extraction and checks).
    pub headers: bool,
    /// `Set-Cookie` headers only (for the cookie jar).
    pub cookies: bool,
    /// The body, de-chunked.
    pub body: bool,
    /// The `Location` header (to follow redirects).
    pub location: bool,
    /// The most body bytes kept (`http.max_body`; 0: no limit). Past it the rest is counted,
    /// not kept, and `Response::body_over` is set.
    pub max_body: usize,
}

/// The response so far.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The peer wants the connection closed after this response (or its framing says so).
    pub close: bool,
    body: Option<Body>,
    /// Header bytes of a head split across reads.
    partial: Vec<u8>,
    /// Interim responses seen so far.
    interim: u32,
    /// Header lines allowed.
    pub max_header_lines: u32,
    pub capture: Capture,
    /// Kept headers: lower-case name, value.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Kept body bytes.
    pub body_bytes: Vec<u8>,
    /// The body was longer than `capture.max_body`: what is kept is only its start.
    pub body_over: bool,
    /// Texts looked for in the body as it streams by (`body_contains` without keeping it).
    pub scan: Option<super::scan::Scan>,
}

/// Body bytes as they come: scanned (`body_contains` while streaming), and kept up to
/// `capture.max_body` when the body is captured.
fn keep(
    scan: &mut Option<super::scan::Scan>,
    kept: &mut Vec<u8>,
    over: &mut bool,
    capture: Capture,
    data: &[u8],
) {
    if let Some(scan) = scan.as_mut() {
        scan.feed(data);
    }
    if capture.body {
        super::scan::keep_bounded(kept, over, capture.max_body, data);
    }
}

impl Default for Response {
    fn default() -> Self {
        Response {
            status: 0,
            close: false,
            body: None,
            partial: Vec::new(),
            interim: 0,
            max_header_lines: DEFAULT_MAX_HEADER_LINES,
            capture: Capture::default(),
            headers: Vec::new(),
            body_bytes: Vec::new(),
            body_over: false,
            scan: None,
        }
    }
}

/// What feeding bytes to a response parser gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed {
    /// Need more bytes.
    More,
    /// The response is complete; `extra` bytes after it were left unread (must be zero without
    /// pipelining).
    Done { extra: usize },
}

/// One head parsed from the front of a buffer.
enum Head {
    /// Not complete yet.
    Partial,
    /// An interim (1xx) response of this many bytes: the real one follows.
    Interim(usize),
    /// The final response's head, this many bytes.
    Final(usize),
}

/// Where the head at the front of `buf` ends (after its blank line), if it is all there.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|b| *b == b'\n') {
        let lf = i + p;
        let next = &buf[lf + 1..];
        if next.starts_with(b"\n") {
            return Some(lf + 2);
        }
        if next.starts_with(b"\r\n") {
            return Some(lf + 3);
        }
        i = lf + 1;
    }
    None
}

/// httparse's reason for a malformed head, in its own words.
fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid new line",
        httparse::Error::Status => "invalid response status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// A Content-Length value: a decimal number, or a list of the same number (RFC 9110 §8.6).
fn content_length(v: &[u8]) -> Result<u64, ProtocolError> {
    let mut out = None;
    for part in v.split(|b| *b == b',') {
        let p = part.trim_ascii();
        if p.is_empty() || !p.iter().all(u8::is_ascii_digit) {
            return Err(ProtocolError::BadContentLength);
        }
        let n = std::str::from_utf8(p)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(ProtocolError::BadContentLength)?;
        if out.is_some_and(|o| o != n) {
            return Err(ProtocolError::ConflictingContentLength);
        }
        out = Some(n);
    }
    out.ok_or(ProtocolError::BadContentLength)
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that keeps what `capture` asks for.
    pub fn capturing(capture: Capture) -> Self {
        Response {
            capture,
            ..Self::default()
        }
    }

    /// The first kept header of this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A response read by another parser (HTTP/2): its status, the headers kept and the body.
    pub fn complete(&mut self, status: u16, headers: Vec<(String, Vec<u8>)>, body: Vec<u8>) {
        self.status = status;
        self.headers = headers;
        self.body_bytes = body;
        self.body = Some(Body::Length(0));
    }

    /// True once the final status line and headers have been parsed.
    pub fn has_head(&self) -> bool {
        self.body.is_some()
    }

    /// The peer closed the connection: completes a close-delimited body, otherwise an error
    /// (`ClosedInHead` before the head's end; after it, the body was cut short).
    pub fn eof(&mut self) -> Result<(), ProtocolError> {
        match self.body {
            Some(Body::UntilClose) => {
                self.close = true;
                Ok(())
            }
            Some(_) => Err(ProtocolError::UnsolicitedBytes),
            None => Err(ProtocolError::ClosedInHead),
        }
    }

    /// Feed the next bytes read from the connection. `head_request` is true for HEAD (no body).
    pub fn feed(&mut self, data: &[u8], head_request: bool) -> Result<Feed, ProtocolError> {
        if self.body.is_some() {
            return self.body_bytes(data);
        }
        if self.partial.is_empty() {
            // The common case: the head is parsed from the bytes just read, copying nothing.
            return match self.heads(data, head_request)? {
                Some(n) => self.body_bytes(&data[n..]),
                None => Ok(Feed::More),
            };
        }
        self.partial.extend_from_slice(data);
        if !data.contains(&b'\n') {
            // No line ended: the head cannot have ended either (a slow head costs no re-parse).
            if self.partial.len() > MAX_HEAD_BYTES {
                return Err(ProtocolError::HeadTooLarge {
                    limit: MAX_HEAD_BYTES as u32,
                });
            }
            return Ok(Feed::More);
        }
        let buf = std::mem::take(&mut self.partial);
        match self.heads(&buf, head_request)? {
            Some(n) => self.body_bytes(&buf[n..]),
            None => Ok(Feed::More),
        }
    }

    /// Parse heads from the front of `buf`, skipping interim responses (in a loop, capped):
    /// where the final head ends, or `None` with the unparsed rest kept in `partial`.
    fn heads(&mut self, buf: &[u8], head_request: bool) -> Result<Option<usize>, ProtocolError> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            match self.head(rest, head_request)? {
                Head::Partial => {
                    if rest.len() > MAX_HEAD_BYTES {
                        return Err(ProtocolError::HeadTooLarge {
                            limit: MAX_HEAD_BYTES as u32,
                        });
                    }
                    self.partial = rest.to_vec();
                    return Ok(None);
                }
                Head::Interim(n) => {
                    self.interim += 1;
                    if self.interim > MAX_INTERIM {
                        return Err(ProtocolError::TooManyInterim { limit: MAX_INTERIM });
                    }
                    at += n;
                }
                Head::Final(n) => return Ok(Some(at + n)),
            }
        }
    }

    /// Parse one head at the front of `buf`; for the final one, set up the body's framing
    /// (RFC 9112 §6.3) and keep the headers asked for.
    fn head(&mut self, buf: &[u8], head_request: bool) -> Result<Head, ProtocolError> {
        let limit = self.max_header_lines.max(1) as usize;
        let mut stack =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
        let mut heap = Vec::new();
        let slots = if limit <= STACK_HEADERS {
            &mut stack[..limit]
        } else {
            heap.resize_with(limit, std::mem::MaybeUninit::uninit);
            &mut heap[..]
        };
        let mut r = httparse::Response::new(&mut []);
        let n = match httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut r, buf, slots)
        {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(Head::Partial),
            Err(httparse::Error::TooManyHeaders) => {
                // Say how many there were once the head is all there.
                return match head_end(buf) {
                    None => Ok(Head::Partial),
                    Some(end) => {
                        let lines = buf[..end].iter().filter(|b| **b == b'\n').count();
                        Err(ProtocolError::TooManyHeaderLines {
                            lines: lines.saturating_sub(2) as u32,
                            limit: limit as u32,
                        })
                    }
                };
            }
            Err(e) => return Err(ProtocolError::MalformedHead(httparse_reason(e))),
        };
        if n > MAX_HEAD_BYTES {
            return Err(ProtocolError::HeadTooLarge {
                limit: MAX_HEAD_BYTES as u32,
            });
        }
        let status = r.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            // An interim response (100 Continue, 103 Early Hints): the real one follows.
            return Ok(Head::Interim(n));
        }
        let mut close = r.version == Some(0);
        let mut length = None;
        let mut transfer_encoding = false;
        let mut chunked = false;
        let keep_all = self.capture.headers;
        let keep_cookies = self.capture.cookies;
        let keep_location = self.capture.location;
        for h in r.headers.iter() {
            if keep_all
                || (keep_cookies && h.name.eq_ignore_ascii_case("set-cookie"))
                || (keep_location && h.name.eq_ignore_ascii_case("location"))
            {
                self.headers
                    .push((h.name.to_ascii_lowercase(), h.value.to_vec()));
            }
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = content_length(h.value)?;
                if length.is_some_and(|l| l != v) {
                    return Err(ProtocolError::ConflictingContentLength);
                }
                length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // The final coding of the last field decides (several fields form one list).
                transfer_encoding = true;
                chunked = h
                    .value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|b| *b == b',') {
                    let t = token.trim_ascii();
                    if t.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        close = false;
                    }
                }
            }
        }
        self.status = status;
        // RFC 9112 §6.3, in its order.
        let body = if head_request || status == 204 || status == 304 || status == 101 {
            // After 101 the connection speaks another protocol: it is not reused.
            if status == 101 {
                close = true;
            }
            Body::Length(0)
        } else if transfer_encoding {
            // Transfer-Encoding overrides Content-Length; both at once (or TE in HTTP/1.0)
            // may be smuggling: the connection is not reused.
            if length.is_some() || r.version == Some(0) {
                close = true;
            }
            if chunked {
                Body::Chunked(CHUNK_START)
            } else {
                close = true;
                Body::UntilClose
            }
        } else if let Some(l) = length {
            Body::Length(l)
        } else {
            close = true;
            Body::UntilClose
        };
        self.close = close;
        self.body = Some(body);
        Ok(Head::Final(n))
    }

    fn body_bytes(&mut self, data: &[u8]) -> Result<Feed, ProtocolError> {
        let Some(body) = self.body.as_mut() else {
            return Ok(Feed::More);
        };
        match body {
            Body::Length(left) => {
                let take = (*left).min(data.len() as u64);
                *left -= take;
                keep(
                    &mut self.scan,
                    &mut self.body_bytes,
                    &mut self.body_over,
                    self.capture,
                    &data[..take as usize],
                );
                if *left == 0 {
                    Ok(Feed::Done {
                        extra: data.len() - take as usize,
                    })
                } else {
                    Ok(Feed::More)
                }
            }
            Body::UntilClose => {
                keep(
                    &mut self.scan,
                    &mut self.body_bytes,
                    &mut self.body_over,
                    self.capture,
                    data,
                );
                Ok(Feed::More)
            }
            Body::Chunked(state) => {
                let mut i = 0;
                while i < data.len() {
                    let b = data[i];
                    match state {
                        Chunk::Size {
                            size,
                            digits,
                            ws,
                            ext,
                        } => {
                            if b == b'\r' {
                                if !*digits {
                                    return Err(ProtocolError::BadChunkSize);
                                }
                                *state = Chunk::SizeLf { size: *size };
                            } else if *ext {
                                // chunk-ext: ignored, but a bare LF cannot be in it.
                                if b == b'\n' {
                                    return Err(ProtocolError::BadChunkSize);
                                }
                            } else if b == b';' && *digits {
                                *ext = true;
                            } else if (b == b' ' || b == b'\t') && *digits {
                                // BWS before `;` or the line's end.
                                *ws = true;
                            } else if let Some(d) = (b as char).to_digit(16)
                                && !*ws
                            {
                                *size = size
                                    .checked_mul(16)
                                    .and_then(|s| s.checked_add(d as u64))
                                    .ok_or(ProtocolError::ChunkTooLarge)?;
                                *digits = true;
                            } else {
                                return Err(ProtocolError::BadChunkSize);
                            }
                            i += 1;
                        }
                        Chunk::SizeLf { size } => {
                            if b != b'\n' {
                                return Err(ProtocolError::BadChunkSize);
                            }
                            *state = if *size == 0 {
                                Chunk::Trailer {
                                    start: true,
                                    cr: false,
                                }
                            } else {
                                Chunk::Data(*size)
                            };
                            i += 1;
                        }
                        Chunk::Data(left) => {
                            let take = (*left).min((data.len() - i) as u64);
                            *left -= take;
                            keep(
                                &mut self.scan,
                                &mut self.body_bytes,
                                &mut self.body_over,
                                self.capture,
                                &data[i..i + take as usize],
                            );
                            i += take as usize;
                            if *left == 0 {
                                *state = Chunk::DataCr;
                            }
                        }
                        Chunk::DataCr => {
                            if b != b'\r' {
                                return Err(ProtocolError::BadChunkEnd);
                            }
                            *state = Chunk::DataLf;
                            i += 1;
                        }
                        Chunk::DataLf => {
                            if b != b'\n' {
                                return Err(ProtocolError::BadChunkEnd);
                            }
                            *state = CHUNK_START;
                            i += 1;
                        }
                        Chunk::Trailer { start, cr } => {
                            i += 1;
                            if *cr && b != b'\n' || !*cr && b == b'\n' {
                                // Trailer lines end with CRLF, and nothing else has CR or LF.
                                return Err(ProtocolError::BadTrailer);
                            }
                            if b == b'\n' {
                                if *start {
                                    return Ok(Feed::Done {
                                        extra: data.len() - i,
                                    });
                                }
                                *start = true;
                                *cr = false;
                            } else if b == b'\r' {
                                *cr = true;
                            } else {
                                *start = false;
                                *cr = false;
                            }
                        }
                    }
                }
                Ok(Feed::More)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(resp: &[u8]) -> (Response, Feed) {
        let mut r = Response::new();
        let f = r.feed(resp, false).expect("valid");
        (r, f)
    }

    /// Feed `resp` split at every position, and byte by byte: the result must not change.
    fn every_split(resp: &[u8]) -> u16 {
        let (r, f) = whole(resp);
        assert_eq!(
            f,
            Feed::Done { extra: 0 },
            "{}",
            String::from_utf8_lossy(resp)
        );
        for cut in 1..resp.len() {
            let mut p = Response::new();
            assert_eq!(p.feed(&resp[..cut], false), Ok(Feed::More), "cut {cut}");
            assert_eq!(
                p.feed(&resp[cut..], false),
                Ok(Feed::Done { extra: 0 }),
                "cut {cut}"
            );
            assert_eq!(p.status, r.status);
        }
        let mut p = Response::new();
        for (i, b) in resp.iter().enumerate() {
            let f = p.feed(std::slice::from_ref(b), false).expect("valid");
            if i + 1 < resp.len() {
                assert_eq!(f, Feed::More, "byte {i}");
            } else {
                assert_eq!(f, Feed::Done { extra: 0 });
            }
        }
        r.status
    }

    #[test]
    fn content_length_bodies_in_any_split() {
        assert_eq!(
            every_split(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            200
        );
        assert_eq!(
            every_split(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
            404
        );
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        assert_eq!(
            every_split(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n"
            ),
            200
        );
        assert_eq!(
            every_split(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            200
        );
    }

    #[test]
    fn interim_responses_are_skipped() {
        let (r, f) = whole(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        );
        assert_eq!(f, Feed::Done { extra: 0 });
        assert_eq!(r.status, 201);
    }

    #[test]
    fn close_delimited_bodies_end_at_eof() {
        let mut r = Response::new();
        assert_eq!(r.feed(b"HTTP/1.0 200 OK\r\n\r\nabc", false), Ok(Feed::More));
        assert!(r.eof().is_ok());
        assert!(r.close);
        let mut r = Response::new();
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", false),
            Ok(Feed::More)
        );
        assert!(r.eof().is_err());
    }

    #[test]
    fn head_and_no_content_have_no_body() {
        let mut r = Response::new();
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true),
            Ok(Feed::Done { extra: 0 })
        );
        let (_, f) = whole(b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n");
        assert_eq!(f, Feed::Done { extra: 0 });
    }

    #[test]
    fn connection_close_and_http10_are_noticed() {
        let (r, _) = whole(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(r.close);
        let (r, _) =
            whole(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(!r.close);
        let (r, _) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!r.close);
    }

    #[test]
    fn captures_headers_cookies_and_dechunked_bodies_in_any_split() {
        let resp: &[u8] = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Id: 42\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        for cut in 1..resp.len() {
            let mut r = Response::capturing(Capture {
                headers: true,
                cookies: true,
                body: true,
                location: false,
                max_body: 0,
            });
            let _ = r.feed(&resp[..cut], false).expect("valid");
            assert_eq!(r.feed(&resp[cut..], false), Ok(Feed::Done { extra: 0 }));
            assert_eq!(r.body_bytes, b"abcde", "cut {cut}");
            assert_eq!(r.header("x-id"), Some(&b"42"[..]));
        }
        let mut r = Response::capturing(Capture {
            cookies: true,
            ..Capture::default()
        });
        let _ = r.feed(resp, false);
        assert_eq!(r.headers.len(), 1, "only Set-Cookie");
        assert!(r.body_bytes.is_empty());
    }

    #[test]
    fn garbage_and_extra_bytes_are_reported() {
        let mut r = Response::new();
        assert!(r.feed(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        let (_, f) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxyz");
        assert_eq!(f, Feed::Done { extra: 2 });
        let mut r = Response::new();
        assert!(
            r.feed(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            )
            .is_err()
        );
    }

    fn parse_err(resp: &[u8]) -> ProtocolError {
        let mut r = Response::new();
        r.feed(resp, false).expect_err("must be refused")
    }

    #[test]
    fn a_thousand_interim_responses_then_the_final_one() {
        let mut resp = Vec::new();
        for _ in 0..1000 {
            resp.extend_from_slice(
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
            );
        }
        resp.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let (r, f) = whole(&resp);
        assert_eq!((r.status, f), (200, Feed::Done { extra: 0 }));
        // Split in two reads anywhere: the same.
        for cut in [1, 37, resp.len() / 2, resp.len() - 3] {
            let mut p = Response::new();
            assert_eq!(p.feed(&resp[..cut], false), Ok(Feed::More));
            assert_eq!(p.feed(&resp[cut..], false), Ok(Feed::Done { extra: 0 }));
            assert_eq!(p.status, 200);
        }
        let mut endless = Vec::new();
        for _ in 0..=MAX_INTERIM {
            endless.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        assert_eq!(
            parse_err(&endless),
            ProtocolError::TooManyInterim { limit: MAX_INTERIM }
        );
    }

    fn with_headers(n: usize) -> Vec<u8> {
        let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..n {
            v.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
        }
        v.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        v
    }

    #[test]
    fn header_lines_up_to_the_limit_and_the_count_beyond_it() {
        assert_eq!(whole(&with_headers(69)).0.status, 200);
        assert_eq!(whole(&with_headers(255)).0.status, 200);
        let e = parse_err(&with_headers(299));
        assert_eq!(
            e,
            ProtocolError::TooManyHeaderLines {
                lines: 300,
                limit: 256
            }
        );
        assert_eq!(e.to_string(), "too many header lines: 300 > 256");
        // Over several reads: the same reason once the head is all there.
        let big = with_headers(299);
        let mut r = Response::new();
        assert_eq!(r.feed(&big[..2000], false), Ok(Feed::More));
        assert_eq!(
            r.feed(&big[2000..], false),
            Err(ProtocolError::TooManyHeaderLines {
                lines: 300,
                limit: 256
            })
        );
        let mut r = Response::new();
        r.max_header_lines = 400;
        assert!(r.feed(&big, false).is_ok());
    }

    #[test]
    fn the_head_size_limit_holds_in_one_read_and_across_reads() {
        let mut v = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        v.extend(std::iter::repeat_n(b'a', 70 * 1024));
        v.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        let limit = ProtocolError::HeadTooLarge {
            limit: MAX_HEAD_BYTES as u32,
        };
        assert_eq!(parse_err(&v), limit);
        let mut r = Response::new();
        let mut got = Ok(Feed::More);
        for c in v.chunks(1000) {
            got = r.feed(c, false);
            if got.is_err() {
                break;
            }
        }
        assert_eq!(got, Err(limit));
    }

    #[test]
    fn framing_per_rfc_9112_section_6_3() {
        // A final coding other than chunked: the body runs until the connection closes.
        let mut r = Response::new();
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n\r\nabcdef", false),
            Ok(Feed::More)
        );
        assert!(r.eof().is_ok() && r.close);
        // TE and CL: TE wins, and the connection is not reused.
        let (r, f) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
        assert_eq!(f, Feed::Done { extra: 0 });
        assert!(r.close);
        // Content-Length must be digits, and agree with itself.
        for bad in [
            "+5",
            "-5",
            "0x5",
            "5 5",
            "",
            "5,",
            "99999999999999999999999",
        ] {
            let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\nhello");
            assert_eq!(
                parse_err(resp.as_bytes()),
                ProtocolError::BadContentLength,
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            ProtocolError::ConflictingContentLength
        );
        assert_eq!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
            ProtocolError::ConflictingContentLength
        );
        let (_, f) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello");
        assert_eq!(f, Feed::Done { extra: 0 });
        // 101: no body, and the connection now speaks something else.
        let (r, f) = whole(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!((r.status, f, r.close), (101, Feed::Done { extra: 0 }, true));
    }

    #[test]
    fn chunk_sizes_are_strict_and_extensions_allowed() {
        let chunked = |size_line: &str| {
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size_line}\r\n")
        };
        for bad in ["1 0", " 1", "", "-1", "g", "1;a\nb", "11111111111111111"] {
            let mut r = Response::new();
            assert!(r.feed(chunked(bad).as_bytes(), false).is_err(), "{bad:?}");
        }
        assert_eq!(
            every_split(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 ;a=b\r\nx\r\n1\t;q=\"1 0\"\r\ny\r\n0\r\n\r\n"),
            200
        );
    }

    #[test]
    fn an_early_end_is_told_apart_from_a_cut_head() {
        let mut r = Response::new();
        let _ = r.feed(b"HTTP/1.1 200 OK\r\nContent-Le", false);
        assert_eq!(r.eof(), Err(ProtocolError::ClosedInHead));
        let mut r = Response::new();
        let _ = r.feed(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n12345",
            false,
        );
        assert!(r.has_head() && r.eof().is_err());
        assert_eq!(r.status, 200);
    }
}
