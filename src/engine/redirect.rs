//! Following redirects: where a 3xx response sends a step next, and the request to send there
//! (made from the previous request on the wire, so templated and cookie-carrying requests
//! follow the same way).

use crate::plan::Target;

/// Statuses that redirect (with a `Location`).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The next hop of a redirect on the target's origin.
#[derive(Debug, PartialEq, Eq)]
pub struct Hop {
    /// The request-target: path and query.
    pub path: Vec<u8>,
    /// Switch to GET and drop the body (303; 301 and 302 after a POST, as browsers do).
    pub to_get: bool,
}

/// Where a `status` response with `location` sends the `previous` request, if it stays on the
/// target's origin (redirects elsewhere are not followed: the step sees the 3xx).
pub fn next(status: u16, location: &[u8], previous: &[u8], target: &Target) -> Option<Hop> {
    if !is_redirect(status) {
        return None;
    }
    let location = std::str::from_utf8(location).ok()?.trim();
    if location.is_empty() {
        return None;
    }
    let line_end = previous.iter().position(|b| *b == b'\r')?;
    let mut parts = previous[..line_end].split(|b| *b == b' ');
    let method = parts.next()?;
    let current = parts.next()?;
    let path = if location.starts_with('/') && !location.starts_with("//") {
        location.as_bytes().to_vec()
    } else if location.contains("://") || location.starts_with("//") {
        let absolute = if location.starts_with("//") {
            format!("{}:{location}", target.scheme())
        } else {
            location.to_string()
        };
        let uri: http::Uri = absolute.parse().ok()?;
        let tls = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => true,
            s if s.eq_ignore_ascii_case("http") => false,
            _ => return None,
        };
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if tls != target.tls || !host.eq_ignore_ascii_case(&target.host) || port != target.port {
            return None;
        }
        uri.path_and_query()
            .map_or(b"/".to_vec(), |pq| pq.as_str().as_bytes().to_vec())
    } else {
        // Relative to the current path's folder.
        let current = current.split(|b| *b == b'?').next().unwrap_or(b"/");
        let dir = current
            .iter()
            .rposition(|b| *b == b'/')
            .map_or(&b"/"[..], |i| &current[..=i]);
        let mut p = dir.to_vec();
        p.extend_from_slice(location.as_bytes());
        p
    };
    if path
        .iter()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return None;
    }
    let to_get = match status {
        303 => method != b"HEAD",
        301 | 302 => method == b"POST",
        _ => false,
    };
    Some(Hop { path, to_get })
}

/// Write the request for `hop` into `out`, from the `previous` request: its headers (less the
/// cookie header, replaced by `cookie`, and for a switch to GET, less the body's headers) and,
/// unless switching to GET, its body. Returns false when `previous` cannot be read back.
pub fn request(previous: &[u8], hop: &Hop, cookie: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(head_len)) = req.parse(previous) else {
        return false;
    };
    let Some(method) = req.method else {
        return false;
    };
    out.clear();
    out.extend_from_slice(if hop.to_get { "GET" } else { method }.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&hop.path);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for h in req.headers.iter() {
        let dropped = h.name.eq_ignore_ascii_case("cookie")
            || (hop.to_get
                && ["content-length", "content-type", "transfer-encoding"]
                    .iter()
                    .any(|n| h.name.eq_ignore_ascii_case(n)));
        if dropped {
            continue;
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(c) = cookie {
        out.extend_from_slice(b"cookie: ");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !hop.to_get {
        out.extend_from_slice(&previous[head_len..]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::parse("http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"))
    }

    const GET: &[u8] = b"GET /a/b?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\r\n";
    const POST: &[u8] =
        b"POST /login HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncookie: a=1\r\n\r\n{}";

    fn path(status: u16, loc: &str, prev: &[u8]) -> Option<String> {
        next(status, loc.as_bytes(), prev, &target())
            .map(|h| String::from_utf8_lossy(&h.path).into_owned())
    }

    #[test]
    fn resolves_locations_on_the_same_origin_only() {
        assert_eq!(path(301, "/fast", GET).as_deref(), Some("/fast"));
        assert_eq!(path(302, "c?y=2", GET).as_deref(), Some("/a/c?y=2"));
        assert_eq!(
            path(307, "http://127.0.0.1:8080/z", GET).as_deref(),
            Some("/z")
        );
        assert_eq!(path(301, "https://127.0.0.1:8080/z", GET), None);
        assert_eq!(path(301, "http://example.com/z", GET), None);
        assert_eq!(path(301, "//example.com/z", GET), None);
        assert_eq!(path(200, "/fast", GET), None);
        assert_eq!(path(304, "/fast", GET), None);
    }

    #[test]
    fn post_becomes_get_after_303_301_302_but_not_307() {
        let hop = next(303, b"/me", POST, &target()).unwrap();
        assert!(hop.to_get);
        let mut out = Vec::new();
        assert!(request(POST, &hop, Some(b"a=2"), &mut out));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "GET /me HTTP/1.1\r\nhost: h\r\ncookie: a=2\r\n\r\n"
        );
        let hop = next(307, b"/again", POST, &target()).unwrap();
        assert!(!hop.to_get);
        assert!(request(POST, &hop, None, &mut out));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "POST /again HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        assert!(next(301, b"/x", GET, &target()).is_some_and(|h| !h.to_get));
    }
}
