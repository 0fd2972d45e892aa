//! The validated, normalised plan: what the engine executes. Built from a scenario file plus CLI
//! overrides; the engine never sees YAML or clap types.

mod segment;
pub mod stream;
pub mod template;
pub mod ws;

use crate::sla::Threshold;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method};
pub use segment::apply_segment;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use template::Template;

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub target: Target,
    /// Where the target came from, for messages: `file:line:col` or `--target`.
    pub target_origin: String,
    pub http: HttpOptions,
    pub load: Load,
    pub think: Think,
    /// VUs of the initial population begin after a random part of one think time, so the load
    /// is steady from the first second instead of arriving as one synchronized herd.
    pub spread_start: bool,
    pub flows: Vec<Flow>,
    /// Names of the steps as metric tags, indexed by `Step::metric`.
    pub step_names: Vec<String>,
    pub thresholds: Vec<Threshold>,
    /// Each VU's variables (declared with a value, or extracted), by index; initial values.
    pub variables: Vec<(String, Bytes)>,
    /// CSV data feeds, loaded once and shared read-only by every VU.
    pub feeds: Vec<Arc<Feed>>,
    /// A cookie jar per VU (`http.cookies`, on by default).
    pub cookies: bool,
    /// Every check (expectation) of every step, by id.
    pub checks: Vec<CheckInfo>,
    /// The scenarios of a multi-scenario file, each a plan of its own (its load, think time and
    /// flows; step, check, variable and feed indices shared with this plan), run at once.
    /// Empty for a single scenario, which is this plan itself.
    pub parts: Vec<Arc<Plan>>,
    /// Each scenario's name and steps (metric indices), for `{scenario:NAME}`.
    pub scenarios: Vec<(String, Vec<usize>)>,
    /// `--segment`: this process runs one part of the whole (see `crate::segment`).
    pub segment: Option<crate::segment::Part>,
}

impl Plan {
    /// The address `http.resolve` gives the target's host and port, if it overrides DNS.
    pub fn resolve_override(&self) -> Option<std::net::SocketAddr> {
        self.http
            .resolve
            .iter()
            .find(|(h, p, _)| h.eq_ignore_ascii_case(&self.target.host) && *p == self.target.port)
            .map(|(_, port, ip)| std::net::SocketAddr::new(*ip, *port))
    }

    /// The plans to run at once: the scenarios of a multi-scenario file, or this one.
    pub fn runs(self: &Arc<Self>) -> Vec<Arc<Plan>> {
        if self.parts.is_empty() {
            vec![self.clone()]
        } else {
            self.parts.clone()
        }
    }

    fn each<T>(&self, f: impl Fn(&Plan) -> T) -> Vec<T> {
        if self.parts.is_empty() {
            vec![f(self)]
        } else {
            self.parts.iter().map(|p| f(p)).collect()
        }
    }

    /// `constant-vus`, or `browse: constant-vus + api: constant-arrival-rate`.
    pub fn executor_label(&self) -> String {
        if self.parts.is_empty() {
            return self.load.executor_name().to_string();
        }
        self.scenarios
            .iter()
            .zip(&self.parts)
            .map(|((n, _), p)| format!("{n}: {}", p.load.executor_name()))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// The longest scheduled part.
    pub fn planned_duration(&self) -> Duration {
        self.each(|p| p.load.duration())
            .into_iter()
            .max()
            .unwrap_or_default()
    }

    pub fn graceful_stop(&self) -> Duration {
        self.each(|p| p.load.graceful_stop())
            .into_iter()
            .max()
            .unwrap_or_default()
    }

    /// The most VUs all scenarios together may run (this segment's share of them).
    pub fn peak_vus(&self) -> u32 {
        self.each(|p| match p.load.arrival() {
            // Arrival-rate VU counts are scaled to the segment when it is applied.
            Some(_) => p.load.max_vus(),
            None => p.segment_share(p.load.max_vus()),
        })
        .into_iter()
        .sum()
    }

    /// The VUs this process should run at `t` (its segment's share of a closed-model target).
    pub fn vus_at(&self, t: Duration) -> u32 {
        match self.load.arrival() {
            Some(_) => self.load.vus_at(t),
            None => self.segment_share(self.load.vus_at(t)),
        }
    }

    /// This process's share of `n` VUs of a closed-model schedule: all of them, or its
    /// segment's striped share.
    pub fn segment_share(&self, n: u32) -> u32 {
        match &self.segment {
            Some(p) => p.stripe.share(n as u64) as u32,
            None => n,
        }
    }

    /// The number in the whole run's schedule of this process's `m`-th arrival-rate iteration.
    pub fn global_iteration(&self, m: u64) -> u64 {
        match &self.segment {
            Some(p) => p.stripe.global(m),
            None => m,
        }
    }
}

/// A CSV file's rows, and how iterations pick them.
#[derive(Debug)]
pub struct Feed {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Bytes>>,
    pub pick: Pick,
    /// The next row for `sequential` and `unique`, shared by all VUs.
    pub next: AtomicUsize,
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
    /// The row for the next iteration; `None` once a `unique` feed is used up.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        let n = self.rows.len();
        if n == 0 {
            return None;
        }
        match self.pick {
            Pick::Random => Some(rng.usize(0..n)),
            Pick::Sequential => Some(self.next.fetch_add(1, Ordering::Relaxed) % n),
            Pick::Unique => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                (i < n).then_some(i)
            }
        }
    }
}

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

/// Where requests go: scheme (`http` or `https`), host, port, and a base path that step paths
/// are appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://`: connections use TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Base path without a trailing slash ("" for none).
    pub base_path: String,
}

impl Target {
    /// Parse `http[s]://host[:port][/base]`.
    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url.trim();
        check_url(url)?;
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("malformed target URL `{url}`: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "target `{url}`: unsupported scheme `{other}` (expected http:// or https://)"
                ));
            }
            None => {
                return Err(format!(
                    "malformed target URL `{url}`: write it with a scheme, e.g. `http://{url}`"
                ));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("malformed target URL `{url}`: no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if uri.query().is_some() {
            return Err(format!(
                "target `{url}`: a query string belongs on a step's path, not on the target"
            ));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Target {
            tls,
            host,
            port,
            base_path,
        })
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme(), self.authority(), self.base_path)
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    pub fn default_port(&self) -> u16 {
        if self.tls { 443 } else { 80 }
    }
}

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout (connect + send + response).
    pub timeout: Duration,
    /// Headers sent with every request (a step's own headers override these).
    pub headers: HeaderMap,
    /// Source addresses to spread connections over (empty: the kernel chooses).
    pub local_ips: Vec<std::net::IpAddr>,
    pub connections: Connections,
    /// How to speak TLS to an `https://` target.
    pub tls: TlsOptions,
    /// Redirects followed per step (0: never).
    pub max_redirects: u32,
    /// Where connections go through, as CONNECT tunnels (`http.proxy`, or the environment).
    pub proxy: Option<Proxy>,
    /// `http.max_body`: the most of a body kept for checks and extraction (bytes).
    pub max_body: usize,
    /// `http.resolve`: (host, port) → address, used instead of DNS (as curl's `--resolve`).
    pub resolve: Vec<(String, u16, std::net::IpAddr)>,
    /// Look the target's name up again this often (`http.dns_ttl`, default 5m; zero: never).
    pub dns_ttl: Duration,
    pub version: HttpVersion,
    /// `http.retry: idempotent`: an idempotent request that got no response byte on a reused
    /// connection is sent once more, as a request of its own (docs/accounting.md).
    pub retry_idempotent: bool,
    /// `http.max_header_lines`: header lines allowed in a response head.
    pub max_header_lines: u32,
}

/// An HTTP proxy that connections tunnel through (CONNECT).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// The `Proxy-Authorization` value, from `user:password@` in the proxy URL.
    pub authorization: Option<String>,
    /// Where it was set: `http.proxy` or the environment variable's name.
    pub origin: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials stay out of logs.
        write!(f, "Proxy({}:{} from {})", self.host, self.port, self.origin)
    }
}

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 (ALPN `http/1.1` over TLS).
    #[default]
    Http1,
    /// HTTP/2: over TLS via ALPN `h2`; over cleartext as h2c with prior knowledge.
    Http2,
    /// Whatever the server picks by ALPN (`h2` preferred); HTTP/1.1 over cleartext.
    Auto,
}

/// PEM text read from a file of the scenario (certificates, keys). Its `Debug` shows only the
/// size, so a private key never lands in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem(pub Vec<u8>);

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes of PEM>", self.0.len())
    }
}

/// `http.tls` (and `--insecure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust these CA certificates instead of the system roots (`ca_file`).
    pub ca: Option<Pem>,
    /// Accept any certificate (`insecure: true` or `--insecure`).
    pub insecure: bool,
    /// A client certificate chain and its key (mutual TLS).
    pub client_cert: Option<(Pem, Pem)>,
    /// The name sent as SNI and checked against the certificate (default: the target host).
    pub server_name: Option<String>,
    /// Resume TLS sessions on reconnect (default true, as browsers do).
    pub resumption: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca: None,
            insecure: false,
            client_cert: None,
            server_name: None,
            resumption: true,
        }
    }
}

/// Who owns the TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Each VU owns one keep-alive connection, as a browser does.
    PerVu,
    /// VUs share at most `max` connections; a VU waits (`http_req_blocked`) when all are busy.
    Pooled { max: u32 },
}

impl Plan {
    /// The most TCP connections the plan can hold open at once.
    pub fn peak_connections(&self) -> u64 {
        let vus = self.peak_vus();
        match self.http.connections {
            Connections::PerVu => vus as u64,
            // Each scenario's engine has a pool of its own.
            Connections::Pooled { max } => self
                .each(|p| max.min(p.load.max_vus()) as u64)
                .into_iter()
                .sum(),
        }
    }
}

/// The load schedule: how many VUs run over time (closed model), or when iterations start
/// (open model, arrival-rate executors).
#[derive(Debug, Clone)]
pub enum Load {
    ConstantArrivalRate(Arrival),
    RampingArrivalRate(Arrival),
    /// Each of `vus` VUs runs `iterations` iterations (closed model, fixed work).
    PerVuIterations(Iterations),
    /// `vus` VUs share `iterations` iterations: whoever is free takes the next.
    SharedIterations(Iterations),
    ConstantVus {
        vus: u32,
        duration: Duration,
        graceful_stop: Duration,
    },
    RampingVus {
        start_vus: u32,
        stages: Vec<Stage>,
        graceful_ramp_down: Duration,
        graceful_stop: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: u32,
}

/// Fixed work for the iterations executors.
#[derive(Debug, Clone, PartialEq)]
pub struct Iterations {
    pub vus: u32,
    pub iterations: u64,
    /// The run stops here even if iterations are left.
    pub max_duration: Duration,
    pub graceful_stop: Duration,
}

/// An open-model schedule: iteration k is due at `due(k)`, whatever the target does. A
/// constant rate is one stage from `start_rate` to the same rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Iterations per second at the start.
    pub start_rate: f64,
    /// Linear ramps of the rate (iterations per second) over each stage.
    pub stages: Vec<RateStage>,
    /// VUs started before the run; more are started when none is free, up to `max_vus`.
    pub pre_allocated_vus: u32,
    pub max_vus: u32,
    /// Due iterations waiting for a VU; beyond this many, they are dropped (`dropped_iterations`).
    pub queue_size: u32,
    pub graceful_stop: Duration,
    /// Set for the `breakpoint` executor: the stages are stairs (a jump, then a hold), each
    /// judged on its own and the run stops at the first that fails.
    pub stairs: Option<Stairs>,
}

/// How a breakpoint run judges its stairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stairs {
    /// The first part of each stair not judged (the system settles on the new rate).
    pub warmup: Duration,
    /// A stair passes only when the achieved rate is at least this share of the offered one.
    pub min_achieved: f64,
}

/// One stair of a breakpoint run: `[start, end)` since the start, offered at `rate`/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stair {
    pub start: Duration,
    pub end: Duration,
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStage {
    pub duration: Duration,
    /// Iterations per second at the end of the stage.
    pub target: f64,
}

impl Arrival {
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Iterations per second at `t`.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let mut from = self.start_rate;
        let mut stage_start = Duration::ZERO;
        for s in &self.stages {
            let end = stage_start + s.duration;
            if t < end {
                let frac = (t - stage_start).as_secs_f64() / s.duration.as_secs_f64();
                return from + (s.target - from) * frac;
            }
            from = s.target;
            stage_start = end;
        }
        0.0
    }

    /// Iterations due in `[0, t)`: the integral of the rate.
    pub fn arrivals_until(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        let mut from = self.start_rate;
        let mut start = 0.0;
        let mut total = 0.0;
        for s in &self.stages {
            let len = s.duration.as_secs_f64();
            let x = (t - start).clamp(0.0, len);
            if len > 0.0 {
                total += from * x + (s.target - from) * x * x / (2.0 * len);
            }
            if t < start + len {
                return total;
            }
            from = s.target;
            start += len;
        }
        total
    }

    /// When iteration `k` (from 0) is due: the time at which `k` iterations have arrived before
    /// it, so iteration 0 starts at once and a constant rate r spaces them 1/r apart. `None` when
    /// it falls after the schedule's end.
    pub fn due(&self, k: u64) -> Option<Duration> {
        let k = k as f64;
        let mut from = self.start_rate;
        let mut start = 0.0;
        let mut before = 0.0;
        for s in &self.stages {
            let len = s.duration.as_secs_f64();
            let a = (s.target - from) / (2.0 * len.max(1e-12));
            let in_stage = from * len + a * len * len;
            if k < before + in_stage {
                // Solve a x^2 + from x = k - before for the smallest x >= 0 (stable form).
                let need = k - before;
                let x = if need <= 0.0 {
                    0.0
                } else {
                    let disc = (from * from + 4.0 * a * need).max(0.0);
                    2.0 * need / (from + disc.sqrt()).max(1e-300)
                };
                let t = start + x.min(len);
                return (t < start + len).then(|| Duration::from_secs_f64(t));
            }
            before += in_stage;
            from = s.target;
            start += len;
        }
        None
    }

    /// The stairs of a breakpoint schedule: every stage that holds its rate (a zero-length
    /// stage before it makes the jump). Empty for other schedules.
    pub fn stair_list(&self) -> Vec<Stair> {
        if self.stairs.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut at = Duration::ZERO;
        for s in &self.stages {
            if !s.duration.is_zero() {
                out.push(Stair {
                    start: at,
                    end: at + s.duration,
                    rate: s.target,
                });
            }
            at += s.duration;
        }
        out
    }

    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start_rate, f64::max)
    }
}

impl Load {
    pub fn executor_name(&self) -> &'static str {
        match self {
            Load::ConstantVus { .. } => "constant-vus",
            Load::RampingVus { .. } => "ramping-vus",
            Load::ConstantArrivalRate(_) => "constant-arrival-rate",
            Load::RampingArrivalRate(a) if a.stairs.is_some() => "breakpoint",
            Load::RampingArrivalRate(_) => "ramping-arrival-rate",
            Load::PerVuIterations(_) => "per-vu-iterations",
            Load::SharedIterations(_) => "shared-iterations",
        }
    }

    /// The open-model schedule, for arrival-rate executors.
    pub fn arrival(&self) -> Option<&Arrival> {
        match self {
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => Some(a),
            _ => None,
        }
    }

    /// Length of the scheduled part of the run (without the graceful stop).
    pub fn duration(&self) -> Duration {
        match self {
            Load::ConstantVus { duration, .. } => *duration,
            Load::RampingVus { stages, .. } => stages.iter().map(|s| s.duration).sum(),
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.duration(),
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.max_duration,
        }
    }

    pub fn graceful_stop(&self) -> Duration {
        match self {
            Load::ConstantVus { graceful_stop, .. } | Load::RampingVus { graceful_stop, .. } => {
                *graceful_stop
            }
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.graceful_stop,
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.graceful_stop,
        }
    }

    /// Fixed work, for the iterations executors.
    pub fn iterations(&self) -> Option<&Iterations> {
        match self {
            Load::PerVuIterations(i) | Load::SharedIterations(i) => Some(i),
            _ => None,
        }
    }

    /// How long a VU removed by a ramp-down may take to finish its iteration.
    pub fn graceful_ramp_down(&self) -> Duration {
        match self {
            Load::ConstantVus { graceful_stop, .. } => *graceful_stop,
            Load::RampingVus {
                graceful_ramp_down, ..
            } => *graceful_ramp_down,
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.graceful_stop,
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.graceful_stop,
        }
    }

    /// The number of VUs that should be running at `t` since the start (linear ramps, as k6);
    /// for arrival-rate executors, the VUs allocated at the start.
    pub fn vus_at(&self, t: Duration) -> u32 {
        match self {
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
                if t < a.duration() {
                    a.pre_allocated_vus
                } else {
                    0
                }
            }
            Load::PerVuIterations(i) | Load::SharedIterations(i) => {
                if t < i.max_duration {
                    i.vus
                } else {
                    0
                }
            }
            Load::ConstantVus { vus, duration, .. } => {
                if t < *duration {
                    *vus
                } else {
                    0
                }
            }
            Load::RampingVus {
                start_vus, stages, ..
            } => {
                let mut from = *start_vus as f64;
                let mut stage_start = Duration::ZERO;
                for stage in stages {
                    let end = stage_start + stage.duration;
                    if t < end {
                        let frac = (t - stage_start).as_secs_f64() / stage.duration.as_secs_f64();
                        let to = stage.target as f64;
                        return (from + (to - from) * frac).round().max(0.0) as u32;
                    }
                    from = stage.target as f64;
                    stage_start = end;
                }
                0
            }
        }
    }

    /// The most VUs this load ever asks for.
    pub fn max_vus(&self) -> u32 {
        match self {
            Load::ConstantVus { vus, .. } => *vus,
            Load::RampingVus {
                start_vus, stages, ..
            } => stages.iter().map(|s| s.target).fold(*start_vus, u32::max),
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => a.max_vus,
            Load::PerVuIterations(i) | Load::SharedIterations(i) => i.vus,
        }
    }

    /// Index of the stage running at `t` (0-based), if any.
    pub fn stage_at(&self, t: Duration) -> Option<usize> {
        match self {
            Load::ConstantVus { duration, .. } => (t < *duration).then_some(0),
            Load::ConstantArrivalRate(a) => (t < a.duration()).then_some(0),
            Load::PerVuIterations(i) | Load::SharedIterations(i) => {
                (t < i.max_duration).then_some(0)
            }
            Load::RampingArrivalRate(a) if a.stairs.is_some() => a
                .stair_list()
                .iter()
                .position(|st| t >= st.start && t < st.end),
            Load::RampingArrivalRate(Arrival { stages, .. }) => {
                let mut end = Duration::ZERO;
                for (i, s) in stages.iter().enumerate() {
                    end += s.duration;
                    if t < end {
                        return Some(i);
                    }
                }
                None
            }
            Load::RampingVus { stages, .. } => {
                let mut end = Duration::ZERO;
                for (i, s) in stages.iter().enumerate() {
                    end += s.duration;
                    if t < end {
                        return Some(i);
                    }
                }
                None
            }
        }
    }
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

impl Plan {
    /// Pick a flow index by weight from a uniform draw in `0..total_weight`.
    pub fn flow_for(&self, mut draw: u64) -> usize {
        for (i, f) in self.flows.iter().enumerate() {
            if draw < f.weight as u64 {
                return i;
            }
            draw -= f.weight as u64;
        }
        self.flows.len().saturating_sub(1)
    }

    pub fn total_weight(&self) -> u64 {
        self.flows.iter().map(|f| f.weight as u64).sum()
    }
}

/// The checks a target URL needs beyond `http::Uri` (which lets a bad port through as no port
/// at all): a port from 1 to 65535, no credentials.
pub fn check_url(text: &str) -> Result<(), String> {
    let parsed = match url::Url::parse(text) {
        Ok(u) => u,
        Err(url::ParseError::InvalidPort) => {
            return Err(format!(
                "target `{text}`: the port must be a whole number from 1 to 65535"
            ));
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(format!(
                "malformed target URL `{text}`: write it with a scheme, e.g. `http://{text}`"
            ));
        }
        Err(e) => return Err(format!("malformed target URL `{text}`: {e}")),
    };
    if parsed.port() == Some(0) {
        return Err(format!(
            "target `{text}`: port 0 cannot be connected to; use a port from 1 to 65535"
        ));
    }
    if parsed.fragment().is_some() {
        return Err(format!(
            "target `{text}`: a `#fragment` is never sent to a server; remove it"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "target `{}`: credentials in the URL are not sent; use `http: {{ auth: {{ basic: {{ user: ..., password: ... }} }} }}` (or `{{{{env.NAME}}}}` for the password)",
            redact(text)
        ));
    }
    Ok(())
}

/// The URL with its `user:password@` replaced, for messages.
fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &text[..s], &text[at + 1..]),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_think_times_have_the_mean_and_the_spread_of_the_distribution() {
        let t = Think::Exponential(Duration::from_secs(3));
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| t.sample(&mut rng).as_secs_f64()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        // Exponential: mean = 3 s, and P(X > mean) = e^-1 ≈ 36.8 %, P(X > 3 · mean) = e^-3 ≈ 5 %.
        let above = |x: f64| draws.iter().filter(|&&d| d > x).count() as f64 / n as f64;
        assert!((mean - 3.0).abs() < 0.03, "mean {mean}");
        assert!((above(3.0) - (-1f64).exp()).abs() < 0.005, "{}", above(3.0));
        assert!((above(9.0) - (-3f64).exp()).abs() < 0.003, "{}", above(9.0));
        assert_eq!(t.mean(), Duration::from_secs(3));
    }

    fn ramp() -> Load {
        Load::RampingVus {
            start_vus: 0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100,
                },
                Stage {
                    duration: Duration::from_secs(5),
                    target: 0,
                },
            ],
            graceful_ramp_down: Duration::from_secs(30),
            graceful_stop: Duration::from_secs(30),
        }
    }

    fn arrival(start_rate: f64, stages: &[(u64, f64)]) -> Arrival {
        Arrival {
            start_rate,
            stages: stages
                .iter()
                .map(|&(s, target)| RateStage {
                    duration: Duration::from_secs(s),
                    target,
                })
                .collect(),
            pre_allocated_vus: 1,
            max_vus: 1,
            queue_size: 1,
            graceful_stop: Duration::ZERO,
            stairs: None,
        }
    }

    #[test]
    fn breakpoint_stairs_jump_and_hold() {
        let mut a = arrival(200.0, &[(0, 200.0), (5, 200.0), (0, 400.0), (5, 400.0)]);
        a.stairs = Some(Stairs {
            warmup: Duration::from_secs(1),
            min_achieved: 0.97,
        });
        let st = a.stair_list();
        assert_eq!(st.len(), 2);
        assert_eq!(
            (st[1].start, st[1].end, st[1].rate),
            (Duration::from_secs(5), Duration::from_secs(10), 400.0)
        );
        assert!((a.arrivals_until(Duration::from_secs(5)) - 1000.0).abs() < 1e-6);
        assert!((a.arrivals_until(Duration::from_secs(10)) - 3000.0).abs() < 1e-6);
        let d = a.due(1001).unwrap().as_secs_f64();
        assert!((d - 5.0025).abs() < 1e-6, "{d}");
        assert_eq!(a.rate_at(Duration::from_millis(7000)), 400.0);
        assert_eq!(a.due(3000), None);
    }

    #[test]
    fn a_constant_rate_spaces_iterations_evenly_and_ends_with_the_schedule() {
        let a = arrival(5000.0, &[(10, 5000.0)]);
        assert_eq!(a.due(0), Some(Duration::ZERO));
        let t = a.due(1).unwrap().as_secs_f64();
        assert!((t - 0.0002).abs() < 1e-9, "{t}");
        assert!(a.due(49_999).is_some());
        assert_eq!(a.due(50_000), None, "exactly rate x duration iterations");
    }

    #[test]
    fn ramps_and_pauses_invert_their_integral() {
        // 0 -> 4000/s over 10 s, hold 2 s, down to 0 over 4 s, then 2 s at 0/s.
        let a = arrival(0.0, &[(10, 4000.0), (2, 4000.0), (4, 0.0), (2, 0.0)]);
        assert_eq!(a.arrivals_until(Duration::from_secs(1)), 200.0);
        assert_eq!(a.arrivals_until(Duration::from_secs(10)), 20_000.0);
        assert_eq!(a.arrivals_until(Duration::from_secs(18)), 36_000.0);
        assert_eq!(a.rate_at(Duration::from_millis(2500)), 1000.0);
        let mut last = Duration::ZERO;
        for k in (0..36_000u64).step_by(97) {
            let t = a.due(k).expect("due within the schedule");
            assert!(t >= last, "due times never go back");
            last = t;
            let before = a.arrivals_until(t);
            assert!(
                (before - k as f64).abs() < 1e-4,
                "k {k}: {before} arrivals before {t:?}"
            );
        }
        assert_eq!(a.due(36_000), None, "nothing is due in the idle tail");
        assert_eq!(a.peak_rate(), 4000.0);
    }

    #[test]
    fn ramping_vus_interpolates_linearly() {
        let l = ramp();
        assert_eq!(l.vus_at(Duration::ZERO), 0);
        assert_eq!(l.vus_at(Duration::from_secs(5)), 50);
        assert_eq!(l.vus_at(Duration::from_secs(15)), 100);
        assert_eq!(l.vus_at(Duration::from_millis(22_500)), 50);
        assert_eq!(l.vus_at(Duration::from_secs(25)), 0);
        assert_eq!(l.max_vus(), 100);
        assert_eq!(l.duration(), Duration::from_secs(25));
        assert_eq!(l.stage_at(Duration::from_secs(12)), Some(1));
    }

    #[test]
    fn target_urls() {
        let t = Target::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.base_path.as_str()),
            ("127.0.0.1", 8080, "/api")
        );
        assert_eq!(t.authority(), "127.0.0.1:8080");
        let t6 = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!(t6.host, "::1");
        assert_eq!(t6.authority(), "[::1]:9000");
        assert!(Target::parse("127.0.0.1:8080").is_err());
        let s = Target::parse("https://example.com/api").unwrap();
        assert!(s.tls);
        assert_eq!(s.port, 443);
        assert_eq!(s.authority(), "example.com");
        assert_eq!(s.url(), "https://example.com/api");
        assert_eq!(
            Target::parse("https://example.com:8443")
                .unwrap()
                .authority(),
            "example.com:8443"
        );
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://").is_err());
    }

    #[test]
    fn flows_are_picked_by_weight() {
        let step = |_| Flow {
            name: String::new(),
            weight: 0,
            steps: vec![],
            feeds: vec![],
        };
        let mut flows: Vec<Flow> = (0..2).map(step).collect();
        flows[0].weight = 3;
        flows[1].weight = 1;
        let plan = Plan {
            name: "t".into(),
            target: Target::parse("http://127.0.0.1").unwrap(),
            target_origin: String::new(),
            http: HttpOptions {
                timeout: Duration::from_secs(1),
                headers: HeaderMap::new(),
                local_ips: Vec::new(),
                connections: Connections::PerVu,
                tls: TlsOptions::default(),
                max_redirects: 10,
                version: HttpVersion::Http1,
                resolve: Vec::new(),
                dns_ttl: Duration::from_secs(300),
                proxy: None,
                retry_idempotent: false,
                max_header_lines: 256,
                max_body: 1024,
            },
            load: ramp(),
            think: Think::None,
            spread_start: true,
            flows,
            step_names: vec![],
            thresholds: vec![],
            variables: vec![],
            feeds: vec![],
            cookies: true,
            checks: vec![],
            parts: vec![],
            scenarios: vec![],
            segment: None,
        };
        let picks: Vec<usize> = (0..4).map(|d| plan.flow_for(d)).collect();
        assert_eq!(picks, vec![0, 0, 0, 1]);
        assert_eq!(plan.total_weight(), 4);
    }
}
