//! CSV data feeds: their rows and how iterations pick them.

#[allow(unused_imports)]
use super::*;

/// A CSV file's rows, and how iterations pick them.
#[derive(Debug)]
pub struct Feed {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Bytes>>,
    pub pick: Pick,
    /// The next row for `sequential` and `unique`, shared by all VUs.
    pub next: AtomicUsize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Rows in order, all VUs together, starting over at the end.
    Sequential,
    /// A uniformly random row each time.
    Random,
    /// Each row to exactly one iteration; the run ends when they run out.
    Unique,
}

impl Feed {
    /// The row for the next iteration; `None` once a `unique` feed is used up.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        let n = self.rows.len();
        if n == 0 {
            return None;
        }
        match self.pick {
            Pick::Random => Some(rng.usize(0..n)),
            Pick::Sequential => Some(self.next.fetch_add(1, Ordering::Relaxed) % n),
            Pick::Unique => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                (i < n).then_some(i)
            }
        }
    }
}
