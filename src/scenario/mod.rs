//! Scenario files: YAML → typed model → validated `Plan`. Every problem is reported as
//! `FILE:LINE:COLUMN: message` before any traffic is sent.

mod accounting;
pub mod capacity;
mod connection;
mod errors;
mod load;
mod overrides;
mod steps;
mod thresholds;
pub use crate::units::duration;
pub use errors::ScenarioError;
pub use overrides::{OverrideArgs, Overrides};
#[allow(unused_imports)]
use {connection::*, errors::*, load::*, overrides::*, steps::*};
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
    ScenarioPlan, Stage, Stairs, Step, Target, Think,
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

impl Builder<'_> {
    fn err_at(&self, pos: Option<Pos>, message: impl std::fmt::Display) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            pos,
            message: message.to_string(),
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
    fn at_key(&self, path: &str, message: impl std::fmt::Display) -> ScenarioError {
        let full = self.full_path(path);
        let pos = self.loc.key(&full);
        *self.last_path.borrow_mut() = Some((full, pos));
        self.err_at(pos, message)
    }

    /// An error at the value of `path`.
    fn at_value(&self, path: &str, message: impl std::fmt::Display) -> ScenarioError {
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
        let (target, target_origin) = self.plan_target(&raw, ov)?;
        let (timeout, headers, connections, local_ips) = self.base_http(&raw.http)?;
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
        let parts = self.scenario_parts(&raw)?;
        let mut step_names: Vec<String> = Vec::new();
        let mut scenarios: Vec<ScenarioPlan> = Vec::new();
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
                self.own_steps(&flows, first_step, &step_names)?;
            }
            scenarios.push(ScenarioPlan {
                name: pname.clone(),
                load,
                think: l.think_time.map_or(Think::None, think),
                spread_start: l.spread_start.unwrap_or(true),
                flows,
                steps: (first_step..step_names.len()).collect(),
            });
        }
        *self.part.borrow_mut() = String::new();
        let named: Vec<(String, Vec<usize>)> = scenarios
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| (s.name.clone(), s.steps.clone()))
            .collect();
        let thresholds = self.thresholds(&raw, &step_names, &named)?;
        for s in &mut scenarios {
            stream::attach_slos(&mut s.flows, &step_names, &thresholds);
        }
        Ok(Plan {
            name,
            target,
            target_origin,
            http,
            step_names,
            thresholds,
            variables: scope.vars.into_iter().zip(scope.initial).collect(),
            feeds: scope.feeds,
            cookies: raw.http.cookies.unwrap_or(true),
            checks: scope.checks,
            scenarios: scenarios.into_iter().map(std::sync::Arc::new).collect(),
            segment: None,
        })
    }

    /// A step name belongs to one scenario, so `{scenario:...}` can sum its steps.
    fn own_steps(
        &self,
        flows: &[crate::plan::Flow],
        first_step: usize,
        step_names: &[String],
    ) -> Result<(), ScenarioError> {
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
        Ok(())
    }

    /// The target (`--target` over the file's `target`) and where it came from, for messages.
    fn plan_target(
        &self,
        raw: &RawScenario,
        ov: &Overrides,
    ) -> Result<(Target, String), ScenarioError> {
        let target_origin = match (&ov.target, self.loc.value("target")) {
            (Some(_), _) | (None, None) => "--target".to_string(),
            (None, Some(p)) => format!("{}:{}:{}", self.file, p.line, p.col),
        };
        let target = match (&ov.target, &raw.target) {
            (Some(t), _) => Target::parse(t).map_err(|m| ScenarioError {
                file: "--target".into(),
                pos: None,
                message: m.to_string(),
            })?,
            (None, Some(t)) => {
                Target::parse(t).map_err(|m| self.at_value("target", m.to_string()))?
            }
            (None, None) => {
                return Err(self.err_at(
                    Some(Pos { line: 1, col: 1 }),
                    "no target: add `target: http://HOST:PORT` or pass --target",
                ));
            }
        };
        Ok((target, target_origin))
    }

    /// `http.timeout`, the default headers (with `accept-encoding` and `user-agent`),
    /// `http.connections` and `http.local_ips`.
    fn base_http(
        &self,
        http: &RawHttp,
    ) -> Result<(Duration, HeaderMap, Connections, Vec<IpAddr>), ScenarioError> {
        let timeout = http.timeout.map_or(Duration::from_secs(60), |d| d.0);
        if timeout.is_zero() {
            return Err(self.at_value("http.timeout", "http.timeout must be above zero"));
        }
        let mut headers = self.headers(&http.headers, "http.headers", &HeaderMap::new())?;
        if let Some(enc) = self.compression(http)?
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
        let connections = self.connections(http)?;
        let local_ips = match &http.local_ips {
            None => Vec::new(),
            Some(spec) => self.local_ips(spec)?,
        };
        Ok((timeout, headers, connections, local_ips))
    }

    /// One scenario (top-level `load` + `flows`), or several under `scenarios:`.
    #[allow(clippy::type_complexity)]
    fn scenario_parts<'r>(
        &self,
        raw: &'r RawScenario,
    ) -> Result<Vec<(String, &'r RawLoad, &'r [RawFlow])>, ScenarioError> {
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
        Ok(parts)
    }
}

#[cfg(test)]
mod tests;
