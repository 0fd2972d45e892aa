//! Numbers as people read them: digit grouping (`1,234,567`) shared by the terminal summary,
//! the live views, the reports and the capacity plan.

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    group_digits(&n.to_string())
}

/// `31250.0` → `31,250`; `1680.5` with 1 decimal → `1,680.5` (trailing zeros of the fraction
/// dropped); negative numbers keep their sign.
pub fn group(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = group_digits(int);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// A run of ASCII digits with a comma every three from the right.
fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn fractions_keep_their_significant_decimals() {
        assert_eq!(group(31250.0, 0), "31,250");
        assert_eq!(group(1680.5, 1), "1,680.5");
        assert_eq!(group(1680.50, 2), "1,680.5");
        assert_eq!(group(-1234.0, 0), "-1,234");
        assert_eq!(group(0.25, 2), "0.25");
    }
}
