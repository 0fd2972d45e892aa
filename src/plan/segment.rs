//! A plan cut to one execution segment (`--segment`, distributed runs: docs/distributed.md).

use super::{Feed, Load, Pick, Plan};
use crate::segment::Part;
use std::sync::Arc;

/// Why a plan cannot be cut to a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentPlanError {
    #[error(
        "executor: breakpoint stops at the first stair that fails, which one segment cannot judge alone: run it in one process"
    )]
    Breakpoint,
}

/// Make `plan` run only `part` of the whole: arrival-rate VU pools and queues and
/// shared-iteration counts become the segment's striped share, rows of `pick: unique` feeds are
/// dealt out by segment, and the engine reads the stripe for VU targets over time and for which
/// iterations of the global arrival schedule are this process's.
pub fn apply_segment(plan: &mut Plan, part: Part) -> Result<(), SegmentPlanError> {
    let stripe = part.stripe.clone();
    let n = |v: u32| stripe.share(v as u64) as u32;
    let scale = |load: &mut Load| -> Result<(), SegmentPlanError> {
        match load {
            Load::RampingArrivalRate(a) if a.stairs.is_some() => Err(SegmentPlanError::Breakpoint),
            Load::ConstantArrivalRate(a) | Load::RampingArrivalRate(a) => {
                // Each part needs a VU and a queue slot of its own to run its iterations.
                a.max_vus = n(a.max_vus).max(1);
                a.pre_allocated_vus = n(a.pre_allocated_vus).min(a.max_vus);
                a.queue_size = n(a.queue_size).max(1);
                Ok(())
            }
            Load::SharedIterations(i) => {
                i.iterations = stripe.share(i.iterations);
                Ok(())
            }
            _ => Ok(()),
        }
    };
    let mut scenarios = Vec::with_capacity(plan.scenarios.len());
    for s in &plan.scenarios {
        let mut s = (**s).clone();
        scale(&mut s.load)?;
        scenarios.push(Arc::new(s));
    }
    plan.scenarios = scenarios;
    let feeds: Vec<Arc<Feed>> = plan
        .feeds
        .iter()
        .map(|f| {
            if f.pick != Pick::Unique {
                return f.clone();
            }
            Arc::new(Feed {
                name: f.name.clone(),
                columns: f.columns.clone(),
                rows: f
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| stripe.owns(*j as u64))
                    .map(|(_, r)| r.clone())
                    .collect(),
                pick: f.pick,
            })
        })
        .collect();
    plan.feeds = feeds;
    plan.segment = Some(part);
    Ok(())
}
