//! The applicant categories (`[[categories]]`): for S1 each keeps its own queue.

use super::*;

pub(super) fn categories(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<Named> {
    ctx.unique(raw.categories.iter().map(|p| &p.id), "category");
    if raw.categories.is_empty() {
        ctx.at(&raw.id, "no [[categories]]");
    }
    named(ctx, &raw.categories, "category")
}
