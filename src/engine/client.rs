//! The HTTP/1.1 client of one VU: one keep-alive connection it owns (as a browser tab does),
//! opened lazily, reopened after an error, with each request timed and classified.
//!
//! The request path is deliberately lean (see docs/performance.md for the measurements against
//! hyper's connection-level client and reqwest): the request bytes were encoded once at start,
//! a request is one `write`, and the response is read into the worker's shared scratch buffer
//! and parsed in place, so an idle VU holds no buffer at all.

use super::http1::{Feed, ProtocolError, Response};
use crate::metrics::{ErrorKind, Sample, TlsReason};
use std::cell::RefCell;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// What every VU's client shares (read-only).
pub struct ClientConfig {
    /// Where connections go (the target's addresses, re-resolved every `http.dns_ttl`).
    pub addrs: std::sync::Arc<super::dns::Addrs>,
    /// Source addresses to spread connections over (empty: let the kernel choose).
    pub local_ips: Vec<IpAddr>,
    pub timeout: Duration,
    /// Each step's request, encoded once: `wire[flow][step]` (for templated steps, only their
    /// fixed parts matter).
    pub wire: Vec<Vec<super::request::Encoded>>,
    /// The same steps' HTTP/2 requests, `h2_requests[flow][step]` (`None` for a templated step;
    /// empty when no connection may be HTTP/2).
    pub h2_requests: Vec<Vec<Option<super::request::H2Request>>>,
    /// The Host header value.
    pub host: String,
    /// Set for an `https://` target.
    pub tls: Option<super::tls::Tls>,
    /// `scheme://authority`, for HTTP/2 request URIs.
    pub origin: String,
    /// Speak HTTP/2 over cleartext (prior knowledge).
    pub h2c: bool,
    /// Connections may turn out to be HTTP/2 (h2c, or ALPN may pick h2).
    pub may_h2: bool,
    /// Through a proxy: `addrs` are the proxy's, and each connection is a CONNECT tunnel.
    pub tunnel: Option<Tunnel>,
    /// Header lines allowed in a response head (`http.max_header_lines`).
    pub max_header_lines: u32,
}

/// A CONNECT tunnel through an HTTP proxy.
pub struct Tunnel {
    /// `host:port` of the target.
    pub authority: String,
    /// `Proxy-Authorization` value.
    pub authorization: Option<String>,
}

/// An open connection to the target: plain TCP, or TLS over it (boxed: a TLS session is large,
/// and an idle VU should stay small).
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// HTTP/2 (over TLS by ALPN, or h2c) shared by a pool's VUs: requests are concurrent streams
    /// of the connection (the `h2` crate).
    H2(super::h2::Sender),
    /// HTTP/2 on a VU's own connection: one stream at a time (`h2vu`, our own framing).
    H2Vu(Box<super::h2vu::Conn>),
}

/// A worker's read buffer, shared by all its VUs: a VU borrows it only inside a synchronous read.
pub struct Scratch(pub(super) RefCell<Vec<u8>>);

impl Scratch {
    pub fn new() -> Self {
        Scratch(RefCell::new(vec![0; 64 * 1024]))
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

pub use super::pool::Pool;
pub use super::request::Outgoing;

/// One VU's connection.
pub struct Client {
    conn: Option<Conn>,
    /// Which of the target's (and source) addresses to use: spreads VUs over all of them.
    index: usize,
    /// Connections come from a pool: an HTTP/2 one carries many VUs' streams at once.
    pooled: bool,
}

/// How an exchange on an open connection failed.
enum Failed {
    /// The peer closed the connection cleanly before any response byte.
    NoResponse,
    /// Writing failed, or reading failed before the response head was complete.
    Reset,
    /// The head arrived; the connection ended (closed or reset) before the body did.
    Truncated,
    Protocol(ProtocolError),
    /// HTTP/2: the server did not process the stream (GOAWAY, REFUSED_STREAM): sent again on a
    /// new connection, up to `H2_REFUSED_RETRIES` times, and not counted meanwhile.
    Refused,
}

/// Add the connection set-up time of `from` (an attempt the server refused) to `to`.
fn carry(to: &mut Sample, from: &Sample) {
    to.connecting += from.connecting;
    to.tls_handshaking += from.tls_handshaking;
}

/// How often a request the server refused unprocessed (HTTP/2 GOAWAY or REFUSED_STREAM) goes to
/// a new connection before it counts as a failed `reset`.
const H2_REFUSED_RETRIES: u32 = 3;

impl Client {
    pub fn new(vu: u64) -> Self {
        Client {
            conn: None,
            index: vu as usize,
            pooled: false,
        }
    }

    /// Which of the target's addresses this client's connections use.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Open a connection (boxed: the connect future is large and rare, and a VU's task should
    /// stay small while it thinks), and shake hands for TLS. The TCP connect is timed into
    /// `sample.connecting`, the handshake into `sample.tls_handshaking`.
    async fn connect(
        &mut self,
        cfg: &ClientConfig,
        deadline: Instant,
        sample: &mut Sample,
    ) -> Result<(), ErrorKind> {
        let addrs = cfg.addrs.get();
        if addrs.is_empty() {
            return Err(ErrorKind::Connect);
        }
        let addr = addrs[self.index % addrs.len()];
        let local = (!cfg.local_ips.is_empty())
            .then(|| cfg.local_ips[(self.index / addrs.len()) % cfg.local_ips.len()]);
        let started = Instant::now();
        let connect = Box::pin(super::socket::open(addr, local));
        let result = tokio::time::timeout_at(deadline, connect).await;
        sample.connecting += started.elapsed();
        let mut stream = match result {
            Err(_) => return Err(ErrorKind::ConnectTimeout),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(ErrorKind::ConnectRefused);
            }
            Ok(Err(_)) => return Err(ErrorKind::Connect),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        if let Some(t) = &cfg.tunnel {
            // The tunnel is part of connecting.
            let started = Instant::now();
            let r =
                tokio::time::timeout_at(deadline, Box::pin(super::socket::tunnel(&mut stream, t)))
                    .await;
            sample.connecting += started.elapsed();
            match r {
                Err(_) => return Err(ErrorKind::ConnectTimeout),
                Ok(Err(())) => return Err(ErrorKind::Proxy),
                Ok(Ok(())) => {}
            }
        }
        let Some(tls) = &cfg.tls else {
            self.conn = Some(if cfg.h2c {
                self.start_h2(super::h2vu::Io::Plain(stream)).await?
            } else {
                Conn::Plain(stream)
            });
            return Ok(());
        };
        let started = Instant::now();
        let handshake = Box::pin(tls.connector.connect(tls.server_name.clone(), stream));
        let result = tokio::time::timeout_at(deadline, handshake).await;
        sample.tls_handshaking += started.elapsed();
        match result {
            Err(_) => {
                sample.tls_reason = Some(TlsReason::HandshakeTimeout);
                Err(ErrorKind::Tls)
            }
            Ok(Err(e)) => {
                sample.tls_reason = Some(super::tls::classify(&e));
                Err(ErrorKind::Tls)
            }
            Ok(Ok(s)) if s.get_ref().1.alpn_protocol() == Some(b"h2") => {
                self.conn = Some(self.start_h2(super::h2vu::Io::Tls(Box::new(s))).await?);
                Ok(())
            }
            Ok(Ok(s)) => {
                self.conn = Some(Conn::Tls(Box::new(s)));
                Ok(())
            }
        }
    }

    /// HTTP/2 on an open connection: our own framing for a VU's own connection (its preface
    /// goes out with the first request), the `h2` crate's handshake for a pool's.
    async fn start_h2(&self, io: super::h2vu::Io) -> Result<Conn, ErrorKind> {
        if !self.pooled {
            return Ok(Conn::H2Vu(super::h2vu::Conn::new(io)));
        }
        let sender = match io {
            super::h2vu::Io::Plain(s) => Box::pin(super::h2::handshake(s)).await,
            super::h2vu::Io::Tls(s) => Box::pin(super::h2::handshake(*s)).await,
        };
        sender.map(Conn::H2).map_err(|_| ErrorKind::Protocol)
    }

    /// Send one request on a connection from `pool` (waiting for one if all are busy), or on the
    /// VU's own connection without a pool; the wait is the sample's `blocked` time.
    pub async fn request_via(
        &mut self,
        pool: Option<&Pool>,
        cfg: &ClientConfig,
        scratch: &Scratch,
        out: Outgoing<'_>,
    ) -> (Sample, Response) {
        self.pooled = pool.is_some();
        let Some(pool) = pool else {
            return self.request(cfg, scratch, out).await;
        };
        let asked = Instant::now();
        let mut attempt = 0;
        // Connecting and handshaking done for an attempt the server refused still took place:
        // the final sample carries it.
        let mut earlier = Sample::default();
        loop {
            let permit = loop {
                if cfg.may_h2
                    && let Some(sender) = pool.shared_h2(self.index)
                {
                    self.conn = Some(Conn::H2(sender));
                    let blocked = asked.elapsed();
                    let (mut sample, resp, refused) =
                        self.request_inner(cfg, scratch, out, 0).await;
                    // The shared connection stays in the list (a replacement opened because it had
                    // closed is not kept: the list's permits open new ones).
                    self.conn = None;
                    if refused && attempt < H2_REFUSED_RETRIES {
                        // Refused unprocessed (GOAWAY): through the pool again, within its limit.
                        attempt += 1;
                        carry(&mut earlier, &sample);
                        continue;
                    }
                    carry(&mut sample, &earlier);
                    sample.blocked = blocked;
                    return (sample, resp);
                }
                let acquired = if cfg.may_h2 {
                    tokio::select! {
                        p = pool.permits.acquire() => p,
                        () = pool.h2_added.notified() => continue,
                    }
                } else {
                    pool.permits.acquire().await
                };
                let Ok(permit) = acquired else {
                    // The semaphore is never closed; this arm keeps the type total.
                    let mut s = Sample::failed(ErrorKind::Connect);
                    s.blocked = asked.elapsed();
                    return (s, Response::new());
                };
                break permit;
            };
            let blocked = asked.elapsed();
            self.conn = pool.idle.borrow_mut().pop();
            let (mut sample, resp, refused) = self.request_inner(cfg, scratch, out, 0).await;
            if let Some(conn) = self.conn.take() {
                pool.put(conn, permit);
            }
            if refused && attempt < H2_REFUSED_RETRIES {
                attempt += 1;
                carry(&mut earlier, &sample);
                continue;
            }
            carry(&mut sample, &earlier);
            sample.blocked = blocked;
            return (sample, resp);
        }
    }

    /// Send one request and read the whole response. Every request whose bytes were written
    /// ends here either with a response or with a failure of a named kind, and is never sent
    /// again (docs/accounting.md): `http.retry: idempotent` is the caller's business.
    pub async fn request(
        &mut self,
        cfg: &ClientConfig,
        scratch: &Scratch,
        out: Outgoing<'_>,
    ) -> (Sample, Response) {
        let (sample, resp, _) = self
            .request_inner(cfg, scratch, out, H2_REFUSED_RETRIES)
            .await;
        (sample, resp)
    }

    /// `request`, sending a request the server refused unprocessed (HTTP/2) again on a new
    /// connection of its own up to `retries` times; the flag says the last attempt was refused
    /// (a pool retries through the pool instead, so it keeps its connection limit).
    async fn request_inner(
        &mut self,
        cfg: &ClientConfig,
        scratch: &Scratch,
        out: Outgoing<'_>,
        retries: u32,
    ) -> (Sample, Response, bool) {
        let start = Instant::now();
        let deadline = start + out.timeout.unwrap_or(cfg.timeout);
        let mut sample = Sample::default();
        let reused = self.keep_if_alive();
        let mut refused = 0;
        let attempt = loop {
            if self.conn.is_none() {
                let r = self.connect(cfg, deadline, &mut sample).await;
                if let Err(kind) = r {
                    sample.error = Some(kind);
                    return (sample, Response::new(), false);
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                sample.error = Some(ErrorKind::Connect);
                return (sample, Response::new(), false);
            };
            let attempt = attempt(conn, cfg, scratch, &out, deadline).await;
            if matches!(attempt.result, Ok(Err(Failed::Refused))) && refused < retries {
                // Not processed by the server: nothing to count; a new connection takes it.
                refused += 1;
                self.conn = None;
                continue;
            }
            break attempt;
        };
        self.conclude(sample, attempt, reused, &out)
    }

    /// A kept-alive connection the server closed while it was idle (or that holds bytes no
    /// request asked for) is dropped before anything is written on it: nothing is counted.
    /// True when a connection is kept for reuse.
    #[inline]
    fn keep_if_alive(&mut self) -> bool {
        match self.conn.as_mut().map(alive) {
            Some(true) => true,
            Some(false) => {
                self.conn = None;
                false
            }
            None => false,
        }
    }

    /// The sample of a finished attempt: its timings, its failure classified (a failure closes
    /// the connection; a failure on a `reused` connection before any response byte may be
    /// retried), its status judged against `expect`. The flag: the server refused it unprocessed.
    #[inline]
    fn conclude(
        &mut self,
        mut sample: Sample,
        attempt: Attempt,
        reused: bool,
        out: &Outgoing<'_>,
    ) -> (Sample, Response, bool) {
        let Attempt {
            sent_at,
            resp,
            first_byte,
            received,
            sent,
            result,
        } = attempt;
        sample.received += received;
        sample.sent += sent.unwrap_or(out.wire.len() as u64);
        let end = Instant::now();
        sample.duration = Some(end - sent_at);
        sample.waiting = first_byte.map(|t| t - sent_at);
        let was_refused = matches!(result, Ok(Err(Failed::Refused)));
        let failure = match result {
            Err(_) => Some(ErrorKind::RequestTimeout),
            Ok(Err(f)) => Some(match f {
                Failed::NoResponse => {
                    sample.retryable = reused;
                    ErrorKind::NoResponse
                }
                Failed::Reset => {
                    sample.retryable = reused && first_byte.is_none();
                    ErrorKind::Reset
                }
                Failed::Truncated => {
                    // The head arrived: its status is counted.
                    if resp.has_head() {
                        sample.status = Some(resp.status);
                    }
                    ErrorKind::BodyTruncated
                }
                Failed::Protocol(e) => {
                    sample.protocol = Some(e);
                    ErrorKind::Protocol
                }
                Failed::Refused => ErrorKind::Reset,
            }),
            Ok(Ok(())) => None,
        };
        if let Some(kind) = failure {
            self.conn = None;
            sample.error = Some(kind);
            return (sample, resp, was_refused);
        }
        let status = resp.status;
        sample.status = Some(status);
        if resp.close {
            self.conn = None;
        }
        let ok = match out.expect_status {
            Some(codes) => codes.contains(&status),
            None => status < 400,
        };
        if !ok {
            sample.error = Some(ErrorKind::Status);
        }
        (sample, resp, false)
    }
}

/// One attempt at an exchange on an open connection: when its bytes went out, the response
/// read, when its first byte came, the bytes received, and how it ended (`Err`: the deadline).
struct Attempt {
    sent_at: Instant,
    resp: Response,
    first_byte: Option<Instant>,
    received: u64,
    /// Bytes written, when not the request's HTTP/1.1 encoding (`out.wire`): a VU's own HTTP/2
    /// connection's frames.
    sent: Option<u64>,
    result: Result<Result<(), Failed>, tokio::time::error::Elapsed>,
}

/// Write the request on `conn` and read its response, within `deadline`.
#[inline]
async fn attempt(
    conn: &mut Conn,
    cfg: &ClientConfig,
    scratch: &Scratch,
    out: &Outgoing<'_>,
    deadline: Instant,
) -> Attempt {
    let sent_at = Instant::now();
    if let Some(w) = out.written {
        w.set(Some(sent_at));
    }
    let mut resp = Response::capturing(out.capture);
    resp.scan = out.scan.map(super::scan::Scan::new);
    resp.max_header_lines = cfg.max_header_lines;
    let mut first_byte = None;
    let mut received = 0u64;
    let mut sent = None;
    let result = match conn {
        Conn::Plain(conn) => {
            let exchange = exchange(
                conn,
                scratch,
                out,
                &mut resp,
                &mut first_byte,
                &mut received,
            );
            tokio::time::timeout_at(deadline, exchange).await
        }
        // Boxed, so the cleartext path's VUs stay as small as they were.
        Conn::Tls(conn) => {
            let exchange = Box::pin(exchange(
                conn,
                scratch,
                out,
                &mut resp,
                &mut first_byte,
                &mut received,
            ));
            tokio::time::timeout_at(deadline, exchange).await
        }
        Conn::H2(sender) => {
            let exchange = Box::pin(super::h2::exchange(
                sender,
                &cfg.origin,
                out,
                &mut resp,
                &mut first_byte,
                &mut received,
            ));
            tokio::time::timeout_at(deadline, exchange).await.map(|r| {
                r.map_err(|f| match f {
                    super::h2::Failed::Refused => Failed::Refused,
                    super::h2::Failed::Unanswered => Failed::Reset,
                    super::h2::Failed::Closed => Failed::NoResponse,
                    super::h2::Failed::Broken => Failed::Truncated,
                    super::h2::Failed::Malformed => Failed::Protocol(ProtocolError::H2(
                        "malformed response (the h2 library reset the stream)",
                    )),
                    super::h2::Failed::Request => Failed::Protocol(ProtocolError::Http2),
                })
            })
        }
        Conn::H2Vu(conn) => {
            let exchange = Box::pin(super::h2vu::exchange(
                conn,
                scratch,
                &cfg.origin,
                out,
                &mut resp,
                &mut first_byte,
                (&mut received, sent.insert(0)),
            ));
            tokio::time::timeout_at(deadline, exchange).await.map(|r| {
                r.map_err(|f| match f {
                    super::h2vu::Failed::Refused => Failed::Refused,
                    super::h2vu::Failed::NoResponse => Failed::NoResponse,
                    super::h2vu::Failed::Reset => Failed::Reset,
                    super::h2vu::Failed::Truncated => Failed::Truncated,
                    super::h2vu::Failed::Protocol(e) => Failed::Protocol(e),
                })
            })
        }
    };
    Attempt {
        sent_at,
        resp,
        first_byte,
        received,
        sent,
        result,
    }
}

/// Is a kept-alive connection still usable? One non-blocking read: nothing to read (the usual
/// case) means yes; end of stream, an error or bytes nobody asked for mean no. On a plain
/// socket this is tokio's `try_read`, which makes no system call at all unless the socket was
/// reported readable, and then it takes the place of the read that would otherwise find the
/// socket empty after the write.
fn alive(conn: &mut Conn) -> bool {
    match conn {
        Conn::Plain(s) => {
            let mut byte = [0u8; 1];
            matches!(s.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        }
        Conn::Tls(s) => {
            let mut byte = [0u8; 1];
            let mut rb = tokio::io::ReadBuf::new(&mut byte);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            Pin::new(&mut **s).poll_read(&mut cx, &mut rb).is_pending()
        }
        Conn::H2(s) => s.alive(),
        Conn::H2Vu(c) => c.alive(),
    }
}

/// Write the request and read until the response is complete, over plain TCP or TLS (one
/// function for both: for TCP, `flush` is a no-op and `UnexpectedEof` never happens). The bytes
/// are read into the worker's scratch buffer inside one synchronous poll, so the buffer is never
/// held across an await. Over TLS, `received` counts plaintext bytes (TLS records add some
/// 22–40 bytes each on the wire).
async fn exchange<S>(
    conn: &mut S,
    scratch: &Scratch,
    out: &Outgoing<'_>,
    resp: &mut Response,
    first_byte: &mut Option<Instant>,
    received: &mut u64,
) -> Result<(), Failed>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.write_all(out.wire).await.map_err(|_| Failed::Reset)?;
    conn.flush().await.map_err(|_| Failed::Reset)?;
    loop {
        // `poll_read`, not `readable()` + `try_read`: a read that fills less than the buffer
        // clears the socket's readiness, so the liveness check before the next request
        // (`alive`) costs no system call unless the reactor has seen the socket become readable
        // since (a close while idle) — measured: one `recvfrom` per request fewer.
        let done = std::future::poll_fn(|cx| {
            let mut buf = scratch.0.borrow_mut();
            let mut rb = tokio::io::ReadBuf::new(&mut buf[..]);
            match Pin::new(&mut *conn).poll_read(cx, &mut rb) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(())) => {
                    Poll::Ready(take(rb.filled(), out, resp, first_byte, received))
                }
                // A TLS peer that closes without close_notify: the end of the stream all the same.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(take(&[], out, resp, first_byte, received))
                }
                Poll::Ready(Err(_)) => Poll::Ready(Err(broken(resp))),
            }
        })
        .await?;
        if done {
            return Ok(());
        }
    }
}

/// Feed what one read gave (empty: the peer closed) to the response; true when it is complete.
#[inline]
fn take(
    data: &[u8],
    out: &Outgoing<'_>,
    resp: &mut Response,
    first_byte: &mut Option<Instant>,
    received: &mut u64,
) -> Result<bool, Failed> {
    if data.is_empty() {
        if first_byte.is_none() {
            return Err(Failed::NoResponse);
        }
        return match resp.eof() {
            Ok(()) => Ok(true),
            Err(_) if resp.has_head() => Err(Failed::Truncated),
            Err(e) => Err(Failed::Protocol(e)),
        };
    }
    if first_byte.is_none() {
        *first_byte = Some(Instant::now());
    }
    *received += data.len() as u64;
    let fed = resp.feed(data, out.head);
    if let Some(stream) = out.stream
        && !resp.body_bytes.is_empty()
    {
        stream.feed(&resp.body_bytes, Instant::now());
        resp.body_bytes.clear();
    }
    match fed {
        Ok(Feed::More) => Ok(false),
        // Bytes after the response without a request for them: the connection is out of step.
        // (After `101` they are the new protocol's, and the connection is closed anyway.)
        Ok(Feed::Done { extra }) if extra > 0 && resp.status != 101 => {
            Err(Failed::Protocol(ProtocolError::UnsolicitedBytes))
        }
        Ok(Feed::Done { .. }) => Ok(true),
        Err(e) => Err(Failed::Protocol(e)),
    }
}

/// A read failed: before the head's end the connection was reset; after it, the body was cut.
fn broken(resp: &Response) -> Failed {
    if resp.has_head() {
        Failed::Truncated
    } else {
        Failed::Reset
    }
}
