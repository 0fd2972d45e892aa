//! Live outputs (`--out KIND=TARGET`, named as k6 names them): read-only consumers of the
//! per-second snapshots the runner receives from the engine.
//!
//! The runner hands each worker snapshot to [`Outputs::offer`], which clones it into a bounded
//! queue without ever waiting; a hub thread merges the workers' snapshots of one second and fans
//! the merged second out to one thread per sink, again through bounded queues. A sink that is slow
//! or dead (a full disk, a blocked pipe) only loses its own seconds, counted and reported at the
//! end; the engine and the other sinks never wait for it.

pub mod args;
pub mod csv;
pub mod hlog;
pub mod json;
pub mod prometheus;
pub mod quick;
pub mod remote_write;

use crate::metrics::aggregate::Snapshot;
use crate::metrics::recorder::Recorder;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

pub use args::{OutputArgs, OutputKind, OutputSpec};

/// What every sink knows about the run besides the numbers.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub name: String,
    /// Steps by metric index, with the scenario each belongs to (`default` for one-scenario files).
    pub steps: Vec<StepInfo>,
    /// Thresholds as (metric key, expression), for k6's `Metric` lines.
    pub thresholds: Vec<(String, String)>,
    /// `--tag k=v`: on every sample of every output.
    pub tags: Vec<(String, String)>,
    /// `testid` label of the Prometheus outputs.
    pub test_id: String,
    /// Wall-clock time of the run's start (second 0).
    pub started: SystemTime,
    pub vus_max: u32,
}

#[derive(Debug, Clone)]
pub struct StepInfo {
    pub name: String,
    pub scenario: String,
    pub method: String,
    pub url: String,
}

/// One second of the run, all workers merged.
pub struct Second {
    /// 1-based: the interval `(second-1, second]` after the start.
    pub second: u64,
    pub data: Recorder,
    pub vus: u32,
    /// Workers that reported this second (fewer than all when it was closed at the end).
    pub reported: usize,
}

impl Second {
    /// Wall-clock time at the end of this second.
    pub fn time(&self, info: &RunInfo) -> SystemTime {
        info.started + Duration::from_secs(self.second)
    }
}

/// A live output: gets every merged second in order, then `finish` once.
pub trait Sink: Send {
    /// What to call it in messages (`json (results.json)`).
    fn describe(&self) -> String;
    fn second(&mut self, s: &Second) -> anyhow::Result<()>;
    /// Flush and close; called once after the last second.
    fn finish(&mut self) -> anyhow::Result<()>;
}

/// Queue lengths: seconds waiting for a sink, and snapshots waiting for the hub.
const SINK_QUEUE: usize = 16;
const HUB_QUEUE: usize = 256;

struct SinkHandle {
    name: String,
    tx: SyncSender<Arc<Second>>,
    dropped: Arc<AtomicU64>,
    thread: JoinHandle<Vec<String>>,
}

/// The sinks of a run, open (files created, ports bound) but not yet started.
pub struct Opened(Vec<Box<dyn Sink>>);

impl Opened {
    /// Open every sink: a bad target is an error before any load is sent.
    pub fn open(specs: &[OutputSpec], info: RunInfo) -> anyhow::Result<Opened> {
        let info = Arc::new(info);
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        for spec in specs {
            sinks.push(match spec.kind {
                OutputKind::Json => Box::new(json::JsonSink::create(&spec.target, info.clone())?),
                OutputKind::Csv => Box::new(csv::CsvSink::create(&spec.target, info.clone())?),
                OutputKind::Hlog => Box::new(hlog::HlogSink::create(&spec.target, info.clone())?),
                OutputKind::Prometheus => {
                    Box::new(prometheus::PromSink::bind(&spec.target, info.clone())?)
                }
                OutputKind::RemoteWrite => {
                    Box::new(remote_write::RwSink::create(&spec.target, info.clone())?)
                }
            });
        }
        Ok(Opened(sinks))
    }

    /// Start the sinks' threads; `workers` snapshots make a second.
    pub fn start(self, workers: usize) -> Outputs {
        if self.0.is_empty() {
            return Outputs::none();
        }
        let handles: Vec<SinkHandle> = self.0.into_iter().map(spawn_sink).collect();
        let (tx, rx) = sync_channel::<Snapshot>(HUB_QUEUE);
        let names: Vec<String> = handles.iter().map(|h| h.name.clone()).collect();
        match std::thread::Builder::new()
            .name("stampede-outputs".into())
            .spawn(move || hub(rx, handles, workers.max(1)))
        {
            Ok(hub) => Outputs {
                tx: Some(tx),
                dropped: Arc::new(AtomicU64::new(0)),
                hub: Some(hub),
            },
            Err(e) => {
                eprintln!("warning: outputs {} not started: {e}", names.join(", "));
                Outputs::none()
            }
        }
    }
}

/// What the sinks know of a run: its steps, thresholds, tags and start.
pub fn run_info(
    plan: &crate::plan::Plan,
    tags: &[(String, String)],
    started_at: &chrono::DateTime<chrono::Local>,
) -> RunInfo {
    let mut steps: Vec<StepInfo> = plan
        .step_names
        .iter()
        .map(|n| StepInfo {
            name: n.clone(),
            scenario: "default".into(),
            method: String::new(),
            url: String::new(),
        })
        .collect();
    for f in plan.all_flows() {
        for st in &f.steps {
            if let Some(s) = steps.get_mut(st.metric)
                && s.method.is_empty()
            {
                s.method = st.method.to_string();
                s.url = format!("{}{}", plan.target.url().trim_end_matches('/'), st.path);
            }
        }
    }
    for (name, idx) in plan.scenario_steps() {
        for &i in &idx {
            if let Some(s) = steps.get_mut(i) {
                s.scenario = name.clone();
            }
        }
    }
    let test_id = tags
        .iter()
        .find(|(k, _)| k == "testid")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| format!("{}-{}", plan.name, started_at.format("%Y%m%d-%H%M%S")));
    RunInfo {
        name: plan.name.clone(),
        steps,
        thresholds: plan
            .thresholds
            .iter()
            .map(|t| (t.metric.to_string(), t.expression.clone()))
            .collect(),
        tags: tags.to_vec(),
        test_id,
        started: std::time::SystemTime::from(*started_at),
        vus_max: plan.peak_vus(),
    }
}

/// The running outputs of one run.
pub struct Outputs {
    tx: Option<SyncSender<Snapshot>>,
    dropped: Arc<AtomicU64>,
    hub: Option<JoinHandle<Vec<String>>>,
}

impl Outputs {
    /// No outputs: `offer` does nothing.
    pub fn none() -> Outputs {
        Outputs {
            tx: None,
            dropped: Arc::new(AtomicU64::new(0)),
            hub: None,
        }
    }

    /// Hand a copy of a worker's snapshot to the outputs; never waits.
    pub fn offer(&self, snap: &Snapshot) {
        let Some(tx) = &self.tx else { return };
        let copy = Snapshot {
            worker: snap.worker,
            second: snap.second,
            data: snap.data.clone(),
            vus: snap.vus,
            vus_peak: snap.vus_peak,
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(copy) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Close the outputs (every second still pending is written) and return what went wrong,
    /// one line each: dropped samples, write errors.
    pub fn finish(mut self) -> Vec<String> {
        drop(self.tx.take());
        let mut notes = match self.hub.take().map(JoinHandle::join) {
            Some(Ok(n)) => n,
            Some(Err(_)) => vec!["outputs: the output thread failed".into()],
            None => Vec::new(),
        };
        let d = self.dropped.load(Ordering::Relaxed);
        if d > 0 {
            notes.push(format!(
                "outputs: {d} worker snapshot(s) dropped because the outputs fell behind; streamed figures are incomplete (the reports are not affected)"
            ));
        }
        notes
    }
}

fn spawn_sink(mut sink: Box<dyn Sink>) -> SinkHandle {
    let (tx, rx): (SyncSender<Arc<Second>>, Receiver<Arc<Second>>) = sync_channel(SINK_QUEUE);
    let name = sink.describe();
    let dropped = Arc::new(AtomicU64::new(0));
    let thread = std::thread::Builder::new()
        .name("stampede-sink".into())
        .spawn(move || {
            let mut notes = Vec::new();
            let mut failed = false;
            for s in rx {
                if failed {
                    continue;
                }
                if let Err(e) = sink.second(&s) {
                    notes.push(format!(
                        "{}: {e:#}; nothing more is written to it",
                        sink.describe()
                    ));
                    failed = true;
                }
            }
            if !failed && let Err(e) = sink.finish() {
                notes.push(format!("{}: {e:#}", sink.describe()));
            }
            notes
        });
    let thread = match thread {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("{name}: cannot start its thread: {e}");
            std::thread::spawn(move || vec![msg])
        }
    };
    SinkHandle {
        name,
        tx,
        dropped,
        thread,
    }
}

/// Merge snapshots by second; a second goes out when every worker reported it (or at the end).
fn hub(rx: Receiver<Snapshot>, sinks: Vec<SinkHandle>, workers: usize) -> Vec<String> {
    let mut pending: BTreeMap<u64, Second> = BTreeMap::new();
    let mut sent_through = 0u64;
    let send = |s: Second, sinks: &[SinkHandle]| {
        let s = Arc::new(s);
        for h in sinks {
            if h.tx.try_send(s.clone()).is_err() {
                h.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let mut late = 0u64;
    for snap in rx {
        if snap.second <= sent_through {
            // A worker's snapshot for a second already written: streamed as a second of its own
            // would break per-second outputs; count it instead.
            late += 1;
            let s = Second {
                second: snap.second,
                data: snap.data,
                vus: 0,
                reported: 0,
            };
            send(s, &sinks);
            continue;
        }
        let e = pending.entry(snap.second).or_insert_with(|| Second {
            second: snap.second,
            data: Recorder::new(snap.data.steps.len()),
            vus: 0,
            reported: 0,
        });
        if e.data.checks.len() < snap.data.checks.len() {
            e.data.checks.resize(snap.data.checks.len(), [0; 2]);
        }
        e.data.add(&snap.data);
        e.vus += snap.vus;
        e.reported += 1;
        let complete: Option<u64> = pending
            .iter()
            .filter(|(_, s)| s.reported >= workers)
            .map(|(k, _)| *k)
            .next_back();
        if let Some(last) = complete {
            let ready: Vec<u64> = pending.range(..=last).map(|(k, _)| *k).collect();
            for k in ready {
                if let Some(s) = pending.remove(&k) {
                    sent_through = k;
                    send(s, &sinks);
                }
            }
        }
    }
    for (_, s) in std::mem::take(&mut pending) {
        send(s, &sinks);
    }
    let mut notes = Vec::new();
    if late > 0 {
        notes.push(format!(
            "outputs: {late} late worker snapshot(s) were written after their second"
        ));
    }
    for h in sinks {
        let SinkHandle {
            name,
            tx,
            dropped,
            thread,
        } = h;
        drop(tx);
        match thread.join() {
            Ok(n) => notes.extend(n),
            Err(_) => notes.push(format!("{name}: its thread failed")),
        }
        let d = dropped.load(Ordering::Relaxed);
        if d > 0 {
            notes.push(format!(
                "{name}: fell behind and dropped {d} second(s) of samples; its figures are incomplete"
            ));
        }
    }
    notes
}

/// RFC 3339 with nanoseconds in UTC, as k6 writes times (`2021-02-24T13:37:10Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Shared state of an output that is read by someone else (the Prometheus endpoint).
pub type Shared<T> = Arc<Mutex<T>>;

#[cfg(test)]
mod tests {
    use crate::scenario::{Overrides, load_str};

    #[test]
    fn run_info_gives_every_scenarios_steps_their_method_url_and_scenario() {
        let plan = load_str(
            "target: http://127.0.0.1:9\nscenarios:\n\
             \x20 browse:\n\
             \x20   load: { vus: 1, duration: 1s }\n\
             \x20   flows: [ { steps: [ { name: home, get: /fast } ] } ]\n\
             \x20 api:\n\
             \x20   load: { vus: 1, duration: 1s }\n\
             \x20   flows: [ { steps: [ { name: submit, post: /echo, body: hi } ] } ]\n",
            "s.yaml",
            "s",
            &Overrides::default(),
        )
        .expect("a valid file");
        let info = super::run_info(&plan, &[], &chrono::Local::now());
        let row = |s: &super::StepInfo| {
            (
                s.name.clone(),
                s.method.clone(),
                s.url.clone(),
                s.scenario.clone(),
            )
        };
        let rows: Vec<_> = info.steps.iter().map(row).collect();
        let want = |n: &str, m: &str, u: &str, s: &str| (n.into(), m.into(), u.into(), s.into());
        assert_eq!(
            rows,
            vec![
                want("home", "GET", "http://127.0.0.1:9/fast", "browse"),
                want("submit", "POST", "http://127.0.0.1:9/echo", "api"),
            ]
        );
    }
}
