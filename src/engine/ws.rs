//! WebSocket sessions (`ws:` steps): connect (TCP, TLS), the HTTP/1.1 upgrade (tungstenite's
//! handshake), then the step's actions — send, expect (a message that matches, within a time
//! limit), wait, close. The upgrade is an HTTP request and is recorded as one (status 101, its
//! duration the handshake); the session's own figures go to the step's `WsStats`.

use super::client::ClientConfig;
use crate::metrics::ws::WsSample;
use crate::metrics::{ErrorKind, Sample, TlsReason};
use crate::plan::Want;
use crate::plan::template::Template;
use crate::plan::ws::{WsAction, WsExpect, WsSpec};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// What a session produced.
pub struct Outcome {
    /// The upgrade request.
    pub sample: Sample,
    pub ws: WsSample,
    /// Each `expect` judged: its check id and whether it held.
    pub checks: Vec<(usize, bool)>,
    /// The session happened (the upgrade succeeded).
    pub opened: bool,
}

/// The request of a session: its path (rendered) and extra headers.
pub struct Upgrade<'a> {
    pub path: &'a str,
    pub headers: Vec<(String, Vec<u8>)>,
}

trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// Run one session of `spec`; `render` turns the step's templates into bytes for this VU.
pub async fn session(
    cfg: &ClientConfig,
    index: usize,
    spec: &WsSpec,
    up: Upgrade<'_>,
    render: &mut dyn FnMut(&Template) -> Vec<u8>,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let mut out = Outcome {
        sample: Sample::default(),
        ws: WsSample::default(),
        checks: Vec::new(),
        opened: false,
    };
    let Some(mut ws) = open(cfg, index, &up, spec, deadline, &mut out).await else {
        return out;
    };
    out.opened = true;
    out.ws.connecting = Some(started.elapsed());
    run_actions(&mut ws, spec, deadline, render, &mut out).await;
    out.ws.session = started.elapsed();
    out
}

/// Connect, shake hands (TLS, then the upgrade); the failure is recorded in `out.sample`.
async fn open(
    cfg: &ClientConfig,
    index: usize,
    up: &Upgrade<'_>,
    spec: &WsSpec,
    deadline: Instant,
    out: &mut Outcome,
) -> Option<WebSocketStream<Box<dyn Io + Send>>> {
    let s = &mut out.sample;
    let io = transport(cfg, index, deadline, s).await?;
    let Some(req) = upgrade_request(cfg, up, spec) else {
        s.error = Some(ErrorKind::Protocol);
        return None;
    };
    s.sent = (up.path.len() + 200) as u64;
    let t = Instant::now();
    let r = tokio::time::timeout_at(deadline, tokio_tungstenite::client_async(req, io)).await;
    let took = t.elapsed();
    s.duration = Some(took);
    s.uncorrected = Some(took);
    match r {
        Err(_) => {
            s.error = Some(ErrorKind::RequestTimeout);
            None
        }
        Ok(Err(WsError::Http(resp))) => {
            s.status = Some(resp.status().as_u16());
            s.waiting = Some(took);
            s.error = Some(ErrorKind::Status);
            None
        }
        Ok(Err(WsError::Io(_))) => {
            s.error = Some(ErrorKind::Reset);
            None
        }
        Ok(Err(_)) => {
            s.error = Some(ErrorKind::Protocol);
            None
        }
        Ok(Ok((ws, resp))) => {
            s.status = Some(resp.status().as_u16());
            s.waiting = Some(took);
            s.received = 129;
            Some(ws)
        }
    }
}

/// The session's connection: TCP (timed into `s.connecting`), then TLS when the target is
/// `https://` (timed into `s.tls_handshaking`); a failure is recorded in `s`.
async fn transport(
    cfg: &ClientConfig,
    index: usize,
    deadline: Instant,
    s: &mut Sample,
) -> Option<Box<dyn Io + Send>> {
    if cfg.tunnel.is_some() {
        // CONNECT tunnels are not built for sessions yet (docs/streaming.md).
        s.error = Some(ErrorKind::Proxy);
        return None;
    }
    let addrs = cfg.addrs.get();
    if addrs.is_empty() {
        s.error = Some(ErrorKind::Connect);
        return None;
    }
    let addr = addrs[index % addrs.len()];
    let t = Instant::now();
    let tcp = tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await;
    s.connecting = t.elapsed();
    let tcp = match tcp {
        Err(_) => {
            s.error = Some(ErrorKind::ConnectTimeout);
            return None;
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            s.error = Some(ErrorKind::ConnectRefused);
            return None;
        }
        Ok(Err(_)) => {
            s.error = Some(ErrorKind::Connect);
            return None;
        }
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    let Some(tls) = &cfg.tls else {
        return Some(Box::new(tcp));
    };
    let t = Instant::now();
    let r = tokio::time::timeout_at(
        deadline,
        tls.connector.connect(tls.server_name.clone(), tcp),
    )
    .await;
    s.tls_handshaking = t.elapsed();
    match r {
        Err(_) => {
            s.error = Some(ErrorKind::Tls);
            s.tls_reason = Some(TlsReason::HandshakeTimeout);
            None
        }
        Ok(Err(e)) => {
            s.error = Some(ErrorKind::Tls);
            s.tls_reason = Some(super::tls::classify(&e));
            None
        }
        Ok(Ok(t)) if t.get_ref().1.alpn_protocol() == Some(b"h2") => {
            // WebSockets over HTTP/2 (RFC 8441) are not spoken: the server chose h2.
            s.error = Some(ErrorKind::Protocol);
            None
        }
        Ok(Ok(t)) => Some(Box::new(t)),
    }
}

/// The upgrade request: the session's path on the target, its headers and subprotocols;
/// `None` when the path makes no valid URI.
fn upgrade_request(
    cfg: &ClientConfig,
    up: &Upgrade<'_>,
    spec: &WsSpec,
) -> Option<tokio_tungstenite::tungstenite::handshake::client::Request> {
    let mut req = format!("ws://{}{}", cfg.host, up.path)
        .into_client_request()
        .ok()?;
    for (name, value) in &up.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value),
        ) {
            req.headers_mut().insert(n, v);
        }
    }
    if !spec.subprotocols.is_empty()
        && let Ok(v) = http::HeaderValue::from_str(&spec.subprotocols.join(", "))
    {
        req.headers_mut().insert("sec-websocket-protocol", v);
    }
    Some(req)
}

async fn run_actions<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    spec: &WsSpec,
    deadline: Instant,
    render: &mut dyn FnMut(&Template) -> Vec<u8>,
    out: &mut Outcome,
) {
    // The last send not yet answered by a matching message: the start of a round trip.
    let mut pending: Option<Instant> = None;
    let mut closed = false;
    for action in &spec.actions {
        match action {
            WsAction::Send { binary, body } => {
                let bytes = render(body);
                out.sample.sent += bytes.len() as u64;
                let msg = if *binary {
                    Message::binary(bytes)
                } else {
                    Message::text(String::from_utf8_lossy(&bytes).into_owned())
                };
                // The round trip starts as the send does, not when the write completed.
                let at = Instant::now();
                if timeout(deadline, ws.send(msg)).await.is_none() {
                    fail(out, ErrorKind::Reset);
                    return;
                }
                out.ws.sent += 1;
                pending = Some(at);
            }
            WsAction::Wait(d) => {
                tokio::time::sleep_until((Instant::now() + *d).min(deadline)).await;
            }
            WsAction::Expect(e) => {
                let limit = (Instant::now() + e.timeout).min(deadline);
                match expect(ws, e, limit, render, out).await {
                    Expected::Matched(at) => {
                        out.checks.push((e.check, true));
                        if let Some(sent) = pending.take() {
                            out.ws.rtts.push(at.saturating_duration_since(sent));
                        }
                    }
                    Expected::TimedOut => {
                        out.checks.push((e.check, false));
                        fail(out, ErrorKind::Check);
                    }
                    Expected::Closed(code) => {
                        out.checks.push((e.check, false));
                        fail(out, ErrorKind::Check);
                        out.ws.close = code;
                        closed = true;
                        break;
                    }
                    Expected::Broken => {
                        out.checks.push((e.check, false));
                        fail(out, ErrorKind::Reset);
                        return;
                    }
                }
            }
            WsAction::Close(code) => {
                close(ws, *code, deadline, out).await;
                closed = true;
                break;
            }
        }
    }
    if !closed {
        close(ws, 1000, deadline, out).await;
    }
}

fn fail(out: &mut Outcome, kind: ErrorKind) {
    if out.sample.error.is_none() {
        out.sample.error = Some(kind);
    }
}

async fn timeout<F: std::future::Future<Output = Result<(), WsError>>>(
    deadline: Instant,
    f: F,
) -> Option<()> {
    tokio::time::timeout_at(deadline, f).await.ok()?.ok()
}

enum Expected {
    Matched(Instant),
    TimedOut,
    Closed(Option<u16>),
    Broken,
}

async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    e: &WsExpect,
    limit: Instant,
    render: &mut dyn FnMut(&Template) -> Vec<u8>,
    out: &mut Outcome,
) -> Expected {
    loop {
        let next = match tokio::time::timeout_at(limit, ws.next()).await {
            Err(_) => return Expected::TimedOut,
            Ok(n) => n,
        };
        let at = Instant::now();
        let data: Vec<u8> = match next {
            None => return Expected::Closed(None),
            Some(Err(_)) => return Expected::Broken,
            Some(Ok(Message::Close(frame))) => {
                return Expected::Closed(Some(frame.map_or(1005, |f| u16::from(f.code))));
            }
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(_)) => continue,
        };
        out.ws.received += 1;
        out.sample.received += data.len() as u64;
        if matches(e, &data, render) {
            return Expected::Matched(at);
        }
    }
}

fn matches(e: &WsExpect, data: &[u8], render: &mut dyn FnMut(&Template) -> Vec<u8>) -> bool {
    if let Some(t) = &e.equals
        && render(t) != data
    {
        return false;
    }
    if let Some(t) = &e.contains {
        let want = render(t);
        if !want.is_empty() && !data.windows(want.len()).any(|w| w == want) {
            return false;
        }
    }
    if e.json.is_empty() {
        return true;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    e.json.iter().all(|(path, want)| {
        let found = path.query(&v).first().cloned();
        match (found, want) {
            (Some(f), Want::Value(w)) => f == *w,
            (Some(serde_json::Value::String(f)), Want::Text(t)) => f.as_bytes() == render(t),
            (Some(f), Want::Text(t)) => f.to_string().as_bytes() == render(t).as_slice(),
            (None, _) => false,
        }
    })
}

/// Send a close frame and wait (briefly) for the peer's.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    code: u16,
    deadline: Instant,
    out: &mut Outcome,
) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let limit = (Instant::now() + Duration::from_secs(2)).min(deadline);
    if tokio::time::timeout_at(limit, ws.close(Some(frame)))
        .await
        .is_err()
    {
        out.ws.close = None;
        return;
    }
    out.ws.close = Some(code);
    // Drain until the peer's close frame (or the end of the stream).
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(limit, ws.next()).await {
        if let Message::Close(f) = m {
            if let Some(f) = f {
                out.ws.close = Some(u16::from(f.code));
            }
            break;
        }
    }
}
