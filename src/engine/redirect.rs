//! Following redirects: where a 3xx response sends a step next, and the request to send there
//! (the previous request's typed parts with the hop applied, so templated and cookie-carrying
//! requests follow the same way; written for HTTP/1.1 or HTTP/2 by `request`).

use super::request::Parts;
use crate::plan::Target;
use http::Method;

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

/// Where a `status` response with `location` sends a `method` request to `current` (its
/// request-target). The `Location` is resolved against the URL of `current` by RFC 3986 (the
/// `url` crate's join: `?x=1`, `../x`, `//host/x`, absolute URLs), its fragment dropped. Only
/// redirects on the target's origin are followed: a stampede run addresses one origin.
pub fn next(
    status: u16,
    location: &[u8],
    method: &Method,
    current: &[u8],
    target: &Target,
) -> Next {
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
        303 => *method != Method::HEAD,
        301 | 302 => *method == Method::POST,
        _ => false,
    };
    Next::Follow(Hop { path, to_get })
}

impl Hop {
    /// The request for this hop, made from the `previous` one: the new target, and for a
    /// switch to GET, no body and none of its headers. The cookie header is the caller's (the
    /// jar's for the new target).
    pub fn apply(self, previous: &mut Parts) {
        previous.target = self.path;
        previous.cookie = None;
        if self.to_get {
            previous.method = Method::GET;
            previous.body.clear();
            previous.bodiless = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::parse("http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"))
    }

    const GET: (&Method, &[u8]) = (&Method::GET, b"/a/b?x=1");
    const DEEP: (&Method, &[u8]) = (&Method::GET, b"/a/b/c");
    const POST: (&Method, &[u8]) = (&Method::POST, b"/login");

    fn go(status: u16, loc: &[u8], (method, current): (&Method, &[u8])) -> Next {
        next(status, loc, method, current, &target())
    }

    fn path(status: u16, loc: &str, prev: (&Method, &[u8])) -> Option<String> {
        match go(status, loc.as_bytes(), prev) {
            Next::Follow(h) => Some(String::from_utf8_lossy(&h.path).into_owned()),
            _ => None,
        }
    }

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
            go(301, b"https://127.0.0.1:8080/z", GET),
            Next::CrossOrigin("https://127.0.0.1:8080/z".into())
        );
        assert_eq!(
            go(301, b"//example.com/z#f", GET),
            Next::CrossOrigin("http://example.com/z".into())
        );
        assert_eq!(path(301, "http://example.com/z", GET), None);
        assert_eq!(path(200, "/fast", GET), None);
        assert_eq!(path(304, "/fast", GET), None);
    }

    #[test]
    fn post_becomes_get_after_303_301_302_but_not_307() {
        let follow = |status, loc: &[u8], prev| match go(status, loc, prev) {
            Next::Follow(h) => h,
            other => panic!("{other:?}"),
        };
        assert!(follow(303, b"/me", POST).to_get);
        assert!(follow(302, b"/me", POST).to_get);
        assert!(follow(301, b"/me", POST).to_get);
        assert!(!follow(307, b"/again", POST).to_get);
        assert!(!follow(308, b"/again", POST).to_get);
        assert!(!follow(301, b"/x", GET).to_get);
        assert!(!follow(303, b"/x", (&Method::HEAD, b"/h")).to_get);

        let mut parts = Parts {
            method: Method::POST,
            target: b"/login".to_vec(),
            body: b"{}".to_vec(),
            cookie: Some(b"a=1".to_vec()),
            ..Parts::default()
        };
        follow(307, b"/again", POST).apply(&mut parts);
        assert_eq!(
            (
                &parts.method,
                &parts.target[..],
                &parts.body[..],
                parts.bodiless
            ),
            (&Method::POST, &b"/again"[..], &b"{}"[..], false)
        );
        assert_eq!(
            parts.cookie, None,
            "the jar's cookie for the new target is the caller's"
        );
        follow(303, b"/me", POST).apply(&mut parts);
        assert_eq!(
            (
                &parts.method,
                &parts.target[..],
                &parts.body[..],
                parts.bodiless
            ),
            (&Method::GET, &b"/me"[..], &b""[..], true)
        );
    }
}
