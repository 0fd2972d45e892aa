//! Leaf layer: units and wording shared by every other layer, importing nothing of the crate.
//! Durations with units, percentages, the think-time grammar, digit grouping, and "did you
//! mean" suggestions. `.ci/layers.sh` keeps this module free of `crate::` imports.

pub mod duration;
pub mod number;
pub mod percent;
pub mod suggest;
pub mod think;
