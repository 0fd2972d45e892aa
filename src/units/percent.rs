//! Shares written as percentages: `10%` → 0.1 (or a number in (0, 1]).

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A share written `10%` (or a number in (0, 1]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share(pub f64);

/// Why a value is not a share (`0`: the value as written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PercentError {
    #[error("`{0}` is not a share: write a percentage such as `10%`")]
    NoPercentSign(String),
    #[error("`{0}` is not a percentage such as `10%`")]
    NotANumber(String),
    #[error("`{0}` is not a share above 0 % and at most 100 %")]
    OutOfRange(String),
}

/// `12%` → 0.12; refuses what is not in (0 %, 100 %].
pub fn parse_percent(text: &str) -> Result<f64, PercentError> {
    let s = text.trim();
    let Some(num) = s.strip_suffix('%') else {
        return Err(PercentError::NoPercentSign(s.to_string()));
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| PercentError::NotANumber(s.to_string()))?;
    check_share(v / 100.0, s)
}

fn check_share(v: f64, shown: &str) -> Result<f64, PercentError> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(PercentError::OutOfRange(shown.to_string()))
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Share;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a share such as `10%`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Share, E> {
                parse_percent(s).map(Share).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Share, E> {
                check_share(v, &v.to_string()).map(Share).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Share, E> {
                check_share(v as f64, &v.to_string())
                    .map(Share)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Share, E> {
                check_share(v as f64, &v.to_string())
                    .map(Share)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}
