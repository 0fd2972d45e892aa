//! Execution segments (k6's model): a run split into parts `from:to` of the whole, each run by
//! its own process or machine, that together do exactly what one process would.
//!
//! Every countable thing of a run — VU slots, iterations of an arrival-rate schedule, rows of a
//! `pick: unique` data feed, shared iterations — is numbered 0, 1, 2, … in one global order, and
//! a *stripe* deals the numbers out to the segments of a sequence in a fixed repeating pattern
//! (smooth weighted round robin over one cycle of `L` slots, `L` the least common denominator).
//! Each number belongs to exactly one segment, so the shares of any count sum to the whole at
//! every instant, and every segment's share stays within one of its exact fraction.

use std::fmt;
use std::sync::Arc;

/// Why a segment, a sequence or a fraction is refused (the message names the option).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("{0}/0: division by zero")]
    DivisionByZero(u64),
    #[error("`{0}` is not a fraction (write 1/4, 0.25 or 25%)")]
    NotAFraction(String),
    #[error("--segment {0}: a segment is from:to with 0 <= from < to <= 1")]
    Bounds(String),
    #[error("--segment {segment} is not one of the segments of --segment-sequence {sequence}")]
    NotInSequence { segment: String, sequence: String },
    #[error("--segment {0}: write i/n (the i-th of n parts, 1-based) or from:to")]
    Syntax(String),
    #[error("--segment {0}: i/n needs 1 <= i <= n (the i-th of n parts)")]
    Index(String),
    #[error("--segment {segment}: --segment-sequence has {has} segments, not {n}")]
    SequenceCount { segment: String, has: usize, n: u64 },
    #[error("--segment {0}: at most {MAX_CYCLE} parts")]
    TooManyParts(String),
    #[error("--segment-sequence {sequence}: {source}")]
    SequenceFraction {
        sequence: String,
        source: Box<SegmentError>,
    },
    #[error("--segment-sequence {0}: boundaries from 0 to 1, e.g. 0,1/4,1/2,1")]
    SequenceEnds(String),
    #[error("--segment-sequence {0}: the boundaries must increase")]
    SequenceOrder(String),
    #[error(
        "the segment sequence needs a cycle of more than {MAX_CYCLE} slots; use simpler fractions"
    )]
    CycleTooLong,
}

/// A non-negative fraction `num/den` in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Ratio {
    pub fn new(num: u64, den: u64) -> Result<Ratio, SegmentError> {
        if den == 0 {
            return Err(SegmentError::DivisionByZero(num));
        }
        let g = gcd(num, den).max(1);
        Ok(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `1/4`, `0.25`, `25%`, `1`.
    pub fn parse(s: &str) -> Result<Ratio, SegmentError> {
        let t = s.trim();
        let bad = || SegmentError::NotAFraction(s.to_string());
        if let Some(p) = t.strip_suffix('%') {
            let (n, d) = decimal(p.trim()).ok_or_else(bad)?;
            return Ratio::new(n, d.checked_mul(100).ok_or_else(bad)?);
        }
        if let Some((a, b)) = t.split_once('/') {
            let n = a.trim().parse::<u64>().map_err(|_| bad())?;
            let d = b.trim().parse::<u64>().map_err(|_| bad())?;
            return Ratio::new(n, d).map_err(|_| bad());
        }
        let (n, d) = decimal(t).ok_or_else(bad)?;
        Ratio::new(n, d)
    }

    fn cmp_key(self, other: Ratio) -> std::cmp::Ordering {
        (self.num as u128 * other.den as u128).cmp(&(other.num as u128 * self.den as u128))
    }
}

/// `0.25` → (25, 100).
fn decimal(s: &str) -> Option<(u64, u64)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > 9 {
        return None;
    }
    let ok = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    if !ok(int) || !ok(frac) {
        return None;
    }
    let den = 10u64.pow(frac.len() as u32);
    let i: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some((i.checked_mul(den)?.checked_add(f)?, den))
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.cmp_key(*other)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// The most slots one stripe cycle may have (the least common denominator of the sequence).
const MAX_CYCLE: u64 = 1 << 20;

/// One part of a segmented run: the segment `from:to` of a sequence of segments that tile
/// `0:1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The boundaries `0 = b0 < b1 < … < bn = 1`.
    pub sequence: Vec<Ratio>,
    /// Which segment of the sequence (0-based): `sequence[index]:sequence[index + 1]`.
    pub index: usize,
}

impl Segment {
    pub fn from(&self) -> Ratio {
        self.sequence[self.index]
    }

    pub fn to(&self) -> Ratio {
        self.sequence[self.index + 1]
    }

    /// How many segments the sequence has.
    pub fn count(&self) -> usize {
        self.sequence.len() - 1
    }

    /// k6's notation: `1/4:1/2`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.from(), self.to())
    }

    /// The sequence as k6 writes it: `0,1/4,1/2,3/4,1`.
    pub fn sequence_label(&self) -> String {
        self.sequence
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `--segment` (`i/n`: the i-th of n equal parts, 1-based; or k6's `from:to`) with an
    /// optional `--segment-sequence` (`0,1/4,1/2,1`: unequal parts).
    pub fn parse(segment: &str, sequence: Option<&str>) -> Result<Segment, SegmentError> {
        let seq: Option<Vec<Ratio>> = match sequence {
            Some(s) => Some(parse_sequence(s)?),
            None => None,
        };
        let s = segment.trim();
        if let Some((a, b)) = s.split_once(':') {
            let (from, to) = (Ratio::parse(a)?, Ratio::parse(b)?);
            if from >= to || to > Ratio::ONE {
                return Err(SegmentError::Bounds(s.to_string()));
            }
            let sequence = match seq {
                Some(q) => q,
                // k6: without a sequence, the segment and what lies around it.
                None => {
                    let mut q = vec![Ratio::ZERO];
                    for r in [from, to, Ratio::ONE] {
                        if q.last() != Some(&r) {
                            q.push(r);
                        }
                    }
                    q
                }
            };
            let index = sequence
                .windows(2)
                .position(|w| w[0] == from && w[1] == to)
                .ok_or_else(|| SegmentError::NotInSequence {
                    segment: s.to_string(),
                    sequence: sequence
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                })?;
            return Segment::checked(sequence, index);
        }
        let (i, n) = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?)))
            .ok_or_else(|| SegmentError::Syntax(s.to_string()))?;
        if n == 0 || i == 0 || i > n {
            return Err(SegmentError::Index(s.to_string()));
        }
        let sequence = match seq {
            Some(q) => {
                if q.len() as u64 - 1 != n {
                    return Err(SegmentError::SequenceCount {
                        segment: s.to_string(),
                        has: q.len() - 1,
                        n,
                    });
                }
                q
            }
            None => {
                if n > MAX_CYCLE {
                    return Err(SegmentError::TooManyParts(s.to_string()));
                }
                (0..=n)
                    .map(|k| Ratio::new(k, n))
                    .collect::<Result<_, _>>()?
            }
        };
        Segment::checked(sequence, (i - 1) as usize)
    }

    fn checked(sequence: Vec<Ratio>, index: usize) -> Result<Segment, SegmentError> {
        let seg = Segment { sequence, index };
        Stripe::new(&seg)?;
        Ok(seg)
    }
}

/// `0,1/4,1/2,1`: boundaries from 0 to 1, strictly increasing.
pub fn parse_sequence(s: &str) -> Result<Vec<Ratio>, SegmentError> {
    let q: Vec<Ratio> = s
        .split(',')
        .map(Ratio::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| SegmentError::SequenceFraction {
            sequence: s.to_string(),
            source: Box::new(e),
        })?;
    if q.len() < 2 || q[0] != Ratio::ZERO || q[q.len() - 1] != Ratio::ONE {
        return Err(SegmentError::SequenceEnds(s.to_string()));
    }
    if q.windows(2).any(|w| w[0] >= w[1]) {
        return Err(SegmentError::SequenceOrder(s.to_string()));
    }
    Ok(q)
}

/// How one segment's share of numbered things is picked: the positions it owns in each cycle of
/// `cycle` slots of the sequence's pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    pub cycle: u64,
    /// Sorted positions in `0..cycle` that belong to this segment.
    pub own: Vec<u64>,
}

impl Stripe {
    pub fn new(seg: &Segment) -> Result<Stripe, SegmentError> {
        let pattern = pattern(&seg.sequence)?;
        let own: Vec<u64> = pattern
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == seg.index)
            .map(|(j, _)| j as u64)
            .collect();
        Ok(Stripe {
            cycle: pattern.len() as u64,
            own,
        })
    }

    /// This segment's share of `n` things numbered `0..n`: exact, and the shares of all
    /// segments of the sequence sum to `n`.
    pub fn share(&self, n: u64) -> u64 {
        let c = self.own.len() as u64;
        let full = n / self.cycle;
        let rest = n % self.cycle;
        full * c + self.own.partition_point(|&p| p < rest) as u64
    }

    /// The global number of this segment's `m`-th thing (from 0).
    pub fn global(&self, m: u64) -> u64 {
        let c = self.own.len() as u64;
        (m / c) * self.cycle + self.own[(m % c) as usize]
    }

    /// Whether the thing numbered `j` is this segment's.
    pub fn owns(&self, j: u64) -> bool {
        self.own.binary_search(&(j % self.cycle)).is_ok()
    }
}

/// Which segment owns each slot of one cycle: smooth weighted round robin (at each slot, the
/// segment furthest behind its exact share takes it), so every prefix of the pattern is within
/// one of each segment's fraction.
fn pattern(sequence: &[Ratio]) -> Result<Vec<usize>, SegmentError> {
    let mut cycle: u64 = 1;
    for r in sequence {
        cycle = cycle / gcd(cycle, r.den) * r.den;
        if cycle > MAX_CYCLE {
            return Err(SegmentError::CycleTooLong);
        }
    }
    let weights: Vec<i128> = sequence
        .windows(2)
        .map(|w| {
            let to = w[1].num as i128 * (cycle / w[1].den) as i128;
            let from = w[0].num as i128 * (cycle / w[0].den) as i128;
            to - from
        })
        .collect();
    let mut credit = vec![0i128; weights.len()];
    let total = cycle as i128;
    let mut out = Vec::with_capacity(cycle as usize);
    for _ in 0..cycle {
        let mut best = 0;
        for (s, w) in weights.iter().enumerate() {
            credit[s] += w;
            if credit[s] > credit[best] {
                best = s;
            }
        }
        credit[best] -= total;
        out.push(best);
    }
    Ok(out)
}

/// A segment with its stripe, as a run carries it.
#[derive(Debug, Clone)]
pub struct Part {
    pub segment: Segment,
    pub stripe: Arc<Stripe>,
}

impl Part {
    pub fn new(segment: Segment) -> Result<Part, SegmentError> {
        let stripe = Arc::new(Stripe::new(&segment)?);
        Ok(Part { segment, stripe })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripes(seq: &str) -> Vec<Stripe> {
        let q = parse_sequence(seq).unwrap();
        (0..q.len() - 1)
            .map(|index| {
                Stripe::new(&Segment {
                    sequence: q.clone(),
                    index,
                })
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn equal_parts_take_every_nth() {
        let s = stripes("0,1/4,1/2,3/4,1");
        assert_eq!(s[0].own, vec![0]);
        assert_eq!(s[2].own, vec![2]);
        assert_eq!(s[1].global(3), 13);
        assert_eq!(s[3].share(10), 2);
        assert_eq!(s[1].share(10), 3);
    }

    #[test]
    fn shares_sum_to_the_whole_for_every_count_and_stay_within_one_of_the_fraction() {
        for seq in [
            "0,1/4,1/2,3/4,1",
            "0,1/3,1",
            "0,0.1,0.5,0.6,1",
            "0,1/7,2/5,1",
            "0,1",
        ] {
            let q = parse_sequence(seq).unwrap();
            let s = stripes(seq);
            for n in 0..500u64 {
                let sum: u64 = s.iter().map(|x| x.share(n)).sum();
                assert_eq!(sum, n, "{seq} n={n}");
                for (i, x) in s.iter().enumerate() {
                    let exact = n as f64
                        * (q[i + 1].num as f64 / q[i + 1].den as f64
                            - q[i].num as f64 / q[i].den as f64);
                    assert!(
                        (x.share(n) as f64 - exact).abs() < 1.0 + 1e-9,
                        "{seq} seg {i} n={n}: {} vs {exact}",
                        x.share(n)
                    );
                }
            }
            // Every number is owned by exactly one segment, and global() enumerates it.
            for j in 0..300u64 {
                assert_eq!(s.iter().filter(|x| x.owns(j)).count(), 1, "{seq} j={j}");
            }
            for x in &s {
                for m in 0..100u64 {
                    let g = x.global(m);
                    assert!(x.owns(g));
                    assert_eq!(x.share(g), m, "{seq}: global({m}) = {g}");
                }
            }
        }
    }

    #[test]
    fn segments_parse_as_index_or_k6_range() {
        let s = Segment::parse("2/4", None).unwrap();
        assert_eq!(s.label(), "1/4:1/2");
        assert_eq!(s.count(), 4);
        let k = Segment::parse("1/4:1/2", Some("0,1/4,1/2,1")).unwrap();
        assert_eq!((k.index, k.count()), (1, 3));
        let lone = Segment::parse("0.5:1", None).unwrap();
        assert_eq!(lone.sequence_label(), "0,1/2,1");
        assert_eq!(
            Segment::parse("3/3", Some("0,10%,50%,1")).unwrap().label(),
            "1/2:1"
        );
        for bad in ["0/4", "5/4", "x", "1/2:1/4", "1/4:2", "2/3"] {
            let seq = if bad == "2/3" { Some("0,1/2,1") } else { None };
            assert!(Segment::parse(bad, seq).is_err(), "{bad}");
        }
        assert!(parse_sequence("0,1/2,1/3,1").is_err());
        assert!(parse_sequence("1/4,1").is_err());
    }
}
