//! Numbers as the live views print them.

use std::time::Duration;

/// `01:05`, or `1:02:03` past an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// `12,345`
pub fn count(n: u64) -> String {
    crate::units::number::thousands(n)
}

/// A rate per second: `12,345`, or `2.5` below 10.
pub fn rate(r: f64) -> String {
    if r < 10.0 && r.fract() != 0.0 {
        format!("{r:.1}")
    } else {
        count(r.round().max(0.0) as u64)
    }
}

/// Milliseconds with a precision that fits their size: `0.41ms`, `12.3ms`, `345ms`, `1.23s`;
/// `-` for no value.
pub fn millis(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 1000.0 => format!("{:.2}s", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0}ms"),
        Some(v) if v >= 10.0 => format!("{v:.1}ms"),
        Some(v) => format!("{v:.2}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(clock(Duration::from_secs(65)), "01:05");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(123), "123");
        assert_eq!(rate(2.5), "2.5");
        assert_eq!(rate(12345.4), "12,345");
        assert_eq!(millis(Some(0.412)), "0.41ms");
        assert_eq!(millis(Some(12.34)), "12.3ms");
        assert_eq!(millis(Some(345.2)), "345ms");
        assert_eq!(millis(Some(1234.0)), "1.23s");
        assert_eq!(millis(None), "-");
    }
}
