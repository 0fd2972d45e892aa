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
    /// The request-target: path and query (never a fragment).
    pub path: Vec<u8>,
    /// Switch to GET and drop the body (303; 301 and 302 after a POST, as browsers do).
    pub to_get: bool,
}

/// What a response means for the step.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Not a redirect (or no usable `Location`): the step ends with this response.
    Stay,
    /// Follow, on the same connection's origin.
    Follow(Hop),
    /// A redirect to another origin (scheme, host or port), which stampede does not follow:
    /// the `Location` resolved, fragment dropped.
    CrossOrigin(String),
}

/// Where a `status` response with `location` sends the `previous` request. The `Location` is
/// resolved against the URL of `previous` by RFC 3986 (the `url` crate's join: `?x=1`,
/// `../x`, `//host/x`, absolute URLs), its fragment dropped. Only redirects on the target's
/// origin are followed: a stampede run addresses one origin.
pub fn next(status: u16, location: &[u8], previous: &[u8], target: &Target) -> Next {
    if !is_redirect(status) {
        return Next::Stay;
    }
    let Some(location) = std::str::from_utf8(location)
        .ok()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    else {
        return Next::Stay;
    };
    let line_end = previous
        .iter()
        .position(|b| *b == b'\r')
        .unwrap_or(previous.len());
    let mut parts = previous[..line_end].split(|b| *b == b' ');
    let (Some(method), Some(current)) = (parts.next(), parts.next()) else {
        return Next::Stay;
    };
    let Ok(base) = url::Url::parse(&format!("{}://{}", target.scheme(), target.authority())) else {
        return Next::Stay;
    };
    let Ok(current) = std::str::from_utf8(current) else {
        return Next::Stay;
    };
    let (path, query) = current
        .split_once('?')
        .map_or((current, None), |(p, q)| (p, Some(q)));
    let mut current = base.clone();
    current.set_path(path);
    current.set_query(query);
    let Ok(mut dest) = current.join(location) else {
        return Next::Stay;
    };
    dest.set_fragment(None);
    if dest.origin() != base.origin() {
        return Next::CrossOrigin(dest.to_string());
    }
    let path = dest[url::Position::BeforePath..url::Position::AfterQuery]
        .as_bytes()
        .to_vec();
    let to_get = match status {
        303 => method != b"HEAD",
        301 | 302 => method == b"POST",
        _ => false,
    };
    Next::Follow(Hop { path, to_get })
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
        match next(status, loc.as_bytes(), prev, &target()) {
            Next::Follow(h) => Some(String::from_utf8_lossy(&h.path).into_owned()),
            _ => None,
        }
    }

    const DEEP: &[u8] = b"GET /a/b/c HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\r\n";

    #[test]
    fn resolves_locations_by_rfc_3986_on_the_same_origin_only() {
        assert_eq!(path(301, "/fast", GET).as_deref(), Some("/fast"));
        assert_eq!(path(302, "c?y=2", GET).as_deref(), Some("/a/c?y=2"));
        assert_eq!(path(302, "?x=1", DEEP).as_deref(), Some("/a/b/c?x=1"));
        assert_eq!(path(302, "../x", DEEP).as_deref(), Some("/a/x"));
        assert_eq!(path(302, "/x#frag", DEEP).as_deref(), Some("/x"));
        assert_eq!(path(302, "#only", DEEP).as_deref(), Some("/a/b/c"));
        assert_eq!(path(302, "/a b", DEEP).as_deref(), Some("/a%20b"));
        assert_eq!(
            path(307, "http://127.0.0.1:8080/z", GET).as_deref(),
            Some("/z")
        );
        assert_eq!(
            path(307, "//127.0.0.1:8080/s?q", GET).as_deref(),
            Some("/s?q")
        );
        assert_eq!(
            next(301, b"https://127.0.0.1:8080/z", GET, &target()),
            Next::CrossOrigin("https://127.0.0.1:8080/z".into())
        );
        assert_eq!(
            next(301, b"//example.com/z#f", GET, &target()),
            Next::CrossOrigin("http://example.com/z".into())
        );
        assert_eq!(path(301, "http://example.com/z", GET), None);
        assert_eq!(path(200, "/fast", GET), None);
        assert_eq!(path(304, "/fast", GET), None);
    }

    #[test]
    fn post_becomes_get_after_303_301_302_but_not_307() {
        let follow = |loc: &[u8]| match next(303, loc, POST, &target()) {
            Next::Follow(h) => h,
            other => panic!("{other:?}"),
        };
        let hop = follow(b"/me");
        assert!(hop.to_get);
        let mut out = Vec::new();
        assert!(request(POST, &hop, Some(b"a=2"), &mut out));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "GET /me HTTP/1.1\r\nhost: h\r\ncookie: a=2\r\n\r\n"
        );
        let Next::Follow(hop) = next(307, b"/again", POST, &target()) else {
            panic!("307 is followed")
        };
        assert!(!hop.to_get);
        assert!(request(POST, &hop, None, &mut out));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "POST /again HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        assert!(matches!(next(301, b"/x", GET, &target()), Next::Follow(h) if !h.to_get));
    }
}
