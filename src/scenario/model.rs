//! The scenario file as written: serde types that mirror the YAML, unknown keys refused.

use super::duration::parse_duration;
pub use crate::units::percent::{Share, parse_percent};
pub use crate::units::think::{ThinkSpec, parse_think};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub target: Option<String>,
    #[serde(default)]
    pub http: RawHttp,
    pub load: Option<RawLoad>,
    pub flows: Option<Vec<RawFlow>>,
    /// Several scenarios run at once, each with its own load and flows.
    #[serde(default)]
    pub scenarios: IndexMap<String, RawPart>,
    #[serde(default)]
    pub thresholds: IndexMap<String, serde_yaml_ng::Value>,
    /// Variables with their initial values (`{{NAME}}`).
    #[serde(default)]
    pub variables: IndexMap<String, serde_yaml_ng::Value>,
    /// CSV data feeds (`{{data.FEED.COLUMN}}`).
    #[serde(default)]
    pub data: IndexMap<String, RawFeed>,
    /// Who the users are, for `stampede plan` (a run ignores it).
    pub capacity: Option<RawCapacity>,
}

/// `capacity:`: the user population a scenario stands for (see docs/capacity-planning.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    pub registered_users: Option<u64>,
    /// A share of the registered users active on a day (`10%`).
    pub daily_active: Option<Share>,
    /// A share of the daily active users online at the peak (`10%`), or a number of users.
    pub peak_concurrent: Option<ShareOrCount>,
    /// Think time between requests; `load.think_time` when absent.
    pub think_time: Option<ThinkSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPart {
    pub load: RawLoad,
    pub flows: Vec<RawFlow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub csv: String,
    pub pick: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub basic: Option<RawBasic>,
    pub bearer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasic {
    pub user: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExtract {
    pub json: Option<String>,
    pub regex: Option<String>,
    pub header: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub timeout: Option<Dur>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// `per-vu` (default) or `pooled`.
    pub connections: Option<String>,
    pub max_connections: Option<u32>,
    pub local_ips: Option<OneOrMany<String>>,
    /// A cookie jar per VU (default true).
    pub cookies: Option<bool>,
    pub auth: Option<RawAuth>,
    /// TLS settings for an `https://` target.
    pub tls: Option<RawTls>,
    /// `"1.1"` (default), `"2"` or `"auto"`; a bare YAML number is accepted too.
    pub version: Option<serde_yaml_ng::Value>,
    /// Allow HTTP/2 over cleartext (h2c with prior knowledge) for `version: "2"` on http://.
    pub h2c: Option<bool>,
    /// Redirects followed per step (default 10; 0 = never).
    pub max_redirects: Option<u32>,
    /// `gzip`, `br`, `deflate` or `none`: sent as Accept-Encoding, kept bodies decoded.
    pub compression: Option<String>,
    /// `http://[user:password@]HOST:PORT`, or `none` to ignore HTTP(S)_PROXY.
    pub proxy: Option<String>,
    /// `HOST:PORT: IP` overrides of name resolution, as curl's `--resolve`.
    #[serde(default)]
    pub resolve: IndexMap<String, String>,
    /// Re-resolve the target's name this often (default 5m; `0s`: resolve once at start).
    pub dns_ttl: Option<Dur>,
    /// `idempotent`: send an idempotent request again, once, when a reused connection gave no
    /// response byte (default `none`: never send a request twice).
    pub retry: Option<String>,
    /// Header lines allowed in a response head (default 256).
    pub max_header_lines: Option<u32>,
    /// The most of a response body kept for checks and extraction: bytes, or `512KiB`, `10MiB`.
    pub max_body: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM file of CA certificates to trust instead of the system roots.
    pub ca_file: Option<String>,
    pub insecure: Option<bool>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub server_name: Option<String>,
    pub resumption: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub executor: Option<String>,
    pub vus: Option<u32>,
    pub duration: Option<Dur>,
    pub start_vus: Option<u32>,
    pub stages: Option<Vec<RawStage>>,
    pub graceful_ramp_down: Option<Dur>,
    pub graceful_stop: Option<Dur>,
    pub think_time: Option<ThinkSpec>,
    pub spread_start: Option<bool>,
    pub rate: Option<f64>,
    pub start_rate: Option<f64>,
    pub time_unit: Option<Dur>,
    pub pre_allocated_vus: Option<u32>,
    pub max_vus: Option<u32>,
    pub queue_size: Option<u32>,
    pub iterations: Option<u64>,
    pub max_duration: Option<Dur>,
    pub step_rate: Option<f64>,
    pub step_duration: Option<Dur>,
    pub max_rate: Option<f64>,
    pub warmup: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub duration: Dur,
    pub target: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub name: Option<String>,
    pub weight: Option<u32>,
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<String>,
    pub get: Option<String>,
    pub post: Option<String>,
    pub put: Option<String>,
    pub patch: Option<String>,
    pub delete: Option<String>,
    pub head: Option<String>,
    pub options: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    pub body: Option<String>,
    pub json: Option<serde_yaml_ng::Value>,
    pub expect: Option<RawExpect>,
    pub think_time: Option<ThinkSpec>,
    #[serde(default)]
    pub extract: IndexMap<String, RawExtract>,
    pub auth: Option<RawAuth>,
    /// A streaming step: `true` or `{ content, usage, done, timeout }`.
    pub sse: Option<serde_yaml_ng::Value>,
    /// A WebSocket step: `/path` or `{ url, subprotocols, timeout, actions }`.
    pub ws: Option<serde_yaml_ng::Value>,
    /// The actions of a WebSocket step (with `ws: /path`).
    pub actions: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<OneOrMany<u16>>,
    pub body_contains: Option<String>,
    #[serde(default)]
    pub json: IndexMap<String, serde_yaml_ng::Value>,
    #[serde(default)]
    pub header: IndexMap<String, String>,
}

/// `x` or `[x, y]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(x) => vec![x],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A duration written with units; parse errors point at the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `30s`, `500ms` or `1m30s`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                parse_duration(s).map(Dur).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Dur, E> {
                if n == 0 {
                    Ok(Dur(Duration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "duration `{n}` needs a unit, e.g. `{n}s` or `{n}ms`"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration `{n}` must be positive and have a unit, e.g. `30s`"
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration `{n}` needs a unit, e.g. `{n}s`"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// `10%` (or a number below 1): a share; a whole number: that many users.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShareOrCount {
    Share(f64),
    Count(u64),
}

impl<'de> Deserialize<'de> for ShareOrCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ShareOrCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a share such as `10%` or a number of users such as `5000`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ShareOrCount, E> {
                parse_percent(s).map(ShareOrCount::Share).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ShareOrCount, E> {
                if v > 0.0 && v < 1.0 {
                    Ok(ShareOrCount::Share(v))
                } else {
                    Err(E::custom(format!(
                        "`{v}`: a number of users is a whole number (`5000`); a share is written `10%`"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ShareOrCount, E> {
                if v == 0 {
                    Err(E::custom("peak_concurrent must be above zero"))
                } else {
                    Ok(ShareOrCount::Count(v))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ShareOrCount, E> {
                Err(E::custom(format!(
                    "`{v}`: a number of users must be above zero"
                )))
            }
        }
        d.deserialize_any(V)
    }
}
