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

/// A malformed or unsupported response.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

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
    /// Reading the hex size line; the size so far, and whether an extension (`;...`) started.
    Size {
        size: u64,
        ext: bool,
        digits: bool,
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
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    /// The peer wants the connection closed after this response.
    pub close: bool,
    body: Option<Body>,
    /// Header bytes of a head split across reads.
    partial: Vec<u8>,
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

/// What feeding bytes to a response parser gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed {
    /// Need more bytes.
    More,
    /// The response is complete; `extra` bytes after it were left unread (must be zero without
    /// pipelining).
    Done { extra: usize },
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

    /// True once the status line and headers have been parsed.
    pub fn has_head(&self) -> bool {
        self.body.is_some()
    }

    /// The peer closed the connection: completes a close-delimited body, otherwise an error.
    pub fn eof(&mut self) -> Result<(), ProtocolError> {
        match self.body {
            Some(Body::UntilClose) => {
                self.close = true;
                Ok(())
            }
            _ => Err(ProtocolError("connection closed before the response ended")),
        }
    }

    /// Feed the next bytes read from the connection. `head_request` is true for HEAD (no body).
    pub fn feed(&mut self, data: &[u8], head_request: bool) -> Result<Feed, ProtocolError> {
        let mut data = data;
        while self.body.is_none() {
            // Parse from the bytes just read when no earlier part is pending, so the common case
            // copies nothing.
            let owned;
            let buf: &[u8] = if self.partial.is_empty() {
                data
            } else {
                self.partial.extend_from_slice(data);
                owned = std::mem::take(&mut self.partial);
                &owned[..]
            };
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut headers);
            let n = match r.parse(buf) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => {
                    if buf.len() > 64 * 1024 {
                        return Err(ProtocolError("response head larger than 64 KiB"));
                    }
                    self.partial = buf.to_vec();
                    return Ok(Feed::More);
                }
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(ProtocolError("more than 64 response headers"));
                }
                Err(_) => return Err(ProtocolError("malformed response head")),
            };
            let status = r.code.unwrap_or(0);
            let mut close = r.version == Some(0);
            let mut length = None;
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
                    let v = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .ok_or(ProtocolError("bad content-length"))?;
                    if length.is_some_and(|l| l != v) {
                        return Err(ProtocolError("conflicting content-length"));
                    }
                    length = Some(v);
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
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
            let rest = buf.len() - n;
            if (100..200).contains(&status) && status != 101 {
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                self.headers.clear();
                let tail = buf[n..].to_vec();
                self.partial.clear();
                if tail.is_empty() {
                    return Ok(Feed::More);
                }
                self.partial = Vec::new();
                return self.feed(&tail, head_request);
            }
            self.status = status;
            self.close = close;
            let no_body = head_request || status == 204 || status == 304 || status == 101;
            self.body = Some(if no_body {
                Body::Length(0)
            } else if chunked {
                Body::Chunked(Chunk::Size {
                    size: 0,
                    ext: false,
                    digits: false,
                })
            } else if let Some(l) = length {
                Body::Length(l)
            } else {
                self.close = true;
                Body::UntilClose
            });
            // Continue with the body bytes that came with the head.
            let start = data.len() - rest.min(data.len());
            if rest > data.len() {
                // Only possible when the head came from `partial`: copy the body bytes out.
                let tail = buf[n..].to_vec();
                return self.body_bytes(&tail);
            }
            data = &data[start..];
        }
        self.body_bytes(data)
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
                        Chunk::Size { size, ext, digits } => {
                            if b == b'\r' {
                                if !*digits {
                                    return Err(ProtocolError("bad chunk size"));
                                }
                                *state = Chunk::SizeLf { size: *size };
                            } else if *ext {
                                // Chunk extensions are ignored.
                            } else if b == b';' {
                                *ext = true;
                            } else if let Some(d) = (b as char).to_digit(16) {
                                *size = size
                                    .checked_mul(16)
                                    .and_then(|s| s.checked_add(d as u64))
                                    .ok_or(ProtocolError("chunk size overflow"))?;
                                *digits = true;
                            } else if b != b' ' && b != b'\t' {
                                return Err(ProtocolError("bad chunk size"));
                            }
                            i += 1;
                        }
                        Chunk::SizeLf { size } => {
                            if b != b'\n' {
                                return Err(ProtocolError("bad chunk size line"));
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
                                return Err(ProtocolError("chunk data not followed by CRLF"));
                            }
                            *state = Chunk::DataLf;
                            i += 1;
                        }
                        Chunk::DataLf => {
                            if b != b'\n' {
                                return Err(ProtocolError("chunk data not followed by CRLF"));
                            }
                            *state = Chunk::Size {
                                size: 0,
                                ext: false,
                                digits: false,
                            };
                            i += 1;
                        }
                        Chunk::Trailer { start, cr } => {
                            i += 1;
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
}
