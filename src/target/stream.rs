//! The built-in target's streaming endpoints, with known timing so stream metrics can be tested
//! against the truth:
//!
//! | path | what |
//! |---|---|
//! | `/sse?events=N&every=MS&first=MS` | N events `data: tokI`, the first after `first` ms, then one every `every` ms (from the response's start, on an absolute schedule: no drift) |
//! | `/v1/chat/completions` | OpenAI-compatible: with `"stream": true`, a role chunk at once, then `max_tokens` (default 16) content chunks on the same schedule (`?first=&every=` in the query, default 100 and 20 ms), a finish chunk, a `usage` chunk and `data: [DONE]`; without, one JSON completion after the same time |
//!
//! Both take `crlf=1` (CRLF line ends), `nospace=1` (`data:x`, no space) and `comment=1` (a
//! `: keep-alive` comment before each event) to exercise the parser.

use super::Stats;
use bytes::Bytes;
use http::{Response, StatusCode};
use hyper::body::{Body, Frame};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A response body fed by a task, one frame per message.
pub struct ChanBody(mpsc::Receiver<Bytes>);

impl Body for ChanBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// How events are written on the wire.
#[derive(Clone, Copy, Default)]
struct Style {
    crlf: bool,
    nospace: bool,
    comment: bool,
}

impl Style {
    fn from_query(query: &str) -> Self {
        let on = |k| super::query_param(query, k) == Some("1");
        Style {
            crlf: on("crlf"),
            nospace: on("nospace"),
            comment: on("comment"),
        }
    }

    fn event(self, data: &str) -> Bytes {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let sep = if self.nospace { "data:" } else { "data: " };
        let mut s = String::with_capacity(data.len() + 16);
        if self.comment {
            s.push_str(": keep-alive");
            s.push_str(nl);
        }
        for line in data.split('\n') {
            s.push_str(sep);
            s.push_str(line);
            s.push_str(nl);
        }
        s.push_str(nl);
        Bytes::from(s)
    }
}

fn ms_param(query: &str, name: &str, default: u64) -> u64 {
    super::query_param(query, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .min(3_600_000)
}

fn event_stream(rx: mpsc::Receiver<Bytes>) -> Response<ChanBody> {
    let mut r = Response::new(ChanBody(rx));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    r
}

/// Send `events` on the schedule `start + first + i·every`; the first item goes at once when
/// `lead` is given. Stops when the client is gone.
fn spawn_schedule(
    stats: Arc<Stats>,
    lead: Option<Bytes>,
    first: Duration,
    every: Duration,
    events: Vec<Bytes>,
    tail: Vec<Bytes>,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(16);
    let start = Instant::now();
    tokio::spawn(async move {
        if let Some(b) = lead
            && tx.send(b).await.is_err()
        {
            return;
        }
        for (i, b) in events.into_iter().enumerate() {
            tokio::time::sleep_until(start + first + every * i as u32).await;
            if tx.send(b).await.is_err() {
                return;
            }
            stats.sse_events.fetch_add(1, Ordering::Relaxed);
        }
        for b in tail {
            if tx.send(b).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// `/sse?events=N&every=MS&first=MS`.
pub fn sse(query: &str, stats: Arc<Stats>) -> Response<ChanBody> {
    let style = Style::from_query(query);
    let n = ms_param(query, "events", 10).min(1_000_000);
    let first = Duration::from_millis(ms_param(query, "first", 0));
    let every = Duration::from_millis(ms_param(query, "every", 100));
    let events = (0..n).map(|i| style.event(&format!("tok{i}"))).collect();
    event_stream(spawn_schedule(
        stats,
        None,
        first,
        every,
        events,
        Vec::new(),
    ))
}

fn chunk(id: &str, delta: serde_json::Value, finish: Option<&str>) -> String {
    serde_json::json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stampede-echo",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
    .to_string()
}

/// `/v1/chat/completions`, OpenAI's shape, from the request's JSON body.
pub fn chat(query: &str, body: &[u8], stats: Arc<Stats>) -> Response<ChanBody> {
    let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let tokens = req
        .get("max_tokens")
        .or_else(|| req.get("max_completion_tokens"))
        .and_then(|v| v.as_u64())
        .unwrap_or(16)
        .clamp(1, 100_000);
    let prompt_tokens = req
        .get("messages")
        .map_or(0, |m| m.to_string().split_whitespace().count() as u64);
    let first = Duration::from_millis(ms_param(query, "first", 100));
    let every = Duration::from_millis(ms_param(query, "every", 20));
    let id = "chatcmpl-stampede";
    let usage = serde_json::json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": tokens,
        "total_tokens": prompt_tokens + tokens,
    });
    if req.get("stream").and_then(|s| s.as_bool()) != Some(true) {
        let text: Vec<String> = (0..tokens).map(|i| format!("tok{i}")).collect();
        let done = serde_json::json!({
            "id": id,
            "object": "chat.completion",
            "created": 0,
            "model": "stampede-echo",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text.join(" ")},
                "finish_reason": "length"}],
            "usage": usage,
        })
        .to_string();
        let wait = first + every * (tokens - 1) as u32;
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = tx.send(Bytes::from(done)).await;
        });
        let mut r = Response::new(ChanBody(rx));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        return r;
    }
    let style = Style::from_query(query);
    let lead = style.event(&chunk(
        id,
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    ));
    let events = (0..tokens)
        .map(|i| {
            let t = if i == 0 {
                format!("tok{i}")
            } else {
                format!(" tok{i}")
            };
            style.event(&chunk(id, serde_json::json!({ "content": t }), None))
        })
        .collect();
    let usage_chunk = serde_json::json!({
        "id": id, "object": "chat.completion.chunk", "created": 0, "model": "stampede-echo",
        "choices": [], "usage": usage,
    })
    .to_string();
    let tail = vec![
        style.event(&chunk(id, serde_json::json!({}), Some("length"))),
        style.event(&usage_chunk),
        style.event("[DONE]"),
    ];
    event_stream(spawn_schedule(
        stats,
        Some(lead),
        first,
        every,
        events,
        tail,
    ))
}

/// A 405 for a chat request that is not a POST.
pub fn method_not_allowed() -> Response<ChanBody> {
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(Bytes::from_static(b"POST only"));
    let mut r = Response::new(ChanBody(rx));
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// `/ws`: a WebSocket echo (each text or binary message sent back, after `?delay=MS`), and with
/// `?push=N&every=MS` the server first pushes N text messages `pushI`, one every MS. Messages in
/// and out are counted in `/__stats` (`ws_in`, `ws_out`).
pub fn ws(req: http::Request<hyper::body::Incoming>, stats: Arc<Stats>) -> Response<ChanBody> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    let (tx, rx) = mpsc::channel(1);
    drop(tx);
    let empty = |status| {
        let mut r = Response::new(ChanBody(mpsc::channel(1).1));
        *r.status_mut() = status;
        r
    };
    let is_upgrade = req
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return empty(StatusCode::BAD_REQUEST);
    };
    if !is_upgrade {
        return empty(StatusCode::BAD_REQUEST);
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let delay = Duration::from_millis(ms_param(&query, "delay", 0));
    let push = ms_param(&query, "push", 0).min(1_000_000);
    let every = Duration::from_millis(ms_param(&query, "every", 100));
    let protocol = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_string());
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            io,
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        serve_ws(ws, stats, delay, push, every).await;
    });
    let mut r = Response::new(ChanBody(rx));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert("sec-websocket-accept", v);
    }
    if let Some(p) = protocol.and_then(|p| http::HeaderValue::from_str(&p).ok()) {
        h.insert("sec-websocket-protocol", p);
    }
    r
}

async fn serve_ws<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    stats: Arc<Stats>,
    delay: Duration,
    push: u64,
    every: Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut tx, mut rx) = ws.split();
    let start = Instant::now();
    for i in 0..push {
        tokio::time::sleep_until(start + every * i as u32).await;
        if tx.send(Message::text(format!("push{i}"))).await.is_err() {
            return;
        }
        stats.ws_out.fetch_add(1, Ordering::Relaxed);
    }
    while let Some(Ok(m)) = rx.next().await {
        let reply = match m {
            Message::Text(_) | Message::Binary(_) => m,
            Message::Close(_) => break,
            _ => continue,
        };
        stats.ws_in.fetch_add(1, Ordering::Relaxed);
        if !delay.is_zero() {
            let t = Instant::now();
            tokio::time::sleep(delay).await;
            if let Ok(mut h) = stats.ws_hold_us.lock()
                && h.len() < 1_000_000
            {
                h.push(t.elapsed().as_micros() as u64);
            }
        }
        if tx.send(reply).await.is_err() {
            return;
        }
        stats.ws_out.fetch_add(1, Ordering::Relaxed);
    }
    let _ = tx.close().await;
}
