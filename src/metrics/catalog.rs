//! The metrics stampede records, by name (k6's names), with their kinds.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A distribution of durations (HDR histogram), reported in ms.
    Trend,
    /// A monotonically growing count, reported as `count` and `rate` (per second).
    Counter,
    /// A fraction of true values, reported as `rate`.
    Rate,
    /// A level over time, reported as `value`, `min`, `max`.
    Gauge,
}

impl MetricKind {
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Trend => "trend",
            MetricKind::Counter => "counter",
            MetricKind::Rate => "rate",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// Every metric, in report order.
pub const METRICS: &[(&str, MetricKind)] = &[
    ("http_req_duration", MetricKind::Trend),
    ("http_req_duration_uncorrected", MetricKind::Trend),
    ("http_req_waiting", MetricKind::Trend),
    ("http_req_connecting", MetricKind::Trend),
    ("http_req_tls_handshaking", MetricKind::Trend),
    ("http_req_blocked", MetricKind::Trend),
    ("iteration_duration", MetricKind::Trend),
    ("schedule_lag", MetricKind::Trend),
    ("http_reqs", MetricKind::Counter),
    ("http_req_failed", MetricKind::Rate),
    ("checks", MetricKind::Rate),
    ("iterations", MetricKind::Counter),
    ("dropped_iterations", MetricKind::Counter),
    ("iterations_interrupted", MetricKind::Counter),
    ("http_req_retries", MetricKind::Counter),
    ("data_sent", MetricKind::Counter),
    ("data_received", MetricKind::Counter),
    ("vus", MetricKind::Gauge),
    ("vus_max", MetricKind::Gauge),
    // Streaming steps (`sse:`); see docs/streaming.md.
    ("stream_ttfb", MetricKind::Trend),
    ("stream_ttft", MetricKind::Trend),
    ("stream_inter_token", MetricKind::Trend),
    ("stream_tpot", MetricKind::Trend),
    ("stream_duration", MetricKind::Trend),
    ("streams", MetricKind::Counter),
    ("stream_events", MetricKind::Counter),
    ("stream_tokens", MetricKind::Counter),
    ("stream_parse_errors", MetricKind::Counter),
    ("stream_goodput", MetricKind::Rate),
    // WebSocket steps (`ws:`).
    ("ws_connecting", MetricKind::Trend),
    ("ws_msg_rtt", MetricKind::Trend),
    ("ws_session_duration", MetricKind::Trend),
    ("ws_sessions", MetricKind::Counter),
    ("ws_msgs_sent", MetricKind::Counter),
    ("ws_msgs_received", MetricKind::Counter),
];

/// Metrics that are also recorded per step (sub-metrics `name{step:NAME}`).
pub const STEP_TAGGED: &[&str] = &[
    "http_req_duration",
    "http_req_duration_uncorrected",
    "http_req_waiting",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_blocked",
    "http_reqs",
    "http_req_failed",
    "checks",
    "stream_ttfb",
    "stream_ttft",
    "stream_inter_token",
    "stream_tpot",
    "stream_duration",
    "streams",
    "stream_events",
    "stream_tokens",
    "stream_parse_errors",
    "stream_goodput",
    "ws_connecting",
    "ws_msg_rtt",
    "ws_session_duration",
    "ws_sessions",
    "ws_msgs_sent",
    "ws_msgs_received",
];

pub fn kind_of(name: &str) -> Option<MetricKind> {
    METRICS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

pub fn has_step_tag(name: &str) -> bool {
    STEP_TAGGED.contains(&name)
}

pub fn names() -> Vec<&'static str> {
    METRICS.iter().map(|(n, _)| *n).collect()
}

/// The closest known metric name, if one is close enough to be a typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    crate::units::suggest::did_you_mean(name, METRICS.iter().map(|(n, _)| *n))
}
