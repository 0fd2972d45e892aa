//! Invalid scenarios are refused before any traffic, as `FILE:LINE:COLUMN: message`, exit 2.
//! The messages are checked in-process (the loader `validate` and `run` both call), each test's
//! messages pinned by an insta snapshot (tests/e2e/snapshots/); one case per command goes
//! through the binary for the exit code.

use crate::common::*;
use stampede::scenario::Overrides;

/// What `validate` and `run` print for a scenario after `error: `, with the temporary file's
/// path written as `scenario.yaml`; panics if the scenario loads.
pub fn load_error(file: &std::path::Path) -> String {
    match stampede::output::quick::load(file, &Overrides::default()) {
        Ok(_) => panic!("{} loaded, expected an error", file.display()),
        Err(e) => e.to_string(),
    }
}

/// Load a scenario in-process: it must be refused at `FILE:LINE:COL` with `words` in the
/// message, which is added to `msgs` for the snapshot.
fn refused(msgs: &mut Vec<String>, yaml: &str, line_col: &str, words: &[&str]) {
    let s = Scenario::new(yaml);
    let file = path_str(&s.file);
    let err = load_error(&s.file);
    let want = format!("{file}:{line_col}: ");
    assert!(err.contains(&want), "expected {want:?} in {err:?}");
    for w in words {
        assert!(err.contains(w), "expected {w:?} in {err:?}");
    }
    msgs.push(err.replace(&file, "scenario.yaml"));
}

/// The same through the binary: `validate` and `run` both exit 2 and print `FILE:LINE:COL`.
fn refused_by_binary(yaml: &str, line_col: &str, words: &[&str]) {
    let s = Scenario::new(yaml);
    let file = path_str(&s.file);
    for cmd in ["validate", "run"] {
        let o = stampede(&[cmd, &file]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        let want = format!("error: {file}:{line_col}: ");
        assert!(
            err.starts_with(&want),
            "{cmd}: expected {want:?} in {err:?}"
        );
        for w in words {
            assert!(err.contains(w), "{cmd}: expected {w:?} in {err:?}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

const HEAD: &str = "target: http://127.0.0.1:9\n";

#[test]
fn unknown_key_at_its_own_line_with_did_you_mean() {
    // Through the binary once: both commands exit 2 with the located message.
    refused_by_binary(
        &format!(
            "{HEAD}load:\n  executor: constant-vus\n  vuss: 10\n  duration: 5s\nflows:\n  - steps: [ {{ get: /fast }} ]\n"
        ),
        "4:3",
        &["unknown key `vuss`", "did you mean `vus`"],
    );
    let mut msgs = Vec::new();
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load:\n  executor: constant-vus\n  vuss: 10\n  duration: 5s\nflows:\n  - steps: [ {{ get: /fast }} ]\n"
        ),
        "4:3",
        &["unknown key `vuss`", "did you mean `vus`"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load: {{ vus: 1, duration: 5s }}\nflows:\n  - steps:\n      - get: /fast\n        expct: {{ status: 200 }}\n"
        ),
        "6:9",
        &["`expct`", "did you mean `expect`"],
    );
    insta::assert_snapshot!(msgs.join("\n"));
}

#[test]
fn wrong_types_and_bad_durations() {
    let mut msgs = Vec::new();
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load: {{ vus: ten, duration: 5s }}\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "2:14",
        &["invalid type"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load:\n  vus: 1\n  duration: 5 minutes\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "4:13",
        &["duration"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load: {{ vus: 1, duration: 30 }}\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "2:27",
        &["needs a unit"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load:\n  vus: 1\n  duration: 5s\n  think_time: between(5s, 1s)\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "5:15",
        &["lower bound"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}http: {{ dns_ttl: soon }}\nload: {{ vus: 1, duration: 5s, think_time: exponential(1m) }}\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "2:18",
        &["http.dns_ttl", "invalid duration"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load:\n  vus: 1\n  duration: 5s\n  think_time: exponential(3)\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "5:15",
        &["needs a unit"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}http: {{ retry: idempotant }}\nload: {{ vus: 1, duration: 5s }}\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "2:16",
        &[
            "http.retry",
            "did you mean `idempotent`",
            "none or idempotent",
        ],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}http: {{ max_header_lines: 0 }}\nload: {{ vus: 1, duration: 5s }}\nflows: [ {{ steps: [ {{ get: / }} ] }} ]\n"
        ),
        "2:27",
        &["http.max_header_lines", "between 1 and 100000"],
    );
    insta::assert_snapshot!(msgs.join("\n"));
}

#[test]
fn malformed_thresholds_and_unknown_metrics_or_steps() {
    let mut msgs = Vec::new();
    let base = format!(
        "{HEAD}load: {{ vus: 1, duration: 5s }}\nflows:\n  - steps: [ {{ name: login, get: /fast }} ]\nthresholds:\n"
    );
    refused(
        &mut msgs,
        &format!("{base}  http_req_duration: [\"p(95) < 500ms\", \"p95 < 1s\"]\n"),
        "6:40",
        &["unknown aggregation `p95`"],
    );
    refused(
        &mut msgs,
        &format!("{base}  http_req_duration: [\"p(95) < 500 parsecs\"]\n"),
        "6:23",
        &["unit"],
    );
    refused(
        &mut msgs,
        &format!("{base}  http_req_failed: [\"rate < 5\"]\n"),
        "6:21",
        &["fraction"],
    );
    refused(
        &mut msgs,
        &format!("{base}  http_req_duraton: [\"p(95) < 500ms\"]\n"),
        "6:3",
        &["unknown metric", "did you mean `http_req_duration`"],
    );
    refused(
        &mut msgs,
        &format!("{base}  \"http_req_duration{{step:logn}}\": [\"p(95) < 500ms\"]\n"),
        "6:3",
        &["no step is named `logn`", "did you mean `login`"],
    );
    insta::assert_snapshot!(msgs.join("\n"));
}

#[test]
fn bad_or_unreachable_targets() {
    let mut msgs = Vec::new();
    let rest = "load: { vus: 1, duration: 5s }\nflows: [ { steps: [ { get: / } ] } ]\n";
    refused(
        &mut msgs,
        &format!("target: \"htp//nowhere\"\n{rest}"),
        "1:9",
        &["target"],
    );
    refused(
        &mut msgs,
        &format!("target: ftp://127.0.0.1:9\n{rest}"),
        "1:9",
        &["unsupported scheme `ftp`", "https://"],
    );
    // Reachability is checked by `run` only (validate sends nothing), before any traffic.
    let s = Scenario::new(&format!("target: http://127.0.0.1:9\n{rest}"));
    let o = stampede(&["run", &path_str(&s.file), "--out", &path_str(&s.out())]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:1:9: ", path_str(&s.file))) && err.contains("unreachable"),
        "{err}"
    );
    assert!(!s.out().join("summary.json").exists());
    insta::assert_snapshot!(msgs.join("\n"));
}

#[test]
fn garbage_input_never_panics() {
    let inputs = [
        "",
        "- a\n- b\n",
        "load: [\n",
        "{{{{",
        "target: 5\nload: 7\nflows: x\n",
        "\u{0}\u{1}binary",
        "load: { executor: ramping-vus, stages: [] }\nflows: []\n",
        "load: { executor: constant-arrival-rate }\nflows: []\n",
        "target: http://127.0.0.1:9\nload: { vus: 0, duration: 1s }\nflows: [ { steps: [ { get: / } ] } ]\n",
        "target: http://127.0.0.1:9\nload: { vus: 1, duration: 1s }\nflows: [ { steps: [ { get: /, post: /x } ] } ]\n",
        "target: http://127.0.0.1:9\nload: { vus: 1, duration: 1s }\nflows: [ { steps: [ { get: no-slash } ] } ]\n",
        "target: http://127.0.0.1:9\nload: { vus: 1, duration: 1s }\nflows: [ { steps: [ { get: /, expect: { status: 999 } } ] } ]\n",
        "target: http://127.0.0.1:9\nload: { vus: 1, duration: 1s }\nflows: [ { steps: [ { get: /, headers: { \"bad header\": x } } ] } ]\n",
    ];
    let mut msgs = Vec::new();
    for (i, yaml) in inputs.iter().enumerate() {
        let s = Scenario::new(yaml);
        let file = path_str(&s.file);
        // In-process: refused with a message that names the file (a panic fails the test).
        let err = load_error(&s.file);
        assert!(err.starts_with(&file), "input {i}: {err}");
        msgs.push(format!(
            "input {i}: {}",
            err.replace(&file, "scenario.yaml")
        ));
        // A few through the binary: exit 2, `error: `, no panic.
        if i < 3 {
            let o = stampede(&["validate", &file]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "input {i}: {err}");
            assert!(err.starts_with("error: "), "input {i}: {err}");
            assert!(!err.contains("panicked"), "input {i}: {err}");
        }
    }
    insta::assert_snapshot!(msgs.join("\n"));
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["run"],
        vec!["run", "x.yaml", "--vus", "many"],
        vec!["run", "x.yaml", "--duration", "10"],
        vec!["frobnicate"],
    ] {
        let o = stampede(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let o = stampede(&["run", "/nonexistent/scenario.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read scenario"));
}

#[test]
fn shipped_scenarios_and_examples_validate() {
    let root = env!("CARGO_MANIFEST_DIR");
    for dir in ["scenarios", "examples"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "yaml")
                && let Err(e) = stampede::output::quick::load(&p, &Overrides::default())
            {
                panic!("{}: {e}", p.display());
            }
        }
    }
}

#[test]
fn a_host_header_that_is_no_authority_and_a_proxy_that_is_no_url_are_refused_at_their_value() {
    let mut msgs = Vec::new();
    let flows = "load: { vus: 1, duration: 1s }\nflows:\n  - steps: [ { get: / } ]\n";
    refused(
        &mut msgs,
        &format!("{HEAD}http:\n  headers: {{ host: \"api test\" }}\n{flows}"),
        "3:20",
        &["host `api test` is not HOST[:PORT]"],
    );
    refused(
        &mut msgs,
        &format!(
            "{HEAD}load: {{ vus: 1, duration: 1s }}\nflows:\n  - steps: [ {{ get: /, headers: {{ Host: \"a/b\" }} }} ]\n"
        ),
        "4:41",
        &["host `a/b` is not HOST[:PORT]"],
    );
    for (proxy, words) in [
        ("not a url", "is not http://HOST:PORT"),
        ("http://proxy:3128/path", "is not http://HOST:PORT"),
        ("http://proxy:99999", "bad port `99999`"),
        ("socks5://proxy:1080", "only http:// proxies"),
    ] {
        refused(
            &mut msgs,
            &format!("{HEAD}http:\n  proxy: \"{proxy}\"\n{flows}"),
            "3:10",
            &[words],
        );
    }
    assert_eq!(msgs.len(), 6);
}
