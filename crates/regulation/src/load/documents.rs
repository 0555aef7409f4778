//! The required documents (`[[documents]]`): what the executor checks completeness
//! against (C-docs), each for all categories or for some.

use super::*;

pub(super) fn documents(
    ctx: &mut Ctx<'_>,
    raw: &RawRegulation,
    categories: &[Named],
) -> Vec<Document> {
    ctx.unique(raw.documents.iter().map(|p| &p.id), "document");
    raw.documents
        .iter()
        .map(|d| {
            for c in &d.categories {
                if !categories.iter().any(|x| x.id == *c.get_ref()) {
                    ctx.at(
                        c,
                        format!(
                            "document {:?}: unknown category {:?}",
                            d.id.get_ref(),
                            c.get_ref()
                        ),
                    );
                }
            }
            Document {
                id: ctx.id(&d.id, "document"),
                name: ctx.text(&d.name, "document name"),
                required: d.required,
                categories: d.categories.iter().map(|c| c.get_ref().clone()).collect(),
            }
        })
        .collect()
}
