//! The per-second snapshots of a `run --processes N` child, as lines on its stdout, for the
//! parent's one live view: `STAMPEDE_LIVE_HELLO {"workers":W}` once the engine runs, then one
//! `STAMPEDE_LIVE {...}` line per worker flush (each second, and once more when a worker
//! stops). A line carries the worker's recorder delta: counters as numbers and every
//! histogram as HdrHistogram V2 (base64), so the parent adds them exactly.
//!
//! Live only: the final numbers come from the parts' summary.json (`stampede merge`). Not
//! carried live: stream (`sse:`) and WebSocket (`ws:`) figures and protocol-error reasons.

use crate::metrics::aggregate::Snapshot;
use crate::metrics::recorder::{ErrorKind, Recorder, StepStats, TlsReason};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// The prefix of a snapshot line.
pub const SNAPSHOT: &str = "STAMPEDE_LIVE ";
/// The prefix of the line that says how many workers (snapshots per second) a child has.
pub const HELLO: &str = "STAMPEDE_LIVE_HELLO ";

#[derive(Serialize, Deserialize)]
struct Hello {
    workers: usize,
}

#[derive(Serialize, Deserialize, Default)]
struct WireStep {
    requests: u64,
    failures: u64,
    checks_passed: u64,
    checks_failed: u64,
    duration: String,
    waiting: String,
    connecting: String,
    tls_handshaking: String,
    blocked: String,
    uncorrected: String,
}

#[derive(Serialize, Deserialize, Default)]
struct WireSnapshot {
    worker: usize,
    second: u64,
    vus: u32,
    vus_peak: u32,
    steps: Vec<WireStep>,
    iteration: String,
    iterations: u64,
    schedule_lag: String,
    dropped_iterations: u64,
    data_sent: u64,
    data_received: u64,
    /// `[code, count]` for the codes seen.
    status: Vec<(u16, u64)>,
    checks: Vec<[u64; 2]>,
    errors: Vec<u64>,
    tls_reasons: Vec<u64>,
    iterations_due: u64,
    iterations_interrupted: u64,
    retries: u64,
}

fn enc(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return String::new();
    }
    let mut buf = Vec::new();
    // Writing to a Vec fails only on a histogram V2 cannot describe; an empty string then
    // (the live view misses those samples; the final report does not).
    match V2Serializer::new().serialize(h, &mut buf) {
        Ok(_) => B64.encode(buf),
        Err(_) => String::new(),
    }
}

/// A histogram as sent, sized to its values (a full-range `new_histogram` is ~140 KiB; a
/// snapshot has dozens of them and the parent receives several a second).
/// Why a `STAMPEDE_LIVE` line from a child cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a snapshot line: {0}")]
    NotASnapshot(serde_json::Error),
    #[error("a snapshot of {got} steps for a plan of {steps}")]
    TooManySteps { got: usize, steps: usize },
    #[error("not a hello line: {0}")]
    NotAHello(serde_json::Error),
    #[error("a histogram is not base64: {0}")]
    NotBase64(base64::DecodeError),
    /// `0`: the HdrHistogram decoder's reason.
    #[error("a histogram is not HdrHistogram V2: {0}")]
    NotHistogram(String),
    #[error("{0}")]
    NewHistogram(String),
}

fn dec(s: &str) -> Result<Histogram<u64>, WireError> {
    let mut h: Histogram<u64> = if s.is_empty() {
        Histogram::new(3).map_err(|e| WireError::NewHistogram(format!("{e:?}")))?
    } else {
        let bytes = B64.decode(s).map_err(WireError::NotBase64)?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| WireError::NotHistogram(format!("{e:?}")))?
    };
    h.auto(true);
    Ok(h)
}

/// One snapshot as a line (without the newline).
pub fn encode(snap: &Snapshot) -> String {
    let r = &snap.data;
    let w = WireSnapshot {
        worker: snap.worker,
        second: snap.second,
        vus: snap.vus,
        vus_peak: snap.vus_peak,
        steps: r
            .steps
            .iter()
            .map(|s| WireStep {
                requests: s.requests,
                failures: s.failures,
                checks_passed: s.checks_passed,
                checks_failed: s.checks_failed,
                duration: enc(&s.duration),
                waiting: enc(&s.waiting),
                connecting: enc(&s.connecting),
                tls_handshaking: enc(&s.tls_handshaking),
                blocked: enc(&s.blocked),
                uncorrected: enc(&s.uncorrected),
            })
            .collect(),
        iteration: enc(&r.iteration),
        iterations: r.iterations,
        schedule_lag: enc(&r.schedule_lag),
        dropped_iterations: r.dropped_iterations,
        data_sent: r.data_sent,
        data_received: r.data_received,
        status: r
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c as u16, *n))
            .collect(),
        checks: r.checks.clone(),
        errors: r.errors.to_vec(),
        tls_reasons: r.tls_reasons.to_vec(),
        iterations_due: r.iterations_due,
        iterations_interrupted: r.iterations_interrupted,
        retries: r.retries,
    };
    // Plain data: serializing to a string cannot fail.
    format!(
        "{SNAPSHOT}{}",
        serde_json::to_string(&w).unwrap_or_default()
    )
}

/// A snapshot line (after its prefix) back into a snapshot of a plan with `steps` steps.
pub fn decode(body: &str, steps: usize) -> Result<Snapshot, WireError> {
    let w: WireSnapshot = serde_json::from_str(body).map_err(WireError::NotASnapshot)?;
    if w.steps.len() > steps {
        return Err(WireError::TooManySteps {
            got: w.steps.len(),
            steps,
        });
    }
    let mut step_stats = Vec::with_capacity(steps);
    for i in 0..steps {
        let empty = WireStep::default();
        let ws = w.steps.get(i).unwrap_or(&empty);
        step_stats.push(StepStats {
            duration: dec(&ws.duration)?,
            waiting: dec(&ws.waiting)?,
            connecting: dec(&ws.connecting)?,
            tls_handshaking: dec(&ws.tls_handshaking)?,
            blocked: dec(&ws.blocked)?,
            uncorrected: dec(&ws.uncorrected)?,
            requests: ws.requests,
            checks_passed: ws.checks_passed,
            checks_failed: ws.checks_failed,
            failures: ws.failures,
            stream: None,
            ws: None,
        });
    }
    let mut r = Recorder {
        steps: step_stats,
        iteration: dec(&w.iteration)?,
        iterations: 0,
        schedule_lag: dec(&w.schedule_lag)?,
        dropped_iterations: 0,
        data_sent: 0,
        data_received: 0,
        status: vec![0; 1000],
        checks: Vec::new(),
        errors: [0; ErrorKind::ALL.len()],
        tls_reasons: [0; TlsReason::ALL.len()],
        protocol_reasons: Vec::new(),
        iterations_due: 0,
        iterations_interrupted: 0,
        retries: 0,
    };
    r.iterations = w.iterations;
    r.dropped_iterations = w.dropped_iterations;
    r.data_sent = w.data_sent;
    r.data_received = w.data_received;
    for (code, n) in w.status {
        if let Some(c) = r.status.get_mut(code as usize) {
            *c += n;
        }
    }
    r.checks = w.checks;
    for (a, b) in r.errors.iter_mut().zip(&w.errors) {
        *a = *b;
    }
    for (a, b) in r.tls_reasons.iter_mut().zip(&w.tls_reasons) {
        *a = *b;
    }
    r.iterations_due = w.iterations_due;
    r.iterations_interrupted = w.iterations_interrupted;
    r.retries = w.retries;
    Ok(Snapshot {
        worker: w.worker,
        second: w.second,
        data: r,
        vus: w.vus,
        vus_peak: w.vus_peak,
    })
}

/// The hello line.
pub fn hello(workers: usize) -> String {
    format!(
        "{HELLO}{}",
        serde_json::to_string(&Hello { workers }).unwrap_or_default()
    )
}

/// The worker count of a hello line (after its prefix).
pub fn decode_hello(body: &str) -> Result<usize, WireError> {
    serde_json::from_str::<Hello>(body)
        .map(|h| h.workers)
        .map_err(WireError::NotAHello)
}

/// The child's end: writes the lines to stdout when asked to (`--live-snapshots`), else nothing.
pub struct Writer {
    on: bool,
}

impl Writer {
    pub fn new(on: bool, workers: usize) -> Writer {
        let w = Writer { on };
        w.line(&hello(workers));
        w
    }

    fn line(&self, text: &str) {
        if !self.on {
            return;
        }
        let mut out = std::io::stdout().lock();
        // The parent gone means the live view is gone; the run goes on and writes its part.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub fn offer(&self, snap: &Snapshot) {
        if self.on {
            self.line(&encode(snap));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::Sample;
    use std::time::Duration;

    #[test]
    fn a_snapshot_survives_the_line_exactly() {
        let mut r = Recorder::with_checks(2, 1);
        for ms in [1u64, 3, 7, 250] {
            r.record(
                1,
                &Sample {
                    duration: Some(Duration::from_millis(ms)),
                    uncorrected: Some(Duration::from_millis(ms)),
                    waiting: Some(Duration::from_millis(ms)),
                    status: Some(200),
                    ..Default::default()
                },
            );
        }
        r.record(0, &Sample::failed(ErrorKind::ALL[0]));
        r.record_iteration(Duration::from_millis(9));
        r.record_check(1, 0, true);
        r.dropped_iterations = 3;
        let snap = Snapshot {
            worker: 1,
            second: 7,
            data: r.clone(),
            vus: 5,
            vus_peak: 6,
        };
        let line = encode(&snap);
        assert!(!line.contains('\n'));
        let body = line.strip_prefix(SNAPSHOT).expect("prefix");
        let back = decode(body, 2).expect("decodes");
        assert_eq!(
            (back.worker, back.second, back.vus, back.vus_peak),
            (1, 7, 5, 6)
        );
        assert_eq!(back.data.requests(), r.requests());
        assert_eq!(back.data.failures(), r.failures());
        assert_eq!(back.data.steps[1].duration, r.steps[1].duration);
        assert_eq!(back.data.iteration, r.iteration);
        assert_eq!(back.data.status[200], 4);
        assert_eq!(back.data.errors, r.errors);
        assert_eq!(back.data.checks, r.checks);
        assert_eq!(back.data.dropped_iterations, 3);
        assert!(decode(body, 1).is_err(), "more steps than the plan has");
        assert!(decode("{", 2).is_err());
        let h = hello(4);
        assert_eq!(
            decode_hello(h.strip_prefix(HELLO).expect("prefix")).ok(),
            Some(4)
        );
        assert!(matches!(decode_hello("{}"), Err(WireError::NotAHello(_))));
    }
}
