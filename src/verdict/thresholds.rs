//! The verdict of a run with thresholds: every threshold held over the whole run (or its
//! windows) and none aborted it.

use crate::sla::Outcome;

/// Every threshold held and none with `abort_on_fail` stopped the run.
pub fn passed(outcomes: &[Outcome], aborted_by: Option<&str>) -> bool {
    aborted_by.is_none() && outcomes.iter().all(|o| o.passed)
}

/// How many thresholds were breached.
pub fn breached(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| !o.passed).count()
}
