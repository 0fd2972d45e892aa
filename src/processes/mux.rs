//! The parent's sum of the children's per-second snapshots (`run --processes`).

use crate::metrics::Aggregator;
use crate::metrics::aggregate::Snapshot;
use crate::metrics::recorder::Recorder;
use std::collections::{BTreeMap, HashSet};

/// Adds the children's worker snapshots into one snapshot per second: a second is handed to
/// the aggregator once every worker of every live child has reported it (so the live view
/// shows whole seconds of the whole run), or once a later second is complete.
pub(super) struct Mux {
    /// Per child: its worker count once it said hello; whether it still runs.
    workers: Vec<Option<usize>>,
    alive: Vec<bool>,
    steps: usize,
    pending: BTreeMap<u64, (Snapshot, HashSet<(usize, usize)>)>,
    /// The last second handed over.
    closed: u64,
}

impl Mux {
    pub(super) fn new(children: usize, steps: usize) -> Mux {
        Mux {
            workers: vec![None; children],
            alive: vec![true; children],
            steps,
            pending: BTreeMap::new(),
            closed: 0,
        }
    }

    fn expected(&self) -> Option<usize> {
        let mut n = 0;
        for (w, alive) in self.workers.iter().zip(&self.alive) {
            match (w, alive) {
                (Some(w), true) => n += w,
                (None, true) => return None,
                _ => {}
            }
        }
        Some(n)
    }

    pub(super) fn add(&mut self, child: usize, snap: Snapshot, agg: &mut Aggregator) {
        if snap.second <= self.closed {
            // A worker's last flush for a second already shown: joins that second's row.
            agg.add(Snapshot { worker: 0, ..snap });
            return;
        }
        let steps = self.steps;
        let (acc, seen) = self.pending.entry(snap.second).or_insert_with(|| {
            (
                Snapshot {
                    worker: 0,
                    second: snap.second,
                    data: Recorder::new(steps),
                    vus: 0,
                    vus_peak: 0,
                },
                HashSet::new(),
            )
        });
        acc.data.add(&snap.data);
        acc.vus += snap.vus;
        acc.vus_peak += snap.vus_peak;
        seen.insert((child, snap.worker));
        self.settle(agg);
    }

    /// Hand over every second up to the last complete one, and any second that has waited
    /// while `STALL` later ones arrived (a child that hangs does not freeze the view; what it
    /// sends late joins its second's row).
    fn settle(&mut self, agg: &mut Aggregator) {
        const STALL: u64 = 3;
        let complete = self.expected().and_then(|expected| {
            self.pending
                .iter()
                .filter(|(_, (_, seen))| seen.len() >= expected)
                .map(|(s, _)| *s)
                .next_back()
        });
        let stalled = self
            .pending
            .keys()
            .next_back()
            .map(|newest| newest.saturating_sub(STALL))
            .filter(|s| *s > 0);
        if let Some(last) = complete.max(stalled) {
            self.flush_through(last, agg);
        }
    }

    pub(super) fn flush_through(&mut self, second: u64, agg: &mut Aggregator) {
        let rest = self.pending.split_off(&(second.saturating_add(1)));
        for (s, (snap, _)) in std::mem::replace(&mut self.pending, rest) {
            agg.add(snap);
            self.closed = s;
        }
    }

    pub(super) fn hello(&mut self, child: usize, workers: usize, agg: &mut Aggregator) {
        self.workers[child] = Some(workers);
        self.settle(agg);
    }

    /// A child ended (or died): its seconds no longer wait for it.
    pub(super) fn gone(&mut self, child: usize, agg: &mut Aggregator) {
        self.alive[child] = false;
        self.settle(agg);
    }
}

#[cfg(test)]
mod tests {
    use super::Mux;
    use crate::metrics::Aggregator;
    use crate::metrics::aggregate::Snapshot;
    use crate::metrics::recorder::{Recorder, Sample};

    fn snap(worker: usize, second: u64, requests: u64, vus: u32) -> Snapshot {
        let mut data = Recorder::new(1);
        for _ in 0..requests {
            data.record(
                0,
                &Sample {
                    duration: Some(std::time::Duration::from_millis(2)),
                    status: Some(200),
                    ..Default::default()
                },
            );
        }
        Snapshot {
            worker,
            second,
            data,
            vus,
            vus_peak: vus,
        }
    }

    #[test]
    fn a_second_is_shown_once_every_worker_of_every_child_reported_it() {
        let mut agg = Aggregator::new(1, 1);
        let mut mux = Mux::new(2, 1);
        mux.hello(0, 2, &mut agg);
        mux.add(0, snap(0, 1, 5, 1), &mut agg);
        mux.add(0, snap(1, 1, 6, 1), &mut agg);
        assert!(
            agg.timeline.is_empty(),
            "child 2 has not said how many workers it has"
        );
        mux.hello(1, 1, &mut agg);
        assert!(agg.timeline.is_empty(), "child 2 has not reported second 1");
        mux.add(1, snap(0, 1, 7, 2), &mut agg);
        assert_eq!(agg.timeline.len(), 1);
        assert_eq!((agg.timeline[0].requests, agg.timeline[0].vus), (18, 4));
        // A worker's last flush for a second already shown joins that row.
        mux.add(0, snap(0, 1, 2, 0), &mut agg);
        assert_eq!(agg.timeline[0].requests, 20);
        // Child 1 ends: its seconds no longer wait for it.
        mux.add(1, snap(0, 2, 3, 2), &mut agg);
        assert_eq!(agg.timeline.len(), 1);
        mux.gone(0, &mut agg);
        assert_eq!(agg.timeline.len(), 2);
        assert_eq!(agg.total.requests(), 23);
    }

    #[test]
    fn a_child_that_hangs_does_not_freeze_the_view() {
        let mut agg = Aggregator::new(1, 1);
        let mut mux = Mux::new(2, 1);
        mux.hello(0, 1, &mut agg);
        mux.hello(1, 1, &mut agg);
        for s in 1..=4 {
            mux.add(0, snap(0, s, 1, 1), &mut agg);
        }
        // Second 1 waited while 3 later seconds arrived.
        assert_eq!(agg.timeline.len(), 1);
        assert_eq!(agg.timeline[0].requests, 1);
    }
}
