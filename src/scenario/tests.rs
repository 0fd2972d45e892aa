use super::*;

const BASE: &str =
    "target: http://127.0.0.1:8080/api\nflows:\n  - steps:\n      - { name: a, get: /x }\n";

fn plan(load: &str, ov: &Overrides) -> Result<Plan, ScenarioError> {
    load_str(&format!("{BASE}load:\n{load}"), "s.yaml", "s", ov)
}

#[test]
fn defaults_and_executor_inference() {
    let p = plan("  vus: 3\n  duration: 10s\n", &Overrides::default()).unwrap();
    assert_eq!(p.name, "s");
    assert_eq!(p.scenarios[0].load.executor_name(), "constant-vus");
    assert_eq!(p.scenarios[0].load.graceful_stop(), Duration::from_secs(30));
    assert_eq!(p.http.timeout, Duration::from_secs(60));
    assert_eq!(p.scenarios[0].flows[0].steps[0].path, "/api/x");
    assert_eq!(p.target_origin, "s.yaml:1:9");
    let r = plan(
        "  stages: [ {duration: 10s, target: 5} ]\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(r.scenarios[0].load.executor_name(), "ramping-vus");
    assert_eq!(
        r.scenarios[0].load.vus_at(Duration::ZERO),
        1,
        "k6's start_vus default is 1"
    );
}

#[test]
fn overrides_scale_vus_and_time() {
    let ov = Overrides {
        scale: Some(0.01),
        time_scale: Some(0.1),
        ..Default::default()
    };
    let p = plan("  start_vus: 1000\n  stages: [ {duration: 100s, target: 50000}, {duration: 20s, target: 0} ]\n", &ov).unwrap();
    assert_eq!(p.scenarios[0].load.max_vus(), 500);
    assert_eq!(p.scenarios[0].load.vus_at(Duration::ZERO), 10);
    assert_eq!(p.scenarios[0].load.duration(), Duration::from_secs(12));
    assert_eq!(p.scenarios[0].load.graceful_stop(), Duration::from_secs(3));

    let both = Overrides {
        vus: Some(7),
        duration: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    let c = plan("  stages: [ {duration: 100s, target: 50} ]\n", &both).unwrap();
    assert_eq!(c.scenarios[0].load.executor_name(), "constant-vus");
    assert_eq!(
        (
            c.scenarios[0].load.max_vus(),
            c.scenarios[0].load.duration()
        ),
        (7, Duration::from_secs(3))
    );

    let peak = Overrides {
        vus: Some(10),
        ..Default::default()
    };
    let r = plan(
        "  stages: [ {duration: 10s, target: 100}, {duration: 10s, target: 50} ]\n",
        &peak,
    )
    .unwrap();
    assert_eq!(r.scenarios[0].load.max_vus(), 10);
    assert_eq!(
        r.scenarios[0].load.vus_at(Duration::from_secs(15)),
        8,
        "halfway from 10 to 5"
    );

    let bad = Overrides {
        scale: Some(-1.0),
        ..Default::default()
    };
    assert!(
        plan("  vus: 1\n  duration: 1s\n", &bad)
            .unwrap_err()
            .message
            .contains("--scale")
    );
}

#[test]
fn keys_of_another_executor_are_refused_at_the_key() {
    let e = plan(
        "  executor: constant-vus\n  duration: 5s\n  stages: []\n",
        &Overrides::default(),
    )
    .unwrap_err();
    assert_eq!(e.pos, Some(Pos { line: 8, col: 3 }));
    assert!(
        e.message
            .contains("does not apply to executor constant-vus")
    );
}

#[test]
fn json_bodies_set_their_content_type() {
    let text = "target: http://h:1\nload: { vus: 1, duration: 1s }\nflows:\n  - steps:\n      - { post: /p, json: { a: [1, 2] } }\n";
    let p = load_str(text, "f", "f", &Overrides::default()).unwrap();
    let s = &p.scenarios[0].flows[0].steps[0];
    assert_eq!(&s.body[..], br#"{"a":[1,2]}"#);
    assert_eq!(s.headers["content-type"], "application/json");
    assert_eq!(p.step_names, vec!["POST /p"]);
}

#[test]
fn did_you_mean_only_for_near_misses() {
    assert_eq!(did_you_mean("vuss", ["vus", "duration"]), Some("vus"));
    assert_eq!(did_you_mean("completely", ["vus", "duration"]), None);
}

fn with_http(http: &str) -> Result<Plan, ScenarioError> {
    load_str(
        &format!("{BASE}http: {http}\nload: {{ vus: 100, duration: 1s }}\n"),
        "s.yaml",
        "s",
        &Overrides::default(),
    )
}

#[test]
fn connection_modes_and_source_addresses() {
    let p = with_http("{ timeout: 5s }").unwrap();
    assert_eq!(p.http.connections, Connections::PerVu);
    assert_eq!(p.peak_connections(), 100);
    let p = with_http("{ connections: pooled, max_connections: 10 }").unwrap();
    assert_eq!(p.http.connections, Connections::Pooled { max: 10 });
    assert_eq!(p.peak_connections(), 10);
    let p = with_http("{ connections: pooled, max_connections: 1000 }").unwrap();
    assert_eq!(p.peak_connections(), 100, "never more connections than VUs");
    let p = with_http("{ local_ips: [127.0.0.2, \"127.0.0.8/30\"] }").unwrap();
    let ips: Vec<String> = p.http.local_ips.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        ips,
        [
            "127.0.0.2",
            "127.0.0.8",
            "127.0.0.9",
            "127.0.0.10",
            "127.0.0.11"
        ]
    );
    let p = with_http("{ local_ips: 10.0.0.0/30 }").unwrap();
    assert_eq!(p.http.local_ips.len(), 2, "network and broadcast skipped");

    for (http, want) in [
        (
            "{ connections: shared }",
            "s.yaml:5:22: unknown http.connections `shared`",
        ),
        (
            "{ connections: pooled }",
            "s.yaml:5:9: pooled connections need `http.max_connections",
        ),
        (
            "{ max_connections: 5 }",
            "s.yaml:5:9: http.max_connections needs `http.connections: pooled`",
        ),
        (
            "{ connections: pooled, max_connections: 0 }",
            "must be at least 1",
        ),
        (
            "{ local_ips: [127.0.0.1, nope] }",
            "s.yaml:5:32: `nope` is not an IP address",
        ),
        ("{ local_ips: 10.0.0.0/8 }", "more than 4096 addresses"),
    ] {
        let e = with_http(http).unwrap_err().to_string();
        assert!(e.contains(want), "{http}: {e}");
    }
}

#[test]
fn arrival_rate_executors() {
    let p = plan(
        "  executor: constant-arrival-rate\n  rate: 30\n  time_unit: 1m\n  duration: 10s\n  pre_allocated_vus: 2\n  max_vus: 5\n",
        &Overrides::default(),
    )
    .unwrap();
    let a = p.scenarios[0].load.arrival().expect("open model");
    assert_eq!(a.start_rate, 0.5, "30 per minute");
    assert_eq!((a.pre_allocated_vus, a.max_vus), (2, 5));
    assert_eq!(a.queue_size, 1000, "at least 1000 deep by default");
    assert_eq!(p.scenarios[0].load.max_vus(), 5);
    let p = plan(
        "  executor: ramping-arrival-rate\n  stages: [ {duration: 10s, target: 400} ]\n  max_vus: 100\n",
        &Overrides::default(),
    )
    .unwrap();
    let a = p.scenarios[0].load.arrival().expect("open model");
    assert_eq!(a.start_rate, 0.0);
    assert_eq!(a.queue_size, 2000, "5 s of the peak rate");
    assert_eq!(a.pre_allocated_vus, 10);

    for (load, want) in [
        (
            "  executor: constant-arrival-rate\n  duration: 5s\n  max_vus: 5\n",
            "needs `rate`",
        ),
        (
            "  executor: constant-arrival-rate\n  rate: 5\n  duration: 5s\n",
            "needs `pre_allocated_vus`",
        ),
        (
            "  executor: constant-arrival-rate\n  rate: 5\n  duration: 5s\n  pre_allocated_vus: 9\n  max_vus: 5\n",
            "s.yaml:10:12: max_vus (5) is below pre_allocated_vus (9)",
        ),
        (
            "  executor: constant-arrival-rate\n  rate: 5\n  duration: 5s\n  max_vus: 5\n  vus: 3\n",
            "s.yaml:10:3: `vus` does not apply to executor constant-arrival-rate",
        ),
        (
            "  executor: constant-arrival-rate\n  rate: 5\n  duration: 5s\n  max_vus: 5\n  think_time: 1s\n",
            "`think_time` does not apply",
        ),
        (
            "  executor: constant-arrival-rate\n  rate: -5\n  duration: 5s\n  max_vus: 5\n",
            "s.yaml:7:9: a rate must be a number of 0 or more",
        ),
        (
            "  executor: ramping-arrival-rate\n  max_vus: 5\n",
            "needs at least one stage",
        ),
    ] {
        let e = plan(load, &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains(want), "{load}: {e}");
    }
    let e = load_str(
        "target: http://h:1\nload: { vus: 1, duration: 1s }\nflows:\n  - steps:\n      - { get: /x, think_time: pacing(1s) }\n",
        "s.yaml",
        "s",
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("s.yaml:5:32: pacing applies to whole iterations"),
        "{e}"
    );
    let p = plan(
        "  vus: 2\n  duration: 5s\n  think_time: pacing(2s)\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(p.scenarios[0].think, Think::Pacing(Duration::from_secs(2)));
}
