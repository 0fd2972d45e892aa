//! Virtual users. A closed-model VU loops: pick a flow by weight, run its steps in order on its
//! own connection, think (or wait for its pacing slot), repeat — until the worker's VU target
//! drops below its slot. An open-model VU runs the iterations the worker's schedule queues for
//! it, each timed from when it was due.

use super::client::{Client, ClientConfig, Outgoing, Pool, Scratch};
use super::worker::WorkerState;
use crate::metrics::{ErrorKind, Recorder};
use crate::plan::{Plan, Think};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The runtime's timer fires on whole milliseconds, rounding up, and the poller may overshoot
/// by about as much again. Scheduled work is therefore handed out up to this much *early*, and
/// latency is measured from the later of the intended start and the actual send: the timer's
/// rounding never shows as target latency, and a late start always does.
pub const EARLY: Duration = Duration::from_millis(2);

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
fn ends_iteration(e: Option<ErrorKind>) -> bool {
    matches!(
        e,
        Some(
            ErrorKind::ConnectRefused
                | ErrorKind::ConnectTimeout
                | ErrorKind::Connect
                | ErrorKind::RequestTimeout
                | ErrorKind::Reset
                | ErrorKind::Protocol
        )
    )
}

/// Due iterations of an open-model worker, waiting for a VU.
#[derive(Default)]
pub struct OpenQueue {
    /// Intended start of each due iteration, oldest first.
    pub due: RefCell<VecDeque<Instant>>,
    /// VUs waiting for work (each one registered on `notify`).
    pub idle: Cell<u32>,
    pub notify: Notify,
    /// The schedule has ended: VUs finish what is queued, then leave.
    pub closed: Cell<bool>,
}

pub struct VuContext {
    pub plan: Arc<Plan>,
    pub client: Arc<ClientConfig>,
    pub state: Rc<WorkerState>,
    pub recorder: Rc<RefCell<Recorder>>,
    pub scratch: Scratch,
    /// The worker's shared connections, in pooled mode.
    pub pool: Option<Pool>,
    /// The worker's queue of due iterations, in the open model.
    pub open: OpenQueue,
}

/// Per-VU state kept across iterations.
struct Vu {
    rng: fastrand::Rng,
    client: Client,
}

impl Vu {
    fn new(id: u64, seed: u64) -> Self {
        Vu {
            rng: fastrand::Rng::with_seed(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            client: Client::new(id),
        }
    }
}

/// Run one iteration: a flow picked by weight. `intended` is when a scheduled iteration was due
/// (open model, pacing): its first request is timed from then, and its lateness recorded as
/// `schedule_lag`. `slot` lets a closed-model VU leave during a step's think time when its slot
/// is no longer wanted; returns false if it did.
async fn iteration(
    ctx: &VuContext,
    vu: &mut Vu,
    intended: Option<Instant>,
    slot: Option<usize>,
) -> bool {
    let plan = &ctx.plan;
    let fi = plan.flow_for(vu.rng.u64(0..plan.total_weight().max(1)));
    let flow = &plan.flows[fi];
    let started = Instant::now();
    if let Some(t) = intended {
        ctx.recorder
            .borrow_mut()
            .record_lag(started.saturating_duration_since(t));
    }
    for (si, step) in flow.steps.iter().enumerate() {
        let out = Outgoing {
            wire: &ctx.client.wire[fi][si],
            head: step.method == http::Method::HEAD,
            expect_status: step.expect_status.as_deref(),
        };
        let mut sample = vu
            .client
            .request_via(ctx.pool.as_ref(), &ctx.client, &ctx.scratch, out)
            .await;
        sample.uncorrected = sample.duration;
        if si == 0
            && let (Some(t), Some(d)) = (intended, sample.duration)
        {
            // From the intended start (wrk2's rule), never less than the exchange itself.
            sample.duration = Some(d.max(Instant::now().saturating_duration_since(t)));
        }
        ctx.recorder.borrow_mut().record(step.metric, &sample);
        if ends_iteration(sample.error) {
            break;
        }
        if step.think != Think::None {
            let d = step.think.sample(&mut vu.rng);
            match slot {
                Some(slot) => {
                    if !pause_until(&ctx.state, slot, Instant::now() + d).await {
                        return false;
                    }
                }
                None => tokio::time::sleep(d).await,
            }
        }
    }
    ctx.recorder
        .borrow_mut()
        .record_iteration(started.elapsed());
    true
}

/// Run closed-model VU number `slot` of this worker (global id `id`) until told to stop.
///
/// A VU of the initial population (`initial`) first waits a random part of one think time (or
/// pacing period) when the plan spreads its start.
pub async fn run(ctx: Rc<VuContext>, slot: usize, id: u64, seed: u64, initial: bool) {
    let _running = Running::new(ctx.state.clone());
    let plan = ctx.plan.clone();
    let mut vu = Vu::new(id, seed);
    if initial && plan.spread_start {
        let period = match plan.think {
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
        let intended = matches!(plan.think, Think::Pacing(_)).then_some(due);
        if !iteration(&ctx, &mut vu, intended, Some(slot)).await {
            return;
        }
        if slot >= ctx.state.target.get() {
            return;
        }
        let wake = match plan.think {
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
    let mut vu = Vu::new(id, seed);
    let q = &ctx.open;
    loop {
        let next = q.due.borrow_mut().pop_front();
        match next {
            Some(t) => {
                iteration(&ctx, &mut vu, Some(t), None).await;
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
