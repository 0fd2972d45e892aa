//! `junit.xml`: one test case per threshold expression, for GitLab, Jenkins and other CI
//! systems; a breached threshold is a failure whose message carries the observed value.

use super::Exporter;
use crate::summary::Summary;
use std::fmt::Write;

pub struct Junit;

impl Exporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, summary: &Summary) -> anyhow::Result<String> {
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

pub fn render(s: &Summary) -> String {
    let name = xml(&s.name);
    let ths = &s.thresholds;
    let failures = ths.iter().filter(|t| !t.passed).count();
    let secs = s.duration_s;
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
        xml(&s.started_at)
    );
    for t in ths {
        let metric = xml(&t.metric);
        let expr = xml(&t.expression);
        let observed = xml(&t.observed_display);
        let _ = write!(
            out,
            "    <testcase classname=\"stampede.{name}\" name=\"{metric}: {expr}\" time=\"{secs:.3}\""
        );
        if t.passed {
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
