//! `egovctl seed`: fills ГБД ФЛ and ЕНИС with synthetic residents and powers of attorney.

use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::shep::DEFAULT_DATABASE_URL;
use crate::util::shown;

/// The largest population one seed makes.
const MAX_PERSONS: u64 = 20_000_000;

/// Arguments of `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many residents to generate (the named test citizens come on top).
    #[arg(long, value_name = "N")]
    pub persons: u64,
    /// The seed: the same seed and --as-of give the same registries.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// The "today" of the data, YYYY-MM-DD (default: today in Kazakhstan).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Empty registries that already hold data (otherwise they are left alone).
    #[arg(long)]
    pub replace: bool,
    /// PostgreSQL URL (the database of the services).
    #[arg(
        long,
        value_name = "URL",
        env = "EGOV_DATABASE_URL",
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL
    )]
    pub database_url: String,
    /// ГБД ФЛ's schema.
    #[arg(
        long,
        value_name = "NAME",
        env = "EGOV_GBD_FL__SCHEMA",
        default_value = "gbd_fl"
    )]
    pub gbd_fl_schema: String,
    /// ЕНИС's schema.
    #[arg(
        long,
        value_name = "NAME",
        env = "EGOV_ENIS__SCHEMA",
        default_value = "enis"
    )]
    pub enis_schema: String,
}

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Runs `seed`.
pub fn run(a: SeedArgs, out: &mut dyn Write) -> Result<()> {
    if a.persons > MAX_PERSONS {
        bail!("--persons {}: at most {MAX_PERSONS}", a.persons);
    }
    let as_of = match &a.as_of {
        None => egov_calendar::today(),
        Some(s) => egov_contracts::date::parse(s).map_err(|_| {
            anyhow::anyhow!("--as-of {}: not a date; expected YYYY-MM-DD", shown(s))
        })?,
    };
    let mut opts = egov_seed::Options::new(a.persons, a.seed, as_of);
    opts.replace = a.replace;
    opts.gbd_fl_schema = a.gbd_fl_schema.clone();
    opts.enis_schema = a.enis_schema.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let report = rt
        .block_on(egov_seed::seed(&a.database_url, &opts))
        .context("seeding failed; the registries are unchanged")?;
    writeln!(
        out,
        "seeded in {:.1} s (seed {}, as of {}): ГБД ФЛ {} persons, {} family links ({}); ЕНИС {} notaries, {} powers of attorney ({})",
        report.elapsed.as_secs_f64(),
        a.seed,
        egov_contracts::date::format(as_of),
        report.persons,
        report.links,
        mib(report.gbd_fl_bytes),
        report.notaries,
        report.poas,
        mib(report.enis_bytes),
    )?;
    writeln!(out, "test citizens:")?;
    for c in &report.citizens {
        writeln!(
            out,
            "  {:<16} {}  {:<34} {}",
            c.key,
            c.iin.as_string(),
            c.name,
            c.case
        )?;
    }
    writeln!(
        out,
        "powers of attorney (representative {}):",
        egov_synth::fixtures::iin_of("representative").as_string()
    )?;
    for p in &report.named_poas {
        writeln!(
            out,
            "  {:<14} № {}  principal {}  {}",
            p.key,
            p.poa.number,
            p.poa.principal.as_string(),
            p.case
        )?;
    }
    Ok(())
}
