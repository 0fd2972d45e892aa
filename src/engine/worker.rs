//! One engine thread: a single-threaded runtime that owns a share of the VUs and their metrics
//! recorder (no lock on the hot path), follows the load schedule, and sends its recordings to the
//! aggregator once a second.

use super::Control;
use super::client::{ClientConfig, Pool, Scratch};
use super::vu::{self, VuContext};
use crate::metrics::{Recorder, Snapshot};
use crate::plan::{Connections, Plan};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often a worker re-reads the schedule.
const TICK: Duration = Duration::from_millis(20);

/// What a worker's VUs read about their worker.
pub struct WorkerState {
    /// VUs in slots `0..target` of this worker should be running.
    pub target: Cell<usize>,
    pub running: Cell<u32>,
    pub peak: Cell<u32>,
    /// Woken when `target` drops, so thinking VUs can leave at once.
    pub changed: Notify,
}

pub struct WorkerArgs {
    pub id: usize,
    pub workers: usize,
    pub plan: Arc<Plan>,
    pub client: Arc<ClientConfig>,
    pub control: Arc<Control>,
    pub tx: Sender<Snapshot>,
    pub start: std::time::Instant,
    pub seed: u64,
}

/// This worker's share of `total` VUs: global ids `id, id + workers, ...` below `total`.
pub fn share(total: u32, id: usize, workers: usize) -> usize {
    let total = total as usize;
    if total <= id {
        0
    } else {
        (total - id).div_ceil(workers)
    }
}

struct Slot {
    handle: JoinHandle<()>,
    /// When a ramp-down asked this VU to leave: it is stopped after the graceful period.
    leaving_since: Option<Instant>,
}

pub async fn run(a: WorkerArgs) {
    let state = Rc::new(WorkerState {
        target: Cell::new(0),
        running: Cell::new(0),
        peak: Cell::new(0),
        changed: Notify::new(),
    });
    let recorder = Rc::new(RefCell::new(Recorder::new(a.plan.step_names.len())));
    let ctx = Rc::new(VuContext {
        plan: a.plan.clone(),
        client: a.client.clone(),
        state: state.clone(),
        recorder: recorder.clone(),
        scratch: Scratch::new(),
        pool: match a.plan.http.connections {
            Connections::PerVu => None,
            // This worker's share of the pool (at least one connection, so its VUs can run).
            Connections::Pooled { max } => Some(Pool::new(share(max, a.id, a.workers))),
        },
    });
    let start = Instant::from_std(a.start);
    let load = &a.plan.load;
    let ramp_grace = load.graceful_ramp_down();
    let mut slots: Vec<Option<Slot>> = Vec::new();
    let mut second = 1u64;
    let mut settled = false;
    let flush = |second: u64| {
        let data = recorder.borrow_mut().take();
        let snap = Snapshot {
            worker: a.id,
            second,
            data,
            vus: state.running.get(),
            vus_peak: state.peak.get(),
        };
        state.peak.set(state.running.get());
        let _ = a.tx.send(snap);
    };
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Scheduled part: follow the VU target.
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let t = now - start;
        if a.control.stop.load(Ordering::Relaxed) || t >= load.duration() {
            break;
        }
        let target = share(load.vus_at(t), a.id, a.workers);
        let previous = state.target.get();
        if target != previous {
            state.target.set(target);
            if target < previous {
                for slot in slots.iter_mut().skip(target).flatten() {
                    slot.leaving_since.get_or_insert(now);
                }
                state.changed.notify_waiters();
            }
        }
        // VUs only leave when asked to, so once a scan found every slot settled (all wanted VUs
        // running, none on its way out) nothing changes until the target does: a tick then
        // costs O(1) however many VUs run.
        if target != previous {
            settled = false;
        }
        if settled {
            while now - start >= Duration::from_secs(second) {
                flush(second);
                second += 1;
            }
            continue;
        }
        let mut pending = false;
        // VUs started on the first tick (which comes at once) are the initial population.
        let initial = t < TICK;
        if slots.len() < target {
            slots.resize_with(target, || None);
        }
        for (i, slot) in slots.iter_mut().enumerate() {
            let live = slot.as_ref().is_some_and(|s| !s.handle.is_finished());
            if i < target {
                if live {
                    if let Some(s) = slot {
                        s.leaving_since = None;
                    }
                } else {
                    pending = true;
                    let id = (i * a.workers + a.id) as u64;
                    let handle =
                        tokio::task::spawn_local(vu::run(ctx.clone(), i, id, a.seed, initial));
                    *slot = Some(Slot {
                        handle,
                        leaving_since: None,
                    });
                }
            } else if let Some(s) = slot {
                pending = true;
                if !live {
                    *slot = None;
                } else if s
                    .leaving_since
                    .is_some_and(|since| now - since >= ramp_grace)
                {
                    s.handle.abort();
                }
            }
        }
        while slots.last().is_some_and(|s| s.is_none()) {
            slots.pop();
        }
        settled = !pending && slots.len() == target;
        while now - start >= Duration::from_secs(second) {
            flush(second);
            second += 1;
        }
    }

    // Graceful stop: no new iterations; running ones get `graceful_stop` to finish.
    state.target.set(0);
    state.changed.notify_waiters();
    let stop_at = Instant::now();
    let grace = load.graceful_stop();
    loop {
        let live = slots
            .iter()
            .flatten()
            .filter(|s| !s.handle.is_finished())
            .count();
        let now = Instant::now();
        let hard = a.control.hard_stop.load(Ordering::Relaxed);
        if live == 0 {
            break;
        }
        if hard || now - stop_at >= grace {
            for s in slots.iter().flatten() {
                s.handle.abort();
            }
            // Let the aborted tasks unwind (their guards update the running count).
            tokio::task::yield_now().await;
            break;
        }
        while now - start >= Duration::from_secs(second) {
            flush(second);
            second += 1;
        }
        ticker.tick().await;
    }
    for s in slots.into_iter().flatten() {
        let _ = s.handle.await;
    }
    flush(second);
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up_exactly() {
        for total in [0u32, 1, 2, 3, 7, 10, 999] {
            for workers in 1..5 {
                let sum: usize = (0..workers).map(|id| share(total, id, workers)).sum();
                assert_eq!(sum, total as usize, "total {total} workers {workers}");
            }
        }
    }
}
