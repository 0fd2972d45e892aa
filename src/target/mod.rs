//! The built-in target: a small HTTP/1.1 server on loopback with endpoints whose latency and
//! errors are known, so demos and tests need nothing else.
//!
//! | path | answers |
//! |---|---|
//! | `/fast` | 200 `ok` at once |
//! | `/delay?ms=N[&jitter=J]` | 200 after N ms (plus a uniform 0..J ms) |
//! | `/status?code=N[&rate=F]` | status N (with `rate`, only for a fraction F of requests, else 200) |
//! | `/json` | a small JSON document (gzip or deflate when Accept-Encoding asks for it) |
//! | `/echo` | the request body back, with its content type |
//! | `/reset` | closes the connection without answering |
//! | `/close` | 200 `bye` with `Connection: close`, then closes the connection |
//! | `POST /login` | JSON `{"user", "password"}` → `{"token"}` and a `session` cookie |
//! | `/me` | 200 `{"user"}` with `Authorization: Bearer <token from /login>`, else 401 |
//! | `/session` | 200 `{"user"}` with the `session` cookie from /login, else 401 |
//! | `/basic` | 200 `{"user"}` with any basic auth, else 401 |
//! | `/seen?key=K` | 200; counts K (in `/__stats` `seen`) |
//! | `/redirect?to=PATH[&code=N]` | redirect (default 302) to PATH |
//! | `/__stats` | JSON counts of the requests served, by path (not counted itself) and HTTP version, and of connections: accepted, most open at once, by source address; with `--tls`, handshakes (full and resumed), TLS versions and ALPN protocols |
//! | `/__reset` | zeroes those counts |

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

mod stream;
pub mod tls;

/// Counts of what the target served.
#[derive(Default)]
pub struct Stats {
    total: AtomicU64,
    by_path: Mutex<BTreeMap<String, u64>>,
    /// Connections accepted, open now, the most open at once, and accepted by source address.
    connections: AtomicU64,
    open: AtomicU64,
    open_peak: AtomicU64,
    by_peer: Mutex<BTreeMap<String, u64>>,
    /// `/seen?key=K` counts by K.
    seen: Mutex<BTreeMap<String, u64>>,
    /// Requests by HTTP version (`HTTP/1.1`, `HTTP/2.0`).
    http_versions: Mutex<BTreeMap<String, u64>>,
    /// TLS handshakes completed, of which resumed; failed handshakes.
    tls_handshakes: AtomicU64,
    tls_resumed: AtomicU64,
    tls_failed: AtomicU64,
    /// Completed handshakes by TLS version (`TLSv1_3`) and by ALPN protocol (`h2`, `http/1.1`,
    /// `none`).
    tls_versions: Mutex<BTreeMap<String, u64>>,
    alpn: Mutex<BTreeMap<String, u64>>,
    /// Events sent on `/sse` and `/v1/chat/completions` streams (content events only).
    sse_events: AtomicU64,
    /// WebSocket messages received and sent on `/ws`.
    ws_in: AtomicU64,
    ws_out: AtomicU64,
    /// How long `/ws?delay=` really held each reply, in µs (the truth a round trip is checked
    /// against: the timer fires on whole milliseconds); the first million.
    ws_hold_us: Mutex<Vec<u64>>,
}

fn bump(m: &Mutex<BTreeMap<String, u64>>, key: &str) {
    if let Ok(mut m) = m.lock() {
        *m.entry(key.to_string()).or_default() += 1;
    }
}

fn read(m: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    m.lock().map(|m| m.clone()).unwrap_or_default()
}

fn clear(m: &Mutex<BTreeMap<String, u64>>) {
    if let Ok(mut m) = m.lock() {
        m.clear();
    }
}

/// Counts a connection as open while it lives.
struct OpenConn(Arc<Stats>);

impl OpenConn {
    fn new(stats: Arc<Stats>, peer: std::net::IpAddr) -> Self {
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let now = stats.open.fetch_add(1, Ordering::Relaxed) + 1;
        stats.open_peak.fetch_max(now, Ordering::Relaxed);
        if let Ok(mut m) = stats.by_peer.lock() {
            *m.entry(peer.to_string()).or_default() += 1;
        }
        OpenConn(stats)
    }
}

impl std::ops::Drop for OpenConn {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn count(&self, path: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.by_path.lock() {
            *m.entry(path.to_string()).or_default() += 1;
        }
    }

    fn see(&self, key: &str) {
        if let Ok(mut m) = self.seen.lock() {
            *m.entry(key.to_string()).or_default() += 1;
        }
    }

    /// Count a completed TLS handshake: version, ALPN protocol, full or resumed.
    fn handshake(&self, version: &str, alpn: &str, resumed: bool) {
        self.tls_handshakes.fetch_add(1, Ordering::Relaxed);
        if resumed {
            self.tls_resumed.fetch_add(1, Ordering::Relaxed);
        }
        bump(&self.tls_versions, version);
        bump(&self.alpn, alpn);
    }

    /// The median of the real `/ws?delay=` holds, if any.
    fn ws_hold_p50_us(&self) -> Option<u64> {
        let mut v = self.ws_hold_us.lock().ok()?.clone();
        if v.is_empty() {
            return None;
        }
        let mid = v.len() / 2;
        Some(*v.select_nth_unstable(mid).1)
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "requests": self.total(),
            "by_path": read(&self.by_path),
            "http_versions": read(&self.http_versions),
            "connections": self.connections.load(Ordering::Relaxed),
            "open_peak": self.open_peak.load(Ordering::Relaxed),
            "by_peer": read(&self.by_peer),
            "seen": read(&self.seen),
            "tls_handshakes": self.tls_handshakes.load(Ordering::Relaxed),
            "tls_resumed": self.tls_resumed.load(Ordering::Relaxed),
            "tls_failed": self.tls_failed.load(Ordering::Relaxed),
            "tls_versions": read(&self.tls_versions),
            "alpn": read(&self.alpn),
            "sse_events": self.sse_events.load(Ordering::Relaxed),
            "ws_in": self.ws_in.load(Ordering::Relaxed),
            "ws_out": self.ws_out.load(Ordering::Relaxed),
            "ws_hold_p50_us": self.ws_hold_p50_us(),
        })
        .to_string()
    }

    fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        if let Ok(mut m) = self.by_path.lock() {
            m.clear();
        }
        self.connections.store(0, Ordering::Relaxed);
        self.open_peak
            .store(self.open.load(Ordering::Relaxed), Ordering::Relaxed);
        if let Ok(mut m) = self.by_peer.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.seen.lock() {
            m.clear();
        }
        clear(&self.http_versions);
        self.tls_handshakes.store(0, Ordering::Relaxed);
        self.sse_events.store(0, Ordering::Relaxed);
        self.ws_in.store(0, Ordering::Relaxed);
        self.ws_out.store(0, Ordering::Relaxed);
        if let Ok(mut h) = self.ws_hold_us.lock() {
            h.clear();
        }
        self.tls_resumed.store(0, Ordering::Relaxed);
        self.tls_failed.store(0, Ordering::Relaxed);
        clear(&self.tls_versions);
        clear(&self.alpn);
    }
}

/// Hold every response during the first `hold` of every `every` (counting from the target's
/// start): a stalling service, for testing honest latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    pub hold: Duration,
    pub every: Duration,
}

impl Stall {
    /// Parse `HOLD/EVERY`, e.g. `1s/5s`.
    pub fn parse(s: &str) -> Result<Stall, String> {
        let bad = || {
            format!("`{s}`: a stall is HOLD/EVERY, e.g. `1s/5s` (hold responses 1 s in every 5 s)")
        };
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let hold =
            crate::units::duration::parse_duration(a).map_err(|e| format!("{}: {e}", bad()))?;
        let every =
            crate::units::duration::parse_duration(b).map_err(|e| format!("{}: {e}", bad()))?;
        if every.is_zero() || hold >= every {
            return Err(format!(
                "`{s}`: HOLD must be shorter than EVERY, and EVERY above zero"
            ));
        }
        Ok(Stall { hold, every })
    }

    /// How long a request arriving `since_start` into the target's life must wait.
    pub fn wait(&self, since_start: Duration) -> Duration {
        let every = self.every.as_nanos();
        let phase = Duration::from_nanos((since_start.as_nanos() % every) as u64);
        self.hold.saturating_sub(phase)
    }
}

/// `/work`: a service with a known limit. At most `slots` requests are in service at once, each
/// for exactly `time`; the rest queue. Throughput saturates at `slots / time` requests per second
/// and latency grows without bound beyond it, which makes capacity tests checkable.
///
/// Each slot keeps the instant it next falls free; a request takes the earliest, is served from
/// `max(now, free)` for `time`, and its response leaves at the end of that. Completion times come
/// from this schedule, not from when the timer fired, so timer granularity adds a little latency
/// but never lowers the limit.
#[derive(Debug)]
pub struct Work {
    slots: std::sync::Mutex<Vec<std::time::Instant>>,
    time: Duration,
}

impl Work {
    pub fn new(slots: u32, time: Duration) -> Work {
        let now = std::time::Instant::now();
        Work {
            slots: std::sync::Mutex::new(vec![now; slots.max(1) as usize]),
            time,
        }
    }

    /// Requests per second at which `/work` saturates.
    pub fn limit(&self) -> f64 {
        let n = self.slots.lock().map_or(1, |s| s.len());
        n as f64 / self.time.as_secs_f64().max(1e-9)
    }

    /// When a request arriving now leaves: books the earliest free slot.
    fn book(&self) -> std::time::Instant {
        let now = std::time::Instant::now();
        let Ok(mut slots) = self.slots.lock() else {
            return now + self.time;
        };
        let Some(earliest) = slots.iter_mut().min() else {
            return now + self.time;
        };
        let done = (*earliest).max(now) + self.time;
        *earliest = done;
        done
    }

    async fn serve(&self) {
        let done = self.book();
        tokio::time::sleep_until(tokio::time::Instant::from_std(done)).await;
    }
}

impl Default for Work {
    fn default() -> Self {
        Work::new(4, Duration::from_millis(3))
    }
}

/// A bound target, ready to serve.
pub struct Target {
    listener: TcpListener,
    pub stats: Arc<Stats>,
    stall: Option<(Stall, std::time::Instant)>,
    work: Arc<Work>,
    /// Serve HTTPS (HTTP/1.1 or HTTP/2 by ALPN).
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Serve HTTP/2 over cleartext (h2c, prior knowledge) besides HTTP/1.1.
    h2c: bool,
    /// Print a line per TLS connection (version, ALPN, resumed).
    log_connections: bool,
}

impl Target {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Target> {
        // A deep accept queue (the kernel caps it at net.core.somaxconn) so a burst of connects
        // from thousands of VUs starting at once is queued rather than dropped.
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(65535)?;
        Ok(Target {
            listener,
            stats: Arc::new(Stats::default()),
            stall: None,
            work: Arc::new(Work::default()),
            tls: None,
            h2c: false,
            log_connections: false,
        })
    }

    /// Serve HTTPS with this acceptor.
    pub fn tls(mut self, acceptor: Option<tokio_rustls::TlsAcceptor>) -> Self {
        self.tls = acceptor;
        self
    }

    /// Accept HTTP/2 over cleartext too.
    pub fn h2c(mut self, on: bool) -> Self {
        self.h2c = on;
        self
    }

    pub fn log_connections(mut self, on: bool) -> Self {
        self.log_connections = on;
        self
    }

    /// Stall every response as `stall` says, from now on.
    pub fn stall(mut self, stall: Option<Stall>) -> Self {
        self.stall = stall.map(|s| (s, std::time::Instant::now()));
        self
    }

    /// Serve `/work` with this capacity.
    pub fn work(mut self, work: Work) -> Self {
        self.work = Arc::new(work);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until the task is dropped.
    pub async fn serve(self) {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(s) => s,
                Err(_) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let stats = self.stats.clone();
            let stall = self.stall;
            let tls = self.tls.clone();
            let h2c = self.h2c;
            let log = self.log_connections;
            let work = self.work.clone();
            tokio::spawn(async move {
                let _open = OpenConn::new(stats.clone(), peer.ip());
                let Some(acceptor) = tls else {
                    let proto = if h2c { Proto::Auto } else { Proto::Http1 };
                    serve_connection(stream, proto, stats, stall, work).await;
                    return;
                };
                let accepted =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                let stream = match accepted {
                    Ok(Ok(s)) => s,
                    // Closed before a ClientHello: a reachability probe (stampede's preflight
                    // connects and closes), not a failed handshake.
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
                    _ => {
                        stats.tls_failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let (_, conn) = stream.get_ref();
                let version = tls::version_name(conn.protocol_version());
                let alpn = conn.alpn_protocol().map_or("none".to_string(), |p| {
                    String::from_utf8_lossy(p).into_owned()
                });
                let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                stats.handshake(&version, &alpn, resumed);
                if log {
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stdout(),
                        "tls connection from {peer}: {version}, alpn {alpn}, {} handshake",
                        if resumed { "resumed" } else { "full" }
                    );
                }
                let proto = if alpn == "h2" {
                    Proto::Http2
                } else {
                    Proto::Http1
                };
                serve_connection(stream, proto, stats, stall, work).await;
            });
        }
    }
}

/// Which HTTP a connection speaks.
#[derive(Clone, Copy)]
enum Proto {
    Http1,
    Http2,
    /// HTTP/1.1, or HTTP/2 when the client starts with its preface (h2c).
    Auto,
}

/// Serve one connection until it closes.
async fn serve_connection<I>(
    io: I,
    proto: Proto,
    stats: Arc<Stats>,
    stall: Option<(Stall, std::time::Instant)>,
    work: Arc<Work>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let stats = stats.clone();
        let work = work.clone();
        async move {
            if req.uri().path() == "/work" {
                work.serve().await;
            }
            if let Some((stall, since)) = stall {
                let wait = stall.wait(since.elapsed());
                if !wait.is_zero() && !req.uri().path().starts_with("/__") {
                    tokio::time::sleep(wait).await;
                }
            }
            match req.uri().path() {
                "/ws" => {
                    bump(&stats.http_versions, &format!("{:?}", req.version()));
                    stats.count("/ws");
                    Ok(stream::ws(req, stats).map(Either::Right))
                }
                "/sse" | "/v1/chat/completions" => {
                    Ok(streaming(req, stats).await.map(Either::Right))
                }
                _ => handle(req, stats).await.map(|r| r.map(Either::Left)),
            }
        }
    });
    let io = TokioIo::new(io);
    let exec = hyper_util::rt::TokioExecutor::new();
    let _ = match proto {
        Proto::Http1 => hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, svc)
            .with_upgrades()
            .await
            .map_err(|e| e.to_string()),
        Proto::Http2 => hyper::server::conn::http2::Builder::new(exec)
            .serve_connection(io, svc)
            .await
            .map_err(|e| e.to_string()),
        Proto::Auto => hyper_util::server::conn::auto::Builder::new(exec)
            .serve_connection_with_upgrades(io, svc)
            .await
            .map_err(|e| e.to_string()),
    };
}

/// The streaming endpoints (see `target/stream.rs`).
async fn streaming(req: Request<Incoming>, stats: Arc<Stats>) -> Response<stream::ChanBody> {
    let path = req.uri().path().to_string();
    bump(&stats.http_versions, &format!("{:?}", req.version()));
    stats.count(&path);
    let query = req.uri().query().unwrap_or("").to_string();
    if path == "/sse" {
        return stream::sse(&query, stats);
    }
    if req.method() != http::Method::POST {
        return stream::method_not_allowed();
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    stream::chat(&query, &body, stats)
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn json_response(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// The token `/login` hands out for `user` (the target keeps no state: the token encodes it).
fn login_token(user: &str) -> String {
    let hex: String = user.bytes().map(|b| format!("{b:02x}")).collect();
    format!("t{hex}")
}

/// The user a token from `login_token` stands for.
fn token_user(token: &str) -> Option<String> {
    let hex = token.strip_prefix('t')?;
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `body` gzip- or deflate-compressed when `accept` (Accept-Encoding) allows it (`/json`).
fn compress(body: &[u8], accept: &str) -> Option<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let wants = |e: &str| accept.split(',').any(|t| t.trim().starts_with(e));
    if wants("gzip") {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(body).ok()?;
        return Some(("gzip", w.finish().ok()?));
    }
    if wants("deflate") {
        let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(body).ok()?;
        return Some(("deflate", w.finish().ok()?));
    }
    None
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// The error type makes hyper drop the connection (used by `/reset`).
#[derive(Debug)]
struct Drop;
impl std::fmt::Display for Drop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}
impl std::error::Error for Drop {}

async fn handle(req: Request<Incoming>, stats: Arc<Stats>) -> Result<Response<Full<Bytes>>, Drop> {
    let path = req.uri().path().to_string();
    if !path.starts_with("/__") {
        bump(&stats.http_versions, &format!("{:?}", req.version()));
    }
    let query = req.uri().query().unwrap_or("").to_string();
    match path.as_str() {
        "/__stats" => {
            let mut r = Response::new(Full::new(Bytes::from(stats.to_json())));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return Ok(r);
        }
        "/__reset" => {
            stats.reset();
            return Ok(text(StatusCode::OK, "reset"));
        }
        _ => {}
    }
    let resp = match path.as_str() {
        "/" | "/fast" | "/work" => text(StatusCode::OK, "ok"),
        "/close" => {
            let mut r = text(StatusCode::OK, "bye");
            r.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            r
        }
        "/delay" => {
            let ms: u64 = query_param(&query, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            let jitter: u64 = query_param(&query, "jitter")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let extra = if jitter > 0 {
                fastrand::u64(0..=jitter)
            } else {
                0
            };
            tokio::time::sleep(Duration::from_millis((ms + extra).min(600_000))).await;
            text(StatusCode::OK, "ok")
        }
        "/status" => {
            let code = query_param(&query, "code")
                .and_then(|v| v.parse::<u16>().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::OK);
            let rate: f64 = query_param(&query, "rate")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1.0);
            if fastrand::f64() < rate {
                text(code, "status")
            } else {
                text(StatusCode::OK, "ok")
            }
        }
        "/json" => {
            let body: &'static str = r#"{"id":42,"name":"stampede","items":[1,2,3]}"#;
            let accept = req
                .headers()
                .get(http::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let mut r = match compress(body.as_bytes(), accept) {
                Some((enc, bytes)) => {
                    let mut r = Response::new(Full::new(Bytes::from(bytes)));
                    r.headers_mut().insert(
                        http::header::CONTENT_ENCODING,
                        http::HeaderValue::from_static(enc),
                    );
                    r
                }
                None => text(StatusCode::OK, body),
            };
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            r
        }
        "/echo" => {
            let ct = req.headers().get(http::header::CONTENT_TYPE).cloned();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut r = Response::new(Full::new(body));
            if let Some(ct) = ct {
                r.headers_mut().insert(http::header::CONTENT_TYPE, ct);
            }
            r
        }
        "/reset" => {
            stats.count(&path);
            return Err(Drop);
        }
        "/login" => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let creds: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            match (creds["user"].as_str(), creds["password"].as_str()) {
                (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
                    let token = login_token(user);
                    let mut r = json_response(
                        StatusCode::OK,
                        serde_json::json!({ "token": token, "user": user }),
                    );
                    if let Ok(v) =
                        http::HeaderValue::from_str(&format!("session=s-{token}; Path=/; HttpOnly"))
                    {
                        r.headers_mut().insert(http::header::SET_COOKIE, v);
                    }
                    r
                }
                _ => json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": "send {\"user\": ..., \"password\": ...}" }),
                ),
            }
        }
        "/me" => {
            let auth = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match auth.strip_prefix("Bearer ").and_then(token_user) {
                Some(user) => json_response(StatusCode::OK, serde_json::json!({ "user": user })),
                None => text(StatusCode::UNAUTHORIZED, "missing or bad bearer token"),
            }
        }
        "/session" => {
            let cookies = req
                .headers()
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|kv| kv.trim().strip_prefix("session=s-"))
                .find_map(token_user);
            match cookies {
                Some(user) => json_response(StatusCode::OK, serde_json::json!({ "user": user })),
                None => text(StatusCode::UNAUTHORIZED, "no session cookie"),
            }
        }
        "/basic" => {
            use base64::Engine as _;
            let user = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(u, _)| u.to_string()));
            match user {
                Some(user) => json_response(StatusCode::OK, serde_json::json!({ "user": user })),
                None => text(StatusCode::UNAUTHORIZED, "basic auth required"),
            }
        }
        "/redirect" => {
            let to = query_param(&query, "to").unwrap_or("/fast");
            let code = query_param(&query, "code")
                .and_then(|v| v.parse::<u16>().ok())
                .filter(|c| (300..400).contains(c))
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::FOUND);
            let mut r = text(code, "redirect");
            if let Ok(v) = http::HeaderValue::from_str(to) {
                r.headers_mut().insert(http::header::LOCATION, v);
            }
            r
        }
        "/seen" => {
            if let Some(k) = query_param(&query, "key") {
                stats.see(k);
            }
            text(StatusCode::OK, "ok")
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    stats.count(&path);
    Ok(resp)
}

/// Start the target on its own thread and runtime; returns its address and counters. The
/// thread lives as long as the process.
pub fn spawn_background(
    addr: SocketAddr,
    threads: usize,
) -> std::io::Result<(SocketAddr, Arc<Stats>)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("stampede-target")
        .enable_all()
        .build()?;
    let target = rt.block_on(Target::bind(addr))?;
    let local = target.local_addr()?;
    let stats = target.stats.clone();
    std::thread::Builder::new()
        .name("stampede-target".into())
        .spawn(move || {
            rt.block_on(target.serve());
        })?;
    Ok((local, stats))
}

/// What `stampede target` serves (its command line, as the commands layer hands it over).
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: std::net::SocketAddr,
    /// `--stall HOLD/EVERY`.
    pub stall: Option<Stall>,
    /// `/work`'s slots and the time each request holds one.
    pub work_slots: u32,
    pub work_time: std::time::Duration,
    /// Serve HTTPS with a generated CA and certificate; `ca_out` is where the CA is written.
    pub tls: bool,
    pub ca_out: Option<std::path::PathBuf>,
    /// HTTP/2 over cleartext (prior knowledge) besides HTTP/1.1.
    pub h2c: bool,
    pub log_connections: bool,
}

/// Serve in the foreground until Ctrl-C (`stampede target`).
pub fn serve_forever(args: &Options) -> anyhow::Result<()> {
    let (addr, stall) = (args.addr, args.stall);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let target = Target::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?
            .stall(stall)
            .h2c(args.h2c)
            .log_connections(args.log_connections);
        let work = crate::target::Work::new(args.work_slots, args.work_time);
        let work_line = format!(
            "\n/work: {} slots × {} each: saturates at {:.0} req/s",
            work.slots.lock().map_or(1, |s| s.len()),
            crate::units::duration::format_duration(work.time),
            work.limit()
        );
        let target = target.work(work);
        let local = target.local_addr()?;
        let (target, tls_line) = if args.tls {
            let generated = tls::generate()
                .map_err(|e| anyhow::anyhow!("cannot generate a certificate: {e}"))?;
            let path = args.ca_out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("stampede-target-{}-ca.pem", local.port()))
            });
            generated
                .write_ca(&path)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            let acceptor = generated
                .acceptor()
                .map_err(|e| anyhow::anyhow!("TLS setup: {e}"))?;
            let line = format!(
                "\nCA certificate: {} (pass it as http.tls.ca_file; the certificate holds {})",
                path.display(),
                tls::NAMES.join(", ")
            );
            (target.tls(Some(acceptor)), line)
        } else {
            (target, String::new())
        };
        let stats = target.stats.clone();
        use std::io::Write;
        // Write errors are ignored: whoever started us may have stopped reading our output.
        let _ = writeln!(
            std::io::stdout(),
            "stampede target listening on {}://{local}{tls_line}\n\
             endpoints: /fast /delay?ms=N[&jitter=J] /status?code=N[&rate=F] /json /echo /reset /close /login /me /session /basic /seen?key=K /redirect?to=PATH&code=N /work /__stats /__reset{work_line}{}",
            if args.tls { "https" } else { "http" },
            stall.map_or(String::new(), |s| format!(
                "\nstalling: every response held during the first {} of every {}",
                crate::units::duration::format_duration(s.hold),
                crate::units::duration::format_duration(s.every)
            ))
        );
        let _ = std::io::stdout().flush();
        tokio::select! {
            _ = target.serve() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let _ = writeln!(std::io::stdout(), "served {} requests", stats.total());
        Ok(())
    })
}
