//! `stampede plan` end to end: the real binary on CSV points, summary.json files of both
//! shapes, a scenario's `capacity:` block, and the usage errors.

use crate::common::{path_str, stampede, text};
use serde_json::Value;
use std::path::PathBuf;

fn json_of(args: &[&str]) -> Value {
    let o = stampede(args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn close_in(v: &Value, want: f64, tol: f64) {
    let got = v.as_f64().unwrap_or(f64::NAN);
    assert!((got - want).abs() <= tol * want.abs(), "{got} vs {want}");
}

/// X(N) = λN / (1 + σ(N−1) + κN(N−1))
fn usl(n: f64, sigma: f64, kappa: f64, lambda: f64) -> f64 {
    lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

#[test]
fn littles_law_and_fleet_from_flags() {
    let v = json_of(&[
        "plan",
        "--users",
        "100000",
        "--think-time",
        "3s",
        "--response-time",
        "200ms",
        "--per-instance-rps",
        "2400",
        "--headroom",
        "30%",
        "--redundancy",
        "1",
        "--json",
    ]);
    assert_eq!(v["required_rps"], 31250.0);
    assert_eq!(v["in_flight"], 6250.0);
    assert_eq!(v["instances"], 20);
    assert_eq!(v["fleet"]["needed"], 19);
    assert!(v["usl"].is_null());

    // Mean of between(1s,5s) is 3 s; three zones, surviving the loss of one.
    let z = json_of(&[
        "plan",
        "--users",
        "100000",
        "--think-time",
        "between(1s,5s)",
        "--response-time",
        "200ms",
        "--per-instance-rps",
        "2400",
        "--headroom",
        "0.3",
        "--redundancy",
        "1",
        "--zones",
        "3",
        "--json",
    ]);
    assert_eq!(z["required_rps"], 31250.0);
    assert_eq!(z["fleet"]["per_zone"], 10);
    assert_eq!(z["instances"], 30);

    // The text plan shows the formula with its numbers and the assumptions.
    let o = stampede(&[
        "plan",
        "--users",
        "100000",
        "--think-time",
        "3s",
        "--response-time",
        "200ms",
        "--per-instance-rps",
        "2400",
        "--headroom",
        "30%",
        "--redundancy",
        "1",
    ]);
    let t = text(&o);
    assert!(
        t.contains("required = N / (Z + R) = 100,000 / (3 s + 0.2 s) = 31,250 req/s"),
        "{t}"
    );
    assert!(t.contains("instances = needed + r = 19 + 1 = 20"), "{t}");
    assert!(t.contains("Assumptions"), "{t}");
}

#[test]
fn points_csv_fits_the_usl_and_draws_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("# measured\nconcurrency,throughput\n");
    for n in 1..=32 {
        let n = f64::from(n);
        csv.push_str(&format!("{n},{:.3}\n", usl(n, 0.05, 0.001, 1000.0)));
    }
    let points = write(&dir, "points.csv", &csv);
    let chart = dir.path().join("usl.svg");
    let v = json_of(&[
        "plan",
        "--points",
        &path_str(&points),
        "--chart",
        &path_str(&chart),
        "--at-throughput",
        "5000",
        "--json",
    ]);
    let u = &v["usl"];
    let close = |key: &str, want: f64, tol: f64| {
        let got = u[key].as_f64().unwrap_or(f64::NAN);
        assert!((got - want).abs() <= tol * want, "{key}: {got} vs {want}");
    };
    close("sigma", 0.05, 1e-3);
    close("kappa", 0.001, 1e-3);
    close("lambda", 1000.0, 1e-4);
    assert_eq!(u["peak_concurrency"], 30.0);
    close("peak_throughput", usl(30.0, 0.05, 0.001, 1000.0), 1e-4);
    // No R² (not valid for a nonlinear regression); the fit, its intervals and the bounds.
    assert!(u.get("r_squared").is_none(), "{u}");
    assert_eq!(u["fit"], "absolute");
    assert_eq!(u["degrees_of_freedom"], 29);
    assert!((u["t_quantile"].as_f64().unwrap() - 2.045_229_6).abs() < 1e-6);
    for (key, truth) in [("sigma", 0.05), ("kappa", 0.001), ("lambda", 1000.0)] {
        let c = &u["coefficients"][key];
        let (lo, hi) = (c["low"].as_f64().unwrap(), c["high"].as_f64().unwrap());
        // Rounding to 3 decimals is the only noise: tight intervals around the truth.
        assert!(lo < hi && hi - lo < 1e-5 * truth, "{key}: {c}");
        assert!((lo - truth).abs() < 1e-5 * truth, "{key}: {c}");
        assert!(c["standard_error"].as_f64().unwrap() > 0.0, "{key}: {c}");
    }
    // Rounding the throughputs to 3 decimals is all the noise there is.
    assert!(u["residual_standard_error"].as_f64().unwrap() < 0.01, "{u}");
    let peak = &u["peak"]["concurrency"];
    let exact = (0.95f64 / 0.001).sqrt();
    assert!(
        (peak["estimate"].as_f64().unwrap() - exact).abs() < 0.01,
        "{peak}"
    );
    let (lo, hi) = (
        peak["low"].as_f64().unwrap(),
        peak["high"].as_f64().unwrap(),
    );
    assert!(
        lo < hi && (lo - exact).abs() < 1e-3 && (hi - exact).abs() < 1e-3,
        "{peak}"
    );
    close_in(&u["optimal"]["concurrency"]["estimate"], 20.0, 1e-3);
    close_in(&u["amdahl_limit"]["estimate"], 20_000.0, 1e-3);
    assert_eq!(u["bound"], "contention");
    assert!(v["required_rps"].is_null() && v["instances"].is_null());
    // The inverse: the concurrency that gives 5,000/s gives it back.
    let n = v["at_throughput"]["concurrency"].as_f64().unwrap();
    assert!((usl(n, 0.05, 0.001, 1000.0) - 5000.0).abs() < 0.5, "{n}");
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.starts_with("<svg") && svg.contains("N* = 30"));

    // Asking far beyond the data warns.
    let o = stampede(&[
        "plan",
        "--points",
        &path_str(&points),
        "--at-concurrency",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("beyond 2× the largest measured"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_csv_rows_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.csv",
        "concurrency,throughput\n1,100\n2,lots\n3,290\n",
    );
    let o = stampede(&["plan", "--points", &path_str(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    let want = format!("{}:3: throughput `lots` is not a number", path_str(&bad));
    assert!(text(&o).contains(&want), "{}", text(&o));

    let short = write(&dir, "short.csv", "concurrency,throughput\n1,100\n2\n");
    let o = stampede(&["plan", "--points", &path_str(&short)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(&format!("{}:3:", path_str(&short))),
        "{}",
        text(&o)
    );

    let header = write(&dir, "header.csv", "n,x\n1,100\n");
    let o = stampede(&["plan", "--points", &path_str(&header)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(":1: the header must name"),
        "{}",
        text(&o)
    );

    let two = write(
        &dir,
        "two.csv",
        "concurrency,throughput\n1,100\n2,190\n1,101\n2,188\n",
    );
    let o = stampede(&["plan", "--points", &path_str(&two)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("3 or more different concurrencies"));
}

/// Degenerate measurements are refused with exit 2 and a reason, never a NaN.
#[test]
fn degenerate_points_exit_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "three.csv",
            "concurrency,throughput\n1,100\n2,190\n4,350\n",
            "needs 4 or more points (got 3)",
        ),
        (
            "huge.csv",
            "concurrency,throughput\n1,100\n2,1e308\n4,350\n8,600\n",
            "is beyond any measurement",
        ),
        (
            "flat.csv",
            "concurrency,throughput\n1,100\n2,100\n4,100\n8,100\n",
            "every point has the same throughput",
        ),
    ];
    for (name, body, want) in cases {
        let path = write(&dir, name, body);
        for extra in [&[][..], &["--json"][..], &["--fit", "relative"][..]] {
            let mut args = vec!["plan", "--points"];
            let p = path_str(&path);
            args.push(&p);
            args.extend_from_slice(extra);
            let o = stampede(&args);
            assert_eq!(o.status.code(), Some(2), "{name} {extra:?}: {}", text(&o));
            assert!(text(&o).contains(want), "{name}: {}", text(&o));
            assert!(!text(&o).contains("NaN"), "{name}: {}", text(&o));
        }
    }
    let o = stampede(&[
        "plan",
        "--points",
        "examples/data/usl-points.csv",
        "--fit",
        "median",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// The published reference data sets, through the binary: the default fit gives the published
/// coefficients (tests/usl_reference.rs has the sources); `--fit relative` does not, and says so.
#[test]
fn reference_csvs_give_the_published_fits() {
    for (file, sigma, kappa, lambda, peak) in [
        (
            "examples/data/specsdm91.csv",
            0.0277285,
            0.0001044,
            89.9952330,
            96.0,
        ),
        (
            "examples/data/schwartz-cisco.csv",
            0.02671591,
            7.690945e-4,
            995.6486,
            35.0,
        ),
    ] {
        let v = json_of(&["plan", "--points", file, "--json"]);
        let u = &v["usl"];
        assert_eq!(u["fit"], "absolute");
        close_in(&u["sigma"], sigma, 0.01);
        close_in(&u["kappa"], kappa, 0.01);
        close_in(&u["lambda"], lambda, 0.01);
        assert_eq!(u["peak_concurrency"], peak, "{file}");
        let r = json_of(&["plan", "--points", file, "--fit", "relative", "--json"]);
        assert_eq!(r["usl"]["fit"], "relative");
        assert_ne!(r["usl"]["sigma"], u["sigma"]);
        let o = stampede(&["plan", "--points", file, "--fit", "relative"]);
        assert!(text(&o).contains("relative residuals"), "{}", text(&o));
    }
    // A population and no per-instance rate: the fleet is sized with the fitted X(N*) and its
    // interval. 31,250 req/s over (1 − 30 %) · X(N*) ≈ 8,640 each → 4, + 1 spare = 5.
    let v = json_of(&[
        "plan",
        "--points",
        "examples/data/schwartz-cisco.csv",
        "--users",
        "100000",
        "--think-time",
        "3s",
        "--response-time",
        "200ms",
        "--headroom",
        "30%",
        "--redundancy",
        "1",
        "--json",
    ]);
    let ff = &v["fleet_from_fit"];
    let x = ff["per_instance_rps"]["estimate"].as_f64().unwrap();
    assert!((x - 12_341.0).abs() < 0.01 * 12_341.0, "{ff}"); // the book's X_max 12341
    assert_eq!(ff["instances"], 5, "{ff}");
    assert!(ff["instances_low"].as_u64() <= Some(5) && ff["instances_high"].as_u64() >= Some(5));
    assert!(v["instances"].is_null() && v["fleet"].is_null());

    let o = stampede(&["plan", "--points", "examples/data/specsdm91.csv"]);
    let t = text(&o);
    assert!(
        t.contains("absolute residuals") && t.contains("residual standard error 82.85 on 4"),
        "{t}"
    );
    assert!(!t.contains("R²"), "{t}");
}

#[test]
fn breakpoint_summary_gives_points_and_the_per_instance_rate() {
    let dir = tempfile::tempdir().unwrap();
    // Stairs from a service with σ = 0.03, κ = 0.0005, λ = 100/s per request in flight.
    let mut steps = Vec::new();
    for n in [1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0] {
        let x = usl(n, 0.03, 0.0005, 100.0);
        steps.push(serde_json::json!({
            "offered_rps": x, "achieved_rps": x, "vus_max": 64,
            "p50_ms": n / x * 1000.0, "p95_ms": 2.0 * n / x * 1000.0, "p99_ms": 3.0 * n / x * 1000.0,
            "error_rate": 0.0, "passed": n < 30.0
        }));
    }
    let summary = serde_json::json!({
        "name": "breakpoint", "executor": "breakpoint", "timeline": [],
        "capacity": { "steps": steps, "max_sustainable_rps": 1200.0, "knee_rps": null }
    });
    let path = write(&dir, "summary.json", &summary.to_string());
    let v = json_of(&[
        "plan",
        &path_str(&path),
        "--users",
        "10000",
        "--think-time",
        "between(1s,5s)",
        "--response-time",
        "200ms",
        "--headroom",
        "25%",
        "--redundancy",
        "2",
        "--json",
    ]);
    let u = &v["usl"];
    assert!((u["sigma"].as_f64().unwrap() - 0.03).abs() < 1e-4, "{u}");
    assert!((u["kappa"].as_f64().unwrap() - 0.0005).abs() < 1e-6, "{u}");
    assert_eq!(u["points"], 8);
    // 10,000 / 3.2 s = 3,125 req/s; 1,200 × 0.75 = 900 each → ⌈3.47⌉ = 4, + 2 = 6.
    assert_eq!(v["required_rps"], 3125.0);
    assert_eq!(v["fleet"]["per_instance_rps"], 1200.0);
    assert_eq!(v["instances"], 6);
    // The fleet again with the fitted peak X(N*) per instance, and the interval it gives.
    let ff = &v["fleet_from_fit"];
    let x = &ff["per_instance_rps"];
    let peak = (0.97f64 / 0.0005).sqrt();
    close_in(&x["estimate"], usl(peak, 0.03, 0.0005, 100.0), 1e-3);
    let (lo, mid, hi) = (
        ff["instances_low"].as_u64().unwrap(),
        ff["instances"].as_u64().unwrap(),
        ff["instances_high"].as_u64().unwrap(),
    );
    assert!(lo <= mid && mid <= hi, "{ff}");
    // ⌈3,125 / (0.75 · X(N*))⌉ + 2.
    let want = (3125.0 / (0.75 * x["estimate"].as_f64().unwrap())).ceil() as u64 + 2;
    assert_eq!(mid, want, "{ff}");
    let notes = v["assumptions"].to_string();
    assert!(notes.contains("max sustainable rate"), "{notes}");
    assert!(notes.contains("Little's law"), "{notes}");
}

#[test]
fn stepped_run_summary_gives_one_point_per_plateau() {
    let dir = tempfile::tempdir().unwrap();
    let mut timeline = Vec::new();
    let mut second = 0;
    for vus in [1u32, 2, 4, 8, 16] {
        let x = usl(f64::from(vus), 0.1, 0.002, 500.0);
        for s in 0..4 {
            second += 1;
            // The first second of a plateau is half-warm; the others carry X.
            let requests = if s == 0 { x * 0.5 } else { x };
            timeline.push(serde_json::json!({
                "second": second, "vus": vus, "requests": requests.round() as u64,
                "failures": 0, "iterations": 0, "data_sent": 0, "data_received": 0,
                "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "steps": []
            }));
        }
    }
    let summary = serde_json::json!({
        "name": "steps", "executor": "ramping-vus", "duration_s": f64::from(second),
        "timeline": timeline
    });
    let path = write(&dir, "summary.json", &summary.to_string());
    let v = json_of(&["plan", &path_str(&path), "--json"]);
    let u = &v["usl"];
    assert_eq!(u["points"], 5);
    assert!((u["sigma"].as_f64().unwrap() - 0.1).abs() < 0.01, "{u}");
    assert!((u["lambda"].as_f64().unwrap() - 500.0).abs() < 5.0, "{u}");

    // An open-model run's VU counts are not concurrency: the plan says so.
    let mut open = summary.clone();
    open["executor"] = "constant-arrival-rate".into();
    let path = write(&dir, "open.json", &open.to_string());
    let v = json_of(&["plan", &path_str(&path), "--json"]);
    assert!(v["warnings"].to_string().contains("open-model run"), "{v}");

    let junk = write(&dir, "junk.json", "{\"timeline\": [1, 2]}");
    let o = stampede(&["plan", &path_str(&junk)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a stampede summary"), "{}", text(&o));
}

#[test]
fn scenario_capacity_block() {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = format!("{root}/examples/capacity.yaml");
    let v = json_of(&[
        "plan",
        "--scenario",
        &example,
        "--response-time",
        "200ms",
        "--per-instance-rps",
        "2400",
        "--headroom",
        "30%",
        "--redundancy",
        "1",
        "--json",
    ]);
    // 1,000,000 × 10 % × 10 % = 10,000 users; between(1s, 5s) → 3 s; 10,000 / 3.2 s.
    assert_eq!(v["demand"]["users"], 10000.0);
    assert_eq!(v["required_rps"], 3125.0);
    assert_eq!(v["instances"], 3); // ⌈3125 / 1680⌉ = 2, + 1
    // --users wins over the block.
    let w = json_of(&[
        "plan",
        "--scenario",
        &example,
        "--users",
        "32000",
        "--response-time",
        "200ms",
        "--json",
    ]);
    assert_eq!(w["required_rps"], 10000.0);
    assert!(w["instances"].is_null());

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.yaml",
        "target: http://127.0.0.1:9\ncapacity:\n  registered_users: 1000\n  daily_active: 10 percent\n  peak_concurrent: 5%\n",
    );
    let o = stampede(&[
        "plan",
        "--scenario",
        &path_str(&bad),
        "--response-time",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(&format!("{}:4:17: ", path_str(&bad))),
        "{}",
        text(&o)
    );
    // `stampede validate` checks the block too.
    let o = stampede(&["validate", &path_str(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains(":4:17: "), "{}", text(&o));
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &["plan"],
        &["plan", "--users", "10", "--think-time", "1s"],
        &[
            "plan",
            "--users",
            "10",
            "--think-time",
            "sometimes",
            "--response-time",
            "1s",
        ],
        &[
            "plan",
            "--users",
            "0",
            "--think-time",
            "1s",
            "--response-time",
            "1s",
        ],
        &[
            "plan",
            "--users",
            "10",
            "--think-time",
            "1s",
            "--response-time",
            "1s",
            "--headroom",
            "120%",
        ],
        &[
            "plan",
            "--users",
            "10",
            "--think-time",
            "1s",
            "--response-time",
            "1s",
            "--per-instance-rps",
            "5",
            "--zones",
            "1",
        ],
        &[
            "plan",
            "--users",
            "10",
            "--think-time",
            "1s",
            "--response-time",
            "1s",
            "--headroom",
            "10%",
        ],
        &["plan", "--per-instance-rps", "100"],
        &["plan", "--points", "/nonexistent/points.csv"],
        &[
            "plan",
            "--users",
            "10",
            "--think-time",
            "1s",
            "--response-time",
            "1s",
            "--chart",
            "x.svg",
        ],
        &[
            "plan",
            "--users",
            "10",
            "--think-time",
            "1s",
            "--response-time",
            "1s",
            "--at-concurrency",
            "4",
        ],
    ];
    for args in cases {
        let o = stampede(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("error"), "{args:?}: {}", text(&o));
    }
    let h = stampede(&["plan", "--help"]);
    let t = text(&h);
    assert!(
        t.contains("Examples:") && t.contains("--per-instance-rps 2400"),
        "{t}"
    );
}
