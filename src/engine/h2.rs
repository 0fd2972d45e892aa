//! HTTP/2 for the engine, on the `h2` crate directly (not hyper's client: its dispatch channel
//! and per-request body machinery cost a task hop and allocations per request; see
//! docs/performance.md, "Choosing the HTTP/2 path"). Used over TLS when ALPN picks `h2`, and
//! over cleartext for `http.version: "2"` with `http.h2c: true` (prior knowledge).
//!
//! A static step's request is built once from its typed parts (`request::H2Request`) and only
//! cloned per request (with the VU's cookie header added); a request made per request
//! (templates, redirect hops) is built from its `request::Parts`, never read back from bytes. Response bodies are counted, and kept only when a check or capture needs
//! them. `data_received` over HTTP/2 counts the decoded header and body bytes, not the frames.
//!
//! Connections: a VU's own connection (`connections: per-vu`) is driven by the VU itself while
//! it waits for a response (no task of its own, so no task switch per request; frames that arrive
//! while it thinks are read at its next request). A pooled connection, shared by many VUs as
//! concurrent streams, is driven by a task of its own.

use super::http1::Response;
use super::request::Outgoing;
use bytes::Bytes;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// The frames of a connection, driven by whoever waits on it.
type Driver = Pin<Box<dyn Future<Output = ()>>>;

/// A handle to send requests as streams of one HTTP/2 connection.
pub struct Sender {
    send: ::h2::client::SendRequest<Bytes>,
    /// Set when the connection ended (GOAWAY, error, close).
    closed: Rc<Cell<bool>>,
    /// The connection, when this sender drives it (a VU's own connection).
    driver: Option<Driver>,
}

impl Clone for Sender {
    /// Another handle to the same connection (the connection itself stays with its driver).
    fn clone(&self) -> Self {
        Sender {
            send: self.send.clone(),
            closed: self.closed.clone(),
            driver: None,
        }
    }
}

impl Sender {
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Is the connection still usable before a request? A connection this sender drives was
    /// not read while its VU thought: one poll without a waker handles what arrived meanwhile
    /// (a GOAWAY, the peer's close), costing no system call when nothing did.
    pub fn alive(&mut self) -> bool {
        if let Some(driver) = self.driver.as_mut() {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if driver.as_mut().poll(&mut cx).is_ready() {
                self.closed.set(true);
            }
        }
        !self.closed.get()
    }

    /// Hand the connection to a task of its own, so other VUs' streams progress without this
    /// one (a connection that joins a pool).
    pub fn detach(&mut self) {
        if let Some(driver) = self.driver.take() {
            tokio::task::spawn_local(driver);
        }
    }
}

/// Start HTTP/2 on an open connection (the client preface and SETTINGS exchange).
pub async fn handshake<T>(io: T) -> Result<Sender, ::h2::Error>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (send, conn) = ::h2::client::Builder::new()
        .enable_push(false)
        // hyper's client defaults: large bodies are not throttled by 64 KiB windows.
        .initial_window_size(2 * 1024 * 1024)
        .initial_connection_window_size(5 * 1024 * 1024)
        // h2 closes a connection after 1,024 streams it reset for the server's errors (a
        // server's defence against abusive clients). Here the server is what is measured: each
        // such stream is counted as its own error, and the others on the connection, answered
        // or not yet sent, are not failed with it.
        .max_local_error_reset_streams(None)
        .handshake::<T, Bytes>(io)
        .await?;
    let closed = Rc::new(Cell::new(false));
    let flag = closed.clone();
    let driver: Driver = Box::pin(async move {
        let _ = conn.await;
        flag.set(true);
    });
    Ok(Sender {
        send,
        closed,
        driver: Some(driver),
    })
}

/// How an HTTP/2 exchange failed.
pub enum Failed {
    /// The server provably did not process the request (RFC 9113 §8.7): it was never sent
    /// because the connection is going away, or the server's GOAWAY named a last stream below
    /// it, or it reset the stream with REFUSED_STREAM. Safe to send on a new connection, and
    /// not a request the server saw.
    Refused,
    /// Nothing of a response arrived: the connection may have been closed while idle.
    Unanswered,
    /// The server closed the connection before the response's head (h2 reports the end of
    /// the connection as a broken pipe; a reset connection stays `Unanswered`).
    Closed,
    /// The stream or connection broke after the response started.
    Broken,
    /// The response broke HTTP/2 (the `h2` crate reset the stream or ended the connection for a
    /// protocol, flow-control, frame-size or compression error it found).
    Malformed,
    /// The request could not be expressed.
    Request,
}

/// Send one request as a stream and read its whole response into `resp` (keeping what its
/// capture asks for), built from the request's typed form (`out.typed`).
pub async fn exchange(
    sender: &mut Sender,
    origin: &str,
    out: &Outgoing<'_>,
    resp: &mut Response,
    first_byte: &mut Option<Instant>,
    received: &mut u64,
) -> Result<(), Failed> {
    let Sender {
        send,
        closed,
        driver,
    } = sender;
    let work = stream(send, closed, origin, out, resp, first_byte, received);
    let Some(conn) = driver.as_mut() else {
        return work.await;
    };
    // Drive the connection while this request is in flight.
    let mut work = std::pin::pin!(work);
    let mut conn_done = closed.get();
    std::future::poll_fn(|cx: &mut Context<'_>| {
        if !conn_done && conn.as_mut().poll(cx).is_ready() {
            conn_done = true;
        }
        match work.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            // The connection ended and the stream still waits: it never will be answered.
            Poll::Pending if conn_done => Poll::Ready(Err(Failed::Broken)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    send: &mut ::h2::client::SendRequest<Bytes>,
    closed: &Cell<bool>,
    origin: &str,
    out: &Outgoing<'_>,
    resp: &mut Response,
    first_byte: &mut Option<Instant>,
    received: &mut u64,
) -> Result<(), Failed> {
    let (req, body) = out.typed.h2(origin).ok_or(Failed::Request)?;
    // A request that fails at once (a connection gone away) never waits on anything: without
    // this, VUs failing in a loop would starve the task that notices the connection closed,
    // and the worker's own timer.
    tokio::task::consume_budget().await;
    // These fail only for the connection as a whole (GOAWAY received, or it broke) and before
    // anything of this request was written: no other VU may pick it from the pool again, and
    // the request goes to a new connection.
    let gone = |_| {
        closed.set(true);
        Failed::Refused
    };
    std::future::poll_fn(|cx| send.poll_ready(cx))
        .await
        .map_err(gone)?;
    let (answer, mut tx) = send.send_request(req, body.is_empty()).map_err(gone)?;
    if !body.is_empty() {
        // Buffered by h2 and sent as the peer's window allows.
        tx.send_data(body, true).map_err(|_| Failed::Unanswered)?;
    }
    let answer = answer.await.map_err(|e| {
        if refused(&e) {
            // A GOAWAY: the connection takes no new streams either.
            closed.set(true);
            Failed::Refused
        } else if malformed(&e) {
            Failed::Malformed
        } else if e
            .get_io()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            Failed::Closed
        } else {
            Failed::Unanswered
        }
    })?;
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
    let status = parts.status.as_u16();
    let mut got = 0u64;
    let mut bytes = Vec::new();
    let mut over = false;
    while !body.is_end_stream() {
        let Some(data) = body.data().await else {
            break;
        };
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                // The head arrived: its status is counted with the cut (or malformed) body.
                resp.complete(status, std::mem::take(&mut kept), Vec::new());
                // h2 resets a stream whose DATA ends short of content-length and one that
                // carries more alike (PROTOCOL_ERROR), dropping the DATA frame that overflows:
                // short of it is read as cut short, as on a VU's own connection.
                let short = parts
                    .headers
                    .get(::http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .is_some_and(|l| got < l);
                return Err(if malformed(&e) && !short {
                    Failed::Malformed
                } else {
                    Failed::Broken
                });
            }
        };
        let _ = body.flow_control().release_capacity(data.len());
        *received += data.len() as u64;
        got += data.len() as u64;
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
    resp.complete(status, kept, bytes);
    resp.body_over = over;
    Ok(())
}

/// Did the server say it did not process this stream? A GOAWAY from the peer fails exactly
/// the streams above its last stream id (h2 gives the others their responses or an I/O error),
/// and REFUSED_STREAM means "not processed, retry" (RFC 9113 §8.1.4, §8.7).
fn refused(e: &::h2::Error) -> bool {
    (e.is_go_away() && e.is_remote())
        || (e.is_reset() && e.is_remote() && e.reason() == Some(::h2::Reason::REFUSED_STREAM))
}

/// Did the `h2` crate end the stream (or the connection) because the response broke HTTP/2:
/// uppercase or misplaced header fields, more or less DATA than content-length, a frame on a
/// stream that was never opened, a window overflow, a bad header block (RFC 9113 §5.4, §8.1.1,
/// §8.2; RFC 7541)? The own path names each reason; here h2 says only which kind.
fn malformed(e: &::h2::Error) -> bool {
    use ::h2::Reason;
    e.is_library()
        && matches!(
            e.reason(),
            Some(
                Reason::PROTOCOL_ERROR
                    | Reason::FLOW_CONTROL_ERROR
                    | Reason::FRAME_SIZE_ERROR
                    | Reason::COMPRESSION_ERROR
            )
        )
}
