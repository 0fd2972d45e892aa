//! The types a worker and its VUs share (so `worker.rs`, `vu.rs` and `step.rs` import them from
//! here, not from each other): the worker's state as its VUs read it, the open model's queue
//! of due iterations, what every VU of a worker reads (`VuContext`), and one VU's own state.

use super::Control;
use super::client::{Client, ClientConfig, Pool, Scratch};
use super::cookies::Jar;
use crate::metrics::Recorder;
use crate::plan::{Plan, ScenarioPlan};
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The runtime's timer fires on whole milliseconds, rounding up, and the poller may overshoot
/// by about as much again. Scheduled work is therefore handed out up to this much *early*, and
/// latency is measured from the later of the intended start and the actual send: the timer's
/// rounding never shows as target latency, and a late start always does.
pub const EARLY: Duration = Duration::from_millis(2);

/// What a worker's VUs read about their worker.
pub struct WorkerState {
    /// VUs in slots `0..target` of this worker should be running.
    pub target: Cell<usize>,
    pub running: Cell<u32>,
    pub peak: Cell<u32>,
    /// Woken when `target` drops, so thinking VUs can leave at once.
    pub changed: Notify,
    /// When the schedule ends (closed model): no VU starts an iteration at or after it, even
    /// before the next tick lowers `target` (up to 20 ms later) or when a paced iteration's
    /// wake-up comes `EARLY`.
    pub ends_at: Cell<Option<tokio::time::Instant>>,
}

/// Due iterations of an open-model worker, waiting for a VU.
#[derive(Default)]
pub struct OpenQueue {
    /// Intended start of each due iteration, oldest first.
    pub due: RefCell<VecDeque<Instant>>,
    /// VUs waiting for work (each one registered on `notify`).
    pub idle: Cell<u32>,
    /// VUs started and not yet run: each takes a queued iteration before anything else, so
    /// the scheduler starts no further VU for the iterations they will take.
    pub starting: Cell<usize>,
    pub notify: Notify,
    /// The schedule has ended: VUs finish what is queued, then leave.
    pub closed: Cell<bool>,
}

pub struct VuContext {
    /// What the whole file shares (target, HTTP options, steps, checks, feeds).
    pub plan: Arc<Plan>,
    /// The scenario these VUs run: its schedule, think time and flows.
    pub scenario: Arc<ScenarioPlan>,
    pub client: Arc<ClientConfig>,
    pub state: Rc<WorkerState>,
    pub recorder: Rc<RefCell<Recorder>>,
    pub scratch: Scratch,
    /// The worker's shared connections, in pooled mode.
    pub pool: Option<Pool>,
    /// The worker's queue of due iterations, in the open model.
    pub open: OpenQueue,
    /// Set when the run must end early (a `unique` data feed ran out).
    pub control: Arc<Control>,
    /// Iterations taken so far by all VUs of a `shared-iterations` run.
    pub shared_taken: Arc<AtomicU64>,
    /// The run's cursor of each data feed (by feed index), shared by every VU of every
    /// scenario: the next row of a `sequential` or `unique` feed.
    pub feed_cursors: FeedCursors,
}

/// One cursor per data feed of the plan, for the whole run (the plan's feeds are immutable).
pub type FeedCursors = Arc<[AtomicUsize]>;

/// A fresh cursor for each of `plan`'s feeds: every feed starts at its first row.
pub fn feed_cursors(plan: &Plan) -> FeedCursors {
    plan.feeds.iter().map(|_| AtomicUsize::new(0)).collect()
}

/// Per-VU state kept across iterations: small unless the scenario uses variables, data or
/// cookies.
pub(super) struct Vu {
    pub(super) rng: fastrand::Rng,
    pub(super) client: Client,
    /// `{{vu}}`: from 1.
    pub(super) number: u64,
    pub(super) iteration: u64,
    pub(super) vars: Vec<Bytes>,
    /// The row drawn from each feed for the current iteration.
    pub(super) rows: Vec<usize>,
    /// Cookies set by the target (allocated at the first `Set-Cookie`).
    pub(super) jar: Option<Box<Jar>>,
    /// Request rendering buffers (empty until a templated step or a cookie needs them).
    pub(super) buf: Vec<u8>,
    /// The typed parts of a templated step's request, reused from request to request (boxed
    /// at the first one: a VU of static steps keeps one pointer).
    pub(super) parts: Option<Box<super::request::Parts>>,
}

impl Vu {
    pub(super) fn new(plan: &Plan, id: u64, seed: u64) -> Self {
        Vu {
            rng: fastrand::Rng::with_seed(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            client: Client::new(id),
            number: id + 1,
            iteration: 0,
            vars: plan.variables.iter().map(|(_, v)| v.clone()).collect(),
            rows: vec![0; plan.feeds.len()],
            jar: None,
            buf: Vec::new(),
            parts: None,
        }
    }
}
