//! stampede: load testing and capacity planning driven by YAML scenarios.
//!
//! Data flows one way: scenario → plan → engine → metrics → (progress, SLA verdict, reports).

pub mod barrier;
pub mod capacity;
pub mod commands;
pub mod engine;
pub mod k8s;
pub mod live_wire;
pub mod merge;
pub mod metrics;
pub mod output;
pub mod part;
pub mod plan;
pub mod processes;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod segment;
pub mod sla;
pub mod summary;
pub mod target;
pub mod tui;
pub mod units;
pub mod verdict;
pub mod windows;

pub mod outcome;

pub use commands::{cli, run};
pub use outcome::{Failure, exit, say};
