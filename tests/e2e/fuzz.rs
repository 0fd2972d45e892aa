//! Property tests (proptest): no input may panic the scenario loader, the threshold grammar,
//! durations or templates. The committed corpus (tests/hostile/scenarios/) is loaded in-process
//! too, and each of its files mutated. Bounded: a few hundred cases per target (set
//! PROPTEST_CASES to run more locally).

use proptest::prelude::*;
use stampede::plan::template::{self, Escape, Resolved};
use stampede::scenario::{Overrides, duration::parse_duration, load_str};
use stampede::sla::{MetricRef, Threshold};
use std::path::Path;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/scenarios");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A valid scenario, for mutation.
const BASE: &str = "name: fuzz\ntarget: http://127.0.0.1:9\nload:\n  executor: ramping-vus\n  stages: [{ duration: 1s, target: 2 }]\n  think_time: between(1s, 2s)\nflows:\n  - name: f\n    steps:\n      - { name: s, get: \"/x?q={{vu}}\", expect: { status: 200, body_contains: ok } }\nthresholds:\n  http_req_duration: [\"p(95) < 500ms\"]\n  http_req_failed: [\"rate < 1%\"]\n";

fn load(text: &str) {
    // Only whether it returns: errors are fine, a panic fails the property.
    let _ = load_str(text, "fuzz.yaml", "fuzz", &Overrides::default());
}

#[test]
fn the_corpus_loads_in_process_without_panicking() {
    let files = corpus();
    assert!(files.len() >= 150);
    for (name, bytes) in files {
        // (Files that are not UTF-8 are refused by the file reader, tests/hostile.rs.)
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let r = load_str(&text, &name, "x", &Overrides::default());
        assert!(r.is_err(), "{name} was accepted");
    }
    assert!(load_str(BASE, "base.yaml", "x", &Overrides::default()).is_ok());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_is_a_scenario_or_an_error(text in "\\PC{0,300}") {
        load(&text);
    }

    #[test]
    fn a_mutated_scenario_is_a_scenario_or_an_error(
        at in 0usize..BASE.len(),
        cut in 0usize..40,
        insert in prop::sample::select(vec!["", ":", "- ", "{", "}", "[", "]", "\"", "'", "&a ", "*a", "\n", "\t", "  ", "---\n", "{{", "}}", "1e309", "-1", "~", "!!", "%", "\u{feff}", "\u{1b}[31m", "99999", "?", "|"]),
    ) {
        let mut text = BASE.to_string();
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + cut).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, insert);
        load(&text);
    }

    #[test]
    fn a_mutated_corpus_file_is_refused_or_loaded(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let files = corpus();
        let (_, bytes) = &files[pick.index(files.len())];
        let mut bytes = bytes.clone();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        load(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn any_threshold_expression_parses_or_is_refused(
        metric in prop::sample::select(vec!["http_req_duration", "http_req_failed", "http_reqs", "checks", "vus", "http_req_duration{step:s}", "iterations{scenario:a}"]),
        expr in "\\PC{0,40}",
        agg in prop::sample::select(vec!["avg", "p(95)", "p(99.9)", "rate", "count", "max", "min", "med", "value"]),
        op in prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]),
        num in any::<f64>(),
        unit in prop::sample::select(vec!["", "ms", "s", "%", "/s", "us", "m", "h", "x"]),
    ) {
        if let Ok(m) = MetricRef::parse(metric) {
            let _ = Threshold::parse(m.clone(), &expr);
            if let Ok(t) = Threshold::parse(m, &format!("{agg} {op} {num}{unit}")) {
                prop_assert!(t.limit.is_finite());
            }
        }
        let _ = MetricRef::parse(&expr);
    }

    #[test]
    fn any_duration_parses_within_a_year_or_is_refused(text in "[0-9.hmsun µ]{0,24}|\\PC{0,24}") {
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(d <= stampede::scenario::limits::MAX_SCHEDULE);
        }
    }

    #[test]
    fn any_template_parses_or_is_refused(text in "(\\PC|\\{\\{|\\}\\}){0,60}") {
        for escape in [Escape::Text, Escape::Header, Escape::Path, Escape::Json] {
            let _ = template::parse(&text, escape, |raw| match template::builtin(raw.text) {
                Ok(Some(e)) => Ok(Resolved::Expr(e)),
                Ok(None) => Ok(Resolved::Literal(raw.text.to_string())),
                Err(m) => Err(m.to_string()),
            });
        }
    }
}
