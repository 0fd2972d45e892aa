//! The engine: runs a `Plan` on worker threads (one single-threaded runtime each) and streams
//! per-second metric snapshots. It knows nothing of dashboards, thresholds or report formats.

pub mod client;
pub mod context;
pub mod cookies;
pub mod debug;
pub mod dns;
pub mod encoding;
pub mod h2;
mod h2frame;
mod h2read;
pub mod h2vu;
#[cfg(test)]
mod h2vu_tests;
pub(crate) mod hpack;
mod hpack_huffman;
pub mod http1;
#[cfg(test)]
mod http1_prop;
pub mod pool;
pub mod redirect;
pub mod request;
pub mod scan;
pub mod socket;
pub mod sse;
pub mod step;
pub mod tls;
pub mod vu;
pub mod worker;
pub mod ws;

use crate::metrics::Snapshot;
use crate::plan::{Plan, ScenarioPlan};
use client::ClientConfig;
use http::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

/// Signals from outside the engine.
#[derive(Default)]
pub struct Control {
    /// Stop starting iterations; running ones get `graceful_stop` to finish.
    pub stop: AtomicBool,
    /// Stop now: interrupt iterations still running.
    pub hard_stop: AtomicBool,
    /// Start no new iteration while set (running ones finish). Closed model: VUs stay alive and
    /// wait. Open model: iterations falling due meanwhile are skipped, not run late (and not
    /// counted as `dropped_iterations`, which means the generator could not keep up).
    pub pause: AtomicBool,
}

/// A running engine.
pub struct Engine {
    pub snapshots: Receiver<Snapshot>,
    pub control: Arc<Control>,
    pub workers: usize,
    pub started: std::time::Instant,
    threads: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Wait for every worker thread to end.
    pub fn join(self) -> Result<(), JoinError> {
        for t in self.threads {
            t.join().map_err(|_| JoinError::Panicked)?;
        }
        Ok(())
    }
}

/// Why the engine did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("an engine thread panicked")]
    Panicked,
}

/// How many engine threads to run: one per available core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The name to look up again every `http.dns_ttl`: the proxy's or the target's host, unless it
/// is an IP address, an `http.resolve` override, or re-resolution is off (`dns_ttl: 0s`).
fn refreshed_name(plan: &Plan) -> Option<(String, u16)> {
    if plan.http.dns_ttl.is_zero() {
        return None;
    }
    let (host, port) = match &plan.http.proxy {
        Some(p) => (p.host.clone(), p.port),
        None => {
            if plan.resolve_override().is_some() {
                return None;
            }
            (plan.target.host.clone(), plan.target.port)
        }
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    Some((host, port))
}

/// Each step's HTTP/2 request, built once: `[flow][step]` (`None` for a templated step).
fn h2_requests(run: &ScenarioPlan, origin: &str) -> Vec<Vec<Option<request::H2Request>>> {
    run.flows
        .iter()
        .map(|f| {
            f.steps
                .iter()
                .map(|s| request::H2Request::from_step(s, origin))
                .collect()
        })
        .collect()
}

/// Start `plan` against `addrs` (the target's resolved addresses) on `workers` threads per
/// scenario (a multi-scenario plan runs each of its scenarios on threads of its own, all
/// reporting into one stream of snapshots and obeying one `Control`).
pub fn start(plan: Arc<Plan>, addrs: Vec<SocketAddr>, workers: usize) -> std::io::Result<Engine> {
    let control = Arc::new(Control::default());
    let (tx, rx) = mpsc::channel();
    let started = std::time::Instant::now();
    let seed = fastrand::u64(..);
    let mut threads = Vec::new();
    let mut next_id = 0;
    // One list of addresses for every scenario's VUs, kept fresh every `http.dns_ttl`.
    let addrs = Arc::new(dns::Addrs::new(addrs));
    if let Some((host, port)) = refreshed_name(&plan) {
        dns::spawn_refresher(&addrs, plan.http.dns_ttl, dns::system_lookup(host, port))?;
    }
    // One TLS configuration for the whole run: its session cache is shared by every VU.
    let tls = if plan.target.tls {
        Some(
            tls::setup(&plan.target, &plan.http.tls, plan.http.version)
                .map_err(std::io::Error::other)?,
        )
    } else {
        None
    };
    // Where `sequential` and `unique` feeds have got to: one cursor per feed for the whole run
    // (every scenario's VUs draw from the same feeds).
    let feed_cursors = context::feed_cursors(&plan);
    for run in &plan.scenarios {
        // An open-model worker needs at least one VU of its own.
        let workers = match run.load.arrival() {
            Some(a) => workers.min(a.max_vus as usize),
            None => workers,
        };
        // Each worker keeps its own share of a pool: no more workers than connections, so
        // `max_connections` holds for the whole run.
        let workers = match plan.http.connections {
            crate::plan::Connections::Pooled { max } => workers.min(max as usize),
            crate::plan::Connections::PerVu => workers,
        }
        .max(1);
        let host = plan.target.authority();
        HeaderValue::from_str(&host)
            .map_err(|_| std::io::Error::other("target host is not a valid Host header"))?;
        let wire = run
            .flows
            .iter()
            .map(|f| f.steps.iter().map(|s| request::encode(s, &host)).collect())
            .collect();
        let origin = format!("{}://{host}", plan.target.scheme());
        let may_h2 = plan.http.version == crate::plan::HttpVersion::Http2
            || (plan.target.tls && plan.http.version == crate::plan::HttpVersion::Auto);
        let h2_requests = if may_h2 {
            h2_requests(run, &origin)
        } else {
            Vec::new()
        };
        let client = Arc::new(ClientConfig {
            addrs: addrs.clone(),
            local_ips: plan.http.local_ips.clone(),
            timeout: plan.http.timeout,
            wire,
            h2_requests,
            origin,
            h2c: !plan.target.tls && plan.http.version == crate::plan::HttpVersion::Http2,
            tunnel: plan.http.proxy.as_ref().map(|p| client::Tunnel {
                authority: format!(
                    "{}:{}",
                    if plan.target.host.contains(':') {
                        format!("[{}]", plan.target.host)
                    } else {
                        plan.target.host.clone()
                    },
                    plan.target.port
                ),
                authorization: p.authorization.clone(),
            }),
            may_h2,
            max_header_lines: plan.http.max_header_lines,
            host,
            tls: tls.as_ref().map(|t| tls::Tls {
                connector: t.connector.clone(),
                server_name: t.server_name.clone(),
            }),
        });
        let shared_taken = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for id in 0..workers {
            let args = worker::WorkerArgs {
                id,
                workers,
                // Snapshots are told apart by this id only for counting reports per second.
                report_id: next_id,
                plan: plan.clone(),
                scenario: run.clone(),
                client: client.clone(),
                control: control.clone(),
                tx: tx.clone(),
                start: started,
                seed: seed ^ (next_id as u64).wrapping_mul(0xA24B_AED4_963E_E407),
                shared_taken: shared_taken.clone(),
                feed_cursors: feed_cursors.clone(),
            };
            next_id += 1;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let t = std::thread::Builder::new()
                .name(format!("stampede-worker-{}", next_id - 1))
                .spawn(move || {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&rt, worker::run(args));
                })?;
            threads.push(t);
        }
    }
    Ok(Engine {
        snapshots: rx,
        control,
        workers: next_id,
        started,
        threads,
    })
}
