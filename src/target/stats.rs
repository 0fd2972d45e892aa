//! What the target counts (`/__stats`): requests by path and version, connections, TLS.

#[allow(unused_imports)]
use super::*;

/// Counts of what the target served.
#[derive(Default)]
pub struct Stats {
    pub(super) total: AtomicU64,
    pub(super) by_path: Mutex<BTreeMap<String, u64>>,
    /// Connections accepted, open now, the most open at once, and accepted by source address.
    pub(super) connections: AtomicU64,
    pub(super) open: AtomicU64,
    pub(super) open_peak: AtomicU64,
    pub(super) by_peer: Mutex<BTreeMap<String, u64>>,
    /// `/seen?key=K` counts by K.
    pub(super) seen: Mutex<BTreeMap<String, u64>>,
    /// Requests by HTTP version (`HTTP/1.1`, `HTTP/2.0`).
    pub(super) http_versions: Mutex<BTreeMap<String, u64>>,
    /// TLS handshakes completed, of which resumed; failed handshakes.
    pub(super) tls_handshakes: AtomicU64,
    pub(super) tls_resumed: AtomicU64,
    pub(super) tls_failed: AtomicU64,
    /// Completed handshakes by TLS version (`TLSv1_3`) and by ALPN protocol (`h2`, `http/1.1`,
    /// `none`).
    pub(super) tls_versions: Mutex<BTreeMap<String, u64>>,
    pub(super) alpn: Mutex<BTreeMap<String, u64>>,
    /// Events sent on `/sse` and `/v1/chat/completions` streams (content events only).
    pub(super) sse_events: AtomicU64,
    /// WebSocket messages received and sent on `/ws`.
    pub(super) ws_in: AtomicU64,
    pub(super) ws_out: AtomicU64,
    /// How long `/ws?delay=` really held each reply, in µs (the truth a round trip is checked
    /// against: the timer fires on whole milliseconds); the first million.
    pub(super) ws_hold_us: Mutex<Vec<u64>>,
}

pub(super) fn bump(m: &Mutex<BTreeMap<String, u64>>, key: &str) {
    if let Ok(mut m) = m.lock() {
        *m.entry(key.to_string()).or_default() += 1;
    }
}

pub(super) fn read(m: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    m.lock().map(|m| m.clone()).unwrap_or_default()
}

pub(super) fn clear(m: &Mutex<BTreeMap<String, u64>>) {
    if let Ok(mut m) = m.lock() {
        m.clear();
    }
}

/// Counts a connection as open while it lives.
pub(super) struct OpenConn(Arc<Stats>);

impl OpenConn {
    pub(super) fn new(stats: Arc<Stats>, peer: std::net::IpAddr) -> Self {
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

    pub(super) fn count(&self, path: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.by_path.lock() {
            *m.entry(path.to_string()).or_default() += 1;
        }
    }

    pub(super) fn see(&self, key: &str) {
        if let Ok(mut m) = self.seen.lock() {
            *m.entry(key.to_string()).or_default() += 1;
        }
    }

    /// Count a completed TLS handshake: version, ALPN protocol, full or resumed.
    pub(super) fn handshake(&self, version: &str, alpn: &str, resumed: bool) {
        self.tls_handshakes.fetch_add(1, Ordering::Relaxed);
        if resumed {
            self.tls_resumed.fetch_add(1, Ordering::Relaxed);
        }
        bump(&self.tls_versions, version);
        bump(&self.alpn, alpn);
    }

    /// The median of the real `/ws?delay=` holds, if any.
    pub(super) fn ws_hold_p50_us(&self) -> Option<u64> {
        let mut v = self.ws_hold_us.lock().ok()?.clone();
        if v.is_empty() {
            return None;
        }
        let mid = v.len() / 2;
        Some(*v.select_nth_unstable(mid).1)
    }

    pub(super) fn to_json(&self) -> String {
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

    pub(super) fn reset(&self) {
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
