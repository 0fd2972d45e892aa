//! Scenario files: YAML → typed model → validated `Plan`. Every problem is reported as
//! `FILE:LINE:COLUMN: message` before any traffic is sent.

mod accounting;
pub mod capacity;
pub use crate::units::duration;
mod front;
mod journey;
pub mod limits;
pub mod locate;
pub mod model;
mod protocol;
mod stream;
mod ws;

use crate::plan::template::{Escape, Part, Template};
use crate::plan::{
    Arrival, CheckInfo, Connections, Dynamic, Flow, HttpOptions, Iterations, Load, Plan, RateStage,
    Stage, Stairs, Step, Target, Think,
};
use crate::sla::{MetricRef, Threshold};
use bytes::Bytes;
use duration::format_duration;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use indexmap::IndexMap;
use locate::{Locations, Pos};
use model::{OneOrMany, RawFlow, RawHttp, RawLoad, RawScenario, RawStep, ThinkSpec};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// A problem with a scenario, located in its file where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Changes asked for on the command line, applied while building the plan.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub target: Option<String>,
    pub vus: Option<u32>,
    pub duration: Option<Duration>,
    /// `--rate`: iterations per second (open model; see `apply_rate`).
    pub rate: Option<f64>,
    /// Multiplies every VU target.
    pub scale: Option<f64>,
    /// Multiplies every duration of the load schedule (stages, duration, graceful stops).
    pub time_scale: Option<f64>,
    /// `--env NAME=VALUE`: values of `{{env.NAME}}` over the process environment.
    pub env: Vec<(String, String)>,
    /// `--insecure`: accept any TLS certificate.
    pub insecure: bool,
    /// `-i/--iterations N` (k6's): a shared-iterations run of N iterations by `--vus` VUs (1
    /// by default), `--duration` its max_duration (10m by default).
    pub iterations: Option<u64>,
}

pub use crate::units::suggest::did_you_mean;

/// Read and validate a scenario file.
pub fn load_file(path: &Path, overrides: &Overrides) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = front::read(path)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    load_str(&text, &file, &stem, overrides)
}

/// Validate a scenario given as text; `file` is used in messages, `default_name` when the
/// scenario has no `name`.
pub fn load_str(
    text: &str,
    file: &str,
    default_name: &str,
    overrides: &Overrides,
) -> Result<Plan, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    front::prescan(text, file)?;
    let mut value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| yaml_error(file, &e))?;
    if value.is_null() {
        return Err(ScenarioError {
            file: file.to_string(),
            pos: Some(Pos { line: 1, col: 1 }),
            message: "the file is empty: a scenario needs at least `load` and `flows`".into(),
        });
    }
    let b = Builder {
        file,
        loc: Locations::index(text),
        base_dir: journey::base_dir(file),
        part: std::cell::RefCell::new(String::new()),
        last_path: std::cell::RefCell::new(None),
    };
    // Every problem of the file: after each one, the node it is about is replaced by a value
    // that gets past it (or taken out) and the file read again, until it builds or
    // `MAX_PROBLEMS` are found. A problem caused by an earlier change (a key now missing) is
    // not reported.
    let mut found: Vec<ScenarioError> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..front::MAX_PROBLEMS * 4 {
        if found.len() >= front::MAX_PROBLEMS {
            break;
        }
        let (err, path, missing) = match b.attempt(&value, default_name, overrides) {
            Ok(plan) if found.is_empty() => return Ok(plan),
            Ok(_) => break,
            Err(x) => x,
        };
        let Some(path) = path else {
            if found.is_empty() {
                found.push(err);
            }
            break;
        };
        let child = |r: &str| path.is_empty() || r.starts_with(&format!("{path}."));
        let consequence = removed.iter().any(|r| {
            *r == path || child(r) || missing.as_ref().is_some_and(|m| r.ends_with(m.as_str()))
        });
        if !consequence {
            found.push(err);
            // A stand-in that gets past this node (a duration, a number, a target...)?
            let gets_past = |v: &serde_yaml_ng::Value| match b.attempt(v, default_name, overrides) {
                Ok(_) => true,
                Err((_, Some(np), _)) => {
                    np != path && !path.starts_with(&format!("{np}.")) && !np.is_empty()
                }
                Err(_) => false,
            };
            if let Some(v) = front::STAND_INS.iter().find_map(|c| {
                let mut v = value.clone();
                (front::replace(&mut v, &path, c) && gets_past(&v)).then_some(v)
            }) {
                value = v;
                removed.push(path);
                continue;
            }
        }
        // Take the node out (or, when it is already out, its nearest ancestor) and go on.
        let mut p = path.clone();
        let taken_out = loop {
            if front::remove(&mut value, &p) {
                break true;
            }
            match p.rfind('.') {
                Some(i) => p.truncate(i),
                None => break false,
            }
        };
        if !taken_out {
            break;
        }
        removed.push(p);
    }
    found.sort_by_key(|e| e.pos.map(|p| (p.line, p.col)));
    found.dedup();
    let mut rest = found.into_iter();
    let mut first = rest.next().unwrap_or_else(|| ScenarioError {
        file: file.to_string(),
        pos: Some(Pos { line: 1, col: 1 }),
        message: "this scenario cannot be read".into(),
    });
    for e in rest {
        first.message.push_str(&format!("\nerror: {e}"));
    }
    Err(first)
}

fn yaml_error(file: &str, e: &serde_yaml_ng::Error) -> ScenarioError {
    let mut message = e.to_string();
    // serde_yaml_ng appends " at line L column C"; we print the position in front instead.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    if message.contains("unknown field `") {
        message = add_did_you_mean(&message);
    }
    if message == "EOF while parsing a value" || message.contains("end of stream") {
        message = "the file is empty: a scenario needs at least `load` and `flows`".into();
    }
    ScenarioError {
        file: file.to_string(),
        pos: e.location().map(|l| Pos {
            line: l.line(),
            col: l.column(),
        }),
        message,
    }
}

/// `unknown field `vuss`, expected one of `vus`, ...` → `... (did you mean `vus`?)`.
fn add_did_you_mean(message: &str) -> String {
    let ticks: Vec<&str> = message.split('`').collect();
    // ticks: [pre, unknown, ", expected one of ", a, ", ", b, ...]
    if ticks.len() < 4 {
        return message.to_string();
    }
    let unknown = ticks[1];
    let expected: Vec<&str> = ticks[3..].iter().step_by(2).copied().collect();
    match did_you_mean(unknown, expected.iter().copied()) {
        Some(s) => format!(
            "unknown key `{unknown}` (did you mean `{s}`?); expected one of {}",
            expected.join(", ")
        ),
        None => format!(
            "unknown key `{unknown}`; expected one of {}",
            expected.join(", ")
        ),
    }
}

const EXECUTORS: &[&str] = &[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
    "breakpoint",
];
const PLANNED_EXECUTORS: &[&str] = &[];

struct Builder<'a> {
    file: &'a str,
    loc: Locations,
    /// The folder relative paths (CSV feeds) start from.
    base_dir: std::path::PathBuf,
    /// Where `load` and `flows` sit: "" or `scenarios.NAME.` in a multi-scenario file.
    part: std::cell::RefCell<String>,
    /// The path and position of the last located error made (to know what an error is about).
    last_path: std::cell::RefCell<Option<(String, Option<Pos>)>>,
}

/// One address, or every usable address of a CIDR block (`127.0.0.0/30`).
fn parse_ips(s: &str) -> Result<Vec<IpAddr>, String> {
    let bad =
        || format!("`{s}` is not an IP address or CIDR block (e.g. 127.0.0.2 or 127.0.0.0/28)");
    let Some((addr, bits)) = s.split_once('/') else {
        return s.parse::<IpAddr>().map(|ip| vec![ip]).map_err(|_| bad());
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    match ip {
        IpAddr::V4(v4) => {
            if bits > 32 {
                return Err(bad());
            }
            if bits < 20 {
                return Err(format!(
                    "`{s}` holds more than 4096 addresses; use /20 or smaller"
                ));
            }
            let size = 1u32 << (32 - bits);
            let base = u32::from(v4) & !(size - 1);
            // Skip the network and broadcast addresses of blocks that have them, except on
            // loopback, where every address works.
            let skip_edges = size >= 4 && !v4.is_loopback();
            let (lo, hi) = if skip_edges { (1, size - 1) } else { (0, size) };
            Ok((lo..hi)
                .map(|i| IpAddr::V4(std::net::Ipv4Addr::from(base + i)))
                .collect())
        }
        IpAddr::V6(v6) => {
            if bits > 128 {
                return Err(bad());
            }
            if bits < 116 {
                return Err(format!(
                    "`{s}` holds more than 4096 addresses; use /116 or smaller"
                ));
            }
            let size = 1u128 << (128 - bits);
            let base = u128::from(v6) & !(size - 1);
            Ok((0..size)
                .map(|i| IpAddr::V6(std::net::Ipv6Addr::from(base + i)))
                .collect())
        }
    }
}

impl Builder<'_> {
    fn err_at(&self, pos: Option<Pos>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            pos,
            message: message.into(),
        }
    }

    /// `load...` and `flows...` paths inside the scenario part being built.
    fn full_path(&self, path: &str) -> String {
        let part = self.part.borrow();
        if !part.is_empty() && (path.starts_with("load") || path.starts_with("flows")) {
            format!("{part}{path}")
        } else {
            path.to_string()
        }
    }

    /// An error at the key `path` (`load.vus`).
    fn at_key(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        let full = self.full_path(path);
        let pos = self.loc.key(&full);
        *self.last_path.borrow_mut() = Some((full, pos));
        self.err_at(pos, message)
    }

    /// An error at the value of `path`.
    fn at_value(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        let full = self.full_path(path);
        let pos = self.loc.value(&full);
        *self.last_path.borrow_mut() = Some((full, pos));
        self.err_at(pos, message)
    }

    /// Deserialise and build once; on failure, the error, the path it is about (when known)
    /// and the field it says is missing (if that is what it says).
    #[allow(clippy::type_complexity)]
    fn attempt(
        &self,
        value: &serde_yaml_ng::Value,
        default_name: &str,
        overrides: &Overrides,
    ) -> Result<Plan, (ScenarioError, Option<String>, Option<String>)> {
        match serde_path_to_error::deserialize::<_, RawScenario>(value.clone()) {
            Ok(raw) => {
                *self.last_path.borrow_mut() = None;
                self.build(raw, default_name, overrides).map_err(|e| {
                    let path = self.path_of(&e);
                    (e, path, None)
                })
            }
            Err(e) => {
                let mut path = front::dotted(e.path());
                let raw_msg = e.inner().to_string();
                let field = |prefix: &str| {
                    raw_msg
                        .strip_prefix(prefix)
                        .and_then(|r| r.split('`').next())
                        .map(str::to_string)
                };
                let unknown = field("unknown field `");
                let missing = field("missing field `");
                if let Some(f) = &unknown
                    && !path.ends_with(f.as_str())
                {
                    path = if path.is_empty() {
                        f.clone()
                    } else {
                        format!("{path}.{f}")
                    };
                }
                let mut message = front::user_words(&raw_msg);
                if unknown.is_some() {
                    message = add_did_you_mean(&message);
                } else if !path.is_empty() {
                    message = format!("{path}: {message}");
                }
                let pos = front::pos_of(&self.loc, &path, unknown.is_some());
                let err = ScenarioError {
                    file: self.file.to_string(),
                    pos: Some(pos),
                    message,
                };
                Err((err, Some(path), missing))
            }
        }
    }

    /// The path an error of `build` is about, when it was made by `at_key`/`at_value`.
    fn path_of(&self, e: &ScenarioError) -> Option<String> {
        match &*self.last_path.borrow() {
            Some((path, pos)) if pos.is_some() && *pos == e.pos && e.file == self.file => {
                Some(path.clone())
            }
            _ => None,
        }
    }

    fn connections(&self, http: &RawHttp) -> Result<Connections, ScenarioError> {
        let pooled = match http.connections.as_deref() {
            None | Some("per-vu") => false,
            Some("pooled") => true,
            Some(other) => {
                return Err(self.at_value(
                    "http.connections",
                    format!("unknown http.connections `{other}`: use `per-vu` or `pooled`"),
                ));
            }
        };
        match (pooled, http.max_connections) {
            (false, None) => Ok(Connections::PerVu),
            (false, Some(_)) => Err(self.at_key(
                "http.max_connections",
                "http.max_connections needs `http.connections: pooled`",
            )),
            (true, None) => Err(self.at_key(
                "http.connections",
                "pooled connections need `http.max_connections: N` (the pool size)",
            )),
            (true, Some(0)) => Err(self.at_value(
                "http.max_connections",
                "http.max_connections must be at least 1",
            )),
            (true, Some(max)) => Ok(Connections::Pooled { max }),
        }
    }

    /// `[127.0.0.1, 127.0.0.2]`, or a CIDR block such as `127.0.0.0/30` (at most 4096 addresses).
    fn local_ips(&self, spec: &OneOrMany<String>) -> Result<Vec<IpAddr>, ScenarioError> {
        let items: Vec<(String, String)> = match spec {
            OneOrMany::One(s) => vec![(s.clone(), "http.local_ips".to_string())],
            OneOrMany::Many(v) => v
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), format!("http.local_ips.{i}")))
                .collect(),
        };
        let mut ips = Vec::new();
        for (item, path) in items {
            let found = parse_ips(item.trim()).map_err(|m| self.at_value(&path, m))?;
            ips.extend(found);
        }
        if ips.is_empty() {
            return Err(self.at_value("http.local_ips", "http.local_ips lists no address"));
        }
        if ips.len() > 4096 {
            return Err(self.at_value(
                "http.local_ips",
                format!("http.local_ips names {} addresses; at most 4096", ips.len()),
            ));
        }
        Ok(ips)
    }

    fn build(
        &self,
        raw: RawScenario,
        default_name: &str,
        ov: &Overrides,
    ) -> Result<Plan, ScenarioError> {
        capacity::validate(&raw, self.file, &self.loc)?;
        let name = raw
            .name
            .clone()
            .map(|n| limits::printable(&n))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| limits::printable(default_name));
        let target_origin = match (&ov.target, self.loc.value("target")) {
            (Some(_), _) | (None, None) => "--target".to_string(),
            (None, Some(p)) => format!("{}:{}:{}", self.file, p.line, p.col),
        };
        let target = match (&ov.target, &raw.target) {
            (Some(t), _) => Target::parse(t).map_err(|m| ScenarioError {
                file: "--target".into(),
                pos: None,
                message: m,
            })?,
            (None, Some(t)) => Target::parse(t).map_err(|m| self.at_value("target", m))?,
            (None, None) => {
                return Err(self.err_at(
                    Some(Pos { line: 1, col: 1 }),
                    "no target: add `target: http://HOST:PORT` or pass --target",
                ));
            }
        };
        let timeout = raw.http.timeout.map_or(Duration::from_secs(60), |d| d.0);
        if timeout.is_zero() {
            return Err(self.at_value("http.timeout", "http.timeout must be above zero"));
        }
        let mut headers = self.headers(&raw.http.headers, "http.headers", &HeaderMap::new())?;
        if let Some(enc) = self.compression(&raw.http)?
            && !headers.contains_key(http::header::ACCEPT_ENCODING)
        {
            headers.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static(enc));
        }
        // As k6 sends `k6/<version>`; a scenario's own `user-agent` (here or on a step) wins.
        if !headers.contains_key(http::header::USER_AGENT) {
            headers.insert(
                http::header::USER_AGENT,
                HeaderValue::from_static(concat!("stampede/", env!("CARGO_PKG_VERSION"))),
            );
        }
        let connections = self.connections(&raw.http)?;
        let local_ips = match &raw.http.local_ips {
            None => Vec::new(),
            Some(spec) => self.local_ips(spec)?,
        };
        let mut scope = self.scope(&raw, &ov.env)?;
        let auth = match &raw.http.auth {
            Some(a) => Some(self.auth(&mut scope, a, "http.auth")?),
            None => None,
        };
        let tls = self.tls(&raw.http, &target, ov)?;
        let (version, max_redirects) = self.protocol(&raw.http, &target)?;
        let resolve = self.resolve(&raw.http)?;
        let dns_ttl = raw.http.dns_ttl.map_or(Duration::from_secs(300), |d| d.0);
        let proxy = self.proxy(&raw.http, &target)?;
        let (retry_idempotent, max_header_lines) = self.accounting(&raw.http)?;
        let max_body = match &raw.http.max_body {
            None => limits::DEFAULT_MAX_BODY,
            Some(v) => limits::size(v).map_err(|m| self.at_value("http.max_body", m))?,
        };
        let http = HttpOptions {
            max_body,
            timeout,
            headers,
            local_ips,
            connections,
            tls,
            max_redirects,
            version,
            resolve,
            dns_ttl,
            proxy,
            retry_idempotent,
            max_header_lines,
        };
        // One scenario (top-level `load` + `flows`), or several under `scenarios:`.
        let mut parts: Vec<(String, &RawLoad, &[RawFlow])> = Vec::new();
        match (&raw.load, &raw.flows, raw.scenarios.is_empty()) {
            (Some(l), Some(f), true) => parts.push((String::new(), l, f)),
            (None, None, false) => {
                for (n, p) in &raw.scenarios {
                    parts.push((n.clone(), &p.load, &p.flows));
                }
            }
            (_, _, false) => {
                return Err(self.at_key(
                    "scenarios",
                    "a file has either top-level `load` and `flows` or `scenarios:`, not both",
                ));
            }
            (None, _, true) => {
                return Err(self.err_at(
                    Some(Pos { line: 1, col: 1 }),
                    "no `load`: add e.g. `load: { vus: 10, duration: 30s }` (or `scenarios:`)",
                ));
            }
            (Some(_), None, true) => {
                return Err(self.err_at(
                    Some(Pos { line: 1, col: 1 }),
                    "no `flows`: add at least one flow with steps",
                ));
            }
        }
        let mut step_names: Vec<String> = Vec::new();
        let mut built = Vec::new();
        let mut scenarios = Vec::new();
        for (pname, l, f) in &parts {
            *self.part.borrow_mut() = if pname.is_empty() {
                String::new()
            } else {
                format!("scenarios.{pname}.")
            };
            let load = self.load(l, ov)?;
            if !pname.is_empty() && load.arrival().is_some_and(|a| a.stairs.is_some()) {
                return Err(self.at_value(
                    "load.executor",
                    "a breakpoint run climbs alone: it cannot share the target with other scenarios of the file (its stairs would be judged on their load too); run it from a file of its own",
                ));
            }
            let first_step = step_names.len();
            let flows = self.flows(
                f,
                &target,
                &http.headers,
                auth.as_ref(),
                &mut scope,
                &mut step_names,
            )?;
            if !pname.is_empty() {
                // A step name belongs to one scenario, so `{scenario:...}` can sum its steps.
                let mine: Vec<usize> = flows
                    .iter()
                    .flat_map(|f| f.steps.iter().map(|s| s.metric))
                    .collect();
                if let Some(shared) = mine.iter().find(|m| **m < first_step) {
                    return Err(self.at_key(
                        "flows",
                        format!(
                            "step name `{}` is also used by another scenario: give one of them its own `name:`",
                            step_names[*shared]
                        ),
                    ));
                }
                scenarios.push((
                    pname.clone(),
                    (first_step..step_names.len()).collect::<Vec<_>>(),
                ));
            }
            built.push((
                load,
                l.think_time.map_or(Think::None, think),
                l.spread_start.unwrap_or(true),
                flows,
            ));
        }
        *self.part.borrow_mut() = String::new();
        let thresholds = self.thresholds(&raw, &step_names, &scenarios)?;
        for b in &mut built {
            stream::attach_slos(&mut b.3, &step_names, &thresholds);
        }
        let base = Plan {
            name,
            target,
            target_origin,
            http,
            load: built[0].0.clone(),
            think: built[0].1,
            spread_start: built[0].2,
            flows: built[0].3.clone(),
            step_names,
            thresholds,
            variables: scope.vars.into_iter().zip(scope.initial).collect(),
            feeds: scope.feeds,
            cookies: raw.http.cookies.unwrap_or(true),
            checks: scope.checks,
            parts: Vec::new(),
            scenarios,
            segment: None,
        };
        if base.scenarios.is_empty() {
            return Ok(base);
        }
        let parts: Vec<std::sync::Arc<Plan>> = built
            .into_iter()
            .zip(&base.scenarios)
            .map(|((load, think, spread_start, flows), (pname, _))| {
                std::sync::Arc::new(Plan {
                    name: format!("{}/{pname}", base.name),
                    load,
                    think,
                    spread_start,
                    flows,
                    ..base.clone()
                })
            })
            .collect();
        Ok(Plan { parts, ..base })
    }

    fn headers(
        &self,
        raw: &indexmap::IndexMap<String, String>,
        path: &str,
        base: &HeaderMap,
    ) -> Result<HeaderMap, ScenarioError> {
        let mut out = base.clone();
        for (k, v) in raw {
            let here = format!("{path}.{k}");
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| self.at_key(&here, format!("`{k}` is not a valid header name")))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                self.at_value(
                    &here,
                    format!("the value of header `{k}` has characters a header cannot carry"),
                )
            })?;
            out.insert(name, value);
        }
        Ok(out)
    }

    fn load(&self, l: &RawLoad, ov: &Overrides) -> Result<Load, ScenarioError> {
        let executor = match &l.executor {
            Some(e) => e.clone(),
            None if l.stages.is_some() => "ramping-vus".into(),
            None => "constant-vus".into(),
        };
        if !EXECUTORS.contains(&executor.as_str()) {
            let msg = if PLANNED_EXECUTORS.contains(&executor.as_str()) {
                format!(
                    "executor `{executor}` is not supported yet; this version runs {}",
                    EXECUTORS.join(", ")
                )
            } else {
                let hint = did_you_mean(
                    &executor,
                    EXECUTORS.iter().chain(PLANNED_EXECUTORS).copied(),
                )
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
                format!(
                    "unknown executor `{executor}`{hint}; use {}",
                    EXECUTORS.join(" or ")
                )
            };
            return Err(self.at_value("load.executor", msg));
        }
        let allowed: &[&str] = match executor.as_str() {
            "constant-vus" => &["vus", "duration", "think_time", "spread_start"],
            "ramping-vus" => &[
                "start_vus",
                "stages",
                "graceful_ramp_down",
                "think_time",
                "spread_start",
            ],
            "constant-arrival-rate" => &[
                "rate",
                "time_unit",
                "duration",
                "pre_allocated_vus",
                "max_vus",
                "queue_size",
            ],
            "breakpoint" => &[
                "start_rate",
                "step_rate",
                "step_duration",
                "max_rate",
                "warmup",
                "time_unit",
                "pre_allocated_vus",
                "max_vus",
                "queue_size",
            ],
            "per-vu-iterations" | "shared-iterations" => &[
                "vus",
                "iterations",
                "max_duration",
                "think_time",
                "spread_start",
            ],
            _ => &[
                "start_rate",
                "time_unit",
                "stages",
                "pre_allocated_vus",
                "max_vus",
                "queue_size",
            ],
        };
        let present = [
            ("vus", l.vus.is_some()),
            ("duration", l.duration.is_some()),
            ("start_vus", l.start_vus.is_some()),
            ("stages", l.stages.is_some()),
            ("graceful_ramp_down", l.graceful_ramp_down.is_some()),
            ("think_time", l.think_time.is_some()),
            ("spread_start", l.spread_start.is_some()),
            ("rate", l.rate.is_some()),
            ("start_rate", l.start_rate.is_some()),
            ("time_unit", l.time_unit.is_some()),
            ("pre_allocated_vus", l.pre_allocated_vus.is_some()),
            ("max_vus", l.max_vus.is_some()),
            ("queue_size", l.queue_size.is_some()),
            ("iterations", l.iterations.is_some()),
            ("max_duration", l.max_duration.is_some()),
            ("step_rate", l.step_rate.is_some()),
            ("step_duration", l.step_duration.is_some()),
            ("max_rate", l.max_rate.is_some()),
            ("warmup", l.warmup.is_some()),
        ];
        for (key, is_set) in present {
            if is_set && !allowed.contains(&key) {
                return Err(self.at_key(
                    &format!("load.{key}"),
                    format!(
                        "`{key}` does not apply to executor {executor}, which takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let graceful_stop = l.graceful_stop.map_or(Duration::from_secs(30), |d| d.0);
        let mut load = if executor.ends_with("arrival-rate") || executor == "breakpoint" {
            self.arrival(l, &executor, graceful_stop, ov)?
        } else if executor.ends_with("iterations") {
            let it = Iterations {
                vus: l.vus.unwrap_or(1),
                iterations: l.iterations.unwrap_or(1),
                max_duration: match (l.max_duration, ov.duration) {
                    (_, Some(d)) => d,
                    (Some(d), None) => d.0,
                    (None, None) => Duration::from_secs(600),
                },
                graceful_stop,
            };
            if it.iterations == 0 {
                return Err(self.at_value("load.iterations", "iterations must be at least 1"));
            }
            if executor == "per-vu-iterations" {
                Load::PerVuIterations(it)
            } else {
                Load::SharedIterations(it)
            }
        } else if executor == "constant-vus" {
            let duration = match (l.duration, ov.duration) {
                (_, Some(d)) => d,
                (Some(d), None) => d.0,
                (None, None) => {
                    return Err(self.at_key(
                        "load",
                        "constant-vus needs `duration` (e.g. `duration: 30s`)",
                    ));
                }
            };
            Load::ConstantVus {
                vus: l.vus.unwrap_or(1),
                duration,
                graceful_stop,
            }
        } else {
            let raw_stages = l.stages.as_deref().unwrap_or_default();
            if raw_stages.is_empty() {
                return Err(self.at_key("load.stages", "ramping-vus needs at least one stage, e.g. `stages: [{duration: 30s, target: 10}]`"));
            }
            Load::RampingVus {
                start_vus: l.start_vus.unwrap_or(1),
                stages: raw_stages
                    .iter()
                    .map(|s| Stage {
                        duration: s.duration.0,
                        target: s.target,
                    })
                    .collect(),
                graceful_ramp_down: l
                    .graceful_ramp_down
                    .map_or(Duration::from_secs(30), |d| d.0),
                graceful_stop,
            }
        };
        apply_overrides(&mut load, ov).map_err(|m| ScenarioError {
            file: "command line".into(),
            pos: None,
            message: m,
        })?;
        if load.duration().is_zero() {
            return Err(self.at_key("load", "the load schedule lasts zero seconds"));
        }
        check_load_limits(&load).map_err(|m| self.at_key("load", m))?;
        if load.max_vus() == 0 {
            return Err(self.at_key("load", "the load never starts a VU (every target is 0)"));
        }
        Ok(load)
    }

    /// An arrival-rate executor's schedule (rates per `time_unit`, stored per second).
    fn arrival(
        &self,
        l: &model::RawLoad,
        executor: &str,
        graceful_stop: Duration,
        ov: &Overrides,
    ) -> Result<Load, ScenarioError> {
        let unit = l.time_unit.map_or(Duration::from_secs(1), |d| d.0);
        if unit.is_zero() {
            return Err(self.at_value("load.time_unit", "time_unit must be above zero"));
        }
        let per_s = |r: f64| r / unit.as_secs_f64();
        let (start_rate, stages) = if executor == "constant-arrival-rate" {
            let Some(rate) = l.rate else {
                return Err(self.at_key(
                    "load",
                    "constant-arrival-rate needs `rate` (iterations per time_unit, e.g. `rate: 100`)",
                ));
            };
            let duration = match (l.duration, ov.duration) {
                (_, Some(d)) => d,
                (Some(d), None) => d.0,
                (None, None) => {
                    return Err(self.at_key(
                        "load",
                        "constant-arrival-rate needs `duration` (e.g. `duration: 30s`)",
                    ));
                }
            };
            let r = per_s(rate);
            (
                r,
                vec![RateStage {
                    duration,
                    target: r,
                }],
            )
        } else if executor == "breakpoint" {
            self.stairs(l, &per_s)?
        } else {
            let raw_stages = l.stages.as_deref().unwrap_or_default();
            if raw_stages.is_empty() {
                return Err(self.at_key(
                    "load.stages",
                    "ramping-arrival-rate needs at least one stage, e.g. `stages: [{duration: 30s, target: 100}]`",
                ));
            }
            (
                per_s(l.start_rate.unwrap_or(0.0)),
                raw_stages
                    .iter()
                    .map(|s| RateStage {
                        duration: s.duration.0,
                        target: per_s(s.target as f64),
                    })
                    .collect(),
            )
        };
        for (i, r) in std::iter::once(start_rate)
            .chain(stages.iter().map(|s| s.target))
            .enumerate()
        {
            if let Err(m) = limits::rate(r, false) {
                let path = if i == 0 {
                    if executor == "constant-arrival-rate" {
                        "load.rate".to_string()
                    } else {
                        "load.start_rate".to_string()
                    }
                } else {
                    format!("load.stages.{}.target", i - 1)
                };
                return Err(self.at_value(&path, m));
            }
        }
        let peak = stages.iter().map(|s| s.target).fold(start_rate, f64::max);
        if peak <= 0.0 {
            let path = if executor == "constant-arrival-rate" {
                "load.rate"
            } else {
                "load.stages"
            };
            return Err(self.at_value(
                path,
                "the rate is 0 throughout: this schedule would start no iteration",
            ));
        }
        if let Some(q) = l.queue_size
            && q > limits::MAX_QUEUE
        {
            return Err(self.at_value(
                "load.queue_size",
                format!("queue_size {q} is above the limit of {}", limits::MAX_QUEUE),
            ));
        }
        let pre = l.pre_allocated_vus;
        let max_vus = match (l.max_vus, pre) {
            (Some(m), _) => m,
            (None, Some(p)) => p,
            (None, None) => {
                return Err(self.at_key(
                    "load",
                    format!(
                        "{executor} needs `pre_allocated_vus` (VUs started up front) and usually `max_vus` (the most it may start), e.g. `pre_allocated_vus: {0}, max_vus: {1}`",
                        (peak / 10.0).ceil().max(1.0) as u64,
                        (peak).ceil().max(1.0) as u64,
                    ),
                ));
            }
        };
        let pre = pre.unwrap_or(max_vus.min(10));
        if pre > max_vus {
            return Err(self.at_value(
                "load.max_vus",
                format!("max_vus ({max_vus}) is below pre_allocated_vus ({pre})"),
            ));
        }
        if max_vus == 0 {
            return Err(self.at_value("load.max_vus", "max_vus must be at least 1"));
        }
        // Deep enough for 5 s of arrivals at the peak rate by default.
        let queue_size = l
            .queue_size
            .unwrap_or_else(|| limits::count(peak * 5.0, limits::MAX_QUEUE).max(1000));
        let stairs = (executor == "breakpoint").then(|| Stairs {
            warmup: l.warmup.map_or(Duration::from_secs(1), |d| d.0),
            min_achieved: 0.97,
        });
        let a = Arrival {
            start_rate,
            stages,
            pre_allocated_vus: pre,
            max_vus,
            queue_size,
            graceful_stop,
            stairs,
        };
        Ok(if executor == "constant-arrival-rate" {
            Load::ConstantArrivalRate(a)
        } else {
            Load::RampingArrivalRate(a)
        })
    }

    /// The breakpoint executor's stairs as stages: a zero-length jump to each stair's rate, then
    /// a hold of `step_duration`, from `start_rate` up by `step_rate` to `max_rate`.
    fn stairs(
        &self,
        l: &model::RawLoad,
        per_s: &dyn Fn(f64) -> f64,
    ) -> Result<(f64, Vec<RateStage>), ScenarioError> {
        let need = |key: &str, example: &str| {
            self.at_key(
                "load",
                format!("breakpoint needs `{key}` (e.g. `{key}: {example}`); it takes start_rate, step_rate, step_duration, max_rate"),
            )
        };
        let start = l.start_rate.ok_or_else(|| need("start_rate", "100"))?;
        let step = l.step_rate.ok_or_else(|| need("step_rate", "100"))?;
        let hold = l
            .step_duration
            .ok_or_else(|| need("step_duration", "30s"))?
            .0;
        let max = l.max_rate.ok_or_else(|| need("max_rate", "5000"))?;
        for (key, v) in [
            ("start_rate", start),
            ("step_rate", step),
            ("max_rate", max),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(self.at_value(
                    &format!("load.{key}"),
                    format!("{key} must be a number above 0"),
                ));
            }
        }
        if max < start {
            return Err(self.at_value(
                "load.max_rate",
                format!("max_rate ({max}) is below start_rate ({start})"),
            ));
        }
        if hold.is_zero() {
            return Err(self.at_value("load.step_duration", "step_duration must be above zero"));
        }
        let warmup = l.warmup.map_or(Duration::from_secs(1), |d| d.0);
        if warmup >= hold {
            return Err(self.at_value(
                "load.warmup",
                format!(
                    "warmup ({}) must be shorter than step_duration ({}): what is left of each stair is judged",
                    format_duration(warmup),
                    format_duration(hold)
                ),
            ));
        }
        let count = ((max - start) / step + 1e-9).floor() as usize + 1;
        if count > 1000 {
            return Err(self.at_value(
                "load.step_rate",
                format!("{count} stairs from {start} to {max}: use a larger step_rate"),
            ));
        }
        let mut stages = Vec::with_capacity(count * 2);
        for i in 0..count {
            let r = per_s(start + step * i as f64);
            stages.push(RateStage {
                duration: Duration::ZERO,
                target: r,
            });
            stages.push(RateStage {
                duration: hold,
                target: r,
            });
        }
        Ok((per_s(start), stages))
    }

    fn flows(
        &self,
        raw_flows: &[RawFlow],
        target: &Target,
        headers: &HeaderMap,
        auth: Option<&Template>,
        scope: &mut journey::Scope,
        step_names: &mut Vec<String>,
    ) -> Result<Vec<Flow>, ScenarioError> {
        let declared = scope.declared;
        if raw_flows.is_empty() {
            return Err(self.at_key("flows", "a scenario needs at least one flow with steps"));
        }
        let mut flows = Vec::new();
        for (fi, f) in raw_flows.iter().enumerate() {
            let fpath = format!("flows.{fi}");
            if f.steps.is_empty() {
                return Err(
                    self.at_key(&format!("{fpath}.steps"), "a flow needs at least one step")
                );
            }
            scope.enter_flow(declared);
            let mut steps = Vec::new();
            for (si, s) in f.steps.iter().enumerate() {
                let spath = format!("{fpath}.steps.{si}");
                let step = self.step(s, &spath, target, headers, auth, scope, step_names)?;
                steps.push(step);
            }
            let name = match &f.name {
                Some(n) if limits::printable(n).trim().is_empty() => {
                    return Err(self.at_value(
                        &format!("{fpath}.name"),
                        "a flow name cannot be empty: leave `name` out to get `flowN`",
                    ));
                }
                Some(n) => limits::printable(n),
                None => format!("flow{}", fi + 1),
            };
            if flows.iter().any(|g: &Flow| g.name == name) {
                return Err(self.at_value(
                    &format!("{fpath}.name"),
                    format!("two flows are named `{name}`: give each its own name"),
                ));
            }
            flows.push(Flow {
                name,
                weight: f.weight.unwrap_or(1),
                steps,
                feeds: scope.flow_feeds.clone(),
            });
        }
        if flows.iter().all(|f| f.weight == 0) {
            return Err(self.at_key("flows", "every flow has weight 0: nothing would run"));
        }
        Ok(flows)
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        s: &RawStep,
        spath: &str,
        target: &Target,
        base_headers: &HeaderMap,
        auth: Option<&Template>,
        scope: &mut journey::Scope,
        names: &mut Vec<String>,
    ) -> Result<Step, ScenarioError> {
        let ws_path = s.ws.as_ref().map(|w| ws::ws_path(w).unwrap_or_default());
        if s.actions.is_some() && s.ws.is_none() {
            return Err(self.at_key(
                &format!("{spath}.actions"),
                "`actions` belong to a WebSocket step (`ws: /path`)",
            ));
        }
        if s.ws.is_some() && s.sse.is_some() {
            return Err(self.at_key(
                &format!("{spath}.sse"),
                "a step is either a WebSocket session (`ws`) or an event stream (`sse`)",
            ));
        }
        let methods = [
            ("ws", &ws_path, Method::GET),
            ("get", &s.get, Method::GET),
            ("post", &s.post, Method::POST),
            ("put", &s.put, Method::PUT),
            ("patch", &s.patch, Method::PATCH),
            ("delete", &s.delete, Method::DELETE),
            ("head", &s.head, Method::HEAD),
            ("options", &s.options, Method::OPTIONS),
        ];
        let set: Vec<_> = methods.iter().filter(|(_, p, _)| p.is_some()).collect();
        let (key, path, method) = match set.as_slice() {
            [one] => (one.0, one.1.clone().unwrap_or_default(), one.2.clone()),
            [] => {
                return Err(self.at_value(spath, "a step needs a request: `get: /path` (or post, put, patch, delete, head, options; `ws: /path` for a WebSocket)"));
            }
            [_, second, ..] => {
                return Err(self.at_key(
                    &format!("{spath}.{}", second.0),
                    "a step sends one request: use one of get/post/put/patch/delete per step",
                ));
            }
        };
        let ppath = format!("{spath}.{key}");
        let path_t = self.template(scope, &path, Escape::Path, &ppath)?;
        let (full_path, path_t) = match path_t.text() {
            Some(text) => (
                step_path(&text, target).map_err(|m| self.at_value(&ppath, m))?,
                None,
            ),
            None => {
                if !path.trim_start().starts_with('/') {
                    return Err(self.at_value(
                        &ppath,
                        "a path with templates starts with `/` (it is appended to the target's base path)",
                    ));
                }
                let mut t = path_t;
                t.parts
                    .insert(0, Part::Lit(Bytes::from(target.base_path.clone())));
                (format!("{}{}", target.base_path, path.trim()), Some(t))
            }
        };
        let source = format!("{method} {}{}", target.base_path, path.trim());
        let name = match &s.name {
            Some(n) if limits::printable(n).trim().is_empty() => {
                return Err(self.at_value(
                    &format!("{spath}.name"),
                    "a step name cannot be empty: leave `name` out to be named after the request",
                ));
            }
            Some(n) => limits::printable(n),
            None => limits::printable(&format!("{method} {path}")),
        };
        let metric = match names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        let mut dyn_headers: Vec<(HeaderName, Template)> = Vec::new();
        let mut static_headers = IndexMap::new();
        for (k, v) in &s.headers {
            let hp = format!("{spath}.headers.{k}");
            let t = self.template(scope, v, Escape::Header, &hp)?;
            match t.text() {
                Some(text) => {
                    static_headers.insert(k.clone(), text);
                }
                None => {
                    let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                        self.at_key(&hp, format!("`{k}` is not a valid header name"))
                    })?;
                    dyn_headers.push((name, t));
                }
            }
        }
        let mut headers =
            self.headers(&static_headers, &format!("{spath}.headers"), base_headers)?;
        let step_auth = match &s.auth {
            Some(a) => Some(self.auth(scope, a, &format!("{spath}.auth"))?),
            None => None,
        };
        if let Some(a) = step_auth.as_ref().or(auth) {
            match a.text() {
                Some(v) => {
                    let value = HeaderValue::from_str(&v).map_err(|_| {
                        self.at_value(
                            &format!("{spath}.auth"),
                            "the credentials have characters a header cannot carry",
                        )
                    })?;
                    headers.insert(http::header::AUTHORIZATION, value);
                }
                None => dyn_headers.push((http::header::AUTHORIZATION, a.clone())),
            }
        }
        for (name, _) in &dyn_headers {
            headers.remove(name);
        }
        let mut body_t: Option<Template> = None;
        let body = match (&s.body, &s.json) {
            (Some(_), Some(_)) => {
                return Err(self.at_key(
                    &format!("{spath}.json"),
                    "a step has either `body` or `json`, not both",
                ));
            }
            (Some(b), None) => {
                let t = self.template(scope, b, Escape::Text, &format!("{spath}.body"))?;
                match t.text() {
                    Some(text) => Bytes::from(text),
                    None => {
                        body_t = Some(t);
                        Bytes::new()
                    }
                }
            }
            (None, Some(j)) => {
                let v: serde_json::Value = serde_json::to_value(j).map_err(|e| {
                    self.at_value(
                        &format!("{spath}.json"),
                        format!("cannot be sent as JSON: {e}"),
                    )
                })?;
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
                // Templates can only sit inside JSON strings; their values are escaped as such.
                let t = self.template(
                    scope,
                    &v.to_string(),
                    Escape::Json,
                    &format!("{spath}.json"),
                )?;
                match t.text() {
                    Some(text) => Bytes::from(text),
                    None => {
                        body_t = Some(t);
                        Bytes::new()
                    }
                }
            }
            (None, None) => Bytes::new(),
        };
        let expect_status = match s.expect.as_ref().and_then(|e| e.status.clone()) {
            None => None,
            Some(codes) => {
                let codes = codes.into_vec();
                if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
                    return Err(self.at_value(
                        &format!("{spath}.expect.status"),
                        format!("`{bad}` is not an HTTP status (100-599)"),
                    ));
                }
                if codes.is_empty() {
                    return Err(self.at_value(
                        &format!("{spath}.expect.status"),
                        "expect.status needs at least one status",
                    ));
                }
                Some(codes)
            }
        };
        if matches!(s.think_time, Some(ThinkSpec::Pacing(_))) {
            return Err(self.at_value(
                &format!("{spath}.think_time"),
                "pacing applies to whole iterations: set it as `load.think_time`",
            ));
        }
        let status_check = expect_status.as_ref().map(|codes| {
            scope.checks.push(CheckInfo {
                metric,
                description: format!(
                    "status in [{}]",
                    codes
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            scope.checks.len() - 1
        });
        let checks = match &s.expect {
            Some(e) => self.checks(scope, metric, e, spath)?,
            None => Vec::new(),
        };
        // Extracted names become visible after this step's own templates.
        let extract = self.extracts(scope, &s.extract, spath)?;
        let dynamic =
            (path_t.is_some() || !dyn_headers.is_empty() || body_t.is_some()).then(|| Dynamic {
                path: path_t.unwrap_or_else(|| Template::literal(&full_path)),
                headers: dyn_headers,
                body: body_t.unwrap_or_else(|| {
                    Template::literal(std::str::from_utf8(&body).unwrap_or_default())
                }),
            });
        Ok(Step {
            metric,
            method,
            path: full_path,
            source,
            headers,
            body,
            expect_status,
            think: s.think_time.map_or(Think::None, think),
            dynamic,
            extract,
            checks,
            status_check,
            ws: match &s.ws {
                Some(v) => Some(Box::new(self.ws_spec(
                    scope,
                    metric,
                    v,
                    s.actions.as_ref(),
                    spath,
                )?)),
                None => None,
            },
            stream: match &s.sse {
                Some(v) => Some(Box::new(self.stream_spec(v, &format!("{spath}.sse"))?)),
                None => None,
            },
        })
    }

    fn thresholds(
        &self,
        raw: &RawScenario,
        step_names: &[String],
        scenarios: &[(String, Vec<usize>)],
    ) -> Result<Vec<Threshold>, ScenarioError> {
        let mut out = Vec::new();
        for (key, exprs) in &raw.thresholds {
            let kpath = format!("thresholds.{key}");
            let metric = MetricRef::parse(key).map_err(|m| self.at_key(&kpath, m))?;
            if let Some(sc) = &metric.scenario
                && !scenarios.iter().any(|(n, _)| n == sc)
            {
                let names: Vec<&str> = scenarios.iter().map(|(n, _)| n.as_str()).collect();
                let hint = did_you_mean(sc, names.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(self.at_key(
                    &kpath,
                    if names.is_empty() {
                        format!("no scenario `{sc}`: this file has no `scenarios:`")
                    } else {
                        format!("no scenario `{sc}`{hint}; scenarios: {}", names.join(", "))
                    },
                ));
            }
            if let Some(step) = &metric.step
                && !step_names.iter().any(|n| n == step)
            {
                let hint = did_you_mean(step, step_names.iter().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(self.at_key(
                    &kpath,
                    format!(
                        "no step is named `{step}`{hint}; steps: {}",
                        step_names.join(", ")
                    ),
                ));
            }
            let items = match exprs.clone() {
                serde_yaml_ng::Value::Sequence(vs) => vs
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (v, format!("{kpath}.{i}")))
                    .collect(),
                v => vec![(v, kpath.clone())],
            };
            for (item, ipath) in items {
                out.push(self.threshold(&metric, item, &ipath)?);
            }
        }
        Ok(out)
    }

    fn threshold(
        &self,
        metric: &MetricRef,
        item: serde_yaml_ng::Value,
        ipath: &str,
    ) -> Result<Threshold, ScenarioError> {
        use serde_yaml_ng::Value;
        match item {
            Value::String(expr) => Threshold::parse(metric.clone(), &expr).map_err(|m| self.at_value(ipath, m)),
            Value::Mapping(map) => {
                let mut expr = None;
                let mut abort = false;
                let mut delay = Duration::ZERO;
                for (k, v) in map {
                    let k = k.as_str().unwrap_or_default().to_string();
                    let here = format!("{ipath}.{k}");
                    match (k.as_str(), v) {
                        ("threshold", Value::String(s)) => expr = Some(s),
                        ("abort_on_fail", Value::Bool(b)) => abort = b,
                        ("delay_abort_eval", Value::String(s)) => {
                            delay = duration::parse_duration(&s).map_err(|m| self.at_value(&here, m))?;
                        }
                        ("threshold" | "abort_on_fail" | "delay_abort_eval", _) => {
                            return Err(self.at_value(&here, format!("`{k}` has the wrong type (threshold: a string, abort_on_fail: true/false, delay_abort_eval: a duration)")));
                        }
                        (other, _) => {
                            let hint = did_you_mean(other, ["threshold", "abort_on_fail", "delay_abort_eval"])
                                .map(|s| format!(" (did you mean `{s}`?)"))
                                .unwrap_or_default();
                            return Err(self.at_key(&here, format!("unknown key `{other}`{hint}; expected threshold, abort_on_fail, delay_abort_eval")));
                        }
                    }
                }
                let expr = expr.ok_or_else(|| self.at_value(ipath, "missing `threshold: \"<agg> <op> <value>\"`"))?;
                let mut t = Threshold::parse(metric.clone(), &expr).map_err(|m| self.at_value(&format!("{ipath}.threshold"), m))?;
                t.abort_on_fail = abort;
                t.delay_abort_eval = delay;
                Ok(t)
            }
            _ => Err(self.at_value(ipath, "a threshold is a string like \"p(95) < 500ms\" or {threshold: ..., abort_on_fail: true}")),
        }
    }
}

fn think(spec: ThinkSpec) -> Think {
    match spec {
        ThinkSpec::Constant(d) if d.is_zero() => Think::None,
        ThinkSpec::Constant(d) => Think::Constant(d),
        ThinkSpec::Between(a, b) => Think::Between(a, b),
        ThinkSpec::Exponential(d) if d.is_zero() => Think::None,
        ThinkSpec::Exponential(d) => Think::Exponential(d),
        ThinkSpec::Pacing(d) => Think::Pacing(d),
    }
}

/// The request-line path of a step: `/x` under the target's base path, or a full URL on the
/// same host.
fn step_path(path: &str, target: &Target) -> Result<String, String> {
    let p = path.trim();
    if p.starts_with('/') {
        if p.contains(char::is_whitespace) {
            return Err(format!("path `{p}` contains spaces: encode them as %20"));
        }
        let full = format!("{}{}", target.base_path, p);
        full.parse::<http::uri::PathAndQuery>()
            .map_err(|_| format!("`{p}` is not a valid URL path"))?;
        return Ok(full);
    }
    if p.starts_with("http://") || p.starts_with("https://") {
        let t = Target::parse(p.split_once('?').map_or(p, |(a, _)| a))?;
        if t.host != target.host || t.port != target.port {
            return Err(format!(
                "`{p}` is on another host than the target `{}`: steps address the target only",
                target.url()
            ));
        }
        let uri: http::Uri = p.parse().map_err(|_| format!("`{p}` is not a valid URL"))?;
        return Ok(uri.path_and_query().map_or("/".into(), |pq| pq.to_string()));
    }
    Err(format!(
        "path `{p}` must start with `/` (it is appended to the target)"
    ))
}

fn scale_vus(v: u32, f: f64) -> u32 {
    if v == 0 {
        0
    } else {
        ((v as f64 * f).round() as u32).max(1)
    }
}

/// Multiply an open-model schedule's rates by `f`, and its VUs and queue with them.
fn scale_arrival(a: &mut crate::plan::Arrival, f: f64) {
    a.start_rate *= f;
    for s in a.stages.iter_mut() {
        s.target *= f;
    }
    a.pre_allocated_vus = scale_vus(a.pre_allocated_vus, f);
    a.max_vus = scale_vus(a.max_vus, f).max(a.pre_allocated_vus);
    a.queue_size = scale_vus(a.queue_size, f);
}

/// The most VUs `--rate R --duration D` starts when `--vus` does not say: enough for a second
/// of latency at that rate, at most 10,000, and never fewer than the scenario's own peak.
const RATE_DEFAULT_MAX_VUS: f64 = 10_000.0;

/// `--rate R` (iterations per second). With `--duration D` (and optionally `--vus N` as the most
/// VUs), any executor becomes `constant-arrival-rate` at R for D, as `--vus` with `--duration`
/// makes a `constant-vus` run. Alone, it rescales an arrival-rate schedule to peak at R (its
/// VUs in proportion, unless `--vus` sets `max_vus`).
fn apply_rate(load: &mut Load, rate: f64, ov: &Overrides) -> Result<(), String> {
    use crate::plan::{Arrival, RateStage};
    let rate = limits::rate(rate, true).map_err(|m| format!("--rate: {m}"))?;
    if let Some(duration) = ov.duration {
        let max_vus = ov.vus.unwrap_or_else(|| {
            limits::count(rate, RATE_DEFAULT_MAX_VUS as u32).max(load.max_vus())
        });
        if max_vus == 0 {
            return Err("--vus must be at least 1 with --rate".into());
        }
        *load = Load::ConstantArrivalRate(Arrival {
            start_rate: rate,
            stages: vec![RateStage {
                duration,
                target: rate,
            }],
            pre_allocated_vus: max_vus.min(limits::count(rate / 10.0, u32::MAX).max(10)),
            max_vus,
            queue_size: limits::count(rate * 5.0, limits::MAX_QUEUE).max(1000),
            graceful_stop: load.graceful_stop(),
            stairs: None,
        });
        return Ok(());
    }
    match load {
        Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) if a.stairs.is_none() => {
            let peak = a.stages.iter().map(|s| s.target).fold(a.start_rate, f64::max);
            if peak <= 0.0 {
                return Err("--rate: this schedule's rate is 0 throughout; give --duration to run a constant rate instead".into());
            }
            scale_arrival(a, rate / peak);
            if let Some(vus) = ov.vus {
                a.max_vus = vus.max(1);
                a.pre_allocated_vus = a.pre_allocated_vus.min(a.max_vus);
            }
            Ok(())
        }
        Load::ConstantArrivalRate(_) | Load::RampingArrivalRate(_) => Err(
            "--rate: a breakpoint run climbs by its own stairs (start_rate, step_rate, max_rate); use --scale to scale them, or --rate with --duration for a constant rate".into(),
        ),
        _ => Err(format!(
            "--rate {rate} sets an arrival rate, but this scenario's executor is a closed model (VUs); add --duration to run constant-arrival-rate at {rate}/s instead"
        )),
    }
}

/// The limits of `limits` on a built schedule (after the command line's changes, which may
/// have multiplied it past them).
fn check_load_limits(load: &Load) -> Result<(), String> {
    if load.duration() > limits::MAX_SCHEDULE {
        return Err(format!(
            "the schedule lasts {}: the longest is one year",
            format_duration(load.duration())
        ));
    }
    if load.max_vus() > limits::MAX_VUS {
        return Err(format!(
            "{} VUs: at most {} in one process",
            load.max_vus(),
            limits::MAX_VUS
        ));
    }
    if let Some(a) = load.arrival() {
        let peak = a
            .stages
            .iter()
            .map(|s| s.target)
            .fold(a.start_rate, f64::max);
        limits::rate(peak, false)?;
    }
    Ok(())
}

/// Apply --rate/--vus/--duration/--scale/--time-scale to the schedule.
fn apply_overrides(load: &mut Load, ov: &Overrides) -> Result<(), String> {
    let scale_d = |d: Duration, f: f64| {
        limits::scale_duration(d, f, "with --duration or --time-scale, the schedule")
    };
    if let Some(n) = ov.iterations {
        if ov.rate.is_some() {
            return Err("--iterations and --rate do not go together: -i runs a fixed number of iterations, --rate a schedule".into());
        }
        if n == 0 {
            return Err("--iterations must be at least 1".into());
        }
        *load = Load::SharedIterations(Iterations {
            vus: ov.vus.unwrap_or(1).max(1),
            iterations: n,
            max_duration: ov.duration.unwrap_or(Duration::from_secs(600)),
            graceful_stop: load.graceful_stop(),
        });
    } else if let Some(rate) = ov.rate {
        apply_rate(load, rate, ov)?;
    } else if let (Some(vus), Some(duration)) = (ov.vus, ov.duration) {
        *load = Load::ConstantVus {
            vus,
            duration,
            graceful_stop: load.graceful_stop(),
        };
    } else if let Some(vus) = ov.vus {
        match load {
            Load::PerVuIterations(it) | Load::SharedIterations(it) => it.vus = vus,
            Load::ConstantArrivalRate(_) | Load::RampingArrivalRate(_) => {
                return Err(format!(
                    "--vus {vus} sets the VUs of constant-vus/ramping-vus; an arrival-rate executor's load is its rate: use --rate or --scale (or --vus with --duration to run constant-vus instead)"
                ));
            }
            Load::ConstantVus { vus: v, .. } => *v = vus,
            Load::RampingVus {
                start_vus, stages, ..
            } => {
                let peak = stages
                    .iter()
                    .map(|s| s.target)
                    .fold(*start_vus, u32::max)
                    .max(1);
                let f = vus as f64 / peak as f64;
                *start_vus = scale_vus(*start_vus, f).min(vus);
                for s in stages.iter_mut() {
                    s.target = scale_vus(s.target, f).min(vus);
                }
            }
        }
    } else if let Some(d) = ov.duration {
        match load {
            Load::PerVuIterations(it) | Load::SharedIterations(it) => it.max_duration = d,
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
                let total = a.duration().as_secs_f64();
                let f = if total > 0.0 {
                    d.as_secs_f64() / total
                } else {
                    1.0
                };
                for s in a.stages.iter_mut() {
                    s.duration = scale_d(s.duration, f)?;
                }
            }
            Load::ConstantVus { duration, .. } => *duration = d,
            Load::RampingVus { stages, .. } => {
                let total: f64 = stages.iter().map(|s| s.duration.as_secs_f64()).sum();
                let f = if total > 0.0 {
                    d.as_secs_f64() / total
                } else {
                    1.0
                };
                for s in stages.iter_mut() {
                    s.duration = scale_d(s.duration, f)?;
                }
            }
        }
    }
    if let Some(f) = ov.scale {
        let f = limits::factor(f, "--scale", limits::MAX_SCALE)?;
        match load {
            Load::PerVuIterations(it) | Load::SharedIterations(it) => {
                it.vus = scale_vus(it.vus, f);
            }
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => scale_arrival(a, f),
            Load::ConstantVus { vus, .. } => *vus = scale_vus(*vus, f),
            Load::RampingVus {
                start_vus, stages, ..
            } => {
                *start_vus = scale_vus(*start_vus, f);
                for s in stages.iter_mut() {
                    s.target = scale_vus(s.target, f);
                }
            }
        }
    }
    if let Some(f) = ov.time_scale {
        let f = limits::factor(f, "--time-scale", f64::MAX)?;
        match load {
            Load::PerVuIterations(it) | Load::SharedIterations(it) => {
                it.max_duration = scale_d(it.max_duration, f)?;
                it.graceful_stop = scale_d(it.graceful_stop, f)?;
            }
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
                for s in a.stages.iter_mut() {
                    s.duration = scale_d(s.duration, f)?;
                }
                a.graceful_stop = scale_d(a.graceful_stop, f)?;
            }
            Load::ConstantVus {
                duration,
                graceful_stop,
                ..
            } => {
                *duration = scale_d(*duration, f)?;
                *graceful_stop = scale_d(*graceful_stop, f)?;
            }
            Load::RampingVus {
                stages,
                graceful_ramp_down,
                graceful_stop,
                ..
            } => {
                for s in stages.iter_mut() {
                    s.duration = scale_d(s.duration, f)?;
                }
                *graceful_ramp_down = scale_d(*graceful_ramp_down, f)?;
                *graceful_stop = scale_d(*graceful_stop, f)?;
            }
        }
    }
    Ok(())
}

impl From<ScenarioError> for crate::Failure {
    fn from(e: ScenarioError) -> Self {
        crate::Failure::Usage(e.to_string())
    }
}

#[cfg(test)]
mod tests;
