//! `egovctl scenario run`: the regulations' scenarios (`tests/scenarios/`) against a
//! running stack, through the doors a person uses.

use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

/// `scenario` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Run scenario files (or folders of them) against a running stack: one line per
    /// scenario, pass or fail; exit 1 when any fails.
    Run(RunArgs),
    /// Check scenario files against the regulation files without running them.
    Check(CheckArgs),
}

/// Arguments of `scenario run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (searched for `*.toml`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The stack: its `stack.json` (written by `egov up` into its data folder).
    #[arg(long, value_name = "FILE", env = "EGOV_SCENARIO_TARGET")]
    pub target: Option<PathBuf>,
    /// The portal's base URL instead of the target file's (a stack behind a proxy).
    #[arg(long, value_name = "URL")]
    pub portal: Option<String>,
    /// ИС ЦОН's base URL instead of the target file's.
    #[arg(long, value_name = "URL")]
    pub con: Option<String>,
    /// An АРМ's base URL instead of the target file's: `SYSTEM=URL` (repeatable).
    #[arg(long, value_name = "SYSTEM=URL")]
    pub arm: Vec<String>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Scenarios run at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// Print every scenario's steps with their times and deadlines, not only a
    /// failure's.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Arguments of `scenario check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files or folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Folders of regulation files (default: the shipped `regulations/`).
    #[arg(long, value_name = "DIR")]
    pub regulations: Vec<PathBuf>,
}

/// Runs a `scenario` subcommand.
pub fn run(cmd: ScenarioCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ScenarioCommand::Run(a) => run_scenarios(a, out),
        ScenarioCommand::Check(a) => {
            let regs = regulations(&a.regulations)?;
            let s = egov_scenario::spec::load(&a.paths, &regs)?;
            writeln!(out, "{} scenarios read", s.len())?;
            Ok(())
        }
    }
}

fn regulations(dirs: &[PathBuf]) -> Result<Vec<egov_regulation::Regulation>> {
    let dirs = if dirs.is_empty() {
        vec![egov_regulation::shipped_dir()]
    } else {
        dirs.to_vec()
    };
    let mut out = Vec::new();
    for d in &dirs {
        out.extend(
            egov_regulation::load_dir(d)
                .with_context(|| format!("the regulation files of {}", d.display()))?,
        );
    }
    Ok(out)
}

fn default_target() -> PathBuf {
    let data = std::env::var_os("EGOV_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".egov"));
    data.join("stack.json")
}

fn run_scenarios(a: RunArgs, out: &mut dyn Write) -> Result<()> {
    let path = a.target.clone().unwrap_or_else(default_target);
    let mut target = egov_scenario::Target::read(&path).with_context(|| {
        "the stack to run against (`egov up` writes <data dir>/stack.json; --target FILE)"
            .to_string()
    })?;
    if let Some(p) = a.portal {
        target.portal = Some(p);
    }
    if let Some(c) = a.con {
        match target.con.as_mut() {
            Some(x) => x.url = c,
            None => bail!("--con: the target file lists no ИС ЦОН accounts"),
        }
    }
    for arm in &a.arm {
        let Some((system, url)) = arm.split_once('=') else {
            bail!("--arm {arm:?}: expected SYSTEM=URL");
        };
        match target.mio.get_mut(system) {
            Some(w) => w.url = url.to_string(),
            None => bail!("--arm: the target file has no ИС МИО {system:?}"),
        }
    }
    if a.jobs == 0 || a.jobs > 64 {
        bail!("--jobs {}: between 1 and 64", a.jobs);
    }
    let regs = regulations(&target.regulation_dirs)?;
    let scenarios = egov_scenario::spec::load(&a.paths, &regs)?;
    if scenarios.is_empty() {
        bail!("no scenario files under the paths given");
    }
    let runner = egov_scenario::Runner::new(target, regs)?;
    let total = scenarios.len();
    let progress = std::io::stderr().is_terminal();
    let rt = crate::shep::runtime()?;
    let mut finished = 0usize;
    let mut failed = 0usize;
    let outcomes = rt.block_on(egov_scenario::run_all(&runner, &scenarios, a.jobs, |o| {
        finished += 1;
        if !o.passed() {
            failed += 1;
        }
        let mut text = egov_scenario::report::line(o);
        if a.verbose || !o.passed() {
            text.push('\n');
            text.push_str(egov_scenario::report::steps(o).trim_end());
        }
        if progress {
            // the line above the bar, the bar redrawn
            eprint!("\r\x1b[2K");
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
        if progress {
            let width = 30;
            let filled = finished * width / total;
            eprint!(
                "[{}{}] {finished}/{total}, {failed} failed",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
        }
    }));
    if progress {
        eprintln!();
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    writeln!(
        out,
        "{} scenarios: {} passed, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    )?;
    if let Some(j) = &a.junit {
        std::fs::write(j, egov_scenario::report::junit(&outcomes))
            .with_context(|| format!("--junit {}", j.display()))?;
    }
    if failed > 0 {
        bail!("{failed} of {} scenarios failed", outcomes.len());
    }
    Ok(())
}
