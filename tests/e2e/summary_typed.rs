//! The typed summary.json end to end: what `run` writes reads back into `stampede::summary::
//! Summary` and serializes to the same bytes; every property the types write is described by
//! docs/summary.schema.json (and real summaries validate against it); a corrupted or wrong-typed
//! summary given to `report`, `plan` or `merge` exits 2 naming the file and the JSON path.

use crate::common::*;
use crate::typed_check::check_typed;
use serde_json::{Value, json};
use stampede::summary;
use std::path::Path;

fn breakpoint(url: &str) -> Scenario {
    Scenario::new(&format!(
        r#"
name: bp
target: {url}
load:
  executor: breakpoint
  start_rate: 20
  step_rate: 20
  step_duration: 2s
  max_rate: 60
  pre_allocated_vus: 4
  max_vus: 16
flows:
  - steps: [ {{ name: home, get: /fast }} ]
thresholds:
  http_req_duration: ["p(95) < 2s"]
"#
    ))
}

#[test]
fn run_summaries_read_back_typed_byte_for_byte_and_the_schema_describes_every_property() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        r#"
name: shop
target: {url}
load: {{ vus: 3, duration: 2s, graceful_stop: 1s }}
flows:
  - steps:
      - name: home
        get: /fast
        expect: {{ status: 200 }}
      - {{ name: search, get: "/delay?ms=2" }}
thresholds:
  http_req_duration: ["p(95) < 2s", "p(99) over 1s < 3s"]
  "http_req_duration{{step:home}}": ["p(99) < 1ms"]
  http_req_failed: ["rate < 1%"]
  checks: ["rate == 1"]
  http_reqs: ["count > 1"]
  vus: ["value > 0"]
"#,
        url = t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let typed = check_typed(&s.out().join("summary.json"));
    // The typed figures are the server's: requests it served = http_reqs.
    let served = t.served();
    assert_eq!(
        typed.count("http_reqs"),
        served["requests"].as_u64().unwrap(),
        "{served}"
    );
    assert_eq!(
        typed.steps.iter().map(|r| r.requests).sum::<u64>(),
        typed.count("http_reqs")
    );
    assert!(
        typed
            .trend("http_req_duration{step:home}")
            .unwrap()
            .thresholds
            .is_some()
    );
    assert_eq!(typed.verdict, summary::VerdictLabel::Failed);
    assert_eq!(typed.exit_code, 99);

    // A breakpoint run: the capacity section.
    let b = breakpoint(&t.url);
    let o = run(&b, &[]);
    assert!(matches!(o.status.code(), Some(0 | 99)), "{}", text(&o));
    let typed = check_typed(&b.out().join("summary.json"));
    let cap = typed.capacity.expect("capacity section");
    assert_eq!(cap.stairs_planned, 3);
    assert!(!cap.steps.is_empty());
}

/// Change one field of a written summary (by JSON pointer) and give it to a command.
fn corrupt(src: &Path, dir: &Path, pointer: &str, to: Value) -> std::path::PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = to;
    let f = dir.join(format!("bad{}.json", pointer.replace('/', "_")));
    std::fs::write(&f, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    f
}

#[test]
fn a_wrong_typed_summary_is_refused_by_report_plan_and_merge_naming_file_and_path() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "name: shop\ntarget: {}\nload: {{ vus: 2, duration: 1s }}\nflows:\n  - steps: [ {{ name: home, get: /fast }} ]\n",
        t.url
    ));
    let o = run(&s, &["--segment", "1/1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let good = s.out().join("summary.json");
    let d = s.dir.path();
    let cases = [
        (
            "/metrics/http_reqs/count",
            json!("many"),
            "at `metrics.http_reqs`: at .count: invalid type: string \"many\", expected u64",
        ),
        (
            "/timeline/0/vus",
            json!(-1),
            "at `timeline[0].vus`: invalid value: integer `-1`, expected u",
        ),
        (
            "/steps/0/p95_ms",
            json!(null),
            "at `steps[0].p95_ms`: invalid type: null, expected f64",
        ),
        (
            "/verdict",
            json!("maybe"),
            "at `verdict`: unknown variant `maybe`",
        ),
    ];
    for (pointer, to, want) in cases {
        let bad = corrupt(&good, d, pointer, to);
        let other = path_str(&good);
        let b = path_str(&bad);
        let out_dir = path_str(&d.join("merged"));
        for args in [
            vec!["report", "html", b.as_str()],
            vec!["report", "compare", other.as_str(), b.as_str()],
            vec![
                "plan",
                b.as_str(),
                "--users",
                "100",
                "--response-time",
                "100ms",
            ],
            vec!["merge", b.as_str(), "--out", out_dir.as_str()],
        ] {
            // `plan` reads only `timeline`, `capacity`, `duration_s` and `executor`.
            if args[0] == "plan" && !pointer.starts_with("/timeline") {
                continue;
            }
            let o = stampede(&args);
            let msg = text(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {msg}");
            assert!(msg.contains(&b), "{args:?} names the file: {msg}");
            assert!(
                msg.contains(want),
                "{args:?} names the path: want {want}\n{msg}"
            );
        }
    }
    // Not JSON at all: line and column.
    let broken = d.join("broken.json");
    std::fs::write(&broken, "{\n  \"name\": \"x\",\n  oops\n}\n").unwrap();
    let o = stampede(&["report", "html", &path_str(&broken)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(&format!("{}:3:3: not JSON", path_str(&broken))),
        "{}",
        text(&o)
    );
}
