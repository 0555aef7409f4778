//! The roles (`[[roles]]`): the employees of the provider's lanes, named by the actors of
//! human steps.

use super::*;

pub(super) fn roles(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<Named> {
    ctx.unique(raw.roles.iter().map(|p| &p.id), "role");
    named(ctx, &raw.roles, "role")
}
