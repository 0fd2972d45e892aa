//! The run options a k6 user types: `--out KIND=TARGET`, `--summary-export`, `--tag`,
//! `--no-thresholds`, `--summary-trend-stats`, `--no-color`, and the report folder's own flag.

use crate::report::k6::TrendStats;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// A live output, as k6 names them (repeatable): `json=FILE` (k6 JSON lines), `csv=FILE`
    /// (k6's columns), `prometheus=ADDR` (OpenMetrics scrape endpoint, e.g. 127.0.0.1:9464),
    /// `hlog=FILE` (HdrHistogram interval log), `experimental-prometheus-rw=URL` (remote write).
    /// A value without `=` is the report folder (the same as --report-dir).
    #[arg(
        long = "out",
        short = 'o',
        value_name = "KIND=TARGET",
        env = "STAMPEDE_OUT",
        value_delimiter = ','
    )]
    pub out: Vec<String>,
    /// Report folder (default: reports/<name>-<timestamp>/).
    #[arg(long, value_name = "DIR", env = "STAMPEDE_REPORT_DIR")]
    pub report_dir: Option<PathBuf>,
    /// Write k6's `--summary-export` file (thresholds `true` = failed, `value` for rates,
    /// `root_group` with the checks), so tools written for k6 read it.
    #[arg(long, value_name = "FILE", env = "STAMPEDE_SUMMARY_EXPORT")]
    pub summary_export: Option<PathBuf>,
    /// Write the object k6 hands to `handleSummary(data)` (what k6-html-reporter reads).
    #[arg(long, value_name = "FILE")]
    pub summary_data: Option<PathBuf>,
    /// Trend statistics of --summary-export / --summary-data, as k6: `avg,min,med,max,p(90),p(95)`
    /// (the default); any of avg, min, med, max, count, p(N).
    #[arg(long, value_name = "LIST", env = "STAMPEDE_SUMMARY_TREND_STATS", value_parser = TrendStats::parse)]
    pub summary_trend_stats: Option<TrendStats>,
    /// Run without judging thresholds (they are not evaluated, abort_on_fail does not stop the
    /// run, and the exit code does not depend on them).
    #[arg(long, env = "STAMPEDE_NO_THRESHOLDS")]
    pub no_thresholds: bool,
    /// No colours in the terminal output (as NO_COLOR=1).
    #[arg(long, env = "STAMPEDE_NO_COLOR")]
    pub no_color: bool,
    /// Print every request and response to stderr (`--http-debug`: heads; `--http-debug=full`:
    /// bodies too), secrets (Authorization, Cookie, Set-Cookie, API keys) masked. Turns the
    /// dashboard off.
    #[arg(long, value_name = "full", num_args = 0..=1, default_missing_value = "headers", require_equals = true, value_parser = ["headers", "full"])]
    pub http_debug: Option<String>,
    /// A tag on every sample of every live output (repeatable), e.g. `--tag env=staging`.
    #[arg(long = "tag", value_name = "NAME=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
}

/// Why an `--out` or `--tag` value is refused (`out`: the `--out` value as written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutArgError {
    #[error("`{0}`: use NAME=VALUE with NAME made of letters, digits and `_`")]
    Tag(String),
    #[error(
        "--out {0}: a report folder is already given (--report-dir or another --out DIR); live outputs are written KIND=TARGET ({KINDS})"
    )]
    SecondReportDir(String),
    #[error("--out {out}: the `{kind}` output is not built into stampede; use one of {KINDS}")]
    NotBuiltIn { out: String, kind: String },
    #[error(
        "--out {out}: unknown output `{kind}`; use {KINDS}, or --report-dir DIR for the report folder"
    )]
    Unknown { out: String, kind: String },
    #[error("--out {out}: say where, e.g. {example}")]
    NoTarget { out: String, example: &'static str },
}

fn parse_tag(s: &str) -> Result<(String, String), OutArgError> {
    match s.split_once('=') {
        Some((k, v))
            if !k.trim().is_empty()
                && k.trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((k.trim().to_string(), v.to_string()))
        }
        _ => Err(OutArgError::Tag(s.into())),
    }
}

/// A kind of live output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Json,
    Csv,
    Prometheus,
    Hlog,
    /// `experimental-prometheus-rw=URL`
    RemoteWrite,
}

/// One `--out KIND=TARGET`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub kind: OutputKind,
    pub target: String,
}

/// `--out` values sorted into live outputs and the report folder.
#[derive(Debug, Default)]
pub struct Resolved {
    pub report_dir: Option<PathBuf>,
    pub outputs: Vec<OutputSpec>,
}

const KINDS: &str =
    "json=FILE, csv=FILE, prometheus=ADDR, hlog=FILE, experimental-prometheus-rw=URL";

impl OutputArgs {
    pub fn resolve(&self) -> Result<Resolved, OutArgError> {
        let mut r = Resolved {
            report_dir: self.report_dir.clone(),
            outputs: Vec::new(),
        };
        for v in &self.out {
            let Some((kind, target)) = v.split_once('=') else {
                if r.report_dir.is_some() {
                    return Err(OutArgError::SecondReportDir(v.clone()));
                }
                r.report_dir = Some(PathBuf::from(v));
                continue;
            };
            let kind = match kind.trim() {
                "json" => OutputKind::Json,
                "csv" => OutputKind::Csv,
                "prometheus" => OutputKind::Prometheus,
                "hlog" => OutputKind::Hlog,
                "experimental-prometheus-rw" => OutputKind::RemoteWrite,
                "influxdb"
                | "experimental-opentelemetry"
                | "cloud"
                | "statsd"
                | "datadog"
                | "kafka" => {
                    return Err(OutArgError::NotBuiltIn {
                        out: v.clone(),
                        kind: kind.into(),
                    });
                }
                _ => {
                    return Err(OutArgError::Unknown {
                        out: v.clone(),
                        kind: kind.into(),
                    });
                }
            };
            if target.trim().is_empty() {
                return Err(OutArgError::NoTarget {
                    out: v.clone(),
                    example: match kind {
                        OutputKind::Prometheus => "prometheus=127.0.0.1:9464",
                        OutputKind::Json => "json=results.json",
                        OutputKind::Csv => "csv=results.csv",
                        OutputKind::Hlog => "hlog=latency.hlog",
                        OutputKind::RemoteWrite => {
                            "experimental-prometheus-rw=http://127.0.0.1:9090/api/v1/write"
                        }
                    },
                });
            }
            r.outputs.push(OutputSpec {
                kind,
                target: target.to_string(),
            });
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &[&str]) -> OutputArgs {
        OutputArgs {
            out: out.iter().map(|s| s.to_string()).collect(),
            ..OutputArgs::default()
        }
    }

    #[test]
    fn out_sorts_outputs_from_the_report_folder() {
        let r = args(&["json=r.json", "reports/x", "prometheus=127.0.0.1:0"])
            .resolve()
            .unwrap();
        assert_eq!(r.report_dir, Some(PathBuf::from("reports/x")));
        assert_eq!(r.outputs.len(), 2);
        assert_eq!(r.outputs[0].kind, OutputKind::Json);
        assert_eq!(
            args(&["jsn=x"]).resolve().unwrap_err(),
            OutArgError::Unknown {
                out: "jsn=x".into(),
                kind: "jsn".into()
            }
        );
        assert!(matches!(
            args(&["a", "b"]).resolve(),
            Err(OutArgError::SecondReportDir(v)) if v == "b"
        ));
        assert_eq!(
            args(&["csv="]).resolve().unwrap_err().to_string(),
            "--out csv=: say where, e.g. csv=results.csv"
        );
        assert!(parse_tag("env=ci").is_ok());
        assert!(parse_tag("=x").is_err());
    }
}

/// What a run needs of these options once checked.
#[derive(Debug, Clone, Default)]
pub struct K6Options {
    pub outputs: Vec<OutputSpec>,
    pub summary_export: Option<PathBuf>,
    pub summary_data: Option<PathBuf>,
    pub trend_stats: TrendStats,
    pub no_thresholds: bool,
    pub no_color: bool,
    pub tags: Vec<(String, String)>,
    /// 0 off, 1 heads, 2 full.
    pub http_debug: u8,
}

impl K6Options {
    /// The report folder and the rest, or a usage error.
    pub fn from_args(a: &OutputArgs) -> Result<(Option<PathBuf>, K6Options), crate::Failure> {
        let r = a
            .resolve()
            .map_err(|e| crate::Failure::Usage(e.to_string()))?;
        Ok((
            r.report_dir,
            K6Options {
                outputs: r.outputs,
                summary_export: a.summary_export.clone(),
                summary_data: a.summary_data.clone(),
                trend_stats: a.summary_trend_stats.clone().unwrap_or_default(),
                no_thresholds: a.no_thresholds,
                no_color: a.no_color,
                tags: a.tags.clone(),
                http_debug: match a.http_debug.as_deref() {
                    None => 0,
                    Some("full") => 2,
                    Some(_) => 1,
                },
            },
        ))
    }
}

/// `--summary-export` and `--summary-data`, from the run's summary.json.
pub fn write_k6_files(summary: &crate::summary::Summary, o: &K6Options) -> anyhow::Result<()> {
    use crate::report::k6;
    if o.summary_export.is_none() && o.summary_data.is_none() {
        return Ok(());
    }
    let data = k6::handle_summary_data(summary, &o.trend_stats, o.no_color);
    if let Some(p) = &o.summary_data {
        k6::write_file(p, &(serde_json::to_string_pretty(&data)? + "\n"))?;
    }
    if let Some(p) = &o.summary_export {
        let e = k6::summary_export(&data);
        k6::write_file(p, &(serde_json::to_string_pretty(&e)? + "\n"))?;
    }
    Ok(())
}
