//! `egovctl regulation check FILE...`: validates regulation files;
//! `egovctl regulation show FILE [--channel C] [--lang ru|kk]`: prints a channel or the
//! procedure as the seeds lay out their tables.

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
    /// Print a channel (every action in order: the channel's steps, the procedure as the
    /// channel runs it, the leg after it) or, without --channel, the procedure, as the
    /// seeds lay out their tables: №, СФЕ, system, action, form of completion, deadline,
    /// status, next.
    Show(ShowArgs),
}

/// Arguments of `regulation show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The regulation file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The channel: portal, provider or con (the procedure when left out).
    #[arg(long)]
    pub channel: Option<String>,
    /// The language of the texts.
    #[arg(long, default_value = "ru", value_parser = ["ru", "kk"])]
    pub lang: String,
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
        RegulationCommand::Show(a) => show(a, out),
    }
}

fn show(a: ShowArgs, out: &mut dyn Write) -> Result<()> {
    let reg = match egov_regulation::load_file(&a.file) {
        Ok(r) => r,
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            bail!("{} is not a valid regulation file", a.file.display())
        }
    };
    match egov_regulation::show(&reg, a.channel.as_deref(), &a.lang) {
        Some(text) => {
            out.write_all(text.as_bytes())?;
            Ok(())
        }
        None => bail!(
            "{} has no channel {:?} (its channels: {})",
            a.file.display(),
            a.channel.unwrap_or_default(),
            reg.channels
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
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
