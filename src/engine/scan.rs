//! Bounded bodies: a response body kept for checks and extraction stops growing at
//! `http.max_body` (the rest is read and counted, not kept), and `body_contains` can look for
//! its texts while the body streams by, keeping nothing but the last few bytes.

/// Append `data` to `kept` up to `max` bytes in all (0: no limit); set `over` past it.
pub fn keep_bounded(kept: &mut Vec<u8>, over: &mut bool, max: usize, data: &[u8]) {
    if max == 0 {
        kept.extend_from_slice(data);
        return;
    }
    let room = max.saturating_sub(kept.len());
    if data.len() > room {
        *over = true;
    }
    kept.extend_from_slice(&data[..room.min(data.len())]);
}

/// Texts looked for in a body that is not kept: a match may straddle two reads, so the last
/// `longest - 1` bytes are carried over.
#[derive(Debug, Default)]
pub struct Scan {
    needles: Vec<Vec<u8>>,
    found: Vec<bool>,
    tail: Vec<u8>,
    longest: usize,
}

impl Scan {
    pub fn new(needles: &[Vec<u8>]) -> Self {
        Scan {
            needles: needles.to_vec(),
            found: needles.iter().map(|n| n.is_empty()).collect(),
            tail: Vec::new(),
            longest: needles.iter().map(Vec::len).max().unwrap_or(0),
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        if self.longest == 0 || self.found.iter().all(|f| *f) {
            return;
        }
        // The carried-over tail joined with the start of `data` (for matches across reads).
        let edge = data.len().min(self.longest - 1);
        let mut joint = std::mem::take(&mut self.tail);
        joint.extend_from_slice(&data[..edge]);
        for (n, f) in self.needles.iter().zip(self.found.iter_mut()) {
            if !*f && (contains(&joint, n) || contains(data, n)) {
                *f = true;
            }
        }
        let keep = self.longest - 1;
        if data.len() >= keep {
            joint.clear();
            joint.extend_from_slice(&data[data.len() - keep..]);
        } else {
            let drop = joint.len().saturating_sub(keep);
            joint.drain(..drop);
        }
        self.tail = joint;
    }

    /// Whether needle `i` was seen.
    pub fn found(&self, i: usize) -> bool {
        self.found.get(i).copied().unwrap_or(false)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || (hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_text_split_over_reads() {
        let mut s = Scan::new(&[b"needle".to_vec(), b"absent".to_vec()]);
        for part in [&b"xxxxne"[..], b"e", b"dlexx"] {
            s.feed(part);
        }
        assert!(s.found(0));
        assert!(!s.found(1));
    }

    #[test]
    fn keeps_at_most_max() {
        let (mut kept, mut over) = (Vec::new(), false);
        keep_bounded(&mut kept, &mut over, 5, b"abc");
        assert!(!over);
        keep_bounded(&mut kept, &mut over, 5, b"defg");
        assert_eq!(kept, b"abcde");
        assert!(over);
    }
}
