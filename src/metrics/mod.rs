//! Metrics: per-worker recorders (HDR histograms, counters), their aggregation into totals and a
//! per-second timeline, and the catalog of metric names.

pub mod aggregate;
pub mod catalog;
pub mod hdr;
pub mod protocol;
pub mod query;
pub mod recorder;
pub mod stream;
pub mod ws;

pub use aggregate::{Aggregator, RunResult, Snapshot, TimelinePoint};
pub use recorder::{ErrorKind, Recorder, Sample, StepStats, TlsReason};
