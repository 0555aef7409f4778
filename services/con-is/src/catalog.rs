//! The regulations ИС ЦОН runs: every file of its folders that has a `con` channel (the
//! ЦОН's lane of the regulation, with the steps `executed_by = "con-is"`).

use std::path::PathBuf;
use std::sync::Arc;

use egov_regulation::{Channel, Regulation};

/// The channel id of the service centres.
pub const CON: &str = "con";

/// The loaded regulations with a `con` channel.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The regulations.
    pub regulations: Vec<Arc<Regulation>>,
}

impl Catalog {
    /// Loads the files of `dirs` and keeps those with a `con` channel. Any problem in any
    /// file stops the start (`file:line: problem`), and so does an id used twice.
    pub fn load(dirs: &[PathBuf]) -> Result<Catalog, String> {
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
        Ok(Catalog {
            regulations: all
                .into_iter()
                .filter(|r| r.channel(CON).is_some())
                .map(Arc::new)
                .collect(),
        })
    }

    /// A regulation by id.
    pub fn get(&self, id: &str) -> Option<&Arc<Regulation>> {
        self.regulations.iter().find(|r| r.id == id)
    }

    /// The regulations of a region.
    pub fn of_region(&self, region: &str) -> Vec<&Arc<Regulation>> {
        self.regulations
            .iter()
            .filter(|r| r.region == region)
            .collect()
    }
}

/// The `con` channel of a regulation of the catalog.
pub fn con(reg: &Regulation) -> &Channel {
    reg.channel(CON)
        .expect("the catalog keeps regulations with a con channel")
}
