use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = stampede::cli::Cli::parse();
    let code = stampede::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
