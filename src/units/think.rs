//! The think-time grammar: `constant(1s)`, `between(1s, 5s)`, `exponential(3s)`, `pacing(2s)`.

use super::duration::{DurationError, parse_duration};
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

/// Why a text is not a think time (`0`: the text as written, trimmed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThinkError {
    /// A duration inside `pacing(...)`, `between(...)`, ...
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("`{0}`: the pacing period must be above zero")]
    ZeroPacing(String),
    #[error("`{0}`: between takes two durations, e.g. `between(1s, 5s)`")]
    BetweenArity(String),
    #[error("`{0}`: the lower bound is above the upper one")]
    BetweenReversed(String),
    #[error(
        "think time `{0}` is cut short: inside `{{ ... }}` a comma splits the value; quote it: `think_time: \"between(1s, 5s)\"`"
    )]
    CutShort(String),
    #[error(
        "unknown think time `{0}`: use `constant(1s)`, `between(1s, 5s)`, `exponential(3s)` or `pacing(2s)`"
    )]
    Unknown(String),
    /// A bare value that is not a duration either.
    #[error("{0}; think time is `constant(1s)`, `between(1s, 5s)` or a duration")]
    NotADuration(DurationError),
}

pub fn parse_think(text: &str) -> Result<ThinkSpec, ThinkError> {
    let s = text.trim();
    let call = |name: &str| {
        s.strip_prefix(name)
            .and_then(|r| r.trim_start().strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
    };
    if let Some(arg) = call("pacing") {
        let d = parse_duration(arg)?;
        if d.is_zero() {
            return Err(ThinkError::ZeroPacing(s.to_string()));
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
            .ok_or_else(|| ThinkError::BetweenArity(s.to_string()))?;
        let (lo, hi) = (parse_duration(a)?, parse_duration(b)?);
        if lo > hi {
            return Err(ThinkError::BetweenReversed(s.to_string()));
        }
        return Ok(ThinkSpec::Between(lo, hi));
    }
    if s.contains('(') && !s.contains(')') {
        return Err(ThinkError::CutShort(s.to_string()));
    }
    if s.contains('(') {
        return Err(ThinkError::Unknown(s.to_string()));
    }
    parse_duration(s)
        .map(ThinkSpec::Constant)
        .map_err(ThinkError::NotADuration)
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
        assert_eq!(
            parse_think("gaussian(1s)"),
            Err(ThinkError::Unknown("gaussian(1s)".into()))
        );
        assert!(
            parse_think("gaussian(1s)")
                .unwrap_err()
                .to_string()
                .starts_with("unknown think time `gaussian(1s)`")
        );
    }
}
