//! A step's request as typed parts (`plan::Step`: method, path, headers, body, and the templates
//! of a dynamic step), turned into what goes on the wire only at the edge: HTTP/1.1 bytes encoded
//! once per step (`encode`), or per request for a templated step (`render`), and an HTTP/2
//! request built once per step and cloned per request (`H2Request`: no re-parsing, no URI
//! formatting per request). One header writer (`header`) serves every HTTP/1.1 form.

use crate::plan::Step;
use crate::plan::template::RenderEnv;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};

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

/// A static step's HTTP/2 request: method, absolute URI, headers without the HTTP/1.1
/// connection-specific ones, and the body.
#[derive(Debug, Clone)]
pub struct H2Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl H2Request {
    /// The request of `step` to `origin` (`scheme://authority`); `None` for a step rendered per
    /// request (templates) or a path that is no valid URI (such a request is read back from its
    /// HTTP/1.1 encoding, and fails there as it did before).
    pub fn from_step(step: &Step, origin: &str) -> Option<Self> {
        if step.dynamic.is_some() {
            return None;
        }
        let uri: Uri = format!("{origin}{}", step.path).parse().ok()?;
        let mut headers = HeaderMap::with_capacity(step.headers.len() + 1);
        for (name, value) in &step.headers {
            if name == http::header::CONTENT_LENGTH || connection_specific(name.as_str()) {
                continue;
            }
            headers.append(name.clone(), value.clone());
        }
        let has_body = !step.body.is_empty()
            || matches!(step.method, Method::POST | Method::PUT | Method::PATCH);
        if has_body {
            headers.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(step.body.len()),
            );
        }
        Some(H2Request {
            method: step.method.clone(),
            uri,
            headers,
            body: step.body.clone(),
        })
    }

    /// A fresh `http::Request` (it is not `Clone`) and the body to send after it.
    pub fn request(&self) -> (http::Request<()>, Bytes) {
        let mut r = http::Request::new(());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.version_mut() = http::Version::HTTP_2;
        *r.headers_mut() = self.headers.clone();
        (r, self.body.clone())
    }
}

/// One request to send.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    /// The whole request as it goes on the wire.
    pub wire: &'a [u8],
    /// The same request built once for HTTP/2 (a static step's), used instead of reading
    /// `wire` back on an HTTP/2 connection.
    pub h2: Option<&'a H2Request>,
    pub head: bool,
    pub expect_status: Option<&'a [u16]>,
    /// What of the response to keep.
    pub capture: super::http1::Capture,
    /// Set to the time the request's bytes start going out: a request interrupted after that
    /// is counted as `interrupted` by whoever holds the cell.
    pub written: Option<&'a std::cell::Cell<Option<tokio::time::Instant>>>,
    /// A streaming step's observer: the body is handed to it as each read arrives (and not
    /// kept), so its events are timed when they come.
    pub stream: Option<&'a dyn super::sse::Sink>,
    /// This request's time limit, when not `http.timeout` (a stream's own).
    pub timeout: Option<std::time::Duration>,
    /// Texts to look for in the body while it streams (`body_contains`, body not kept).
    pub scan: Option<&'a [Vec<u8>]>,
}

/// Headers that belong to an HTTP/1.1 connection and are not allowed in HTTP/2.
pub fn connection_specific(name: &str) -> bool {
    [
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}
