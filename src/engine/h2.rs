//! HTTP/2 for the engine (hyper's connection-level client): used over TLS when ALPN picks `h2`,
//! and over cleartext for `http.version: "2"` with `http.h2c: true` (prior knowledge).
//!
//! A step's request is encoded once as HTTP/1.1 bytes for the fast path; here those bytes are
//! read back into an `http::Request` (method, path, headers, body), so templated requests,
//! cookies and redirects work the same on both versions. `data_received` over HTTP/2 counts the
//! decoded header and body bytes, not the frames on the wire.

use super::client::Outgoing;
use super::http1::Response;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// A handle to send requests as streams of one HTTP/2 connection.
pub type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// Start HTTP/2 on an open connection; its frames are driven by a task of its own.
pub async fn handshake<T>(io: T) -> Result<Sender, hyper::Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(io))
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Headers that belong to an HTTP/1.1 connection and are not allowed in HTTP/2.
fn connection_specific(name: &str) -> bool {
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

/// Read an encoded HTTP/1.1 request back as an HTTP/2 request to `origin` (`https://host:port`).
pub fn to_request(wire: &[u8], origin: &str) -> Option<http::Request<Full<Bytes>>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = req.parse(wire).ok()? else {
        return None;
    };
    let uri: http::Uri = format!("{origin}{}", req.path?).parse().ok()?;
    let mut b = http::Request::builder()
        .method(req.method?)
        .uri(uri)
        .version(http::Version::HTTP_2);
    for h in req.headers.iter() {
        if !connection_specific(h.name) {
            b = b.header(h.name, h.value);
        }
    }
    b.body(Full::new(Bytes::copy_from_slice(&wire[head_len..])))
        .ok()
}

/// How an HTTP/2 exchange failed.
pub enum Failed {
    /// Nothing of a response arrived: the connection may have been closed while idle.
    Unanswered,
    /// The stream or connection broke after the response started.
    Broken,
    /// The request could not be expressed.
    Request,
}

/// Send one request as a stream and read its whole response into `resp` (keeping what its
/// capture asks for).
pub async fn exchange(
    sender: &mut Sender,
    origin: &str,
    out: &Outgoing<'_>,
    resp: &mut Response,
    first_byte: &mut Option<Instant>,
    received: &mut u64,
) -> Result<(), Failed> {
    let req = to_request(out.wire, origin).ok_or(Failed::Request)?;
    sender.ready().await.map_err(|_| Failed::Unanswered)?;
    let answer = sender
        .send_request(req)
        .await
        .map_err(|_| Failed::Unanswered)?;
    *first_byte = Some(Instant::now());
    let (parts, mut body) = answer.into_parts();
    let capture = resp.capture;
    let mut kept = Vec::new();
    for (name, value) in &parts.headers {
        *received += (name.as_str().len() + value.len()) as u64;
        let name = name.as_str();
        if capture.headers
            || (capture.cookies && name == "set-cookie")
            || (capture.location && name == "location")
        {
            kept.push((name.to_string(), value.as_bytes().to_vec()));
        }
    }
    let mut bytes = Vec::new();
    let mut over = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failed::Broken)?;
        if let Ok(data) = frame.into_data() {
            *received += data.len() as u64;
            if !out.head {
                if let Some(scan) = resp.scan.as_mut() {
                    scan.feed(&data);
                }
                if let Some(stream) = out.stream {
                    stream.feed(&data, Instant::now());
                } else if capture.body {
                    super::scan::keep_bounded(&mut bytes, &mut over, capture.max_body, &data);
                }
            }
        }
    }
    resp.complete(parts.status.as_u16(), kept, bytes);
    resp.body_over = over;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_request_reads_back_as_http2() {
        let wire = b"POST /echo?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8443\r\nconnection: keep-alive\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let r = to_request(wire, "https://127.0.0.1:8443").unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(r.uri().to_string(), "https://127.0.0.1:8443/echo?x=1");
        assert!(r.headers().get("host").is_none());
        assert!(r.headers().get("connection").is_none());
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.version(), http::Version::HTTP_2);
    }
}
