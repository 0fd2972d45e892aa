//! A scenario's problems: `ScenarioError` (FILE:LINE:COLUMN: message) and the wording of
//! serde_yaml_ng's errors.

#[allow(unused_imports)]
use super::*;

/// A problem with a scenario, located in its file where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

pub(super) fn yaml_error(file: &str, e: &serde_yaml_ng::Error) -> ScenarioError {
    let mut message = e.to_string();
    // serde_yaml_ng appends " at line L column C"; we print the position in front instead.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    if message.contains("unknown field `") {
        message = add_did_you_mean(&message);
    }
    if message == "EOF while parsing a value" || message.contains("end of stream") {
        message = "the file is empty: a scenario needs at least `load` and `flows`".into();
    }
    ScenarioError {
        file: file.to_string(),
        pos: e.location().map(|l| Pos {
            line: l.line(),
            col: l.column(),
        }),
        message,
    }
}

/// `unknown field `vuss`, expected one of `vus`, ...` → `... (did you mean `vus`?)`.
pub(super) fn add_did_you_mean(message: &str) -> String {
    let ticks: Vec<&str> = message.split('`').collect();
    // ticks: [pre, unknown, ", expected one of ", a, ", ", b, ...]
    if ticks.len() < 4 {
        return message.to_string();
    }
    let unknown = ticks[1];
    let expected: Vec<&str> = ticks[3..].iter().step_by(2).copied().collect();
    match did_you_mean(unknown, expected.iter().copied()) {
        Some(s) => format!(
            "unknown key `{unknown}` (did you mean `{s}`?); expected one of {}",
            expected.join(", ")
        ),
        None => format!(
            "unknown key `{unknown}`; expected one of {}",
            expected.join(", ")
        ),
    }
}

impl From<ScenarioError> for crate::Failure {
    fn from(e: ScenarioError) -> Self {
        crate::Failure::Usage(e.to_string())
    }
}
