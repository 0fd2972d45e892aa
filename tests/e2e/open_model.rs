//! Open-model executors and honest latency, end to end: the real binary against the built-in
//! target, with expectations derived from the schedule and the stall geometry, not from earlier
//! runs.

use crate::common::*;
use serde_json::Value;
use std::process::{Child, Command, Stdio};

/// `stampede target --stall HOLD/EVERY` on a free port.
struct StallTarget {
    child: Child,
    _out: std::io::BufReader<std::process::ChildStdout>,
    url: String,
}

impl StallTarget {
    fn start(stall: &str) -> StallTarget {
        use std::io::BufRead;
        let mut child = Command::new(BIN)
            .args(["target", "--addr", "127.0.0.1:0", "--stall", stall])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn target");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("banner");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("URL in banner")
            .to_string();
        StallTarget {
            child,
            _out: out,
            url,
        }
    }
}

impl Drop for StallTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metric(sum: &Value, name: &str, field: &str) -> f64 {
    sum["metrics"][name][field]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}.{field} in {}", sum["metrics"]))
}

/// Latency quantile q of requests arriving uniformly in time at a server that holds every
/// response during the first `hold` of every `every`: a request arriving `u` into a stall waits
/// `hold - u`, so P(latency > x) = (hold - x) / every, and the q-quantile is
/// `hold - (1 - q) * every` (when that is positive).
fn stall_quantile(q: f64, hold_ms: f64, every_ms: f64) -> f64 {
    (hold_ms - (1.0 - q) * every_ms).max(0.0)
}

fn stalled_run(max_vus: u32) -> Value {
    // 20 s at 500/s, judged on its latency quantiles: in the serial group.
    let _one = heavy();
    let t = StallTarget::start("1s/5s");
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ executor: constant-arrival-rate, rate: 500, duration: 20s, \
         pre_allocated_vus: 20, max_vus: {max_vus} }}\nflows:\n  - steps: [ {{ name: fast, get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    s.summary()
}

fn check_stall_truth(sum: &Value) {
    let (p90, p99) = (
        stall_quantile(0.90, 1000.0, 5000.0),
        stall_quantile(0.99, 1000.0, 5000.0),
    );
    assert!((p90 - 500.0).abs() < 1e-6 && (p99 - 950.0).abs() < 1e-6);
    assert_eq!(metric(sum, "iterations", "count"), 10_000.0);
    assert_eq!(metric(sum, "dropped_iterations", "count"), 0.0);
    let got90 = metric(sum, "http_req_duration", "p(90)");
    let got99 = metric(sum, "http_req_duration", "p(99)");
    // Shown with --nocapture: the figures beside the truth they are judged against.
    eprintln!(
        "stall 1s/5s at 500/s: p90 {got90:.1} ms (truth {p90:.0}), p99 {got99:.1} ms (truth {p99:.0}), \
         iterations {}, dropped {}, vus max {}",
        metric(sum, "iterations", "count"),
        metric(sum, "dropped_iterations", "count"),
        metric(sum, "vus", "max")
    );
    assert!(
        (p90 - 100.0..=p90 + 100.0).contains(&got90),
        "p90 {got90} vs truth {p90}"
    );
    assert!(
        (p99 - 100.0..=p99 + 100.0).contains(&got99),
        "p99 {got99} vs truth {p99}"
    );
}

#[test]
fn a_stalling_target_shows_in_p90_and_p99_with_vus_to_spare() {
    let sum = stalled_run(2000);
    check_stall_truth(&sum);
    // Enough VUs: every iteration starts on time, so both views agree. (The queued run below
    // lags by up to the whole 1 s stall; 100 ms leaves room for the 500 VUs started during a
    // stall while other tests share the 2 cores.)
    let lag = metric(&sum, "schedule_lag", "p(99)");
    assert!(lag < 100.0, "schedule lag p99 {lag} ms");
    assert!(
        metric(&sum, "vus", "max") > 400.0,
        "a VU per stalled request"
    );
}

#[test]
fn a_stalling_target_shows_in_p90_and_p99_with_queued_iterations() {
    let sum = stalled_run(20);
    check_stall_truth(&sum);
    assert!(metric(&sum, "vus", "max") <= 20.0);
    // The uncorrected view is what a closed-loop tool would report: the stall mostly vanishes.
    let raw90 = metric(&sum, "http_req_duration_uncorrected", "p(90)");
    assert!(raw90 < 100.0, "uncorrected p90 {raw90}");
    // Queued iterations started late, by up to the whole stall.
    let lag = metric(&sum, "schedule_lag", "max");
    assert!(lag > 800.0, "schedule lag max {lag}");
}

#[test]
fn constant_arrival_rate_runs_every_due_iteration() {
    let _one = heavy();
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ executor: constant-arrival-rate, rate: 5000, duration: 10s, \
         pre_allocated_vus: 50, max_vus: 1000 }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let n = metric(&sum, "iterations", "count");
    eprintln!("constant-arrival-rate 5000/s for 10 s: {n} iterations (schedule 50,000)");
    assert!(
        (n - 50_000.0).abs() <= 250.0,
        "{n} iterations, schedule says 50,000"
    );
    assert_eq!(Some(n as u64), t.served()["requests"].as_u64());
}

#[test]
fn ramping_arrival_rate_follows_the_schedule_second_by_second() {
    let _one = heavy();
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ executor: ramping-arrival-rate, start_rate: 0, \
         stages: [ {{ duration: 4s, target: 4000 }} ], pre_allocated_vus: 50, max_vus: 1000 }}\n\
         flows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    // Every due iteration ran, and the server got each: 0 → 4000/s over 4 s is 8,000, exactly
    // (the maths itself is checked without a clock in schedule.rs, and the dispatcher's exact
    // count in each virtual second on a paused clock in src/engine/worker_tests.rs; this run
    // checks the engine against a real server, so 4 s of it are enough).
    assert_eq!(metric(&sum, "iterations", "count"), 8_000.0);
    assert_eq!(t.served()["requests"].as_u64(), Some(8_000));
    assert_eq!(metric(&sum, "dropped_iterations", "count"), 0.0);
    // rate(t) = 1000 t, so iterations due in second s (from 1) = 500 (s^2 - (s-1)^2). An
    // iteration is counted in the second it ends, so timing jitter moves some across a second's
    // edge: allowed, 2 % plus 25 ms of the rate at the edge (measured with the former 10 s schedule
    // to 4000/s on 2 shared cores, 5 runs:
    // at most 1 % in seconds 2-10, and 11 of 200 in second 1 under a load average of 15).
    let timeline = sum["timeline"].as_array().expect("timeline");
    for s in 1..=4u64 {
        let want = 500.0 * ((s * s) as f64 - ((s - 1) * (s - 1)) as f64);
        let got = timeline
            .iter()
            .find(|p| p["second"] == s)
            .and_then(|p| p["iterations"].as_f64())
            .unwrap_or(0.0);
        eprintln!(
            "ramping 0→4000/s, second {s}: {got} iterations, schedule {want} ({:+.2} %)",
            (got - want) / want * 100.0
        );
        let jitter = 1000.0 * s as f64 * 0.025;
        assert!(
            (got - want).abs() <= (want * 0.02).max(4.0) + jitter,
            "second {s}: {got} iterations, schedule says {want}"
        );
    }
}

#[test]
fn pacing_starts_iterations_on_the_period_and_reports_overruns_as_lag() {
    let _one = heavy();
    let t = Target::start();
    // On time: 10 VUs, an iteration every 500 ms for 3 s (each VU's first start spread over one
    // period) = 6 iterations each.
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ vus: 10, duration: 3s, think_time: pacing(500ms) }}\n\
         flows:\n  - steps: [ {{ get: \"/delay?ms=50\" }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    // A VU whose spread start fell late in its period starts its 6th iteration in the run's
    // last 500 ms: on a busy machine (CI runs tests side by side) that start can slip past the
    // end (one such VU gave 59 in a CI run). Back-to-back iterations would give ~600, no
    // spread or a lost period far fewer.
    let iterations = metric(&sum, "iterations", "count");
    assert!(
        (58.0..=60.0).contains(&iterations),
        "{iterations} iterations, pacing says 60: {}",
        text(&o)
    );
    assert!(metric(&sum, "schedule_lag", "max") < 50.0);

    // Overrunning: 250 ms iterations paced at 100 ms fall further behind each time.
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ vus: 2, duration: 2s, think_time: pacing(100ms) }}\n\
         flows:\n  - steps: [ {{ get: \"/delay?ms=250\" }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let lag = metric(&sum, "schedule_lag", "max");
    assert!(lag > 1000.0, "lag max {lag}");
    let raw = metric(&sum, "http_req_duration_uncorrected", "max");
    let corrected = metric(&sum, "http_req_duration", "max");
    assert!(raw < 400.0, "uncorrected max {raw}");
    assert!(corrected > 1000.0, "corrected max {corrected}");
}

#[test]
fn rate_flag_turns_any_scenario_into_an_arrival_rate_run_or_rescales_one() {
    let _one = heavy();
    let t = Target::start();
    // A closed-model scenario, run at 300 iterations/s for 3 s instead.
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ vus: 5, duration: 30s }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &["--rate", "300", "--duration", "3s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    assert_eq!(sum["executor"], "constant-arrival-rate");
    let n = metric(&sum, "iterations", "count");
    eprintln!("--rate 300 --duration 3s: {n} iterations (schedule 900)");
    assert!(
        (n - 900.0).abs() <= 9.0,
        "{n} iterations, schedule says 900"
    );
    assert_eq!(Some(n as u64), t.served()["requests"].as_u64());

    // An arrival-rate schedule (0 → 100/s over 4 s) rescaled to peak at 400/s: 800 in all.
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ executor: ramping-arrival-rate, stages: [ {{ duration: 4s, target: 100 }} ], \
         pre_allocated_vus: 5, max_vus: 20 }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &["--rate", "400"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let n = metric(&s.summary(), "iterations", "count");
    assert!(
        (n - 800.0).abs() <= 8.0,
        "{n} iterations, schedule says 800"
    );

    // Without --duration a closed-model scenario has no rate to rescale: exit 2, nothing sent.
    let before = t.served()["requests"].as_u64();
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ vus: 5, duration: 3s }}\nflows:\n  - steps: [ {{ get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &["--rate", "300"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("add --duration"), "{}", text(&o));
    assert_eq!(t.served()["requests"].as_u64(), before);
}
