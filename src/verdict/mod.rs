//! The verdict of a run and the exit code it gives: one place for `run`, `merge` and the
//! reports. A run with thresholds is judged on them (`thresholds.rs`); a breakpoint run on the
//! stairs it passed (`breakpoint.rs`, which also judges each stair as the run goes); a segment
//! of a run is not judged alone (its merge is).

pub mod breakpoint;
pub mod thresholds;

use crate::exit;
use crate::sla::Outcome;
use crate::summary::VerdictLabel;

/// What a run is judged on.
pub struct Judged<'a> {
    pub outcomes: &'a [Outcome],
    /// The threshold with `abort_on_fail` that stopped the run.
    pub aborted_by: Option<&'a str>,
    /// A breakpoint run's findings.
    pub capacity: Option<&'a breakpoint::Capacity>,
    /// `--segment`: one part of a whole.
    pub segment: bool,
    /// Stopped by a signal (Ctrl-C) before its end.
    pub interrupted: bool,
}

/// The verdict, and with it the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub label: VerdictLabel,
    pub interrupted: bool,
}

impl Verdict {
    pub fn of(j: &Judged) -> Verdict {
        let passed = if j.segment {
            None
        } else if let Some(c) = j.capacity {
            Some(breakpoint::passed(c, j.interrupted))
        } else {
            Some(thresholds::passed(j.outcomes, j.aborted_by))
        };
        Verdict {
            label: match passed {
                None => VerdictLabel::NotJudged,
                Some(true) => VerdictLabel::Passed,
                Some(false) => VerdictLabel::Failed,
            },
            interrupted: j.interrupted,
        }
    }

    pub fn passed(self) -> bool {
        self.label == VerdictLabel::Passed
    }

    /// 130 when interrupted (whatever was judged), 99 when failed, else 0 (a segment, not
    /// judged alone, exits 0 unless it failed as a tool).
    pub fn exit_code(self) -> i32 {
        if self.interrupted {
            exit::INTERRUPTED
        } else if self.label == VerdictLabel::Failed {
            exit::THRESHOLDS
        } else {
            exit::OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::{MetricRef, Threshold};

    fn outcome(passed: bool) -> Outcome {
        let t = Threshold::parse(
            MetricRef::parse("http_req_duration").unwrap(),
            "p(95) < 500ms",
        )
        .unwrap();
        Outcome {
            threshold: t,
            observed: Some(1.0),
            passed,
            worst_window: None,
        }
    }

    fn cap(found: bool) -> breakpoint::Capacity {
        breakpoint::Capacity {
            steps: Vec::new(),
            max_sustainable_rps: found.then_some(100.0),
            knee_rps: None,
            broke_at_rps: None,
            stairs_planned: 3,
        }
    }

    fn code(j: Judged) -> (VerdictLabel, i32) {
        let v = Verdict::of(&j);
        (v.label, v.exit_code())
    }

    #[test]
    fn each_kind_of_run_gets_its_verdict_and_exit_code() {
        use VerdictLabel::*;
        let ok = [outcome(true)];
        let bad = [outcome(true), outcome(false)];
        fn j(o: &[Outcome]) -> Judged<'_> {
            Judged {
                outcomes: o,
                aborted_by: None,
                capacity: None,
                segment: false,
                interrupted: false,
            }
        }
        let (ok, bad) = (&ok[..], &bad[..]);
        assert_eq!(code(j(ok)), (Passed, 0));
        assert_eq!(code(j(bad)), (Failed, 99));
        assert_eq!(
            code(Judged {
                aborted_by: Some("http_req_failed rate < 1%"),
                ..j(ok)
            }),
            (Failed, 99)
        );
        assert_eq!(
            code(Judged {
                interrupted: true,
                ..j(ok)
            }),
            (Passed, 130)
        );
        assert_eq!(
            code(Judged {
                segment: true,
                ..j(bad)
            }),
            (NotJudged, 0)
        );
        let found = cap(true);
        let none = cap(false);
        assert_eq!(
            code(Judged {
                capacity: Some(&found),
                ..j(bad)
            }),
            (Passed, 0),
            "a breakpoint run passes when it found a sustainable rate, breached stairs or not"
        );
        assert_eq!(
            code(Judged {
                capacity: Some(&none),
                ..j(ok)
            }),
            (Failed, 99)
        );
        assert_eq!(
            code(Judged {
                capacity: Some(&found),
                interrupted: true,
                ..j(ok)
            }),
            (Failed, 130)
        );
    }
}
