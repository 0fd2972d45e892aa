//! Live views of a running test. They only read the aggregator's totals and timeline.

pub mod progress;
