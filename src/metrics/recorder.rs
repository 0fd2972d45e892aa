//! Per-worker recording: one `Recorder` per engine thread, written without any lock; its
//! contents are handed to the aggregator once a second and merged there.

use super::protocol::ProtocolError;
use hdrhistogram::Histogram;
use std::time::Duration;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The target refused the TCP connection (nothing listening).
    ConnectRefused,
    /// The TCP connection did not complete in time.
    ConnectTimeout,
    /// Any other failure to connect (unreachable network, no route, ...).
    Connect,
    /// The request got no complete response within `http.timeout`.
    RequestTimeout,
    /// The connection was reset or closed while the request was in flight.
    Reset,
    /// The response was not valid HTTP.
    Protocol,
    /// The status was not what the step expects (by default: any status >= 400).
    Status,
    /// Another expectation (body, JSON value, header) did not hold.
    Check,
    /// A value to extract was not in the response.
    Extract,
    /// The TLS handshake failed (the reason is counted in `Recorder::tls_reasons`).
    Tls,
    /// The proxy refused or failed to open a tunnel (CONNECT) to the target.
    Proxy,
    /// A redirect to another origin (scheme, host or port), which is not followed.
    CrossOriginRedirect,
    /// The request was written and the peer closed the connection cleanly before sending a
    /// single byte of a response.
    NoResponse,
    /// The response head arrived (its status is counted) but the connection ended before the
    /// body did.
    BodyTruncated,
    /// The request was still waiting for its response when the run stopped (end of
    /// `graceful_stop`, a second Ctrl-C, `abort_on_fail`, a ramp-down's grace running out).
    Interrupted,
    /// A body kept for checks or extraction was longer than `http.max_body`.
    BodyTooLarge,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Connect,
        ErrorKind::RequestTimeout,
        ErrorKind::Reset,
        ErrorKind::Protocol,
        ErrorKind::Status,
        ErrorKind::Check,
        ErrorKind::Extract,
        ErrorKind::Tls,
        ErrorKind::Proxy,
        ErrorKind::CrossOriginRedirect,
        ErrorKind::NoResponse,
        ErrorKind::BodyTruncated,
        ErrorKind::Interrupted,
        ErrorKind::BodyTooLarge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Connect => "connect_error",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Status => "unexpected_status",
            ErrorKind::Check => "check_failed",
            ErrorKind::Extract => "extract",
            ErrorKind::Tls => "tls",
            ErrorKind::Proxy => "proxy_error",
            ErrorKind::CrossOriginRedirect => "cross_origin_redirect",
            ErrorKind::NoResponse => "no_response",
            ErrorKind::BodyTruncated => "body_truncated",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::BodyTooLarge => "body_too_large",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a TLS handshake failed: the certificate problems people meet, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsReason {
    /// The chain does not lead to a trusted root (self-signed, private CA).
    UnknownIssuer,
    /// The certificate is not valid for the name asked for (SNI / `server_name`).
    NameMismatch,
    Expired,
    NotYetValid,
    Revoked,
    /// Any other certificate problem (bad encoding, wrong usage, bad signature).
    BadCertificate,
    /// The server sent a TLS alert (e.g. it wants a client certificate, or no common version).
    AlertReceived,
    /// Client and server share no protocol version, cipher suite or ALPN protocol.
    Incompatible,
    /// The peer does not speak TLS (e.g. a plain-HTTP port) or sent a broken message.
    NotTls,
    /// The handshake did not finish within `http.timeout`.
    HandshakeTimeout,
    /// The connection closed or failed during the handshake.
    HandshakeIo,
    Other,
    /// With `http.tls.ca_file`: the server's certificate is neither one of its certificates
    /// (pinned) nor issued by one.
    NotInCaFile,
    /// The server's certificate is a CA certificate (`CA:TRUE`), without `ca_file` pinning it.
    CaAsLeaf,
    /// The certificate's extended key usage does not allow a TLS server.
    InvalidPurpose,
    /// A signature in the chain does not verify.
    BadSignature,
}

impl TlsReason {
    pub const ALL: [TlsReason; 16] = [
        TlsReason::UnknownIssuer,
        TlsReason::NameMismatch,
        TlsReason::Expired,
        TlsReason::NotYetValid,
        TlsReason::Revoked,
        TlsReason::BadCertificate,
        TlsReason::AlertReceived,
        TlsReason::Incompatible,
        TlsReason::NotTls,
        TlsReason::HandshakeTimeout,
        TlsReason::HandshakeIo,
        TlsReason::Other,
        TlsReason::NotInCaFile,
        TlsReason::CaAsLeaf,
        TlsReason::InvalidPurpose,
        TlsReason::BadSignature,
    ];

    /// The key in `summary.json`'s `tls_errors`.
    pub fn name(self) -> &'static str {
        match self {
            TlsReason::UnknownIssuer => "unknown_issuer",
            TlsReason::NameMismatch => "name_mismatch",
            TlsReason::Expired => "expired",
            TlsReason::NotYetValid => "not_yet_valid",
            TlsReason::Revoked => "revoked",
            TlsReason::BadCertificate => "bad_certificate",
            TlsReason::AlertReceived => "alert_received",
            TlsReason::Incompatible => "incompatible",
            TlsReason::NotTls => "not_tls",
            TlsReason::HandshakeTimeout => "handshake_timeout",
            TlsReason::HandshakeIo => "handshake_io",
            TlsReason::Other => "other",
            TlsReason::NotInCaFile => "not_in_ca_file",
            TlsReason::CaAsLeaf => "ca_used_as_end_entity",
            TlsReason::InvalidPurpose => "invalid_purpose",
            TlsReason::BadSignature => "bad_signature",
        }
    }

    /// What went wrong, in rustls's words where it has them.
    pub fn describe(self) -> &'static str {
        match self {
            TlsReason::UnknownIssuer => {
                "invalid peer certificate: UnknownIssuer (not issued by a root this system trusts)"
            }
            TlsReason::NameMismatch => {
                "invalid peer certificate: NotValidForName (the certificate does not name the host asked for)"
            }
            TlsReason::Expired => "invalid peer certificate: Expired (past its notAfter date)",
            TlsReason::NotYetValid => {
                "invalid peer certificate: NotValidYet (before its notBefore date)"
            }
            TlsReason::Revoked => "invalid peer certificate: Revoked",
            TlsReason::BadCertificate => "invalid peer certificate",
            TlsReason::AlertReceived => "the server sent a TLS alert",
            TlsReason::Incompatible => {
                "no protocol version, cipher suite or ALPN protocol in common"
            }
            TlsReason::NotTls => "the server does not speak TLS on this port",
            TlsReason::HandshakeTimeout => "handshake timed out",
            TlsReason::HandshakeIo => "connection lost during the handshake",
            TlsReason::Other => "handshake failed",
            TlsReason::NotInCaFile => {
                "invalid peer certificate: UnknownIssuer (neither one of the certificates in http.tls.ca_file nor issued by one)"
            }
            TlsReason::CaAsLeaf => {
                "invalid peer certificate: CaUsedAsEndEntity (the server's certificate is a CA certificate, CA:TRUE)"
            }
            TlsReason::InvalidPurpose => {
                "invalid peer certificate: InvalidPurpose (its extended key usage excludes TLS servers)"
            }
            TlsReason::BadSignature => {
                "invalid peer certificate: BadSignature (a signature in the chain does not verify)"
            }
        }
    }

    /// What to do about it.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            TlsReason::UnknownIssuer => Some("pass http.tls.ca_file or --insecure"),
            TlsReason::NameMismatch => {
                Some("set http.tls.server_name to a name the certificate holds, or pass --insecure")
            }
            TlsReason::Expired | TlsReason::NotYetValid => {
                Some("renew the certificate (or check the clock), or pass --insecure")
            }
            TlsReason::NotTls => Some("use an http:// target for a plain-HTTP port"),
            TlsReason::NotInCaFile => Some(
                "put the server's certificate itself (pinned) or the CA that issued it in http.tls.ca_file, or pass --insecure",
            ),
            TlsReason::CaAsLeaf => Some(
                "pin that very certificate with http.tls.ca_file, or serve a leaf certificate issued by the CA, or pass --insecure",
            ),
            TlsReason::InvalidPurpose => Some(
                "reissue the certificate with extendedKeyUsage serverAuth (or without the extension), or pass --insecure",
            ),
            TlsReason::BadSignature => {
                Some("the chain is corrupt or mismatched: check the server's certificate chain")
            }
            TlsReason::AlertReceived => {
                Some("the server may want a client certificate (http.tls.client_cert / client_key)")
            }
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A new latency histogram: µs, 3 significant digits, growing as needed (a slow response never
/// panics or saturates). It starts covering 0–2 ms (16 KiB of counts) and grows to the largest
/// value recorded, instead of reserving 1 µs–60 s up front (139 KiB): a step has six of these per
/// worker and per second, most of them (connecting, TLS, blocked, uncorrected) nearly empty, and
/// at 16,667 VUs per process they were a large share of its memory. Values and percentiles are the
/// same: the buckets depend only on the significant digits.
pub fn new_histogram() -> Histogram<u64> {
    let mut h =
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"));
    h.auto(true);
    h
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let v = micros(d);
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// The metrics of one step (or of all steps merged).
#[derive(Clone)]
pub struct StepStats {
    pub duration: Histogram<u64>,
    pub waiting: Histogram<u64>,
    pub connecting: Histogram<u64>,
    /// TLS handshake time (zero for requests on a reused connection, and without TLS).
    pub tls_handshaking: Histogram<u64>,
    /// Time waiting for a free pooled connection.
    pub blocked: Histogram<u64>,
    /// Request durations from the actual send (`duration` runs from the intended start of an
    /// open-model or paced iteration's first request; elsewhere the two are the same).
    pub uncorrected: Histogram<u64>,
    pub requests: u64,
    /// Expectations that held / did not hold.
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub failures: u64,
    /// Stream metrics, for a step that streams (`sse:`); `None` until it records one.
    pub stream: Option<Box<super::stream::StreamStats>>,
    /// WebSocket metrics, for a step that opens sessions (`ws:`).
    pub ws: Option<Box<super::ws::WsStats>>,
}

impl Default for StepStats {
    fn default() -> Self {
        StepStats {
            duration: new_histogram(),
            waiting: new_histogram(),
            connecting: new_histogram(),
            tls_handshaking: new_histogram(),
            blocked: new_histogram(),
            uncorrected: new_histogram(),
            requests: 0,
            checks_passed: 0,
            checks_failed: 0,
            failures: 0,
            stream: None,
            ws: None,
        }
    }
}

impl StepStats {
    pub fn add(&mut self, other: &StepStats) {
        // Both sides auto-resize, so adding never fails for lack of range.
        let _ = self.duration.add(&other.duration);
        let _ = self.waiting.add(&other.waiting);
        let _ = self.connecting.add(&other.connecting);
        let _ = self.tls_handshaking.add(&other.tls_handshaking);
        let _ = self.blocked.add(&other.blocked);
        let _ = self.uncorrected.add(&other.uncorrected);
        self.checks_passed += other.checks_passed;
        self.checks_failed += other.checks_failed;
        self.requests += other.requests;
        self.failures += other.failures;
        if let Some(o) = &other.stream {
            self.stream.get_or_insert_with(Default::default).add(o);
        }
        if let Some(o) = &other.ws {
            self.ws.get_or_insert_with(Default::default).add(o);
        }
    }

    fn reset(&mut self) {
        self.duration.reset();
        self.waiting.reset();
        self.connecting.reset();
        self.tls_handshaking.reset();
        self.blocked.reset();
        self.uncorrected.reset();
        self.checks_passed = 0;
        self.checks_failed = 0;
        self.requests = 0;
        self.failures = 0;
        if let Some(s) = &mut self.stream {
            s.reset();
        }
        if let Some(s) = &mut self.ws {
            s.reset();
        }
    }
}

/// What one request produced, as the engine measured it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Waiting for a free connection of the pool (zero with per-VU connections).
    pub blocked: Duration,
    /// Sending + waiting + receiving; `None` when no request went out (connect failure). For
    /// the first request of a scheduled iteration, from the intended start instead.
    pub duration: Option<Duration>,
    /// Sending + waiting + receiving, from the actual send.
    pub uncorrected: Option<Duration>,
    pub waiting: Option<Duration>,
    /// Time spent opening a TCP connection for this request (zero when one was reused).
    pub connecting: Duration,
    /// Time spent in the TLS handshake for this request (zero when the connection was reused).
    pub tls_handshaking: Duration,
    pub status: Option<u16>,
    pub error: Option<ErrorKind>,
    /// Why, when `error` is `Tls`.
    pub tls_reason: Option<TlsReason>,
    /// Why, when `error` is `Protocol`.
    pub protocol: Option<ProtocolError>,
    /// No response byte arrived on a connection that had served earlier requests: the request
    /// may be sent again under `http.retry: idempotent`.
    pub retryable: bool,
    pub sent: u64,
    pub received: u64,
}

impl Sample {
    /// A request that could not be sent at all.
    pub fn failed(kind: ErrorKind) -> Self {
        Sample {
            error: Some(kind),
            ..Sample::default()
        }
    }
}

/// Everything one worker recorded since its last flush (or, once merged, over a whole run).
#[derive(Clone)]
pub struct Recorder {
    pub steps: Vec<StepStats>,
    pub iteration: Histogram<u64>,
    pub iterations: u64,
    /// Actual start minus intended start of scheduled iterations (open model, pacing).
    pub schedule_lag: Histogram<u64>,
    /// Due iterations that found the queue full (open model).
    pub dropped_iterations: u64,
    pub data_sent: u64,
    pub data_received: u64,
    /// Counts by status code (index = code, 0..=999).
    pub status: Vec<u64>,
    /// Passes and failures of each check (by check id).
    pub checks: Vec<[u64; 2]>,
    pub errors: [u64; ErrorKind::ALL.len()],
    /// TLS failures by reason.
    pub tls_reasons: [u64; TlsReason::ALL.len()],
    /// Protocol failures by reason (few distinct ones in practice: a short list).
    pub protocol_reasons: Vec<(ProtocolError, u64)>,
    /// Iterations that fell due (open model; paused ones excluded): each one ends completed,
    /// dropped or interrupted.
    pub iterations_due: u64,
    /// Iterations cut short by a stop or a ramp-down (the VU was ended in the middle of one).
    pub iterations_interrupted: u64,
    /// Requests sent again under `http.retry: idempotent` (each attempt is also a request).
    pub retries: u64,
}

impl Recorder {
    pub fn new(steps: usize) -> Self {
        Self::with_checks(steps, 0)
    }

    pub fn with_checks(steps: usize, checks: usize) -> Self {
        Recorder {
            checks: vec![[0; 2]; checks],
            steps: (0..steps).map(|_| StepStats::default()).collect(),
            iteration: new_histogram(),
            iterations: 0,
            schedule_lag: new_histogram(),
            dropped_iterations: 0,
            data_sent: 0,
            data_received: 0,
            status: vec![0; 1000],
            errors: [0; ErrorKind::ALL.len()],
            tls_reasons: [0; TlsReason::ALL.len()],
            protocol_reasons: Vec::new(),
            iterations_due: 0,
            iterations_interrupted: 0,
            retries: 0,
        }
    }

    fn add_protocol_reason(&mut self, reason: ProtocolError, n: u64) {
        match self.protocol_reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, c)) => *c += n,
            None => self.protocol_reasons.push((reason, n)),
        }
    }

    /// Record one request of step `step`. No allocation unless a histogram must grow.
    pub fn record(&mut self, step: usize, s: &Sample) {
        let Some(st) = self.steps.get_mut(step) else {
            return;
        };
        st.requests += 1;
        if let Some(d) = s.duration {
            record(&mut st.duration, d);
        }
        if let Some(d) = s.uncorrected.or(s.duration) {
            record(&mut st.uncorrected, d);
        }
        if let Some(w) = s.waiting {
            record(&mut st.waiting, w);
        }
        record(&mut st.connecting, s.connecting);
        record(&mut st.tls_handshaking, s.tls_handshaking);
        record(&mut st.blocked, s.blocked);
        if let Some(kind) = s.error {
            st.failures += 1;
            self.errors[kind.index()] += 1;
            if kind == ErrorKind::Tls {
                self.tls_reasons[s.tls_reason.unwrap_or(TlsReason::Other).index()] += 1;
            }
            if kind == ErrorKind::Protocol {
                self.add_protocol_reason(s.protocol.unwrap_or(ProtocolError::Unknown), 1);
            }
        }
        if let Some(code) = s.status
            && let Some(c) = self.status.get_mut(code as usize)
        {
            *c += 1;
        }
        self.data_sent += s.sent;
        self.data_received += s.received;
    }

    /// Record one finished stream of step `step`.
    pub fn record_stream(&mut self, step: usize, s: &super::stream::StreamSample) {
        if let Some(st) = self.steps.get_mut(step) {
            st.stream.get_or_insert_with(Default::default).record(s);
        }
    }

    /// Record one finished WebSocket session of step `step`.
    pub fn record_ws(&mut self, step: usize, s: &super::ws::WsSample) {
        if let Some(st) = self.steps.get_mut(step) {
            st.ws.get_or_insert_with(Default::default).record(s);
        }
    }

    pub fn record_iteration(&mut self, d: Duration) {
        self.iterations += 1;
        record(&mut self.iteration, d);
    }

    /// Record check `id` of step `step`.
    pub fn record_check(&mut self, step: usize, id: usize, passed: bool) {
        if let Some(c) = self.checks.get_mut(id) {
            c[usize::from(!passed)] += 1;
        }
        if let Some(st) = self.steps.get_mut(step) {
            if passed {
                st.checks_passed += 1;
            } else {
                st.checks_failed += 1;
            }
        }
    }

    pub fn record_lag(&mut self, lag: Duration) {
        record(&mut self.schedule_lag, lag);
    }

    pub fn add(&mut self, other: &Recorder) {
        for (a, b) in self.steps.iter_mut().zip(&other.steps) {
            a.add(b);
        }
        let _ = self.iteration.add(&other.iteration);
        self.iterations += other.iterations;
        let _ = self.schedule_lag.add(&other.schedule_lag);
        self.dropped_iterations += other.dropped_iterations;
        self.data_sent += other.data_sent;
        self.data_received += other.data_received;
        for (a, b) in self.status.iter_mut().zip(&other.status) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
        for (a, b) in self.tls_reasons.iter_mut().zip(&other.tls_reasons) {
            *a += b;
        }
        for (r, n) in &other.protocol_reasons {
            self.add_protocol_reason(*r, *n);
        }
        self.iterations_due += other.iterations_due;
        self.iterations_interrupted += other.iterations_interrupted;
        self.retries += other.retries;
        if self.checks.len() < other.checks.len() {
            self.checks.resize(other.checks.len(), [0; 2]);
        }
        for (a, b) in self.checks.iter_mut().zip(&other.checks) {
            a[0] += b[0];
            a[1] += b[1];
        }
    }

    /// Hand over what was recorded so far and start again from zero.
    pub fn take(&mut self) -> Recorder {
        let out = self.clone();
        for s in &mut self.steps {
            s.reset();
        }
        self.iteration.reset();
        self.iterations = 0;
        self.schedule_lag.reset();
        self.dropped_iterations = 0;
        self.data_sent = 0;
        self.data_received = 0;
        self.status.iter_mut().for_each(|c| *c = 0);
        self.errors = [0; ErrorKind::ALL.len()];
        self.tls_reasons = [0; TlsReason::ALL.len()];
        self.protocol_reasons.clear();
        self.iterations_due = 0;
        self.iterations_interrupted = 0;
        self.retries = 0;
        self.checks.iter_mut().for_each(|c| *c = [0; 2]);
        out
    }

    /// All steps merged.
    pub fn overall(&self) -> StepStats {
        let mut all = StepStats::default();
        for s in &self.steps {
            all.add(s);
        }
        all
    }

    pub fn requests(&self) -> u64 {
        self.steps.iter().map(|s| s.requests).sum()
    }

    pub fn failures(&self) -> u64 {
        self.steps.iter().map(|s| s.failures).sum()
    }

    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }

    pub fn tls_reason_count(&self, reason: TlsReason) -> u64 {
        self.tls_reasons[reason.index()]
    }

    /// Protocol failures by reason, most frequent first (`too many header lines: 300 > 256`).
    pub fn protocol_reasons(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .protocol_reasons
            .iter()
            .map(|(r, n)| (r.to_string(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// An error kind's name, with its reasons for `protocol`
    /// (`protocol (too many header lines: 300 > 256)`).
    pub fn error_label(&self, kind: ErrorKind) -> String {
        if kind != ErrorKind::Protocol || self.protocol_reasons.is_empty() {
            return kind.name().to_string();
        }
        let reasons: Vec<String> = self
            .protocol_reasons()
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        format!("protocol ({})", reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ms: u64) -> Sample {
        Sample {
            duration: Some(Duration::from_millis(ms)),
            waiting: Some(Duration::from_millis(ms)),
            status: Some(200),
            sent: 10,
            received: 20,
            ..Sample::default()
        }
    }

    #[test]
    fn records_merges_and_takes() {
        let mut a = Recorder::new(2);
        a.record(0, &ok(5));
        a.record(1, &ok(15));
        a.record(
            1,
            &Sample {
                error: Some(ErrorKind::Status),
                status: Some(500),
                ..ok(1)
            },
        );
        let snap = a.take();
        assert_eq!(a.requests(), 0);
        assert_eq!(snap.requests(), 3);
        assert_eq!(snap.failures(), 1);
        assert_eq!(snap.status[200], 2);
        assert_eq!(snap.error_count(ErrorKind::Status), 1);
        let mut total = Recorder::new(2);
        total.add(&snap);
        total.add(&snap);
        assert_eq!(total.requests(), 6);
        assert_eq!(total.overall().duration.len(), 6);
        assert_eq!(total.data_received, 120);
    }

    #[test]
    fn a_very_slow_response_does_not_panic() {
        let mut r = Recorder::new(1);
        r.record(0, &ok(10 * 3600 * 1000));
        assert_eq!(r.steps[0].duration.len(), 1);
        assert!(r.steps[0].duration.max() >= 10 * 3600 * 1_000_000 * 999 / 1000);
    }

    #[test]
    fn out_of_range_steps_and_statuses_are_ignored() {
        let mut r = Recorder::new(1);
        r.record(5, &ok(1));
        r.record(
            0,
            &Sample {
                status: Some(5000),
                ..ok(1)
            },
        );
        assert_eq!(r.requests(), 1);
    }
}
