//! `stampede k8s`: the manifests validate against the Kubernetes schema (kubernetes-validate,
//! installed by .ci/install-19.sh) and say what a distributed run needs; `k8s collect` gathers
//! parts from pod logs (a stand-in `kubectl` here) and merges them.

use crate::common::*;
use std::path::{Path, PathBuf};

/// kubernetes-validate: $KUBERNETES_VALIDATE, on PATH, or where .ci/install-19.sh puts it.
fn validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("kubernetes-validate");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let venv = std::env::var_os("STAMPEDE_K8S_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
            Some(cache.join("stampede/k8s-venv"))
        })?;
    let p = venv.join("bin/kubernetes-validate");
    p.is_file().then_some(p)
}

fn scenario_with_data() -> Scenario {
    let s = Scenario::new(
        r#"
name: Shop Load
target: http://shop.internal:8080
load:
  executor: ramping-vus
  stages: [ {duration: 1m, target: 3000}, {duration: 5m, target: 3000} ]
  graceful_stop: 30s
data:
  users: { csv: data/users.csv, pick: unique }
flows:
  - steps: [ { name: me, get: "/me?u={{data.users.email}}" } ]
thresholds:
  http_req_duration: ["p(95) < 500ms"]
"#,
    );
    std::fs::create_dir_all(s.dir.path().join("data")).unwrap();
    std::fs::write(s.dir.path().join("data/users.csv"), "email\na@x\nb@x\n").unwrap();
    s
}

fn manifests(s: &Scenario, extra: &[&str]) -> (String, std::process::Output) {
    let mut args = vec![
        "k8s",
        s.file.to_str().unwrap(),
        "--image",
        "registry.example/stampede:1",
    ];
    args.extend_from_slice(extra);
    let o = stampede(&args);
    (String::from_utf8_lossy(&o.stdout).into_owned(), o)
}

fn docs(yaml: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| serde_json::Value::deserialize(d).unwrap())
        .collect()
}

#[test]
fn manifests_for_1_4_and_64_workers_validate_against_the_kubernetes_schema() {
    let Some(validate) = validator() else {
        panic!(
            "kubernetes-validate is not installed: run .ci/install-19.sh (or set KUBERNETES_VALIDATE)"
        );
    };
    let s = scenario_with_data();
    for n in [1u64, 4, 64] {
        let (yaml, o) = manifests(&s, &["--workers", &n.to_string(), "--namespace", "load"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let file = s.dir.path().join(format!("k8s-{n}.yaml"));
        std::fs::write(&file, &yaml).unwrap();
        let v = std::process::Command::new(&validate)
            .args(["--strict", file.to_str().unwrap()])
            .output()
            .expect("run kubernetes-validate");
        let out = text(&v);
        assert!(v.status.success(), "N={n}: {out}");
        assert_eq!(
            out.matches(" passed for resource ").count(),
            3,
            "N={n}: {out}"
        );

        let d = docs(&yaml);
        let kinds: Vec<&str> = d.iter().map(|x| x["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["ConfigMap", "Service", "Job"]);
        let (cm, svc, job) = (&d[0], &d[1], &d[2]);
        assert_eq!(cm["metadata"]["name"], "shop-load");
        assert_eq!(
            cm["data"]["file-0"], "email\na@x\nb@x\n",
            "data files travel along"
        );
        assert!(
            cm["data"]["scenario"]
                .as_str()
                .unwrap()
                .contains("pick: unique")
        );
        assert_eq!(svc["spec"]["clusterIP"], "None", "headless");
        let spec = &job["spec"];
        assert_eq!(spec["completionMode"], "Indexed");
        assert_eq!(spec["completions"].as_u64(), Some(n));
        assert_eq!(spec["parallelism"].as_u64(), Some(n));
        assert_eq!(spec["backoffLimitPerIndex"].as_u64(), Some(0));
        assert_eq!(spec["maxFailedIndexes"].as_u64(), Some(0));
        assert!(spec["ttlSecondsAfterFinished"].as_u64().is_some());
        // 6 min of schedule + 30 s graceful stop + 5 min barrier + 5 min margin.
        assert_eq!(
            spec["activeDeadlineSeconds"].as_u64(),
            Some(360 + 30 + 300 + 300)
        );
        let rules = spec["podFailurePolicy"]["rules"].as_array().unwrap();
        assert!(
            rules.iter().any(|r| r["action"] == "FailJob"
                && r["onPodConditions"][0]["type"] == "DisruptionTarget")
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["subdomain"], "shop-load");
        let args: Vec<&str> = pod["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let n_s = n.to_string();
        assert!(
            args.windows(2).any(|w| w == ["--segment-of", n_s.as_str()]),
            "{args:?}"
        );
        assert!(args.contains(&"--print-summary-line"), "{args:?}");
        let items = pod["volumes"][0]["configMap"]["items"].as_array().unwrap();
        assert!(
            items.iter().any(|i| i["path"] == "data/users.csv"),
            "{items:?}"
        );
    }
    // A results volume instead of logs.
    let (yaml, o) = manifests(
        &s,
        &["--workers", "4", "--results", "pvc", "--pvc", "shared"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let file = s.dir.path().join("k8s-pvc.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let v = std::process::Command::new(&validate)
        .args(["--strict", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", text(&v));
    assert!(yaml.contains("claimName: shared"), "{yaml}");
    assert!(
        yaml.contains("/results/shop-load/part-$(JOB_COMPLETION_INDEX)"),
        "{yaml}"
    );
}

#[test]
fn workers_auto_follows_the_peak_and_bad_input_is_refused() {
    let s = scenario_with_data();
    let (yaml, o) = manifests(&s, &["--workers", "auto", "--vus-per-worker", "1000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        docs(&yaml)[2]["spec"]["completions"].as_u64(),
        Some(3),
        "3000 VUs / 1000"
    );
    for (extra, want) in [
        (vec!["--workers", "0"], "at least 1"),
        (vec!["--results", "pvc"], "--pvc"),
    ] {
        let (_, o) = manifests(&s, &extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(text(&o).contains(want), "{extra:?}: {}", text(&o));
    }
}

#[test]
fn collect_reads_the_parts_from_the_pod_logs_and_merges_them() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: collected
target: {}
load: {{ executor: constant-arrival-rate, rate: 40, duration: 1s, pre_allocated_vus: 2, max_vus: 4, graceful_stop: 1s }}
flows:
  - steps: [ {{ name: home, get: /fast }} ]
thresholds:
  http_reqs: ["count == 40"]
"#,
        t.url
    ));
    // Two "pods": each runs its part as the Job would and prints its summary line.
    let logs = s.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for i in 0..2 {
        let out = s.dir.path().join(format!("pod-{i}"));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args([
                "run",
                s.file.to_str().unwrap(),
                "--segment-of",
                "2",
                "--quiet",
            ])
            .args(["--out", out.to_str().unwrap(), "--print-summary-line"])
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        std::fs::write(logs.join(format!("collected-{i}-abcde")), &o.stdout).unwrap();
    }
    // A stand-in kubectl: `get pods` lists the log files, `logs POD` prints one.
    let bin = s.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let kubectl = bin.join("kubectl");
    std::fs::write(
        &kubectl,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  get) ls {logs} ;;\n  logs) cat {logs}/$4 ;;\n  *) exit 1 ;;\nesac\n",
            logs = logs.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let results = s.dir.path().join("results");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args([
            "k8s",
            "collect",
            "collected",
            "--out",
            results.to_str().unwrap(),
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let merged: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results.join("merged/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(merged["metrics"]["http_reqs"]["count"].as_u64(), Some(40));
    assert_eq!(t.served()["requests"].as_u64(), Some(40));
    assert_eq!(merged["verdict"], "passed");
}
