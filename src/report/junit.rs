//! `junit.xml`: one test case per threshold expression, for GitLab, Jenkins and other CI
//! systems; a breached threshold is a failure whose message carries the observed value.

use super::Exporter;
use serde_json::Value;
use std::fmt::Write;

pub struct Junit;

impl Exporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, summary: &Value) -> anyhow::Result<String> {
        Ok(render(summary))
    }
}

/// Escape text for XML attributes and content (and drop characters XML 1.0 cannot carry).
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(s: &Value) -> String {
    let name = xml(s["name"].as_str().unwrap_or("run"));
    let ths = s["thresholds"].as_array().cloned().unwrap_or_default();
    let failures = ths.iter().filter(|t| t["passed"] != true).count();
    let secs = s["duration_s"].as_f64().unwrap_or(0.0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"stampede\" tests=\"{}\" failures=\"{failures}\" time=\"{secs:.3}\">",
        ths.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{secs:.3}\" timestamp=\"{}\">",
        ths.len(),
        xml(s["started_at"].as_str().unwrap_or(""))
    );
    for t in &ths {
        let metric = xml(t["metric"].as_str().unwrap_or(""));
        let expr = xml(t["expression"].as_str().unwrap_or(""));
        let observed = xml(t["observed_display"].as_str().unwrap_or("no data"));
        let _ = write!(
            out,
            "    <testcase classname=\"stampede.{name}\" name=\"{metric}: {expr}\" time=\"{secs:.3}\""
        );
        if t["passed"] == true {
            let _ = writeln!(out, "/>");
        } else {
            let _ = writeln!(
                out,
                ">\n      <failure type=\"threshold\" message=\"{metric} {expr}: observed {observed}\">threshold `{expr}` on {metric} not met: observed {observed}</failure>\n    </testcase>"
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_xml_cannot_carry() {
        assert_eq!(super::xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
