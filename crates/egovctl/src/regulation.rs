//! `egovctl regulation check FILE...`: validates regulation files.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

/// The `regulation` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegulationCommand {
    /// Validate regulation files: exit 0 when every file is valid, 1 with one line
    /// `file:line: problem` per error.
    Check(CheckArgs),
}

/// Arguments of `regulation check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The files (a folder checks every *.toml in it).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Runs a `regulation` subcommand.
pub fn run(c: RegulationCommand, out: &mut dyn Write) -> Result<()> {
    match c {
        RegulationCommand::Check(a) => check(a, out),
    }
}

fn check(a: CheckArgs, out: &mut dyn Write) -> Result<()> {
    let mut paths = Vec::new();
    for f in a.files {
        if f.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(&f)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            inner.sort();
            paths.extend(inner);
        } else {
            paths.push(f);
        }
    }
    match egov_regulation::load_files(&paths) {
        Ok(regs) => {
            for r in regs {
                writeln!(
                    out,
                    "{}: ok: {} ({} steps, {} channels, {} providers)",
                    r.file,
                    r.id,
                    r.steps.len(),
                    r.channels.len(),
                    r.providers.len()
                )?;
            }
            Ok(())
        }
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            out.flush()?;
            bail!(
                "{} problem{} found",
                problems.0.len(),
                if problems.0.len() == 1 { "" } else { "s" }
            )
        }
    }
}
