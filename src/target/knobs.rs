//! The target's configurable misbehaviour: `--stall HOLD/EVERY` and the `/work` limit.

#[allow(unused_imports)]
use super::*;

/// Hold every response during the first `hold` of every `every` (counting from the target's
/// start): a stalling service, for testing honest latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    pub hold: Duration,
    pub every: Duration,
}

/// Why a `--stall` value is refused (`text`: as written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StallError {
    #[error("`{0}`: a stall is HOLD/EVERY, e.g. `1s/5s` (hold responses 1 s in every 5 s)")]
    Shape(String),
    #[error(
        "`{text}`: a stall is HOLD/EVERY, e.g. `1s/5s` (hold responses 1 s in every 5 s): {problem}"
    )]
    Duration {
        text: String,
        problem: crate::units::duration::DurationError,
    },
    #[error("`{0}`: HOLD must be shorter than EVERY, and EVERY above zero")]
    Order(String),
}

impl Stall {
    /// Parse `HOLD/EVERY`, e.g. `1s/5s`.
    pub fn parse(s: &str) -> Result<Stall, StallError> {
        let (a, b) = s
            .split_once('/')
            .ok_or_else(|| StallError::Shape(s.into()))?;
        let duration = |d: &str| {
            crate::units::duration::parse_duration(d).map_err(|problem| StallError::Duration {
                text: s.into(),
                problem,
            })
        };
        let (hold, every) = (duration(a)?, duration(b)?);
        if every.is_zero() || hold >= every {
            return Err(StallError::Order(s.into()));
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
    pub(super) slots: std::sync::Mutex<Vec<std::time::Instant>>,
    pub(super) time: Duration,
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
    pub(super) fn book(&self) -> std::time::Instant {
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

    pub(super) async fn serve(&self) {
        let done = self.book();
        tokio::time::sleep_until(tokio::time::Instant::from_std(done)).await;
    }
}

impl Default for Work {
    fn default() -> Self {
        Work::new(4, Duration::from_millis(3))
    }
}
