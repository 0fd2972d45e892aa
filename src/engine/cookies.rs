//! A VU's cookie jar: RFC 6265 storage and matching by the `cookie_store` crate (the one
//! reqwest uses): `Expires` and `Max-Age` (a past date or `Max-Age=0` removes a cookie), `Path`,
//! `Domain` (a cookie for another domain is refused), host-only cookies. One rule is stricter
//! than `cookie_store` (which, as browsers, treats `http://localhost` as secure): a `Secure`
//! cookie is only ever sent over `https://`.
//!
//! A VU allocates its jar on the first `Set-Cookie` it receives: a VU of a scenario that never
//! sees a cookie holds only an empty `Option`.

use cookie_store::CookieStore;
use url::Url;

pub struct Jar {
    store: CookieStore,
    /// `scheme://authority` of the target: request-targets are resolved against it.
    base: Url,
}

impl Jar {
    /// A jar for the target at `origin` (`scheme://authority`); `None` if that is not a URL.
    pub fn new(origin: &str) -> Option<Box<Jar>> {
        let base = Url::parse(origin).ok()?;
        Some(Box::new(Jar {
            store: CookieStore::default(),
            base,
        }))
    }

    /// The URL of a request-target on the target's origin.
    fn url(&self, target: &[u8]) -> Option<Url> {
        let target = std::str::from_utf8(target).ok()?;
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let mut u = self.base.clone();
        u.set_path(path);
        u.set_query(query);
        Some(u)
    }

    /// Take the `Set-Cookie` values of a response to the request `target` (path and query).
    pub fn store<'a>(&mut self, target: &[u8], set_cookies: impl Iterator<Item = &'a [u8]>) {
        let Some(url) = self.url(target) else {
            return;
        };
        for v in set_cookies {
            if let Ok(text) = std::str::from_utf8(v) {
                // Refused cookies (another domain, bad syntax) are left out, as a browser does.
                let _ = self.store.parse(text.trim(), &url);
            }
        }
    }

    /// The `Cookie` header value for a request to `target`, if any cookie applies: longest
    /// paths first (RFC 6265 §5.4).
    pub fn header(&self, target: &[u8]) -> Option<Vec<u8>> {
        let url = self.url(target)?;
        let secure = url.scheme() == "https";
        let mut cookies: Vec<_> = self
            .store
            .matches(&url)
            .into_iter()
            .filter(|c| secure || c.secure() != Some(true))
            .collect();
        if cookies.is_empty() {
            return None;
        }
        cookies.sort_by_key(|c| std::cmp::Reverse(c.path().map_or(0, str::len)));
        let mut v = Vec::new();
        for (i, c) in cookies.iter().enumerate() {
            if i > 0 {
                v.extend_from_slice(b"; ");
            }
            v.extend_from_slice(c.name().as_bytes());
            v.push(b'=');
            v.extend_from_slice(c.value().as_bytes());
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(origin: &str) -> Box<Jar> {
        Jar::new(origin).expect("origin")
    }

    fn header(j: &Jar, target: &str) -> String {
        j.header(target.as_bytes())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn expiry_path_domain_and_secure_follow_rfc_6265() {
        let mut j = jar("http://127.0.0.1:8080");
        let set: [&[u8]; 6] = [
            b"a=1",
            b"old=x; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            b"gone=x; Max-Age=0",
            b"api=2; Path=/api",
            b"sec=3; Secure",
            b"other=4; Domain=example.com",
        ];
        j.store(b"/login", set.into_iter());
        assert_eq!(header(&j, "/"), "a=1");
        assert_eq!(header(&j, "/api/x?y=1"), "api=2; a=1");
        assert_eq!(header(&j, "/apix"), "a=1", "/api does not path-match /apix");
        j.store(b"/", [&b"a=1; Max-Age=0"[..]].into_iter());
        assert_eq!(header(&j, "/"), "", "Max-Age=0 deletes");
        let mut s = jar("https://127.0.0.1:8443");
        s.store(b"/", [&b"sec=3; Secure"[..]].into_iter());
        assert_eq!(header(&s, "/"), "sec=3", "Secure cookies go over https");
    }
}
