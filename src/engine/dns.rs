//! The target's addresses, shared by every VU's client, and their re-resolution every
//! `http.dns_ttl` (as a browser or k6 re-resolves after the record's lifetime).
//!
//! A connection reads the current list when it opens (a read lock per connect, never per
//! request); a background thread swaps in a fresh list when a lookup returns one. A failed or
//! empty lookup keeps the previous addresses: a DNS hiccup must not turn into connect errors.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// The addresses connections go to (the target's, or the proxy's).
pub struct Addrs {
    current: RwLock<Arc<[SocketAddr]>>,
}

impl Addrs {
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        Addrs {
            current: RwLock::new(addrs.into()),
        }
    }

    /// The list as of now (cheap: an `Arc` clone under a read lock).
    pub fn get(&self) -> Arc<[SocketAddr]> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replace the list, unless `fresh` is empty. Returns whether it changed.
    pub fn set(&self, fresh: Vec<SocketAddr>) -> bool {
        if fresh.is_empty() {
            return false;
        }
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if g[..] == fresh[..] {
            return false;
        }
        *g = fresh.into();
        true
    }
}

/// Look `host:port` up with the system resolver (what the preflight did at start).
pub fn system_lookup(host: String, port: u16) -> impl Fn() -> Vec<SocketAddr> + Send + 'static {
    move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.collect())
            .unwrap_or_default()
    }
}

/// Re-run `lookup` every `ttl` on a thread of its own and publish what it finds into `addrs`.
/// The thread ends by itself once the run has dropped every reference to `addrs`.
pub fn spawn_refresher(
    addrs: &Arc<Addrs>,
    ttl: Duration,
    lookup: impl Fn() -> Vec<SocketAddr> + Send + 'static,
) -> std::io::Result<()> {
    let weak: Weak<Addrs> = Arc::downgrade(addrs);
    std::thread::Builder::new()
        .name("stampede-dns".into())
        .spawn(move || {
            // Wake at least once a second, so the thread notices the end of the run soon.
            let tick = ttl.min(Duration::from_secs(1));
            let mut due = Instant::now() + ttl;
            loop {
                std::thread::sleep(tick.min(due.saturating_duration_since(Instant::now())));
                if weak.strong_count() == 0 {
                    return;
                }
                if Instant::now() < due {
                    continue;
                }
                let fresh = lookup();
                match weak.upgrade() {
                    Some(a) => {
                        a.set(fresh);
                    }
                    None => return,
                }
                due = Instant::now() + ttl;
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn an_empty_lookup_keeps_the_previous_addresses() {
        let a = Addrs::new(vec![addr(1)]);
        assert!(!a.set(Vec::new()));
        assert_eq!(&a.get()[..], &[addr(1)]);
        assert!(!a.set(vec![addr(1)]));
        assert!(a.set(vec![addr(2), addr(3)]));
        assert_eq!(&a.get()[..], &[addr(2), addr(3)]);
    }

    #[test]
    fn the_refresher_publishes_each_lookup_and_stops_with_the_run() {
        let a = Arc::new(Addrs::new(vec![addr(1)]));
        // The "DNS" answers 2, then nothing (a failed lookup), then 3 forever.
        let answers = Arc::new(Mutex::new(vec![vec![addr(3)], vec![], vec![addr(2)]]));
        let calls = Arc::new(Mutex::new(0u32));
        let (ans, n) = (answers.clone(), calls.clone());
        spawn_refresher(&a, Duration::from_millis(20), move || {
            *n.lock().unwrap() += 1;
            let mut v = ans.lock().unwrap();
            if v.len() > 1 {
                v.pop().unwrap()
            } else {
                v[0].clone()
            }
        })
        .unwrap();
        let mut seen = vec![a.get()[0]];
        let until = Instant::now() + Duration::from_secs(5);
        while seen.last() != Some(&addr(3)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
            let now = a.get()[0];
            if seen.last() != Some(&now) {
                seen.push(now);
            }
        }
        // 1 → 2 → (lookup failed: still 2) → 3.
        assert_eq!(seen, vec![addr(1), addr(2), addr(3)]);
        drop(a);
        std::thread::sleep(Duration::from_millis(100));
        let after = *calls.lock().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            *calls.lock().unwrap(),
            after,
            "the refresher outlived the run"
        );
    }
}
