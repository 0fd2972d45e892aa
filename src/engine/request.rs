//! A step's request as typed parts (`plan::Step`: method, path, headers, body; and `Parts`, what
//! is made per request: a templated step's rendered target, headers and body, the VU's cookie
//! header, a redirect hop's new target and method), turned into what goes on the wire only at the
//! edge, by one writer per protocol: HTTP/1.1 bytes (`write`: encoded once per static step by
//! `encode`, per request for a templated step or a redirect hop), and HTTP/2 requests
//! (`H2Request::from_parts`: built once per static step and cloned per request, or per request
//! from `Parts`). Nothing is read back from its HTTP/1.1 encoding: httparse only parses responses.

use crate::plan::Step;
use crate::plan::template::RenderEnv;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::io::Write as _;

/// A request encoded once: the bytes, and where the blank line ending the head starts (so a
/// cookie header can be slipped in without encoding again).
#[derive(Debug, Clone)]
pub struct Encoded {
    pub wire: Bytes,
    pub head_end: usize,
}

/// What of a step's request is made for one request (the rest is the step's: its fixed headers).
/// A VU keeps one and reuses its buffers from request to request.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub method: Method,
    /// The request-target: path and query.
    pub target: Vec<u8>,
    /// Headers rendered for this request (a templated step's); the step's fixed headers are
    /// not copied here.
    pub headers: Vec<(HeaderName, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The `cookie` header value, from the VU's jar.
    pub cookie: Option<Vec<u8>>,
    /// A redirect switched the request to GET: the body's headers (`content-type`,
    /// `transfer-encoding`, `content-length`) are left out too.
    pub bodiless: bool,
}

impl Parts {
    /// A static step's request as parts (its body copied: for the once-per-step encoding and
    /// for redirect hops, never per request).
    pub fn of_step(step: &Step) -> Parts {
        Parts {
            method: step.method.clone(),
            target: step.path.as_bytes().to_vec(),
            headers: Vec::new(),
            body: step.body.to_vec(),
            cookie: None,
            bodiless: false,
        }
    }

    /// Render a templated step for this request into `self` (its buffers reused). A step
    /// without templates leaves the parts empty.
    pub fn render(&mut self, step: &Step, env: &dyn RenderEnv) {
        self.method = step.method.clone();
        self.target.clear();
        self.headers.clear();
        self.body.clear();
        self.cookie = None;
        self.bodiless = false;
        let Some(d) = &step.dynamic else {
            return;
        };
        d.path.render(env, &mut self.target);
        d.body.render(env, &mut self.body);
        for (name, t) in &d.headers {
            let mut v = Vec::new();
            t.render(env, &mut v);
            self.headers.push((name.clone(), v));
        }
    }

    /// A body goes with the request (and its `content-length`, `0` for an empty POST).
    fn has_body(&self) -> bool {
        !self.body.is_empty() || matches!(self.method, Method::POST | Method::PUT | Method::PATCH)
    }

    /// Is the header `name` sent (not a body header of a request switched to GET)?
    fn keeps(&self, name: &HeaderName) -> bool {
        !(self.bodiless
            && (name == CONTENT_TYPE || name == TRANSFER_ENCODING || name == CONTENT_LENGTH))
    }
}

/// Encode a step's request (request line, headers, Host, Content-Length, body) once.
pub fn encode(step: &Step, host: &str) -> Encoded {
    let parts = Parts::of_step(step);
    let mut b = Vec::with_capacity(64 + step.path.len() + step.body.len());
    let head_end = write(step, &parts, host, &mut b);
    Encoded {
        wire: Bytes::from(b),
        head_end,
    }
}

/// The one HTTP/1.1 writer: `step`'s request made of `parts`, appended to `b` (the request line,
/// Host, the step's fixed headers, the rendered ones, Content-Length, the cookie header, the
/// blank line, the body). Returns where the blank line starts.
pub fn write(step: &Step, parts: &Parts, host: &str, b: &mut Vec<u8>) -> usize {
    b.extend_from_slice(parts.method.as_str().as_bytes());
    b.push(b' ');
    b.extend_from_slice(&parts.target);
    b.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    b.extend_from_slice(host_of(step, parts).unwrap_or(host.as_bytes()));
    b.extend_from_slice(b"\r\n");
    for (name, value) in &step.headers {
        if name == HOST || name == CONTENT_LENGTH || !parts.keeps(name) {
            continue;
        }
        header(b, name.as_str().as_bytes(), value.as_bytes());
    }
    for (name, value) in &parts.headers {
        if name != HOST && parts.keeps(name) {
            header(b, name.as_str().as_bytes(), value);
        }
    }
    if parts.has_body() {
        // Formatted in place: no allocation per request.
        let _ = write!(b, "content-length: {}\r\n", parts.body.len());
    }
    if let Some(c) = &parts.cookie {
        header(b, b"cookie", c);
    }
    let head_end = b.len();
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(&parts.body);
    head_end
}

/// A `host` header the scenario sets (rendered, or fixed on the step or in `http.headers`): sent
/// instead of the target's authority, as the Host header over HTTP/1.1 and as `:authority` over
/// HTTP/2, as curl, wrk, oha and k6 do (the connection, SNI and the certificate check keep the
/// target's name).
fn host_of<'a>(step: &'a Step, parts: &'a Parts) -> Option<&'a [u8]> {
    parts
        .headers
        .iter()
        .rev()
        .find(|(n, _)| n == HOST)
        .map(|(_, v)| v.as_slice())
        .or_else(|| step.headers.get(HOST).map(HeaderValue::as_bytes))
}

fn header(b: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    b.extend_from_slice(name);
    b.extend_from_slice(b": ");
    b.extend_from_slice(value);
    b.extend_from_slice(b"\r\n");
}

/// A static request with a cookie header added (where `write` puts it: last in the head).
pub fn with_cookie(e: &Encoded, cookie: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&e.wire[..e.head_end]);
    header(out, b"cookie", cookie);
    out.extend_from_slice(&e.wire[e.head_end..]);
}

/// A step's HTTP/2 request: method, absolute URI, headers without the HTTP/1.1
/// connection-specific ones, and the body.
#[derive(Debug, Clone)]
pub struct H2Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The same request as an HPACK header block (pseudo-headers first; static-table indices
    /// and literals, no dynamic table), for a VU's own connection (`h2vu`).
    block: Vec<u8>,
}

impl H2Request {
    /// The request of a static `step` to `origin` (`scheme://authority`), built once; `None`
    /// for a step rendered per request (templates) or a path that is no valid URI.
    pub fn from_step(step: &Step, origin: &str) -> Option<Self> {
        if step.dynamic.is_some() {
            return None;
        }
        Self::from_parts(step, &Parts::of_step(step), origin)
    }

    /// The one HTTP/2 builder: `step`'s request made of `parts` (as `write` for HTTP/1.1);
    /// `None` when the target makes no valid URI or a rendered value no valid header value.
    pub fn from_parts(step: &Step, parts: &Parts, origin: &str) -> Option<Self> {
        let target = std::str::from_utf8(&parts.target).ok()?;
        let mut uri = String::with_capacity(origin.len() + target.len());
        match host_of(step, parts) {
            Some(host) => {
                let scheme = origin.split_once("://").map_or("http", |(s, _)| s);
                uri.push_str(scheme);
                uri.push_str("://");
                uri.push_str(std::str::from_utf8(host).ok()?);
            }
            None => uri.push_str(origin),
        }
        uri.push_str(target);
        let uri: Uri = uri.parse().ok()?;
        let mut headers = HeaderMap::with_capacity(step.headers.len() + parts.headers.len() + 2);
        for (name, value) in &step.headers {
            if name == CONTENT_LENGTH || connection_specific(name.as_str()) || !parts.keeps(name) {
                continue;
            }
            headers.append(name.clone(), value.clone());
        }
        for (name, value) in &parts.headers {
            if connection_specific(name.as_str()) || !parts.keeps(name) {
                continue;
            }
            headers.append(name.clone(), HeaderValue::from_bytes(value).ok()?);
        }
        if parts.has_body() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(parts.body.len()));
        }
        if let Some(c) = &parts.cookie {
            headers.append(COOKIE, HeaderValue::from_bytes(c).ok()?);
        }
        let block = hpack_block(&parts.method, &uri, &headers);
        Some(H2Request {
            method: parts.method.clone(),
            uri,
            headers,
            body: Bytes::copy_from_slice(&parts.body),
            block,
        })
    }

    /// The request's HPACK header block (without the cookie of `Typed::Built`).
    pub fn block(&self) -> &[u8] {
        &self.block
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// A fresh `http::Request` (it is not `Clone`) and the body to send after it, with a
    /// `cookie` header added when given (`None` if it is no valid header value).
    pub fn request(&self, cookie: Option<&[u8]>) -> Option<(http::Request<()>, Bytes)> {
        let mut r = http::Request::new(());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.version_mut() = http::Version::HTTP_2;
        *r.headers_mut() = self.headers.clone();
        if let Some(c) = cookie {
            r.headers_mut()
                .append(COOKIE, HeaderValue::from_bytes(c).ok()?);
        }
        Some((r, self.body.clone()))
    }

    /// This request as an `http::Request`, consumed (a request built for one send).
    fn into_request(self) -> (http::Request<()>, Bytes) {
        let mut r = http::Request::new(());
        *r.method_mut() = self.method;
        *r.uri_mut() = self.uri;
        *r.version_mut() = http::Version::HTTP_2;
        *r.headers_mut() = self.headers;
        (r, self.body)
    }
}

/// A request's header block: `:method`, `:scheme`, `:authority`, `:path`, then the headers.
fn hpack_block(method: &Method, uri: &Uri, headers: &HeaderMap) -> Vec<u8> {
    use super::hpack::encode_field;
    let mut b = Vec::with_capacity(64);
    encode_field(&mut b, b":method", method.as_str().as_bytes());
    encode_field(
        &mut b,
        b":scheme",
        uri.scheme_str().unwrap_or("http").as_bytes(),
    );
    if let Some(a) = uri.authority() {
        encode_field(&mut b, b":authority", a.as_str().as_bytes());
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    encode_field(&mut b, b":path", path.as_bytes());
    for (name, value) in headers {
        encode_field(&mut b, name.as_str().as_bytes(), value.as_bytes());
    }
    b
}

/// A request's typed form, from which HTTP/2 builds it (HTTP/1.1 sends `Outgoing::wire`).
#[derive(Clone, Copy)]
pub enum Typed<'a> {
    /// A static step's request built once, and the VU's cookie header to add.
    Built(&'a H2Request, Option<&'a [u8]>),
    /// A request made for this VU (templates, a redirect hop): the step and its parts.
    Parts(&'a Step, &'a Parts),
    /// A static step whose path makes no valid URI: it cannot be sent over HTTP/2.
    Invalid,
}

impl Typed<'_> {
    /// The HTTP/2 request to `origin`; `None` when it cannot be expressed.
    pub fn h2(&self, origin: &str) -> Option<(http::Request<()>, Bytes)> {
        match self {
            Typed::Built(r, cookie) => r.request(*cookie),
            Typed::Parts(step, parts) => {
                H2Request::from_parts(step, parts, origin).map(H2Request::into_request)
            }
            Typed::Invalid => None,
        }
    }
}

/// One request to send.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    /// The whole request as it goes on the wire.
    pub wire: &'a [u8],
    /// The same request in typed form, for an HTTP/2 connection.
    pub typed: Typed<'a>,
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

/// A static step for tests (of this module and of the HTTP/2 connection's).
#[cfg(test)]
pub(super) fn test_step(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Step {
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Step {
        metric: 0,
        method,
        path: path.into(),
        source: String::new(),
        headers: map,
        body: Bytes::copy_from_slice(body.as_bytes()),
        expect_status: None,
        think: crate::plan::Think::None,
        dynamic: None,
        extract: Vec::new(),
        checks: Vec::new(),
        status_check: None,
        stream: None,
        ws: None,
    }
}

#[cfg(test)]
mod tests {
    use super::test_step as step;
    use super::*;

    fn wire(step: &Step, parts: &Parts) -> String {
        let mut b = Vec::new();
        write(step, parts, "h", &mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn one_writer_for_static_rendered_and_redirected_requests() {
        let s = step(
            Method::POST,
            "/login",
            &[("content-type", "application/json"), ("host", "api.test")],
            "{}",
        );
        let e = encode(&s, "h");
        assert_eq!(
            String::from_utf8_lossy(&e.wire),
            "POST /login HTTP/1.1\r\nhost: api.test\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        let mut out = Vec::new();
        with_cookie(&e, b"a=1", &mut out);
        let mut parts = Parts::of_step(&s);
        parts.cookie = Some(b"a=1".to_vec());
        assert_eq!(String::from_utf8(out).unwrap(), wire(&s, &parts));
        // Rendered headers follow the fixed ones; a redirect to GET drops the body's headers.
        parts
            .headers
            .push((HeaderName::from_static("x-id"), b"7".to_vec()));
        parts.headers.push((CONTENT_TYPE, b"text/plain".to_vec()));
        assert_eq!(
            wire(&s, &parts),
            "POST /login HTTP/1.1\r\nhost: api.test\r\ncontent-type: application/json\r\nx-id: 7\r\ncontent-type: text/plain\r\ncontent-length: 2\r\ncookie: a=1\r\n\r\n{}"
        );
        crate::engine::redirect::Hop {
            path: b"/me".to_vec(),
            to_get: true,
        }
        .apply(&mut parts);
        parts.cookie = Some(b"a=2".to_vec());
        assert_eq!(
            wire(&s, &parts),
            "GET /me HTTP/1.1\r\nhost: api.test\r\nx-id: 7\r\ncookie: a=2\r\n\r\n"
        );
        // An empty POST still says its length.
        let empty = step(Method::POST, "/p", &[], "");
        assert!(wire(&empty, &Parts::of_step(&empty)).contains("content-length: 0\r\n"));
    }

    #[test]
    fn http2_requests_are_built_from_the_same_parts() {
        let s = step(
            Method::POST,
            "/echo?x=1",
            &[
                ("connection", "keep-alive"),
                ("content-type", "application/json"),
            ],
            "{}",
        );
        let origin = "https://127.0.0.1:8443";
        let built = H2Request::from_step(&s, origin).unwrap();
        let (r, body) = built.request(Some(b"a=1")).unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri().to_string(), "https://127.0.0.1:8443/echo?x=1");
        assert_eq!(r.version(), http::Version::HTTP_2);
        assert!(r.headers().get("host").is_none());
        assert!(r.headers().get("connection").is_none());
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["content-length"], "2");
        assert_eq!(r.headers()["cookie"], "a=1");
        assert_eq!(&body[..], b"{}");

        let mut parts = Parts::of_step(&s);
        parts.target = b"/users/42?q=a%20b".to_vec();
        parts
            .headers
            .push((HeaderName::from_static("x-id"), b"42".to_vec()));
        parts.method = Method::GET;
        parts.body.clear();
        parts.bodiless = true;
        let (r, body) = Typed::Parts(&s, &parts).h2(origin).unwrap();
        assert_eq!(r.method(), Method::GET);
        assert_eq!(
            r.uri().to_string(),
            "https://127.0.0.1:8443/users/42?q=a%20b"
        );
        assert_eq!(r.headers()["x-id"], "42");
        assert!(r.headers().get("content-type").is_none());
        assert!(r.headers().get("content-length").is_none());
        assert!(body.is_empty());
        // A rendered value that is no header value, or a target that is no URI: not sent.
        parts
            .headers
            .push((HeaderName::from_static("x-bad"), b"a\nb".to_vec()));
        assert!(Typed::Parts(&s, &parts).h2(origin).is_none());
        parts.headers.pop();
        parts.target = b"/a b".to_vec();
        assert!(Typed::Parts(&s, &parts).h2(origin).is_none());
        assert!(Typed::Invalid.h2(origin).is_none());
    }

    #[test]
    fn a_host_header_of_the_scenario_is_the_host_and_the_authority() {
        let origin = "https://127.0.0.1:8443";
        let plain = step(Method::GET, "/a", &[], "");
        assert!(
            wire(&plain, &Parts::of_step(&plain)).starts_with("GET /a HTTP/1.1\r\nhost: h\r\n")
        );
        let named = step(Method::GET, "/a?b=1", &[("host", "api.test:8443")], "");
        let w = wire(&named, &Parts::of_step(&named));
        assert!(
            w.starts_with("GET /a?b=1 HTTP/1.1\r\nhost: api.test:8443\r\n"),
            "{w}"
        );
        assert_eq!(w.matches("host:").count(), 1, "{w}");
        // A rendered host wins over a fixed one, and is sent once.
        let mut parts = Parts::of_step(&named);
        parts.headers.push((HOST, b"v2.test".to_vec()));
        let w = wire(&named, &parts);
        assert!(
            w.contains("host: v2.test\r\n") && w.matches("host:").count() == 1,
            "{w}"
        );
        // HTTP/2: the :authority, on both builders, and no host field.
        let r = H2Request::from_step(&named, origin).unwrap();
        let (req, _) = r.request(None).unwrap();
        assert_eq!(req.uri().to_string(), "https://api.test:8443/a?b=1");
        assert!(req.headers().get("host").is_none());
        let mut fields = Vec::new();
        let decoded = crate::engine::hpack::Decoder::new(4096).decode(r.block(), |f| {
            let mut v = Vec::new();
            f.value.decode_into(&mut v)?;
            fields.push((f.name.to_vec(), v));
            Ok::<(), crate::engine::hpack::HpackError>(())
        });
        assert!(decoded.is_ok());
        assert!(
            fields.contains(&(b":authority".to_vec(), b"api.test:8443".to_vec())),
            "{fields:?}"
        );
        let (req, _) = H2Request::from_parts(&named, &parts, origin)
            .unwrap()
            .into_request();
        assert_eq!(req.uri().authority().unwrap().as_str(), "v2.test");
        let (req, _) = H2Request::from_step(&plain, origin)
            .unwrap()
            .request(None)
            .unwrap();
        assert_eq!(req.uri().authority().unwrap().as_str(), "127.0.0.1:8443");
    }
}
