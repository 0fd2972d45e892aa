//! One engine thread: a single-threaded runtime that owns a share of the VUs and their metrics
//! recorder (no lock on the hot path), follows the load schedule — a VU target over time (closed
//! model) or iterations due at set times (open model) — and sends its recordings to the
//! aggregator on each second of the run.

use super::Control;
use super::client::{ClientConfig, Pool, Scratch};
use super::context::{EARLY, OpenQueue, VuContext, WorkerState};
use super::vu;
use crate::metrics::{Recorder, Snapshot};
use crate::plan::{Arrival, Connections, Load, Plan, ScenarioPlan};
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

pub struct WorkerArgs {
    /// This worker's number among its scenario's `workers`.
    pub id: usize,
    pub workers: usize,
    /// Unique across all scenarios' workers.
    pub report_id: usize,
    pub plan: Arc<Plan>,
    /// The scenario this worker runs (one of `plan.scenarios`).
    pub scenario: Arc<ScenarioPlan>,
    pub client: Arc<ClientConfig>,
    pub control: Arc<Control>,
    pub tx: Sender<Snapshot>,
    pub start: std::time::Instant,
    pub seed: u64,
    /// Iterations taken by all workers' VUs (`shared-iterations`).
    pub shared_taken: Arc<std::sync::atomic::AtomicU64>,
    /// The run's data feed cursors (one set for all scenarios).
    pub feed_cursors: super::context::FeedCursors,
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
        ends_at: Default::default(),
    });
    let recorder = Rc::new(RefCell::new(Recorder::with_checks(
        a.plan.step_names.len(),
        a.plan.checks.len(),
    )));
    let ctx = Rc::new(VuContext {
        plan: a.plan.clone(),
        scenario: a.scenario.clone(),
        client: a.client.clone(),
        state: state.clone(),
        recorder: recorder.clone(),
        scratch: Scratch::new(),
        pool: match a.plan.http.connections {
            Connections::PerVu => None,
            // This worker's share of the pool (at least one connection, so its VUs can run).
            Connections::Pooled { max } => Some(Pool::new(share(max, a.id, a.workers))),
        },
        open: OpenQueue::default(),
        control: a.control.clone(),
        shared_taken: a.shared_taken.clone(),
        feed_cursors: a.feed_cursors.clone(),
    });
    let start = Instant::from_std(a.start);
    // Each second of the run is flushed when it ends, on the timer (not on a schedule tick), so
    // a second's counts hold what completed within it.
    let next_second = Rc::new(Cell::new(1u64));
    let flush = {
        let (recorder, state, tx, id) =
            (recorder.clone(), state.clone(), a.tx.clone(), a.report_id);
        move |second: u64| {
            let data = recorder.borrow_mut().take();
            let snap = Snapshot {
                worker: id,
                second,
                data,
                vus: state.running.get(),
                vus_peak: state.peak.get(),
            };
            state.peak.set(state.running.get());
            let _ = tx.send(snap);
        }
    };
    let flusher = {
        let (next_second, flush) = (next_second.clone(), flush.clone());
        tokio::task::spawn_local(async move {
            loop {
                let s = next_second.get();
                tokio::time::sleep_until(start + Duration::from_secs(s)).await;
                flush(s);
                next_second.set(s + 1);
            }
        })
    };
    let (plan, scenario) = (a.plan.clone(), a.scenario.clone());
    let vus_at = |t| plan.scenario_vus_at(&scenario, t);
    let global_iteration = |m| plan.global_iteration(m);
    let schedule = Schedule {
        id: a.id,
        workers: a.workers,
        load: &scenario.load,
        vus_at: &vus_at,
        global_iteration: &global_iteration,
        control: &a.control,
        state: &ctx.state,
        start,
    };
    match scenario.load.arrival() {
        Some(arrival) => {
            let start_vu =
                |id: u64| tokio::task::spawn_local(vu::run_open(ctx.clone(), id, a.seed));
            run_open(&schedule, arrival, &ctx.open, &ctx.recorder, start_vu).await
        }
        None => {
            let start_vu = |slot: usize, id: u64, initial: bool| {
                tokio::task::spawn_local(vu::run(ctx.clone(), slot, id, a.seed, initial))
            };
            run_closed(&schedule, start_vu).await
        }
    }
    flusher.abort();
    let _ = flusher.await;
    flush(next_second.get());
}

/// What the schedule loops read of their worker: the seam between the schedule (when VUs start
/// and stop, when iterations are due, how long a graceful stop lasts) and the VUs themselves,
/// which the loops start through a function they are given. The worker passes one that spawns
/// real VUs; the tests below pass stand-ins and run the loops on a paused clock.
struct Schedule<'a> {
    /// This worker's number among `workers`.
    id: usize,
    workers: usize,
    load: &'a Load,
    /// This process's VU target at `t` since the start (`Plan::scenario_vus_at`: its segment's share).
    vus_at: &'a dyn Fn(Duration) -> u32,
    /// The whole run's number of this process's `m`-th arrival (`Plan::global_iteration`).
    global_iteration: &'a dyn Fn(u64) -> u64,
    control: &'a Control,
    state: &'a WorkerState,
    start: Instant,
}

/// The closed model: keep the worker's share of the VU target running. `start_vu(slot, id,
/// initial)` starts the VU of a slot (global VU `id`; `initial`: part of the first population).
async fn run_closed(
    a: &Schedule<'_>,
    mut start_vu: impl FnMut(usize, u64, bool) -> JoinHandle<()>,
) {
    let (state, load, start) = (a.state, a.load, a.start);
    let ramp_grace = load.graceful_ramp_down();
    let mut slots: Vec<Option<Slot>> = Vec::new();
    let mut settled = false;
    // Fixed work: a VU that finished its iterations is not restarted, and the run ends when
    // none is left.
    let fixed_work = load.iterations().is_some();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    state.ends_at.set(Some(start + load.duration()));

    // Scheduled part: follow the VU target.
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let t = now - start;
        if a.control.stop.load(Ordering::Relaxed) || t >= load.duration() {
            break;
        }
        let target = share((a.vus_at)(t), a.id, a.workers);
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
            if fixed_work && state.running.get() == 0 {
                break;
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
                } else if fixed_work && slot.is_some() {
                    // Done with its iterations.
                } else {
                    pending = true;
                    let id = (i * a.workers + a.id) as u64;
                    let handle = start_vu(i, id, initial);
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
        ticker.tick().await;
    }
    for s in slots.into_iter().flatten() {
        let _ = s.handle.await;
    }
}

/// The open model: iteration k of the whole run is due at `arrival.due(k)`; this worker takes
/// every `workers`-th one. A due iteration goes to an idle VU, or to a new one (up to this
/// worker's share of `max_vus`), or waits in the queue; it is dropped only when the queue is
/// full. `start_vu(id)` starts open-model VU `id`, which takes its work from `q`.
async fn run_open(
    a: &Schedule<'_>,
    arrival: &Arrival,
    q: &OpenQueue,
    recorder: &RefCell<Recorder>,
    mut start_vu: impl FnMut(u64) -> JoinHandle<()>,
) {
    let start = a.start;
    let w = a.workers as u64;
    let max_vus = share(arrival.max_vus, a.id, a.workers).max(1);
    let queue_size = share(arrival.queue_size, a.id, a.workers).max(1);
    let mut vus: Vec<JoinHandle<()>> = Vec::new();
    let mut spawn = |vus: &mut Vec<JoinHandle<()>>| {
        let id = (vus.len() * a.workers + a.id) as u64;
        q.starting.set(q.starting.get() + 1);
        vus.push(start_vu(id));
    };
    for _ in 0..share(arrival.pre_allocated_vus, a.id, a.workers).min(max_vus) {
        spawn(&mut vus);
    }
    let mut k = a.id as u64;
    'schedule: loop {
        if a.control.stop.load(Ordering::Relaxed) {
            break;
        }
        // Hand out every iteration due by the time the timer can next wake us.
        let now = Instant::now();
        let next = loop {
            // `k` counts this process's iterations; its segment says which of the whole run's.
            let Some(due) = arrival.due((a.global_iteration)(k)) else {
                break 'schedule;
            };
            let at = start + due;
            if at > now + EARLY {
                break at;
            }
            k += w;
            if a.control.pause.load(Ordering::Relaxed) {
                // Paused: this iteration is skipped (resuming must not fire a burst of them).
                continue;
            }
            // Due: it ends completed, dropped or interrupted (docs/accounting.md).
            recorder.borrow_mut().iterations_due += 1;
            if q.due.borrow().len() >= queue_size {
                recorder.borrow_mut().dropped_iterations += 1;
                continue;
            }
            q.due.borrow_mut().push_back(at);
            if q.idle.get() > 0 {
                q.idle.set(q.idle.get() - 1);
                q.notify.notify_one();
            } else if q.due.borrow().len() > q.starting.get() && vus.len() < max_vus {
                // Not one for each VU started but not yet run (they take the first ones).
                spawn(&mut vus);
            }
        };
        // (The loop ends when `due` runs past the schedule's end.)
        tokio::time::sleep_until((next - EARLY).min(now + TICK)).await;
    }

    // Graceful stop: what is queued still runs; VUs leave once the queue is empty.
    q.closed.set(true);
    q.notify.notify_waiters();
    let stop_at = Instant::now();
    let grace = arrival.graceful_stop;
    let mut ticker = tokio::time::interval(TICK);
    loop {
        let live = vus.iter().filter(|h| !h.is_finished()).count();
        if live == 0 {
            break;
        }
        if a.control.hard_stop.load(Ordering::Relaxed) || Instant::now() - stop_at >= grace {
            for h in &vus {
                h.abort();
            }
            tokio::task::yield_now().await;
            break;
        }
        ticker.tick().await;
    }
    for h in vus {
        let _ = h.await;
    }
    // Iterations still queued never ran.
    let left = q.due.borrow_mut().drain(..).count() as u64;
    recorder.borrow_mut().dropped_iterations += left;
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

/// The schedule loops on a paused clock, with stand-in VUs behind the `Schedule` seam.
#[cfg(test)]
#[path = "worker_tests.rs"]
mod paused_clock;
