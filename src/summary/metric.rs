//! `metrics.<name>`: one of k6's four shapes (trend, counter, rate, gauge), each with the
//! thresholds judged on it (`true`: the threshold FAILED, as k6 writes it).

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

/// Threshold marks inside a metric: expression → breached.
pub type Marks = IndexMap<String, bool>;

/// A metric of summary.json, in the shape of its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Metric {
    Trend(Trend),
    Counter(Counter),
    Rate(Rate),
    Gauge(Gauge),
}

/// A distribution, in ms (`count` is the number of samples).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trend {
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    pub max: f64,
    #[serde(rename = "p(50)")]
    pub p50: f64,
    #[serde(rename = "p(90)")]
    pub p90: f64,
    #[serde(rename = "p(95)")]
    pub p95: f64,
    #[serde(rename = "p(99)")]
    pub p99: f64,
    #[serde(rename = "p(99.9)")]
    pub p999: f64,
    #[serde(rename = "p(99.99)")]
    pub p9999: f64,
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Marks>,
}

/// A count and its rate per second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counter {
    pub count: u64,
    pub rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Marks>,
}

/// A fraction of true values: `passes` are the true ones (failed requests for
/// `http_req_failed`, passed checks for `checks`); `value` is `rate` under k6's export key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub rate: f64,
    pub value: f64,
    pub passes: u64,
    pub fails: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Marks>,
}

/// A level over time (VUs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gauge {
    pub value: u64,
    pub min: u64,
    pub max: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Marks>,
}

impl<'de> Deserialize<'de> for Metric {
    /// The kind is told by its keys (`p(50)`: trend, `passes`: rate, `count`: counter,
    /// `value`: gauge); a bad field is then named by its path inside the metric.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        fn typed<T: serde::de::DeserializeOwned, E: Error>(
            map: serde_json::Map<String, serde_json::Value>,
        ) -> Result<T, E> {
            serde_path_to_error::deserialize(serde_json::Value::Object(map))
                .map_err(|e| E::custom(format!("at .{}: {}", e.path(), e.inner())))
        }
        if map.contains_key("p(50)") {
            typed(map).map(Metric::Trend)
        } else if map.contains_key("passes") {
            typed(map).map(Metric::Rate)
        } else if map.contains_key("count") {
            typed(map).map(Metric::Counter)
        } else if map.contains_key("value") {
            typed(map).map(Metric::Gauge)
        } else {
            Err(D::Error::custom(
                "not a metric: none of `p(50)` (trend), `passes` (rate), `count` (counter), `value` (gauge)",
            ))
        }
    }
}

impl Metric {
    pub fn trend(&self) -> Option<&Trend> {
        match self {
            Metric::Trend(t) => Some(t),
            _ => None,
        }
    }

    pub fn counter(&self) -> Option<&Counter> {
        match self {
            Metric::Counter(c) => Some(c),
            _ => None,
        }
    }

    pub fn rate(&self) -> Option<&Rate> {
        match self {
            Metric::Rate(r) => Some(r),
            _ => None,
        }
    }

    pub fn gauge(&self) -> Option<&Gauge> {
        match self {
            Metric::Gauge(g) => Some(g),
            _ => None,
        }
    }

    /// A counter's count, or a trend's number of samples.
    pub fn count(&self) -> Option<u64> {
        match self {
            Metric::Counter(c) => Some(c.count),
            Metric::Trend(t) => Some(t.count),
            _ => None,
        }
    }

    /// The threshold marks judged on this metric.
    pub fn marks(&self) -> Option<&Marks> {
        match self {
            Metric::Trend(t) => t.thresholds.as_ref(),
            Metric::Counter(c) => c.thresholds.as_ref(),
            Metric::Rate(r) => r.thresholds.as_ref(),
            Metric::Gauge(g) => g.thresholds.as_ref(),
        }
    }

    /// Set the threshold marks (none: no key at all).
    pub fn set_marks(&mut self, marks: Marks) {
        let m = (!marks.is_empty()).then_some(marks);
        match self {
            Metric::Trend(t) => t.thresholds = m,
            Metric::Counter(c) => c.thresholds = m,
            Metric::Rate(r) => r.thresholds = m,
            Metric::Gauge(g) => g.thresholds = m,
        }
    }
}
