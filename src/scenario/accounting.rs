//! The accounting part of `http` (docs/accounting.md): whether an unanswered request on a
//! reused connection may be sent again (`http.retry`), and how many header lines a response
//! head may have (`http.max_header_lines`).

use super::model::RawHttp;
use super::{Builder, ScenarioError, did_you_mean};

impl Builder<'_> {
    /// `(retry_idempotent, max_header_lines)`.
    pub(super) fn accounting(&self, http: &RawHttp) -> Result<(bool, u32), ScenarioError> {
        let retry = match http.retry.as_deref() {
            None | Some("none") => false,
            Some("idempotent") => true,
            Some(other) => {
                let hint = did_you_mean(other, ["none", "idempotent"])
                    .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
                return Err(self.at_value(
                    "http.retry",
                    format!("unknown http.retry `{other}`{hint}; expected none or idempotent"),
                ));
            }
        };
        let lines = http
            .max_header_lines
            .unwrap_or(crate::plan::DEFAULT_MAX_HEADER_LINES);
        if !(1..=100_000).contains(&lines) {
            return Err(self.at_value(
                "http.max_header_lines",
                "http.max_header_lines must be between 1 and 100000",
            ));
        }
        Ok((retry, lines))
    }
}
