//! The validated, normalised plan: what the engine executes. Built from a scenario file plus CLI
//! overrides; the engine never sees YAML or clap types.

mod segment;
pub mod stream;
pub mod template;
pub mod ws;

mod feed;
mod flows;
mod load;
mod protocol;
mod target;

pub use feed::*;
pub use flows::*;
pub use load::*;
pub use protocol::*;
pub use target::*;

use crate::sla::Threshold;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method};
pub use segment::{SegmentPlanError, apply_segment};
use std::sync::Arc;

use std::time::Duration;
use template::Template;

/// The whole run of one scenario file: what every scenario shares (target, HTTP options, steps,
/// checks, variables, feeds, thresholds) and the scenarios themselves, run at once. A file
/// with top-level `load` and `flows` is a plan with one unnamed scenario.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub target: Target,
    /// Where the target came from, for messages: `file:line:col` or `--target`.
    pub target_origin: String,
    pub http: HttpOptions,
    /// Names of the steps as metric tags, indexed by `Step::metric` (every scenario's steps).
    pub step_names: Vec<String>,
    pub thresholds: Vec<Threshold>,
    /// Each VU's variables (declared with a value, or extracted), by index; initial values.
    pub variables: Vec<(String, Bytes)>,
    /// CSV data feeds, loaded once and shared read-only by every VU of every scenario.
    pub feeds: Vec<Arc<Feed>>,
    /// A cookie jar per VU (`http.cookies`, on by default).
    pub cookies: bool,
    /// Every check (expectation) of every step, by id.
    pub checks: Vec<CheckInfo>,
    /// The scenarios, in file order: at least one. Their step, check, variable and feed
    /// indices point into this plan's lists.
    pub scenarios: Vec<Arc<ScenarioPlan>>,
    /// `--segment`: this process runs one part of the whole (see `crate::segment`).
    pub segment: Option<crate::segment::Part>,
}

/// One scenario of a plan: its own schedule, think time and flows.
#[derive(Debug, Clone)]
pub struct ScenarioPlan {
    /// The name under `scenarios:`; empty for the one scenario of a file with top-level
    /// `load` and `flows`.
    pub name: String,
    pub load: Load,
    pub think: Think,
    /// VUs of the initial population begin after a random part of one think time, so the load
    /// is steady from the first second instead of arriving as one synchronized herd.
    pub spread_start: bool,
    pub flows: Vec<Flow>,
    /// Its steps (metric indices), for `{scenario:NAME}`.
    pub steps: Vec<usize>,
}

impl ScenarioPlan {
    /// Pick a flow index by weight from a uniform draw in `0..total_weight`.
    pub fn flow_for(&self, mut draw: u64) -> usize {
        for (i, f) in self.flows.iter().enumerate() {
            if draw < f.weight as u64 {
                return i;
            }
            draw -= f.weight as u64;
        }
        self.flows.len().saturating_sub(1)
    }

    pub fn total_weight(&self) -> u64 {
        self.flows.iter().map(|f| f.weight as u64).sum()
    }

    /// Requests per iteration, on average over the flows' weights (1 when no flow has weight).
    pub fn requests_per_iteration(&self) -> f64 {
        let total = self.total_weight();
        if total == 0 {
            return 1.0;
        }
        self.flows
            .iter()
            .map(|f| f.weight as f64 * f.steps.len() as f64)
            .sum::<f64>()
            / total as f64
    }
}

impl Plan {
    /// The address `http.resolve` gives the target's host and port, if it overrides DNS.
    pub fn resolve_override(&self) -> Option<std::net::SocketAddr> {
        self.http
            .resolve
            .iter()
            .find(|(h, p, _)| h.eq_ignore_ascii_case(&self.target.host) && *p == self.target.port)
            .map(|(_, port, ip)| std::net::SocketAddr::new(*ip, *port))
    }

    /// Each named scenario and its steps (metric indices), for `{scenario:NAME}` and the
    /// report; empty for a file with one unnamed scenario.
    pub fn scenario_steps(&self) -> Vec<(String, Vec<usize>)> {
        self.scenarios
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| (s.name.clone(), s.steps.clone()))
            .collect()
    }

    /// Every flow of every scenario, in file order.
    pub fn all_flows(&self) -> impl Iterator<Item = &Flow> {
        self.scenarios.iter().flat_map(|s| s.flows.iter())
    }

    /// The breakpoint schedule, if this is a breakpoint run. A breakpoint run has one scenario
    /// (the scenario file refuses one among several): `None` for several scenarios.
    pub fn breakpoint(&self) -> Option<&Arrival> {
        match self.scenarios.as_slice() {
            [one] => one.load.arrival().filter(|a| a.stairs.is_some()),
            _ => None,
        }
    }

    /// `constant-vus`, or `browse: constant-vus + api: constant-arrival-rate`.
    pub fn executor_label(&self) -> String {
        if let [one] = self.scenarios.as_slice()
            && one.name.is_empty()
        {
            return one.load.executor_name().to_string();
        }
        self.scenarios
            .iter()
            .map(|s| format!("{}: {}", s.name, s.load.executor_name()))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// The longest scheduled scenario.
    pub fn planned_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.load.duration())
            .max()
            .unwrap_or_default()
    }

    pub fn graceful_stop(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.load.graceful_stop())
            .max()
            .unwrap_or_default()
    }

    /// The most VUs all scenarios together may run (this segment's share of them).
    pub fn peak_vus(&self) -> u32 {
        self.scenarios
            .iter()
            .map(|s| match s.load.arrival() {
                // Arrival-rate VU counts are scaled to the segment when it is applied.
                Some(_) => s.load.max_vus(),
                None => self.segment_share(s.load.max_vus()),
            })
            .sum()
    }

    /// The VUs this process should run at `t` for scenario `s` (its segment's share of a
    /// closed-model target).
    pub fn scenario_vus_at(&self, s: &ScenarioPlan, t: Duration) -> u32 {
        match s.load.arrival() {
            Some(_) => s.load.vus_at(t),
            None => self.segment_share(s.load.vus_at(t)),
        }
    }

    /// The VUs this process should run at `t`, all scenarios together.
    pub fn vus_at(&self, t: Duration) -> u32 {
        self.scenarios
            .iter()
            .map(|s| self.scenario_vus_at(s, t))
            .sum()
    }

    /// This process's share of `n` VUs of a closed-model schedule: all of them, or its
    /// segment's striped share.
    pub fn segment_share(&self, n: u32) -> u32 {
        match &self.segment {
            Some(p) => p.stripe.share(n as u64) as u32,
            None => n,
        }
    }

    /// The number in the whole run's schedule of this process's `m`-th arrival-rate iteration.
    pub fn global_iteration(&self, m: u64) -> u64 {
        match &self.segment {
            Some(p) => p.stripe.global(m),
            None => m,
        }
    }
}

impl Plan {
    /// The most TCP connections the plan can hold open at once.
    pub fn peak_connections(&self) -> u64 {
        let vus = self.peak_vus();
        match self.http.connections {
            Connections::PerVu => vus as u64,
            // Each scenario's engine has a pool of its own.
            Connections::Pooled { max } => self
                .scenarios
                .iter()
                .map(|s| max.min(s.load.max_vus()) as u64)
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_think_times_have_the_mean_and_the_spread_of_the_distribution() {
        let t = Think::Exponential(Duration::from_secs(3));
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| t.sample(&mut rng).as_secs_f64()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        // Exponential: mean = 3 s, and P(X > mean) = e^-1 ≈ 36.8 %, P(X > 3 · mean) = e^-3 ≈ 5 %.
        let above = |x: f64| draws.iter().filter(|&&d| d > x).count() as f64 / n as f64;
        assert!((mean - 3.0).abs() < 0.03, "mean {mean}");
        assert!((above(3.0) - (-1f64).exp()).abs() < 0.005, "{}", above(3.0));
        assert!((above(9.0) - (-3f64).exp()).abs() < 0.003, "{}", above(9.0));
        assert_eq!(t.mean(), Duration::from_secs(3));
    }

    fn ramp() -> Load {
        Load::RampingVus {
            start_vus: 0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100,
                },
                Stage {
                    duration: Duration::from_secs(5),
                    target: 0,
                },
            ],
            graceful_ramp_down: Duration::from_secs(30),
            graceful_stop: Duration::from_secs(30),
        }
    }

    fn arrival(start_rate: f64, stages: &[(u64, f64)]) -> Arrival {
        Arrival {
            start_rate,
            stages: stages
                .iter()
                .map(|&(s, target)| RateStage {
                    duration: Duration::from_secs(s),
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

    #[test]
    fn breakpoint_stairs_jump_and_hold() {
        let mut a = arrival(200.0, &[(0, 200.0), (5, 200.0), (0, 400.0), (5, 400.0)]);
        a.stairs = Some(Stairs {
            warmup: Duration::from_secs(1),
            min_achieved: 0.97,
        });
        let st = a.stair_list();
        assert_eq!(st.len(), 2);
        assert_eq!(
            (st[1].start, st[1].end, st[1].rate),
            (Duration::from_secs(5), Duration::from_secs(10), 400.0)
        );
        assert!((a.arrivals_until(Duration::from_secs(5)) - 1000.0).abs() < 1e-6);
        assert!((a.arrivals_until(Duration::from_secs(10)) - 3000.0).abs() < 1e-6);
        let d = a.due(1001).unwrap().as_secs_f64();
        assert!((d - 5.0025).abs() < 1e-6, "{d}");
        assert_eq!(a.rate_at(Duration::from_millis(7000)), 400.0);
        assert_eq!(a.due(3000), None);
    }

    #[test]
    fn a_constant_rate_spaces_iterations_evenly_and_ends_with_the_schedule() {
        let a = arrival(5000.0, &[(10, 5000.0)]);
        assert_eq!(a.due(0), Some(Duration::ZERO));
        let t = a.due(1).unwrap().as_secs_f64();
        assert!((t - 0.0002).abs() < 1e-9, "{t}");
        assert!(a.due(49_999).is_some());
        assert_eq!(a.due(50_000), None, "exactly rate x duration iterations");
    }

    #[test]
    fn ramps_and_pauses_invert_their_integral() {
        // 0 -> 4000/s over 10 s, hold 2 s, down to 0 over 4 s, then 2 s at 0/s.
        let a = arrival(0.0, &[(10, 4000.0), (2, 4000.0), (4, 0.0), (2, 0.0)]);
        assert_eq!(a.arrivals_until(Duration::from_secs(1)), 200.0);
        assert_eq!(a.arrivals_until(Duration::from_secs(10)), 20_000.0);
        assert_eq!(a.arrivals_until(Duration::from_secs(18)), 36_000.0);
        assert_eq!(a.rate_at(Duration::from_millis(2500)), 1000.0);
        let mut last = Duration::ZERO;
        for k in (0..36_000u64).step_by(97) {
            let t = a.due(k).expect("due within the schedule");
            assert!(t >= last, "due times never go back");
            last = t;
            let before = a.arrivals_until(t);
            assert!(
                (before - k as f64).abs() < 1e-4,
                "k {k}: {before} arrivals before {t:?}"
            );
        }
        assert_eq!(a.due(36_000), None, "nothing is due in the idle tail");
        assert_eq!(a.peak_rate(), 4000.0);
    }

    #[test]
    fn ramping_vus_interpolates_linearly() {
        let l = ramp();
        assert_eq!(l.vus_at(Duration::ZERO), 0);
        assert_eq!(l.vus_at(Duration::from_secs(5)), 50);
        assert_eq!(l.vus_at(Duration::from_secs(15)), 100);
        assert_eq!(l.vus_at(Duration::from_millis(22_500)), 50);
        assert_eq!(l.vus_at(Duration::from_secs(25)), 0);
        assert_eq!(l.max_vus(), 100);
        assert_eq!(l.duration(), Duration::from_secs(25));
        assert_eq!(l.stage_at(Duration::from_secs(12)), Some(1));
    }

    #[test]
    fn target_urls() {
        let t = Target::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.base_path.as_str()),
            ("127.0.0.1", 8080, "/api")
        );
        assert_eq!(t.authority(), "127.0.0.1:8080");
        let t6 = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!(t6.host, "::1");
        assert_eq!(t6.authority(), "[::1]:9000");
        assert!(Target::parse("127.0.0.1:8080").is_err());
        let s = Target::parse("https://example.com/api").unwrap();
        assert!(s.tls);
        assert_eq!(s.port, 443);
        assert_eq!(s.authority(), "example.com");
        assert_eq!(s.url(), "https://example.com/api");
        assert_eq!(
            Target::parse("https://example.com:8443")
                .unwrap()
                .authority(),
            "example.com:8443"
        );
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://").is_err());
    }

    #[test]
    fn flows_are_picked_by_weight() {
        let step = |_| Flow {
            name: String::new(),
            weight: 0,
            steps: vec![],
            feeds: vec![],
        };
        let mut flows: Vec<Flow> = (0..2).map(step).collect();
        flows[0].weight = 3;
        flows[1].weight = 1;
        let sc = ScenarioPlan {
            name: String::new(),
            load: ramp(),
            think: Think::None,
            spread_start: true,
            flows,
            steps: vec![],
        };
        let plan = Plan {
            name: "t".into(),
            target: Target::parse("http://127.0.0.1").unwrap(),
            target_origin: String::new(),
            http: HttpOptions {
                timeout: Duration::from_secs(1),
                headers: HeaderMap::new(),
                local_ips: Vec::new(),
                connections: Connections::PerVu,
                tls: TlsOptions::default(),
                max_redirects: 10,
                version: HttpVersion::Http1,
                resolve: Vec::new(),
                dns_ttl: Duration::from_secs(300),
                proxy: None,
                retry_idempotent: false,
                max_header_lines: 256,
                max_body: 1024,
            },
            step_names: vec![],
            thresholds: vec![],
            variables: vec![],
            feeds: vec![],
            cookies: true,
            checks: vec![],
            scenarios: vec![Arc::new(sc)],
            segment: None,
        };
        let sc = &plan.scenarios[0];
        let picks: Vec<usize> = (0..4).map(|d| sc.flow_for(d)).collect();
        assert_eq!(picks, vec![0, 0, 0, 1]);
        assert_eq!(sc.total_weight(), 4);
        assert_eq!(plan.executor_label(), "ramping-vus");
        assert!(plan.scenario_steps().is_empty());
    }
}
