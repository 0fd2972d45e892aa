//! The HTTP/1.1 client of one VU: one keep-alive connection it owns (as a browser tab does),
//! opened lazily, reopened after an error, with each request timed and classified.

use crate::metrics::{ErrorKind, Sample};
use crate::plan::Step;
use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What every VU's client shares (read-only).
pub struct ClientConfig {
    pub addrs: Vec<SocketAddr>,
    pub host: HeaderValue,
    pub timeout: Duration,
}

/// Bytes read and written on a connection, as seen on the socket.
#[derive(Default)]
struct IoCounts {
    read: Cell<u64>,
    written: Cell<u64>,
}

/// A socket that counts its bytes.
struct Counted {
    inner: TcpStream,
    counts: Rc<IoCounts>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.counts.read.set(self.counts.read.get() + n);
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.counts
                .written
                .set(self.counts.written.get() + n as u64);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.counts
                .written
                .set(self.counts.written.get() + n as u64);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One VU's connection.
pub struct Client {
    sender: Option<SendRequest<Full<Bytes>>>,
    counts: Rc<IoCounts>,
    /// Which of the target's addresses to use (spread VUs over all of them).
    addr_index: usize,
}

impl Client {
    pub fn new(vu: u64) -> Self {
        Client {
            sender: None,
            counts: Rc::new(IoCounts::default()),
            addr_index: vu as usize,
        }
    }

    async fn connect(&mut self, cfg: &ClientConfig, deadline: Instant) -> Result<(), ErrorKind> {
        let addr = cfg.addrs[self.addr_index % cfg.addrs.len()];
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(ErrorKind::ConnectTimeout),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(ErrorKind::ConnectRefused);
            }
            Ok(Err(_)) => return Err(ErrorKind::Connect),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Counted {
            inner: stream,
            counts: self.counts.clone(),
        });
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|_| ErrorKind::Protocol)?;
        tokio::task::spawn_local(async move {
            // The connection ends when the VU drops its sender or the peer closes it; errors
            // surface on the request that was in flight.
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Send one step's request and wait for the whole response.
    pub async fn request(&mut self, cfg: &ClientConfig, step: &Step) -> Sample {
        let start = Instant::now();
        let deadline = start + cfg.timeout;
        let (read0, written0) = (self.counts.read.get(), self.counts.written.get());
        let mut sample = Sample {
            duration: None,
            waiting: None,
            connecting: Duration::ZERO,
            status: None,
            error: None,
            sent: 0,
            received: 0,
        };
        // A kept-alive connection the peer has closed since is replaced without counting an error:
        // no request went out on it.
        if let Some(s) = &mut self.sender
            && (s.is_closed() || s.ready().await.is_err())
        {
            self.sender = None;
        }
        if self.sender.is_none() {
            let r = self.connect(cfg, deadline).await;
            sample.connecting = start.elapsed();
            if let Err(kind) = r {
                self.sender = None;
                sample.error = Some(kind);
                return sample;
            }
        }
        let Some(sender) = self.sender.as_mut() else {
            sample.error = Some(ErrorKind::Connect);
            return sample;
        };
        let mut builder = Request::builder()
            .method(step.method.clone())
            .uri(step.path.as_str());
        if let Some(h) = builder.headers_mut() {
            h.clone_from(&step.headers);
            h.insert(http::header::HOST, cfg.host.clone());
        }
        let req = match builder.body(Full::new(step.body.clone())) {
            Ok(r) => r,
            Err(_) => {
                sample.error = Some(ErrorKind::Protocol);
                return sample;
            }
        };
        let sent_at = Instant::now();
        let exchange = async {
            let resp = sender.send_request(req).await?;
            let head_at = Instant::now();
            let status = resp.status().as_u16();
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                frame?;
            }
            Ok::<_, hyper::Error>((status, head_at))
        };
        match tokio::time::timeout_at(deadline, exchange).await {
            Err(_) => {
                self.sender = None;
                sample.duration = Some(sent_at.elapsed());
                sample.error = Some(ErrorKind::RequestTimeout);
            }
            Ok(Err(e)) => {
                self.sender = None;
                sample.duration = Some(sent_at.elapsed());
                sample.error = Some(classify(&e));
            }
            Ok(Ok((status, head_at))) => {
                let end = Instant::now();
                sample.duration = Some(end - sent_at);
                sample.waiting = Some(head_at - sent_at);
                sample.status = Some(status);
                let ok = match &step.expect_status {
                    Some(codes) => codes.contains(&status),
                    None => status < 400,
                };
                if !ok {
                    sample.error = Some(ErrorKind::Status);
                }
            }
        }
        sample.sent = self.counts.written.get() - written0;
        sample.received = self.counts.read.get() - read0;
        sample
    }
}

fn classify(e: &hyper::Error) -> ErrorKind {
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        return ErrorKind::Protocol;
    }
    if e.is_timeout() {
        return ErrorKind::RequestTimeout;
    }
    // Closed, canceled, incomplete message, or an io error (reset, broken pipe): the connection
    // went away under the request.
    ErrorKind::Reset
}
