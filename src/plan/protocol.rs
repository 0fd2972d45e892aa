//! HTTP and TLS options of a run: versions, proxy, client certificates, connection reuse.

#[allow(unused_imports)]
use super::*;

/// Header lines allowed in a response head by default (`http.max_header_lines`): the scenario's
/// default and the engine's parser's.
pub const DEFAULT_MAX_HEADER_LINES: u32 = 256;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout (connect + send + response).
    pub timeout: Duration,
    /// Headers sent with every request (a step's own headers override these).
    pub headers: HeaderMap,
    /// Source addresses to spread connections over (empty: the kernel chooses).
    pub local_ips: Vec<std::net::IpAddr>,
    pub connections: Connections,
    /// How to speak TLS to an `https://` target.
    pub tls: TlsOptions,
    /// Redirects followed per step (0: never).
    pub max_redirects: u32,
    /// Where connections go through, as CONNECT tunnels (`http.proxy`, or the environment).
    pub proxy: Option<Proxy>,
    /// `http.max_body`: the most of a body kept for checks and extraction (bytes).
    pub max_body: usize,
    /// `http.resolve`: (host, port) → address, used instead of DNS (as curl's `--resolve`).
    pub resolve: Vec<(String, u16, std::net::IpAddr)>,
    /// Look the target's name up again this often (`http.dns_ttl`, default 5m; zero: never).
    pub dns_ttl: Duration,
    pub version: HttpVersion,
    /// `http.retry: idempotent`: an idempotent request that got no response byte on a reused
    /// connection is sent once more, as a request of its own (docs/accounting.md).
    pub retry_idempotent: bool,
    /// `http.max_header_lines`: header lines allowed in a response head.
    pub max_header_lines: u32,
}

/// An HTTP proxy that connections tunnel through (CONNECT).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// The `Proxy-Authorization` value, from `user:password@` in the proxy URL.
    pub authorization: Option<String>,
    /// Where it was set: `http.proxy` or the environment variable's name.
    pub origin: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials stay out of logs.
        write!(f, "Proxy({}:{} from {})", self.host, self.port, self.origin)
    }
}

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 (ALPN `http/1.1` over TLS).
    #[default]
    Http1,
    /// HTTP/2: over TLS via ALPN `h2`; over cleartext as h2c with prior knowledge.
    Http2,
    /// Whatever the server picks by ALPN (`h2` preferred); HTTP/1.1 over cleartext.
    Auto,
}

/// PEM text read from a file of the scenario (certificates, keys). Its `Debug` shows only the
/// size, so a private key never lands in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem(pub Vec<u8>);

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes of PEM>", self.0.len())
    }
}

/// `http.tls` (and `--insecure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust these CA certificates instead of the system roots (`ca_file`).
    pub ca: Option<Pem>,
    /// Accept any certificate (`insecure: true` or `--insecure`).
    pub insecure: bool,
    /// A client certificate chain and its key (mutual TLS).
    pub client_cert: Option<(Pem, Pem)>,
    /// The name sent as SNI and checked against the certificate (default: the target host).
    pub server_name: Option<String>,
    /// Resume TLS sessions on reconnect (default true, as browsers do).
    pub resumption: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca: None,
            insecure: false,
            client_cert: None,
            server_name: None,
            resumption: true,
        }
    }
}

/// Who owns the TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Each VU owns one keep-alive connection, as a browser does.
    PerVu,
    /// VUs share at most `max` connections; a VU waits (`http_req_blocked`) when all are busy.
    Pooled { max: u32 },
}
