//! Durations as people write them in scenarios: `500ms`, `30s`, `1m30s`, `2h`, `1.5s`, `250us`.

use std::time::Duration;

/// Why a text is not a duration (`text`: the whole duration as written, trimmed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration: write e.g. `30s`, `500ms` or `1m30s`")]
    Empty,
    #[error(
        "invalid duration `{text}`: expected a number before `{rest}` (e.g. `30s`, `500ms`, `1m30s`)"
    )]
    NoNumber { text: String, rest: String },
    #[error("invalid duration `{text}`: `{number}` is not a number")]
    NotANumber { text: String, number: String },
    #[error(
        "invalid duration `{text}`: `{number}` needs a unit (h, m, s, ms, us), e.g. `{number}s`"
    )]
    NoUnit { text: String, number: f64 },
    #[error("invalid duration `{text}`: unknown unit `{unit}` (use h, m, s, ms or us)")]
    UnknownUnit { text: String, unit: String },
    #[error("invalid duration `{text}`: longer than a year")]
    TooLong { text: String },
}

/// Parse a duration with units. A bare number is refused (which unit would it be?), except `0`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let text = || s.to_string();
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(DurationError::NoNumber {
                text: text(),
                rest: rest.to_string(),
            });
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| DurationError::NotANumber {
                text: text(),
                number: rest[..num_len].to_string(),
            })?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs_per_unit = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            "" => {
                return Err(DurationError::NoUnit {
                    text: text(),
                    number,
                });
            }
            other => {
                return Err(DurationError::UnknownUnit {
                    text: text(),
                    unit: other.to_string(),
                });
            }
        };
        total += number * secs_per_unit;
    }
    if !total.is_finite() || total > 365.0 * 24.0 * 3600.0 {
        return Err(DurationError::TooLong { text: text() });
    }
    Ok(Duration::from_secs_f64(total))
}

/// Print a duration compactly: `1m30s`, `250ms`, `2.5s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        return format!("{}us", d.as_micros());
    }
    if ms < 1000.0 {
        return format!("{}ms", trim_float(ms));
    }
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        return format!("{}s", trim_float(secs));
    }
    let whole = d.as_secs();
    let (h, m, s) = (whole / 3600, (whole % 3600) / 60, whole % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_ambiguous_or_wrong() {
        assert!(matches!(
            parse_duration("30"),
            Err(DurationError::NoUnit { number, .. }) if number == 30.0
        ));
        assert!(
            parse_duration("30")
                .unwrap_err()
                .to_string()
                .contains("needs a unit")
        );
        assert!(
            matches!(parse_duration("10x"), Err(DurationError::UnknownUnit { unit, .. }) if unit == "x")
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1..2s").is_err());
        assert!(parse_duration("99999999h").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
    }
}
