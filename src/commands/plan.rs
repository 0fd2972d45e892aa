//! `stampede plan`: read the inputs named on the command line, make the plan, print it (text
//! or `--json`), and draw the chart.

use super::cli::PlanArgs;
use crate::capacity::fit::FitMethod;
use crate::capacity::planner::{self, Request};
use crate::capacity::points::{self, Measured};
use crate::capacity::{chart, render};
use crate::scenario::capacity::{Peak, load_capacity};
use crate::{Failure, exit};
use anyhow::Context;

pub fn plan_command(args: PlanArgs) -> Result<i32, Failure> {
    let measured = match (&args.points, &args.summary) {
        (Some(csv), _) => points::from_csv(csv).map_err(|e| Failure::Usage(e.to_string()))?,
        (None, Some(json)) => {
            points::from_summary(json).map_err(|e| Failure::Usage(e.to_string()))?
        }
        (None, None) => Measured::default(),
    };
    let mut req = Request {
        points: measured.points.clone(),
        point_notes: measured.notes.clone(),
        point_warnings: measured.warnings.clone(),
        response_time: args.response_time,
        headroom: args.headroom,
        redundancy: args.redundancy,
        zones: args.zones,
        at_concurrency: args.at_concurrency,
        at_throughput: args.at_throughput,
        at_latency: args.at_latency,
        fit_method: match args.fit.as_str() {
            "relative" => FitMethod::Relative,
            _ => FitMethod::Absolute,
        },
        ..Request::default()
    };
    if let Some(path) = &args.scenario {
        let Some(spec) = load_capacity(path)? else {
            return Err(Failure::Usage(format!(
                "{}: no `capacity:` block (see docs/capacity-planning.md)",
                path.display()
            )));
        };
        let file = path.display();
        let from = match spec.peak {
            Peak::Shares {
                registered_users,
                daily_active,
                peak_concurrent,
            } => format!(
                "{file}: {} registered × {}% daily active × {}% of those at the peak",
                planner::group(registered_users as f64, 0),
                planner::group(daily_active * 100.0, 2),
                planner::group(peak_concurrent * 100.0, 2)
            ),
            Peak::Users(_) => format!("{file}: capacity.peak_concurrent"),
        };
        req.users = Some((spec.concurrent_users(), from));
        req.think = spec.think_time;
    }
    if let Some(n) = args.users {
        req.users = Some((n as f64, "--users".into()));
    }
    if let Some(t) = args.think_time {
        req.think = Some((t, "--think-time".into()));
    }
    req.per_instance_rps = match (args.per_instance_rps, measured.max_sustainable_rps) {
        (Some(x), _) => Some((x, "--per-instance-rps".into())),
        (None, Some(x)) => Some((x, "the breakpoint run's max sustainable rate".into())),
        (None, None) => None,
    };
    let plan = planner::make(&req).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(path) = &args.chart {
        let Some(fit) = &plan.fit else {
            return Err(Failure::Usage(
                "--chart draws the measured points against the fitted curve: give --points FILE.csv or a summary.json".into(),
            ));
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let body = match ext.as_deref() {
            Some("svg") => chart::svg(&req.points, fit),
            Some("html" | "htm") => chart::html(&req.points, fit),
            _ => {
                return Err(Failure::Usage(format!(
                    "--chart {}: the name must end in .svg or .html",
                    path.display()
                )));
            }
        };
        std::fs::write(path, body)
            .with_context(|| format!("cannot write the chart to {}", path.display()))?;
    }
    if args.json {
        let text = serde_json::to_string_pretty(&plan).context("cannot serialise the plan")?;
        crate::say(&format!("{text}\n"));
    } else {
        crate::say(&render::text(&plan));
        if let Some(path) = &args.chart {
            crate::say(&format!("Chart: {}\n", path.display()));
        }
    }
    Ok(exit::OK)
}
