//! `thresholds`: each expression parsed and its metric checked against the scenario.

#[allow(unused_imports)]
use super::*;

impl Builder<'_> {
    pub(super) fn thresholds(
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

    pub(super) fn threshold(
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
