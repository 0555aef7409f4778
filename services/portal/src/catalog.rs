//! The services of the portal: every regulation file with a `portal` channel (channel A),
//! and what a citizen needs to choose one: its region, providers, categories, form,
//! documents and deadlines, in Russian and Kazakh.

use std::path::PathBuf;
use std::sync::Arc;

use egov_regulation::Regulation;
use serde_json::{Value, json};

/// The channel id of the portal.
pub const PORTAL: &str = "portal";

/// The loaded regulations with a `portal` channel.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The regulations.
    pub regulations: Vec<Arc<Regulation>>,
}

impl Catalog {
    /// Loads the files of `dirs`, keeping those with a `portal` channel. A problem in any
    /// file stops the start (`file:line: problem`), and so does an id used twice.
    pub fn load(dirs: &[PathBuf]) -> Result<Catalog, String> {
        let mut seen = std::collections::HashSet::new();
        let mut regulations = Vec::new();
        for dir in dirs {
            for r in egov_regulation::load_dir(dir).map_err(|p| p.to_string())? {
                if !seen.insert(r.id.clone()) {
                    return Err(format!(
                        "{}: regulation id {:?} appears twice",
                        r.file, r.id
                    ));
                }
                if r.channel(PORTAL).is_some() {
                    regulations.push(Arc::new(r));
                }
            }
        }
        Ok(Catalog { regulations })
    }

    /// A regulation by id.
    pub fn get(&self, id: &str) -> Option<&Arc<Regulation>> {
        self.regulations.iter().find(|r| r.id == id)
    }
}

fn text(t: &egov_regulation::Text) -> Value {
    json!({"ru": t.ru, "kk": t.kk})
}

fn deadline(d: egov_regulation::Deadline) -> Value {
    json!({
        "ru": egov_regulation::deadline_words(d, "ru"),
        "kk": egov_regulation::deadline_words(d, "kk"),
    })
}

/// A service as the catalogue shows it: the regulation, the region, the providers, the
/// categories, the form's fields, the documents and the deadlines.
pub fn describe(r: &Regulation) -> Value {
    let portal = r.channel(PORTAL);
    json!({
        "regulation": r.id,
        "service": r.service,
        "region": r.region,
        "name": text(&r.service_name),
        "title": text(&r.title),
        "in_force": {
            "from": egov_contracts::date::format(r.in_force_from),
            "until": r.in_force_until.map(egov_contracts::date::format),
        },
        "deadline": deadline(r.total_deadline),
        "channel": portal.map(|c| json!({
            "name": text(&c.name),
            "deadline": c.total_deadline.map(deadline),
        })),
        "providers": r.providers.iter().map(|p| json!({
            "id": p.id, "bin": p.bin, "name": text(&p.name),
            "address": p.address.as_ref().map(text), "phone": p.phone,
        })).collect::<Vec<_>>(),
        "categories": r.categories.iter().map(|c| json!({"id": c.id, "name": text(&c.name)})).collect::<Vec<_>>(),
        "fields": r.fields.iter().map(|f| json!({
            "id": f.id, "kind": f.kind, "required": f.required, "name": text(&f.name),
        })).collect::<Vec<_>>(),
        "documents": r.documents.iter().map(|d| json!({
            "id": d.id, "required": d.required, "categories": d.categories, "name": text(&d.name),
        })).collect::<Vec<_>>(),
    })
}
