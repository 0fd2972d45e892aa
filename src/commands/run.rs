//! `run`, `validate`, `demo` and `report` as commands: their clap arguments turned into a
//! `Plan` and `RunOptions` for the runner (or a report read back).

use super::cli::{DemoArgs, OverrideArgs, RunArgs, ValidateArgs};
use crate::runner::{DEMO_SCENARIO, RunOptions, default_out_dir, describe, execute, interrupts};
use crate::scenario::{self, Overrides};
use crate::{Failure, exit, say};
use crate::{engine, report};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::Path;

fn overrides(a: &OverrideArgs) -> Overrides {
    Overrides::from(a)
}

pub fn run_command(args: RunArgs) -> Result<i32, Failure> {
    let (out, k6) = crate::output::args::K6Options::from_args(&args.output)?;
    if k6.no_color {
        // SAFETY: nothing else runs yet (the engine, the signal and output threads start later),
        // so no thread reads the environment while it changes.
        unsafe { std::env::set_var("NO_COLOR", "1") };
    }
    engine::debug::set(k6.http_debug);
    let debugging = k6.http_debug > 0;
    let mut plan = crate::output::quick::load(&args.file, &overrides(&args.overrides))?;
    if let Some(n) = args.part.processes {
        // Ctrl-C reaches the children (one process group): they stop gracefully and the
        // parent merges what they wrote.
        let _ = interrupts();
        let out = out
            .clone()
            .unwrap_or_else(|| default_out_dir(&plan.name, &chrono::Local::now()));
        let cfg = crate::processes::Config {
            processes: n,
            out,
            start_at: args.part.start_at.clone(),
            segment_flags: args.part.segment.is_some()
                || args.part.segment_of.is_some()
                || args.part.barrier.is_some(),
            quiet: args.quiet,
            no_tui: args.no_tui,
        };
        return crate::processes::run(&cfg, plan, interrupts().clone());
    }
    let part = crate::part::prepare(
        &args.part,
        &args.file,
        &overrides(&args.overrides),
        &mut plan,
    )?;
    execute(
        plan,
        &RunOptions {
            out,
            k6,
            quiet: args.quiet,
            no_tui: args.no_tui || debugging,
            workers: args.workers,
            part,
        },
    )
}

/// `stampede report html|compare`.
pub fn report_command(cmd: super::cli::ReportCommand) -> Result<i32, Failure> {
    use super::cli::ReportCommand;
    let load = |p: &Path| crate::summary::read(p).map_err(|e| Failure::Usage(e.to_string()));
    match cmd {
        ReportCommand::Html { summary, out } => {
            let v = load(&summary)?;
            let out = out.unwrap_or_else(|| {
                summary
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join("report.html")
            });
            report::files::write_atomic(&out, report::html::render(&v).as_bytes()).map_err(
                |e| Failure::ReportsLost {
                    missing: vec![format!("cannot write {}: {e}", out.display())],
                    verdict: exit::OK,
                },
            )?;
            say(&format!("wrote {}\n", out.display()));
            Ok(exit::OK)
        }
        ReportCommand::Compare {
            old,
            new,
            fail_on_regression,
        } => {
            let (a, b) = (load(&old)?, load(&new)?);
            for (v, p) in [(&a, &old), (&b, &new)] {
                report::compare::readable(v)
                    .map_err(|m| Failure::Usage(format!("{}: {m}", p.display())))?;
            }
            let changes = report::compare::compare(&a, &b);
            say(&report::compare::render(
                &changes,
                fail_on_regression,
                &old.display().to_string(),
                &new.display().to_string(),
            ));
            let regressed =
                fail_on_regression.is_some_and(|l| changes.iter().any(|c| c.regressed(l)));
            Ok(if regressed {
                exit::THRESHOLDS
            } else {
                exit::OK
            })
        }
    }
}

pub fn validate_command(args: ValidateArgs) -> Result<i32, Failure> {
    let plan = crate::output::quick::load(&args.file, &overrides(&args.overrides))?;
    say(&format!(
        "{}: valid\n{}",
        args.file.display(),
        describe(&plan)
    ));
    Ok(exit::OK)
}

pub fn demo_command(args: DemoArgs) -> Result<i32, Failure> {
    let (addr, _stats) = crate::target::spawn_background(SocketAddr::from(([127, 0, 0, 1], 0)), 1)
        .context("cannot start the built-in target")?;
    if !args.quiet {
        eprintln!("built-in target listening on http://{addr}");
    }
    let ov = Overrides {
        target: Some(format!("http://{addr}")),
        time_scale: args.time_scale,
        ..Overrides::default()
    };
    let plan = scenario::load_str(DEMO_SCENARIO, "examples/demo.yaml", "demo", &ov)?;
    execute(
        plan,
        &RunOptions {
            out: args.out,
            quiet: args.quiet,
            no_tui: args.no_tui,
            workers: None,
            ..RunOptions::default()
        },
    )
}
