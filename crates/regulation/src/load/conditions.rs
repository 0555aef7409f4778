//! The conditions (`[[conditions]]`): the diamonds of the diagrams, each checked in a
//! lane; and the conditions a step decides (`condition` or `conditions`).

use super::*;

pub(super) fn conditions(ctx: &mut Ctx<'_>, raw: &RawRegulation, lanes: &[Lane]) -> Vec<Condition> {
    ctx.unique(raw.conditions.iter().map(|p| &p.id), "condition");
    raw.conditions
        .iter()
        .map(|c| {
            if !lanes.iter().any(|l| l.id == *c.checked_by.get_ref()) {
                ctx.at(
                    &c.checked_by,
                    format!(
                        "condition {:?}: unknown lane {:?}",
                        c.id.get_ref(),
                        c.checked_by.get_ref()
                    ),
                );
            }
            Condition {
                id: ctx.id_by(&c.id, "condition", IdRule::Condition),
                checked_by: c.checked_by.get_ref().clone(),
                text: ctx.text(&c.text, "condition"),
                on_failure: ctx.text(&c.on_failure, "condition on_failure"),
                derived: reason(ctx, &c.derived, &format!("condition {:?}", c.id.get_ref())),
            }
        })
        .collect()
}

/// The conditions a step decides: `condition` or `conditions`, each one known.
pub(super) fn decided(
    ctx: &mut Ctx<'_>,
    one: &Option<S>,
    many: &[S],
    known: &HashSet<&str>,
    what: &str,
) -> Vec<String> {
    if let (Some(c), false) = (one, many.is_empty()) {
        ctx.at(
            c,
            format!("{what}: give `condition` or `conditions`, not both"),
        );
    }
    let mut out = Vec::new();
    for c in one.iter().chain(many) {
        if !known.contains(c.get_ref().as_str()) {
            ctx.at(c, format!("{what}: unknown condition {:?}", c.get_ref()));
        }
        if out.contains(c.get_ref()) {
            ctx.at(
                c,
                format!("{what}: condition {:?} named twice", c.get_ref()),
            );
        }
        out.push(c.get_ref().clone());
    }
    out
}
