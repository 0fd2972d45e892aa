//! Merges the workers' per-second snapshots into running totals and a per-second timeline, and
//! answers threshold queries on the result.

use super::query::{Agg, MetricRef, Observe};
use super::recorder::{ErrorKind, Recorder, StepStats};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a worker sends once a second (and once more when it stops).
pub struct Snapshot {
    pub worker: usize,
    /// The second of the run this covers, counting from 1 (the interval `(second-1, second]`).
    pub second: u64,
    pub data: Recorder,
    /// VUs running on this worker at the flush, and the most running at once since the last.
    pub vus: u32,
    pub vus_peak: u32,
}

/// One second of the run, all workers merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelinePoint {
    pub second: u64,
    pub vus: u32,
    pub requests: u64,
    pub failures: u64,
    pub iterations: u64,
    pub data_sent: u64,
    pub data_received: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The same second per step (by metric index).
    pub steps: Vec<StepSecond>,
}

/// One step's share of one second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepSecond {
    pub requests: u64,
    pub failures: u64,
    pub p95_ms: f64,
}

struct Pending {
    reported: usize,
    vus: u32,
    vus_peak: u32,
    requests: u64,
    failures: u64,
    iterations: u64,
    data_sent: u64,
    data_received: u64,
    duration: Histogram<u64>,
    /// Per step: requests, failures, durations.
    steps: Vec<(u64, u64, Histogram<u64>)>,
}

/// Running totals of a test.
pub struct Aggregator {
    workers: usize,
    pub total: Recorder,
    pending: BTreeMap<u64, Pending>,
    pub timeline: Vec<TimelinePoint>,
    vus_peak: u32,
    vus_min: Option<u32>,
    /// Every second's own recorder, kept when a window of seconds must be judged on its own
    /// (breakpoint stairs); `None` otherwise, as it costs a recorder per second.
    seconds: Option<BTreeMap<u64, Recorder>>,
    /// Each closed second's request durations (overall, per step), kept for a segment's part so
    /// that a merge can compute the common timeline's percentiles exactly.
    second_histograms: Option<Vec<SecondHistograms>>,
}

/// One second's `http_req_duration` histograms: all steps, then each step, each already
/// encoded (HdrHistogram V2 deflate, base64: a few hundred bytes instead of the ~140 KiB of a
/// live histogram, so a long part does not grow by megabytes a second).
pub type SecondHistograms = (u64, String, Vec<String>);

pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Aggregator {
    pub fn new(workers: usize, steps: usize) -> Self {
        Aggregator {
            workers: workers.max(1),
            total: Recorder::new(steps),
            pending: BTreeMap::new(),
            timeline: Vec::new(),
            vus_peak: 0,
            vus_min: None,
            seconds: None,
            second_histograms: None,
        }
    }

    /// Keep every closed second's duration histograms (see `second_histograms`).
    pub fn keep_second_histograms(mut self) -> Self {
        self.second_histograms = Some(Vec::new());
        self
    }

    /// The closed seconds' duration histograms, when `keep_second_histograms` was asked for.
    pub fn second_histograms(&self) -> &[SecondHistograms] {
        self.second_histograms.as_deref().unwrap_or(&[])
    }

    /// Keep each second's recorder so that `window` can answer for any span of seconds.
    pub fn keep_seconds(mut self) -> Self {
        self.seconds = Some(BTreeMap::new());
        self
    }

    /// Everything recorded in seconds `from..=to` (1-based, as in the timeline), merged; `None`
    /// unless `keep_seconds` was asked for.
    pub fn window(&self, from: u64, to: u64) -> Option<Recorder> {
        let seconds = self.seconds.as_ref()?;
        let mut out: Option<Recorder> = None;
        for r in seconds.range(from..=to).map(|(_, r)| r) {
            match &mut out {
                Some(o) => o.add(r),
                None => out = Some(r.clone()),
            }
        }
        Some(out.unwrap_or_else(|| Recorder::new(self.total.steps.len())))
    }

    /// Drop the kept recorders of seconds before `second` (no window will ask for them again).
    pub fn forget_before(&mut self, second: u64) {
        if let Some(seconds) = &mut self.seconds {
            *seconds = seconds.split_off(&second);
        }
    }

    /// Whether each second's recorder is kept (see `keep_seconds`).
    pub fn keeps_seconds(&self) -> bool {
        self.seconds.is_some()
    }

    pub fn add(&mut self, snap: Snapshot) {
        self.total.add(&snap.data);
        if let Some(seconds) = &mut self.seconds {
            match seconds.get_mut(&snap.second) {
                Some(r) => r.add(&snap.data),
                None => {
                    seconds.insert(snap.second, snap.data.clone());
                }
            }
        }
        // A late snapshot for a second already closed joins that second's row (its counts; the
        // row's percentiles stay as computed) instead of opening a second row for it.
        if let Some(p) = self
            .timeline
            .iter_mut()
            .rev()
            .find(|p| p.second == snap.second)
        {
            p.vus += snap.vus;
            p.requests += snap.data.requests();
            p.failures += snap.data.failures();
            p.iterations += snap.data.iterations;
            p.data_sent += snap.data.data_sent;
            p.data_received += snap.data.data_received;
            for (row, st) in p.steps.iter_mut().zip(&snap.data.steps) {
                row.requests += st.requests;
                row.failures += st.failures;
            }
            return;
        }
        let p = self.pending.entry(snap.second).or_insert_with(|| Pending {
            reported: 0,
            vus: 0,
            vus_peak: 0,
            requests: 0,
            failures: 0,
            iterations: 0,
            data_sent: 0,
            data_received: 0,
            duration: super::recorder::new_histogram(),
            steps: Vec::new(),
        });
        if p.steps.len() < snap.data.steps.len() {
            p.steps.resize_with(snap.data.steps.len(), || {
                (0, 0, super::recorder::new_histogram())
            });
        }
        for (row, st) in p.steps.iter_mut().zip(&snap.data.steps) {
            row.0 += st.requests;
            row.1 += st.failures;
            let _ = row.2.add(&st.duration);
        }
        p.reported += 1;
        p.vus += snap.vus;
        p.vus_peak += snap.vus_peak;
        p.requests += snap.data.requests();
        p.failures += snap.data.failures();
        p.iterations += snap.data.iterations;
        p.data_sent += snap.data.data_sent;
        p.data_received += snap.data.data_received;
        for s in &snap.data.steps {
            let _ = p.duration.add(&s.duration);
        }
        // A second is complete when every worker reported it; earlier seconds are then final too.
        let complete: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.reported >= self.workers)
            .map(|(s, _)| *s)
            .collect();
        if let Some(&last) = complete.last() {
            self.finish_through(last);
        }
    }

    fn finish_through(&mut self, second: u64) {
        let done: Vec<u64> = self.pending.range(..=second).map(|(s, _)| *s).collect();
        for s in done {
            if let Some(p) = self.pending.remove(&s) {
                if let Some(keep) = &mut self.second_histograms {
                    let enc = |h: &Histogram<u64>| super::hdr::encode(h).unwrap_or_default();
                    keep.push((
                        s,
                        enc(&p.duration),
                        p.steps.iter().map(|(_, _, h)| enc(h)).collect(),
                    ));
                }
                self.vus_peak = self.vus_peak.max(p.vus_peak).max(p.vus);
                self.vus_min = Some(self.vus_min.map_or(p.vus, |m| m.min(p.vus)));
                let q = |f: f64| {
                    if p.duration.is_empty() {
                        0.0
                    } else {
                        ms(p.duration.value_at_quantile(f))
                    }
                };
                self.timeline.push(TimelinePoint {
                    second: s,
                    vus: p.vus,
                    requests: p.requests,
                    failures: p.failures,
                    iterations: p.iterations,
                    data_sent: p.data_sent,
                    data_received: p.data_received,
                    p50_ms: q(0.50),
                    p95_ms: q(0.95),
                    p99_ms: q(0.99),
                    steps: p
                        .steps
                        .iter()
                        .map(|(requests, failures, h)| StepSecond {
                            requests: *requests,
                            failures: *failures,
                            p95_ms: if h.is_empty() {
                                0.0
                            } else {
                                ms(h.value_at_quantile(0.95))
                            },
                        })
                        .collect(),
                });
            }
        }
    }

    /// Make every second reported so far final (at the end of a run, before the last judgements).
    pub fn close_all(&mut self) {
        self.finish_through(u64::MAX);
    }

    /// Close the books: every pending second becomes final.
    /// `vus_allowed` is the most VUs the plan may run at once (k6's `vus_max`).
    pub fn finish(
        mut self,
        step_names: Vec<String>,
        elapsed: Duration,
        vus_allowed: u32,
    ) -> RunResult {
        self.finish_through(u64::MAX);
        let overall = self.total.overall();
        let vus_last = self.timeline.last().map_or(0, |p| p.vus);
        // The last second usually covers only the run's last fraction of a second: when nothing
        // happened in it, it is not a second of the run (an empty all-zero row at the end).
        if let Some(p) = self.timeline.last()
            && p.second > elapsed.as_secs()
            && p.requests == 0
            && p.failures == 0
            && p.iterations == 0
            && p.data_sent == 0
            && p.data_received == 0
        {
            self.timeline.pop();
        }
        RunResult {
            step_names,
            overall,
            elapsed,
            vus_last,
            vus_min: self.vus_min.unwrap_or(0),
            vus_max: self.vus_peak,
            vus_allowed,
            total: self.total,
            timeline: self.timeline,
            scenarios: Vec::new(),
        }
    }

    /// A view for live threshold checks and progress lines.
    pub fn view(&self, elapsed: Duration) -> LiveView<'_> {
        LiveView {
            total: &self.total,
            elapsed,
            vus_max: self.vus_peak,
            vus_now: self.timeline.last().map_or(0, |p| p.vus),
        }
    }
}

/// The finished metrics of a run.
pub struct RunResult {
    pub step_names: Vec<String>,
    pub total: Recorder,
    pub overall: StepStats,
    pub timeline: Vec<TimelinePoint>,
    pub elapsed: Duration,
    pub vus_last: u32,
    pub vus_min: u32,
    /// The most VUs seen running at once.
    pub vus_max: u32,
    /// The most VUs the plan may run at once.
    pub vus_allowed: u32,
    /// The scenarios of a multi-scenario file (empty otherwise).
    pub scenarios: Vec<ScenarioSteps>,
}

impl RunResult {
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.step_names.iter().position(|n| n == name)
    }

    pub fn rate(&self, count: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { count as f64 / secs } else { 0.0 }
    }

    pub fn errors_by_kind(&self) -> Vec<(ErrorKind, u64)> {
        ErrorKind::ALL
            .iter()
            .map(|k| (*k, self.total.error_count(*k)))
            .collect()
    }
}

/// The value of an aggregation over a latency histogram (µs inside, ms out).
pub fn trend_value(h: &Histogram<u64>, agg: Agg) -> Option<f64> {
    if agg == Agg::Count {
        return Some(h.len() as f64);
    }
    if h.is_empty() {
        return None;
    }
    Some(match agg {
        Agg::Avg => h.mean() / 1000.0,
        Agg::Min => ms(h.min()),
        Agg::Max => ms(h.max()),
        Agg::Med => ms(h.value_at_quantile(0.5)),
        Agg::P(p) => ms(h.value_at_quantile(p / 100.0)),
        _ => return None,
    })
}

/// A scenario of a multi-scenario file: its name and its steps (metric indices).
pub type ScenarioSteps = (String, Vec<usize>);

struct Source<'a> {
    total: &'a Recorder,
    overall: Option<&'a StepStats>,
    step_names: &'a [String],
    scenarios: &'a [ScenarioSteps],
    elapsed: Duration,
    vus: (u32, u32, u32),
    vus_allowed: u32,
}

impl Source<'_> {
    fn observe(&self, metric: &MetricRef, agg: Agg) -> Option<f64> {
        let merged;
        let stats: &StepStats = match (&metric.step, &metric.scenario) {
            (Some(name), _) => {
                let i = self.step_names.iter().position(|n| n == name)?;
                self.total.steps.get(i)?
            }
            (None, Some(name)) => {
                let (_, steps) = self.scenarios.iter().find(|(n, _)| n == name)?;
                let mut all = StepStats::default();
                for &i in steps {
                    all.add(self.total.steps.get(i)?);
                }
                merged = all;
                &merged
            }
            (None, None) => match self.overall {
                Some(o) => o,
                None => {
                    merged = self.total.overall();
                    &merged
                }
            },
        };
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let counter = |n: u64| match agg {
            Agg::Count => Some(n as f64),
            Agg::Rate => Some(n as f64 / secs),
            _ => None,
        };
        let (vus_last, vus_min, vus_max) = self.vus;
        match metric.name.as_str() {
            "http_req_duration" => trend_value(&stats.duration, agg),
            "http_req_waiting" => trend_value(&stats.waiting, agg),
            "http_req_connecting" => trend_value(&stats.connecting, agg),
            "http_req_tls_handshaking" => trend_value(&stats.tls_handshaking, agg),
            "http_req_blocked" => trend_value(&stats.blocked, agg),
            "http_req_duration_uncorrected" => trend_value(&stats.uncorrected, agg),
            "schedule_lag" => trend_value(&self.total.schedule_lag, agg),
            "dropped_iterations" => counter(self.total.dropped_iterations),
            "iterations_interrupted" => counter(self.total.iterations_interrupted),
            "http_req_retries" => counter(self.total.retries),
            "iteration_duration" => trend_value(&self.total.iteration, agg),
            "http_reqs" => counter(stats.requests),
            "iterations" => counter(self.total.iterations),
            "data_sent" => counter(self.total.data_sent),
            "data_received" => counter(self.total.data_received),
            "http_req_failed" => {
                (stats.requests > 0).then(|| stats.failures as f64 / stats.requests as f64)
            }
            "checks" => {
                let n = stats.checks_passed + stats.checks_failed;
                (n > 0).then(|| stats.checks_passed as f64 / n as f64)
            }
            "vus" => Some(match agg {
                Agg::Min => vus_min,
                Agg::Max => vus_max,
                _ => vus_last,
            } as f64),
            "vus_max" => Some(self.vus_allowed as f64),
            "stream_goodput" => stats
                .stream
                .as_deref()
                .filter(|s| s.streams > 0)
                .map(|s| s.good as f64 / s.streams as f64),
            name if name.starts_with("ws_") => {
                let s = stats.ws.as_deref();
                match s.and_then(|s| s.trend(name)) {
                    Some(h) => trend_value(h, agg),
                    None => counter(s.and_then(|s| s.counter(name)).unwrap_or(0)),
                }
            }
            name if name.starts_with("stream") => {
                let s = stats.stream.as_deref();
                match s.and_then(|s| s.trend(name)) {
                    Some(h) => trend_value(h, agg),
                    None => counter(s.and_then(|s| s.counter(name)).unwrap_or(0)),
                }
            }
            _ => None,
        }
    }
}

impl Observe for RunResult {
    fn observe(&self, metric: &MetricRef, agg: Agg) -> Option<f64> {
        Source {
            total: &self.total,
            overall: Some(&self.overall),
            step_names: &self.step_names,
            scenarios: &self.scenarios,
            elapsed: self.elapsed,
            vus: (self.vus_last, self.vus_min, self.vus_max),
            vus_allowed: self.vus_allowed,
        }
        .observe(metric, agg)
    }
}

/// Totals so far, while the run goes on.
pub struct LiveView<'a> {
    pub total: &'a Recorder,
    pub elapsed: Duration,
    pub vus_max: u32,
    pub vus_now: u32,
}

/// Threshold checks during a run need the step names too.
pub struct LiveObserve<'a> {
    pub view: LiveView<'a>,
    pub step_names: &'a [String],
    pub vus_allowed: u32,
    pub scenarios: &'a [ScenarioSteps],
}

impl Observe for LiveObserve<'_> {
    fn observe(&self, metric: &MetricRef, agg: Agg) -> Option<f64> {
        Source {
            total: self.view.total,
            overall: None,
            step_names: self.step_names,
            scenarios: self.scenarios,
            elapsed: self.view.elapsed,
            vus: (self.view.vus_now, 0, self.view.vus_max),
            vus_allowed: self.vus_allowed,
        }
        .observe(metric, agg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::Sample;

    fn snap(worker: usize, second: u64, reqs: u64, vus: u32) -> Snapshot {
        let mut r = Recorder::new(1);
        for _ in 0..reqs {
            r.record(
                0,
                &Sample {
                    duration: Some(Duration::from_millis(20)),
                    waiting: Some(Duration::from_millis(19)),
                    status: Some(200),
                    sent: 1,
                    received: 2,
                    ..Sample::default()
                },
            );
        }
        Snapshot {
            worker,
            second,
            data: r,
            vus,
            vus_peak: vus,
        }
    }

    #[test]
    fn a_late_snapshot_joins_its_second_instead_of_adding_a_row() {
        let mut a = Aggregator::new(2, 1);
        a.add(snap(0, 1, 10, 3));
        a.add(snap(0, 2, 10, 3));
        a.add(snap(1, 2, 10, 3)); // closes seconds 1 and 2 while worker 1's second 1 is late
        a.add(snap(1, 1, 4, 2));
        let r = a.finish(vec!["s".into()], Duration::from_secs(2), 10);
        let seconds: Vec<u64> = r.timeline.iter().map(|p| p.second).collect();
        assert_eq!(seconds, vec![1, 2]);
        assert_eq!(r.timeline[0].requests, 14);
        assert_eq!(r.total.requests(), 34);
    }

    #[test]
    fn an_empty_last_fraction_of_a_second_is_not_a_row_but_a_busy_one_is() {
        // A 2.02 s run: second 3 covers only its last 20 ms.
        let mut a = Aggregator::new(1, 1);
        a.add(snap(0, 1, 10, 3));
        a.add(snap(0, 2, 10, 3));
        a.add(snap(0, 3, 0, 0));
        let r = a.finish(vec!["s".into()], Duration::from_millis(2020), 10);
        let seconds: Vec<u64> = r.timeline.iter().map(|p| p.second).collect();
        assert_eq!(seconds, vec![1, 2]);
        assert_eq!(
            r.vus_last, 0,
            "the VUs at the end are still those of the end"
        );
        let mut a = Aggregator::new(1, 1);
        a.add(snap(0, 1, 10, 3));
        a.add(snap(0, 2, 10, 3));
        a.add(snap(0, 3, 2, 1));
        let r = a.finish(vec!["s".into()], Duration::from_millis(2020), 10);
        assert_eq!(
            r.timeline.len(),
            3,
            "requests in the last fraction keep their row"
        );
    }

    #[test]
    fn seconds_complete_when_all_workers_reported() {
        let mut a = Aggregator::new(2, 1);
        a.add(snap(0, 1, 10, 3));
        assert!(a.timeline.is_empty());
        a.add(snap(1, 1, 5, 2));
        assert_eq!(a.timeline.len(), 1);
        assert_eq!((a.timeline[0].requests, a.timeline[0].vus), (15, 5));
        a.add(snap(0, 2, 1, 1));
        let r = a.finish(vec!["s".into()], Duration::from_secs(2), 10);
        assert_eq!(r.timeline.len(), 2);
        assert_eq!(r.total.requests(), 16);
        assert_eq!(r.vus_max, 5);
        let p50 = r
            .observe(
                &MetricRef::parse("http_req_duration{step:s}").unwrap(),
                Agg::P(50.0),
            )
            .unwrap();
        assert!((19.9..20.1).contains(&p50), "{p50}");
        let rate = r
            .observe(&MetricRef::parse("http_reqs").unwrap(), Agg::Rate)
            .unwrap();
        assert_eq!(rate, 8.0);
        assert_eq!(
            r.observe(&MetricRef::parse("http_req_failed").unwrap(), Agg::Rate),
            Some(0.0)
        );
        assert_eq!(
            r.observe(
                &MetricRef::parse("http_req_duration{step:nope}").unwrap(),
                Agg::Avg
            ),
            None
        );
    }
}
