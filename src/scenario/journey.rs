//! The parts of a scenario that make a user journey: variables, data feeds, templates,
//! extraction, checks and auth — validated at load time, with `file:line:column` errors.

use super::model::{RawAuth, RawExpect, RawExtract, RawFeed, RawScenario};
use super::{Builder, ScenarioError, did_you_mean};
use crate::plan::template::{self, Escape, Expr, Raw, Resolved, Template};
use crate::plan::{Check, CheckInfo, CheckKind, Extract, Extractor, Feed, Pick, Want};
use base64::Engine as _;
use bytes::Bytes;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What templates may refer to while a scenario is being built.
pub struct Scope {
    /// Values of `env.NAME`: the process environment, overridden by `--env`.
    pub env: HashMap<String, String>,
    /// Every variable name (declared first, then extracted), indexed as the VU stores them.
    pub vars: Vec<String>,
    pub initial: Vec<Bytes>,
    /// How many of `vars` are declared (the rest are extracted).
    pub declared: usize,
    /// Variables a template may use at this point: declared ones and those extracted by earlier
    /// steps of the current flow.
    pub visible: Vec<bool>,
    pub feeds: Vec<Arc<Feed>>,
    /// Feeds used by the current flow.
    pub flow_feeds: Vec<usize>,
    pub checks: Vec<CheckInfo>,
}

impl Scope {
    fn var(&mut self, name: &str) -> usize {
        match self.vars.iter().position(|v| v == name) {
            Some(i) => i,
            None => {
                self.vars.push(name.to_string());
                self.initial.push(Bytes::new());
                self.visible.push(false);
                self.vars.len() - 1
            }
        }
    }

    /// Start a new flow: only declared variables are visible.
    pub fn enter_flow(&mut self, declared: usize) {
        for (i, v) in self.visible.iter_mut().enumerate() {
            *v = i < declared;
        }
        self.flow_feeds.clear();
    }
}

fn scalar_text(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Builder<'_> {
    /// Declared variables and data feeds.
    pub(super) fn scope(
        &self,
        raw: &RawScenario,
        env_overrides: &[(String, String)],
    ) -> Result<Scope, ScenarioError> {
        let mut env: HashMap<String, String> = std::env::vars().collect();
        for (k, v) in env_overrides {
            env.insert(k.clone(), v.clone());
        }
        let mut scope = Scope {
            env,
            vars: Vec::new(),
            initial: Vec::new(),
            declared: 0,
            visible: Vec::new(),
            feeds: Vec::new(),
            flow_feeds: Vec::new(),
            checks: Vec::new(),
        };
        for (name, value) in &raw.variables {
            let path = format!("variables.{name}");
            check_name(name).map_err(|m| self.at_key(&path, m))?;
            let text = scalar_text(value)
                .ok_or_else(|| self.at_value(&path, "a variable's value is text or a number"))?;
            // Initial values may use env (only: nothing else exists before the first request).
            let t = template::parse(&text, Escape::Text, |r| {
                self.resolve_env(&scope.env, r)
                    .and_then(|v| {
                        v.ok_or_else(|| {
                            "a variable's initial value may only use `{{env.NAME}}`".to_string()
                        })
                    })
                    .map(Resolved::Literal)
            })
            .map_err(|m| self.at_value(&path, m.to_string()))?;
            let i = scope.var(name);
            scope.initial[i] = Bytes::from(t.text().unwrap_or_default());
            scope.visible[i] = true;
        }
        scope.declared = scope.vars.len();
        for (name, feed) in &raw.data {
            let f = self.feed(name, feed)?;
            scope.feeds.push(Arc::new(f));
        }
        Ok(scope)
    }

    fn feed(&self, name: &str, raw: &RawFeed) -> Result<Feed, ScenarioError> {
        let path = format!("data.{name}");
        let pick = match raw.pick.as_deref() {
            None | Some("sequential") => Pick::Sequential,
            Some("random") => Pick::Random,
            Some("unique") => Pick::Unique,
            Some(other) => {
                return Err(self.at_value(
                    &format!("{path}.pick"),
                    format!("unknown pick `{other}`: use sequential, random or unique"),
                ));
            }
        };
        let file = self.base_dir.join(&raw.csv);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(&file)
            .map_err(|e| {
                self.at_value(
                    &format!("{path}.csv"),
                    format!("cannot read CSV {}: {}", file.display(), csv_error(&e)),
                )
            })?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| {
                self.at_value(
                    &format!("{path}.csv"),
                    format!("{}: {}", file.display(), csv_error(&e)),
                )
            })?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                self.at_value(
                    &format!("{path}.csv"),
                    format!("{}: {}", file.display(), csv_error(&e)),
                )
            })?;
            rows.push(
                rec.iter()
                    .map(|v| Bytes::copy_from_slice(v.as_bytes()))
                    .collect(),
            );
        }
        if rows.is_empty() {
            return Err(self.at_value(
                &format!("{path}.csv"),
                format!(
                    "{} has no data rows (the first line names the columns)",
                    file.display()
                ),
            ));
        }
        Ok(Feed {
            name: name.to_string(),
            columns,
            rows,
            pick,
        })
    }

    /// `env.NAME` → its value; `Ok(None)` for anything else.
    fn resolve_env(
        &self,
        env: &HashMap<String, String>,
        r: Raw<'_>,
    ) -> Result<Option<String>, String> {
        let Some(name) = r.text.strip_prefix("env.") else {
            return Ok(None);
        };
        env.get(name).cloned().map(Some).ok_or_else(|| {
            format!("environment variable `{name}` is not set (set it, or pass --env {name}=VALUE)")
        })
    }

    /// Parse a template found at `path` in the file.
    pub(super) fn template(
        &self,
        scope: &mut Scope,
        text: &str,
        escape: Escape,
        path: &str,
    ) -> Result<Template, ScenarioError> {
        template::parse(text, escape, |r| {
            if let Some(v) = self.resolve_env(&scope.env, r.clone())? {
                return Ok(Resolved::Literal(v));
            }
            if let Some(e) = template::builtin(r.text).map_err(|e| e.to_string())? {
                return Ok(Resolved::Expr(e));
            }
            if let Some(rest) = r.text.strip_prefix("data.") {
                let (feed, column) = rest.split_once('.').ok_or_else(|| {
                    format!("`{{{{{}}}}}`: use `data.FEED.COLUMN`", r.text)
                })?;
                let Some(fi) = scope.feeds.iter().position(|f| f.name == feed) else {
                    let hint = did_you_mean(feed, scope.feeds.iter().map(|f| f.name.as_str()))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(format!("no data feed `{feed}`{hint}: declare it under `data:`"));
                };
                let f = &scope.feeds[fi];
                let Some(ci) = f.columns.iter().position(|c| c == column) else {
                    return Err(format!(
                        "data feed `{feed}` has no column `{column}`; its columns are {}",
                        f.columns.join(", ")
                    ));
                };
                if !scope.flow_feeds.contains(&fi) {
                    scope.flow_feeds.push(fi);
                }
                return Ok(Resolved::Expr(Expr::Data { feed: fi, column: ci }));
            }
            check_name(r.text).map_err(|e| e.to_string())?;
            match scope.vars.iter().position(|v| v == r.text) {
                Some(i) if scope.visible[i] => Ok(Resolved::Expr(Expr::Var(i))),
                Some(_) => Err(format!(
                    "`{}` is used before a step of this flow extracts it",
                    r.text
                )),
                None => {
                    let known: Vec<&str> = scope.vars.iter().map(String::as_str).collect();
                    let hint = did_you_mean(r.text, known.iter().copied())
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    Err(format!(
                        "undefined variable `{}`{hint}: declare it under `variables:` or extract it in an earlier step",
                        r.text
                    ))
                }
            }
        })
        .map_err(|m| self.at_value(path, m.to_string()))
    }

    /// `auth:` as an Authorization header value template.
    pub(super) fn auth(
        &self,
        scope: &mut Scope,
        auth: &RawAuth,
        path: &str,
    ) -> Result<Template, ScenarioError> {
        match (&auth.basic, &auth.bearer) {
            (Some(b), None) => {
                let mut literal = |text: &str, p: &str| -> Result<String, ScenarioError> {
                    let t = self.template(scope, text, Escape::Text, p)?;
                    t.text().ok_or_else(|| {
                        self.at_value(p, "basic auth takes fixed text or `{{env.NAME}}`")
                    })
                };
                let user = literal(&b.user, &format!("{path}.basic.user"))?;
                let password = literal(&b.password, &format!("{path}.basic.password"))?;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Ok(Template::literal(&format!("Basic {token}")))
            }
            (None, Some(token)) => {
                let mut t =
                    self.template(scope, token, Escape::Header, &format!("{path}.bearer"))?;
                t.parts
                    .insert(0, template::Part::Lit(Bytes::from_static(b"Bearer ")));
                Ok(t)
            }
            _ => Err(self.at_value(
                path,
                "auth is either `{ basic: { user, password } }` or `{ bearer: TOKEN }`",
            )),
        }
    }

    /// A step's `extract:`; makes the names visible to later steps.
    pub(super) fn extracts(
        &self,
        scope: &mut Scope,
        raw: &IndexMap<String, RawExtract>,
        spath: &str,
    ) -> Result<Vec<Extract>, ScenarioError> {
        let mut out = Vec::new();
        for (name, e) in raw {
            let p = format!("{spath}.extract.{name}");
            check_name(name).map_err(|m| self.at_key(&p, m))?;
            let from = match (&e.json, &e.regex, &e.header) {
                (Some(j), None, None) => {
                    Extractor::Json(serde_json_path::JsonPath::parse(j).map_err(|err| {
                        self.at_value(&format!("{p}.json"), format!("bad JSONPath `{j}`: {err}"))
                    })?)
                }
                (None, Some(r), None) => {
                    let re = regex::Regex::new(r).map_err(|err| {
                        self.at_value(&format!("{p}.regex"), format!("bad regex: {err}"))
                    })?;
                    Extractor::Regex(re)
                }
                (None, None, Some(h)) => Extractor::Header(h.trim().to_ascii_lowercase()),
                _ => {
                    return Err(self.at_value(
                        &p,
                        "extract one of `{ json: \"$.path\" }`, `{ regex: \"id=(\\\\d+)\" }` or `{ header: Location }`",
                    ));
                }
            };
            let var = scope.var(name);
            out.push(Extract { var, from });
        }
        // Visible only after all of this step's templates were parsed (they run before it).
        for e in &out {
            scope.visible[e.var] = true;
        }
        Ok(out)
    }

    /// A step's expectations beyond the status.
    pub(super) fn checks(
        &self,
        scope: &mut Scope,
        metric: usize,
        expect: &RawExpect,
        spath: &str,
    ) -> Result<Vec<Check>, ScenarioError> {
        let mut out = Vec::new();
        let mut add = |scope: &mut Scope, kind: CheckKind, description: String| {
            scope.checks.push(CheckInfo {
                metric,
                description,
            });
            out.push(Check {
                id: scope.checks.len() - 1,
                kind,
            });
        };
        if let Some(s) = &expect.body_contains {
            let p = format!("{spath}.expect.body_contains");
            let t = self.template(scope, s, Escape::Text, &p)?;
            add(
                scope,
                CheckKind::BodyContains(t),
                format!("body contains {s:?}"),
            );
        }
        for (path, value) in &expect.json {
            let p = format!("{spath}.expect.json.{path}");
            let jp = serde_json_path::JsonPath::parse(path)
                .map_err(|e| self.at_key(&p, format!("bad JSONPath `{path}`: {e}")))?;
            let (want, shown) = match value {
                serde_yaml_ng::Value::String(text) => (
                    Want::Text(self.template(scope, text, Escape::Text, &p)?),
                    format!("{text:?}"),
                ),
                other => {
                    let v = serde_json::to_value(other)
                        .map_err(|e| self.at_value(&p, format!("not a JSON value: {e}")))?;
                    let shown = v.to_string();
                    (Want::Value(v), shown)
                }
            };
            add(
                scope,
                CheckKind::Json(jp, want),
                format!("json {path} == {shown}"),
            );
        }
        for (name, value) in &expect.header {
            let p = format!("{spath}.expect.header.{name}");
            let t = self.template(scope, value, Escape::Text, &p)?;
            add(
                scope,
                CheckKind::Header(name.trim().to_ascii_lowercase(), t),
                format!("header {name}: {value}"),
            );
        }
        Ok(out)
    }
}

/// Names `{{...}}` gives a meaning of its own: no variable may take them.
const RESERVED: [&str; 5] = ["vu", "iteration", "uuid", "env", "data"];

/// A variable name that is not one (`0`: the name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "`{0}` cannot be a variable name: use letters, digits and `_` (not starting with a digit), and none of {reserved}",
    reserved = RESERVED.join(", ")
)]
struct BadVariableName(String);

fn check_name(name: &str) -> Result<(), BadVariableName> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok || RESERVED.contains(&name) {
        return Err(BadVariableName(name.to_string()));
    }
    Ok(())
}

fn csv_error(e: &csv::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: {e}", p.line()),
        None => e.to_string(),
    }
}

/// The folder CSV paths are relative to: the scenario file's.
pub fn base_dir(file: &str) -> std::path::PathBuf {
    Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
