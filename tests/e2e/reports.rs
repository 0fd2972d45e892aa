//! The run folder end to end: every report file from a real run, checked for what CI, a
//! spreadsheet and a browser need; and `stampede report html|compare`.

use crate::common::*;
use std::process::Command;

fn two_step(url: &str, delay_ms: u32, extra_thresholds: &str) -> Scenario {
    Scenario::new(&format!(
        "name: shop\ntarget: {url}\nload: {{ vus: 4, duration: 3s, graceful_stop: 1s }}\n\
         flows:\n  - steps:\n      - {{ name: home, get: /fast }}\n      - {{ name: search, get: \"/delay?ms={delay_ms}\" }}\n\
         thresholds:\n  http_req_duration: [\"p(95) < 2s\", \"p(99) < 1ms\"]\n  http_req_failed: [\"rate < 1%\"]\n{extra_thresholds}"
    ))
}

#[test]
fn a_run_writes_every_report_for_ci_spreadsheets_and_browsers() {
    let t = Target::start();
    let s = two_step(&t.url, 5, "");
    let gh = s.dir.path().join("github-step-summary.md");
    std::fs::write(&gh, "# earlier content\n").unwrap();
    let o = Command::new(BIN)
        .args([
            "run",
            &path_str(&s.file),
            "--out",
            &path_str(&s.out()),
            "--quiet",
        ])
        .env("GITHUB_STEP_SUMMARY", &gh)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(99), "p(99) < 1ms fails: {}", text(&o));
    let out = s.out();
    for f in [
        "summary.json",
        "timeline.csv",
        "junit.xml",
        "summary.md",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let sum = s.summary();

    // summary.json against its schema.
    let errors = schema_errors(&sum);
    assert!(errors.is_empty(), "{errors:#?}");

    // Histograms decode back to what was measured.
    use base64::Engine as _;
    let b64 = sum["histograms"]["http_req_duration{step:search}"]
        .as_str()
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .unwrap();
    assert_eq!(
        h.len(),
        sum["metrics"]["http_reqs{step:search}"]["count"]
            .as_u64()
            .unwrap()
    );
    let p50 = h.value_at_quantile(0.5) as f64 / 1000.0;
    assert!((5.0..15.0).contains(&p50), "decoded p50 {p50} ms");

    // timeline.csv: one row per second of the run.
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let mut lines = csv.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("elapsed_s,vus,rps,errors,p50_ms,p95_ms,p99_ms,bytes_in,bytes_out,home requests,home errors,home p95_ms,search requests"), "{head}");
    let rows: Vec<&str> = lines.collect();
    let secs = sum["duration_s"].as_f64().unwrap();
    // A row per started second, except a last fraction of a second in which nothing happened
    // (issue 20: no trailing all-zero row); the request total below shows no row was lost.
    let whole = secs.floor() as usize;
    assert!(
        rows.len() == secs.ceil() as usize || (rows.len() == whole && secs.fract() > 0.0),
        "{secs} s → {} rows",
        rows.len()
    );
    assert_eq!(rows.len(), sum["timeline"].as_array().unwrap().len());
    let total: u64 = rows
        .iter()
        .map(|r| r.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        total,
        sum["metrics"]["http_reqs"]["count"].as_u64().unwrap()
    );

    // junit.xml: one test case per threshold expression; the failure carries the observed value.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 3, "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 1, "{junit}");
    assert!(junit.contains("tests=\"3\" failures=\"1\""), "{junit}");
    let observed = sum["thresholds"][1]["observed_display"].as_str().unwrap();
    assert!(junit.contains(&format!("observed {observed}")), "{junit}");

    // report.html: self-contained.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 4, "charts inline");
    for bad in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "<script",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "report.html has {bad}");
    }
    assert!(html.contains("FAILED") && html.contains("p(99) &lt; 1ms"));

    // summary.md, and the GitHub job summary got it appended.
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("❌") && md.contains("| search |"), "{md}");
    let gh_text = std::fs::read_to_string(&gh).unwrap();
    assert!(
        gh_text.starts_with("# earlier content\n"),
        "appended, not replaced"
    );
    assert!(gh_text.contains(&md), "{gh_text}");
}

#[test]
fn report_compare_flags_a_slower_run_and_html_can_be_made_again() {
    let t = Target::start();
    let fast = two_step(&t.url, 5, "");
    let slow = two_step(&t.url, 40, "");
    for s in [&fast, &slow] {
        let o = run(s, &[]);
        assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    }
    let a = path_str(&fast.out().join("summary.json"));
    let b = path_str(&slow.out().join("summary.json"));

    let o = stampede(&["report", "compare", &a, &a, "--fail-on-regression", "10%"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !text(&o).contains("regression\n") && text(&o).contains("OK: nothing worse"),
        "{}",
        text(&o)
    );

    let o = stampede(&["report", "compare", &a, &b, "--fail-on-regression", "10%"]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let out = text(&o);
    let flagged = |scope: &str, fig: &str| {
        out.lines().any(|l| {
            l.trim_start().starts_with(scope) && l.contains(fig) && l.contains("✗ regression")
        })
    };
    assert!(flagged("overall", "p95 ms"), "{out}");
    assert!(flagged("search", "p95 ms"), "{out}");
    // Every p95 row is there, and a row is flagged exactly when its own figures say it is more
    // than 10 % worse: home (/fast in both runs) may move either way by noise, but never
    // silently.
    for scope in ["overall", "home", "search"] {
        let row = out
            .lines()
            .find(|l| l.trim_start().starts_with(scope) && l.contains("p95 ms"))
            .unwrap_or_else(|| panic!("no {scope} p95 row in {out}"));
        // Judged on the row's own change (`+9.9%`), not on its old and new figures: those are
        // rounded for display (0.14 → 0.16 ms printed for a +9.9 % change), and the change is
        // printed to one decimal, so only rows clearly on one side of 10 % are judged.
        let change: f64 = row
            .split_whitespace()
            .find_map(|w| w.strip_suffix('%').and_then(|p| p.parse().ok()))
            .unwrap_or_else(|| panic!("no change in {row:?}"));
        if change > 10.5 {
            assert!(row.contains("✗ regression"), "{row}");
        } else if change < 9.5 {
            assert!(!row.contains("✗ regression"), "{row}");
        }
    }

    // Without a limit, compare only reports.
    let o = stampede(&["report", "compare", &a, &b]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Bad input.
    let o = stampede(&["report", "compare", &a, "/nonexistent/summary.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let junk = fast.dir.path().join("junk.json");
    std::fs::write(&junk, "{\"a\": 1}").unwrap();
    let o = stampede(&["report", "compare", &a, &path_str(&junk)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("not a stampede summary.json"),
        "{}",
        text(&o)
    );

    // report html from a saved summary.
    let page = fast.dir.path().join("again.html");
    let o = stampede(&["report", "html", &a, "--out", &path_str(&page)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let again = std::fs::read_to_string(&page).unwrap();
    let first = std::fs::read_to_string(fast.out().join("report.html")).unwrap();
    assert_eq!(again, first, "the same page from the same summary");
}
