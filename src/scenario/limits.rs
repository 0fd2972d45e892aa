//! The documented limits of what stampede accepts, and the one checked conversion every
//! user-supplied number goes through (durations, rates, scale factors, ports, sizes). Nothing a
//! user writes may panic, abort or allocate more than its bound needs: a value past a limit is
//! refused with a message that names the limit (docs/scenarios.md, "Limits").

use std::time::Duration;

/// The longest load schedule (and any single duration): one year.
pub const MAX_SCHEDULE: Duration = Duration::from_secs(365 * 24 * 3600);
/// The highest arrival rate (iterations per second) the open-model scheduler honours in one
/// process; beyond it the timer cannot hand out iterations on time anyway.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The deepest open-model queue (iterations waiting for a VU), summed over workers. The queue
/// grows on demand up to this bound; nothing is allocated for it up front.
pub const MAX_QUEUE: u32 = 10_000_000;
/// The most VUs one process starts (each holds a socket).
pub const MAX_VUS: u32 = 10_000_000;
/// `--scale`: the largest factor.
pub const MAX_SCALE: f64 = 1e6;
/// A scenario file's largest size.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// The deepest nesting of mappings and sequences in a scenario file.
pub const MAX_DEPTH: usize = 64;
/// `http.max_body` by default: the most of a response body kept for checks and extraction.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;

/// A user number past one of the limits above.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("{what}: {secs} s is not a duration")]
    NotADuration { what: String, secs: f64 },
    #[error("{what} would last {days} days: the longest schedule is one year")]
    LongerThanAYear { what: String, days: f64 },
    #[error("{flag} must be a number above 0, got {value}")]
    FactorNotPositive { flag: String, value: f64 },
    #[error("{flag} {value} is too large: at most {max}")]
    FactorTooLarge { flag: String, value: f64, max: f64 },
    #[error("the rate must be a number of iterations per second above 0, got {0}")]
    RateNotPositive(f64),
    #[error("a rate must be a number of 0 or more, got {0}")]
    RateNegative(f64),
    #[error(
        "a rate of {0} iterations/s is beyond what one process can schedule (at most {max:.0}/s); split the load over several processes",
        max = MAX_RATE
    )]
    RateTooHigh(f64),
    /// `0`: the value as YAML shows it.
    #[error(
        "a size is a whole number of bytes or a number with a unit (KiB, MiB, GiB, kB, MB, GB), e.g. `10MiB`; got {0}"
    )]
    NotASize(String),
    #[error("{0} bytes is above the limit of 1GiB")]
    SizeTooLarge(f64),
}

/// Multiply a duration by a factor, refusing what does not fit the one-year limit (instead of
/// `Duration::from_secs_f64`'s panic).
pub fn scale_duration(d: Duration, f: f64, what: &str) -> Result<Duration, LimitError> {
    let secs = d.as_secs_f64() * f;
    if !secs.is_finite() || secs < 0.0 {
        return Err(LimitError::NotADuration {
            what: what.into(),
            secs,
        });
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(out) if out <= MAX_SCHEDULE => Ok(out),
        _ => Err(LimitError::LongerThanAYear {
            what: what.into(),
            days: (secs / 86_400.0).round(),
        }),
    }
}

/// A factor such as `--scale` or `--time-scale`: finite, above zero, at most `max`.
pub fn factor(f: f64, flag: &str, max: f64) -> Result<f64, LimitError> {
    if !f.is_finite() || f <= 0.0 {
        return Err(LimitError::FactorNotPositive {
            flag: flag.into(),
            value: f,
        });
    }
    if f > max {
        return Err(LimitError::FactorTooLarge {
            flag: flag.into(),
            value: f,
            max,
        });
    }
    Ok(f)
}

/// An arrival rate in iterations per second: finite, 0 or more (above 0 when `positive`), at
/// most `MAX_RATE`.
pub fn rate(r: f64, positive: bool) -> Result<f64, LimitError> {
    if !r.is_finite() || r < 0.0 || (positive && r == 0.0) {
        return Err(if positive {
            LimitError::RateNotPositive(r)
        } else {
            LimitError::RateNegative(r)
        });
    }
    if r > MAX_RATE {
        return Err(LimitError::RateTooHigh(r));
    }
    Ok(r)
}

/// A count computed from floats (VUs, queue depth): rounded up, at most `max`.
pub fn count(v: f64, max: u32) -> u32 {
    if v.is_finite() && v > 0.0 {
        v.ceil().min(max as f64) as u32
    } else {
        0
    }
}

pub use crate::plan::check_url;

/// The most `http.max_body` may be.
pub const MAX_BODY_LIMIT: u64 = 1 << 30;

/// A size in bytes: a whole number, or with a unit (`512KiB`, `10MiB`, `1GiB`, `100kB`,
/// `5MB`), from 1 byte to 1 GiB.
pub fn size(v: &serde_yaml_ng::Value) -> Result<usize, LimitError> {
    let bad = || {
        LimitError::NotASize(
            serde_yaml_ng::to_string(v)
                .unwrap_or_default()
                .trim()
                .to_string(),
        )
    };
    let bytes: f64 = match v {
        serde_yaml_ng::Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        serde_yaml_ng::Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let n: f64 = s[..split].parse().map_err(|_| bad())?;
            let unit = match s[split..].trim() {
                "" | "B" => 1.0,
                "KiB" => 1024.0,
                "MiB" => 1024.0 * 1024.0,
                "GiB" => 1024.0 * 1024.0 * 1024.0,
                "kB" | "KB" => 1e3,
                "MB" => 1e6,
                "GB" => 1e9,
                _ => return Err(bad()),
            };
            n * unit
        }
        _ => return Err(bad()),
    };
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(bad());
    }
    if bytes > MAX_BODY_LIMIT as f64 {
        return Err(LimitError::SizeTooLarge(bytes));
    }
    Ok(bytes as usize)
}

/// A name for the terminal: ANSI escape sequences (`ESC [ ... letter`) and every other control
/// character removed.
pub fn printable(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, up to the final byte (@ to ~).
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ports_are_refused() {
        for bad in [
            "http://127.0.0.1:abc",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:-1",
            "http://127.0.0.1:0",
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains("port"), "{bad}: {e}");
        }
        check_url("http://127.0.0.1:65535").unwrap();
        check_url("https://[::1]:8443/api").unwrap();
    }

    #[test]
    fn credentials_are_refused_and_not_echoed() {
        let e = check_url("http://bob:s3cret@127.0.0.1:8080")
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn huge_factors_do_not_panic() {
        for f in [1e18, 1e20, 1e30, f64::MAX, f64::INFINITY] {
            assert!(scale_duration(Duration::from_secs(10), f, "x").is_err());
        }
        assert_eq!(
            scale_duration(Duration::from_secs(10), 0.5, "x").unwrap(),
            Duration::from_secs(5)
        );
        assert!(rate(1e15, true).is_err());
        assert!(rate(0.0, true).is_err());
        assert_eq!(count(1e300, 7), 7);
    }

    #[test]
    fn control_characters_are_stripped() {
        assert_eq!(printable("a\u{1b}[31mred\u{7}\u{1b}[0m"), "ared");
        assert_eq!(printable("x\u{1b}"), "x");
    }
}
