//! CSV data feeds: their rows and how iterations pick them.

use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A CSV file's rows, and how iterations pick them. Immutable: where `sequential` and
/// `unique` picks have got to is the run's state (the engine keeps one cursor per feed for all
/// VUs of all scenarios and hands it to `draw`).
#[derive(Debug, Clone)]
pub struct Feed {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Bytes>>,
    pub pick: Pick,
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
    /// The row for the next iteration; `None` once a `unique` feed is used up. `next` is the
    /// run's cursor of this feed (the next row for `sequential` and `unique`, shared by all VUs).
    pub fn draw(&self, next: &AtomicUsize, rng: &mut fastrand::Rng) -> Option<usize> {
        let n = self.rows.len();
        if n == 0 {
            return None;
        }
        match self.pick {
            Pick::Random => Some(rng.usize(0..n)),
            Pick::Sequential => Some(next.fetch_add(1, Ordering::Relaxed) % n),
            Pick::Unique => {
                let i = next.fetch_add(1, Ordering::Relaxed);
                (i < n).then_some(i)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Feed, Pick};
    use bytes::Bytes;
    use std::sync::atomic::AtomicUsize;

    fn feed(pick: Pick, rows: usize) -> Feed {
        Feed {
            name: "users".into(),
            columns: vec!["id".into()],
            rows: (0..rows)
                .map(|i| vec![Bytes::from(i.to_string())])
                .collect(),
            pick,
        }
    }

    fn draws(f: &Feed, cursor: &AtomicUsize, n: usize) -> Vec<Option<usize>> {
        let mut rng = fastrand::Rng::with_seed(1);
        (0..n).map(|_| f.draw(cursor, &mut rng)).collect()
    }

    #[test]
    fn sequential_rows_start_over_and_unique_rows_run_out() {
        let seq = feed(Pick::Sequential, 3);
        let cursor = AtomicUsize::new(0);
        let got = draws(&seq, &cursor, 5);
        assert_eq!(got, [0, 1, 2, 0, 1].map(Some));
        let unique = feed(Pick::Unique, 2);
        let cursor = AtomicUsize::new(0);
        assert_eq!(draws(&unique, &cursor, 3), vec![Some(0), Some(1), None]);
    }

    #[test]
    fn the_cursor_is_the_runs_so_a_second_run_of_the_same_plan_starts_at_the_first_row() {
        let unique = feed(Pick::Unique, 2);
        let first_run = AtomicUsize::new(0);
        assert_eq!(draws(&unique, &first_run, 3), vec![Some(0), Some(1), None]);
        // The feed itself kept nothing of the first run.
        let second_run = AtomicUsize::new(0);
        assert_eq!(draws(&unique, &second_run, 1), vec![Some(0)]);
    }

    #[test]
    fn random_rows_stay_in_range_and_leave_the_cursor_alone() {
        let random = feed(Pick::Random, 4);
        let cursor = AtomicUsize::new(0);
        let got = draws(&random, &cursor, 200);
        assert!(got.iter().all(|r| matches!(r, Some(i) if *i < 4)));
        assert_eq!(cursor.into_inner(), 0);
    }
}
