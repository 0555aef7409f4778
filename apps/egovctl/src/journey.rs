//! `egovctl journey APPLICATION`: the diagram of a real application, from the gateways'
//! message log and its ИС МИО's step history: the regulation's lanes with each hop and
//! step at its time, and each step that outlived its deadline in red. Beside it,
//! `egovctl diagram --channel C` draws what the regulation expects.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use egov_diagram::Format;

use crate::shep::{DbArgs, open_journal, runtime};

/// Arguments of `journey`.
#[derive(Debug, Args)]
pub struct JourneyArgs {
    /// The application's number (`ALM-2026-000017`) or id.
    #[arg(value_name = "APPLICATION")]
    pub application: String,
    /// The ИС МИО that holds it (default: every ИС МИО of the topology is asked).
    #[arg(long)]
    pub system: Option<String>,
    /// The deployment's topology folder (default: the shipped `deploy/topology`).
    #[arg(long, value_name = "DIR")]
    pub topology: Option<PathBuf>,
    /// Where the regulation files are (default: the shipped `regulations/`).
    #[arg(long, value_name = "DIR")]
    pub regulations: Option<PathBuf>,
    /// The output format.
    #[arg(long, value_parser = ["svg", "bpmn", "mermaid"], default_value = "svg")]
    pub format: String,
    /// The language of the texts.
    #[arg(long, default_value = "ru", value_parser = ["ru", "kk"])]
    pub lang: String,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Runs `journey`.
pub fn run(a: JourneyArgs, out: &mut dyn Write) -> Result<()> {
    let topology = egov_topology::Topology::open(a.topology.as_deref())?;
    let systems: Vec<String> = match &a.system {
        Some(s) => {
            if topology
                .system(s)
                .is_none_or(|x| x.kind != egov_topology::Kind::MioIs)
            {
                bail!("{s} is not an ИС МИО of the topology");
            }
            vec![s.clone()]
        }
        None => topology
            .systems
            .iter()
            .filter(|s| s.kind == egov_topology::Kind::MioIs)
            .map(|s| s.id.clone())
            .collect(),
    };
    let found = runtime()?.block_on(async {
        let journal = open_journal(&a.db).await?;
        let mut found = None;
        for sys in &systems {
            let schema = sys.replace('-', "_");
            let Ok(pool) = egov_db::reader_pool(&a.db.database_url, &schema, 2).await else {
                continue;
            };
            let r = egov_ops::journey::load(&pool, &journal, &a.application).await;
            pool.close().await;
            match r {
                Ok(Some(j)) => {
                    found = Some(j);
                    break;
                }
                Ok(None) => {}
                // a schema without ИС МИО's tables: not this one
                Err(egov_ops::journey::Error::Mio(_)) => {}
                Err(e) => return Err(anyhow!(e)),
            }
        }
        journal.shutdown().await;
        Ok::<_, anyhow::Error>(found)
    })?;
    let Some((journey, regulation_id)) = found else {
        bail!(
            "no application {:?} in {}",
            a.application,
            systems.join(", ")
        );
    };
    let dir = a
        .regulations
        .clone()
        .unwrap_or_else(egov_regulation::shipped_dir);
    let regs = egov_regulation::load_dir(&dir)
        .map_err(|p| anyhow!("{} holds invalid regulation files: {}", dir.display(), p))?;
    let reg = regs
        .iter()
        .find(|r| r.id == regulation_id)
        .ok_or_else(|| anyhow!("the regulation {regulation_id} is not in {}", dir.display()))?;
    let graph = egov_diagram::journey::graph(&journey, reg, &a.lang);
    let format = Format::parse(&a.format).expect("clap checked the format");
    let text = egov_diagram::render(&graph, &reg.id, format);
    match &a.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(())
}
