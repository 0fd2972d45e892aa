//! Metric queries: which metric (`http_req_duration{step:login}`), which aggregation (`p(95)`),
//! and what can answer them (`Observe`: a finished run, the live totals, a window). The SLA
//! grammar and the verdicts above build on these; metrics depends on nothing above it.

use super::catalog::{self, MetricKind};
use std::fmt;

/// A metric, optionally narrowed to one step: `http_req_duration{step:login}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricRef {
    pub name: String,
    pub step: Option<String>,
    /// `name{scenario:NAME}`: the steps of one of a file's `scenarios`.
    pub scenario: Option<String>,
}

/// Why a metric key of a threshold (`name`, `name{step:NAME}`) is refused.
#[derive(Debug, thiserror::Error)]
pub enum MetricRefError {
    #[error("`{0}`: a sub-metric is written `metric{{step:NAME}}` (missing `}}`)")]
    Unclosed(String),
    #[error("unknown metric `{name}`{hint}; known metrics: {known}")]
    Unknown {
        name: String,
        /// ` (did you mean `x`?)` or empty.
        hint: String,
        known: String,
    },
    #[error("`{key}`: a sub-metric is written `{name}{{step:NAME}}`")]
    NoTag { key: String, name: String },
    #[error("`{key}`: unknown tag `{tag}`; thresholds can select `step:NAME` or `scenario:NAME`")]
    UnknownTag { key: String, tag: String },
    #[error("`{key}`: `{name}` is not recorded per step; per-step metrics are {per_step}")]
    NotPerStep {
        key: String,
        name: String,
        per_step: String,
    },
    #[error("`{key}`: empty {tag} name")]
    EmptyName { key: String, tag: String },
}

impl MetricRef {
    /// Parse `name`, `name{step:NAME}` or `name{scenario:NAME}`; checks the metric exists and
    /// can carry the tag.
    pub fn parse(key: &str) -> Result<MetricRef, MetricRefError> {
        let key = key.trim();
        let (name, tags) = match key.find('{') {
            Some(i) => {
                let rest = &key[i + 1..];
                let inner = rest
                    .strip_suffix('}')
                    .ok_or_else(|| MetricRefError::Unclosed(key.to_string()))?;
                (&key[..i], Some(inner))
            }
            None => (key, None),
        };
        catalog::kind_of(name).ok_or_else(|| MetricRefError::Unknown {
            name: name.to_string(),
            hint: catalog::suggest(name)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default(),
            known: catalog::names().join(", "),
        })?;
        let mut scenario = None;
        let step = match tags {
            None => None,
            Some(inner) => {
                let (tag, value) = inner.split_once(':').ok_or_else(|| MetricRefError::NoTag {
                    key: key.to_string(),
                    name: name.to_string(),
                })?;
                if !matches!(tag.trim(), "step" | "scenario") {
                    return Err(MetricRefError::UnknownTag {
                        key: key.to_string(),
                        tag: tag.trim().to_string(),
                    });
                }
                if !catalog::has_step_tag(name) {
                    return Err(MetricRefError::NotPerStep {
                        key: key.to_string(),
                        name: name.to_string(),
                        per_step: catalog::STEP_TAGGED.join(", "),
                    });
                }
                let value = value.trim();
                if value.is_empty() {
                    return Err(MetricRefError::EmptyName {
                        key: key.to_string(),
                        tag: tag.trim().to_string(),
                    });
                }
                if tag.trim() == "scenario" {
                    scenario = Some(value.to_string());
                    None
                } else {
                    Some(value.to_string())
                }
            }
        };
        Ok(MetricRef {
            name: name.to_string(),
            step,
            scenario,
        })
    }

    pub fn kind(&self) -> MetricKind {
        catalog::kind_of(&self.name).unwrap_or(MetricKind::Counter)
    }
}

impl fmt::Display for MetricRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.step, &self.scenario) {
            (Some(s), _) => write!(f, "{}{{step:{}}}", self.name, s),
            (None, Some(s)) => write!(f, "{}{{scenario:{}}}", self.name, s),
            (None, None) => write!(f, "{}", self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Med,
    P(f64),
    Count,
    Rate,
    Value,
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agg::Avg => f.write_str("avg"),
            Agg::Min => f.write_str("min"),
            Agg::Max => f.write_str("max"),
            Agg::Med => f.write_str("med"),
            Agg::P(p) => write!(f, "p({p})"),
            Agg::Count => f.write_str("count"),
            Agg::Rate => f.write_str("rate"),
            Agg::Value => f.write_str("value"),
        }
    }
}

/// Something thresholds can be checked against.
pub trait Observe {
    /// The value of `agg` over `metric`, in the canonical unit; `None` when nothing was recorded.
    fn observe(&self, metric: &MetricRef, agg: Agg) -> Option<f64>;
}
