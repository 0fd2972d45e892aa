//! Flows and their steps: requests with pre-built headers and bodies, checks, extractions,
//! think times.

#[allow(unused_imports)]
use super::*;

/// What a check is about, for reports (`status in [200]`, `body contains "ok"`, ...).
#[derive(Debug, Clone)]
pub struct CheckInfo {
    /// The step's metric index.
    pub metric: usize,
    pub description: String,
}

/// Parts of a step's request that change per request.
#[derive(Debug, Clone)]
pub struct Dynamic {
    pub path: Template,
    /// Headers whose values are templates (the others are in `Step::headers`).
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Template,
}

/// Where an extracted variable comes from.
#[derive(Debug, Clone)]
pub enum Extractor {
    Json(serde_json_path::JsonPath),
    /// The first capture group (or the whole match when there is none).
    Regex(regex::Regex),
    /// A response header (lower case).
    Header(String),
}

#[derive(Debug, Clone)]
pub struct Extract {
    /// Index into the VU's variables.
    pub var: usize,
    pub from: Extractor,
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    BodyContains(Template),
    /// The first value at the path equals this one.
    Json(serde_json_path::JsonPath, Want),
    /// A response header (lower-case name) equals this value.
    Header(String, Template),
}

/// An expected JSON value: fixed, or text with templates (compared with a string value, or
/// with the JSON text of any other value).
#[derive(Debug, Clone)]
pub enum Want {
    Value(serde_json::Value),
    Text(Template),
}

#[derive(Debug, Clone)]
pub struct Check {
    /// Index into `Plan::checks`.
    pub id: usize,
    pub kind: CheckKind,
}

/// Pause between iterations (and after steps that set their own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Think {
    None,
    Constant(Duration),
    Between(Duration, Duration),
    /// Exponentially distributed pauses with this mean.
    Exponential(Duration),
    /// Start an iteration every so often (closed model): the pause is what is left of the
    /// period; an overrun shows as `schedule_lag`, not as a shifted schedule.
    Pacing(Duration),
}

impl Think {
    /// Draw one pause.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        match *self {
            Think::None | Think::Pacing(_) => Duration::ZERO,
            Think::Constant(d) => d,
            Think::Between(lo, hi) => {
                let span = hi.saturating_sub(lo).as_nanos() as u64;
                if span == 0 {
                    lo
                } else {
                    lo + Duration::from_nanos(rng.u64(0..=span))
                }
            }
            // Inverse transform: -mean · ln(1 − U), U uniform in [0, 1) (at most ~37 × mean).
            Think::Exponential(mean) => mean.mul_f64(-(1.0 - rng.f64()).ln()),
        }
    }

    /// The mean pause (for capacity maths and docs).
    pub fn mean(&self) -> Duration {
        match *self {
            Think::None => Duration::ZERO,
            Think::Constant(d) => d,
            Think::Between(lo, hi) => (lo + hi) / 2,
            Think::Exponential(mean) => mean,
            // A whole iteration cycle: think plus response time.
            Think::Pacing(d) => d,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<Step>,
    /// Feeds this flow's templates read: each iteration draws one row from each.
    pub feeds: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Index into `Plan::step_names` (steps sharing a name share metrics).
    pub metric: usize,
    pub method: Method,
    /// Path and query, base path included, as sent on the request line.
    pub path: String,
    /// The request as written (`GET /users/{{id}}`), for messages and reports: never a value
    /// that came from the environment.
    pub source: String,
    /// Per-step headers, merged over the plan's default headers at load time.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Acceptable statuses; `None` means any status below 400.
    pub expect_status: Option<Vec<u16>>,
    /// Pause after this step (overrides nothing: iteration think time still applies).
    pub think: Think,
    /// Set when the request changes per request (templates); `path`, `headers` and `body` then
    /// hold its fixed parts only.
    pub dynamic: Option<Dynamic>,
    pub extract: Vec<Extract>,
    /// Expectations beyond the status (which is `expect_status`).
    pub checks: Vec<Check>,
    /// The check id of an explicit `expect.status`.
    pub status_check: Option<usize>,
    /// A streaming step (`sse:`): its response is an event stream, timed event by event.
    pub stream: Option<Box<stream::StreamSpec>>,
    /// A WebSocket step (`ws:`): the request is its upgrade, then these actions run.
    pub ws: Option<Box<ws::WsSpec>>,
}

impl Step {
    /// True when the response's headers and body must be kept for this step.
    pub fn needs_response(&self) -> bool {
        !self.extract.is_empty() || !self.checks.is_empty()
    }
}
