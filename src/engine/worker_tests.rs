//! The schedule loops on a paused clock (`start_paused`: virtual time jumps to the next timer
//! when every task waits), with stand-in VUs behind the `Schedule` seam: exact VU counts and
//! arrival counts at virtual instants, and the graceful-stop timing, in milliseconds of real
//! time.

use super::*;
use crate::plan::{RateStage, Stage};
use tokio::task::LocalSet;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn worker_state() -> Rc<WorkerState> {
    Rc::new(WorkerState {
        target: Cell::new(0),
        running: Cell::new(0),
        peak: Cell::new(0),
        changed: Notify::new(),
        ends_at: Default::default(),
    })
}

/// Counts a stand-in VU in `running` while it lives (as `vu::Running` does).
struct Alive(Rc<WorkerState>);
impl Alive {
    fn new(s: Rc<WorkerState>) -> Self {
        s.running.set(s.running.get() + 1);
        s.peak.set(s.peak.get().max(s.running.get()));
        Alive(s)
    }
}
impl Drop for Alive {
    fn drop(&mut self) {
        self.0.running.set(self.0.running.get() - 1);
    }
}

/// A closed-model VU as `vu::run` behaves: an iteration of `busy` that is not interrupted
/// (a request in flight), then `think`, cut short when its slot is no longer wanted.
fn closed_vu(
    state: Rc<WorkerState>,
    slot: usize,
    busy: Duration,
    think: Duration,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        let _alive = Alive::new(state.clone());
        loop {
            if slot >= state.target.get() {
                return;
            }
            tokio::time::sleep(busy).await;
            let wake = Instant::now() + think;
            loop {
                if slot >= state.target.get() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => break,
                    _ = state.changed.notified() => {}
                }
            }
        }
    })
}

/// Runs the closed model of `load` (one worker) with stand-in VUs; reads `running` at each
/// of `at` (seconds since the start). Returns the counts read, the VUs started and when
/// the loop returned.
async fn closed(
    load: Load,
    busy: f64,
    think: f64,
    control: &Control,
    at: &[f64],
) -> (Vec<u32>, usize, Duration) {
    let state = worker_state();
    let start = Instant::now();
    let vus_at = |t| load.vus_at(t);
    let global_iteration = |m| m;
    let schedule = Schedule {
        id: 0,
        workers: 1,
        load: &load,
        vus_at: &vus_at,
        global_iteration: &global_iteration,
        control,
        state: &state,
        start,
    };
    let started = Cell::new(0usize);
    let start_vu = |slot: usize, _id: u64, _initial: bool| {
        started.set(started.get() + 1);
        closed_vu(state.clone(), slot, secs(busy), secs(think))
    };
    let sampler = async {
        let mut seen = Vec::new();
        for &t in at {
            tokio::time::sleep_until(start + secs(t)).await;
            seen.push(state.running.get());
        }
        seen
    };
    let (ended, seen) = tokio::join!(
        async {
            run_closed(&schedule, start_vu).await;
            Instant::now() - start
        },
        sampler
    );
    assert_eq!(
        state.running.get(),
        0,
        "every VU is gone when the loop returns"
    );
    (seen, started.get(), ended)
}

fn ramping(start_vus: u32, stages: &[(f64, u32)], ramp_down: f64, stop: f64) -> Load {
    Load::RampingVus {
        start_vus,
        stages: stages
            .iter()
            .map(|&(d, target)| Stage {
                duration: secs(d),
                target,
            })
            .collect(),
        graceful_ramp_down: secs(ramp_down),
        graceful_stop: secs(stop),
    }
}

#[tokio::test(start_paused = true)]
async fn ramping_vus_runs_the_exact_count_at_each_instant() {
    // 0 → 10 over 10 s, hold 5 s, 10 → 0 over 5 s: the target is round(linear) at each
    // 20 ms tick; each instant is read 10 ms after a tick, away from a change of the target
    // by more than a VU's iteration (100 ms), so a VU asked to leave is gone.
    let load = ramping(0, &[(10.0, 10), (5.0, 10), (5.0, 0)], 30.0, 30.0);
    let at = [
        0.01, 1.01, 2.51, 4.01, 7.51, 10.01, 14.01, 16.01, 18.01, 19.51,
    ];
    let want = [0, 1, 3, 4, 8, 10, 10, 8, 4, 1];
    let control = Control::default();
    let (seen, started, ended) = LocalSet::new()
        .run_until(closed(load, 0.1, 0.9, &control, &at))
        .await;
    assert_eq!(seen, want, "VUs at {at:?} s");
    assert_eq!(started, 10, "a VU is started once, never restarted");
    // The schedule ends at 20 s; the last VU (a target of 1 until 19.75 s) was gone before.
    assert!(
        ended >= secs(20.0) && ended <= secs(20.0) + TICK,
        "{ended:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ramp_down_waits_graceful_ramp_down_then_stops_the_vu() {
    // 4 VUs, then 4 → 2 over 2 s (3 from 2.5 s, 2 from 3.5 s): the VUs are in a 100 s
    // iteration, so each leaving VU is stopped `graceful_ramp_down` (1 s) after the first
    // tick that asked it to leave (2.52 s and 3.52 s).
    let load = ramping(4, &[(2.0, 4), (2.0, 2), (3.0, 2)], 1.0, 60.0);
    let at = [0.01, 2.51, 3.51, 3.53, 4.51, 4.53, 6.99];
    let want = [4, 4, 4, 3, 3, 2, 2];
    let control = Control::default();
    let (seen, started, _) = LocalSet::new()
        .run_until(async {
            let stopper = async {
                // Ends the graceful stop at once after the schedule (tested below).
                tokio::time::sleep(secs(7.5)).await;
                control.hard_stop.store(true, Ordering::Relaxed);
            };
            let (r, ()) = tokio::join!(closed(load, 100.0, 0.0, &control, &at), stopper);
            r
        })
        .await;
    assert_eq!(seen, want, "VUs at {at:?} s");
    assert_eq!(started, 4);
}

fn constant_vus(vus: u32, duration: f64, stop: f64) -> Load {
    Load::ConstantVus {
        vus,
        duration: secs(duration),
        graceful_stop: secs(stop),
    }
}

#[tokio::test(start_paused = true)]
async fn graceful_stop_lets_iterations_finish_within_it() {
    // 3 VUs in a 3 s iteration when the 2 s schedule ends: they finish it (5 s of grace)
    // and leave at 3 s; the loop sees them gone at the next tick.
    let control = Control::default();
    let (seen, _, ended) = LocalSet::new()
        .run_until(closed(
            constant_vus(3, 2.0, 5.0),
            3.0,
            0.0,
            &control,
            &[2.99],
        ))
        .await;
    assert_eq!(seen, [3]);
    assert!(ended >= secs(3.0) && ended <= secs(3.0) + TICK, "{ended:?}");
}

#[tokio::test(start_paused = true)]
async fn graceful_stop_interrupts_what_runs_past_it() {
    // The same VUs in a 100 s iteration: stopped when the 1.5 s of grace end (3.5 s).
    let control = Control::default();
    let (seen, _, ended) = LocalSet::new()
        .run_until(closed(
            constant_vus(3, 2.0, 1.5),
            100.0,
            0.0,
            &control,
            &[3.49],
        ))
        .await;
    assert_eq!(seen, [3]);
    assert!(ended >= secs(3.5) && ended <= secs(3.5) + TICK, "{ended:?}");
}

#[tokio::test(start_paused = true)]
async fn hard_stop_during_the_grace_interrupts_at_once() {
    let control = Control::default();
    let (_, _, ended) = LocalSet::new()
        .run_until(async {
            let stopper = async {
                tokio::time::sleep(secs(2.5)).await;
                control.hard_stop.store(true, Ordering::Relaxed);
            };
            let (r, ()) = tokio::join!(
                closed(constant_vus(3, 2.0, 30.0), 100.0, 0.0, &control, &[]),
                stopper
            );
            r
        })
        .await;
    assert!(ended >= secs(2.5) && ended <= secs(2.5) + TICK, "{ended:?}");
}

/// What the open-model stand-in VUs saw: per iteration, its intended start and when a VU
/// took it (both since the start); iterations completed.
#[derive(Default)]
struct Taken {
    runs: RefCell<Vec<(Duration, Duration)>>,
    completed: Cell<u64>,
}

/// An open-model VU as `vu::run_open` behaves: takes due iterations from the queue, each
/// lasting `busy`, until the queue is closed and empty.
fn open_vu(
    state: Rc<WorkerState>,
    q: Rc<OpenQueue>,
    taken: Rc<Taken>,
    start: Instant,
    busy: Duration,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        let _alive = Alive::new(state);
        q.starting.set(q.starting.get().saturating_sub(1));
        loop {
            let next = q.due.borrow_mut().pop_front();
            match next {
                Some(at) => {
                    let now = Instant::now();
                    taken.runs.borrow_mut().push((at - start, now - start));
                    tokio::time::sleep(busy).await;
                    taken.completed.set(taken.completed.get() + 1);
                }
                None if q.closed.get() => return,
                None => {
                    q.idle.set(q.idle.get() + 1);
                    q.notify.notified().await;
                }
            }
        }
    })
}

/// Runs the open model of `arrival` (one worker) with stand-in VUs of `busy` seconds.
/// Returns what they took, the recorder's due and dropped counts, the VUs started and when
/// the loop returned.
async fn open(arrival: Arrival, busy: f64) -> (Rc<Taken>, (u64, u64), usize, Duration) {
    let state = worker_state();
    let q = Rc::new(OpenQueue::default());
    let recorder = RefCell::new(Recorder::with_checks(0, 0));
    let taken = Rc::new(Taken::default());
    let control = Control::default();
    let load = Load::RampingArrivalRate(arrival.clone());
    let start = Instant::now();
    let vus_at = |t| load.vus_at(t);
    let global_iteration = |m| m;
    let schedule = Schedule {
        id: 0,
        workers: 1,
        load: &load,
        vus_at: &vus_at,
        global_iteration: &global_iteration,
        control: &control,
        state: &state,
        start,
    };
    let started = Cell::new(0usize);
    let start_vu = |_id: u64| {
        started.set(started.get() + 1);
        open_vu(state.clone(), q.clone(), taken.clone(), start, secs(busy))
    };
    run_open(&schedule, &arrival, &q, &recorder, start_vu).await;
    let ended = Instant::now() - start;
    assert_eq!(
        state.running.get(),
        0,
        "every VU is gone when the loop returns"
    );
    let r = recorder.borrow();
    (
        taken,
        (r.iterations_due, r.dropped_iterations),
        started.get(),
        ended,
    )
}

fn arrival(start_rate: f64, stages: &[(f64, f64)], vus: (u32, u32), queue: u32) -> Arrival {
    Arrival {
        start_rate,
        stages: stages
            .iter()
            .map(|&(d, target)| RateStage {
                duration: secs(d),
                target,
            })
            .collect(),
        pre_allocated_vus: vus.0,
        max_vus: vus.1,
        queue_size: queue,
        graceful_stop: secs(30.0),
        stairs: None,
    }
}

#[tokio::test(start_paused = true)]
async fn ramping_arrival_rate_dispatches_the_exact_count_each_second() {
    // 0 → 10/s over 10 s: N(t) = t²/2 iterations have arrived by t, so iteration k is due at
    // √(2k) and second i holds k in [i²/2, (i+1)²/2): 1, 1, 3, 3, 5, 5, 7, 7, 9, 9 (50).
    let a = arrival(0.0, &[(10.0, 10.0)], (2, 20), 100);
    let (taken, (due, dropped), started, ended) = LocalSet::new().run_until(open(a, 0.05)).await;
    let runs = taken.runs.borrow();
    let mut per_second = [0u32; 10];
    for &(at, when) in runs.iter() {
        per_second[at.as_secs() as usize] += 1;
        // Handed out on time: up to EARLY before it is due, never after.
        assert!(
            when + EARLY >= at && when <= at,
            "due {at:?}, taken {when:?}"
        );
    }
    assert_eq!(per_second, [1, 1, 3, 3, 5, 5, 7, 7, 9, 9]);
    assert_eq!((due, dropped, taken.completed.get()), (50, 0, 50));
    // Iteration 49 is due at √98 s ≈ 9.9 s. The 2 pre-allocated VUs keep up (50 ms each):
    // iteration 0, due at once, waits for one of them (started, not yet run), no third starts.
    assert_eq!(started, 2);
    assert!(
        runs[49].0 > secs(9.89) && runs[49].0 < secs(9.9),
        "{:?}",
        runs[49]
    );
    assert!(ended < secs(10.0), "{ended:?}");
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_drops_and_the_graceful_stop_ends_the_rest() {
    // 10/s for 1 s, one VU whose iterations last 10 s, a queue of 2: iteration 0 runs,
    // 1 and 2 wait, 3..9 are dropped. The schedule ends when iteration 9 is handed out
    // (0.9 s - EARLY); of the 15 s of grace after it, iteration 1 runs from 10 s and is
    // interrupted, 2 never runs (dropped).
    let mut a = arrival(10.0, &[(1.0, 10.0)], (1, 1), 2);
    a.graceful_stop = secs(15.0);
    let (taken, (due, dropped), started, ended) = LocalSet::new().run_until(open(a, 10.0)).await;
    assert_eq!(started, 1);
    assert_eq!((due, dropped, taken.completed.get()), (10, 8, 1));
    let runs = taken.runs.borrow();
    let intended: Vec<Duration> = runs.iter().map(|r| r.0).collect();
    assert_eq!(intended, [secs(0.0), secs(0.1)]);
    let stop = secs(0.9) - EARLY + secs(15.0);
    assert!(ended >= stop && ended <= stop + TICK, "{ended:?}");
}

#[tokio::test(start_paused = true)]
async fn queued_iterations_run_within_the_graceful_stop() {
    // As above with 45 s of grace: the 2 queued iterations run (10 s to 30 s), exactly 7
    // were dropped, and the loop returns when the VU leaves at 30 s.
    let mut a = arrival(10.0, &[(1.0, 10.0)], (1, 1), 2);
    a.graceful_stop = secs(45.0);
    let (taken, (due, dropped), _, ended) = LocalSet::new().run_until(open(a, 10.0)).await;
    assert_eq!((due, dropped, taken.completed.get()), (10, 7, 3));
    let runs = taken.runs.borrow();
    let started: Vec<Duration> = runs.iter().map(|r| r.1).collect();
    assert_eq!(started, [secs(0.0), secs(10.0), secs(20.0)]);
    assert!(
        ended >= secs(30.0) && ended <= secs(30.0) + TICK,
        "{ended:?}"
    );
}
