//! The per-VU HTTP/2 connection (`h2vu`, `h2read`) against scripted servers on loopback: each
//! test's server reads the client's frames and answers with exactly the bytes the case needs,
//! well-formed or hostile, whole or one byte per write.

use super::client::Scratch;
use super::h2frame::{self as f, Head};
use super::h2vu::{Conn, Failed, Io, exchange};
use super::hpack::encode_field;
use super::http1::{Capture, Response};
use super::request::{H2Request, Outgoing, Typed};
use crate::metrics::protocol::ProtocolError;
use crate::plan::Step;
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn step(method: Method, body: &str) -> Step {
    super::request::test_step(method, "/x?q=1", &[], body)
}

/// What the client sent for one request: its stream id, header block and body.
#[derive(Debug, Default)]
struct Seen {
    stream: u32,
    block: Vec<u8>,
    body: Vec<u8>,
    /// Every frame type seen while reading it (SETTINGS, WINDOW_UPDATE, PING acks ...).
    kinds: Vec<u8>,
}

/// The server's side: reads the preface (once) and frames until a request's END_STREAM.
struct Server {
    sock: TcpStream,
    buf: Vec<u8>,
    preface: bool,
}

impl Server {
    async fn accept(l: &TcpListener) -> Server {
        let (sock, _) = l.accept().await.unwrap();
        Server {
            sock,
            buf: Vec::new(),
            preface: false,
        }
    }

    async fn fill(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            let mut b = [0u8; 4096];
            match self.sock.read(&mut b).await {
                Ok(0) | Err(_) => return false,
                Ok(k) => self.buf.extend_from_slice(&b[..k]),
            }
        }
        true
    }

    async fn frame(&mut self) -> Option<(Head, Vec<u8>)> {
        if !self.preface {
            assert!(self.fill(f::PREFACE.len()).await);
            assert_eq!(&self.buf[..f::PREFACE.len()], f::PREFACE);
            self.buf.drain(..f::PREFACE.len());
            self.preface = true;
        }
        if !self.fill(9).await {
            return None;
        }
        let h = Head::parse(&self.buf).unwrap();
        if !self.fill(9 + h.len).await {
            return None;
        }
        let payload = self.buf[9..9 + h.len].to_vec();
        self.buf.drain(..9 + h.len);
        Some((h, payload))
    }

    /// Read one whole request; `None` if the client closed first.
    async fn request(&mut self) -> Option<Seen> {
        let mut seen = Seen::default();
        loop {
            let (h, p) = self.frame().await?;
            seen.kinds.push(h.kind);
            match h.kind {
                f::HEADERS | f::CONTINUATION => {
                    seen.stream = h.stream;
                    seen.block.extend_from_slice(&p);
                }
                f::DATA => seen.body.extend_from_slice(&p),
                _ => {}
            }
            if matches!(h.kind, f::HEADERS | f::DATA) && h.flags & f::END_STREAM != 0 {
                return Some(seen);
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).await.unwrap();
    }

    /// One byte per write: every frame arrives cut at every place.
    async fn trickle(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.sock.write_all(&[*b]).await.unwrap();
            self.sock.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
    }
}

fn headers(stream: u32, fields: &[(&str, &str)], flags: u8) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in fields {
        encode_field(&mut block, n.as_bytes(), v.as_bytes());
    }
    let mut out = Vec::new();
    f::head(
        &mut out,
        block.len(),
        f::HEADERS,
        flags | f::END_HEADERS,
        stream,
    );
    out.extend_from_slice(&block);
    out
}

fn data(stream: u32, body: &[u8], end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    f::data(&mut out, stream, body, end);
    out
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    f::head(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

fn ok_response(stream: u32, body: &str) -> Vec<u8> {
    let len = body.len().to_string();
    let mut r = headers(stream, &[(":status", "200"), ("content-length", &len)], 0);
    r.extend(data(stream, body.as_bytes(), true));
    r
}

/// A client connection and what one request needs.
struct Client {
    conn: Box<Conn>,
    scratch: Scratch,
    origin: String,
}

struct Got {
    result: Result<(), Failed>,
    resp: Response,
    received: u64,
}

impl Client {
    async fn new(l: &TcpListener) -> Client {
        let addr = l.local_addr().unwrap();
        let sock = TcpStream::connect(addr).await.unwrap();
        Client {
            conn: Conn::new(Io::Plain(sock)),
            scratch: Scratch::new(),
            origin: format!("http://{addr}"),
        }
    }

    async fn send(&mut self, step: &Step) -> Got {
        let req = H2Request::from_step(step, &self.origin).unwrap();
        let capture = Capture {
            headers: true,
            body: true,
            ..Capture::default()
        };
        let out = Outgoing {
            wire: b"",
            typed: Typed::Built(&req, None),
            head: step.method == Method::HEAD,
            expect_status: None,
            capture,
            written: None,
            stream: None,
            timeout: None,
            scan: None,
        };
        let mut resp = Response::capturing(capture);
        resp.max_header_lines = 256;
        let (mut first, mut received, mut sent) = (None, 0, 0);
        let result = exchange(
            &mut self.conn,
            &self.scratch,
            &self.origin,
            &out,
            &mut resp,
            &mut first,
            (&mut received, &mut sent),
        )
        .await;
        Got {
            result,
            resp,
            received,
        }
    }
}

async fn pair() -> (TcpListener, Client) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = Client::new(&l).await;
    (l, c)
}

#[tokio::test]
async fn requests_go_as_odd_streams_and_responses_are_read_whole() {
    let (l, mut c) = pair().await;
    let server = tokio::spawn(async move {
        let mut s = Server::accept(&l).await;
        let mut ids = Vec::new();
        for body in ["hello", "", "third"] {
            let seen = s.request().await.unwrap();
            ids.push(seen.stream);
            s.send(&ok_response(seen.stream, body)).await;
        }
        ids
    });
    let get = step(Method::GET, "");
    for (i, body) in ["hello", "", "third"].into_iter().enumerate() {
        let got = c.send(&get).await;
        assert_eq!(got.result, Ok(()));
        assert_eq!(got.resp.status, 200);
        assert_eq!(got.resp.body_bytes, body.as_bytes());
        assert!(!got.resp.close);
        if i < 2 {
            assert!(c.conn.alive());
        }
    }
    assert_eq!(server.await.unwrap(), vec![1, 3, 5]);
    // The server closed after its third answer: the connection is not reused.
    let gone = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while c.conn.alive() {
        assert!(tokio::time::Instant::now() < gone, "close not noticed");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_response_cut_at_every_byte_reads_the_same() {
    let (l, mut c) = pair().await;
    let server = tokio::spawn(async move {
        let mut s = Server::accept(&l).await;
        let seen = s.request().await.unwrap();
        let mut r = frame(f::SETTINGS, 0, 0, &[0, 5, 0, 0, 0x40, 0]);
        r.extend(headers(seen.stream, &[(":status", "100")], 0));
        r.extend(headers(
            seen.stream,
            &[(":status", "404"), ("x-a", "b"), ("content-length", "6")],
            0,
        ));
        r.extend(data(seen.stream, b"not", false));
        r.extend(frame(
            f::DATA,
            f::PADDED,
            seen.stream,
            &[2, b' ', b'i', b't', 0, 0],
        ));
        r.extend(headers(seen.stream, &[("x-trailer", "t")], f::END_STREAM));
        s.trickle(&r).await;
        s.request().await
    });
    let got = c.send(&step(Method::GET, "")).await;
    assert_eq!(got.result, Ok(()));
    assert_eq!(got.resp.status, 404);
    assert_eq!(got.resp.body_bytes, b"not it");
    assert_eq!(
        got.resp.headers,
        vec![
            ("x-a".to_string(), b"b".to_vec()),
            ("content-length".to_string(), b"6".to_vec())
        ]
    );
    assert!(got.received > 30);
    // The SETTINGS was acknowledged (with the next request's frames at the latest).
    let _ = c.send(&step(Method::GET, "")).await;
    drop(c);
    let next = server.await.unwrap().unwrap_or_default();
    assert!(next.kinds.contains(&f::SETTINGS), "{:?}", next.kinds);
}

#[tokio::test]
async fn a_body_larger_than_the_window_waits_for_window_updates() {
    let (l, mut c) = pair().await;
    let body = "z".repeat(200_000);
    let server = tokio::spawn(async move {
        let mut s = Server::accept(&l).await;
        let mut got = Vec::new();
        let mut stream = 0;
        loop {
            let (h, p) = s.frame().await.unwrap();
            if h.kind == f::HEADERS {
                stream = h.stream;
            }
            if h.kind == f::DATA {
                got.extend_from_slice(&p);
                // Open the windows again as each 16 KiB frame arrives.
                let mut w = Vec::new();
                f::window_update(&mut w, 0, p.len() as u32);
                f::window_update(&mut w, stream, p.len() as u32);
                if !p.is_empty() {
                    s.send(&w).await;
                }
                if h.flags & f::END_STREAM != 0 {
                    break;
                }
            }
        }
        s.send(&ok_response(stream, "ok")).await;
        got.len()
    });
    let got = c.send(&step(Method::POST, &body)).await;
    assert_eq!(got.result, Ok(()));
    assert_eq!(got.resp.body_bytes, b"ok");
    assert_eq!(server.await.unwrap(), 200_000);
}

/// Send `reply` (after reading the request) and return the client's result.
async fn answer(reply: fn(u32) -> Vec<u8>) -> Got {
    let (l, mut c) = pair().await;
    let server = tokio::spawn(async move {
        let mut s = Server::accept(&l).await;
        let seen = s.request().await.unwrap();
        s.send(&reply(seen.stream)).await;
        // Close: the connection ends after the reply.
    });
    let got = c.send(&step(Method::GET, "")).await;
    server.await.unwrap();
    got
}

fn h2_error(reason: &'static str) -> Result<(), Failed> {
    Err(Failed::Protocol(ProtocolError::H2(reason)))
}

#[tokio::test]
async fn refusals_failures_and_violations_are_told_apart() {
    let goaway = |_| frame(f::GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(answer(goaway).await.result, Err(Failed::Refused));
    let refused = |s| frame(f::RST_STREAM, 0, s, &f::REFUSED_STREAM.to_be_bytes());
    assert_eq!(answer(refused).await.result, Err(Failed::Refused));
    let reset = |s| frame(f::RST_STREAM, 0, s, &2u32.to_be_bytes());
    assert_eq!(answer(reset).await.result, Err(Failed::Reset));
    let cut = |s| {
        let mut r = headers(s, &[(":status", "200"), ("content-length", "10")], 0);
        r.extend(data(s, b"abc", false));
        r
    };
    let got = answer(cut).await;
    assert_eq!(got.result, Err(Failed::Truncated));
    assert_eq!(got.resp.status, 200);
    assert_eq!(answer(|_| Vec::new()).await.result, Err(Failed::NoResponse));
    let short = |s| {
        let mut r = headers(s, &[(":status", "200"), ("content-length", "10")], 0);
        r.extend(data(s, b"abc", true));
        r
    };
    assert_eq!(answer(short).await.result, Err(Failed::Truncated));
    let long = |s| {
        let mut r = headers(s, &[(":status", "200"), ("content-length", "2")], 0);
        r.extend(data(s, b"abc", true));
        r
    };
    assert_eq!(
        answer(long).await.result,
        h2_error("more DATA than content-length")
    );
    let big = |_| {
        let mut r = Vec::new();
        f::head(&mut r, 16_385, f::DATA, 0, 1);
        r.extend(vec![0; 16_385]);
        r
    };
    assert_eq!(
        answer(big).await.result,
        h2_error("frame larger than SETTINGS_MAX_FRAME_SIZE")
    );
    let push = |s| frame(f::PUSH_PROMISE, f::END_HEADERS, s, &[0, 0, 0, 2, 0x88]);
    assert_eq!(
        answer(push).await.result,
        h2_error("PUSH_PROMISE with push disabled")
    );
    let no_status = |s| headers(s, &[("x", "y")], f::END_STREAM);
    assert_eq!(
        answer(no_status).await.result,
        h2_error("response without :status")
    );
    let bad_hpack = |s| {
        frame(
            f::HEADERS,
            f::END_HEADERS | f::END_STREAM,
            s,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        )
    };
    assert_eq!(
        answer(bad_hpack).await.result,
        h2_error("HPACK decoding failed")
    );
    let early_data = |s| data(s, b"x", true);
    assert_eq!(
        answer(early_data).await.result,
        h2_error("DATA before the response's HEADERS")
    );
    let switching = |s| headers(s, &[(":status", "101")], 0);
    assert_eq!(
        answer(switching).await.result,
        h2_error("101 Switching Protocols over HTTP/2")
    );
    let server_stream = |_| headers(2, &[(":status", "200")], f::END_STREAM);
    assert_eq!(
        answer(server_stream).await.result,
        h2_error("frame on a stream the client did not open")
    );
}

#[tokio::test]
async fn a_goaway_above_the_stream_still_delivers_its_response_and_closes() {
    let (l, mut c) = pair().await;
    let server = tokio::spawn(async move {
        let mut s = Server::accept(&l).await;
        let seen = s.request().await.unwrap();
        let mut r = frame(f::PING, 0, 0, b"12345678");
        r.extend(frame(f::GOAWAY, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]));
        r.extend(ok_response(seen.stream, "last"));
        s.send(&r).await;
        // The PING is acknowledged.
        loop {
            let (h, p) = s.frame().await.unwrap();
            if h.kind == f::PING {
                return (h.flags, p);
            }
        }
    });
    let got = c.send(&step(Method::GET, "")).await;
    assert_eq!(got.result, Ok(()));
    assert_eq!(got.resp.body_bytes, b"last");
    assert!(got.resp.close, "no new stream after a GOAWAY");
    assert!(!c.conn.alive());
    assert_eq!(server.await.unwrap(), (f::ACK, b"12345678".to_vec()));
}

#[tokio::test]
async fn a_header_block_in_continuations_is_joined() {
    let (l, mut c) = pair().await;
    tokio::spawn(async move {
        let mut s = Server::accept(&l).await;
        let seen = s.request().await.unwrap();
        let mut block = Vec::new();
        encode_field(&mut block, b":status", b"200");
        encode_field(&mut block, b"x-long", "v".repeat(100).as_bytes());
        let mut r = frame(f::HEADERS, f::END_STREAM, seen.stream, &block[..10]);
        r.extend(frame(f::CONTINUATION, 0, seen.stream, &block[10..50]));
        r.extend(frame(
            f::CONTINUATION,
            f::END_HEADERS,
            seen.stream,
            &block[50..],
        ));
        s.send(&r).await;
        let _ = s.request().await;
    });
    let got = c.send(&step(Method::GET, "")).await;
    assert_eq!(got.result, Ok(()));
    assert_eq!(
        got.resp.headers,
        vec![("x-long".to_string(), "v".repeat(100).into_bytes())]
    );
}

#[tokio::test]
async fn an_answered_stream_is_never_refused_and_trailers_hide_no_short_body() {
    // A GOAWAY naming no stream, after the head: the server did process the request (its head
    // proves it), so the request is not sent again; the closed connection cut its body.
    let lie = |s| {
        let mut r = headers(s, &[(":status", "200"), ("content-length", "10")], 0);
        r.extend(data(s, b"abc", false));
        r.extend(frame(f::GOAWAY, 0, 0, &[0; 8]));
        r
    };
    assert_eq!(answer(lie).await.result, Err(Failed::Truncated));
    let trailed = |s| {
        let mut r = headers(s, &[(":status", "200"), ("content-length", "10")], 0);
        r.extend(data(s, b"abc", false));
        r.extend(headers(s, &[("x-t", "1")], f::END_STREAM));
        r
    };
    assert_eq!(answer(trailed).await.result, Err(Failed::Truncated));
    let upper = |s| headers(s, &[(":status", "200"), ("X-Up", "1")], f::END_STREAM);
    assert_eq!(
        answer(upper).await.result,
        h2_error("uppercase header field name")
    );
    let late = |s| headers(s, &[("x", "1"), (":status", "200")], f::END_STREAM);
    assert_eq!(
        answer(late).await.result,
        h2_error("pseudo-header after a regular field or in trailers")
    );
}

#[tokio::test]
async fn a_goaway_then_an_abortive_close_during_the_body_is_still_a_refusal() {
    // The server refuses the POST on its HEADERS (GOAWAY naming no stream) and closes with the
    // body unread, so the kernel resets the connection: the client's next write may fail before
    // it read the GOAWAY. Either way the request was not processed and goes to a new connection.
    let body = "p".repeat(4_000_000);
    for _ in 0..20 {
        let (l, mut c) = pair().await;
        let server = tokio::spawn(async move {
            let mut s = Server::accept(&l).await;
            loop {
                let (h, _) = s.frame().await.unwrap();
                if h.kind == f::HEADERS {
                    break;
                }
            }
            // Wide windows first, so the body streams until the connection is reset.
            let mut w = frame(f::SETTINGS, 0, 0, &[0, 4, 0x7f, 0xff, 0xff, 0xff]);
            f::window_update(&mut w, 0, 1 << 30);
            s.send(&w).await;
            for _ in 0..3 {
                s.frame().await.unwrap();
            }
            s.send(&frame(f::GOAWAY, 0, 0, &[0; 8])).await;
        });
        let got = c.send(&step(Method::POST, &body)).await;
        server.await.unwrap();
        assert_eq!(got.result, Err(Failed::Refused));
    }
}
