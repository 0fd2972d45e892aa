//! Capacity planning: the Universal Scalability Law fitted to measurements, Little's law for
//! the demand, and the fleet size that serves it (`stampede plan`).

pub mod chart;
pub mod fit;
pub mod fleet;
pub mod little;
pub mod lm;
mod plan_error;
pub mod planner;
pub mod points;
pub mod render;
pub mod uncertainty;
pub mod usl;

/// One measurement: throughput (per second) at a concurrency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub concurrency: f64,
    pub throughput: f64,
}
