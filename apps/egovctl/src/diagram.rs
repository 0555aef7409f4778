//! `egovctl diagram`: the regulations' SFE diagrams, drawn from the files.
//!
//! - `egovctl diagram --regulation FILE [--channel C] --format svg|bpmn|mermaid [--lang ru|kk]`
//!   prints one diagram: a channel's (`portal`, `provider`, `con`), or the procedure's
//!   (`--channel procedure`, the default);
//! - `egovctl diagram --regulations DIR --out-dir DIR [--check]` writes every diagram of
//!   every file (each channel and the procedure, in Russian and Kazakh, in the three
//!   formats) and an index; `--check` writes nothing and fails, naming them, when the
//!   folder's diagrams are not what the files draw (`docs/diagrams/` is kept this way).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use egov_diagram::Format;

/// Arguments of `diagram`.
#[derive(Debug, Args)]
pub struct DiagramArgs {
    /// One regulation file to draw.
    #[arg(long, value_name = "FILE", conflicts_with = "regulations")]
    pub regulation: Option<PathBuf>,
    /// The channel to draw (`portal`, `provider`, `con`), or `procedure`.
    #[arg(long, default_value = egov_diagram::PROCEDURE)]
    pub channel: String,
    /// The output format.
    #[arg(long, value_parser = ["svg", "bpmn", "mermaid"], default_value = "svg")]
    pub format: String,
    /// The language of the texts.
    #[arg(long, default_value = "ru", value_parser = ["ru", "kk"])]
    pub lang: String,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A folder of regulation files: draw every diagram of each into --out-dir.
    #[arg(long, value_name = "DIR", requires = "out_dir")]
    pub regulations: Option<PathBuf>,
    /// Where --regulations writes its diagrams.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// With --regulations: write nothing, fail when --out-dir is out of date.
    #[arg(long, requires = "regulations")]
    pub check: bool,
}

fn load(path: &Path) -> Result<egov_regulation::Regulation> {
    egov_regulation::load_file(path).map_err(|problems| {
        for p in &problems.0 {
            eprintln!("{p}");
        }
        anyhow::anyhow!("{} is not a valid regulation file", path.display())
    })
}

/// Runs `diagram`.
pub fn run(a: DiagramArgs, out: &mut dyn Write) -> Result<()> {
    match (&a.regulation, &a.regulations) {
        (Some(file), None) => {
            let reg = load(file)?;
            let format = Format::parse(&a.format).expect("clap checked the format");
            let text = egov_diagram::draw(&reg, &a.channel, &a.lang, format)?;
            match &a.out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => out.write_all(text.as_bytes())?,
            }
            Ok(())
        }
        (None, Some(dir)) => {
            let out_dir = a.out_dir.as_ref().expect("clap requires --out-dir");
            all(dir, out_dir, a.check, out)
        }
        _ => bail!("name a regulation file (--regulation FILE) or a folder (--regulations DIR)"),
    }
}

/// Every diagram of every file of `dir`, and the index, by file name.
pub fn expected(dir: &Path) -> Result<BTreeMap<String, String>> {
    let regs = egov_regulation::load_dir(dir).map_err(|problems| {
        for p in &problems.0 {
            eprintln!("{p}");
        }
        anyhow::anyhow!("{} holds invalid regulation files", dir.display())
    })?;
    let mut files = BTreeMap::new();
    let mut index = String::from(
        "# Diagrams of the regulations\n\n\
         Generated from `regulations/` by `egovctl diagram --regulations regulations \
         --out-dir docs/diagrams`; never edit them by hand (a test fails when they are out of \
         date). Each channel and the provider's procedure, in Russian and Kazakh: SVG laid \
         out by the project, BPMN 2.0 with diagram interchange (opens in Camunda Modeler and \
         bpmn.io), and Mermaid.\n\n\
         | regulation | diagram | ru | kk |\n|---|---|---|---|\n",
    );
    for reg in &regs {
        for (name, content) in egov_diagram::all(reg)? {
            files.insert(name, content);
        }
        let stem = Path::new(&reg.file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(&reg.id)
            .to_string();
        let mut views: Vec<(String, String)> = reg
            .channels
            .iter()
            .map(|c| (c.id.clone(), c.name.ru.clone()))
            .collect();
        views.push((
            egov_diagram::PROCEDURE.into(),
            "процедура услугодателя".into(),
        ));
        for (view, name) in views {
            let links = |lang: &str| {
                ["svg", "bpmn", "mmd"]
                    .iter()
                    .map(|ext| format!("[{ext}]({stem}.{view}.{lang}.{ext})"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            index.push_str(&format!(
                "| {} | `{view}`: {name} | {} | {} |\n",
                reg.title.ru.replace('|', "/"),
                links("ru"),
                links("kk")
            ));
        }
    }
    files.insert("README.md".into(), index);
    Ok(files)
}

fn all(dir: &Path, out_dir: &Path, check: bool, out: &mut dyn Write) -> Result<()> {
    let files = expected(dir)?;
    if check {
        let mut stale = Vec::new();
        for (name, content) in &files {
            match std::fs::read_to_string(out_dir.join(name)) {
                Ok(have) if have == *content => {}
                _ => stale.push(name.clone()),
            }
        }
        if let Ok(entries) = std::fs::read_dir(out_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !files.contains_key(&name) {
                    stale.push(format!("{name} (drawn from no file)"));
                }
            }
        }
        if !stale.is_empty() {
            bail!(
                "{} is out of date ({} files: {}); run egovctl diagram --regulations {} --out-dir {}",
                out_dir.display(),
                stale.len(),
                stale.join(", "),
                dir.display(),
                out_dir.display()
            );
        }
        writeln!(
            out,
            "{}: {} files up to date",
            out_dir.display(),
            files.len()
        )?;
        return Ok(());
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    if let Ok(entries) = std::fs::read_dir(out_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !files.contains_key(&name) && e.path().is_file() {
                std::fs::remove_file(e.path())?;
            }
        }
    }
    for (name, content) in &files {
        std::fs::write(out_dir.join(name), content)
            .with_context(|| format!("writing {}", out_dir.join(name).display()))?;
    }
    writeln!(out, "{}: {} files written", out_dir.display(), files.len())?;
    Ok(())
}
