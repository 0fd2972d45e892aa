//! User journeys end to end: templates, data feeds, extraction, checks, auth, cookies and the
//! fixed-work executors, checked against what the built-in target saw.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn seen(t: &Target) -> serde_json::Map<String, Value> {
    t.served()["seen"].as_object().cloned().unwrap_or_default()
}

#[test]
fn the_auth_flow_example_logs_every_user_in_exactly_once() {
    let t = Target::start();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/auth-flow.yaml");
    let out = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "run",
        &path_str(&example),
        "--target",
        &t.url,
        "--out",
        &path_str(out.path()),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(sum["metrics"]["checks"]["rate"], 1.0, "{}", sum["checks"]);
    assert_eq!(sum["metrics"]["http_req_failed"]["rate"], 0.0);
    assert_eq!(sum["metrics"]["iterations"]["count"], 50);
    let served = t.served();
    assert_eq!(served["by_path"]["/me"], 50, "{served}");
    assert_eq!(served["by_path"]["/session"], 50, "{served}");
    let seen = seen(&t);
    assert_eq!(seen.len(), 50, "{seen:?}");
    for i in 1..=50 {
        assert_eq!(seen[&format!("user{i:02}")], 1, "user{i:02}: {seen:?}");
    }
}

#[test]
fn a_unique_feed_ends_the_run_when_its_rows_run_out() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\ndata: {{ ids: {{ csv: ids.csv, pick: unique }} }}\n\
         load: {{ executor: per-vu-iterations, vus: 4, iterations: 100, max_duration: 30s }}\n\
         flows:\n  - steps: [ {{ get: \"/seen?key={{{{data.ids.id}}}}\" }} ]\n",
        t.url
    ));
    let rows: String = std::iter::once("id\n".to_string())
        .chain((0..30).map(|i| format!("row{i}\n")))
        .collect();
    std::fs::write(s.dir.path().join("ids.csv"), rows).unwrap();
    let started = std::time::Instant::now();
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        started.elapsed().as_secs() < 15,
        "ended when the rows ran out"
    );
    let seen = seen(&t);
    assert_eq!(seen.len(), 30, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(s.summary()["metrics"]["iterations"]["count"], 30);
}

#[test]
fn builtins_number_vus_and_iterations_and_draw_fresh_values() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nload: {{ executor: per-vu-iterations, vus: 3, iterations: 4 }}\n\
         flows:\n  - steps:\n      - {{ get: \"/seen?key=it-{{{{vu}}}}-{{{{iteration}}}}\" }}\n\
         \x20     - {{ get: \"/seen?key={{{{uuid}}}}\" }}\n\
         \x20     - {{ get: \"/seen?key=r{{{{random_int(5, 6)}}}}\" }}\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = seen(&t);
    for vu in 1..=3 {
        for it in 0..4 {
            assert_eq!(seen[&format!("it-{vu}-{it}")], 1, "{seen:?}");
        }
    }
    let uuids: Vec<&String> = seen.keys().filter(|k| k.len() == 36).collect();
    assert_eq!(uuids.len(), 12, "12 distinct UUIDs: {seen:?}");
    let r5 = seen.get("r5").and_then(Value::as_u64).unwrap_or(0);
    let r6 = seen.get("r6").and_then(Value::as_u64).unwrap_or(0);
    assert_eq!(r5 + r6, 12, "{seen:?}");
    assert_eq!(s.summary()["metrics"]["iterations"]["count"], 12);
}

#[test]
fn extraction_checks_cookies_and_basic_auth() {
    let t = Target::start();
    // A missing value fails its step with kind `extract`; a wrong expectation with
    // `check_failed`; turning the cookie jar off loses the session.
    let s = Scenario::new(&format!(
        "target: {}\nhttp: {{ cookies: false, auth: {{ basic: {{ user: ann, password: pw }} }} }}\n\
         load: {{ executor: shared-iterations, vus: 2, iterations: 10 }}\n\
         flows:\n  - steps:\n\
         \x20     - {{ name: login, post: /login, json: {{ user: bob, password: x }}, extract: {{ nope: {{ json: \"$.missing\" }}, tok: {{ regex: '\"token\":\"([^\"]+)\"' }} }} }}\n\
         \x20     - {{ name: me, get: /me, auth: {{ bearer: \"{{{{tok}}}}\" }}, expect: {{ json: {{ \"$.user\": bob }}, header: {{ content-type: application/json }} }} }}\n\
         \x20     - {{ name: wrong, get: /me, auth: {{ bearer: \"{{{{tok}}}}\" }}, expect: {{ body_contains: alice }} }}\n\
         \x20     - {{ name: session, get: /session, expect: {{ status: 401 }} }}\n\
         \x20     - {{ name: basic, get: /basic, expect: {{ json: {{ \"$.user\": ann }} }} }}\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let m = &sum["metrics"];
    assert_eq!(
        m["http_req_failed{step:login}"]["rate"], 1.0,
        "extract failed"
    );
    assert_eq!(sum["errors"]["extract"], 10, "{}", sum["errors"]);
    assert_eq!(
        m["http_req_failed{step:me}"]["rate"], 0.0,
        "token extracted by regex"
    );
    assert_eq!(m["checks{step:me}"]["rate"], 1.0);
    assert_eq!(m["checks{step:wrong}"]["rate"], 0.0);
    assert_eq!(sum["errors"]["check_failed"], 10);
    assert_eq!(
        m["http_req_failed{step:session}"]["rate"], 0.0,
        "401 as expected"
    );
    assert_eq!(m["checks{step:basic}"]["rate"], 1.0);
    let failing = text(&o);
    assert!(
        failing.contains("✗ wrong: body contains \"alice\" — failed 10 of 10"),
        "{failing}"
    );
}

#[test]
fn secrets_from_the_environment_never_reach_the_run_folder() {
    let t = Target::start();
    let secret = "s3cr3t-TOKEN-4b1d";
    let s = Scenario::new(&format!(
        "target: {}\nhttp: {{ headers: {{ x-api-key: \"{{{{env.API_KEY}}}}\" }} }}\n\
         load: {{ executor: shared-iterations, vus: 2, iterations: 4 }}\n\
         flows:\n  - steps:\n\
         \x20     - {{ get: \"/me?k={{{{env.API_KEY}}}}\", auth: {{ bearer: \"{{{{env.API_KEY}}}}\" }}, expect: {{ status: 401 }} }}\n\
         \x20     - {{ get: /login, headers: {{ cookie: \"sid={{{{env.API_KEY}}}}\" }} }}\n",
        t.url
    ));
    let o = run(&s, &["--env", &format!("API_KEY={secret}")]);
    assert!(o.status.code().is_some(), "{}", text(&o));
    assert!(!text(&o).contains(secret), "the terminal output leaks it");
    let mut files = 0;
    for entry in walk(&s.out()) {
        files += 1;
        let bytes = std::fs::read(&entry).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains(secret),
            "{} leaks the secret",
            entry.display()
        );
    }
    assert!(files >= 1, "the run folder has reports");
    // The request really carried it: the target saw the bearer token fail as expected.
    // The requests went out (GET /login without credentials is a 400).
    assert_eq!(s.summary()["metrics"]["http_req_failed"]["passes"], 4);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn journey_mistakes_are_located_before_any_traffic() {
    let t = Target::start();
    let cases: [(&str, &str); 6] = [
        (
            "flows:\n  - steps: [ { get: \"/x/{{nope}}\" } ]\n",
            "scenario.yaml:4:21: undefined variable `nope`",
        ),
        (
            "data: { users: { csv: missing.csv } }\nflows:\n  - steps: [ { get: \"/x/{{data.users.id}}\" } ]\n",
            "scenario.yaml:3:23: cannot read CSV",
        ),
        (
            "data: { users: { csv: u.csv } }\nflows:\n  - steps: [ { get: \"/x/{{data.users.email}}\" } ]\n",
            "scenario.yaml:5:21: data feed `users` has no column `email`; its columns are id, name",
        ),
        (
            "flows:\n  - steps: [ { get: /x, extract: { id: { json: \"$[\" } } } ]\n",
            "scenario.yaml:4:48: bad JSONPath `$[`",
        ),
        (
            "flows:\n  - steps: [ { get: /x, extract: { id: { regex: \"(\" } } } ]\n",
            "scenario.yaml:4:49: bad regex",
        ),
        (
            "flows:\n  - steps: [ { get: /x, headers: { a: \"{{env.NOT_SET_ANYWHERE_42}}\" } } ]\n",
            "environment variable `NOT_SET_ANYWHERE_42` is not set",
        ),
    ];
    for (tail, want) in cases {
        let s = Scenario::new(&format!(
            "target: {}\nload: {{ vus: 1, duration: 1s }}\n{tail}",
            t.url
        ));
        std::fs::write(s.dir.path().join("u.csv"), "id,name\n1,a\n").unwrap();
        let o = run(&s, &[]);
        let msg = text(&o);
        assert_eq!(o.status.code(), Some(2), "{tail}: {msg}");
        assert!(msg.contains(want), "{tail}\nwant {want}\ngot {msg}");
    }
    assert_eq!(t.served()["requests"], 0);
}

#[test]
fn scenarios_of_one_file_run_at_once_and_thresholds_select_them() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nscenarios:\n\
         \x20 browse:\n\
         \x20   load: {{ vus: 5, duration: 2s, think_time: 50ms }}\n\
         \x20   flows: [ {{ steps: [ {{ name: home, get: /fast }} ] }} ]\n\
         \x20 api:\n\
         \x20   load: {{ executor: constant-arrival-rate, rate: 50, duration: 2s, max_vus: 20 }}\n\
         \x20   flows: [ {{ steps: [ {{ name: search, get: \"/delay?ms=30\" }} ] }} ]\n\
         thresholds:\n\
         \x20 \"http_req_duration{{scenario:api}}\": [\"p(50) >= 30ms\"]\n\
         \x20 \"http_req_duration{{scenario:browse}}\": [\"p(50) < 30ms\"]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    assert_eq!(sum["metrics"]["http_reqs{scenario:api}"]["count"], 100);
    assert!(
        sum["metrics"]["http_req_duration{scenario:api}"]["p(50)"]
            .as_f64()
            .unwrap()
            >= 30.0
    );
    assert!(
        sum["metrics"]["http_reqs{scenario:browse}"]["count"]
            .as_u64()
            .unwrap()
            > 50
    );
    // Concurrently: both scenarios were served within the same two seconds.
    let secs = sum["duration_s"].as_f64().unwrap();
    assert!(secs < 3.5, "ran {secs} s, not one after the other");
    let served = t.served();
    assert_eq!(served["by_path"]["/delay"], 100, "{served}");

    // Mistakes are located.
    for (yaml, want) in [
        (
            "scenarios:\n  a:\n    load: { vus: 1, duration: 1s }\n    flows: [ { steps: [ { get: /x } ] } ]\nthresholds:\n  \"http_reqs{scenario:b}\": [\"count > 1\"]\n",
            "no scenario `b`",
        ),
        (
            "load: { vus: 1, duration: 1s }\nscenarios:\n  a:\n    load: { vus: 1, duration: 1s }\n    flows: [ { steps: [ { get: /x } ] } ]\n",
            "either top-level `load` and `flows` or `scenarios:`",
        ),
        (
            "scenarios:\n  a:\n    load: { vus: 1, duration: 1s }\n    flows: [ { steps: [ { get: /x } ] } ]\n  b:\n    load: { vuss: 1, duration: 1s }\n    flows: [ { steps: [ { get: /y } ] } ]\n",
            "scenario.yaml:7:13: unknown key `vuss` (did you mean `vus`?)",
        ),
        (
            "scenarios:\n  a:\n    load: { vus: 1, duration: 1s }\n    flows: [ { steps: [ { get: /x } ] } ]\n  b:\n    load: { vus: 1, duration: 0s }\n    flows: [ { steps: [ { get: /y } ] } ]\n",
            "scenario.yaml:7:5: the load schedule lasts zero seconds",
        ),
        (
            "scenarios:\n  a:\n    load: { vus: 1, duration: 1s }\n    flows: [ { steps: [ { get: /x } ] } ]\n  b:\n    load: { vus: 1, duration: 1s }\n    flows: [ { steps: [ { get: /x } ] } ]\n",
            "step name `GET /x` is also used by another scenario",
        ),
    ] {
        let s = Scenario::new(&format!("target: {}\n{yaml}", t.url));
        let o = run(&s, &[]);
        assert_eq!(o.status.code(), Some(2), "{yaml}: {}", text(&o));
        assert!(
            text(&o).contains(want),
            "{yaml}\nwant {want}\ngot {}",
            text(&o)
        );
    }
}
