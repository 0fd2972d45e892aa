//! What a streaming step (`sse:`) asks of its responses: where the content of each event is,
//! where the server reports its token count, the end marker, how long a stream may last, and the
//! per-stream objectives that decide goodput.

use std::time::Duration;

/// Where an event's content (a token) is.
#[derive(Debug, Clone)]
pub enum Content {
    /// A JSONPath into each event's data (OpenAI: `$.choices[0].delta.content`).
    Json(serde_json_path::JsonPath),
    /// Every event's data is content.
    Data,
}

/// A per-stream objective, taken from the step's `stream_*` thresholds (`p(99) < 200ms` on
/// `stream_ttft` makes "TTFT < 200 ms" the objective each stream is judged by for goodput).
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub metric: SloMetric,
    pub bound: Duration,
    /// `<=` rather than `<`.
    pub inclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SloMetric {
    Ttfb,
    Ttft,
    Tpot,
    Duration,
}

impl SloMetric {
    /// The metric a threshold names, if it is one a single stream can be judged by.
    pub fn from_metric(name: &str) -> Option<SloMetric> {
        Some(match name {
            "stream_ttfb" => SloMetric::Ttfb,
            "stream_ttft" => SloMetric::Ttft,
            "stream_tpot" => SloMetric::Tpot,
            "stream_duration" => SloMetric::Duration,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub content: Content,
    /// A JSONPath to the server's output token count (OpenAI: `$.usage.completion_tokens`).
    pub usage: Option<serde_json_path::JsonPath>,
    /// The data that ends the stream (OpenAI: `[DONE]`).
    pub done: Option<String>,
    /// How long one stream may last (it replaces `http.timeout` for this step).
    pub timeout: Duration,
    pub slos: Vec<Slo>,
}

pub const DEFAULT_CONTENT: &str = "$.choices[0].delta.content";
pub const DEFAULT_USAGE: &str = "$.usage.completion_tokens";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

impl StreamSpec {
    /// The defaults: OpenAI's chat-completion chunks.
    pub fn openai() -> Self {
        StreamSpec {
            content: serde_json_path::JsonPath::parse(DEFAULT_CONTENT)
                .map_or(Content::Data, Content::Json),
            usage: serde_json_path::JsonPath::parse(DEFAULT_USAGE).ok(),
            done: Some("[DONE]".into()),
            timeout: DEFAULT_TIMEOUT,
            slos: Vec::new(),
        }
    }
}
