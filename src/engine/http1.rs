//! HTTP/1.1 on the wire, for the load path: requests encoded once, responses parsed
//! incrementally (headers with `httparse`, bodies counted and discarded), so a request costs one
//! write and usually one read, and a VU keeps no buffer of its own between requests.

pub use crate::metrics::protocol::ProtocolError;

pub use crate::plan::DEFAULT_MAX_HEADER_LINES;
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

    /// Body bytes of the current response: counted (and kept as `capture` asks) until the
    /// framing says the body is complete.
    #[inline]
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
            Body::Chunked(_) => self.chunked(data),
        }
    }

    /// A chunked body (RFC 9112 §7.1): size lines, data, the CRLF after it, trailers.
    fn chunked(&mut self, data: &[u8]) -> Result<Feed, ProtocolError> {
        let Some(Body::Chunked(state)) = self.body.as_mut() else {
            return Ok(Feed::More);
        };
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match state {
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
                Chunk::Trailer { .. } => {
                    i += 1;
                    if state.trailer_byte(b)? {
                        return Ok(Feed::Done {
                            extra: data.len() - i,
                        });
                    }
                }
                _ => {
                    state.framing_byte(b)?;
                    i += 1;
                }
            }
        }
        Ok(Feed::More)
    }
}

impl Chunk {
    /// One byte of a size line or of the CRLF after chunk data.
    #[inline]
    fn framing_byte(&mut self, b: u8) -> Result<(), ProtocolError> {
        match self {
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
                    *self = Chunk::SizeLf { size: *size };
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
            }
            Chunk::SizeLf { size } => {
                if b != b'\n' {
                    return Err(ProtocolError::BadChunkSize);
                }
                *self = if *size == 0 {
                    Chunk::Trailer {
                        start: true,
                        cr: false,
                    }
                } else {
                    Chunk::Data(*size)
                };
            }
            Chunk::DataCr => {
                if b != b'\r' {
                    return Err(ProtocolError::BadChunkEnd);
                }
                *self = Chunk::DataLf;
            }
            Chunk::DataLf => {
                if b != b'\n' {
                    return Err(ProtocolError::BadChunkEnd);
                }
                *self = CHUNK_START;
            }
            // Data and trailers are read by their own arms of `Response::chunked`.
            Chunk::Data(_) | Chunk::Trailer { .. } => {}
        }
        Ok(())
    }

    /// One byte of the trailer section; true at the empty line that ends it (and the body).
    #[inline]
    fn trailer_byte(&mut self, b: u8) -> Result<bool, ProtocolError> {
        let Chunk::Trailer { start, cr } = self else {
            return Ok(false);
        };
        if *cr && b != b'\n' || !*cr && b == b'\n' {
            // Trailer lines end with CRLF, and nothing else has CR or LF.
            return Err(ProtocolError::BadTrailer);
        }
        if b == b'\n' {
            if *start {
                return Ok(true);
            }
            *start = true;
            *cr = false;
        } else if b == b'\r' {
            *cr = true;
        } else {
            *start = false;
            *cr = false;
        }
        Ok(false)
    }
}

#[cfg(test)]
#[path = "http1_tests.rs"]
mod tests;
