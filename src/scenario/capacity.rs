//! The optional `capacity:` block: the user population a scenario stands for. Runs ignore it;
//! `stampede plan --scenario FILE` reads it (docs/capacity-planning.md).
//!
//! ```yaml
//! capacity:
//!   registered_users: 1000000
//!   daily_active: 10%          # of the registered users
//!   peak_concurrent: 10%       # of the daily active users (or a number of users: 5000)
//!   think_time: between(1s, 5s) # else load.think_time
//! ```

use super::locate::Locations;
use super::model::{RawScenario, ShareOrCount, ThinkSpec};
use super::{ScenarioError, yaml_error};
use std::path::Path;

/// Where the concurrent users at the peak come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Peak {
    /// registered × daily active share × peak share.
    Shares {
        registered_users: u64,
        daily_active: f64,
        peak_concurrent: f64,
    },
    /// A number of concurrent users, written as such.
    Users(u64),
}

/// A validated `capacity:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySpec {
    pub peak: Peak,
    /// `capacity.think_time`, else `load.think_time`, with where it was written.
    pub think_time: Option<(ThinkSpec, String)>,
}

impl CapacitySpec {
    /// Concurrent users at the peak.
    pub fn concurrent_users(&self) -> f64 {
        match self.peak {
            Peak::Shares {
                registered_users,
                daily_active,
                peak_concurrent,
            } => registered_users as f64 * daily_active * peak_concurrent,
            Peak::Users(n) => n as f64,
        }
    }
}

/// Read a scenario file and return its validated `capacity:` block, if it has one. The whole
/// file must deserialise (unknown keys, bad values: `FILE:LINE:COLUMN` errors).
pub fn load_capacity(path: &Path) -> Result<Option<CapacitySpec>, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        pos: None,
        message: format!("cannot read scenario: {e}"),
    })?;
    let raw: RawScenario = serde_yaml_ng::from_str(&text).map_err(|e| yaml_error(&file, &e))?;
    validate(&raw, &file, &Locations::index(&text))
}

/// Check the cross-field rules of `capacity:` (single values are checked while deserialising).
pub(super) fn validate(
    raw: &RawScenario,
    file: &str,
    loc: &Locations,
) -> Result<Option<CapacitySpec>, ScenarioError> {
    let Some(c) = &raw.capacity else {
        return Ok(None);
    };
    let at = |path: &str, message: String| ScenarioError {
        file: file.to_string(),
        pos: loc.key(path),
        message,
    };
    let peak = match c.peak_concurrent {
        None => {
            return Err(at(
                "capacity",
                "capacity needs `peak_concurrent`: a share of the daily active users (`10%`) or a number of users (`5000`)".into(),
            ));
        }
        Some(ShareOrCount::Count(n)) => Peak::Users(n),
        Some(ShareOrCount::Share(p)) => match (c.registered_users, c.daily_active) {
            (Some(0), _) => {
                return Err(at(
                    "capacity.registered_users",
                    "registered_users must be above zero".into(),
                ));
            }
            (Some(r), Some(d)) => Peak::Shares {
                registered_users: r,
                daily_active: d.0,
                peak_concurrent: p,
            },
            (r, _) => {
                let missing = if r.is_none() {
                    "registered_users"
                } else {
                    "daily_active"
                };
                return Err(at(
                    "capacity.peak_concurrent",
                    format!(
                        "peak_concurrent is a share of the daily active users: give `{missing}` too, or write a number of users"
                    ),
                ));
            }
        },
    };
    let think_time = match (&c.think_time, raw.load.as_ref().and_then(|l| l.think_time)) {
        (Some(t), _) => Some((*t, at_text(file, loc, "capacity.think_time"))),
        (None, Some(t)) => Some((t, at_text(file, loc, "load.think_time"))),
        (None, None) => None,
    };
    Ok(Some(CapacitySpec { peak, think_time }))
}

fn at_text(file: &str, loc: &Locations, path: &str) -> String {
    match loc.value(path) {
        Some(p) => format!("{file}:{}:{} ({path})", p.line, p.col),
        None => format!("{file} ({path})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(yaml: &str) -> Result<Option<CapacitySpec>, ScenarioError> {
        let raw: RawScenario =
            serde_yaml_ng::from_str(yaml).map_err(|e| yaml_error("c.yaml", &e))?;
        validate(&raw, "c.yaml", &Locations::index(yaml))
    }

    #[test]
    fn shares_multiply_out() {
        let s = spec("capacity:\n  registered_users: 1000000\n  daily_active: 10%\n  peak_concurrent: 10%\n  think_time: between(1s, 5s)\n")
            .unwrap()
            .unwrap();
        assert!((s.concurrent_users() - 10_000.0).abs() < 1e-6);
        let (t, from) = s.think_time.unwrap();
        assert_eq!(
            t,
            ThinkSpec::Between(Duration::from_secs(1), Duration::from_secs(5))
        );
        assert_eq!(from, "c.yaml:5:15 (capacity.think_time)");
        let n = spec("capacity: { peak_concurrent: 5000 }\nload: { think_time: 2s }\n")
            .unwrap()
            .unwrap();
        assert_eq!(n.concurrent_users(), 5000.0);
        assert_eq!(n.think_time.unwrap().1, "c.yaml:2:21 (load.think_time)");
        assert_eq!(spec("name: x\n").unwrap(), None);
    }

    #[test]
    fn bad_values_are_located() {
        let e = spec(
            "capacity:\n  registered_users: 1000\n  daily_active: 150%\n  peak_concurrent: 1%\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string().split(": ").next(), Some("c.yaml:3:17"));
        let e = spec("capacity:\n  registered_users: 1000\n  peak_concurrent: 10%\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:3:3: "), "{e}");
        assert!(e.to_string().contains("daily_active"), "{e}");
        let e = spec("capacity:\n  peak_concurrent: 2.5\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:2:20: "), "{e}");
        let e = spec("capacity:\n  registered_users: -4\n  peak_concurrent: 3\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:2:21: "), "{e}");
        let e = spec("capacity:\n  daily_actve: 10%\n").unwrap_err();
        assert!(e.to_string().contains("did you mean `daily_active`"), "{e}");
        let e = spec("capacity:\n  registered_users: 10\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:1:1: "), "{e}");
        let e =
            spec("capacity:\n  peak_concurrent: 10\n  think_time: between(5s, 1s)\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:3:15: "), "{e}");
    }
}
