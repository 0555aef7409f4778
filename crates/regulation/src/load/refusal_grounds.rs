//! The refusal grounds (`[[refusal_grounds]]`), as the Standard words them.

use super::*;

pub(super) fn refusal_grounds(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<Named> {
    ctx.unique(raw.refusal_grounds.iter().map(|p| &p.id), "refusal ground");
    raw.refusal_grounds
        .iter()
        .map(|g| Named {
            id: ctx.id(&g.id, "refusal ground"),
            name: ctx.text(&g.text, "refusal ground"),
        })
        .collect()
}
