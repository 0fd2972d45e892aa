//! A step's `ws:` block (a WebSocket session):
//!
//! ```yaml
//! - name: chat
//!   ws: /ws                       # or { url: /ws, subprotocols: [chat], timeout: 1m, actions: [...] }
//!   actions:                      # (at the step, with the short form)
//!     - send: "hello {{vu}}"
//!     - expect: { contains: "hello", timeout: 2s }
//!     - send_json: { op: ping }
//!     - wait: 100ms
//!     - close: 1000
//! ```

use super::journey::Scope;
use super::{Builder, ScenarioError};
use crate::plan::CheckInfo;
use crate::plan::Want;
use crate::plan::template::Escape;
use crate::plan::ws::{self, WsAction, WsExpect, WsSpec};
use serde_yaml_ng::Value;

const KEYS: [&str; 4] = ["url", "subprotocols", "timeout", "actions"];
const ACTIONS: [&str; 6] = [
    "send",
    "send_json",
    "send_binary",
    "expect",
    "wait",
    "close",
];

/// The path a `ws:` value connects to (`ws: /path` or `ws: { url: /path }`).
pub fn ws_path(raw: &Value) -> Option<String> {
    match raw {
        Value::String(s) => Some(s.clone()),
        Value::Mapping(m) => m.get("url").and_then(|u| u.as_str()).map(str::to_string),
        _ => None,
    }
}

impl Builder<'_> {
    fn duration_at(&self, v: &Value, path: &str) -> Result<std::time::Duration, ScenarioError> {
        let text = v
            .as_str()
            .ok_or_else(|| self.at_value(path, "a duration with a unit, e.g. 2s or 500ms"))?;
        super::duration::parse_duration(text).map_err(|m| self.at_value(path, m))
    }

    /// The session of a `ws:` step; `actions` are the step-level actions of the short form.
    pub(super) fn ws_spec(
        &self,
        scope: &mut Scope,
        metric: usize,
        raw: &Value,
        actions: Option<&Value>,
        spath: &str,
    ) -> Result<WsSpec, ScenarioError> {
        let path = format!("{spath}.ws");
        let mut spec = WsSpec {
            subprotocols: Vec::new(),
            actions: Vec::new(),
            timeout: ws::DEFAULT_SESSION_TIMEOUT,
        };
        let mut list = actions.map(|a| (a, format!("{spath}.actions")));
        match raw {
            Value::String(_) => {}
            Value::Mapping(m) => {
                if m.get("url").and_then(|u| u.as_str()).is_none() {
                    return Err(self.at_value(&path, "`ws` needs `url: /path`"));
                }
                for (k, v) in m {
                    let key = k.as_str().unwrap_or_default();
                    let kpath = format!("{path}.{key}");
                    match key {
                        "url" => {}
                        "subprotocols" => spec.subprotocols = self.subprotocols(v, &kpath)?,
                        "timeout" => spec.timeout = self.duration_at(v, &kpath)?,
                        "actions" => {
                            if list.is_some() {
                                return Err(self.at_key(
                                    &kpath,
                                    "actions are given twice (here and at the step)",
                                ));
                            }
                            list = Some((v, kpath));
                        }
                        other => {
                            return Err(self.at_key(
                                &kpath,
                                super::stream::unknown_key(other, "key", "ws", &KEYS),
                            ));
                        }
                    }
                }
            }
            _ => return Err(self.at_value(&path, "`ws` is a path (`/ws`) or a map with `url`")),
        }
        if spec.timeout.is_zero() {
            return Err(self.at_value(&format!("{path}.timeout"), "must be above zero"));
        }
        let Some((list, lpath)) = list else {
            return Ok(spec);
        };
        let items = list
            .as_sequence()
            .ok_or_else(|| self.at_value(&lpath, "`actions` is a list"))?;
        for (i, item) in items.iter().enumerate() {
            let apath = format!("{lpath}.{i}");
            let (key, v) = match item.as_mapping().map(|m| m.iter().collect::<Vec<_>>()) {
                Some(kv) if kv.len() == 1 => (kv[0].0.as_str().unwrap_or_default(), kv[0].1),
                _ => {
                    return Err(self.at_value(
                        &apath,
                        format!(
                            "an action is one of {}, e.g. `- send: hello`",
                            ACTIONS.join(", ")
                        ),
                    ));
                }
            };
            let kpath = format!("{apath}.{key}");
            let action = match key {
                "send" | "send_binary" => {
                    let text = scalar(v).ok_or_else(|| self.at_value(&kpath, "text to send"))?;
                    WsAction::Send {
                        binary: key == "send_binary",
                        body: self.template(scope, &text, Escape::Text, &kpath)?,
                    }
                }
                "send_json" => {
                    let j = serde_json::to_value(v).map_err(|e| {
                        self.at_value(&kpath, format!("cannot be sent as JSON: {e}"))
                    })?;
                    WsAction::Send {
                        binary: false,
                        body: self.template(scope, &j.to_string(), Escape::Json, &kpath)?,
                    }
                }
                "wait" => WsAction::Wait(self.duration_at(v, &kpath)?),
                "close" => {
                    let code = v
                        .as_u64()
                        .filter(|c| {
                            (1000..=4999).contains(c) && ![1004, 1005, 1006, 1015].contains(c)
                        })
                        .ok_or_else(|| {
                            self.at_value(&kpath, "a close code: 1000, 1001, … or 3000–4999")
                        })?;
                    WsAction::Close(code as u16)
                }
                "expect" => WsAction::Expect(self.ws_expect(scope, metric, v, &kpath)?),
                other => {
                    return Err(self.at_key(
                        &kpath,
                        super::stream::unknown_key(other, "action", "actions", &ACTIONS),
                    ));
                }
            };
            spec.actions.push(action);
        }
        Ok(spec)
    }

    /// `ws.subprotocols`: a list of names (tokens).
    fn subprotocols(&self, v: &Value, kpath: &str) -> Result<Vec<String>, ScenarioError> {
        let items = v
            .as_sequence()
            .ok_or_else(|| self.at_value(kpath, "a list of names, e.g. [chat]"))?;
        items
            .iter()
            .map(|p| {
                p.as_str()
                    .filter(|p| is_token(p))
                    .map(str::to_string)
                    .ok_or_else(|| self.at_value(kpath, "each subprotocol is a name (a token)"))
            })
            .collect()
    }

    fn ws_expect(
        &self,
        scope: &mut Scope,
        metric: usize,
        v: &Value,
        path: &str,
    ) -> Result<WsExpect, ScenarioError> {
        let mut e = WsExpect {
            contains: None,
            equals: None,
            json: Vec::new(),
            timeout: ws::DEFAULT_EXPECT_TIMEOUT,
            check: 0,
        };
        let mut shown = Vec::new();
        let m = match v {
            Value::Mapping(m) => m.clone(),
            // `expect: {}` or `expect: any`: any message.
            Value::Null => Default::default(),
            Value::String(s) if s == "any" => Default::default(),
            _ => {
                return Err(self.at_value(
                    path,
                    "`expect` is a map of contains, equals, json, timeout (or `any`)",
                ));
            }
        };
        for (k, v) in &m {
            let key = k.as_str().unwrap_or_default();
            let kpath = format!("{path}.{key}");
            match key {
                "contains" | "equals" => {
                    let text = scalar(v).ok_or_else(|| self.at_value(&kpath, "text"))?;
                    let t = self.template(scope, &text, Escape::Text, &kpath)?;
                    shown.push(format!("{key} {text:?}"));
                    if key == "contains" {
                        e.contains = Some(t);
                    } else {
                        e.equals = Some(t);
                    }
                }
                "timeout" => e.timeout = self.duration_at(v, &kpath)?,
                "json" => {
                    let map = v
                        .as_mapping()
                        .ok_or_else(|| self.at_value(&kpath, "a map of JSONPath: value"))?;
                    for (p, want) in map {
                        let p = p.as_str().unwrap_or_default();
                        let ppath = format!("{kpath}.{p}");
                        let jp = serde_json_path::JsonPath::parse(p).map_err(|err| {
                            self.at_key(&ppath, format!("bad JSONPath `{p}`: {err}"))
                        })?;
                        let want = match want {
                            Value::String(text) => {
                                Want::Text(self.template(scope, text, Escape::Text, &ppath)?)
                            }
                            other => Want::Value(serde_json::to_value(other).map_err(|err| {
                                self.at_value(&ppath, format!("not a JSON value: {err}"))
                            })?),
                        };
                        shown.push(format!("json {p}"));
                        e.json.push((jp, want));
                    }
                }
                other => {
                    return Err(self.at_key(
                        &kpath,
                        format!("unknown key `{other}` in `expect`; known: contains, equals, json, timeout"),
                    ));
                }
            }
        }
        if e.timeout.is_zero() {
            return Err(self.at_value(&format!("{path}.timeout"), "must be above zero"));
        }
        scope.checks.push(CheckInfo {
            metric,
            description: if shown.is_empty() {
                "ws message received".into()
            } else {
                format!("ws message {}", shown.join(", "))
            },
        });
        e.check = scope.checks.len() - 1;
        Ok(e)
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
