//! The schedule maths without a clock: `Arrival::due`/`arrivals_until`, `Load::vus_at` over
//! stages and the segment stripes, as properties over random schedules. The real-time runs
//! (open_model, run) only check that the engine follows this maths; the maths itself is
//! checked here, exactly and fast.

use proptest::prelude::*;
use stampede::plan::{Arrival, Load, RateStage, Stage};
use stampede::segment::{Segment, Stripe};
use std::time::Duration;

fn arrival(start_rate: f64, stages: &[(u64, f64)]) -> Arrival {
    Arrival {
        start_rate,
        stages: stages
            .iter()
            .map(|&(ms, target)| RateStage {
                duration: Duration::from_millis(ms),
                target,
            })
            .collect(),
        pre_allocated_vus: 1,
        max_vus: 1,
        queue_size: 1,
        graceful_stop: Duration::ZERO,
        stairs: None,
    }
}

/// A random arrival schedule: a start rate and 1..5 stages of 0..5 s ramping to 0..3000/s.
fn schedules() -> impl Strategy<Value = Arrival> {
    (
        0.0..3000.0f64,
        prop::collection::vec((0u64..5000, 0.0..3000.0f64), 1..5),
    )
        .prop_map(|(start, stages)| arrival(start, &stages))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Iteration k is due when k iterations have arrived before it, due times never go back,
    /// and the last one due is the last whole arrival of the schedule.
    #[test]
    fn due_inverts_the_integral_of_the_rate(a in schedules()) {
        let total = a.arrivals_until(a.duration());
        let n = total.floor() as u64;
        let step = (n / 500).max(1);
        let mut last = Duration::ZERO;
        for k in (0..n).step_by(step as usize) {
            // An arrival that lands within a rounding error of the end may fall after it.
            let Some(t) = a.due(k) else {
                prop_assert!(total - k as f64 <= 1e-6, "k {k} of {total}: not due");
                continue;
            };
            prop_assert!(t >= last, "k {k}: due {t:?} before {last:?}");
            prop_assert!(t < a.duration(), "k {k}: due {t:?} after the end");
            last = t;
            let before = a.arrivals_until(t);
            prop_assert!((before - k as f64).abs() < 1e-3 * (1.0 + k as f64 / 1e4),
                "k {k}: {before} arrivals before {t:?}");
        }
        prop_assert_eq!(a.due(n + 1), None, "nothing is due after the schedule's {} arrivals", total);
    }

    /// Iterations due in each second are the integral of the rate over it (to within the
    /// rounding of one iteration at each edge): what the real-time runs count per second.
    #[test]
    fn each_second_holds_the_integral_of_its_rate(a in schedules()) {
        let secs = a.duration().as_secs();
        let mut per_second = vec![0u64; secs as usize + 1];
        let mut k = 0;
        while let Some(t) = a.due(k) {
            per_second[t.as_secs() as usize] += 1;
            k += 1;
        }
        for (s, &got) in per_second.iter().enumerate().take(secs as usize) {
            let want = a.arrivals_until(Duration::from_secs(s as u64 + 1))
                - a.arrivals_until(Duration::from_secs(s as u64));
            prop_assert!((got as f64 - want).abs() <= 1.0 + 1e-6, "second {s}: {got} vs {want}");
        }
    }

    /// Ramping VUs: at every instant between the stage's start and target, exactly the start
    /// at t = 0 and the previous target at each stage boundary, none after the end.
    #[test]
    fn ramping_vus_stay_on_the_line_between_targets(
        start in 0u32..500,
        stages in prop::collection::vec((1u64..20_000, 0u32..500), 1..5),
    ) {
        let load = Load::RampingVus {
            start_vus: start,
            stages: stages
                .iter()
                .map(|&(ms, target)| Stage { duration: Duration::from_millis(ms), target })
                .collect(),
            graceful_ramp_down: Duration::ZERO,
            graceful_stop: Duration::ZERO,
        };
        prop_assert_eq!(load.vus_at(Duration::ZERO), start);
        let mut from = start;
        let mut at = Duration::ZERO;
        for &(ms, target) in &stages {
            let len = Duration::from_millis(ms);
            prop_assert_eq!(load.vus_at(at), from, "stage start at {:?}", at);
            for i in 0..10u32 {
                let t = at + len * i / 10;
                let v = load.vus_at(t);
                prop_assert!(v >= from.min(target) && v <= from.max(target),
                    "{v} VUs at {t:?}, outside {from}..{target}");
                let exact = from as f64 + (target as f64 - from as f64) * i as f64 / 10.0;
                prop_assert!((v as f64 - exact).abs() <= 0.5 + 1e-6, "{v} VUs at {t:?}, line says {exact}");
            }
            from = target;
            at += len;
        }
        prop_assert_eq!(load.vus_at(at), 0, "no VUs after the last stage");
        prop_assert_eq!(load.max_vus(), stages.iter().map(|s| s.1).fold(start, u32::max));
    }

    /// Segments `i/n`: every numbered thing (VU, iteration) belongs to exactly one segment, each
    /// segment's m-th thing is one it owns, and the shares sum to the whole for every count.
    #[test]
    fn segment_stripes_partition_every_count(n in 1usize..7, count in 0u64..5000) {
        let stripes: Vec<Stripe> = (1..=n)
            .map(|i| Stripe::new(&Segment::parse(&format!("{i}/{n}"), None).unwrap()).unwrap())
            .collect();
        for j in 0..count.min(500) {
            prop_assert_eq!(stripes.iter().filter(|s| s.owns(j)).count(), 1, "thing {}", j);
        }
        for s in &stripes {
            for m in 0..50 {
                prop_assert!(s.owns(s.global(m)));
            }
            let share = s.share(count);
            prop_assert!(share.abs_diff(count / n as u64) <= 1, "share {share} of {count} / {n}");
        }
        prop_assert_eq!(stripes.iter().map(|s| s.share(count)).sum::<u64>(), count);
    }
}

/// The real-time ramping test's figures (0 → 4000/s over 10 s), exactly: 200 (2s - 1)
/// iterations due in second s.
#[test]
fn the_ramping_arrival_example_due_per_second() {
    let a = arrival(0.0, &[(10_000, 4000.0)]);
    let mut per_second = [0u64; 10];
    let mut k = 0;
    while let Some(t) = a.due(k) {
        per_second[t.as_secs() as usize] += 1;
        k += 1;
    }
    assert_eq!(k, 20_000);
    for (i, got) in per_second.iter().enumerate() {
        let s = i as u64 + 1;
        let want = 200 * (s * s - (s - 1) * (s - 1));
        assert!(got.abs_diff(want) <= 1, "second {s}: {got} vs {want}");
    }
}
