//! `stampede k8s`: Kubernetes manifests for a distributed run (a ConfigMap with the scenario
//! and its data files, a headless Service, an Indexed Job whose `JOB_COMPLETION_INDEX` selects
//! each pod's segment), and `stampede k8s collect` to gather the parts and merge them.
//! Kubernetes runs the pods; stampede does not manage a cluster. See docs/distributed.md.

use crate::scenario::{OverrideArgs, Overrides};
use crate::{Failure, exit};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct K8sArgs {
    #[command(subcommand)]
    pub command: Option<K8sCommand>,
    #[command(flatten)]
    pub manifests: ManifestArgs,
}

#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Gather the parts of a finished run (from the pods' logs with `kubectl`, or from a folder
    /// copied off the results volume) and merge them.
    Collect(CollectArgs),
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The scenario file (its data files, relative to it, go into the ConfigMap too).
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// Pods (segments): a number, or `auto` (from the scenario's peak VUs and rate, and
    /// --vus-per-worker / --rate-per-worker).
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub workers: String,
    /// The image with the stampede binary (see the Dockerfile).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Name of the Job, Service and ConfigMap (default: the scenario's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where each pod's part goes: `stdout` (one final log line; `stampede k8s collect`
    /// reads it with kubectl) or `pvc` (a ReadWriteMany volume, see --pvc).
    #[arg(long, value_name = "stdout|pvc", default_value = "stdout")]
    pub results: String,
    /// The ReadWriteMany PersistentVolumeClaim for `--results pvc`.
    #[arg(long, value_name = "CLAIM")]
    pub pvc: Option<String>,
    /// How long pods wait for all the others before giving up (the start barrier).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::units::duration::parse_duration)]
    pub barrier_timeout: std::time::Duration,
    /// With `--workers auto`: VUs one pod runs.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub vus_per_worker: u32,
    /// With `--workers auto`: iterations per second one pod runs.
    #[arg(long, value_name = "R", default_value_t = 2000.0)]
    pub rate_per_worker: f64,
    /// CPU for each pod (request and limit).
    #[arg(long, value_name = "CPU", default_value = "1")]
    pub cpu: String,
    /// Memory for each pod (request and limit).
    #[arg(long, value_name = "MEM", default_value = "1Gi")]
    pub memory: String,
    /// Keep the finished Job (and its pods' logs) this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 86400)]
    pub ttl: u32,
    /// Write the manifests here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The Job's name (as given to `stampede k8s --name`, default the scenario's name).
    #[arg(value_name = "NAME")]
    pub name: String,
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Read the parts from this folder (copied off the results volume) instead of the logs.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Where the parts and the merged reports go (`DIR/parts/`, `DIR/merged/`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The line a pod prints last with `run --print-summary-line`: this prefix, then the
/// summary.json on one line.
pub const SUMMARY_LINE: &str = "STAMPEDE_SUMMARY ";

/// Where the scenario is mounted in the pods.
const MOUNT: &str = "/scenario";
const RESULTS: &str = "/results";
/// Time for pods to be scheduled, pull the image and write their reports, on top of the
/// schedule and the barrier.
const DEADLINE_MARGIN_S: u64 = 300;
/// A ConfigMap holds at most 1 MiB.
const CONFIGMAP_MAX: usize = 1024 * 1024;

pub fn command(args: K8sArgs) -> Result<i32, Failure> {
    match args.command {
        Some(K8sCommand::Collect(c)) => collect(c),
        None => {
            let text = manifests(&args.manifests)?;
            match &args.manifests.out {
                Some(p) => {
                    std::fs::write(p, text).map_err(|e| {
                        Failure::Usage(format!("cannot write {}: {e}", p.display()))
                    })?;
                    eprintln!("wrote {}", p.display());
                }
                None => {
                    use std::io::Write;
                    let _ = std::io::stdout().lock().write_all(text.as_bytes());
                }
            }
            Ok(exit::OK)
        }
    }
}

/// A DNS-1123 label from any name: lower case, `-` for anything else, at most 40 characters
/// (room for the pods' `-<index>-<suffix>`).
fn dns_name(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(40);
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "stampede".into() } else { t }
}

/// The data files a scenario reads, as written in it (`data.*.csv`, `http.tls.ca_file`).
fn data_files(text: &str) -> Vec<String> {
    let Ok(v) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(m) = v.get("data").and_then(|d| d.as_mapping()) {
        for (_, feed) in m {
            if let Some(p) = feed.get("csv").and_then(|c| c.as_str()) {
                out.push(p.to_string());
            }
        }
    }
    if let Some(p) = v
        .get("http")
        .and_then(|h| h.get("tls"))
        .and_then(|t| t.get("ca_file"))
        .and_then(|c| c.as_str())
    {
        out.push(p.to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// The run options every pod passes on (the same on all, so the parts merge).
fn override_args(o: &Overrides) -> Vec<String> {
    let mut a = Vec::new();
    let mut put = |k: &str, v: String| {
        a.push(format!("--{k}"));
        a.push(v);
    };
    if let Some(t) = &o.target {
        put("target", t.clone());
    }
    if let Some(v) = o.vus {
        put("vus", v.to_string());
    }
    if let Some(d) = o.duration {
        put("duration", format!("{}ms", d.as_millis()));
    }
    if let Some(r) = o.rate {
        put("rate", r.to_string());
    }
    if let Some(s) = o.scale {
        put("scale", s.to_string());
    }
    if let Some(s) = o.time_scale {
        put("time-scale", s.to_string());
    }
    for (k, v) in &o.env {
        put("env", format!("{k}={v}"));
    }
    if o.insecure {
        a.push("--insecure".into());
    }
    a
}

/// How many pods `--workers auto` asks for: enough for the peak VUs and the peak rate.
pub fn auto_workers(plan: &crate::plan::Plan, vus_per_worker: u32, rate_per_worker: f64) -> u32 {
    let vus = plan.peak_vus() as f64 / vus_per_worker.max(1) as f64;
    let rate: f64 = plan
        .scenarios
        .iter()
        .filter_map(|p| p.load.arrival().map(|a| a.peak_rate()))
        .sum::<f64>()
        / rate_per_worker.max(1.0);
    (vus.max(rate).ceil() as u32).max(1)
}

/// The manifests as one multi-document YAML text.
pub fn manifests(a: &ManifestArgs) -> Result<String, Failure> {
    let file = a.scenario.as_ref().ok_or_else(|| {
        Failure::Usage(
            "stampede k8s SCENARIO --workers N --image IMAGE: give the scenario file".into(),
        )
    })?;
    let image = a.image.as_ref().ok_or_else(|| {
        Failure::Usage("--image IMAGE: the image pods run (build it with the Dockerfile)".into())
    })?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    // The scenario must be valid here, as it will be in every pod.
    // `-i` is not passed on: the parts share one schedule.
    let ov = Overrides {
        iterations: None,
        ..Overrides::from(&a.overrides)
    };
    let plan = crate::scenario::load_file(file, &ov)?;
    if plan.breakpoint().is_some() {
        return Err(Failure::Usage(
            "executor: breakpoint stops at the first failing stair, which the parts cannot judge apart: run it in one process".into(),
        ));
    }
    let workers: u32 = if a.workers == "auto" {
        auto_workers(&plan, a.vus_per_worker, a.rate_per_worker)
    } else {
        match a.workers.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(Failure::Usage(format!(
                    "--workers {}: a whole number of at least 1, or auto",
                    a.workers
                )));
            }
        }
    };
    let name = dns_name(a.name.as_deref().unwrap_or(&plan.name));
    let ns = &a.namespace;
    let (scenario_key, data, items) = config_data(file, &text)?;
    let labels = json!({"app.kubernetes.io/name": "stampede", "stampede.dev/run": name});
    let barrier = format!("{name}-0.{name}.{ns}.svc:{}", BARRIER_PORT);
    let mut args: Vec<String> = vec![
        "run".into(),
        format!("{MOUNT}/{scenario_key}"),
        "--segment-of".into(),
        workers.to_string(),
        "--barrier".into(),
        barrier,
        "--barrier-timeout".into(),
        format!("{}s", a.barrier_timeout.as_secs()),
        "--quiet".into(),
    ];
    args.extend(override_args(&ov));
    let mut mounts = vec![json!({"name": "scenario", "mountPath": MOUNT, "readOnly": true})];
    let mut volumes =
        vec![json!({"name": "scenario", "configMap": {"name": name, "items": items}})];
    results(a, &name, &mut args, &mut mounts, &mut volumes)?;
    let deadline = plan.planned_duration().as_secs()
        + plan.graceful_stop().as_secs()
        + a.barrier_timeout.as_secs()
        + DEADLINE_MARGIN_S;
    let config = config_map(&name, ns, &labels, data);
    let service = service(&name, ns, &labels);
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": workers,
            "parallelism": workers,
            // A part that fails is not retried (a retry would run its segment twice, later).
            "backoffLimitPerIndex": 0,
            "maxFailedIndexes": 0,
            "activeDeadlineSeconds": deadline,
            "ttlSecondsAfterFinished": a.ttl,
            "podFailurePolicy": {"rules": [
                // Evicted, preempted or its node lost: the whole run is void.
                {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]},
                // Bad usage or an invalid scenario fails every part alike.
                {"action": "FailJob", "onExitCodes": {"containerName": "stampede", "operator": "In", "values": [2]}},
            ]},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "subdomain": name,
                    "containers": [{
                        "name": "stampede",
                        "image": image,
                        "args": args,
                        "ports": [{"name": "barrier", "containerPort": BARRIER_PORT}],
                        "resources": {
                            "requests": {"cpu": a.cpu, "memory": a.memory},
                            "limits": {"cpu": a.cpu, "memory": a.memory},
                        },
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    });
    let mut out = format!(
        "# stampede k8s: {} as {workers} parts (Indexed Job; JOB_COMPLETION_INDEX selects the segment).\n\
         # kubectl apply -f this.yaml && kubectl wait -n {ns} --for=condition=complete job/{name} --timeout={deadline}s\n\
         # then: stampede k8s collect {name} -n {ns} --out results/ (see docs/distributed.md)\n",
        plan.name
    );
    for doc in [config, service, job] {
        out.push_str("---\n");
        out.push_str(
            &serde_yaml_ng::to_string(&doc).map_err(|e| Failure::Tool(anyhow::anyhow!(e)))?,
        );
    }
    Ok(out)
}

/// Where each pod's part goes (`--results stdout|pvc`): its `--out` and, for a volume, the
/// mount.
fn results(
    a: &ManifestArgs,
    name: &str,
    args: &mut Vec<String>,
    mounts: &mut Vec<Value>,
    volumes: &mut Vec<Value>,
) -> Result<(), Failure> {
    match a.results.as_str() {
        "stdout" => {
            args.extend([
                "--out".into(),
                "/tmp/part".into(),
                "--print-summary-line".into(),
            ]);
        }
        "pvc" => {
            let claim = a.pvc.as_ref().ok_or_else(|| {
                Failure::Usage(
                    "--results pvc needs --pvc CLAIM (a ReadWriteMany PersistentVolumeClaim)"
                        .into(),
                )
            })?;
            args.extend([
                "--out".into(),
                format!("{RESULTS}/{name}/part-$(JOB_COMPLETION_INDEX)"),
            ]);
            mounts.push(json!({"name": "results", "mountPath": RESULTS}));
            volumes.push(json!({"name": "results", "persistentVolumeClaim": {"claimName": claim}}));
        }
        other => {
            return Err(Failure::Usage(format!("--results {other}: stdout or pvc")));
        }
    }
    Ok(())
}

fn config_map(name: &str, ns: &str, labels: &Value, data: serde_json::Map<String, Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "data": data,
    })
}

/// The headless Service that names the pods (pod 0 holds the start barrier).
fn service(name: &str, ns: &str, labels: &Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "clusterIP": "None",
            // The barrier needs the pods' names before they are ready.
            "publishNotReadyAddresses": true,
            "selector": {"stampede.dev/run": name},
            "ports": [{"name": "barrier", "port": BARRIER_PORT, "targetPort": BARRIER_PORT, "protocol": "TCP"}],
        },
    })
}

/// The scenario's file name, the ConfigMap's data and the volume's items.
type ConfigData = (String, serde_json::Map<String, Value>, Vec<Value>);

/// The ConfigMap's data: the scenario and its data files (relative to it, below its folder),
/// at most 1 MiB; the scenario's file name and the mount items.
fn config_data(file: &Path, text: &str) -> Result<ConfigData, Failure> {
    let base = file.parent().unwrap_or_else(|| Path::new("."));
    let scenario_key = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario.yaml".into());
    let mut data = serde_json::Map::new();
    let mut items = vec![json!({"key": "scenario", "path": scenario_key})];
    data.insert("scenario".into(), Value::String(text.to_string()));
    for (i, rel) in data_files(text).iter().enumerate() {
        let p = Path::new(rel);
        if p.is_absolute() || rel.split('/').any(|c| c == "..") {
            return Err(Failure::Usage(format!(
                "{}: data file `{rel}`: in Kubernetes the scenario's files are mounted beside it; write it as a path below the scenario's folder",
                file.display()
            )));
        }
        let content = std::fs::read_to_string(base.join(p))
            .map_err(|e| Failure::Usage(format!("{}: data file `{rel}`: {e}", file.display())))?;
        let key = format!("file-{i}");
        data.insert(key.clone(), Value::String(content));
        items.push(json!({"key": key, "path": rel}));
    }
    let size: usize = data.values().map(|v| v.as_str().map_or(0, str::len)).sum();
    if size > CONFIGMAP_MAX {
        return Err(Failure::Usage(format!(
            "the scenario and its data files are {size} bytes; a ConfigMap holds at most 1 MiB: bake large data files into the image instead"
        )));
    }
    Ok((scenario_key, data, items))
}

/// The port the start barrier listens on in pod 0.
pub const BARRIER_PORT: u16 = 7070;

fn kubectl(args: &[&str]) -> Result<String, Failure> {
    let o = std::process::Command::new("kubectl")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Failure::Usage(format!(
                "cannot run kubectl: {e} (is it installed and on PATH?)"
            ))
        })?;
    if !o.status.success() {
        return Err(Failure::Usage(format!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `stampede k8s collect`: every part, then `merge`.
fn collect(c: CollectArgs) -> Result<i32, Failure> {
    let parts_dir = c.out.join("parts");
    std::fs::create_dir_all(&parts_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", parts_dir.display())))?;
    let mut parts: Vec<PathBuf> = Vec::new();
    match &c.from {
        Some(dir) => {
            let rd = std::fs::read_dir(dir)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", dir.display())))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("summary.json").is_file())
                .collect();
            found.sort();
            parts.extend(found);
        }
        None => {
            let ns = c.namespace.as_str();
            let selector = format!("stampede.dev/run={}", c.name);
            let pods = kubectl(&[
                "get",
                "pods",
                "-n",
                ns,
                "-l",
                &selector,
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
            ])?;
            for pod in pods.lines().map(str::trim).filter(|p| !p.is_empty()) {
                let logs = kubectl(&["logs", "-n", ns, pod, "-c", "stampede"])?;
                let line = logs
                    .lines()
                    .rev()
                    .find_map(|l| l.strip_prefix(SUMMARY_LINE))
                    .ok_or_else(|| {
                        Failure::Usage(format!(
                            "pod {pod}: no `{}` line in its log (did it finish? `kubectl logs -n {ns} {pod}`)",
                            SUMMARY_LINE.trim()
                        ))
                    })?;
                let dir = parts_dir.join(pod);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
                std::fs::write(dir.join("summary.json"), line)
                    .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", dir.display())))?;
                parts.push(dir);
            }
        }
    }
    if parts.is_empty() {
        return Err(Failure::Usage(format!(
            "no parts found for {} (nothing to merge)",
            c.name
        )));
    }
    eprintln!(
        "collected {} parts into {}",
        parts.len(),
        parts_dir.display()
    );
    crate::merge::merge_command(crate::merge::MergeArgs {
        parts,
        out: c.out.join("merged"),
        quiet: false,
    })
}
