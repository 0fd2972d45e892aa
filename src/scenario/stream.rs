//! A step's `sse:` block (a streaming step), and the per-stream objectives its `stream_*`
//! thresholds give it for goodput.

use super::{Builder, ScenarioError};
use crate::plan::Flow;
use crate::plan::stream::{Content, Slo, SloMetric, StreamSpec};
use crate::sla::{Agg, Op, Threshold};
use serde_yaml_ng::Value;
use std::time::Duration;

const KEYS: [&str; 4] = ["content", "usage", "done", "timeout"];

impl Builder<'_> {
    /// `sse: true`, or `sse: { content: "$.path" | data, usage: "$.path" | none, done: "[DONE]"
    /// | none, timeout: 2m }`.
    pub(super) fn stream_spec(&self, raw: &Value, path: &str) -> Result<StreamSpec, ScenarioError> {
        let mut spec = StreamSpec::openai();
        let map = match raw {
            Value::Bool(true) => return Ok(spec),
            Value::Mapping(m) => m,
            _ => {
                return Err(self.at_value(
                    path,
                    "`sse` is `true` (OpenAI-style chunks) or a map of content, usage, done, timeout",
                ));
            }
        };
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                return Err(self.at_value(path, "`sse` keys are content, usage, done, timeout"));
            };
            let kpath = format!("{path}.{key}");
            let text = || {
                v.as_str()
                    .map(str::trim)
                    .ok_or_else(|| self.at_value(&kpath, format!("`{key}` is text")))
            };
            let json_path = |t: &str| {
                serde_json_path::JsonPath::parse(t)
                    .map_err(|e| self.at_value(&kpath, format!("bad JSONPath `{t}`: {e}")))
            };
            match key {
                "content" => {
                    let t = text()?;
                    spec.content = if t == "data" {
                        Content::Data
                    } else {
                        Content::Json(json_path(t)?)
                    };
                }
                "usage" => {
                    let t = text()?;
                    spec.usage = if t == "none" {
                        None
                    } else {
                        Some(json_path(t)?)
                    };
                }
                "done" => {
                    let t = text()?;
                    spec.done = (t != "none").then(|| t.to_string());
                }
                "timeout" => {
                    let d = super::duration::parse_duration(text()?)
                        .map_err(|m| self.at_value(&kpath, m))?;
                    if d.is_zero() {
                        return Err(self.at_value(&kpath, "a stream's timeout must be above zero"));
                    }
                    spec.timeout = d;
                }
                other => {
                    return Err(self.at_key(&kpath, unknown_key(other, "key", "sse", &KEYS)));
                }
            }
        }
        if let Content::Data = spec.content
            && map.get("usage").is_none()
        {
            // Plain-text events carry no JSON to read a usage count from.
            spec.usage = None;
        }
        Ok(spec)
    }
}

/// `unknown key `contnet` in `sse` (did you mean `content`?); known: …`
pub(super) fn unknown_key(got: &str, what: &str, place: &str, known: &[&str]) -> String {
    let hint = super::did_you_mean(got, known.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    format!(
        "unknown {what} `{got}` in `{place}`{hint}; known: {}",
        known.join(", ")
    )
}

/// Give each streaming step the per-stream objectives of the thresholds that apply to it: an
/// upper bound (`<`, `<=`) on `stream_ttfb`, `stream_ttft`, `stream_tpot` or `stream_duration`,
/// of the step or of every step, whatever its aggregation (`p(99) < 200ms` → each stream's TTFT
/// under 200 ms), as goodput is defined by vLLM and GuideLLM.
pub(super) fn attach_slos(flows: &mut [Flow], step_names: &[String], thresholds: &[Threshold]) {
    for flow in flows {
        for step in &mut flow.steps {
            let Some(spec) = step.stream.as_deref_mut() else {
                continue;
            };
            spec.slos = slos_for(&step_names[step.metric], thresholds);
        }
    }
}

fn slos_for(step: &str, thresholds: &[Threshold]) -> Vec<Slo> {
    thresholds
        .iter()
        .filter(|t| t.metric.scenario.is_none())
        .filter(|t| t.metric.step.as_deref().is_none_or(|s| s == step))
        .filter(|t| !matches!(t.agg, Agg::Count))
        .filter_map(|t| {
            let metric = SloMetric::from_metric(&t.metric.name)?;
            let inclusive = match t.op {
                Op::Lt => false,
                Op::Le => true,
                _ => return None,
            };
            Some(Slo {
                metric,
                bound: Duration::from_secs_f64(t.limit.max(0.0) / 1000.0),
                inclusive,
            })
        })
        .collect()
}
