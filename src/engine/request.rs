//! A step's request as typed parts, turned into what goes on the wire only at the edge: the
//! HTTP/1.1 bytes (`http1::encode`) or, here, an HTTP/2 request built once per step and cloned
//! per request (no re-parsing, no URI formatting per request).

use crate::plan::Step;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};

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
            if name == http::header::CONTENT_LENGTH || super::h2::connection_specific(name.as_str())
            {
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
