//! Little's law: the request rate a population of users makes, and how many requests are in
//! flight at once.
//!
//! Each of N concurrent users waits for a response (R), thinks (Z), and asks again, so one
//! user makes a request every `Z + R` on average and
//!
//! ```text
//! required_rps = N / (Z + R)        in_flight = required_rps × R
//! ```
//!
//! Z is the *mean* think time: `between(1s, 5s)` is uniform, so 3 s. With `pacing(P)` a user
//! starts a request every P whatever the response time (as long as R ≤ P), so the cycle is
//! `max(P, R)` instead of `Z + R`. One request per think cycle is assumed: a flow of k steps
//! with no think time between them makes k requests per cycle (multiply the rate by k).

use crate::units::duration::format_duration;
use crate::units::think::ThinkSpec;
use std::time::Duration;

/// The load a population makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub users: f64,
    /// Mean think time, seconds.
    pub think_mean_s: f64,
    /// Response time, seconds.
    pub response_s: f64,
    /// Seconds between two requests of one user.
    pub cycle_s: f64,
    pub required_rps: f64,
    pub in_flight: f64,
    /// How the think time was read, for the plan's assumptions.
    pub think_note: String,
}

/// Why Little's law cannot give the load of a population.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DemandError {
    #[error("users must be above zero (got {0})")]
    NoUsers(f64),
    #[error(
        "think time and response time are both zero: each user would ask infinitely often; give --response-time"
    )]
    ZeroCycle,
}

/// `N / (Z + R)` (or `N / max(P, R)` with pacing).
pub fn demand(users: f64, think: ThinkSpec, response: Duration) -> Result<Demand, DemandError> {
    if !(users.is_finite() && users > 0.0) {
        return Err(DemandError::NoUsers(users));
    }
    let r = response.as_secs_f64();
    let (z, cycle, note) = match think {
        ThinkSpec::Constant(d) => (
            d.as_secs_f64(),
            d.as_secs_f64() + r,
            format!("think time {} (constant)", format_duration(d)),
        ),
        ThinkSpec::Between(lo, hi) => {
            let mean = (lo + hi) / 2;
            (
                mean.as_secs_f64(),
                mean.as_secs_f64() + r,
                format!(
                    "think time between({}, {}): uniform, mean {}",
                    format_duration(lo),
                    format_duration(hi),
                    format_duration(mean)
                ),
            )
        }
        ThinkSpec::Exponential(mean) => (
            mean.as_secs_f64(),
            mean.as_secs_f64() + r,
            format!(
                "think time exponential({}): mean {}",
                format_duration(mean),
                format_duration(mean)
            ),
        ),
        ThinkSpec::Pacing(p) => {
            let period = p.as_secs_f64();
            let cycle = period.max(r);
            (
                (cycle - r).max(0.0),
                cycle,
                if r > period {
                    format!(
                        "pacing({}): the response time is longer than the period, so a user asks once per response",
                        format_duration(p)
                    )
                } else {
                    format!(
                        "pacing({}): a user starts a request every {}",
                        format_duration(p),
                        format_duration(p)
                    )
                },
            )
        }
    };
    if cycle <= 0.0 {
        return Err(DemandError::ZeroCycle);
    }
    let required_rps = users / cycle;
    Ok(Demand {
        users,
        think_mean_s: z,
        response_s: r,
        cycle_s: cycle,
        required_rps,
        in_flight: required_rps * r,
        think_note: note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::think::parse_think;

    fn d(s: &str) -> ThinkSpec {
        parse_think(s).unwrap()
    }

    #[test]
    fn the_issue_example() {
        let x = demand(100_000.0, d("3s"), Duration::from_millis(200)).unwrap();
        assert!((x.required_rps - 31_250.0).abs() < 1e-6);
        assert!((x.in_flight - 6_250.0).abs() < 1e-6);
    }

    #[test]
    fn between_means_the_middle() {
        let x = demand(10_000.0, d("between(1s, 5s)"), Duration::ZERO).unwrap();
        assert_eq!(x.think_mean_s, 3.0);
        assert!((x.required_rps - 10_000.0 / 3.0).abs() < 1e-9);
        assert_eq!(x.in_flight, 0.0);
        let c = demand(10.0, d("constant(2s)"), Duration::from_secs(3)).unwrap();
        assert_eq!(c.required_rps, 2.0);
        assert_eq!(c.in_flight, 6.0);
        assert!(c.think_note.contains("constant"));
        let ms = demand(1.0, d("200ms"), Duration::from_millis(300)).unwrap();
        assert_eq!(ms.required_rps, 2.0);
    }

    #[test]
    fn pacing_is_a_period() {
        let p = demand(100.0, d("pacing(2s)"), Duration::from_millis(500)).unwrap();
        assert_eq!(p.required_rps, 50.0);
        let slow = demand(100.0, d("pacing(2s)"), Duration::from_secs(4)).unwrap();
        assert_eq!(slow.required_rps, 25.0);
        assert!(slow.think_note.contains("longer than the period"));
    }

    #[test]
    fn refuses_nonsense() {
        assert!(demand(0.0, d("1s"), Duration::from_secs(1)).is_err());
        assert!(demand(10.0, d("0"), Duration::ZERO).is_err());
    }
}
