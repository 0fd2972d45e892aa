//! The commands layer: the clap types (`cli`) and the adapters that turn a parsed command line
//! into the domain's own configuration and call it. Domain modules below never see clap's
//! `*Args` types they did not define themselves (see the layer table in docs/architecture.md).

pub mod cli;
pub mod plan;
pub mod run;

use crate::Failure;
use cli::{Cli, Command, TargetArgs};

/// `stampede target`'s options as the built-in target takes them.
fn target_options(args: TargetArgs) -> crate::target::Options {
    crate::target::Options {
        addr: args.addr,
        stall: args.stall,
        work_slots: args.work_slots,
        work_time: args.work_time,
        tls: args.tls,
        ca_out: args.ca_out,
        h2c: args.h2c,
        log_connections: args.log_connections,
    }
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => run::run_command(args),
        Command::Validate(args) => run::validate_command(args),
        Command::Target(args) => crate::target::serve_forever(&target_options(args))
            .map(|_| crate::exit::OK)
            .map_err(Failure::Tool),
        Command::Demo(args) => run::demo_command(args),
        Command::Merge(args) => crate::merge::merge_command(args),
        Command::K8s(args) => crate::k8s::command(args),
        Command::Plan(args) => plan::plan_command(args),
        Command::Report(cmd) => run::report_command(cmd),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "stampede",
                &mut std::io::stdout(),
            );
            Ok(crate::exit::OK)
        }
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            crate::exit::USAGE
        }
        Err(Failure::Tool(e)) => {
            eprintln!("error: {e:#}");
            crate::exit::TOOL_FAILURE
        }
        Err(Failure::ReportsLost { missing, verdict }) => {
            for m in &missing {
                eprintln!("error: report file missing: {m}");
            }
            eprintln!(
                "error: {} report file(s) not written; the summary printed above is the run's result (its verdict was exit code {verdict}); exiting {}",
                missing.len(),
                crate::exit::TOOL_FAILURE
            );
            crate::exit::TOOL_FAILURE
        }
    }
}
