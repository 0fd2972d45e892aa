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

mod handlers;
mod knobs;
mod stats;
mod stream;
pub mod tls;

use handlers::*;
pub use knobs::{Stall, Work};
pub use stats::Stats;
use stats::*;

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
