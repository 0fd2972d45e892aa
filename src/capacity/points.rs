//! Measurements for the USL fit: a CSV of (concurrency, throughput), or a `summary.json`.
//!
//! From a summary, two shapes are read:
//! - a **breakpoint run** (`capacity.steps[]`): one point per stair, throughput = the stair's
//!   achieved rate, concurrency = the mean number of requests in flight by Little's law,
//!   `achieved_rps × mean latency`. The stair's `avg_ms` is used when present, else its
//!   `p50_ms` (which is below the mean when latency is skewed, so N comes out a little low).
//!   `vus_max` is not used: in the open model it counts VUs ever started, idle ones included.
//! - a **stepped closed-model run** (`timeline[]`): consecutive seconds with the same VU count
//!   form a plateau; the first second of each plateau is dropped (warm-up, and the ramp into
//!   it), and the plateau gives one point: N = its VUs, X = its mean requests per second.
//!   Ramps change the VU count every second, so they leave no point. A last second that the
//!   run did not fill is dropped. With think time, N counts users, not requests in flight.

use super::Point;
use serde::Deserialize;
use std::path::Path;

/// Where the points came from, and what else the summary says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measured {
    pub points: Vec<Point>,
    /// What each point is, for the plan's assumptions.
    pub notes: Vec<String>,
    /// Doubts about the points, for the plan's warnings.
    pub warnings: Vec<String>,
    /// A breakpoint run's highest passing stair, req/s.
    pub max_sustainable_rps: Option<f64>,
    pub knee_rps: Option<f64>,
}

/// Read `concurrency,throughput` rows (a header naming both columns, in any order; `#`
/// comments allowed). Errors are `FILE:LINE: message`.
/// The largest concurrency or throughput a CSV row may give: beyond it the fit's arithmetic
/// overflows (1e308 gave `σ = NaN`), and no real system is measured there.
const MAX_MEASURE: f64 = 1e12;

/// Why measurements could not be read; every message starts with the file (and the line, or
/// line:column, when there is one). The `plan` command exits 2 on any of them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PointsError {
    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
    /// A CSV record that could not be read (at its line when the reader knows it).
    #[error("{file}{}: {reason}", .line.map_or(String::new(), |l| format!(":{l}")))]
    Csv {
        file: String,
        line: Option<u64>,
        reason: String,
    },
    #[error(
        "{file}:1: the header must name the columns `concurrency,throughput` (found `{found}`)"
    )]
    Header { file: String, found: String },
    #[error("{file}:{line}: {what} `{text}` is beyond any measurement (at most {MAX_MEASURE:e})")]
    TooLarge {
        file: String,
        line: u64,
        what: &'static str,
        text: String,
    },
    #[error("{file}:{line}: {what} `{text}` must be above zero")]
    NotPositive {
        file: String,
        line: u64,
        what: &'static str,
        text: String,
    },
    #[error("{file}:{line}: {what} `{text}` is not a number")]
    NotANumber {
        file: String,
        line: u64,
        what: &'static str,
        text: String,
    },
    #[error("{file}: no data rows")]
    NoRows { file: String },
    #[error("{file}:{line}:{column}: not JSON: {reason}")]
    NotJson {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}: not a stampede summary.json: at `{path}`: {reason}")]
    NotSummary {
        file: String,
        path: String,
        reason: String,
    },
    #[error(
        "{file}: no measurements to fit: neither `capacity.steps` (a breakpoint run) nor VU plateaus of 2 s or more in `timeline` (a stepped run)"
    )]
    NoMeasurements { file: String },
}

pub fn from_csv(path: &Path) -> Result<Measured, PointsError> {
    let file = path.display().to_string();
    let mut rd = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| PointsError::Unreadable {
            file: file.clone(),
            reason: csv_message(&e),
        })?;
    let headers = rd
        .headers()
        .map_err(|e| located(&file, &e))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(nc), Some(xc)) = (col("concurrency"), col("throughput")) else {
        return Err(PointsError::Header {
            file,
            found: headers.join(","),
        });
    };
    let mut points = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| located(&file, &e))?;
        let line = rec.position().map_or(0, |p| p.line());
        let num = |i: usize, what: &'static str| -> Result<f64, PointsError> {
            let text = rec.get(i).unwrap_or("");
            let (file, text) = (file.clone(), text.to_string());
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 && v <= MAX_MEASURE => Ok(v),
                Ok(v) if v > MAX_MEASURE => Err(PointsError::TooLarge {
                    file,
                    line,
                    what,
                    text,
                }),
                Ok(_) => Err(PointsError::NotPositive {
                    file,
                    line,
                    what,
                    text,
                }),
                Err(_) => Err(PointsError::NotANumber {
                    file,
                    line,
                    what,
                    text,
                }),
            }
        };
        points.push(Point {
            concurrency: num(nc, "concurrency")?,
            throughput: num(xc, "throughput")?,
        });
    }
    if points.is_empty() {
        return Err(PointsError::NoRows { file });
    }
    Ok(Measured {
        notes: vec![format!(
            "{} points from {file} (concurrency, throughput per second)",
            points.len()
        )],
        points,
        ..Measured::default()
    })
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

fn located(file: &str, e: &csv::Error) -> PointsError {
    PointsError::Csv {
        file: file.to_string(),
        line: e.position().map(csv::Position::line),
        reason: csv_message(e),
    }
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    capacity: Option<CapacityPart>,
    #[serde(default)]
    timeline: Vec<Second>,
    #[serde(default)]
    duration_s: Option<f64>,
    #[serde(default)]
    executor: String,
}

#[derive(Deserialize)]
struct CapacityPart {
    #[serde(default)]
    steps: Vec<Stair>,
    #[serde(default)]
    max_sustainable_rps: Option<f64>,
    #[serde(default)]
    knee_rps: Option<f64>,
}

#[derive(Deserialize)]
struct Stair {
    achieved_rps: f64,
    p50_ms: f64,
    #[serde(default)]
    avg_ms: Option<f64>,
}

#[derive(Deserialize)]
struct Second {
    second: u64,
    vus: u64,
    requests: u64,
}

/// Read a `summary.json` written by `stampede run` (see the module doc).
pub fn from_summary(path: &Path) -> Result<Measured, PointsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PointsError::Unreadable {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    // Only the sections a plan needs are read (a summary cut down to them still works), but
    // typed: a field of the wrong type is refused with its JSON path, never read as missing.
    let mut de = serde_json::Deserializer::from_str(&text);
    let s: Summary = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            PointsError::NotJson {
                file: file.clone(),
                line: inner.line(),
                column: inner.column(),
                reason: inner.to_string(),
            }
        } else {
            let mut m = inner.to_string();
            if let Some(i) = m.find(" at line ") {
                m.truncate(i);
            }
            PointsError::NotSummary {
                file: file.clone(),
                path,
                reason: m,
            }
        }
    })?;
    if let Some(cap) = s.capacity.filter(|c| !c.steps.is_empty()) {
        return Ok(from_stairs(&file, cap));
    }
    let mut m = from_timeline(&file, &s.timeline, s.duration_s);
    if s.executor.contains("arrival-rate") {
        m.warnings.push(format!(
            "{file} is an open-model run ({}): its VU counts are VUs started, not concurrency; a breakpoint run or a stepped closed-model run measures scalability",
            s.executor
        ));
    }
    if m.points.is_empty() {
        return Err(PointsError::NoMeasurements { file });
    }
    Ok(m)
}

fn from_stairs(file: &str, cap: CapacityPart) -> Measured {
    let mut points = Vec::new();
    let (mut by_avg, mut by_p50) = (0, 0);
    for st in &cap.steps {
        let (lat, avg) = match st.avg_ms {
            Some(a) if a > 0.0 => (a, true),
            _ => (st.p50_ms, false),
        };
        let n = st.achieved_rps * lat / 1000.0;
        if st.achieved_rps > 0.0 && n.is_finite() && n > 0.0 {
            if avg {
                by_avg += 1;
            } else {
                by_p50 += 1;
            }
            points.push(Point {
                concurrency: n,
                throughput: st.achieved_rps,
            });
        }
    }
    let latency = match (by_avg, by_p50) {
        (_, 0) => "mean latency",
        (0, _) => "median latency (p50; the stairs carry no mean)",
        _ => "mean latency where the stair has it, else p50",
    };
    let mut notes = vec![format!(
        "{} stairs of the breakpoint run {file}: throughput = achieved req/s, concurrency = requests in flight = achieved req/s × {latency} (Little's law)",
        points.len()
    )];
    let mut warnings = Vec::new();
    match cap.max_sustainable_rps {
        Some(x) => notes.push(format!(
            "the breakpoint run's max sustainable rate (highest stair within the SLA): {x:.1} req/s"
        )),
        None => warnings.push(format!(
            "{file}: no stair passed, so the run gives no max sustainable rate"
        )),
    }
    if let Some(k) = cap.knee_rps {
        notes.push(format!(
            "the breakpoint run's knee (marginal throughput per offered request below 0.5): {k:.1} req/s"
        ));
    }
    Measured {
        notes,
        warnings,
        points,
        max_sustainable_rps: cap.max_sustainable_rps,
        knee_rps: cap.knee_rps,
    }
}

fn from_timeline(file: &str, timeline: &[Second], duration_s: Option<f64>) -> Measured {
    let mut rows: Vec<&Second> = timeline.iter().collect();
    // A last second the run did not fill would understate its plateau.
    if let (Some(last), Some(d)) = (rows.last(), duration_s)
        && last.second as f64 > d + 0.01
    {
        rows.pop();
    }
    let mut points = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let vus = rows[i].vus;
        let mut j = i;
        while j + 1 < rows.len()
            && rows[j + 1].vus == vus
            && rows[j + 1].second == rows[j].second + 1
        {
            j += 1;
        }
        // Seconds i..=j share one VU count; drop the first (warm-up).
        let kept = &rows[i + 1..=j];
        if vus > 0 && !kept.is_empty() {
            let x = kept.iter().map(|r| r.requests as f64).sum::<f64>() / kept.len() as f64;
            if x > 0.0 {
                points.push(Point {
                    concurrency: vus as f64,
                    throughput: x,
                });
            }
        }
        i = j + 1;
    }
    Measured {
        notes: vec![format!(
            "{} VU plateaus of the run {file}: concurrency = VUs, throughput = mean requests per second over the plateau without its first second",
            points.len()
        )],
        points,
        ..Measured::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(second: u64, vus: u64, requests: u64) -> Second {
        Second {
            second,
            vus,
            requests,
        }
    }

    #[test]
    fn plateaus_become_points_without_their_first_second() {
        let t = vec![
            sec(1, 1, 5),   // warm-up of the 1-VU plateau
            sec(2, 1, 100), // kept
            sec(3, 1, 102), // kept
            sec(4, 3, 50),  // a ramp: 3, 5 each for one second → no point
            sec(5, 5, 60),
            sec(6, 8, 1),
            sec(7, 8, 700),
            sec(8, 8, 710),
            sec(9, 8, 3), // partial last second (duration 8.4 s)
        ];
        let m = from_timeline("s.json", &t, Some(8.4));
        assert_eq!(
            m.points,
            vec![
                Point {
                    concurrency: 1.0,
                    throughput: 101.0
                },
                Point {
                    concurrency: 8.0,
                    throughput: 705.0
                }
            ]
        );
    }

    #[test]
    fn stairs_use_littles_law() {
        let cap = CapacityPart {
            steps: vec![
                Stair {
                    achieved_rps: 200.0,
                    p50_ms: 5.0,
                    avg_ms: None,
                },
                Stair {
                    achieved_rps: 400.0,
                    p50_ms: 5.0,
                    avg_ms: Some(10.0),
                },
                Stair {
                    achieved_rps: 0.0,
                    p50_ms: 0.0,
                    avg_ms: None,
                },
            ],
            max_sustainable_rps: Some(400.0),
            knee_rps: None,
        };
        let m = from_stairs("b.json", cap);
        assert_eq!(m.points.len(), 2);
        assert_eq!(m.points[0].concurrency, 1.0);
        assert_eq!(m.points[1].concurrency, 4.0);
        assert_eq!(m.max_sustainable_rps, Some(400.0));
        assert!(m.notes[0].contains("mean latency where the stair has it"));
    }
}
