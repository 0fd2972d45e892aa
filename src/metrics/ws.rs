//! What WebSocket steps (`ws:`) record, per step: connect+handshake time, the round trip of
//! each message that an `expect` matched to the send before it, session length, messages in and
//! out, and close codes. Created only for steps that open sessions.

use super::recorder::new_histogram;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone)]
pub struct WsStats {
    /// TCP connect, TLS and the upgrade handshake.
    pub connecting: Histogram<u64>,
    /// A send → the reply an `expect` matched.
    pub msg_rtt: Histogram<u64>,
    pub session: Histogram<u64>,
    pub sessions: u64,
    pub sent: u64,
    pub received: u64,
    /// Sessions by the close code that ended them (`0`: closed without a close frame).
    pub closes: BTreeMap<u16, u64>,
}

impl Default for WsStats {
    fn default() -> Self {
        WsStats {
            connecting: new_histogram(),
            msg_rtt: new_histogram(),
            session: new_histogram(),
            sessions: 0,
            sent: 0,
            received: 0,
            closes: BTreeMap::new(),
        }
    }
}

/// One finished session.
#[derive(Debug, Clone, Default)]
pub struct WsSample {
    pub connecting: Option<Duration>,
    pub rtts: Vec<Duration>,
    pub session: Duration,
    pub sent: u64,
    pub received: u64,
    pub close: Option<u16>,
}

fn rec(h: &mut Histogram<u64>, d: Duration) {
    let v = d.as_micros().min(u64::MAX as u128) as u64;
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

impl WsStats {
    pub fn record(&mut self, s: &WsSample) {
        self.sessions += 1;
        if let Some(d) = s.connecting {
            rec(&mut self.connecting, d);
        }
        for d in &s.rtts {
            rec(&mut self.msg_rtt, *d);
        }
        rec(&mut self.session, s.session);
        self.sent += s.sent;
        self.received += s.received;
        *self.closes.entry(s.close.unwrap_or(0)).or_default() += 1;
    }

    pub fn add(&mut self, o: &WsStats) {
        let _ = self.connecting.add(&o.connecting);
        let _ = self.msg_rtt.add(&o.msg_rtt);
        let _ = self.session.add(&o.session);
        self.sessions += o.sessions;
        self.sent += o.sent;
        self.received += o.received;
        for (c, n) in &o.closes {
            *self.closes.entry(*c).or_default() += n;
        }
    }

    pub fn reset(&mut self) {
        self.connecting.reset();
        self.msg_rtt.reset();
        self.session.reset();
        self.sessions = 0;
        self.sent = 0;
        self.received = 0;
        self.closes.clear();
    }

    pub fn trend(&self, metric: &str) -> Option<&Histogram<u64>> {
        Some(match metric {
            "ws_connecting" => &self.connecting,
            "ws_msg_rtt" => &self.msg_rtt,
            "ws_session_duration" => &self.session,
            _ => return None,
        })
    }

    pub fn counter(&self, metric: &str) -> Option<u64> {
        Some(match metric {
            "ws_sessions" => self.sessions,
            "ws_msgs_sent" => self.sent,
            "ws_msgs_received" => self.received,
            _ => return None,
        })
    }
}

pub const TRENDS: [&str; 3] = ["ws_connecting", "ws_msg_rtt", "ws_session_duration"];
