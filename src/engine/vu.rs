//! The VU loop (closed model): pick a flow by weight, run its steps in order on the VU's own
//! connection, think, repeat — until the worker's VU target drops below this VU's slot.

use super::client::{Client, ClientConfig, Outgoing, Pool, Scratch};
use super::worker::WorkerState;
use crate::metrics::{ErrorKind, Recorder};
use crate::plan::{Plan, Think};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
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

pub struct VuContext {
    pub plan: Arc<Plan>,
    pub client: Arc<ClientConfig>,
    pub state: Rc<WorkerState>,
    pub recorder: Rc<RefCell<Recorder>>,
    pub scratch: Scratch,
    /// The worker's shared connections, in pooled mode.
    pub pool: Option<Pool>,
}

/// Run VU number `slot` of this worker (global id `id`) until told to stop.
///
/// A VU of the initial population (`initial`) first waits a random part of one think time when
/// the plan spreads its start.
pub async fn run(ctx: Rc<VuContext>, slot: usize, id: u64, seed: u64, initial: bool) {
    let _running = Running::new(ctx.state.clone());
    let plan = &ctx.plan;
    let mut rng = fastrand::Rng::with_seed(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut client = Client::new(id);
    let total_weight = plan.total_weight().max(1);
    if initial && plan.spread_start {
        let offset = plan.think.sample(&mut rng).mul_f64(rng.f64());
        if !offset.is_zero() && !pause(&ctx.state, slot, offset).await {
            return;
        }
    }
    loop {
        if slot >= ctx.state.target.get() {
            return;
        }
        let fi = plan.flow_for(rng.u64(0..total_weight));
        let flow = &plan.flows[fi];
        let started = Instant::now();
        for (si, step) in flow.steps.iter().enumerate() {
            let out = Outgoing {
                wire: &ctx.client.wire[fi][si],
                head: step.method == http::Method::HEAD,
                expect_status: step.expect_status.as_deref(),
            };
            let sample = client
                .request_via(ctx.pool.as_ref(), &ctx.client, &ctx.scratch, out)
                .await;
            ctx.recorder.borrow_mut().record(step.metric, &sample);
            if ends_iteration(sample.error) {
                break;
            }
            if step.think != Think::None
                && !pause(&ctx.state, slot, step.think.sample(&mut rng)).await
            {
                return;
            }
        }
        ctx.recorder
            .borrow_mut()
            .record_iteration(started.elapsed());
        if slot >= ctx.state.target.get() {
            return;
        }
        let think = plan.think.sample(&mut rng);
        if !think.is_zero() && !pause(&ctx.state, slot, think).await {
            return;
        }
    }
}

/// Sleep on the runtime's timer. Returns false, early, when this VU's slot is no longer wanted
/// (ramp-down or stop); other VUs woken by the same change go back to sleep.
async fn pause(state: &WorkerState, slot: usize, d: std::time::Duration) -> bool {
    let until = Instant::now() + d;
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
