//! `stampede run --processes N`: the run as N child processes on this machine, each a segment
//! (`--segment i/N`, a common `--start-at`), merged at the end into one report — for more
//! connections than one process may open. The children print nothing live: the parent shows
//! one line per part as it ends, then the merged summary.

use crate::cli::RunArgs;
use crate::{Failure, exit};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The command line of `run` without `--processes` and `--out` (and their values): what every
/// child gets, before its own segment and report folder.
fn child_args(argv: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in argv {
        if skip {
            skip = false;
            continue;
        }
        let s = a.to_string_lossy();
        if s == "--processes" || s == "--out" {
            skip = true;
            continue;
        }
        if s.starts_with("--processes=") || s.starts_with("--out=") {
            continue;
        }
        out.push(a.clone());
    }
    out
}

pub fn run(n: u32, args: &RunArgs, out: PathBuf) -> Result<i32, Failure> {
    if n < 1 {
        return Err(Failure::Usage("--processes N: at least 1".into()));
    }
    let p = &args.part;
    if p.segment.is_some() || p.segment_of.is_some() || p.barrier.is_some() {
        return Err(Failure::Usage(
            "--processes makes its own segments: leave out --segment, --segment-of and --barrier"
                .into(),
        ));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Tool(anyhow::anyhow!("cannot find the stampede binary: {e}")))?;
    // `stampede run FILE ...`: everything after the program name.
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let base = child_args(&argv);
    let parts_dir = out.join("parts");
    std::fs::create_dir_all(&parts_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", parts_dir.display())))?;
    let start_at = match &p.start_at {
        Some(s) => s.clone(),
        None => (chrono::Utc::now() + chrono::Duration::seconds(3))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let has_start = p.start_at.is_some();
    if !args.quiet {
        eprintln!(
            "stampede · {n} processes, one segment each, starting at {start_at} · logs and parts in {}",
            parts_dir.display()
        );
    }
    let mut children = Vec::new();
    for i in 1..=n {
        let dir = parts_dir.join(format!("part-{i}"));
        let log = std::fs::File::create(parts_dir.join(format!("part-{i}.log")))
            .map_err(|e| Failure::Tool(anyhow::anyhow!("cannot create a log file: {e}")))?;
        let err = log
            .try_clone()
            .map_err(|e| Failure::Tool(anyhow::anyhow!("{e}")))?;
        let mut cmd = Command::new(&exe);
        cmd.args(&base)
            .arg("--segment")
            .arg(format!("{i}/{n}"))
            .arg("--out")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        if !args.quiet {
            // The children draw no live view: the parent reports.
            cmd.arg("--quiet");
        }
        if !has_start {
            cmd.arg("--start-at").arg(&start_at);
        }
        let child = cmd
            .spawn()
            .map_err(|e| Failure::Tool(anyhow::anyhow!("cannot start part {i}: {e}")))?;
        children.push((i, dir, child));
    }
    let mut parts = Vec::new();
    let mut failed = Vec::new();
    for (i, dir, mut child) in children {
        let code = child
            .wait()
            .map_err(|e| Failure::Tool(anyhow::anyhow!("part {i}: {e}")))?
            .code();
        if !args.quiet {
            eprintln!(
                "part {i}/{n} ended (exit {})",
                code.map_or("signal".into(), |c| c.to_string())
            );
        }
        match code {
            Some(exit::OK) | Some(exit::INTERRUPTED) => parts.push(dir),
            _ => failed.push(i),
        }
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed
            .iter()
            .map(|i| {
                parts_dir
                    .join(format!("part-{i}.log"))
                    .display()
                    .to_string()
            })
            .collect();
        let msg = format!("part(s) {failed:?} failed; see {}", list.join(", "));
        // An invalid scenario or bad usage fails every part alike, before any traffic.
        return if parts.is_empty() {
            Err(Failure::Usage(msg))
        } else {
            Err(Failure::Tool(anyhow::anyhow!(msg)))
        };
    }
    crate::merge::merge_command(crate::merge::MergeArgs {
        parts,
        out,
        quiet: args.quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::child_args;
    use std::ffi::OsString;

    #[test]
    fn processes_and_out_are_left_to_the_parent() {
        let argv: Vec<OsString> = [
            "run",
            "s.yaml",
            "--processes",
            "4",
            "--out=x",
            "--vus",
            "10",
            "--out",
            "y",
            "--processes=2",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let got: Vec<String> = child_args(&argv)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, vec!["run", "s.yaml", "--vus", "10"]);
    }
}
