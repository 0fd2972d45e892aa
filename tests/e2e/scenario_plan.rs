//! A plan holds its scenarios explicitly (issue 17): every reader of a multi-scenario file sees
//! every scenario, not the first one's load and flows copied to the top of the plan.

use crate::common::*;

/// Two scenarios, the second one's only step a POST in a flow of its own.
fn two_scenarios(url: &str) -> Scenario {
    Scenario::new(&format!(
        "target: {url}\nscenarios:\n\
         \x20 browse:\n\
         \x20   load: {{ executor: shared-iterations, vus: 2, iterations: 12, max_duration: 10s }}\n\
         \x20   flows: [ {{ steps: [ {{ name: home, get: /fast }} ] }} ]\n\
         \x20 api:\n\
         \x20   load: {{ executor: shared-iterations, vus: 2, iterations: 7, max_duration: 10s }}\n\
         \x20   flows: [ {{ name: writes, steps: [ {{ name: submit, post: /echo, body: hi }} ] }} ]\n"
    ))
}

/// The `http_reqs` rows of a k6 CSV output for step `name`: (method, scenario, url) of each.
fn csv_requests(path: &std::path::Path, name: &str) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(path).expect("the CSV output was written");
    let head = r.headers().expect("a header row").clone();
    let col = |c: &str| {
        head.iter()
            .position(|h| h == c)
            .unwrap_or_else(|| panic!("no column {c} in {head:?}"))
    };
    let (metric, step, method, scenario, url) = (
        col("metric_name"),
        col("name"),
        col("method"),
        col("scenario"),
        col("url"),
    );
    r.records()
        .map(|row| row.expect("a CSV row"))
        .filter(|row| &row[metric] == "http_reqs" && &row[step] == name)
        .map(|row| {
            (
                row[method].to_string(),
                row[scenario].to_string(),
                row[url].to_string(),
            )
        })
        .collect()
}

#[test]
fn live_outputs_tag_the_steps_of_every_scenario_with_their_method_and_url() {
    let t = Target::start();
    let s = two_scenarios(&t.url);
    let csv = s.dir.path().join("points.csv");
    let o = run(&s, &[&format!("--out=csv={}", path_str(&csv))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let served = t.served();
    assert_eq!(served["by_path"]["/fast"], 12, "{served}");
    assert_eq!(served["by_path"]["/echo"], 7, "{served}");

    let base = t.url.trim_end_matches('/');
    let home = csv_requests(&csv, "home");
    assert_eq!(
        home.len(),
        12,
        "one http_reqs row per request of the first scenario"
    );
    for row in &home {
        assert_eq!(
            row,
            &("GET".into(), "browse".into(), format!("{base}/fast"))
        );
    }
    // The second scenario's steps were left without a method or URL when the sinks read only
    // the first scenario's flows.
    let submit = csv_requests(&csv, "submit");
    assert_eq!(
        submit.len(),
        7,
        "one http_reqs row per request of the second scenario"
    );
    for row in &submit {
        assert_eq!(row, &("POST".into(), "api".into(), format!("{base}/echo")));
    }
    let sum = s.summary();
    assert_eq!(
        sum["metrics"]["http_reqs"]["count"], 19,
        "{}",
        sum["metrics"]
    );
}

#[test]
fn validate_describes_each_scenario_with_its_own_load_and_flows() {
    let s = two_scenarios("http://127.0.0.1:9");
    let o = stampede(&["validate", &path_str(&s.file)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{out}"))
    };
    // In file order, each scenario's load right under its name, and its flow after it.
    let order = [
        at("scenario browse:"),
        at("shared-iterations: 12 iterations shared by 2 VUs"),
        at("[home]"),
        at("scenario api:"),
        at("shared-iterations: 7 iterations shared by 2 VUs"),
        at("flow writes (weight 1): 1 steps"),
        at("[submit]"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{out}");
}

/// A breakpoint judges its stairs on the whole target's load, so it cannot run beside another
/// scenario: the file is refused, at the breakpoint's executor, by `validate`, `run` and `k8s`.
#[test]
fn a_breakpoint_among_several_scenarios_is_refused_where_it_is_declared() {
    let s = Scenario::new(
        "target: http://127.0.0.1:9\nscenarios:\n\
         \x20 browse:\n\
         \x20   load: { vus: 1, duration: 2s }\n\
         \x20   flows: [ { steps: [ { name: home, get: /fast } ] } ]\n\
         \x20 climb:\n\
         \x20   load: { executor: breakpoint, start_rate: 10, step_rate: 10, step_duration: 2s, max_rate: 40, max_vus: 5 }\n\
         \x20   flows: [ { steps: [ { name: probe, get: /fast } ] } ]\n",
    );
    let file = path_str(&s.file);
    for args in [
        vec!["validate", file.as_str()],
        vec!["run", file.as_str(), "--quiet"],
        vec!["k8s", file.as_str(), "--workers", "2", "--image", "x"],
    ] {
        let o = stampede(&args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(
            out.contains(&format!("{file}:7:")) && out.contains("a breakpoint run climbs alone"),
            "{args:?}: the error is located at the breakpoint's executor: {out}"
        );
    }
}

/// The whole-run figures of a plan add or take the longest over its scenarios; a file without
/// `scenarios:` is a plan of one unnamed scenario.
#[test]
fn a_plan_lists_its_scenarios_and_its_totals_cover_all_of_them() {
    use std::time::Duration;
    let ov = stampede::scenario::Overrides::default();
    let s = two_scenarios("http://127.0.0.1:9");
    let text = std::fs::read_to_string(&s.file).unwrap();
    let multi = stampede::scenario::load_str(&text, "two.yaml", "two", &ov).expect("valid");
    let names: Vec<&str> = multi.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["browse", "api"]);
    assert_eq!(multi.scenarios[1].flows[0].name, "writes");
    assert_eq!(multi.all_flows().count(), 2);
    assert_eq!(
        multi.scenario_steps(),
        vec![
            ("browse".to_string(), vec![0]),
            ("api".to_string(), vec![1])
        ]
    );
    assert_eq!(
        multi.executor_label(),
        "browse: shared-iterations + api: shared-iterations"
    );
    assert_eq!(multi.peak_vus(), 4, "2 VUs in each scenario");
    assert_eq!(multi.planned_duration(), Duration::from_secs(10));
    assert!(multi.breakpoint().is_none());

    let one = stampede::scenario::load_str(
        "target: http://127.0.0.1:9\n\
         load: { executor: breakpoint, start_rate: 10, step_rate: 10, step_duration: 2s, max_rate: 30, max_vus: 5 }\n\
         flows: [ { steps: [ { name: probe, get: /fast } ] } ]\n",
        "one.yaml",
        "one",
        &ov,
    )
    .expect("valid");
    assert_eq!(one.scenarios.len(), 1);
    assert!(one.scenarios[0].name.is_empty() && one.scenario_steps().is_empty());
    assert_eq!(one.executor_label(), "breakpoint");
    assert!(one.breakpoint().is_some_and(|a| a.stair_list().len() == 3));
}
