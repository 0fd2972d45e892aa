//! `--out prometheus=ADDR`: an OpenMetrics scrape endpoint (`http://ADDR/metrics`) with k6's
//! metric names as its Prometheus outputs write them (`k6_http_reqs_total`,
//! `k6_http_req_duration_p95`, `k6_vus`…) and a `testid` label (the value of `--tag testid=…`,
//! else `<name>-<start time>`), so the k6 Grafana dashboards select the run.
//!
//! - counters: `k6_http_reqs_total`, `k6_iterations_total`, `k6_data_sent_total`,
//!   `k6_data_received_total`, `k6_dropped_iterations_total`;
//! - rates (fraction so far): `k6_http_req_failed_rate`, `k6_checks_rate`;
//! - gauges: `k6_vus`, `k6_vus_max`;
//! - `k6_http_req_duration_seconds` as a classic histogram (buckets 10 % apart from 100 µs to
//!   60 s), and the trend statistics of the run so far from the HDR histograms, in seconds:
//!   `k6_http_req_duration_{min,med,avg,p90,p95,p99,max}` (k6's trend-stats gauges; exact, unlike
//!   `histogram_quantile` over buckets).
//!
//! Per-request series carry `name` (the step), `scenario`, `method`; the trend gauges also have a
//! series with no step labels (all steps). Every `--tag` is a label too. The registry is encoded
//! by the `prometheus-client` crate. If Prometheus scraped during the run, the endpoint stays up
//! at the end until one more scrape has read the final figures (at most 5 s).

use super::{RunInfo, Second, Sink};
use hdrhistogram::Histogram as Hdr;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub type Labels = Vec<(String, String)>;
type F64Gauge = Gauge<f64, AtomicU64>;

fn buckets() -> Vec<f64> {
    let mut v = Vec::new();
    let mut b = 0.0001;
    while b < 60.0 {
        v.push((b * 1e7_f64).round() / 1e7);
        b *= 1.1;
    }
    v.push(60.0);
    v
}

fn new_histogram() -> Histogram {
    Histogram::new(buckets())
}

struct Metrics {
    reqs: Family<Labels, Counter>,
    iterations: Family<Labels, Counter>,
    data_sent: Family<Labels, Counter>,
    data_received: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    failed_rate: Family<Labels, F64Gauge>,
    checks_rate: Family<Labels, F64Gauge>,
    vus: Family<Labels, F64Gauge>,
    vus_max: Family<Labels, F64Gauge>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
    /// k6_http_req_duration_<stat>
    stats: Vec<(&'static str, Family<Labels, F64Gauge>)>,
}

struct State {
    registry: Registry,
    m: Metrics,
    /// Cumulative per step: requests, failures, checks passed, checks failed, durations.
    steps: Vec<(u64, u64, u64, u64, Hdr<u64>)>,
}

pub struct PromSink {
    addr: String,
    info: Arc<RunInfo>,
    state: Arc<Mutex<State>>,
    scrapes: Arc<AtomicU64>,
    finished: Arc<AtomicBool>,
    run_labels: Labels,
    step_labels: Vec<Labels>,
}

const STATS: &[&str] = &["min", "med", "avg", "p90", "p95", "p99", "max"];

fn stat_value(h: &Hdr<u64>, stat: &str) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    let us = match stat {
        "min" => h.min() as f64,
        "max" => h.max() as f64,
        "avg" => h.mean(),
        "med" => h.value_at_quantile(0.5) as f64,
        "p90" => h.value_at_quantile(0.9) as f64,
        "p95" => h.value_at_quantile(0.95) as f64,
        _ => h.value_at_quantile(0.99) as f64,
    };
    us / 1e6
}

impl PromSink {
    pub fn bind(addr: &str, info: Arc<RunInfo>) -> anyhow::Result<PromSink> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| anyhow::anyhow!("--out prometheus={addr}: cannot listen there: {e}"))?;
        let local = listener.local_addr()?;
        eprintln!("prometheus endpoint: http://{local}/metrics");
        let mut registry = Registry::default();
        let m = Metrics {
            reqs: Family::default(),
            iterations: Family::default(),
            data_sent: Family::default(),
            data_received: Family::default(),
            dropped: Family::default(),
            failed_rate: Family::default(),
            checks_rate: Family::default(),
            vus: Family::default(),
            vus_max: Family::default(),
            duration: Family::new_with_constructor(new_histogram as fn() -> Histogram),
            stats: STATS.iter().map(|s| (*s, Family::default())).collect(),
        };
        registry.register("k6_http_reqs", "HTTP requests sent", m.reqs.clone());
        registry.register(
            "k6_iterations",
            "Completed iterations",
            m.iterations.clone(),
        );
        registry.register("k6_data_sent", "Bytes sent", m.data_sent.clone());
        registry.register(
            "k6_data_received",
            "Bytes received",
            m.data_received.clone(),
        );
        registry.register(
            "k6_dropped_iterations",
            "Iterations not started",
            m.dropped.clone(),
        );
        registry.register(
            "k6_http_req_failed_rate",
            "Fraction of failed requests so far",
            m.failed_rate.clone(),
        );
        registry.register(
            "k6_checks_rate",
            "Fraction of checks that held so far",
            m.checks_rate.clone(),
        );
        registry.register("k6_vus", "Running VUs", m.vus.clone());
        registry.register("k6_vus_max", "Most VUs the plan may run", m.vus_max.clone());
        registry.register_with_unit(
            "k6_http_req_duration",
            "Request duration",
            Unit::Seconds,
            m.duration.clone(),
        );
        for (s, fam) in &m.stats {
            registry.register(
                format!("k6_http_req_duration_{s}"),
                format!("Request duration {s} of the run so far, in seconds"),
                fam.clone(),
            );
        }
        let (run_labels, step_labels) = run_and_step_labels(&info);
        let state = Arc::new(Mutex::new(State {
            registry,
            m,
            steps: Vec::new(),
        }));
        let scrapes = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicBool::new(false));
        {
            let (state, scrapes) = (state.clone(), scrapes.clone());
            std::thread::Builder::new()
                .name("stampede-prometheus".into())
                .spawn(move || {
                    for conn in listener.incoming().flatten() {
                        let _ = serve(conn, &state);
                        scrapes.fetch_add(1, Ordering::SeqCst);
                    }
                })?;
        }
        Ok(PromSink {
            addr: local.to_string(),
            info,
            state,
            scrapes,
            finished,
            run_labels,
            step_labels,
        })
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let mut body = String::new();
    {
        let st = state
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        encode(&mut body, &st.registry).map_err(std::io::Error::other)?;
    }
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

impl Sink for PromSink {
    fn describe(&self) -> String {
        format!("prometheus (http://{}/metrics)", self.addr)
    }

    fn second(&mut self, s: &Second) -> anyhow::Result<()> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("the endpoint's state is poisoned"))?;
        let st = &mut *st;
        if st.steps.len() < s.data.steps.len() {
            st.steps.resize_with(s.data.steps.len(), || {
                (0, 0, 0, 0, crate::metrics::recorder::new_histogram())
            });
        }
        let mut all = crate::metrics::recorder::new_histogram();
        for (i, d) in s.data.steps.iter().enumerate() {
            let Some(labels) = self.step_labels.get(i) else {
                continue;
            };
            let c = &mut st.steps[i];
            c.0 += d.requests;
            c.1 += d.failures;
            c.2 += d.checks_passed;
            c.3 += d.checks_failed;
            let _ = c.4.add(&d.duration);
            st.m.reqs.get_or_create(labels).inc_by(d.requests);
            if c.0 > 0 {
                st.m.failed_rate
                    .get_or_create(labels)
                    .set(c.1 as f64 / c.0 as f64);
            }
            if c.2 + c.3 > 0 {
                st.m.checks_rate
                    .get_or_create(labels)
                    .set(c.2 as f64 / (c.2 + c.3) as f64);
            }
            let h = st.m.duration.get_or_create(labels);
            for v in d.duration.iter_recorded() {
                let secs = v.value_iterated_to() as f64 / 1e6;
                for _ in 0..v.count_at_value() {
                    h.observe(secs);
                }
            }
            for (name, fam) in &st.m.stats {
                fam.get_or_create(labels).set(stat_value(&c.4, name));
            }
            let _ = all.add(&c.4);
        }
        for (name, fam) in &st.m.stats {
            fam.get_or_create(&self.run_labels)
                .set(stat_value(&all, name));
        }
        let run = &self.run_labels;
        st.m.iterations.get_or_create(run).inc_by(s.data.iterations);
        st.m.data_sent.get_or_create(run).inc_by(s.data.data_sent);
        st.m.data_received
            .get_or_create(run)
            .inc_by(s.data.data_received);
        st.m.dropped
            .get_or_create(run)
            .inc_by(s.data.dropped_iterations);
        if s.reported > 0 {
            st.m.vus.get_or_create(run).set(s.vus as f64);
            st.m.vus_max
                .get_or_create(run)
                .set(self.info.vus_max as f64);
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.finished.store(true, Ordering::SeqCst);
        let seen = self.scrapes.load(Ordering::SeqCst);
        if seen > 0 {
            let until = Instant::now() + Duration::from_secs(5);
            while self.scrapes.load(Ordering::SeqCst) == seen && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// One sample of one series: what remote write sends.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

fn run_and_step_labels(info: &RunInfo) -> (Labels, Vec<Labels>) {
    let mut run: Labels = Vec::new();
    if !info.tags.iter().any(|(k, _)| k == "testid") {
        run.push(("testid".into(), info.test_id.clone()));
    }
    run.extend(info.tags.iter().cloned());
    let steps = info
        .steps
        .iter()
        .map(|s| {
            let mut l = run.clone();
            l.push(("name".into(), s.name.clone()));
            l.push(("scenario".into(), s.scenario.clone()));
            l.push(("method".into(), s.method.clone()));
            l
        })
        .collect();
    (run, steps)
}

/// The run so far as the endpoint's series (same names and labels), for remote write.
pub struct CumulativeSeries {
    run: Labels,
    step_labels: Vec<Labels>,
    steps: Vec<(u64, u64, u64, u64, Hdr<u64>)>,
    totals: [u64; 4],
    vus: f64,
}

impl CumulativeSeries {
    pub fn new(info: &RunInfo) -> CumulativeSeries {
        let (run, step_labels) = run_and_step_labels(info);
        CumulativeSeries {
            run,
            step_labels,
            steps: Vec::new(),
            totals: [0; 4],
            vus: 0.0,
        }
    }

    /// Add a second; every series' value after it.
    pub fn add(&mut self, s: &Second, vus_max: u32) -> Vec<Series> {
        if self.steps.len() < s.data.steps.len() {
            self.steps.resize_with(s.data.steps.len(), || {
                (0, 0, 0, 0, crate::metrics::recorder::new_histogram())
            });
        }
        for (c, d) in self.steps.iter_mut().zip(&s.data.steps) {
            c.0 += d.requests;
            c.1 += d.failures;
            c.2 += d.checks_passed;
            c.3 += d.checks_failed;
            let _ = c.4.add(&d.duration);
        }
        self.totals[0] += s.data.iterations;
        self.totals[1] += s.data.data_sent;
        self.totals[2] += s.data.data_received;
        self.totals[3] += s.data.dropped_iterations;
        if s.reported > 0 {
            self.vus = s.vus as f64;
        }
        let mut out = Vec::new();
        let mut put = |name: &str, labels: &Labels, value: f64| {
            out.push(Series {
                name: name.to_string(),
                labels: labels.clone(),
                value,
            })
        };
        let mut all = crate::metrics::recorder::new_histogram();
        for (c, labels) in self.steps.iter().zip(&self.step_labels) {
            put("k6_http_reqs_total", labels, c.0 as f64);
            if c.0 > 0 {
                put("k6_http_req_failed_rate", labels, c.1 as f64 / c.0 as f64);
            }
            if c.2 + c.3 > 0 {
                put("k6_checks_rate", labels, c.2 as f64 / (c.2 + c.3) as f64);
            }
            if !c.4.is_empty() {
                for st in STATS {
                    put(
                        &format!("k6_http_req_duration_{st}"),
                        labels,
                        stat_value(&c.4, st),
                    );
                }
            }
            let _ = all.add(&c.4);
        }
        let run = self.run.clone();
        if !all.is_empty() {
            for st in STATS {
                put(
                    &format!("k6_http_req_duration_{st}"),
                    &run,
                    stat_value(&all, st),
                );
            }
        }
        put("k6_iterations_total", &run, self.totals[0] as f64);
        put("k6_data_sent_total", &run, self.totals[1] as f64);
        put("k6_data_received_total", &run, self.totals[2] as f64);
        put("k6_dropped_iterations_total", &run, self.totals[3] as f64);
        put("k6_vus", &run, self.vus);
        put("k6_vus_max", &run, vus_max as f64);
        out
    }
}
