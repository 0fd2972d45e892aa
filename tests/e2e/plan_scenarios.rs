//! A multi-scenario plan read as a whole: what the run reports covers every scenario, not only
//! the first (issue 17: a plan's top-level flows are its first scenario's).

use crate::common::*;

#[test]
fn the_reports_step_table_lists_the_steps_of_every_scenario_with_the_servers_counts() {
    let t = Target::start();
    let s = Scenario::new(&format!(
        "target: {}\nscenarios:\n\
         \x20 browse:\n\
         \x20   load: {{ executor: shared-iterations, vus: 2, iterations: 30, max_duration: 10s }}\n\
         \x20   flows: [ {{ steps: [ {{ name: home, get: /fast }} ] }} ]\n\
         \x20 api:\n\
         \x20   load: {{ executor: shared-iterations, vus: 2, iterations: 20, max_duration: 10s }}\n\
         \x20   flows: [ {{ name: search-flow, steps: [ {{ name: search, get: \"/delay?ms=1\" }} ] }} ]\n",
        t.url
    ));
    let o = run(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sum = s.summary();
    let steps = sum["steps"].as_array().expect("a steps table");
    let row = |name: &str| {
        steps
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no step `{name}` in {steps:?}"))
            .clone()
    };
    let served = t.served();
    let (home, search) = (row("home"), row("search"));
    assert_eq!(home["requests"], 30, "{home}");
    assert_eq!(search["requests"], 20, "{search}");
    assert_eq!(search["flow"], "search-flow", "{search}");
    assert_eq!(served["by_path"]["/fast"], 30, "{served}");
    assert_eq!(served["by_path"]["/delay"], 20, "{served}");
}
