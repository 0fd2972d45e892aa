//! Virtual users. A closed-model VU loops: pick a flow by weight, run its steps in order on its
//! own connection, think (or wait for its pacing slot), repeat — until the worker's VU target
//! drops below its slot. An open-model VU runs the iterations the worker's schedule queues for
//! it, each timed from when it was due.

use super::context::{EARLY, Vu, VuContext, WorkerState};
use super::step::{http_step, ws_step};
use crate::metrics::{ErrorKind, Recorder};
use crate::plan::{Step, Think};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// Counts this VU in the worker's running VUs for as long as it lives.
struct Running(Rc<WorkerState>);

impl Running {
    fn new(ws: Rc<WorkerState>) -> Self {
        let n = ws.running.get() + 1;
        ws.running.set(n);
        ws.peak.set(ws.peak.get().max(n));
        Running(ws)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.set(self.0.running.get().saturating_sub(1));
    }
}

/// Transport failures end the iteration: the steps after it would only fail the same way.
pub(super) fn ends_iteration(e: Option<ErrorKind>) -> bool {
    matches!(
        e,
        Some(
            ErrorKind::ConnectRefused
                | ErrorKind::ConnectTimeout
                | ErrorKind::Connect
                | ErrorKind::RequestTimeout
                | ErrorKind::Reset
                | ErrorKind::NoResponse
                | ErrorKind::BodyTruncated
                | ErrorKind::Interrupted
                | ErrorKind::Protocol
                | ErrorKind::Tls
                | ErrorKind::Proxy
        )
    )
}

/// Run one iteration: a flow picked by weight. `intended` is when a scheduled iteration was due
/// (open model, pacing): its first request is timed from then, and its lateness recorded as
/// `schedule_lag`. `slot` lets a closed-model VU leave during a step's think time when its slot
/// is no longer wanted. Returns false when the VU should stop (it left, or a `unique` data feed
/// ran out).
async fn iteration(
    ctx: &VuContext,
    vu: &mut Vu,
    intended: Option<Instant>,
    slot: Option<usize>,
) -> bool {
    let plan = &ctx.plan;
    let sc = &ctx.scenario;
    let fi = sc.flow_for(vu.rng.u64(0..sc.total_weight().max(1)));
    let flow = &sc.flows[fi];
    for &f in &flow.feeds {
        match plan.feeds[f].draw(&ctx.feed_cursors[f], &mut vu.rng) {
            Some(row) => vu.rows[f] = row,
            None => {
                // Every row of a `unique` feed has been used: the run ends here.
                ctx.control.stop.store(true, Ordering::Relaxed);
                return false;
            }
        }
    }
    // Counted in `iterations_interrupted` unless it gets to its end.
    let mut unfinished = Unfinished {
        recorder: &ctx.recorder,
        armed: true,
    };
    let started = Instant::now();
    if let Some(t) = intended {
        ctx.recorder
            .borrow_mut()
            .record_lag(started.saturating_duration_since(t));
    }
    for (si, step) in flow.steps.iter().enumerate() {
        if let Some(spec) = step.ws.as_deref() {
            let error = ws_step(ctx, vu, step, spec, (si == 0).then_some(intended).flatten()).await;
            if ends_iteration(error) {
                break;
            }
            if !think_after(ctx, vu, step, slot).await {
                return false;
            }
            continue;
        }
        let error = http_step(ctx, vu, (fi, si), step, intended).await;
        if ends_iteration(error) {
            break;
        }
        if !think_after(ctx, vu, step, slot).await {
            return false;
        }
    }
    unfinished.armed = false;
    ctx.recorder
        .borrow_mut()
        .record_iteration(started.elapsed());
    vu.iteration += 1;
    true
}

/// An iteration under way: if its VU is stopped before the end (its future dropped), it is
/// counted in `iterations_interrupted`.
struct Unfinished<'a> {
    recorder: &'a RefCell<Recorder>,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Ok(mut r) = self.recorder.try_borrow_mut()
        {
            r.iterations_interrupted += 1;
        }
    }
}

/// A step's own think time, if it has one. False when the VU should stop meanwhile.
async fn think_after(ctx: &VuContext, vu: &mut Vu, step: &Step, slot: Option<usize>) -> bool {
    if step.think == Think::None {
        return true;
    }
    let d = step.think.sample(&mut vu.rng);
    match slot {
        Some(slot) => pause_until(&ctx.state, slot, Instant::now() + d).await,
        None => {
            tokio::time::sleep(d).await;
            true
        }
    }
}

/// May this VU start another iteration of a fixed-work executor?
fn may_iterate(ctx: &VuContext, vu: &Vu) -> bool {
    match &ctx.scenario.load {
        crate::plan::Load::PerVuIterations(it) => vu.iteration < it.iterations,
        crate::plan::Load::SharedIterations(it) => {
            ctx.shared_taken.fetch_add(1, Ordering::Relaxed) < it.iterations
        }
        _ => true,
    }
}

/// Run closed-model VU number `slot` of this worker (global id `id`) until told to stop.
///
/// A VU of the initial population (`initial`) first waits a random part of one think time (or
/// pacing period) when the plan spreads its start.
pub async fn run(ctx: Rc<VuContext>, slot: usize, id: u64, seed: u64, initial: bool) {
    let _running = Running::new(ctx.state.clone());
    let sc = ctx.scenario.clone();
    let mut vu = Vu::new(&ctx.plan, id, seed);
    if initial && sc.spread_start {
        let period = match sc.think {
            Think::Pacing(p) => p,
            t => t.sample(&mut vu.rng),
        };
        let offset = period.mul_f64(vu.rng.f64());
        if !offset.is_zero() && !pause_until(&ctx.state, slot, Instant::now() + offset).await {
            return;
        }
    }
    // With pacing, iteration i is due at `first + i * period`, however long earlier ones took.
    let mut due = Instant::now();
    loop {
        if slot >= ctx.state.target.get() {
            return;
        }
        if ctx.control.pause.load(Ordering::Relaxed) {
            if !wait_while_paused(&ctx, slot).await {
                return;
            }
            // Paced iterations due during the pause are not caught up in a burst.
            due = due.max(Instant::now());
        }
        let intended = matches!(sc.think, Think::Pacing(_)).then_some(due);
        // Not after the schedule's end: the tick that lowers `target` may come up to 20 ms
        // later, and a paced VU wakes `EARLY` for an iteration due at or after the end.
        let starts = intended.unwrap_or_else(Instant::now).max(Instant::now());
        if ctx.state.ends_at.get().is_some_and(|end| starts >= end) {
            return;
        }
        if !may_iterate(&ctx, &vu) {
            return;
        }
        // Boxed: the iteration's future (request, TLS, HTTP/2, redirects) is large, and a VU
        // that thinks between iterations should hold only its own small state.
        if !Box::pin(iteration(&ctx, &mut vu, intended, Some(slot))).await {
            return;
        }
        if slot >= ctx.state.target.get() {
            return;
        }
        let wake = match sc.think {
            Think::Pacing(period) => {
                due += period;
                due.checked_sub(EARLY).unwrap_or(due)
            }
            t => Instant::now() + t.sample(&mut vu.rng),
        };
        if wake > Instant::now() && !pause_until(&ctx.state, slot, wake).await {
            return;
        }
    }
}

/// Run open-model VU `id`: take due iterations from the worker's queue until it is closed and
/// empty.
pub async fn run_open(ctx: Rc<VuContext>, id: u64, seed: u64) {
    let _running = Running::new(ctx.state.clone());
    let mut vu = Vu::new(&ctx.plan, id, seed);
    let q = &ctx.open;
    q.starting.set(q.starting.get().saturating_sub(1));
    loop {
        let next = q.due.borrow_mut().pop_front();
        match next {
            Some(t) => {
                if !Box::pin(iteration(&ctx, &mut vu, Some(t), None)).await {
                    // A `unique` feed ran out before it started: it never ran.
                    ctx.recorder.borrow_mut().dropped_iterations += 1;
                    return;
                }
            }
            None if q.closed.get() => return,
            None => {
                // The scheduler takes one off `idle` for each VU it wakes.
                q.idle.set(q.idle.get() + 1);
                q.notify.notified().await;
            }
        }
    }
}

/// While `control.pause` is set, start nothing: check again every 50 ms. Returns false when this
/// VU's slot is no longer wanted meanwhile (ramp-down or stop).
async fn wait_while_paused(ctx: &VuContext, slot: usize) -> bool {
    while ctx.control.pause.load(Ordering::Relaxed) {
        if !pause_until(&ctx.state, slot, Instant::now() + Duration::from_millis(50)).await {
            return false;
        }
    }
    true
}

/// Sleep on the runtime's timer until `until`. Returns false, early, when this VU's slot is no
/// longer wanted (ramp-down or stop); other VUs woken by the same change go back to sleep.
async fn pause_until(state: &WorkerState, slot: usize, until: Instant) -> bool {
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return true,
            _ = state.changed.notified() => {
                if slot >= state.target.get() {
                    return false;
                }
            }
        }
    }
}
