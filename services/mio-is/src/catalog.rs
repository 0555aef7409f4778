//! The regulations this ИС МИО runs: the files the deployment's topology names for it
//! (or, when it names none, every file whose `system` is its own), from the shipped
//! folder and any extra folders of the configuration.

use std::path::PathBuf;
use std::sync::Arc;

use egov_regulation::{Provider, Regulation};

/// The loaded regulations of one ИС МИО.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The system id (`mio-almaty`, ...).
    pub system_id: String,
    /// Its regulations.
    pub regulations: Vec<Arc<Regulation>>,
}

impl Catalog {
    /// Loads the files of `dirs` and keeps those named in `files` (every file of
    /// `system_id` when `files` is empty). Any problem in any file stops the start
    /// (`file:line: problem`), and so does a named file that is missing, or that is
    /// another system's or another region's.
    pub fn load(
        system_id: &str,
        region: &str,
        dirs: &[PathBuf],
        files: &[String],
    ) -> Result<Catalog, String> {
        let mut all = Vec::new();
        for d in dirs {
            let mut regs = egov_regulation::load_dir(d).map_err(|p| p.to_string())?;
            all.append(&mut regs);
        }
        let mut ids = std::collections::HashSet::new();
        for r in &all {
            if !ids.insert(r.id.clone()) {
                return Err(format!(
                    "{}: regulation id {:?} appears twice",
                    r.file, r.id
                ));
            }
        }
        // a file is named by its file name, whichever folder it was found in
        let is_file = |r: &Regulation, f: &str| {
            std::path::Path::new(&r.file)
                .file_name()
                .is_some_and(|n| n == f)
        };
        for f in files {
            let Some(r) = all.iter().find(|r| is_file(r, f)) else {
                return Err(format!(
                    "{f}: the topology names it for {system_id}, and no folder of regulations ({}) has it",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            if r.system != system_id {
                return Err(format!(
                    "{}: system = {:?}, and the topology names it for {system_id}",
                    r.file, r.system
                ));
            }
            if r.region != region {
                return Err(format!(
                    "{}: region = {:?}, and {system_id} is in {region:?}",
                    r.file, r.region
                ));
            }
        }
        let regulations: Vec<Arc<Regulation>> = all
            .into_iter()
            .filter(|r| {
                if files.is_empty() {
                    r.system == system_id
                } else {
                    files.iter().any(|f| is_file(r, f))
                }
            })
            .map(Arc::new)
            .collect();
        if regulations.is_empty() {
            return Err(format!("no regulation has system = {system_id:?}"));
        }
        Ok(Catalog {
            system_id: system_id.to_string(),
            regulations,
        })
    }

    /// A regulation by id.
    pub fn get(&self, id: &str) -> Option<&Arc<Regulation>> {
        self.regulations.iter().find(|r| r.id == id)
    }

    /// The regulation that applies to an application for `service` at `provider`: the
    /// one named, or the one with the latest `in_force.from` that has the provider.
    pub fn find(
        &self,
        service: &str,
        provider: &str,
        named: Option<&str>,
    ) -> Result<&Arc<Regulation>, &'static str> {
        if let Some(id) = named {
            let r = self.get(id).ok_or("regulation")?;
            if r.service != service {
                return Err("service");
            }
            if r.provider(provider).is_none() {
                return Err("provider");
            }
            return Ok(r);
        }
        let of_service: Vec<&Arc<Regulation>> = self
            .regulations
            .iter()
            .filter(|r| r.service == service)
            .collect();
        if of_service.is_empty() {
            return Err("service");
        }
        of_service
            .into_iter()
            .filter(|r| r.provider(provider).is_some())
            .max_by_key(|r| r.in_force_from)
            .ok_or("provider")
    }

    /// Every provider of every regulation, once, with its regulations.
    pub fn providers(&self) -> Vec<(Provider, Vec<Arc<Regulation>>)> {
        let mut out: Vec<(Provider, Vec<Arc<Regulation>>)> = Vec::new();
        for r in &self.regulations {
            for p in &r.providers {
                match out.iter_mut().find(|(q, _)| q.id == p.id) {
                    Some((_, regs)) => regs.push(r.clone()),
                    None => out.push((p.clone(), vec![r.clone()])),
                }
            }
        }
        out
    }

    /// The regulations a provider runs.
    pub fn of_provider(&self, provider: &str) -> Vec<&Arc<Regulation>> {
        self.regulations
            .iter()
            .filter(|r| r.provider(provider).is_some())
            .collect()
    }
}
