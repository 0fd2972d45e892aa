//! The think-time grammar: `constant(1s)`, `between(1s, 5s)`, `exponential(3s)`, `pacing(2s)`.

use super::duration::parse_duration;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// `constant(1s)`, `between(1s, 5s)`, or a bare duration meaning `constant(...)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThinkSpec {
    Constant(Duration),
    Between(Duration, Duration),
    /// Exponentially distributed pauses with this mean (memoryless, as Poisson arrivals).
    Exponential(Duration),
    Pacing(Duration),
}

pub fn parse_think(text: &str) -> Result<ThinkSpec, String> {
    let s = text.trim();
    let call = |name: &str| {
        s.strip_prefix(name)
            .and_then(|r| r.trim_start().strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
    };
    if let Some(arg) = call("pacing") {
        let d = parse_duration(arg)?;
        if d.is_zero() {
            return Err(format!("`{s}`: the pacing period must be above zero"));
        }
        return Ok(ThinkSpec::Pacing(d));
    }
    if let Some(arg) = call("exponential") {
        return Ok(ThinkSpec::Exponential(parse_duration(arg)?));
    }
    if let Some(arg) = call("constant") {
        return Ok(ThinkSpec::Constant(parse_duration(arg)?));
    }
    if let Some(args) = call("between") {
        let (a, b) = args
            .split_once(',')
            .ok_or_else(|| format!("`{s}`: between takes two durations, e.g. `between(1s, 5s)`"))?;
        let (lo, hi) = (parse_duration(a)?, parse_duration(b)?);
        if lo > hi {
            return Err(format!("`{s}`: the lower bound is above the upper one"));
        }
        return Ok(ThinkSpec::Between(lo, hi));
    }
    if s.contains('(') && !s.contains(')') {
        return Err(format!(
            "think time `{s}` is cut short: inside `{{ ... }}` a comma splits the value; quote it: `think_time: \"between(1s, 5s)\"`"
        ));
    }
    if s.contains('(') {
        return Err(format!(
            "unknown think time `{s}`: use `constant(1s)`, `between(1s, 5s)`, `exponential(3s)` or `pacing(2s)`"
        ));
    }
    parse_duration(s)
        .map(ThinkSpec::Constant)
        .map_err(|e| format!("{e}; think time is `constant(1s)`, `between(1s, 5s)` or a duration"))
}

impl<'de> Deserialize<'de> for ThinkSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, so that errors carry the position of the value itself.
        struct V;
        impl Visitor<'_> for V {
            type Value = ThinkSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a think time such as `constant(1s)` or `between(1s, 5s)`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ThinkSpec, E> {
                parse_think(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_time_grammar() {
        assert_eq!(
            parse_think("constant(1s)"),
            Ok(ThinkSpec::Constant(Duration::from_secs(1)))
        );
        assert_eq!(
            parse_think("between(1s, 5s)"),
            Ok(ThinkSpec::Between(
                Duration::from_secs(1),
                Duration::from_secs(5)
            ))
        );
        assert_eq!(
            parse_think("250ms"),
            Ok(ThinkSpec::Constant(Duration::from_millis(250)))
        );
        assert_eq!(
            parse_think("exponential(3s)"),
            Ok(ThinkSpec::Exponential(Duration::from_secs(3)))
        );
        assert!(parse_think("exponential(soon)").is_err());
        assert!(parse_think("between(5s, 1s)").is_err());
        assert!(parse_think("between(1s)").is_err());
        assert!(
            parse_think("gaussian(1s)")
                .unwrap_err()
                .contains("unknown think time")
        );
    }
}
