//! Where `stampede run` gets its scenario: a file, `-` (standard input), or a URL for a quick
//! test without a file (`stampede run http://127.0.0.1:8080/fast -u 10 -d 30s`).

use crate::plan::Plan;
use crate::scenario::{self, Overrides, ScenarioError};
use std::io::Read;
use std::path::Path;

/// The scenario of a quick test of one URL: one VU for 10 s unless -u/-d/--rate say otherwise,
/// GET the URL, any status below 400 passes, k6's usual thresholds absent (add none: a quick
/// test reports, it does not judge).
/// Why `stampede run URL` cannot make a scenario of its URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuickError {
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    #[error("`{0}`: no host")]
    NoHost(String),
}

pub fn url_scenario(url: &str) -> Result<String, QuickError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| QuickError::NotAUrl(url.into()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(QuickError::NoHost(url.into()));
    }
    let target = serde_json::Value::String(format!("{scheme}://{authority}"));
    let path = serde_json::Value::String(path.to_string());
    Ok(format!(
        "name: quick\ntarget: {target}\nload: {{ executor: constant-vus, vus: 1, duration: 10s, graceful_stop: 5s }}\n\
         flows:\n  - name: quick\n    steps:\n      - {{ name: request, get: {path} }}\n"
    ))
}

/// Load the plan from FILE, `-` or a URL.
pub fn load(file: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    let text = file.to_string_lossy();
    if text == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| ScenarioError {
                file: "<stdin>".into(),
                pos: None,
                message: format!("cannot read the scenario from standard input: {e}"),
            })?;
        return scenario::load_str(&s, "<stdin>", "stdin", ov);
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        let yaml = url_scenario(&text).map_err(|m| ScenarioError {
            file: text.to_string(),
            pos: None,
            message: m.to_string(),
        })?;
        return scenario::load_str(&yaml, &text, "quick", ov);
    }
    scenario::load_file(file, ov)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_becomes_a_one_step_scenario() {
        let y = url_scenario("http://127.0.0.1:8080/delay?ms=5").unwrap();
        assert!(y.contains("target: \"http://127.0.0.1:8080\""), "{y}");
        assert!(y.contains("get: \"/delay?ms=5\""), "{y}");
        let plan = scenario::load_str(&y, "u", "quick", &Overrides::default()).unwrap();
        assert_eq!(plan.step_names, vec!["request".to_string()]);
        assert_eq!(
            url_scenario("http://"),
            Err(QuickError::NoHost("http://".into()))
        );
    }
}
