//! HTTP/2 on a VU's own connection (`http.connections: per-vu`), without the `h2` crate: one
//! stream at a time, as a browser tab or h2load `-m 1` uses a connection. Frames are read into
//! the worker's scratch buffer inside one synchronous poll and handled in place (`h2read`), a
//! request's header block is encoded once per static step (`request::H2Request`), and the
//! client preface goes out with the first request in one write. See docs/performance.md,
//! "Choosing the HTTP/2 path". Pooled connections, which carry many streams at once, stay on
//! the `h2` crate (`h2.rs`).
//!
//! Windows: we give the server the largest stream and connection windows (2^31-1) and top the
//! connection's up once half is used, so a response is never throttled; a request body is sent
//! as the server's windows allow. `data_received` counts every byte read from the connection
//! while the request is in flight (frame headers, compressed header blocks, DATA), as HTTP/1.1
//! counts the bytes of its head and body.

use super::client::Scratch;
use super::h2frame as f;
use super::h2read::{Proto, Stream};
use super::http1::Response;
use super::request::Outgoing;
use crate::metrics::protocol::ProtocolError;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// What the connection runs over.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Io {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    /// Read what already arrived, now: a system call even when the reactor has not reported
    /// the socket readable (after a failed write, within the same poll, it has not). Over TLS
    /// the records go from the socket straight into the rustls session (`read_tls`), and the
    /// plaintext comes from its reader; the connection takes no request afterwards, so going
    /// around tokio-rustls's own reading is safe.
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read as _;
        match self {
            Io::Plain(s) => (&*socket2::SockRef::from(&*s)).read(buf),
            Io::Tls(s) => {
                let (tcp, tls) = s.get_mut();
                loop {
                    match tls.reader().read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        r => return r,
                    }
                    let sock = socket2::SockRef::from(&*tcp);
                    if tls.read_tls(&mut &*sock)? == 0 {
                        // The peer closed: what the session still holds, then the end.
                        tls.process_new_packets().map_err(io::Error::other)?;
                        return tls.reader().read(buf);
                    }
                    tls.process_new_packets().map_err(io::Error::other)?;
                }
            }
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::Plain(_) => Poll::Ready(Ok(())),
            Io::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }
}

/// A VU's HTTP/2 connection.
pub struct Conn {
    io: Io,
    /// Bytes read past the last whole frame (usually empty).
    pending: Vec<u8>,
    /// Frames to write (the preface, acknowledgements, the request), and how much went out.
    out: Vec<u8>,
    written: usize,
    /// Written, not yet flushed (TLS).
    unflushed: bool,
    /// Writing failed after a response: no further request goes on this connection.
    dead: bool,
    proto: Proto,
}

/// How an exchange failed (mapped to the client's failure kinds).
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// The server provably did not process the request (RFC 9113 §8.7): a GOAWAY below it,
    /// REFUSED_STREAM, or a connection that takes no new stream: safe on a new connection.
    Refused,
    /// The connection closed before the response's head.
    NoResponse,
    /// Writing or reading failed, or the stream was reset, before the response's head.
    Reset,
    /// The connection or stream ended after the head, before the response did.
    Truncated,
    Protocol(ProtocolError),
}

impl Conn {
    /// HTTP/2 on an open connection: the preface is queued and goes out with the first request.
    pub fn new(io: Io) -> Box<Conn> {
        let mut out = Vec::with_capacity(256);
        f::client_preface(&mut out);
        Box::new(Conn {
            io,
            pending: Vec::new(),
            out,
            written: 0,
            unflushed: false,
            dead: false,
            proto: Proto::new(),
        })
    }

    /// Usable for another request? Reads what arrived while the VU thought (a SETTINGS, a
    /// PING, a GOAWAY, the peer's close) without waiting: no system call when nothing did.
    pub fn alive(&mut self) -> bool {
        if self.dead || !self.proto.open() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut buf = [0u8; 2048];
        loop {
            let mut rb = ReadBuf::new(&mut buf);
            match self.io.poll_read(&mut cx, &mut rb) {
                Poll::Pending => return self.proto.open(),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return false,
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if self.take(&buf[..n], None).is_err() {
                        return false;
                    }
                }
                Poll::Ready(Err(_)) => return false,
            }
        }
    }

    /// Hand bytes read to the frame reader (with what was left of a frame before), keeping the
    /// tail of a frame not yet whole.
    fn take(&mut self, data: &[u8], stream: Option<&mut Stream<'_>>) -> Result<(), Failed> {
        if self.pending.is_empty() {
            let used = self.proto.frames(data, stream, &mut self.out)?;
            self.pending.extend_from_slice(&data[used..]);
        } else {
            self.pending.extend_from_slice(data);
            let used = self.proto.frames(&self.pending, stream, &mut self.out)?;
            self.pending.drain(..used);
            if self.pending.is_empty() && self.pending.capacity() > 64 * 1024 {
                self.pending = Vec::new();
            }
        }
        Ok(())
    }

    /// Writing failed: read what already arrived, without waiting, into `stream`. The
    /// connection takes no further request.
    fn salvage(&mut self, scratch: &Scratch, stream: &mut Stream<'_>, received: &mut u64) {
        self.dead = true;
        while !stream.ended() && !stream.failed() {
            let mut buf = scratch.0.borrow_mut();
            match self.io.read_now(&mut buf[..]) {
                Ok(n) if n > 0 => {
                    *received += n as u64;
                    if self.take(&buf[..n], Some(stream)).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Write what is queued; `Ready` once all of it went out (and was flushed).
    fn poll_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Failed>> {
        while self.written < self.out.len() {
            match self.io.poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Err(Failed::Reset)),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    self.unflushed = true;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        self.out.clear();
        self.written = 0;
        if self.unflushed {
            match self.io.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(Err(Failed::Reset)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Send one request as the connection's next stream and read its whole response into `resp`;
/// the bytes read while it was in flight and the bytes of its frames are added to the pair.
pub async fn exchange(
    conn: &mut Conn,
    scratch: &Scratch,
    origin: &str,
    out: &Outgoing<'_>,
    resp: &mut Response,
    first_byte: &mut Option<Instant>,
    (received, sent_bytes): (&mut u64, &mut u64),
) -> Result<(), Failed> {
    let id = conn.proto.next_stream().ok_or(Failed::Refused)?;
    let queued = conn.out.len();
    let body = conn.proto.encode(out, origin, id, &mut conn.out)?;
    *sent_bytes += (conn.out.len() - queued) as u64;
    let mut stream = Stream::new(id, out, resp, conn.proto.initial_window());
    let mut sent = 0;
    std::future::poll_fn(|cx| {
        loop {
            // The request body, as the server's windows allow, once the frames before it left.
            if sent < body.len() && conn.written == conn.out.len() {
                let n = conn.proto.send_room(&stream).min(body.len() - sent);
                if n > 0 {
                    conn.proto.send_data(
                        &mut stream,
                        &body[sent..sent + n],
                        sent + n == body.len(),
                        &mut conn.out,
                    );
                    sent += n;
                    *sent_bytes += (9 + n) as u64;
                }
            }
            let wrote = conn.poll_out(cx);
            if let Poll::Ready(Err(e)) = wrote {
                // What the server sent before it stopped reading says how this ended: a GOAWAY
                // that refused the stream, a response that already ended it.
                conn.salvage(scratch, &mut stream, received);
                return Poll::Ready(match stream.failure() {
                    Some(f) => Err(f),
                    None if stream.ended() => Ok(()),
                    None => Err(stream.broken(e)),
                });
            }
            let mut buf = scratch.0.borrow_mut();
            let mut rb = ReadBuf::new(&mut buf[..]);
            let read = match conn.io.poll_read(cx, &mut rb) {
                Poll::Pending => {
                    // More body may go now that acknowledgements went out: loop once more.
                    if wrote.is_ready() && sent < body.len() && conn.proto.send_room(&stream) > 0 {
                        continue;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(r) => r,
            };
            let data = match read {
                Ok(()) => rb.filled(),
                // A TLS peer that closes without close_notify: the end all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => &[],
                Err(_) => return Poll::Ready(Err(stream.broken(Failed::Reset))),
            };
            if data.is_empty() {
                return Poll::Ready(stream.closed());
            }
            *received += data.len() as u64;
            if let Err(e) = conn.take(data, Some(&mut stream)) {
                return Poll::Ready(Err(e));
            }
            if let Some(e) = stream.failure() {
                return Poll::Ready(Err(e));
            }
            if stream.ended() {
                // Acknowledgements the response brought go out now if they can, else with the
                // next request.
                if let Poll::Ready(Err(_)) = conn.poll_out(cx) {
                    conn.dead = true;
                }
                return Poll::Ready(Ok(()));
            }
        }
    })
    .await?;
    *first_byte = stream.first_byte();
    let complete_send = sent == body.len();
    stream.finish();
    // No new stream after a GOAWAY, past the last stream id, or with our half still open.
    if !conn.proto.open() || !complete_send {
        resp.close = true;
    }
    Ok(())
}
